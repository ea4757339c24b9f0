import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { loadConfig } from '@wrenn/config';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import jwt from 'jsonwebtoken';
import type { IncomingHttpHeaders } from 'node:http';
import { DataSource } from 'typeorm';
import type { Caller } from './caller';
import { AuthenticatedRequest, Public, UserAuth } from './access.decorators';
import { AccessGuard } from './access.guard';
import { ApiKeyAuthenticator } from './api-key.authenticator';
import type { RequestRateLimiter } from './request-rate.limiter';
import { JwtStrategy } from './jwt.strategy';

const SECRET = 'unit-test-secret-unit-test-secret';
const KEY_CALLER: Caller = { teamId: 'team_a', actor: { kind: 'api_key', id: 'key_a' } };

/** Stands in for the auth service: one known key. */
class FakeKeys {
  seen: IncomingHttpHeaders[] = [];
  async authenticate(headers: IncomingHttpHeaders): Promise<Caller> {
    this.seen.push(headers);
    if (headers['x-api-key'] === 'wrn_good') return KEY_CALLER;
    throw new WrennError(ErrorCode.Unauthorized, 'no');
  }
}

class Routes {
  open() {}
  user() {}
  keyed() {}
}
Public()(Routes.prototype, 'open', Object.getOwnPropertyDescriptor(Routes.prototype, 'open')!);
UserAuth()(Routes.prototype, 'user', Object.getOwnPropertyDescriptor(Routes.prototype, 'user')!);

@UserAuth()
class UserRoutes {
  any() {}
}

function setup() {
  // Registers the 'jwt' strategy with passport; a configured key means no database is read.
  new JwtStrategy({} as DataSource, { ...loadConfig({}), auth: { ...loadConfig({}).auth, jwtSecret: SECRET } });
  const keys = new FakeKeys();
  const guard = new AccessGuard(new Reflector(), keys as unknown as ApiKeyAuthenticator, { hit: async () => undefined } as unknown as RequestRateLimiter);
  const run = async (cls: new () => object, method: string, headers: IncomingHttpHeaders = {}) => {
    const req = { headers, method: 'GET', url: '/' } as AuthenticatedRequest & { headers: IncomingHttpHeaders };
    const handler = (cls.prototype as Record<string, () => void>)[method];
    const ok = await guard.canActivate(new ExecutionContextHost([req, {}, () => undefined], cls as never, handler));
    return { ok, caller: req.caller };
  };
  return { keys, run };
}

const token = (claims: object, options: jwt.SignOptions = {}) =>
  jwt.sign(claims, SECRET, { algorithm: 'HS256', issuer: 'wrenn', audience: 'wrenn-api', subject: 'usr_1', expiresIn: 60, ...options });
const unauthorized = (error: unknown) => error instanceof WrennError && error.code === ErrorCode.Unauthorized;

describe(AccessGuard.name, () => {
  it('denies a route without a marking unless an API key is valid (default-deny)', async () => {
    const { keys, run } = setup();
    await assert.rejects(run(Routes, 'keyed'), unauthorized);
    await assert.rejects(run(Routes, 'keyed', { 'x-api-key': 'wrn_bad' }), unauthorized);
    assert.deepEqual(await run(Routes, 'keyed', { 'x-api-key': 'wrn_good' }), { ok: true, caller: KEY_CALLER });
    assert.equal(keys.seen.length, 3);
  });

  it('lets public routes through without asking for credentials', async () => {
    const { keys, run } = setup();
    assert.deepEqual(await run(Routes, 'open'), { ok: true, caller: undefined });
    assert.equal(keys.seen.length, 0);
  });

  it('takes a bearer token on user routes (method or class marking) and makes its user the caller', async () => {
    const { keys, run } = setup();
    const headers = { authorization: `Bearer ${token({ team: 'team_b' })}` };
    const expected = { ok: true, caller: { teamId: 'team_b', actor: { kind: 'user', id: 'usr_1' } } };
    assert.deepEqual(await run(Routes, 'user', headers), expected);
    assert.deepEqual(await run(UserRoutes, 'any', headers), expected);
    assert.equal(keys.seen.length, 0, 'an API key is not consulted for user routes');
  });

  it('refuses user routes with an API key, an expired token or a token without a team', async () => {
    const { run } = setup();
    await assert.rejects(run(Routes, 'user', { 'x-api-key': 'wrn_good' }), unauthorized);
    await assert.rejects(run(Routes, 'user', { authorization: `Bearer ${token({ team: 'team_b' }, { expiresIn: -10 })}` }), unauthorized);
    await assert.rejects(run(Routes, 'user', { authorization: `Bearer ${token({})}` }), unauthorized);
  });
});
