import 'reflect-metadata';
import { runStandalone } from '@wrenn/service-kit';
import { bootstrapGateway } from './bootstrap';

runStandalone('gateway', bootstrapGateway);
