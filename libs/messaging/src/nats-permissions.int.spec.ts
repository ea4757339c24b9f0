import { DATA_PLANE_VERIFY_KEY_ENTRY } from '@wrenn/contracts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Aggregate, HostOp } from '@wrenn/contracts';
import { EventStore } from '@wrenn/eventlog';
import { hostIdentity, NatsIdentity, serviceIdentity } from '@wrenn/nats-auth';
import { createTestEnv, TestEnv, within } from '@wrenn/testing';
import { connect, Msg, NatsConnection, NatsError } from 'nats';
import { natsConnectOptions } from './nats-connection';
import { request, serve } from './rpc';

/**
 * Each identity against a real nats-server in operator mode with auth on (started by this file on
 * a free loopback port, JetStream on, a temp store): what it may do works, the rest is refused by
 * the server.
 */
describe('NATS identities and their permissions', () => {
  let env: TestEnv;
  const open: NatsConnection[] = [];
  const encoder = new TextEncoder();

  const as = async (identity: NatsIdentity): Promise<NatsConnection> => {
    const config = { natsUrl: env.natsUrl, natsCredsDir: env.natsCredsDir, natsInsecure: false, namespace: env.namespace };
    const nc = await connect({ ...natsConnectOptions(config, identity), name: `test-${JSON.stringify(identity)}` });
    open.push(nc);
    return nc;
  };

  /** The server's refusal of a publish, as the client sees it (a request fails at once). */
  const refusedPublish = async (nc: NatsConnection, subject: string) => {
    await assert.rejects(
      nc.request(subject, encoder.encode('{}'), { timeout: 5000 }),
      (error: NatsError) => error.code === 'PERMISSIONS_VIOLATION' && error.message.includes(subject),
      `publish to ${subject} should be refused`,
    );
  };

  /** The server's refusal of a subscription: the subscription's callback gets the violation. */
  const refusedSubscribe = async (nc: NatsConnection, subject: string) => {
    const refused = new Promise<string>((resolve) => {
      nc.subscribe(subject, { callback: (err, msg) => resolve(err ? err.message : `delivered ${msg.subject}`) });
    });
    await nc.flush();
    assert.match(await within(refused, 5000, `the refusal of a subscription to ${subject}`), /Permissions Violation for Subscription/);
  };

  before(async () => {
    env = await createTestEnv('natsperm', { natsAuth: true });
    for (const host of ['host-a', 'host-b']) await env.enrolHost(host);
    // What the control plane sets up at boot: the event stream, the hosts and secrets buckets.
    const store = await EventStore.create(await as(serviceIdentity('sandbox-scheduler')), env.naming);
    await store.ensureStream();
    const scheduler = open[0];
    await scheduler.jetstream().views.kv(env.naming.hostsBucket, { history: 1 });
    const gateway = await as(serviceIdentity('gateway'));
    const secrets = await gateway.jetstream().views.kv(env.naming.secretsBucket, { history: 1 });
    await secrets.put('envd-access-token', 'k'.repeat(32));
  });

  after(async () => {
    for (const nc of open) await nc.close().catch(() => undefined);
    await env?.cleanup();
  });

  it('refuses an anonymous connection and one with a made-up user', async () => {
    await assert.rejects(connect({ servers: env.natsUrl }), (error: NatsError) => error.code === 'AUTHORIZATION_VIOLATION');
    await assert.rejects(connect({ servers: env.natsUrl, user: 'admin', pass: 'admin' }), (error: NatsError) => error.code === 'AUTHORIZATION_VIOLATION');
  });

  it("lets a host agent serve its own commands, beat in its own key and log its own events, and nothing of another host's", async () => {
    const a = await as(hostIdentity('host-a'));
    const scheduler = await as(serviceIdentity('sandbox-scheduler'));
    serve(a, env.naming.hostSubject('host-a', HostOp.List), async () => ({ sandboxIds: ['sbx_a'] }));
    await a.flush();
    assert.deepEqual(await request(scheduler, env.naming.hostSubject('host-a', HostOp.List), {}, 5000), { sandboxIds: ['sbx_a'] });

    const hosts = await a.jetstream().views.kv(env.naming.hostsBucket, { bindOnly: true });
    await hosts.put('host-a', JSON.stringify({ hostId: 'host-a' }));
    await assert.rejects(hosts.put('host-b', JSON.stringify({ hostId: 'host-b', forged: true })), /Permissions Violation/);

    const store = await EventStore.create(a, env.naming);
    const version = await store.versionOfOwn(Aggregate.Host, 'host-a');
    await store.append(Aggregate.Host, 'host-a', [{ type: 'host.agent_started', data: {} }], { correlationId: 'c', causationId: 'c', actor: { kind: 'system', id: 'host-a' }, teamId: 'system' }, version);
    await assert.rejects(store.versionOfOwn(Aggregate.Host, 'host-b'), /Permissions Violation/);
    await assert.rejects(
      store.append(Aggregate.Sandbox, 'sbx_x', [{ type: 'sandbox.destroyed', data: {} }], { correlationId: 'c', causationId: 'c', actor: { kind: 'system', id: 'host-a' }, teamId: 't' }, 0),
      /Permissions Violation/,
    );
    // The whole log is not a host's to read.
    await assert.rejects(store.version(Aggregate.Sandbox, 'sbx_x'), /Permissions Violation/);
  });

  it("refuses a host agent's publish of another host's command, and host B never sees it", async () => {
    const a = await as(hostIdentity('host-a'));
    const b = await as(hostIdentity('host-b'));
    const seenByB: Msg[] = [];
    b.subscribe(env.naming.hostWildcard('host-b'), { callback: (_err, msg) => seenByB.push(msg) });
    await b.flush();
    await refusedPublish(a, env.naming.hostSubject('host-b', HostOp.Destroy));
    a.publish(env.naming.hostSubject('host-b', HostOp.Create), encoder.encode('{"spec":{}}'));
    await a.flush();
    // A marker from a client allowed to publish it: anything delivered before it would be in.
    const scheduler = await as(serviceIdentity('sandbox-scheduler'));
    scheduler.publish(env.naming.hostSubject('host-b', 'marker'), encoder.encode('{}'));
    const deadline = Date.now() + 5000;
    while (!seenByB.some((m) => m.subject.endsWith('.marker')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      seenByB.map((m) => m.subject),
      [env.naming.hostSubject('host-b', 'marker')],
    );
  });

  it("refuses a host agent's subscription to everything, to another host's subjects and to others' replies", async () => {
    const a = await as(hostIdentity('host-a'));
    await refusedSubscribe(a, '>');
    await refusedSubscribe(a, env.naming.hostWildcard('host-b'));
    await refusedSubscribe(a, '_INBOX.>');
    await refusedSubscribe(a, env.naming.eventsWildcard);
    await refusedSubscribe(a, env.naming.commandSubject('auth', '*'));
  });

  it("refuses a host agent's read of the secrets bucket (the envd token key)", async () => {
    const a = await as(hostIdentity('host-a'));
    const secrets = await a.jetstream().views.kv(env.naming.secretsBucket, { bindOnly: true });
    await assert.rejects(secrets.get('envd-access-token'), /Permissions Violation/);
    const jsm = await a.jetstreamManager();
    await assert.rejects(jsm.streams.getMessage(`KV_${env.naming.secretsBucket}`, { last_by_subj: `$KV.${env.naming.secretsBucket}.envd-access-token` }), /Permissions Violation/);
    await assert.rejects(jsm.consumers.add(`KV_${env.naming.secretsBucket}`, { filter_subject: '>' }), /Permissions Violation/);
  });

  it("lets a host agent read the gateways' data-plane verify key but never write one of its own", async () => {
    const gateway = await as(serviceIdentity('gateway'));
    const published = await gateway.jetstream().views.kv(env.naming.publicKeysBucket, { history: 1 });
    await published.put(DATA_PLANE_VERIFY_KEY_ENTRY, 'gateway-key');
    const a = await as(hostIdentity('host-a'));
    const keys = await a.jetstream().views.kv(env.naming.publicKeysBucket, { bindOnly: true });
    assert.equal((await keys.get(DATA_PLANE_VERIFY_KEY_ENTRY))?.string(), 'gateway-key');
    // A host that could write it would decide which tokens every agent accepts.
    await assert.rejects(keys.put(DATA_PLANE_VERIFY_KEY_ENTRY, 'forged'), /Permissions Violation|timeout/i);
    assert.equal((await published.get(DATA_PLANE_VERIFY_KEY_ENTRY))?.string(), 'gateway-key');
  });

  it('keeps the secrets bucket to the gateway: no other service reads it', async () => {
    const gateway = await as(serviceIdentity('gateway'));
    const fromGateway = await (await gateway.jetstream().views.kv(env.naming.secretsBucket, { bindOnly: true })).get('envd-access-token');
    assert.equal(fromGateway?.string(), 'k'.repeat(32));
    for (const service of ['auth', 'sandbox-scheduler', 'snapshot-catalog', 'reaper', 'admin']) {
      const nc = await as(serviceIdentity(service));
      const kv = await nc.jetstream().views.kv(env.naming.secretsBucket, { bindOnly: true });
      await assert.rejects(kv.get('envd-access-token'), /Permissions Violation/, `${service} read the secrets bucket`);
    }
  });

  it("refuses the gateway's direct publish of host commands; only the scheduler, the catalog and the reaper reach hosts", async () => {
    const gateway = await as(serviceIdentity('gateway'));
    for (const op of [HostOp.Create, HostOp.Destroy, HostOp.Metrics, HostOp.List]) await refusedPublish(gateway, env.naming.hostSubject('host-a', op));
    await refusedSubscribe(gateway, env.naming.hostWildcard('host-a'));
    for (const service of ['auth', 'admin']) await refusedPublish(await as(serviceIdentity(service)), env.naming.hostSubject('host-a', HostOp.Destroy));
    // The catalog freezes templates, the reaper lists and destroys: nothing else.
    await refusedPublish(await as(serviceIdentity('snapshot-catalog')), env.naming.hostSubject('host-a', HostOp.Destroy));
    await refusedPublish(await as(serviceIdentity('reaper')), env.naming.hostSubject('host-a', HostOp.Create));
  });

  it('keeps replies private: one identity cannot subscribe to another identity’s inbox', async () => {
    const reaper = await as(serviceIdentity('reaper'));
    await refusedSubscribe(reaper, '_INBOX.>');
    await refusedSubscribe(reaper, `_INBOX.${env.namespace}.s.gateway.>`);
    const gateway = await as(serviceIdentity('gateway'));
    await refusedSubscribe(gateway, env.naming.commandSubject('auth', '*'));
  });

  it('lets only the auth service announce API key invalidations, and only gateways hear them', async () => {
    const subject = env.naming.apiKeyInvalidations;
    const gateway = await as(serviceIdentity('gateway'));
    const heard = new Promise<string>((resolve) => {
      gateway.subscribe(subject, { callback: (err, msg) => resolve(err ? err.message : new TextDecoder().decode(msg.data)) });
    });
    await gateway.flush();
    const auth = await as(serviceIdentity('auth'));
    auth.publish(subject, encoder.encode('{"keyIds":["key_x"]}'));
    await auth.flush();
    assert.equal(await within(heard, 5000, 'the invalidation at the gateway'), '{"keyIds":["key_x"]}');
    // Anyone else could make gateways drop verdicts (or, subscribed, learn which keys die).
    for (const service of ['gateway', 'sandbox-scheduler', 'reaper', 'snapshot-catalog', 'projector', 'admin']) await refusedPublish(await as(serviceIdentity(service)), subject);
    await refusedPublish(await as(hostIdentity('host-a')), subject);
    await refusedSubscribe(await as(hostIdentity('host-a')), subject);
    await refusedSubscribe(await as(serviceIdentity('reaper')), subject);
  });
});
