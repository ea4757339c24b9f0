/** Injection tokens shared by every service (constants, not classes, so libs stay framework-light). */
export const CONFIG = 'wrenn.config';
export const LOGGER = 'wrenn.logger';
export const NATS = 'wrenn.nats';
export const NAMING = 'wrenn.naming';
export const DATA_SOURCE = 'wrenn.data-source';
export const EVENT_STORE = 'wrenn.event-store';
export const SERVICE_NAME = 'wrenn.service-name';
