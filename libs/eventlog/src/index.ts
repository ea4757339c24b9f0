export * from './envelope';
export * from './event-store';
export * from './command-handler';
export * from './subject-match';
export * from './checkpoint-waiter';
