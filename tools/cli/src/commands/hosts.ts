import { HostHeartbeat, isLive, naming } from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { serviceIdentity } from '@wrenn/nats-auth';
import { connectNats, kvLatest } from '@wrenn/messaging';
import { printJson, printTable } from '../api/output';

/**
 * Lists host agents from the hosts KV bucket (their heartbeats), like the scheduler sees them.
 * It talks to NATS (NATS_URL, WRENN_NS): an operator's command, run where the control plane is.
 */
export async function listHosts(options: { json?: boolean }): Promise<void> {
  const config = loadConfig();
  const nc = await connectNats(config, serviceIdentity('admin'), 'wrenn-cli');
  try {
    const beats = (await kvLatest(nc, naming(config.namespace).hostsBucket)).map((entry) => entry.json<HostHeartbeat>());
    beats.sort((a, b) => a.hostId.localeCompare(b.hostId));
    const now = Date.now();
    if (options.json) return printJson(beats.map((b) => ({ ...b, live: isLive(b, now) })));
    printTable(
      ['HOST', 'LIVE', 'RUNTIME', 'SANDBOXES', 'VCPUS', 'ASKED MB', 'REAL MB', 'LAST BEAT', 'DATA PLANE'],
      beats.map((b) => [
        b.hostId,
        isLive(b, now) ? 'yes' : 'no',
        b.runtime,
        `${b.used.sandboxes}/${b.capacity.maxSandboxes}`,
        `${b.used.vcpus}/${b.capacity.vcpus}`,
        // Asked (cgroup limits) against what the overcommit allows; really used against memory − reserve.
        b.memory ? `${b.used.memoryMb}/${Math.floor((b.memory.totalMb - b.memory.reserveMb) * b.memory.overcommit)}` : `${b.used.memoryMb}/${b.capacity.memoryMb}`,
        b.memory ? `${b.memory.usedMb}/${b.memory.totalMb - b.memory.reserveMb}` : '-',
        `${Math.max(0, Math.round((now - b.at) / 100) / 10)}s ago`,
        b.dataPlaneUrl,
      ]),
      'no hosts',
    );
  } finally {
    await nc.close();
  }
}
