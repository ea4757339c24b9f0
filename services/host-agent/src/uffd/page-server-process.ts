import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isSameProcess, isZombieOrGone, signal, startTime, waitGone } from '../runtime/namespace/proc';
import type { PageServerProcessConfig } from './page-server.main';
import type { PageServerStats } from './page-server';

export interface PageServerProcessOptions {
  /** Where Firecracker connects; must not exist. */
  socketPath: string;
  /** `header.<buildId>` of the chain to serve. */
  headerPath: string;
  memfileDir: string;
  readaheadPages?: number;
  /** The process's stderr (default: discarded). */
  logPath?: string;
  /** How long to wait for the process to be listening (default 10 s). */
  readyTimeoutMs?: number;
}

/** What identifies a page server process across agent restarts: record it beside the VM. */
export interface PageServerProcessRef {
  pid: number;
  startTime: string;
  socketPath: string;
  statsPath: string;
}

const MAIN = join(__dirname, 'page-server.main.js');

/**
 * A page server running in its own detached process. The VM it serves then survives a restart
 * of the host agent: the new agent adopts the process by pid + start time. The process exits by
 * itself when the VM hangs up.
 */
export class PageServerProcess {
  private constructor(readonly ref: PageServerProcessRef) {}

  get pid(): number {
    return this.ref.pid;
  }
  get socketPath(): string {
    return this.ref.socketPath;
  }

  static async start(o: PageServerProcessOptions): Promise<PageServerProcess> {
    const statsPath = `${o.socketPath}.stats.json`;
    const config: PageServerProcessConfig = { socketPath: o.socketPath, headerPath: o.headerPath, memfileDir: o.memfileDir, statsPath, readaheadPages: o.readaheadPages };
    const log = o.logPath ? openSync(o.logPath, 'a') : 'ignore';
    // Detached (setsid): signals to the host agent's process group (a Ctrl-C, a service stop) pass it by.
    const child = spawn(process.execPath, [MAIN, JSON.stringify(config)], { detached: true, stdio: ['ignore', 'pipe', log] });
    if (typeof log === 'number') closeSync(log);
    try {
      const first = await firstLine(child, o.readyTimeoutMs ?? 10_000);
      const reply = JSON.parse(first) as { ready?: boolean; error?: string };
      if (!reply.ready) throw new Error(`page server: ${reply.error ?? first}`);
      const started = await startTime(child.pid!);
      if (started === null) throw new Error('page server exited right after starting');
      child.unref();
      return new PageServerProcess({ pid: child.pid!, startTime: started, socketPath: o.socketPath, statsPath });
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      await rm(o.socketPath, { force: true });
      await rm(statsPath, { force: true });
      throw error;
    } finally {
      child.stdout?.destroy();
    }
  }

  /** The process recorded in `ref`, if it still runs (same pid and start time); else null. */
  static async adopt(ref: PageServerProcessRef): Promise<PageServerProcess | null> {
    // Alive as alive() means it: an exited server not yet reaped (a zombie) is not adopted.
    const found = new PageServerProcess(ref);
    return (await found.alive()) ? found : null;
  }

  async alive(): Promise<boolean> {
    // A zombie keeps its start time until its parent reaps it, but serves nothing: stop() waits
    // for exactly that state, so alive() must not call it alive.
    return (await isSameProcess(this.ref.pid, this.ref.startTime)) && !(await isZombieOrGone(this.ref.pid));
  }

  /** The counters as of the last second (and final ones once it exited). */
  async stats(): Promise<PageServerStats & { pid: number }> {
    return JSON.parse(await readFile(this.ref.statsPath, 'utf8'));
  }

  /** Stops it (SIGTERM, then SIGKILL after 3 s) and removes its files. "Already gone" is success. */
  async stop(): Promise<void> {
    if (await this.alive()) {
      signal(this.ref.pid, 'SIGTERM');
      if (!(await waitGone(this.ref.pid, 3000))) {
        if (await this.alive()) signal(this.ref.pid, 'SIGKILL');
        await waitGone(this.ref.pid, 3000);
      }
    }
    await rm(this.ref.socketPath, { force: true });
    await rm(this.ref.statsPath, { force: true });
    await rm(`${this.ref.statsPath}.tmp`, { force: true });
  }
}

function firstLine(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`page server not ready within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(null, buf.slice(0, nl));
    };
    const onClose = (code: number | null) => done(new Error(buf.trim() ? buf.trim() : `page server exited (${code}) before it was ready`));
    const done = (error: Error | null, line?: string) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('close', onClose);
      if (error) {
        // A reply already on its way explains the exit better than the exit code.
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(buf.slice(0, nl));
        else reject(error);
      } else resolve(line!);
    };
    child.stdout!.on('data', onData);
    child.once('close', onClose);
  });
}
