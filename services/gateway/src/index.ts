export { bootstrapGateway } from './bootstrap';
export type { RunningGateway } from './bootstrap';
