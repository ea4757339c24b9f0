export * from './tokens';
export * from './service-kit.module';
export * from './running-service';
export * from './standalone';
export * from './http-forward';
export * from './host-token';
export * from './host-token-keys';
