import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WrennError } from '@wrenn/contracts';
import { SandboxView } from '../dtos/sandbox.dto';
import { E2bListQuery, E2bNewSandboxDto } from './e2b.dto';
import { createFromE2b, E2B_DEFAULT_TIMEOUT_SEC, e2bState, listFilterFromE2b, templateFromE2b, toE2bDetail, toE2bListed, toE2bMetric } from './e2b.mapper';

const view: SandboxView = {
  id: 'sb_01jz0000000000000000000000',
  state: 'running',
  template: 'base',
  template_id: null,
  snapshot_ref: null,
  snapshot_size_bytes: null,
  vcpus: 2,
  memory_mb: 512,
  timeout_sec: 60,
  network: { allow_out: [], deny_out: [], allow_internet_access: true },
  host_id: 'host-a',
  failure_reason: null,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:01:00.000Z',
};

function body(fields: Partial<E2bNewSandboxDto>): E2bNewSandboxDto {
  return Object.assign(new E2bNewSandboxDto(), { templateID: 'base', ...fields });
}

function refusedFor(field: string) {
  return (error: unknown) => error instanceof WrennError && error.code === 'validation_failed' && error.details?.field === field;
}

describe('E2B mapper', () => {
  it('maps E2B\'s default template id and its :default tag onto Wrenn\'s base', () => {
    assert.equal(templateFromE2b('base'), 'base');
    assert.equal(templateFromE2b('base:default'), 'base');
    assert.equal(templateFromE2b('my-tpl_v2'), 'my-tpl_v2');
  });

  it('refuses template ids that cannot be Wrenn template names', () => {
    for (const bad of ['Base', '../etc', 'a b', '', 'x'.repeat(64), 'team/alias:v1', 'my-tpl.v2']) assert.throws(() => templateFromE2b(bad), refusedFor('templateID'), bad);
  });

  it('takes the timeout in seconds and defaults to E2B\'s five minutes', () => {
    assert.equal(createFromE2b(body({ timeout: 42 })).timeoutSec, 42);
    assert.equal(createFromE2b(body({})).timeoutSec, E2B_DEFAULT_TIMEOUT_SEC);
    assert.equal(E2B_DEFAULT_TIMEOUT_SEC, 300);
  });

  it('keeps create-time env vars and refuses names a shell cannot hold', () => {
    assert.deepEqual(createFromE2b(body({ envVars: { A_1: 'x y' } })).envVars, { A_1: 'x y' });
    assert.throws(() => createFromE2b(body({ envVars: { 'BAD-NAME': 'x' } })), refusedFor('envVars'));
    assert.throws(() => createFromE2b(body({ envVars: { N: 1 as unknown as string } })), refusedFor('envVars'));
  });

  it("maps E2B's egress options: allTraffic denied is the internet off, allowOut kept", () => {
    assert.deepEqual(createFromE2b(body({ allow_internet_access: false })).network, { allow_out: [], deny_out: [], allow_internet_access: false });
    assert.deepEqual(createFromE2b(body({ network: { allowOut: ['api.example.com', '10.0.0.5'], denyOut: ['0.0.0.0/0', '8.8.8.8'] } })).network, {
      allow_out: ['api.example.com', '10.0.0.5'],
      deny_out: ['8.8.8.8'],
      allow_internet_access: false,
    });
    assert.deepEqual(createFromE2b(body({})).network, { allow_out: [], deny_out: [], allow_internet_access: true });
  });

  it('refuses options Wrenn cannot honour instead of ignoring them', () => {
    assert.throws(() => createFromE2b(body({ network: { rules: { 'api.example.com': [{}] } } })), refusedFor('network.rules'));
    assert.throws(() => createFromE2b(body({ network: { egressProxy: { address: 'p:1080' } } })), refusedFor('network.egressProxy'));
    assert.throws(() => createFromE2b(body({ volumeMounts: [{ name: 'v', path: '/data' }] })), refusedFor('volumeMounts'));
    assert.throws(() => createFromE2b(body({ mcp: { github: {} } })), refusedFor('mcp'));
    // What the SDK sends by default passes.
    assert.doesNotThrow(() => createFromE2b(body({ allow_internet_access: true, network: {}, volumeMounts: [], secure: true, autoPause: false })));
  });

  it('names Wrenn states as E2B does and hides the rest', () => {
    assert.equal(e2bState('running'), 'running');
    assert.equal(e2bState('resuming'), 'running');
    assert.equal(e2bState('pausing'), 'paused');
    assert.equal(e2bState('paused'), 'paused');
    for (const s of ['pending', 'starting', 'deleting', 'deleted', 'failed', 'lost']) assert.equal(e2bState(s), null, s);
  });

  it('lists with E2B\'s fields; endAt is the last change plus the timeout', () => {
    const listed = toE2bListed(view, 'running');
    assert.equal(listed.sandboxID, view.id);
    assert.equal(listed.templateID, 'base');
    assert.equal(listed.cpuCount, 2);
    assert.equal(listed.memoryMB, 512);
    assert.equal(listed.startedAt, view.created_at);
    assert.equal(listed.endAt, '2026-01-01T00:02:00.000Z');
    assert.equal(listed.envdVersion, '0.5.7');
    assert.ok(Date.parse(toE2bListed({ ...view, timeout_sec: 0 }, 'running').endAt) > Date.parse('9000-01-01'));
  });

  it('details carry the envd access token and Wrenn\'s pause-on-timeout lifecycle', () => {
    const detail = toE2bDetail(view, 'paused', 'tok');
    assert.equal(detail.envdAccessToken, 'tok');
    assert.equal(detail.state, 'paused');
    assert.deepEqual(detail.lifecycle, { autoResume: false, onTimeout: 'pause' });
  });

  it('turns cumulative CPU time into the average use since start', () => {
    const now = Date.parse(view.created_at) + 10_000;
    const m = toE2bMetric(view, { cpu_usage_usec: 5_000_000, memory_bytes: 100, memory_limit_bytes: 1000, pids: 3, oom_kills: 0, disk_bytes: 4096, vcpus: 2, memory_mb: 512 }, now);
    // 5 s of CPU over 10 s on 2 vCPUs.
    assert.equal(m.cpuUsedPct, 25);
    assert.equal(m.memUsed, 100);
    assert.equal(m.memTotal, 1000);
    assert.equal(m.diskUsed, 4096);
    assert.equal(m.timestampUnix, Math.floor(now / 1000));
  });

  it('reads E2B\'s list query: states, template, start time, order, limit', () => {
    const q = (fields: Partial<E2bListQuery>) => Object.assign(new E2bListQuery(), fields);
    const all = listFilterFromE2b(q({}));
    assert.deepEqual([...all.states].sort(), ['paused', 'running']);
    assert.equal(all.order, 'desc');
    const narrow = listFilterFromE2b(q({ state: 'paused', template: 'base:default', startedAfter: '2026-01-01T00:00:00Z', order: 'asc', limit: 5 }));
    assert.deepEqual([...narrow.states], ['paused']);
    assert.equal(narrow.template, 'base');
    assert.equal(narrow.startedAfter, Date.parse('2026-01-01T00:00:00Z'));
    assert.equal(narrow.order, 'asc');
    assert.equal(narrow.limit, 5);
  });

  it('refuses list filters it cannot apply faithfully', () => {
    assert.throws(() => listFilterFromE2b(Object.assign(new E2bListQuery(), { state: 'running,killed' })), refusedFor('state'));
    assert.throws(() => listFilterFromE2b(Object.assign(new E2bListQuery(), { metadata: 'user%3Dalice' })), refusedFor('metadata'));
    assert.throws(() => listFilterFromE2b(Object.assign(new E2bListQuery(), { startedAfter: 'yesterday' })), refusedFor('startedAfter'));
    assert.throws(() => listFilterFromE2b(Object.assign(new E2bListQuery(), { order: 'random' })), refusedFor('order'));
  });
});
