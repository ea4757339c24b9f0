export * from './series';
export * from './metrics';
export * from './provided-gauge';
export * from './metrics-listener';
export * from './nats-reconnects';
export * from './tracing';
export * from './trace-headers';
export * from './http-observer';
