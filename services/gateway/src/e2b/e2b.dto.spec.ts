import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { validationPipe } from '../errors/validation';
import { E2bListQuery, E2bMetricsQuery, E2bNetworkUpdateDto, E2bNewSandboxDto, E2bRunningListQuery } from './e2b.dto';

/**
 * The E2B DTOs through the gateway's own validation pipe: what the `e2b` SDK (2.51.0) sends passes,
 * and the shapes openapi.yaml rules out are a 400 before any mapper sees them.
 */
const pipe = validationPipe();
const valid = (type: 'body' | 'query', metatype: new () => object, value: object) => pipe.transform(value, { type, metatype });
async function refused(type: 'body' | 'query', metatype: new () => object, value: object, field: string): Promise<void> {
  await assert.rejects(valid(type, metatype, value), (e: unknown) => {
    assert.ok(e instanceof WrennError && e.code === ErrorCode.ValidationFailed, String(e));
    assert.ok(e.message.includes(field), e.message);
    return true;
  });
}

describe('E2B request DTOs', () => {
  it('take the list query the SDK sends (query strings, states form-serialised)', async () => {
    const query = await valid('query', E2bListQuery, {
      state: 'running,paused', startedAfter: '2026-01-01T00:00:00.000Z', template: 'base', order: 'asc', limit: '5', nextToken: 'x', metadata: 'user=alice',
    });
    assert.deepEqual({ ...query }, { state: 'running,paused', startedAfter: '2026-01-01T00:00:00.000Z', template: 'base', order: 'asc', limit: 5, nextToken: 'x', metadata: 'user=alice' });
  });

  it('refuse list filters of the wrong shape, and a state on the running-only v1 list', async () => {
    await refused('query', E2bListQuery, { order: 'random' }, 'order');
    await refused('query', E2bListQuery, { startedAfter: 'yesterday' }, 'startedAfter');
    await refused('query', E2bListQuery, { template: ['a', 'b'] }, 'template');
    await refused('query', E2bListQuery, { metadata: 'x'.repeat(1025) }, 'metadata');
    await refused('query', E2bRunningListQuery, { state: 'paused' }, 'state');
  });

  it('take metrics start and end as Unix seconds only', async () => {
    assert.deepEqual({ ...(await valid('query', E2bMetricsQuery, { start: '1767225600', end: '1767229200' })) }, { start: 1767225600, end: 1767229200 });
    await refused('query', E2bMetricsQuery, { start: 'today' }, 'start');
  });

  it('take the network update the SDK sends, and refuse lists that are not arrays', async () => {
    await valid('body', E2bNetworkUpdateDto, { allowOut: ['10.0.0.0/8'], denyOut: ['0.0.0.0/0'], rules: {}, allow_internet_access: false });
    await valid('body', E2bNetworkUpdateDto, {});
    await refused('body', E2bNetworkUpdateDto, { allowOut: '10.0.0.0/8' }, 'allowOut');
    await refused('body', E2bNetworkUpdateDto, { rules: [] }, 'rules');
  });

  it('take the create body the SDK sends, with its network object, and refuse a network that is not one', async () => {
    await valid('body', E2bNewSandboxDto, {
      templateID: 'base', timeout: 300, metadata: { user: 'alice' }, envVars: { A: '1' }, autoPause: true, autoResume: { enabled: true },
      network: { allowOut: ['10.0.0.0/8'], denyOut: ['0.0.0.0/0'], allowPublicTraffic: false }, iam: { tokens: {} },
    });
    await refused('body', E2bNewSandboxDto, { templateID: 'base', network: ['10.0.0.0/8'] }, 'network');
  });
});
