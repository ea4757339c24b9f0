import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientProxy, ClientProxyFactory } from '@nestjs/microservices';
import {
  AuthCommand,
  CreatedApiKey,
  ErrorCode,
  JWT_AUDIENCE,
  JWT_ISSUER,
  LoginResult,
  ServiceName,
  SignupResult,
  VerifiedApiKey,
  WrennError,
} from '@wrenn/contracts';
import { loadConfig } from '@wrenn/config';
import { serviceIdentity } from '@wrenn/nats-auth';
import { createDataSource } from '@wrenn/db';
import { EventStore, StoredEvent } from '@wrenn/eventlog';
import { natsClientOptions, sendCommand } from '@wrenn/messaging';
import { RunningService } from '@wrenn/service-kit';
import { createTestEnv, eventually, TestEnv } from '@wrenn/testing';
import jwt from 'jsonwebtoken';
import { DataSource } from 'typeorm';

/** The auth service booted for real on its own NATS namespace and database, driven over NATS. */
describe('auth service', { timeout: 120_000 }, () => {
  let env: TestEnv;
  let service: RunningService;
  let client: ClientProxy;
  let ds: DataSource;
  let store: EventStore;
  const saved = { ...process.env };

  const send = <T>(command: string, payload: unknown) =>
    sendCommand<T>(client, env.naming.commandSubject(ServiceName.Auth, command), payload, 20_000, 'auth');
  const rejects = async (promise: Promise<unknown>, code: string) => {
    await assert.rejects(promise, (error: unknown) => error instanceof WrennError && error.code === code);
  };
  /** Signs up (202, no ids) and logs in for the ids, as a client does. */
  async function account(email: string, password: string, correlationId: string): Promise<{ userId: string; teamId: string; email: string }> {
    const signed = await send<SignupResult>(AuthCommand.Signup, { email, password, correlationId, address: '10.1.1.1' });
    const login = await send<LoginResult>(AuthCommand.Login, { email, password, address: '10.1.1.1' });
    return { userId: login.userId, teamId: login.teamId, email: signed.email };
  }
  async function events(): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    await store.read({}, (e) => {
      out.push(e);
    });
    return out;
  }

  before(async () => {
    env = await createTestEnv('auth');
    Object.assign(process.env, env.env);
    delete process.env.WRENN_JWT_SECRET;
    process.env.WRENN_LOGIN_MAX_PER_ADDRESS = '8';
    process.env.WRENN_SIGNUP_MAX_PER_ADDRESS = '20';
    process.env.WRENN_SIGNUP_MAX_PER_EMAIL = '5';
    // Subjects are resolved when the module loads, so it loads after WRENN_NS is set.
    const { bootstrapAuth } = await import('./bootstrap');
    service = await bootstrapAuth();
    client = ClientProxyFactory.create(natsClientOptions(loadConfig(), serviceIdentity('gateway'), 'auth-test'));
    await client.connect();
    ds = createDataSource(env.databaseUrl, 2);
    await ds.initialize();
    store = await EventStore.create(env.nc, env.naming);
  });

  after(async () => {
    await client?.close();
    await service?.close();
    await ds?.destroy();
    await env?.cleanup();
    process.env = saved;
  });

  it('signs tokens with a generated key kept in PostgreSQL, the same for every login', async () => {
    const signup = await account('Kim@Example.test', 'kims password', 'c1');
    assert.equal(signup.email, 'kim@example.test');
    const a = await send<LoginResult>(AuthCommand.Login, { email: 'kim@example.test', password: 'kims password', address: '10.0.0.1' });
    const b = await send<LoginResult>(AuthCommand.Login, { email: 'KIM@example.test', password: 'kims password', address: '10.0.0.1' });
    const [row] = await ds.query(`SELECT value FROM platform_secrets WHERE name = 'jwt_hs256'`);
    assert.ok(row.value.length >= 43, 'a 256-bit key');
    for (const login of [a, b]) {
      const claims = jwt.verify(login.token, row.value, { algorithms: ['HS256'], issuer: JWT_ISSUER, audience: JWT_AUDIENCE }) as jwt.JwtPayload;
      assert.equal(claims.sub, signup.userId);
      assert.equal(claims.team, signup.teamId);
      assert.equal(claims.exp! - claims.iat!, 3600);
    }
    await rejects(send(AuthCommand.Login, { email: 'kim@example.test', password: 'not it', address: '10.0.0.1' }), ErrorCode.Unauthorized);
  });

  it('limits login attempts per client address across emails, with the time to wait', async () => {
    const tries = [];
    for (let i = 0; i < 9; i++) {
      tries.push(await send(AuthCommand.Login, { email: `nobody${i}@example.test`, password: 'x', address: '10.9.9.9' }).catch((e: WrennError) => e));
    }
    assert.deepEqual(tries.map((e) => (e as WrennError).code), [...Array(8).fill(ErrorCode.Unauthorized), ErrorCode.RateLimited]);
    const retry = (tries[8] as WrennError).details?.retry_after_sec as number;
    assert.ok(retry >= 1 && retry <= 300, `retry after ${retry}`);
    // Another address is not affected, nor is the limit kept in this process: it is in PostgreSQL.
    await rejects(send(AuthCommand.Login, { email: 'nobody9@example.test', password: 'x', address: '10.9.9.10' }), ErrorCode.Unauthorized);
    const [row] = await ds.query(`SELECT current FROM rate_windows WHERE bucket = 'login:addr:10.9.9.9'`);
    assert.equal(row.current, 9);
  });

  it('lets exactly one of two concurrent signups with one email through, answering both alike and writing nothing for the other', async () => {
    const results = await Promise.all(
      ['Twin@example.test', 'twin@example.test'].map((email, i) => send<SignupResult>(AuthCommand.Signup, { email, password: `password ${i}`, correlationId: `twin${i}`, address: '10.2.2.2' })),
    );
    assert.deepEqual(results[0], results[1], 'the taken email gets the very answer the new one does');
    const [counts] = await ds.query(`SELECT (SELECT count(*) FROM users WHERE email = 'twin@example.test')::int AS users,
      (SELECT count(*) FROM teams)::int AS teams, (SELECT count(*) FROM memberships)::int AS memberships`);
    assert.deepEqual(counts, { users: 1, teams: 2, memberships: 2 });
    const signedUp = (await events()).filter((e) => e.type === 'user.signed_up' && (e.data as { email: string }).email === 'twin@example.test');
    assert.equal(signedUp.length, 1);
  });

  it('verifies a key until it is revoked, and only for its own team', async () => {
    const owner = await account('keys@example.test', 'a long password', 'c2');
    const key = await send<CreatedApiKey>(AuthCommand.CreateApiKey, { userId: owner.userId, teamId: owner.teamId, name: 'k', correlationId: 'c3' });
    assert.deepEqual(await send<VerifiedApiKey>(AuthCommand.VerifyApiKey, { key: key.key }), { keyId: key.id, teamId: owner.teamId, scope: 'full' });
    const other = await account('other@example.test', 'a long password', 'c4');
    await rejects(send(AuthCommand.RevokeApiKey, { userId: other.userId, teamId: other.teamId, keyId: key.id, correlationId: 'c5' }), ErrorCode.NotFound);
    await rejects(send(AuthCommand.CreateApiKey, { userId: other.userId, teamId: owner.teamId, name: 'sneaky', correlationId: 'c6' }), ErrorCode.Unauthorized);
    // Gateways cache verdicts: the revocation is announced to them before it is answered.
    const announced: string[] = [];
    const listening = env.nc.subscribe(env.naming.apiKeyInvalidations, { callback: (_err, msg) => announced.push(new TextDecoder().decode(msg.data)) });
    await env.nc.flush();
    await send(AuthCommand.RevokeApiKey, { userId: owner.userId, teamId: owner.teamId, keyId: key.id, correlationId: 'c7' });
    await env.nc.flush();
    listening.unsubscribe();
    assert.deepEqual(announced.map((m) => JSON.parse(m)), [{ keyIds: [key.id] }]);
    await rejects(send(AuthCommand.VerifyApiKey, { key: key.key }), ErrorCode.Unauthorized);
    const ofTeam = (await events()).filter((e) => e.subject === env.naming.eventSubject('team', owner.teamId)).map((e) => [e.type, e.correlationId]);
    assert.deepEqual(ofTeam, [
      ['team.created', 'c2'],
      ['team.member_added', 'c2'],
      ['api_key.created', 'c3'],
      ['api_key.revoked', 'c7'],
    ]);
  });

  it('throttles a burst of 1,000 signups from one address after its budget, hashing only the accepted ones', async (t) => {
    // What one scrypt hash costs this process, in CPU time (the hash runs on libuv's threads).
    const { hashPassword } = await import('./crypto/password-hasher');
    const one = process.cpuUsage();
    await hashPassword('a long password');
    const hashCpuMs = (process.cpuUsage(one).user + process.cpuUsage(one).system) / 1000;
    const users = async () => (await ds.query(`SELECT count(*)::int AS n FROM users WHERE email LIKE 'burst%'`))[0].n as number;
    const cpu = process.cpuUsage();
    const outcomes = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
      send<SignupResult>(AuthCommand.Signup, { email: `burst${i}@example.test`, password: 'a long password', correlationId: `b${i}`, address: '10.66.6.6' }).then(() => 'accepted', (e: WrennError) => e.code),
    ));
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    const accepted = outcomes.filter((o) => o === 'accepted').length;
    assert.equal(accepted, 20, 'the budget of the address, not one more');
    assert.equal(outcomes.filter((o) => o === ErrorCode.RateLimited).length, 980);
    assert.equal(await users(), 20);
    // Unthrottled, the burst would cost 1,000 hashes; refused signups must cost none. The 980
    // refusals together are allowed the price of 100 hashes (NATS, JSON, one upsert each).
    assert.ok(cpuMs < hashCpuMs * (accepted + 100), `the burst took ${Math.round(cpuMs)} ms of CPU; one hash is ${Math.round(hashCpuMs)} ms`);
    t.diagnostic(`1,000 signups: ${accepted} accepted, CPU ${Math.round(cpuMs)} ms in all; one hash ${Math.round(hashCpuMs)} ms`);
    // Another address still signs up.
    await send<SignupResult>(AuthCommand.Signup, { email: 'elsewhere@example.test', password: 'a long password', correlationId: 'e1', address: '10.66.6.7' });
  });

  it('limits signups per email in a sliding window, wherever they come from', async () => {
    const tries = [];
    for (let i = 0; i < 6; i++) {
      tries.push(await send(AuthCommand.Signup, { email: 'popular@example.test', password: 'a long password', correlationId: `p${i}`, address: `10.77.0.${i}` }).then(() => 'accepted', (e: WrennError) => e.code));
    }
    assert.deepEqual(tries, [...Array(5).fill('accepted'), ErrorCode.RateLimited]);
  });

  it('publishes outbox rows a crash left behind, once, even when the relay runs twice', async () => {
    const row = ['evt_01jzzzzzzzzzzzzzzzzzzzzzzz', 'team', 'team_left_behind', 'team.created', '{"teamId":"team_left_behind","name":"x"}', 'system:test', 'team_left_behind', 'c8'];
    const insert = () =>
      ds.query(
        `INSERT INTO identity_outbox (id, aggregate, aggregate_id, type, data, actor, team_id, correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        row,
      );
    await insert();
    // The relay's timer picks it up without any new request.
    await eventually(async () => (await ds.query('SELECT count(*)::int AS n FROM identity_outbox'))[0].n === 0, 10_000, 'the outbox to drain');
    // Published, then the row came back (the delete was lost): the event id deduplicates it.
    await insert();
    await eventually(async () => (await ds.query('SELECT count(*)::int AS n FROM identity_outbox'))[0].n === 0, 10_000, 'the outbox to drain again');
    const published = (await events()).filter((e) => e.id === row[0]);
    assert.equal(published.length, 1);
    assert.equal(published[0].subject, env.naming.eventSubject('team', 'team_left_behind'));
  });
});
