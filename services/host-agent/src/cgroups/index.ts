export * from './bpf-device-filter';
export * from './cgroup-version';
export * from './cgroup.manager';
export * from './device-rule';
export * from './disk-usage';
