export { bootstrapSandboxScheduler } from './bootstrap';
