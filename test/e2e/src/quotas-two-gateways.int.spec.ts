import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostHeartbeat, HostOp, naming } from '@wrenn/contracts';
import { createTestEnv, TestEnv } from '@wrenn/testing';
import { Subscription } from 'nats';

interface Running { close(): Promise<void> }

async function call(method: string, url: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * Quotas through the REST API with the platform doubled: two gateways and two schedulers (Nest
 * apps, in this process) on one NATS and PostgreSQL slice; a test responder plays the host agent.
 * Creates for one team go to both gateways at once; the scheduler replicas take them as NATS
 * hands them out.
 */
describe('quotas across two gateways and two schedulers', () => {
  let env: TestEnv;
  const services: Running[] = [];
  const subs: Subscription[] = [];
  let urls: string[] = [];

  async function team(label: string): Promise<string> {
    const credentials = { email: `${label}-${Date.now()}@example.com`, password: 'a long enough password' };
    const signup = await call('POST', `${urls[0]}/v1/auth/signup`, {}, credentials);
    assert.ok(signup.status < 300, JSON.stringify(signup.body));
    const login = await call('POST', `${urls[0]}/v1/auth/login`, {}, credentials);
    const key = await call('POST', `${urls[0]}/v1/api-keys`, { authorization: `Bearer ${login.body.token}` }, { name: label });
    assert.equal(key.status, 201);
    return key.body.key;
  }

  before(async () => {
    env = await createTestEnv('quota-gw');
    Object.assign(process.env, env.env, { WRENN_QUOTA_RUNNING_SANDBOXES: '3' });
    const kv = await env.nc.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    const beat: HostHeartbeat = {
      hostId: 'h-quota-gw', bootId: 'boot-1', runtime: 'namespace', capacity: { vcpus: 1000, memoryMb: 1_000_000, maxSandboxes: 1000 },
      used: { sandboxes: 0, vcpus: 0, memoryMb: 0 }, at: Date.now(), leaseMs: 600_000, version: 'test', dataPlaneUrl: 'http://127.0.0.1:1',
    };
    await kv.put(beat.hostId, JSON.stringify(beat));
    const n = naming(env.naming.namespace);
    subs.push(env.nc.subscribe(n.hostSubject(beat.hostId, HostOp.Create), {
      callback: (_e, msg) => msg.respond(JSON.stringify({ ok: true, value: { sandboxId: msg.json<any>().spec.sandboxId, elapsedMs: 1 } })),
    }));
    subs.push(env.nc.subscribe(n.hostSubject(beat.hostId, HostOp.Destroy), { callback: (_e, msg) => msg.respond(JSON.stringify({ ok: true, value: {} })) }));
    // Service modules resolve their subjects when they load: after the namespace is set.
    const { bootstrapAuth } = await import('@wrenn/auth');
    const { bootstrapGateway } = await import('@wrenn/gateway');
    const { bootstrapSandboxScheduler } = await import('@wrenn/sandbox-scheduler');
    const { bootstrapProjector } = await import('@wrenn/projector');
    services.push(await bootstrapAuth(), await bootstrapSandboxScheduler(), await bootstrapSandboxScheduler(), await bootstrapProjector());
    for (let i = 0; i < 2; i++) {
      const gw = await bootstrapGateway({ port: 0, host: '127.0.0.1' });
      services.push(gw);
      urls.push(gw.url);
    }
  });
  after(async () => {
    for (const sub of subs) sub.unsubscribe();
    for (const s of services.reverse()) await s.close().catch(() => undefined);
    await env.cleanup();
  });

  it('grants a team exactly its limit when two gateways race, answers 429 quota_exceeded with the limit, and another team is unaffected', async () => {
    const keyA = await team('quota-a');
    const keyB = await team('quota-b');
    const creates = Array.from({ length: 8 }, (_, i) => call('POST', `${urls[i % 2]}/v1/sandboxes`, { 'x-api-key': keyA }, { template: 'base', vcpus: 1, memory_mb: 128 }));
    const answers = await Promise.all(creates);
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [201, 201, 201, 429, 429, 429, 429, 429], JSON.stringify(answers.map((a) => a.body)));
    const refused = answers.find((a) => a.status === 429)!.body.error;
    assert.equal(refused.code, 'quota_exceeded');
    assert.deepEqual({ limit: refused.details.limit, max: refused.details.max, current: refused.details.current }, { limit: 'running_sandboxes', max: 3, current: 3 });
    for (const url of urls) {
      const quotas = await call('GET', `${url}/v1/quotas`, { 'x-api-key': keyA });
      assert.equal(quotas.status, 200);
      assert.equal(quotas.body.limits.running_sandboxes, 3);
      assert.equal(quotas.body.usage.running_sandboxes, 3);
    }
    const other = await call('POST', `${urls[1]}/v1/sandboxes`, { 'x-api-key': keyB }, { template: 'base', vcpus: 1, memory_mb: 128 });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    // The refusals are in the team's audit trail.
    const audit = await call('GET', `${urls[0]}/v1/audit?resource_type=quota`, { 'x-api-key': keyA });
    const deadline = Date.now() + 10_000;
    let denials = audit.body.entries.filter((e: any) => e.type === 'quota.denied').length;
    while (denials < 5 && Date.now() < deadline) {
      const again = await call('GET', `${urls[0]}/v1/audit?resource_type=quota`, { 'x-api-key': keyA });
      denials = again.body.entries.filter((e: any) => e.type === 'quota.denied').length;
      if (denials < 5) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(denials, 5);
    // A destroy gives the place back, through either gateway.
    const running = await call('GET', `${urls[1]}/v1/sandboxes`, { 'x-api-key': keyA });
    const first = (running.body.sandboxes ?? running.body)[0].id;
    assert.equal((await call('DELETE', `${urls[1]}/v1/sandboxes/${first}`, { 'x-api-key': keyA })).status, 200);
    assert.equal((await call('POST', `${urls[0]}/v1/sandboxes`, { 'x-api-key': keyA }, { template: 'base', vcpus: 1, memory_mb: 128 })).status, 201);
  });
});
