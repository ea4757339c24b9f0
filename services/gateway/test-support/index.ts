export * from './gateway-harness';
export * from './sse-client';
export * from './served-routes';
