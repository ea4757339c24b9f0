import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Sandbox, WrennClient } from '@wrenn/sdk';
import { eventually } from '@wrenn/testing';
import { CONTROL_PLANE, HostAgentProcess } from './host-agent-process';
import { agentKey, readMeta } from './host-inspect';
import { Platform, startPlatform } from './platform';

/** A TCP port nothing listens on right now, for an agent's data plane. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Three hosts on one machine: one control plane and three host-agent processes, each with its own
 * host id, state directory, sandbox network and data-plane port, as three machines would have.
 * Placement spreads sandboxes over them (most free memory first); one agent killed with SIGKILL
 * loses exactly its own sandboxes, while the others' keep running and answering.
 */
describe('multi-host', () => {
  let p: Platform;
  let sdk: WrennClient;
  const agents: HostAgentProcess[] = [];
  const stateDirs: string[] = [];
  before(async () => {
    p = await startPlatform('multi', { WRENN_WARM_POOL_SIZE: '0', WRENN_NET_POOL_SIZE: '1', WRENN_REAPER_STARTUP_GRACE_MS: '1000' }, { services: CONTROL_PLANE, waitForHost: false });
    sdk = new WrennClient({ baseUrl: p.url, apiKey: p.owner.apiKey });
    // Three adjacent /16s picked at random in 10.64–10.123, below the range agents default to (10.128+).
    const base = 64 + 3 * (randomBytes(1)[0] % 20);
    for (let i = 0; i < 3; i++) {
      const stateDir = `${p.stateDir}-h${i}`;
      stateDirs.push(stateDir);
      agents.push(
        new HostAgentProcess(p, {
          WRENN_HOST_ID: `${p.hostId}-h${i}`,
          WRENN_STATE_DIR: stateDir,
          WRENN_NET_CIDR: `10.${base + i}.0.0/16`,
          WRENN_DATA_PLANE_PORT: String(await freePort()),
          // Equal capacities: placement then depends only on what each host already runs.
          WRENN_HOST_MEMORY_MB: '8192',
          WRENN_HOST_VCPUS: '32',
        }),
      );
    }
    // One at a time: the first may build the shared base image.
    for (const agent of agents) await agent.start();
  });
  after(async () => {
    // Whatever happened, every agent comes back on its own state (re-adopting the sandboxes that
    // outlived it), every sandbox is destroyed through the API, and only then do the agents stop.
    for (const agent of agents) if (!agent.running) await agent.start().catch(() => undefined);
    const destroyAll = async () => {
      for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
        await sdk.destroySandbox(row.id).catch(() => undefined);
      }
    };
    await destroyAll();
    await eventually(async () => {
      const left = stateDirs.flatMap((dir) => (existsSync(join(dir, 'sandboxes')) ? readdirSync(join(dir, 'sandboxes')) : []));
      if (left.length > 0) await destroyAll();
      return left.length === 0;
    }, 30_000, 'every sandbox to leave the hosts').catch(() => undefined);
    for (const agent of agents) await agent.kill('SIGTERM');
    await p.stop();
    for (const dir of stateDirs) await rm(dir, { recursive: true, force: true });
  });

  it('spreads sandboxes over the hosts; a host killed with SIGKILL loses only its own', async () => {
    const hosts = await p.cli('host', 'ls', '--json');
    const live = JSON.parse(hosts.stdout).filter((h: { live: boolean }) => h.live).map((h: { hostId: string }) => h.hostId).sort();
    assert.deepEqual(live, agents.map((a) => a.hostId).sort(), `the three agents are live hosts:\n${agents.map((a) => a.output().slice(-1500)).join('\n---\n')}`);

    const sandboxes: Sandbox[] = [];
    for (let i = 0; i < 6; i++) {
      const sandbox = await sdk.createSandbox({ memory_mb: 128 });
      assert.equal(sandbox.state, 'running', JSON.stringify(sandbox));
      sandboxes.push(sandbox);
      await sdk.exec(sandbox.id, { cmd: 'sh', args: ['-c', `echo ${sandbox.id} > /root/whoami`] });
    }
    const byHost = new Map<string, Sandbox[]>();
    for (const s of sandboxes) byHost.set(s.host_id!, [...(byHost.get(s.host_id!) ?? []), s]);
    assert.ok(byHost.size >= 2, `placed on ${[...byHost.keys()].join(', ')}`);
    for (const hostId of byHost.keys()) assert.ok(agents.some((a) => a.hostId === hostId), `${hostId} is one of the agents`);
    // Each sandbox lives in its own host's state directory, nowhere else.
    for (const s of sandboxes) {
      const i = agents.findIndex((a) => a.hostId === s.host_id);
      assert.ok(existsSync(join(stateDirs[i], 'sandboxes', s.id)), `${s.id} on ${s.host_id}`);
      for (const [j, dir] of stateDirs.entries()) if (j !== i) assert.ok(!existsSync(join(dir, 'sandboxes', s.id)));
    }

    // Kill the host holding the most sandboxes.
    const [victimId, doomed] = [...byHost.entries()].sort((a, b) => b[1].length - a[1].length)[0];
    const victim = agents.find((a) => a.hostId === victimId)!;
    const survivors = sandboxes.filter((s) => s.host_id !== victimId);
    const doomedPids = doomed.map((s) => readMeta(stateDirs[agents.indexOf(victim)], s.id).initPid);
    await victim.kill('SIGKILL');

    // The lease (2 s) is timed by the lost-host suite; here the budget also covers a reaper pass
    // still busy with the other hosts of a busy 2-core machine.
    await eventually(async () => (await Promise.all(doomed.map((s) => sdk.getSandbox(s.id)))).every((s) => s.state === 'lost'), 30_000, "the killed host's sandboxes to be lost");
    for (const s of doomed) assert.match((await sdk.getSandbox(s.id)).failure_reason ?? '', /stopped sending heartbeats/);
    for (const s of survivors) {
      const now = await sdk.getSandbox(s.id);
      assert.equal(now.state, 'running', `${s.id} on ${s.host_id} is untouched`);
      const read = await sdk.exec(s.id, { cmd: 'cat', args: ['/root/whoami'] });
      assert.equal(read.stdout, `${s.id}\n`);
    }
    const after = JSON.parse((await p.cli('host', 'ls', '--json')).stdout) as Array<{ hostId: string; live: boolean }>;
    assert.equal(after.find((h) => h.hostId === victimId)?.live, false);
    assert.equal(after.filter((h) => h.live).length, 2);

    // New sandboxes go to the live hosts only.
    const fresh = await sdk.createSandbox({ memory_mb: 128 });
    assert.notEqual(fresh.host_id, victimId);
    assert.ok(agents.some((a) => a.hostId === fresh.host_id), `${fresh.host_id} is a live agent`);

    // The host returns: its lost sandboxes (they outlived the agent) are removed from it.
    await victim.start();
    await eventually(
      () => doomed.every((s) => !existsSync(join(stateDirs[agents.indexOf(victim)], 'sandboxes', s.id))) && doomedPids.every((pid) => !existsSync(`/proc/${pid}`)),
      20_000,
      "the lost sandboxes to be removed from the returning host",
    );
    // The reaper may still be settling a lost sandbox as the destroy lands (it can fail the
    // destroy's stop); a destroy is allowed again from failed, so retry until it is stopped.
    for (const s of doomed) {
      await eventually(async () => (await sdk.destroySandbox(s.id).catch(() => undefined)) && (await sdk.getSandbox(s.id)).state === 'deleted', 15_000, `${s.id} to be destroyed`);
    }
    for (const s of [...survivors, fresh]) assert.equal((await p.deleteSandbox(s.id)).state, 'deleted');
  });

  it('leaves no network namespace, nftables table or cgroup of any host behind once the agents stop', async () => {
    for (const agent of agents) await agent.kill('SIGTERM');
    const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
    for (const agent of agents) {
      const key = agentKey(agent.hostId);
      assert.ok(!netns.includes(`wrenn-${key}-`), `${agent.hostId}: ${netns}`);
      assert.ok(!tables.includes(`table ip wrenn-${key}\n`), `${agent.hostId}'s nftables table`);
      for (const controller of readdirSync('/sys/fs/cgroup')) {
        assert.ok(!existsSync(join('/sys/fs/cgroup', controller, `wrenn-${key}`)), `${agent.hostId}'s ${controller} cgroup`);
      }
    }
  });
});
