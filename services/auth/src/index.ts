export { bootstrapAuth } from './bootstrap';
