import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, teamQuotaLimits } from './index';

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
});
