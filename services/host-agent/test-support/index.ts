// fake-firecracker.main is not exported: it is the stand-in binary's entry point and serves on load.
export * from './device-filter-inspection';
export * from './device-probe';
export * from './fake-firecracker-api';
export * from './fake-firecracker-binary';
export * from './firecracker-spec';
export * from './host-leaks';
export * from './recording-runner';
export * from './start-failures';
export * from './test-guest';
