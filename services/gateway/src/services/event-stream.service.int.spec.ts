import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '@wrenn/testing';
import { GatewayHarness, SseClient, startGateway } from '@wrenn/gateway-test-support';

const T = '2026-03-01T10:00:00.000Z';

describe('GET /v1/events (live events over SSE)', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway('sse', { WRENN_SSE_HEARTBEAT_MS: '200' });
  });
  after(() => h.close());

  const mine = (id: string, type: string) => h.append(T, 'sandbox', id, `sandbox.${type}`, { tag: type });
  const theirs = (id: string, type: string) => h.append(T, 'sandbox', id, `sandbox.${type}`, { tag: type }, { teamId: 'team_other' });

  it("streams the team's events from now, and resumes after a disconnect without loss or duplicates", async () => {
    await mine('sb_before', 'requested'); // before the stream opened: not sent
    const first = await SseClient.connect(`${h.gateway.url}/v1/events`, h.authHeaders());
    assert.equal(first.status, 200);
    assert.match(first.contentType, /^text\/event-stream/);
    await first.until((c) => c.frames.some((f) => f.comments.includes('stream open')), 5000, 'stream open');

    const expected: number[] = [];
    expected.push(await mine('sb_1', 'requested'));
    await theirs('sb_x', 'requested');
    expected.push(await mine('sb_1', 'scheduled'));
    await theirs('sb_x', 'scheduled');
    expected.push(await mine('sb_1', 'started'));
    await first.until((c) => c.events().length === 3, 10_000, 'three events');
    const seen = first.events();
    assert.deepEqual(seen.map((e) => e.id), expected);
    assert.deepEqual(seen.map((e) => e.event), ['sandbox.requested', 'sandbox.scheduled', 'sandbox.started']);
    assert.deepEqual(seen[0].data.resource, { type: 'sandbox', id: 'sb_1' });
    assert.equal(seen[0].data.team_id, h.teamId);
    assert.equal(seen[0].data.seq, expected[0]);
    assert.equal(seen[0].data.correlation_id, 'corr_sb_1');
    assert.equal(seen[0].data.occurred_at, T);
    assert.deepEqual(seen[0].data.data, { tag: 'requested' });

    // The client goes away; events keep coming.
    const resumeFrom = first.lastEventId()!;
    first.disconnect();
    expected.push(await mine('sb_1', 'stop_requested'));
    await theirs('sb_x', 'started');
    expected.push(await mine('sb_2', 'requested'));

    // An EventSource reconnects to the same URL with Last-Event-ID.
    const second = await SseClient.connect(`${h.gateway.url}/v1/events`, { ...h.authHeaders(), 'last-event-id': resumeFrom });
    expected.push(await mine('sb_1', 'stopped'));
    await second.until((c) => c.events().length === 3, 10_000, 'the missed events and a live one');
    // Nothing more may arrive: a marker appended last comes next, after anything else the stream would send.
    const marker = await mine('sb_marker', 'requested');
    await second.until((c) => c.events().some((e) => e.id === marker), 10_000, 'the marker');
    const all = [...seen, ...second.events()].map((e) => e.id);
    assert.deepEqual(all, [...expected, marker]);
    assert.equal(new Set(all).size, all.length);
    // Nothing of either stream stays behind on the server (the gateway's own follower of the
    // sandbox events, which every gateway keeps, is not a stream's).
    const jsm = await h.env.nc.jetstreamManager();
    const streams = async () => (await jsm.consumers.list(h.env.naming.stream).next()).filter((c) => [c.config.filter_subject, ...(c.config.filter_subjects ?? [])].includes(h.env.naming.eventsWildcard));
    assert.equal((await streams()).length, 1, 'the open stream has its consumer');
    second.disconnect();
    await eventually(async () => (await streams()).length === 0, 5000, 'no consumer left');
  });

  it('starts after ?after=, and lets Last-Event-ID win over it', async () => {
    const a = await mine('sb_3', 'requested');
    const b = await mine('sb_3', 'scheduled');
    const fromQuery = await SseClient.connect(`${h.gateway.url}/v1/events?after=${a - 1}`, h.authHeaders());
    await fromQuery.until((c) => c.events().some((e) => e.id === b), 10_000, 'sb_3 events');
    assert.deepEqual(fromQuery.events().map((e) => e.id), [a, b]);
    fromQuery.disconnect();
    const both = await SseClient.connect(`${h.gateway.url}/v1/events?after=0`, { ...h.authHeaders(), 'last-event-id': String(a) });
    await both.until((c) => c.events().some((e) => e.id === b), 10_000, 'sb_3 scheduled');
    assert.deepEqual(both.events().map((e) => e.id), [b]);
    both.disconnect();
  });

  it("sends heartbeats that move the cursor past other teams' events", async () => {
    const client = await SseClient.connect(`${h.gateway.url}/v1/events`, h.authHeaders());
    await client.until((c) => c.frames.some((f) => f.comments.includes('stream open')), 5000, 'stream open');
    const other = await theirs('sb_y', 'requested');
    await client.until((c) => c.frames.some((f) => f.comments.includes('heartbeat') && f.id === String(other)), 5000, 'a heartbeat with the cursor');
    assert.equal(client.events().length, 0);
    client.disconnect();
  });

  it('answers 401 without an API key, before any stream opens', async () => {
    const res = await h.getJson('/v1/events', {}, false);
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'unauthorized');
  });

  it('answers 400 validation_failed for a cursor that is not a sequence', async () => {
    for (const [path, headers] of [['/v1/events?after=abc', {}], ['/v1/events?after=-1', {}], ['/v1/events', { 'last-event-id': '1.5' }]] as const) {
      const res = await h.getJson(path, headers);
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, 'validation_failed');
    }
  });

  it('ends open streams cleanly when the gateway shuts down', async () => {
    const client = await SseClient.connect(`${h.gateway.url}/v1/events`, h.authHeaders());
    await client.until((c) => c.frames.some((f) => f.comments.includes('stream open')), 5000, 'stream open');
    const started = Date.now();
    await h.gateway.close();
    await client.until((c) => c.ended, 5000, 'the end of the stream');
    assert.ok(Date.now() - started < 5000);
  });
});
