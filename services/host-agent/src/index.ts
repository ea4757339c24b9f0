export { HostAgent, bootstrapHostAgent } from './host-agent';
export type { SandboxRuntime, RuntimeSandbox, RecoveryReport } from './runtime/sandbox-runtime';
export { serveHostCommands } from './commands/host-commands';
