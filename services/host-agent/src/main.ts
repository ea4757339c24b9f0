import { runStandalone } from '@wrenn/service-kit';
import { bootstrapHostAgent } from './host-agent';

runStandalone('host-agent', bootstrapHostAgent);
