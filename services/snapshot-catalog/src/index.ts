export { bootstrapSnapshotCatalog } from './bootstrap';
