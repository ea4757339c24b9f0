import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { EventStore, headersToRecord, StoredEvent } from '@wrenn/eventlog';
import { within } from '@wrenn/testing';
import { Identity, Platform, startPlatform } from './platform';

const SECRET = randomBytes(32).toString('base64url');

/** Opens the exec WebSocket and reports how the upgrade was answered. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', (error) => reject(error));
  });
}

function token(claims: object, secret = SECRET, options: jwt.SignOptions = {}): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', issuer: 'wrenn', audience: 'wrenn-api', ...options });
}

describe('identity', { timeout: 600_000 }, () => {
  let p: Platform;
  let alice: Identity;
  let sandboxId = '';

  before(async () => {
    // Debug logging, so the secret scan below reads everything the platform could log.
    p = await startPlatform('identity', { LOG_LEVEL: 'debug', E2E_LOG_LEVEL: 'debug', WRENN_JWT_SECRET: SECRET, WRENN_LOGIN_MAX_PER_EMAIL: '3' });
  });

  after(async () => {
    if (sandboxId) await p.api('DELETE', `/v1/sandboxes/${sandboxId}`, undefined, { auth: { apiKey: alice.apiKey } }).catch(() => undefined);
    await p?.stop();
  });

  it('signs up, logs in, creates an API key and runs a sandbox with it', async () => {
    const email = `Alice-${randomBytes(3).toString('hex')}@Example.test`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const signup = await p.api('POST', '/v1/auth/signup', { email, password }, { auth: 'none' });
    assert.equal(signup.status, 202, JSON.stringify(signup.body));
    assert.equal(signup.body.email, email.toLowerCase());
    assert.equal(signup.body.user_id, undefined, 'signup names no ids: it answers a taken email the same way');

    const login = await p.api('POST', '/v1/auth/login', { email: email.toUpperCase(), password }, { auth: 'none' });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.token_type, 'Bearer');
    assert.equal(login.body.expires_in, 3600);
    const me = await p.api('GET', '/v1/me', undefined, { auth: { token: login.body.token } });
    assert.equal(me.status, 200);
    assert.match(login.body.user_id, /^usr_/);
    assert.match(login.body.team_id, /^team_/);
    assert.equal(me.body.user_id, login.body.user_id);
    assert.deepEqual(me.body.teams.map((t: { team_id: string; role: string }) => [t.team_id, t.role]), [[login.body.team_id, 'owner']]);

    const key = await p.api('POST', '/v1/api-keys', { name: 'ci' }, { auth: { token: login.body.token } });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    assert.match(key.body.key, /^wrn_[A-Za-z0-9_-]{43}$/);
    assert.equal(key.body.prefix, key.body.key.slice(0, 12));
    const listed = await p.api('GET', '/v1/api-keys', undefined, { auth: { token: login.body.token } });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.api_keys.map((k: { id: string; prefix: string }) => [k.id, k.prefix]), [[key.body.id, key.body.prefix]]);
    assert.ok(!JSON.stringify(listed.body).includes(key.body.key), 'the key is shown once, never listed');
    // Only the SHA-256 is stored.
    const [row] = await p.sql('SELECT key_hash FROM api_keys WHERE id = $1', [key.body.id]);
    assert.match(row.key_hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(await p.sql('SELECT * FROM api_keys')).includes(key.body.key));
    assert.ok(!JSON.stringify(await p.sql('SELECT * FROM users')).includes(password));

    alice = { email, password, userId: login.body.user_id, teamId: login.body.team_id, token: login.body.token, apiKey: key.body.key, keyId: key.body.id };
    const asAlice = { auth: { apiKey: alice.apiKey } };
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 }, asAlice);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    sandboxId = created.body.id;
    assert.equal((await p.api('GET', `/v1/sandboxes/${sandboxId}`, undefined, asAlice)).body.state, 'running');
    const exec = await p.api('POST', `/v1/sandboxes/${sandboxId}/exec`, { cmd: 'echo', args: ['as alice'] }, asAlice);
    assert.equal(exec.body.stdout, 'as alice\n');
    const [dbRow] = await p.sql('SELECT team_id FROM sandboxes WHERE id = $1', [sandboxId]);
    assert.equal(dbRow.team_id, alice.teamId);
  });

  it("answers another team's sandbox with 404, on every route", async () => {
    const mallory = await p.signUp('mallory');
    const as = { auth: { apiKey: mallory.apiKey } };
    const base = `/v1/sandboxes/${sandboxId}`;
    const calls: Array<[string, string, unknown?]> = [
      ['GET', base],
      ['GET', `${base}/metrics`],
      ['POST', `${base}/exec`, { cmd: 'true' }],
      ['GET', `${base}/files?path=/etc/hostname`],
      ['GET', `${base}/files/list?path=/`],
      ['DELETE', base],
    ];
    for (const [method, path, body] of calls) {
      const res = await p.api(method, path, body, as);
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'sandbox_not_found');
    }
    const put = await fetch(`${p.url}${base}/files?path=/tmp/x`, { method: 'PUT', body: 'x', headers: p.authHeaders(as.auth) });
    assert.equal(put.status, 404);
    assert.deepEqual((await p.api('GET', '/v1/sandboxes', undefined, as)).body.sandboxes, []);
    // The WebSocket is scoped the same way: the stream reports not-found, nothing runs.
    const ws = new WebSocket(`${p.url.replace('http', 'ws')}${base}/exec/stream`, { headers: p.authHeaders(as.auth) });
    const first = await within(
      new Promise<{ type: string; code?: string }>((resolve, reject) => {
        ws.on('open', () => ws.send(JSON.stringify({ type: 'start', cmd: 'touch', args: ['/tmp/mallory-was-here'] })));
        ws.on('message', (raw) => resolve(JSON.parse(raw.toString())));
        ws.on('error', reject);
      }),
      10_000,
      "the exec stream's first frame",
    ).finally(() => ws.terminate());
    assert.deepEqual([first.type, first.code], ['error', 'sandbox_not_found']);
    // Still alice's, still running, untouched.
    assert.equal((await p.api('GET', base, undefined, { auth: { apiKey: alice.apiKey } })).body.state, 'running');
    const probe = await p.api('POST', `${base}/exec`, { cmd: 'sh', args: ['-c', 'test -e /tmp/mallory-was-here && echo yes || echo no'] }, { auth: { apiKey: alice.apiKey } });
    assert.equal(probe.body.stdout, 'no\n');
    // Nor can mallory revoke alice's key.
    const revoke = await p.api('DELETE', `/v1/api-keys/${alice.keyId}`, undefined, { auth: { token: mallory.token } });
    assert.equal(revoke.status, 404);
  });

  it('refuses calls without a key, with an unknown key, and with a key right after it is deleted', async () => {
    for (const auth of ['none' as const, { apiKey: 'wrn_' + 'A'.repeat(43) }, { apiKey: 'not-a-key' }, { token: alice.token }]) {
      const res = await p.api('GET', '/v1/sandboxes', undefined, { auth });
      assert.equal(res.status, 401, JSON.stringify(auth));
      assert.equal(res.body.error.code, 'unauthorized');
    }
    const wsUrl = `${p.url.replace('http', 'ws')}/v1/sandboxes/${sandboxId}/exec/stream`;
    const noKey = await upgrade(wsUrl, {});
    assert.equal(noKey.status, 401);
    assert.equal(JSON.parse(noKey.body).error.code, 'unauthorized');

    const spare = await p.api('POST', '/v1/api-keys', { name: 'spare' }, { auth: { token: alice.token } });
    const asSpare = { auth: { apiKey: spare.body.key } };
    assert.equal((await p.api('GET', `/v1/sandboxes/${sandboxId}`, undefined, asSpare)).status, 200);
    const deleted = await p.api('DELETE', `/v1/api-keys/${spare.body.id}`, undefined, { auth: { token: alice.token } });
    assert.deepEqual([deleted.status, deleted.body], [200, { id: spare.body.id, revoked: true }]);
    const next = await p.api('GET', `/v1/sandboxes/${sandboxId}`, undefined, asSpare);
    assert.equal(next.status, 401);
    assert.equal(next.body.error.code, 'unauthorized');
    assert.equal((await upgrade(wsUrl, { 'x-api-key': spare.body.key })).status, 401);
    const again = await p.api('DELETE', `/v1/api-keys/${spare.body.id}`, undefined, { auth: { token: alice.token } });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'not_found');
    // The other key of the team is unaffected.
    assert.equal((await p.api('GET', `/v1/sandboxes/${sandboxId}`, undefined, { auth: { apiKey: alice.apiKey } })).status, 200);
  });

  it("destroys the sandbox with the team's key", async () => {
    const res = await p.deleteSandbox(sandboxId, { auth: { apiKey: alice.apiKey } });
    assert.equal(res.accepted.status, 200, JSON.stringify(res.accepted.body));
    assert.equal(res.state, 'deleted');
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const { events } = await store.load('sandbox', sandboxId);
    // Every step is recorded as done by alice's key, for alice's team.
    assert.ok(events.every((e) => e.teamId === alice.teamId && e.actor.kind === 'api_key' && e.actor.id === alice.keyId));
    sandboxId = '';
  });

  it('refuses tampered, expired, foreign and unsigned tokens', async () => {
    const claims = { team: alice.teamId };
    // A token made the way the platform makes them works: the refusals below are about the flaw.
    assert.equal((await p.api('GET', '/v1/me', undefined, { auth: { token: token(claims, SECRET, { subject: alice.userId, expiresIn: 60 }) } })).status, 200);

    const [header, payload, signature] = alice.token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), team: 'team_someone_else' })).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const bad: Record<string, string> = {
      tampered: `${header}.${forged}.${signature}`,
      expired: token({ ...claims, iat: now - 7200, exp: now - 3600 }, SECRET, { subject: alice.userId }),
      'foreign key': token(claims, randomBytes(32).toString('base64url'), { subject: alice.userId, expiresIn: 60 }),
      'wrong audience': token(claims, SECRET, { subject: alice.userId, expiresIn: 60, audience: 'someone-else' }),
      unsigned: `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`,
      garbage: 'not.a.token',
      'api key as token': alice.apiKey,
    };
    for (const [what, t] of Object.entries(bad)) {
      for (const path of ['/v1/me', '/v1/api-keys']) {
        const res = await p.api('GET', path, undefined, { auth: { token: t } });
        assert.equal(res.status, 401, `${what} on ${path}`);
        assert.equal(res.body.error.code, 'unauthorized');
      }
    }
    assert.equal((await p.api('GET', '/v1/me', undefined, { auth: 'none' })).status, 401);
  });

  it('takes an email once, answering a taken one exactly like a new one (nothing written), and refuses wrong passwords', async () => {
    const before = await p.sql('SELECT (SELECT count(*) FROM users)::int AS u, (SELECT count(*) FROM teams)::int AS t');
    const dup = await p.api('POST', '/v1/auth/signup', { email: alice.email.toUpperCase(), password: 'another password' }, { auth: 'none' });
    const fresh = await p.api('POST', '/v1/auth/signup', { email: `fresh-${randomBytes(3).toString('hex')}@example.test`, password: 'another password' }, { auth: 'none' });
    assert.equal(dup.status, 202);
    assert.deepEqual(Object.keys(dup.body).sort(), Object.keys(fresh.body).sort());
    assert.equal(dup.body.message, fresh.body.message);
    const after = await p.sql('SELECT (SELECT count(*) FROM users)::int AS u, (SELECT count(*) FROM teams)::int AS t');
    assert.deepEqual(after[0], { u: before[0].u + 1, t: before[0].t + 1 }, 'only the fresh email made a user and a team');
    const login = await p.api('POST', '/v1/auth/login', { email: alice.email, password: 'another password' }, { auth: 'none' });
    assert.equal(login.status, 401, 'the taken account kept its password');
    const wrong = await p.api('POST', '/v1/auth/login', { email: alice.email, password: 'wrong password' }, { auth: 'none' });
    assert.equal(wrong.status, 401);
    const nobody = await p.api('POST', '/v1/auth/login', { email: 'nobody@example.test', password: 'whatever' }, { auth: 'none' });
    assert.equal(nobody.status, 401);
    assert.equal(nobody.body.error.message, wrong.body.error.message, 'unknown emails and wrong passwords look alike');
  });

  it('rate-limits login attempts per account and address with 429 and Retry-After, shared through PostgreSQL', async () => {
    const victim = await p.signUp('victim');
    const attempts = [];
    for (let i = 0; i < 4; i++) attempts.push(await p.api('POST', '/v1/auth/login', { email: victim.email, password: `guess-${i}` }, { auth: 'none' }));
    assert.deepEqual(attempts.map((a) => a.status), [401, 401, 401, 429]);
    const limited = attempts[3];
    assert.equal(limited.body.error.code, 'rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 300, `Retry-After ${retryAfter}`);
    // Even the right password waits out the window.
    const right = await p.api('POST', '/v1/auth/login', { email: victim.email, password: victim.password }, { auth: 'none' });
    assert.equal(right.status, 429);
    const [row] = await p.sql('SELECT current FROM rate_windows WHERE bucket LIKE $1', [`login:acct-addr:${victim.email.toLowerCase()}|%`]);
    assert.equal(row.current, 5);
    // Other accounts are not affected.
    assert.equal((await p.api('POST', '/v1/auth/login', { email: alice.email, password: alice.password }, { auth: 'none' })).status, 200);
  });

  it('records identity changes on the log, and never a password, hash or raw key (log output included)', async () => {
    const store = await EventStore.create(p.env.nc, p.env.naming);
    const events: StoredEvent[] = [];
    let raw = '';
    await store.readRaw({}, (msg) => {
      raw += JSON.stringify(headersToRecord(msg.headers)) + Buffer.from(msg.data).toString('utf8') + '\n';
    });
    await store.read({}, (e) => {
      events.push(e);
    });
    const ofTeam = events.filter((e) => e.teamId === alice.teamId).map((e) => e.type);
    for (const type of ['user.signed_up', 'team.created', 'team.member_added', 'api_key.created', 'api_key.revoked']) {
      assert.ok(ofTeam.includes(type), `${type} on the log: ${ofTeam.join(', ')}`);
    }
    const signedUp = events.find((e) => e.type === 'user.signed_up' && e.aggregateId === alice.userId)!;
    assert.equal(signedUp.subject, p.env.naming.eventSubject('user', alice.userId));
    const created = events.find((e) => e.type === 'api_key.created' && (e.data as { keyId: string }).keyId === alice.keyId)!;
    assert.equal(created.subject, p.env.naming.eventSubject('team', alice.teamId));
    assert.deepEqual(created.actor, { kind: 'user', id: alice.userId });
    assert.equal(await p.sql('SELECT count(*)::int AS n FROM identity_outbox').then((r) => r[0].n), 0, 'the outbox is drained');

    const hashes = (await p.sql('SELECT password_hash AS h FROM users UNION ALL SELECT key_hash FROM api_keys')).map((r) => r.h as string);
    const output = p.output();
    assert.ok(output.length > 1000, 'debug output was captured');
    for (const who of [p.owner, alice]) {
      for (const secret of [who.password, who.apiKey, who.token, ...hashes]) {
        assert.ok(!raw.includes(secret), 'no secret on the event log');
        assert.ok(!output.includes(secret), 'no secret in the log output');
      }
    }
  });
});
