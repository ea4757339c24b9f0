import 'reflect-metadata';
import { runStandalone } from '@wrenn/service-kit';
import { bootstrapReaper } from './bootstrap';

runStandalone('reaper', bootstrapReaper);
