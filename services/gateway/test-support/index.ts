export * from './gateway-harness';
export * from './sse-client';
