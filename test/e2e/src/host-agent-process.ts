import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from '@wrenn/testing';
import { Platform, REPO } from './platform';

const CLI = join(REPO, 'tools/cli/dist/main.js');

/** Every service but the host agent, for a platform whose host agent runs as its own process. */
export const CONTROL_PLANE = ['sandbox-scheduler', 'auth', 'snapshot-catalog', 'reaper', 'gateway'];

/** A host agent in its own process (`wrenn start --service host-agent`) beside a platform. */
export class HostAgentProcess {
  private child: ChildProcess | undefined;
  private out = '';

  constructor(private readonly platform: Platform) {}

  output(): string {
    return this.out;
  }

  /** Starts the agent and waits until the platform sees a live host. */
  async start(): Promise<void> {
    this.out = '';
    const child = spawn(process.execPath, [CLI, 'start', '--service', 'host-agent'], { env: this.platform.childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`host agent exited ${child.exitCode}:\n${this.out.slice(-3000)}`);
      return (await fetch(`${this.platform.url}/healthz`)).status === 200;
    }, 300_000, 'a live host agent');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
