import 'reflect-metadata';
import { runStandalone } from '@wrenn/service-kit';
import { bootstrapProjector } from './bootstrap';

runStandalone('projector', bootstrapProjector);
