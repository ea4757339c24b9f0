import 'reflect-metadata';
import { runStandalone } from '@wrenn/service-kit';
import { bootstrapSandboxScheduler } from './bootstrap';

runStandalone('sandbox-scheduler', bootstrapSandboxScheduler);
