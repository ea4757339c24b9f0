import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { HostHeartbeat, isLive } from '@wrenn/contracts';
import { eventually } from '@wrenn/testing';
import { Platform, REPO } from './platform';

const CLI = join(REPO, 'tools/cli/dist/main.js');

/** Every service but the host agent, for a platform whose host agent runs as its own process. */
export const CONTROL_PLANE = ['sandbox-scheduler', 'projector', 'auth', 'snapshot-catalog', 'reaper', 'gateway'];

/**
 * A host agent in its own process (`wrenn start --service host-agent`) beside a platform. `env`
 * overrides the platform's environment, e.g. to run several agents on one machine, each with its
 * own WRENN_HOST_ID, WRENN_STATE_DIR, WRENN_NET_CIDR and WRENN_DATA_PLANE_PORT.
 */
export class HostAgentProcess {
  private child: ChildProcess | undefined;
  private out = '';

  constructor(private readonly platform: Platform, private readonly env: Record<string, string> = {}) {}

  get hostId(): string {
    return this.env.WRENN_HOST_ID ?? this.platform.hostId;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The agent's process is up (started and neither exited nor killed). */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  /** Starts the agent and waits until its own heartbeat is live (a new boot's, after a restart). */
  async start(): Promise<void> {
    this.out = '';
    const previousBoot = (await this.heartbeat())?.bootId;
    const child = spawn(process.execPath, [CLI, 'start', '--service', 'host-agent'], { env: { ...this.platform.childEnv, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`host agent exited ${child.exitCode}:\n${this.out.slice(-3000)}`);
      const beat = await this.heartbeat();
      return beat !== undefined && beat.bootId !== previousBoot && isLive(beat) && (await fetch(`${this.platform.url}/healthz`)).status === 200;
    }, 300_000, `host agent ${this.hostId} to be live`);
  }

  /** This agent's last heartbeat in the hosts bucket. */
  async heartbeat(): Promise<HostHeartbeat | undefined> {
    const kv = await this.platform.env.nc.jetstream().views.kv(this.platform.env.naming.hostsBucket);
    const entry = await kv.get(this.hostId);
    return entry && entry.operation === 'PUT' && entry.value.length > 0 ? entry.json<HostHeartbeat>() : undefined;
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
