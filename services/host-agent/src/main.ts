import { runStandalone } from '@wrenn/service-kit';
import { bootstrapHostAgent } from './bootstrap';

runStandalone('host-agent', bootstrapHostAgent);
