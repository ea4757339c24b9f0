export * from './permissions';
export * from './authority';
export * from './server-config';
export * from './local-server';
export * from './client';
