export * from './decider';
export * from './sandbox/sandbox.events';
export * from './sandbox/sandbox.state';
export * from './sandbox/sandbox.commands';
export * from './sandbox/sandbox.decider';
export * from './testing/given-when-then';
