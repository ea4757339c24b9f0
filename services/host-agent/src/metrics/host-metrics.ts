import type { HostSandboxList } from '@wrenn/contracts';
import { hostDiskBytes, hostMemoryBytes, hostNetworkSlots, hostSandboxes } from '@wrenn/observability';
import { statfs } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import type { Usage } from '../sandbox/sandbox-orchestrator';

export interface HostMetricsSources {
  hostId: string;
  /** The file system whose space is reported: the one sandboxes' files and snapshots fill. */
  stateDir: string;
  /** Resources reserved by this host's sandboxes (the heartbeat's tally). */
  usage: () => Usage;
  sandboxes: () => Promise<HostSandboxList>;
  network: () => { pooled: number; inUse: readonly number[]; capacity: number };
  /** Memory admission never admits into (WRENN_HOST_MEMORY_RESERVE_MB), shown beside used and free. */
  memoryReserveMb?: number;
}

const MIB = 1024 * 1024;

/**
 * The host's resources as gauges read at scrape time: network slots, disk of the state
 * directory, memory, sandboxes running and paused. Returns what removes them (the agent stops).
 */
export function provideHostMetrics(sources: HostMetricsSources): () => void {
  const host = sources.hostId;
  const removers = [
    hostNetworkSlots.provide(() => {
      const { pooled, inUse, capacity } = sources.network();
      return [
        { labels: { host, state: 'used' }, value: inUse.length },
        { labels: { host, state: 'pooled' }, value: pooled },
        { labels: { host, state: 'free' }, value: Math.max(0, capacity - inUse.length - pooled) },
      ];
    }),
    hostDiskBytes.provide(async () => {
      const fs = await statfs(sources.stateDir);
      return [
        { labels: { host, state: 'used' }, value: (fs.blocks - fs.bfree) * fs.bsize },
        { labels: { host, state: 'free' }, value: fs.bavail * fs.bsize },
      ];
    }),
    hostMemoryBytes.provide(() => {
      const total = totalmem();
      const free = freemem();
      return [
        { labels: { host, state: 'used' }, value: total - free },
        { labels: { host, state: 'free' }, value: free },
        { labels: { host, state: 'reserved' }, value: sources.usage().memoryMb * MIB },
        ...(sources.memoryReserveMb === undefined ? [] : [{ labels: { host, state: 'admission_reserve' }, value: sources.memoryReserveMb * MIB }]),
      ];
    }),
    hostSandboxes.provide(async () => {
      const list = await sources.sandboxes();
      return [
        { labels: { host, state: 'running' }, value: list.sandboxIds.length },
        { labels: { host, state: 'paused' }, value: list.pausedIds?.length ?? 0 },
      ];
    }),
  ];
  return () => removers.forEach((remove) => remove());
}
