import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WrennConfig } from '@wrenn/config';
import { createLogger } from '@wrenn/logger';
import { sandboxProjection } from '@wrenn/projections';
import { scriptedLog, ScriptedLog } from '@wrenn/projections-test-support';
import { eventually } from '@wrenn/testing';
import { connect } from 'nats';
import { createServer, connect as tcpConnect, Socket } from 'node:net';
import { ulid } from 'ulid';
import { ActivityRecorder } from '../activity/activity.recorder';
import { SandboxRepository } from '../repositories/sandbox.repository';
import { RunningSandboxesCache } from './running-sandboxes.cache';
import { SandboxesService } from './sandboxes.service';
import type { Caller } from '../auth/caller';

const log = createLogger('test');
/** Kept sandboxes expire after 10 s whatever happens: a drop must show well before that. */
const WELL_BEFORE_EXPIRY = 5000;
log.level = 'silent';

/**
 * Where a data-plane call goes, with running sandboxes kept in memory: on the real event log
 * (the sandbox projection running live into PostgreSQL) and the real subscription. A row changed
 * behind the log's back (an UPDATE with no event) shows whether a call read the database or not.
 */
describe(RunningSandboxesCache.name, () => {
  let log_: ScriptedLog;
  let cache: RunningSandboxesCache;
  let service: SandboxesService;
  const team = { teamId: 'team_a' } as Caller;
  const otherTeam = { teamId: 'team_b' } as Caller;
  let clock = Date.parse('2026-03-01T10:00:00Z');
  const at = () => new Date((clock += 1000)).toISOString();

  before(async () => {
    log_ = await scriptedLog('runningsb');
    await log_.run([sandboxProjection(log_.env.naming)]);
    cache = new RunningSandboxesCache(log_.env.nc, log_.env.naming, log);
    cache.onApplicationBootstrap();
    const activity = new ActivityRecorder(log_.env.nc, log_.env.naming, log, { activityThrottleMs: 1000 } as WrennConfig);
    service = new SandboxesService(undefined as never, log_.env.naming, {} as WrennConfig, new SandboxRepository(log_.ds), activity, undefined as never, cache);
    // The subscription is up before the first event of a test.
    await eventually(() => (cache as unknown as { live: boolean }).live, 10_000, 'the sandbox event subscription');
  });
  after(async () => {
    cache.onApplicationShutdown();
    await log_.close();
  });

  const event = async (id: string, type: string, data: object = {}) => {
    const seq = await log_.append(at(), 'sandbox', id, `sandbox.${type}`, data);
    await log_.caughtUp(seq);
    return seq;
  };
  const running = async (hostId = 'host-1') => {
    const id = `sb_${ulid().toLowerCase()}`;
    await event(id, 'requested', { sandboxId: id, teamId: 'team_a', template: 'base', vcpus: 1, memoryMb: 512, timeoutSec: 60 });
    await event(id, 'scheduled', { hostId, bootId: 'b1' });
    await event(id, 'started', { hostId, elapsedMs: 1 });
    return id;
  };
  /** Moves the row to another host without an event: only a call that reads the row sees it. */
  const behindTheLogsBack = (id: string, hostId: string) => log_.ds.query('UPDATE sandboxes SET host_id = $2 WHERE id = $1', [id, hostId]);
  const refusal = async (id: string, caller = team) => {
    const error = await service.requireRunning(caller, id).then(() => assert.fail('the call was let through'), (e: { code: string; details?: unknown }) => e);
    return error.code;
  };

  it('answers a running sandbox from memory after the first read: no read model round trip', async () => {
    const id = await running();
    assert.deepEqual(await service.requireRunning(team, id), { teamId: 'team_a', hostId: 'host-1', cached: false });
    await behindTheLogsBack(id, 'host-elsewhere');
    assert.deepEqual(await service.requireRunning(team, id), { teamId: 'team_a', hostId: 'host-1', cached: true });
  });

  it("answers another team's key 404 from memory, as the read model would", async () => {
    const id = await running();
    await service.requireRunning(team, id);
    assert.equal(await refusal(id, otherTeam), 'sandbox_not_found');
    assert.equal((await service.requireRunning(team, id)).cached, true);
  });

  it('drops a sandbox on any of its events, even ones another gateway caused: a pause answers 409 at once', async () => {
    const id = await running();
    await service.requireRunning(team, id);
    await event(id, 'pause_requested', { reason: 'user' });
    // The event, not this gateway, dropped it: the read model's pausing comes back.
    assert.equal(await eventually(async () => refusal(id).catch(() => undefined), WELL_BEFORE_EXPIRY), 'invalid_state');
    await event(id, 'paused', { snapshotRef: 'snap', sizeBytes: 1 });
    assert.equal(await refusal(id), 'invalid_state');
  });

  it('answers 409 sandbox_deleting once a delete is under way, then 404 for nothing at all', async () => {
    const id = await running();
    await service.requireRunning(team, id);
    await event(id, 'stop_requested');
    assert.equal(await eventually(async () => refusal(id).catch(() => undefined), WELL_BEFORE_EXPIRY), 'sandbox_deleting');
    assert.equal(await refusal(`sb_${ulid().toLowerCase()}`), 'sandbox_not_found');
  });

  it('follows a sandbox resumed on another host', async () => {
    const id = await running('host-1');
    assert.equal((await service.requireRunning(team, id)).hostId, 'host-1');
    await event(id, 'pause_requested', { reason: 'user' });
    await event(id, 'paused', { snapshotRef: 'snap', sizeBytes: 1 });
    await event(id, 'resume_requested', { hostId: 'host-2', bootId: 'b2' });
    await event(id, 'resumed', { hostId: 'host-2' });
    assert.deepEqual(await eventually(async () => {
      const now = await service.requireRunning(team, id).catch(() => undefined);
      return now?.hostId === 'host-2' ? now : undefined;
    }, WELL_BEFORE_EXPIRY), { teamId: 'team_a', hostId: 'host-2', cached: false });
    assert.equal((await service.requireRunning(team, id)).cached, true);
  });

  it('drops a sandbox on events that change nothing it keeps, and re-reads the row', async () => {
    const id = await running();
    await service.requireRunning(team, id);
    await behindTheLogsBack(id, 'host-moved');
    await event(id, 'timeout_changed', { timeoutSec: 600 });
    assert.equal(await eventually(async () => ((await service.requireRunning(team, id)).hostId === 'host-moved' ? true : undefined), WELL_BEFORE_EXPIRY), true);
  });

  it('does not keep a row older than an event it has seen for the sandbox (a lagging read model)', async () => {
    const id = await running();
    const seq = await event(id, 'timeout_changed', { timeoutSec: 600 });
    await eventually(() => (cache as unknown as { lastEvent: Map<string, number> }).lastEvent.get(id) === seq, 5000, 'the event seen');
    // The row as a projection that has not applied the last event would show it.
    await log_.ds.query('UPDATE sandboxes SET version = $2 WHERE id = $1', [id, seq - 1]);
    assert.equal((await service.requireRunning(team, id)).cached, false);
    assert.equal((await service.requireRunning(team, id)).cached, false, 'read again: nothing was kept');
  });

  it('reads again with `fresh` (a host said it does not have the sandbox) and keeps the new answer', async () => {
    const id = await running();
    await service.requireRunning(team, id);
    await behindTheLogsBack(id, 'host-real');
    assert.equal((await service.requireRunning(team, id, true)).hostId, 'host-real');
    assert.deepEqual(await service.requireRunning(team, id), { teamId: 'team_a', hostId: 'host-real', cached: true });
  });

  it('forgets everything when its subscription is interrupted, and keeps again once events flow', async () => {
    const id = await running();
    await service.requireRunning(team, id);
    assert.equal((await service.requireRunning(team, id)).cached, true);
    // Delete the subscription's consumer on the server: the client recreates it and says so.
    const jsm = await log_.env.nc.jetstreamManager();
    const ephemeral = new Set<string>();
    for await (const info of jsm.consumers.list(log_.env.naming.stream)) if (!info.config.durable_name) ephemeral.add(info.name);
    assert.ok(ephemeral.size >= 1, 'the ordered consumer exists');
    await behindTheLogsBack(id, 'host-after-gap');
    for (const name of ephemeral) await jsm.consumers.delete(log_.env.naming.stream, name);
    assert.equal(await eventually(async () => ((await service.requireRunning(team, id)).hostId === 'host-after-gap' ? true : undefined), WELL_BEFORE_EXPIRY, 'the memory dropped'), true);
    // Events flow again: rows are kept again.
    const other = await running();
    await eventually(async () => (await service.requireRunning(team, other), (await service.requireRunning(team, other)).cached || undefined), 15_000, 'rows kept again');
  });

  it('forgets everything when its connection to NATS drops, and keeps again once it follows anew', async () => {
    // Its own connection, through a relay the test can cut.
    const upstream = new URL(log_.env.natsUrl.split(',')[0].replace(/^nats:/, 'http:'));
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const server = tcpConnect(Number(upstream.port || 4222), upstream.hostname);
      for (const sock of [client, server]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
      }
      client.pipe(server).pipe(client);
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const nc = await connect({ servers: `127.0.0.1:${(relay.address() as { port: number }).port}`, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const cut = new RunningSandboxesCache(nc, log_.env.naming, log);
    cut.onApplicationBootstrap();
    const activity = new ActivityRecorder(log_.env.nc, log_.env.naming, log, { activityThrottleMs: 1000 } as WrennConfig);
    const through = new SandboxesService(undefined as never, log_.env.naming, {} as WrennConfig, new SandboxRepository(log_.ds), activity, undefined as never, cut);
    try {
      await eventually(() => (cut as unknown as { live: boolean }).live, 10_000, 'the subscription');
      const id = await running();
      await through.requireRunning(team, id);
      assert.equal((await through.requireRunning(team, id)).cached, true);
      await behindTheLogsBack(id, 'host-after-cut');
      for (const sock of sockets) sock.destroy();
      assert.equal(await eventually(async () => ((await through.requireRunning(team, id)).hostId === 'host-after-cut' ? true : undefined), WELL_BEFORE_EXPIRY, 'the memory dropped'), true);
      await eventually(async () => (await through.requireRunning(team, id)).cached || undefined, 15_000, 'kept again once it follows anew');
    } finally {
      cut.onApplicationShutdown();
      await nc.close();
      for (const sock of sockets) sock.destroy();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});
