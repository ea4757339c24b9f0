export { HostAgent } from './host-agent';
export { bootstrapHostAgent } from './bootstrap';
export type { SandboxRuntime, RuntimeSandbox, RecoveryReport } from './runtime/sandbox-runtime';
export { serveHostCommands } from './commands/host-commands';
