// A page server in a process of its own, so a restored VM keeps being served while the host
// agent restarts (Firecracker hands its userfaultfd over once and never again). Started and
// adopted by `page-server-process.ts`; argv[2] is its JSON configuration.
//
// Protocol with the starter: one JSON line on stdout, `{"ready":true}` or `{"error":"…"}`, then
// stdout is closed. Counters go to `statsPath` (JSON, replaced atomically) every second and at
// exit. Exits 0 when the VM hangs up or on SIGTERM, 1 when serving failed.
import { renameSync, writeFileSync } from 'node:fs';
import { readHeaderFile } from '../snapshot/header-file';
import { PageServer } from './page-server';

export interface PageServerProcessConfig {
  socketPath: string;
  headerPath: string;
  memfileDir: string;
  statsPath: string;
  readaheadPages?: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as PageServerProcessConfig;
  let server: PageServer;
  try {
    const header = await readHeaderFile(config.headerPath);
    server = await PageServer.start({ socketPath: config.socketPath, header, memfileDir: config.memfileDir, readaheadPages: config.readaheadPages });
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`, () => process.exit(1));
    return;
  }
  const writeStats = () => {
    const tmp = `${config.statsPath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, ...server.stats() }));
    renameSync(tmp, config.statsPath);
  };
  let stopping = false;
  const finish = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(watch);
    await server.stop();
    writeStats();
    process.exit(code);
  };
  let ticks = 0;
  const watch = setInterval(() => {
    const state = server.stats().state;
    if (state === 'closed') void finish(0);
    else if (state === 'failed') void finish(1);
    else if (++ticks % 10 === 0) writeStats();
  }, 100);
  process.on('SIGTERM', () => void finish(0));
  process.on('SIGINT', () => void finish(0));
  writeStats();
  // The starter may be gone by now (or later): never write to stdout again.
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`, () => process.stdout.destroy());
}

void main();
