export * from './envelope';
export * from './event-store';
export * from './command-handler';
export * from './projection';
export * from './projection-runner';
export * from './checkpoint-waiter';
