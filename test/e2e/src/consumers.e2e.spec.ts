import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '@wrenn/testing';
import { Platform, startPlatform } from './platform';
import { asCold, says } from './lifecycle-events';

interface LiveEvent {
  id: number;
  type: string;
  data: { resource: { type: string; id: string }; team_id: string; occurred_at: string };
}

/** Reads a Server-Sent Events response into `events` until aborted. */
function listen(url: string, headers: Record<string, string> = {}) {
  const events: LiveEvent[] = [];
  const controller = new AbortController();
  let ended = false;
  const done = (async () => {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    assert.equal(res.status, 200);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, cut).split('\n');
        buffer = buffer.slice(cut + 2);
        const data = block.find((l) => l.startsWith('data: '));
        if (!data) continue;
        const id = Number(block.find((l) => l.startsWith('id: '))!.slice(4));
        events.push({ id, type: block.find((l) => l.startsWith('event: '))!.slice(7), data: JSON.parse(data.slice(6)) });
      }
    }
    ended = true;
  })().catch((error) => {
    ended = true;
    if ((error as Error).name !== 'AbortError') throw error;
  });
  return { events, stop: () => controller.abort(), done, isEnded: () => ended };
}

describe('audit, usage and live events on the running platform', () => {
  let p: Platform;
  let id = '';
  let live: ReturnType<typeof listen>;
  let theirs: ReturnType<typeof listen> | undefined;
  before(async () => {
    p = await startPlatform('consumers');
  });
  after(async () => {
    live?.stop();
    theirs?.stop();
    if (id) await p.api('DELETE', `/v1/sandboxes/${id}`).catch(() => undefined);
    await p.stop();
  });

  it("streams a sandbox's life live, audits it and bills its running time", async () => {
    live = listen(`${p.url}/v1/events?after=0`, p.authHeaders());
    // Another team's stream, open the whole time, sees none of it.
    const other = await p.signUp('other-team');
    theirs = listen(`${p.url}/v1/events?after=0`, p.authHeaders({ apiKey: other.apiKey }));
    const created = await p.api('POST', '/v1/sandboxes', { template: 'base', vcpus: 2, memory_mb: 256, timeout_sec: 0 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    id = created.body.id;
    await new Promise((r) => setTimeout(r, 300));
    const deleted = await p.api('DELETE', `/v1/sandboxes/${id}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));

    const life = ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started', 'sandbox.stop_requested', 'sandbox.stopped'];
    await eventually(() => live.events.some((e) => e.data.resource.id === id && e.type === 'sandbox.stopped'), 10_000, 'the live events');
    const mine = live.events.filter((e) => e.data.resource.id === id);
    assert.deepEqual(asCold(mine.map((e) => e.type)), life);
    assert.ok(live.events.every((e) => e.data.team_id === p.owner.teamId));
    // Their stream is live (their own signup is on it) but holds nothing of this team.
    await eventually(() => theirs!.events.some((e) => e.type === 'api_key.created'), 10_000, "the other team's own events");
    assert.ok(theirs.events.every((e) => e.data.team_id === other.teamId && e.data.resource.id !== id));

    // The audit trail holds the same events, newest first.
    const audit = await eventually(async () => {
      const res = await p.api('GET', `/v1/audit?resource_type=sandbox&resource_id=${id}`);
      return res.body.entries.length === mine.length ? res.body.entries : undefined;
    }, 10_000, 'the audit rows');
    assert.deepEqual(audit.map((e: { seq: number }) => e.seq), mine.map((e) => e.id).reverse());
    // The platform's own events (host announcements) are not the team's.
    const all = await p.api('GET', '/v1/audit?limit=1000');
    assert.ok(all.body.entries.every((e: { team_id: string }) => e.team_id === p.owner.teamId));
    assert.ok(all.body.entries.some((e: { type: string }) => e.type === 'api_key.created'), "the team's identity events are audited too");
    const theirAudit = await p.api('GET', '/v1/audit?limit=1000', undefined, { auth: { apiKey: other.apiKey } });
    assert.ok(theirAudit.body.entries.every((e: { team_id: string }) => e.team_id === other.teamId));

    // Billed: exactly started → stop_requested, × 2 vcpus, × 256 MiB.
    const at = (type: string) => Date.parse(mine.find((e) => says(e.type, type))!.data.occurred_at);
    const ran = at('sandbox.stop_requested') - at('sandbox.started');
    assert.ok(ran > 0);
    const window = `from=${new Date(at('sandbox.requested') - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`;
    const usage = await eventually(async () => {
      const res = await p.api('GET', `/v1/usage?${window}`);
      return res.body.usage?.vcpu_ms === String(ran * 2) ? res.body : undefined;
    }, 10_000, 'the usage');
    assert.equal(usage.usage.memory_mib_ms, String(ran * 256));

    // A rebuild of audit and usage from the log: the same bill, the same trail.
    const rebuild = await p.cli('events', 'rebuild', '--json');
    assert.equal(rebuild.code, 0, rebuild.stderr);
    assert.deepEqual((await p.api('GET', `/v1/usage?${window}`)).body, usage);
    assert.deepEqual((await p.api('GET', `/v1/audit?resource_type=sandbox&resource_id=${id}`)).body.entries, audit);
  });

  it('stops cleanly with a live stream open', async () => {
    assert.ok(!live.isEnded());
    await p.kill('SIGTERM'); // throws when the platform does not stop within 15 s
    await eventually(() => live.isEnded(), 5000, 'the stream to end');
  });
});
