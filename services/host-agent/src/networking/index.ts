export * from './network.manager';
export * from './network-slot';
export * from './slot-allocator';
export * from './dns';
export * from './guest-tap';
export * from './host-addresses';
export * from './vm-networks';
