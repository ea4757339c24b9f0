export { bootstrapProjector } from './bootstrap';
