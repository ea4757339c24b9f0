export * from './naming';
export * from './errors';
export * from './host';
export * from './commands';
export * from './ids';
export * from './identity';
export * from './network-policy';
export * from './ports';
