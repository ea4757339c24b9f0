export * from './cgroup-version';
export * from './cgroup.manager';
export * from './disk-usage';
