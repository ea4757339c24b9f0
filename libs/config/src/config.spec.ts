import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, teamQuotaLimits, variable } from './index';

describe('loadConfig', () => {
  it('refuses a JWT secret shorter than 32 bytes, naming the variable and the minimum', () => {
    assert.throws(() => loadConfig({ WRENN_JWT_SECRET: 'x'.repeat(31) }), /WRENN_JWT_SECRET is 31 bytes; it must be at least 32 bytes/);
    assert.equal(loadConfig({ WRENN_JWT_SECRET: 'x'.repeat(32) }).auth.jwtSecret, 'x'.repeat(32));
    assert.equal(loadConfig({}).auth.jwtSecret, undefined, 'unset: generated and kept in PostgreSQL');
  });

  it('takes quota defaults from the environment and per-team overrides over them', () => {
    const config = loadConfig({ WRENN_QUOTA_RUNNING_SANDBOXES: '7', WRENN_QUOTA_OVERRIDES: '{"team_big":{"runningSandboxes":50,"vcpus":200}}' });
    assert.equal(teamQuotaLimits(config.quotas, 'team_small').runningSandboxes, 7);
    assert.deepEqual([teamQuotaLimits(config.quotas, 'team_big').runningSandboxes, teamQuotaLimits(config.quotas, 'team_big').vcpus], [50, 200]);
    assert.throws(() => loadConfig({ WRENN_QUOTA_OVERRIDES: '{"team_x":{"runing":1}}' }), /WRENN_QUOTA_OVERRIDES: team_x.runing/);
  });

  it('trusts no proxy unless told', () => {
    assert.equal(loadConfig({}).edge.trustProxy, '');
  });

  it('refuses a bad value at start, naming every bad variable and what it expects', () => {
    assert.throws(() => loadConfig({ PORT: '80a' }), { message: 'PORT must be a non-negative integer, got "80a"' });
    try {
      loadConfig({ PORT: '-1', DATABASE_URL: 'nope', WRENN_NATS_INSECURE: 'yes', WRENN_REAPER_INTERVAL_MS: '0' });
      assert.fail('a bad configuration started');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'WRENN_NATS_INSECURE must be 1, true, 0 or false, got "yes"',
        'DATABASE_URL must be a postgres:// URL, got "nope"',
        'PORT must be a non-negative integer, got "-1"',
        'WRENN_REAPER_INTERVAL_MS must be a positive integer, got "0"',
      ]);
    }
    assert.throws(() => loadConfig({ WRENN_DATABASE_URL_AUTH: 'not a url' }), /WRENN_DATABASE_URL_AUTH must be a postgres:\/\/ URL/);
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://postgres@/wrenn' }).databaseUrl, 'postgres://postgres@/wrenn', 'the local socket form pg takes');
  });

  it('keeps every default, and takes an empty value as unset', () => {
    const config = loadConfig({ PORT: '', WRENN_STATE_DIR: '/srv/w' });
    assert.equal(config.port, 8080);
    assert.equal(config.host.imageDir, '/srv/w/images');
    assert.equal(config.host.envdProxyHost, '127.0.0.1');
    assert.deepEqual([config.reaper.intervalMs, config.activityThrottleMs, config.host.warmPoolSize, config.host.sandboxIdBase], [5000, 1000, 2, undefined]);
    assert.equal(loadConfig({ WRENN_DATA_PLANE_HOST: '10.0.0.5' }).host.envdProxyHost, '10.0.0.5', 'the envd proxy listens where the data plane does unless told');
    assert.deepEqual(loadConfig({ WRENN_EGRESS_ALLOW: ' 10.1.0.0/16, mirror.example ,' }).host.egressAllow, ['10.1.0.0/16', 'mirror.example']);
  });

  it('reads one variable alone, validated the same way', () => {
    assert.equal(variable('WRENN_STREAM_REPLICAS', {}), 1);
    assert.equal(variable('WRENN_STREAM_REPLICAS', { WRENN_STREAM_REPLICAS: '3' }), 3);
    assert.throws(() => variable('LOG_LEVEL', { LOG_LEVEL: 'loud' }), /LOG_LEVEL must be fatal, error, warn, info, debug, trace or silent, got "loud"/);
  });
});
