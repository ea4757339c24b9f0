import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ACCESS_TOKEN_ENV, envdConfig, envdPath, takeAccessTokenFromEnv } from './envd-config';

describe('envd config', () => {
  it("listens on E2B's port on every address unless told", () => {
    assert.deepEqual(envdConfig({}), { port: 49983, host: '0.0.0.0' });
    assert.deepEqual(envdConfig({ ENVD_PORT: '0', ENVD_HOST: '127.0.0.1' }), { port: 0, host: '127.0.0.1' });
  });

  it('refuses a port that is not one, naming the variable', () => {
    for (const bad of ['http', '-1', '70000', '1.5']) {
      assert.throws(() => envdConfig({ ENVD_PORT: bad }), new RegExp(`ENVD_PORT must be a port number \\(0-65535\\), got "${bad.replace('.', '\\.')}"`));
    }
  });

  it('takes the start-time token once and leaves none behind for children', () => {
    const env: NodeJS.ProcessEnv = { [ACCESS_TOKEN_ENV]: 'tok', PATH: '/bin' };
    assert.equal(takeAccessTokenFromEnv(env), 'tok');
    assert.equal(env[ACCESS_TOKEN_ENV], undefined);
    assert.equal(takeAccessTokenFromEnv(env), undefined);
    assert.equal(envdPath(env), '/bin');
    assert.equal(envdPath({}), undefined);
  });
});
