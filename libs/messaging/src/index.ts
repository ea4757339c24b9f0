export * from './nats-connection';
export * from './rpc';
export * from './nest-transport';
export * from './kv-latest';
export * from './host-heartbeats';
export * from './host-client';
