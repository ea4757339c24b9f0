import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommandHandler } from '@wrenn/eventlog';
import { sandboxDecider } from '@wrenn/domain';
import { auditProjection } from './audit.projection';
import { scriptedLog, ScriptedLog } from '@wrenn/projections-test-support';

describe('audit projection', () => {
  let log: ScriptedLog;
  before(async () => {
    log = await scriptedLog('audit');
    await log.run([auditProjection(log.env.naming)]);
  });
  after(() => log.close());

  it('records who did what to which resource, when, for every event of a lifecycle', async () => {
    // The real decider drives a whole lifecycle through the real EventStore.
    const handler = new CommandHandler(log.store, 'sandbox', sandboxDecider);
    const id = 'sb_audit0000000000000000001';
    const meta = (step: string) => ({ correlationId: 'corr_life', causationId: `cmd_1:${step}`, actor: { kind: 'api_key' as const, id: 'key_9' }, teamId: 'team_a' });
    await handler.handle(id, { type: 'RequestSandbox', sandboxId: id, teamId: 'team_a', template: 'base', vcpus: 2, memoryMb: 512, timeoutSec: 0 }, meta('request'));
    await handler.handle(id, { type: 'ScheduleSandbox', hostId: 'h1', bootId: 'b1' }, meta('schedule'));
    await handler.handle(id, { type: 'MarkStarted', hostId: 'h1', elapsedMs: 40 }, meta('started'));
    await handler.handle(id, { type: 'RequestPause', reason: 'user' }, meta('pause'));
    await handler.handle(id, { type: 'MarkPaused', snapshotRef: 'snap_1', sizeBytes: 4096 }, meta('paused'));
    await handler.handle(id, { type: 'RequestResume', hostId: 'h1', bootId: 'b1' }, meta('resume'));
    await handler.handle(id, { type: 'MarkResumed', hostId: 'h1' }, meta('resumed'));
    await handler.handle(id, { type: 'RequestStop' }, meta('stop'));
    const last = (await handler.handle(id, { type: 'MarkStopped' }, meta('stopped'))).seq;
    // Other aggregates are audited too, including the platform's own (team "system").
    const hostSeq = await log.append('2026-01-01T00:00:00.000Z', 'host', 'h1', 'host.agent_started', { bootId: 'b2' }, { teamId: 'system', actor: { kind: 'system', id: 'host-agent' } });
    await log.caughtUp(Math.max(last, hostSeq));

    const rows: Array<Record<string, unknown>> = await log.ds.query('SELECT * FROM audit_log ORDER BY seq');
    const { events } = await log.store.load('sandbox', id);
    assert.deepEqual(
      rows.filter((r) => r.resource_type === 'sandbox').map((r) => r.event_type),
      ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started', 'sandbox.pause_requested', 'sandbox.paused',
        'sandbox.resume_requested', 'sandbox.resumed', 'sandbox.stop_requested', 'sandbox.stopped'],
    );
    for (const event of events) {
      const row = rows.find((r) => Number(r.seq) === event.seq)!;
      assert.equal(row.event_id, event.id);
      assert.equal(row.team_id, 'team_a');
      assert.equal(row.actor_kind, 'api_key');
      assert.equal(row.actor_id, 'key_9');
      assert.equal(row.resource_id, id);
      assert.equal(row.correlation_id, 'corr_life');
      assert.equal(row.causation_id, event.causationId);
      assert.equal((row.occurred_at as Date).toISOString(), event.occurredAt);
    }
    const host = rows.find((r) => r.resource_type === 'host')!;
    assert.equal(host.team_id, 'system');
    assert.equal(host.event_type, 'host.agent_started');
    assert.equal(Number(host.seq), hostSeq);
    assert.equal(rows.length, events.length + 1);
  });
});
