import 'reflect-metadata';
import { runStandalone } from '@wrenn/service-kit';
import { bootstrapAuth } from './bootstrap';

runStandalone('auth', bootstrapAuth);
