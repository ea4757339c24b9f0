export { bootstrapGateway } from './bootstrap';
export type { RunningGateway } from './bootstrap';
// The application module and its route-access metadata, for embedding and for tooling that
// reads the served routes (the drift tests of the wire contract).
export { AppModule } from './app.module';
export { Access, ACCESS_METADATA } from './auth/access.decorators';
