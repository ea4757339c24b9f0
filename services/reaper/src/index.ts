export { bootstrapReaper } from './bootstrap';
export * from './reconcile';
