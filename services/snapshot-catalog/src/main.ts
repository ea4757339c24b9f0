import 'reflect-metadata';
import { runStandalone } from '@wrenn/service-kit';
import { bootstrapSnapshotCatalog } from './bootstrap';

runStandalone('snapshot-catalog', bootstrapSnapshotCatalog);
