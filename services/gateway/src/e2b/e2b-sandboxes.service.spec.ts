import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { createLogger } from '@wrenn/logger';
import { CreateSandboxDto, SandboxView } from '../dtos/sandbox.dto';
import { SandboxesService } from '../services/sandboxes.service';
import type { Caller } from '../auth/caller';
import { E2bListQuery, E2bNewSandboxDto } from './e2b.dto';
import { E2bSandboxesService } from './e2b-sandboxes.service';
import { EnvdAccessTokens } from './envd-access-tokens';
import { SandboxTrafficForwarder } from './sandbox-traffic.forwarder';

const caller: Caller = { teamId: 'team_t', actor: { kind: 'anonymous', id: 'anonymous' } };

function view(id: string, state: SandboxView['state'], template = 'base'): SandboxView {
  return { id, state, template, template_id: null, snapshot_ref: null, snapshot_size_bytes: null, vcpus: 1, memory_mb: 512, timeout_sec: 300, network: { allow_out: [], deny_out: [], allow_internet_access: true }, host_id: 'h', failure_reason: null, created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' };
}

/** Wrenn's sandbox use cases, in memory: records what the E2B layer asked of them. */
class FakeSandboxes {
  readonly rows = new Map<string, SandboxView>();
  readonly created: CreateSandboxDto[] = [];
  readonly destroyed: string[] = [];
  /** Every lifecycle call, in order, as "<op> <id>[ <arg>]". */
  readonly calls: string[] = [];
  /** What a resume leaves the sandbox in: running, unless a test scripts a failure. */
  resumeTo: SandboxView['state'] = 'running';
  /** Set to play another client's resume winning the race: ours is refused, theirs goes on. */
  resumeRacedBy: SandboxView['state'] | null = null;
  /** Whether the row shows that other resume at once (false: the read model lags behind it). */
  raceShows = true;
  async create(_c: Caller, dto: CreateSandboxDto): Promise<SandboxView> {
    this.created.push(dto);
    const v = { ...view(`sb_01jz00000000000000000000${String(this.created.length).padStart(2, '0')}`, 'running', dto.template), timeout_sec: dto.timeout_sec };
    this.rows.set(v.id, v);
    return v;
  }
  async get(_c: Caller, id: string): Promise<SandboxView> {
    const v = this.rows.get(id);
    if (!v) throw new WrennError(ErrorCode.SandboxNotFound, `sandbox ${id} not found`);
    return v;
  }
  async list(): Promise<SandboxView[]> {
    return [...this.rows.values()].reverse();
  }
  async pause(_c: Caller, id: string): Promise<SandboxView> {
    this.calls.push(`pause ${id}`);
    const v: SandboxView = { ...(await this.get(caller, id)), state: 'paused' };
    this.rows.set(id, v);
    return v;
  }
  async resume(_c: Caller, id: string): Promise<SandboxView> {
    this.calls.push(`resume ${id}`);
    if (this.resumeRacedBy) {
      if (this.raceShows) this.rows.set(id, { ...(await this.get(caller, id)), state: this.resumeRacedBy });
      throw new WrennError(ErrorCode.InvalidState, `cannot resume a sandbox that is ${this.resumeRacedBy}`);
    }
    const v = { ...(await this.get(caller, id)), state: this.resumeTo };
    this.rows.set(id, v);
    return v;
  }
  async setTimeout(_c: Caller, id: string, timeoutSec: number): Promise<SandboxView> {
    this.calls.push(`timeout ${id} ${timeoutSec}`);
    const v = { ...(await this.get(caller, id)), timeout_sec: timeoutSec };
    this.rows.set(id, v);
    return v;
  }
  async destroy(_c: Caller, id: string): Promise<SandboxView> {
    this.destroyed.push(id);
    const v: SandboxView = { ...(await this.get(caller, id)), state: 'deleted' };
    this.rows.set(id, v);
    return v;
  }
}

function setup(initEnv: (id: string, env: Record<string, string>) => Promise<void> = async () => undefined, resumeWait = { totalMs: 2000, pollMs: 10, lagMs: 500 }) {
  const sandboxes = new FakeSandboxes();
  const tokens = { tokenFor: (id: string) => `token-of-${id}` } as unknown as EnvdAccessTokens;
  const envd = { initEnv } as unknown as SandboxTrafficForwarder;
  const sut = new E2bSandboxesService(sandboxes as unknown as SandboxesService, tokens, envd, createLogger('test'), resumeWait);
  return { sut, sandboxes };
}

const newSandbox = (fields: Partial<E2bNewSandboxDto> = {}) => Object.assign(new E2bNewSandboxDto(), { templateID: 'base', ...fields });
const code = (c: string) => (error: unknown) => error instanceof WrennError && error.code === c;

describe(E2bSandboxesService.name, () => {
  it('creates through Wrenn\'s service with the E2B timeout and hands out the sandbox\'s token', async () => {
    const { sut, sandboxes } = setup();
    const created = await sut.create(caller, newSandbox({ timeout: 120 }));
    assert.equal(sandboxes.created[0].template, 'base');
    assert.equal(sandboxes.created[0].timeout_sec, 120);
    assert.equal(created.envdAccessToken, `token-of-${created.sandboxID}`);
    assert.equal(created.envdVersion, '0.5.7');
  });

  it('applies create-time env vars, and destroys the sandbox when that fails', async () => {
    const applied: Array<Record<string, string>> = [];
    const ok = setup(async (_id, env) => void applied.push(env));
    await ok.sut.create(caller, newSandbox({ envVars: { A: '1' } }));
    assert.deepEqual(applied, [{ A: '1' }]);

    const failing = setup(async () => {
      throw new WrennError(ErrorCode.SandboxUnavailable, 'envd is not answering');
    });
    await assert.rejects(failing.sut.create(caller, newSandbox({ envVars: { A: '1' } })), code(ErrorCode.SandboxUnavailable));
    assert.equal(failing.sandboxes.destroyed.length, 1, 'the half-made sandbox is destroyed');
  });

  it('refuses bad input before asking Wrenn for anything', async () => {
    const { sut, sandboxes } = setup();
    await assert.rejects(sut.create(caller, newSandbox({ templateID: 'No Such/Name' })), code(ErrorCode.ValidationFailed));
    await assert.rejects(sut.create(caller, newSandbox({ network: { allowOut: ['10.0.0.0/99'] } })), code(ErrorCode.ValidationFailed));
    assert.equal(sandboxes.created.length, 0);
  });

  it('treats stopped sandboxes as gone: 404 on get and kill, no second destroy', async () => {
    const { sut, sandboxes } = setup();
    sandboxes.rows.set('sb_01jz0000000000000000000099', view('sb_01jz0000000000000000000099', 'deleted'));
    await assert.rejects(sut.get(caller, 'sb_01jz0000000000000000000099'), code(ErrorCode.SandboxNotFound));
    await assert.rejects(sut.kill(caller, 'sb_01jz0000000000000000000099'), code(ErrorCode.SandboxNotFound));
    assert.deepEqual(sandboxes.destroyed, []);
  });

  it('lists only what E2B can name, filtered by state and template', async () => {
    const { sut, sandboxes } = setup();
    for (const [n, state, template] of [['1', 'running', 'base'], ['2', 'paused', 'base'], ['3', 'failed', 'base'], ['4', 'running', 'other']] as const) {
      sandboxes.rows.set(`sb_01jz000000000000000000000${n}`, view(`sb_01jz000000000000000000000${n}`, state, template));
    }
    const ids = async (q: Partial<E2bListQuery>) => (await sut.list(caller, Object.assign(new E2bListQuery(), q))).map((s) => s.sandboxID.slice(-1)).sort();
    assert.deepEqual(await ids({}), ['1', '2', '4']);
    assert.deepEqual(await ids({ state: 'paused' }), ['2']);
    assert.deepEqual(await ids({ template: 'other' }), ['4']);
    assert.equal((await sut.list(caller, Object.assign(new E2bListQuery(), { limit: 1 }))).length, 1);
  });

  it('connects to a running sandbox without resuming it', async () => {
    const { sut } = setup();
    const created = await sut.create(caller, newSandbox());
    const connected = await sut.connect(caller, created.sandboxID, {});
    assert.equal(connected.resumed, false);
    assert.equal(connected.sandbox.envdAccessToken, created.envdAccessToken);
  });

  it('pauses through Wrenn\'s pause, and answers 409 (the SDK\'s false) for a paused or pausing sandbox', async () => {
    const { sut, sandboxes } = setup();
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    await sut.pause(caller, id, {});
    assert.deepEqual(sandboxes.calls, [`pause ${id}`]);
    assert.equal((await sut.get(caller, id)).state, 'paused');
    await assert.rejects(sut.pause(caller, id, {}), code(ErrorCode.InvalidState));
    sandboxes.rows.set(id, { ...view(id, 'pausing') });
    await assert.rejects(sut.pause(caller, id, {}), code(ErrorCode.InvalidState));
    assert.equal(sandboxes.calls.length, 1, 'no second pause is asked for');
  });

  it('refuses a pause that asks to keep memory, and pauses nothing', async () => {
    const { sut, sandboxes } = setup();
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    await assert.rejects(sut.pause(caller, id, { memory: true }), code(ErrorCode.ValidationFailed));
    assert.deepEqual(sandboxes.calls, []);
    await sut.pause(caller, id, { memory: false });
    assert.deepEqual(sandboxes.calls, [`pause ${id}`]);
  });

  it('resumes a paused sandbox on connect and says so, with the same token', async () => {
    const { sut, sandboxes } = setup();
    const created = await sut.create(caller, newSandbox());
    await sut.pause(caller, created.sandboxID, {});
    const connected = await sut.connect(caller, created.sandboxID, {});
    assert.equal(connected.resumed, true);
    assert.equal(connected.sandbox.envdAccessToken, created.envdAccessToken);
    assert.equal(sandboxes.rows.get(created.sandboxID)!.state, 'running');
    assert.deepEqual(sandboxes.calls, [`pause ${created.sandboxID}`, `resume ${created.sandboxID}`]);
  });

  it('applies a connect\'s timeout after resuming, and to a running sandbox too', async () => {
    const { sut, sandboxes } = setup();
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    await sut.connect(caller, id, { timeout: 42 });
    await sut.pause(caller, id, {});
    await sut.connect(caller, id, { timeout: 43 });
    assert.deepEqual(sandboxes.calls, [`timeout ${id} 42`, `pause ${id}`, `resume ${id}`, `timeout ${id} 43`]);
  });

  it('joins a resume another client started, answering only once the sandbox runs', async () => {
    const { sut, sandboxes } = setup();
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    sandboxes.rows.set(id, { ...view(id, 'resuming') });
    setTimeout(() => sandboxes.rows.set(id, { ...view(id, 'running') }), 60);
    const connected = await sut.connect(caller, id, {});
    assert.equal(connected.resumed, true);
    assert.equal(sandboxes.rows.get(id)!.state, 'running', 'answered after the resume ended');
    assert.deepEqual(sandboxes.calls, [], 'no second resume');

    // Our resume refused because theirs got there first: still connected, not an error.
    sandboxes.rows.set(id, { ...view(id, 'paused') });
    sandboxes.resumeRacedBy = 'resuming';
    setTimeout(() => sandboxes.rows.set(id, { ...view(id, 'running') }), 60);
    assert.equal((await sut.connect(caller, id, {})).resumed, true);
    assert.deepEqual(sandboxes.calls, [`resume ${id}`]);

    // The same race with the read model still showing "paused" for a moment.
    sandboxes.rows.set(id, { ...view(id, 'paused') });
    sandboxes.raceShows = false;
    setTimeout(() => sandboxes.rows.set(id, { ...view(id, 'resuming') }), 30);
    setTimeout(() => sandboxes.rows.set(id, { ...view(id, 'running') }), 80);
    assert.equal((await sut.connect(caller, id, {})).resumed, true);
    assert.equal(sandboxes.rows.get(id)!.state, 'running');
  });

  it('gives up waiting for someone else\'s resume with 409, after its bound', async () => {
    const { sut, sandboxes } = setup(undefined, { totalMs: 50, pollMs: 10, lagMs: 20 });
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    sandboxes.rows.set(id, { ...view(id, 'resuming') });
    await assert.rejects(sut.connect(caller, id, {}), code(ErrorCode.InvalidState));
    sandboxes.rows.set(id, { ...view(id, 'pausing') });
    await assert.rejects(sut.connect(caller, id, {}), code(ErrorCode.InvalidState));
    assert.deepEqual(sandboxes.calls, []);
    // A resume that ended paused again (it failed) is not handed out as running.
    sandboxes.rows.set(id, { ...view(id, 'paused') });
    sandboxes.resumeRacedBy = 'paused';
    await assert.rejects(sut.connect(caller, id, {}), code(ErrorCode.HostOperationFailed));
  });

  it('waits for a pause under way and then resumes; a pause that failed leaves it running, no resume', async () => {
    const { sut, sandboxes } = setup();
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    sandboxes.rows.set(id, { ...view(id, 'pausing') });
    setTimeout(() => sandboxes.rows.set(id, { ...view(id, 'paused') }), 40);
    const afterPause = await sut.connect(caller, id, {});
    assert.equal(afterPause.resumed, true);
    assert.deepEqual(sandboxes.calls, [`resume ${id}`]);

    sandboxes.rows.set(id, { ...view(id, 'pausing') });
    setTimeout(() => sandboxes.rows.set(id, { ...view(id, 'running') }), 40);
    assert.equal((await sut.connect(caller, id, {})).resumed, false);
    assert.deepEqual(sandboxes.calls, [`resume ${id}`], 'no resume of a sandbox whose pause failed');
  });

  it('answers a resume that did not bring the sandbox back with an error, never its token', async () => {
    const { sut, sandboxes } = setup();
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    sandboxes.rows.set(id, { ...view(id, 'paused') });
    sandboxes.resumeTo = 'failed';
    await assert.rejects(sut.connect(caller, id, {}), code(ErrorCode.SandboxNotFound));
    sandboxes.rows.set(id, { ...view(id, 'paused') });
    sandboxes.resumeTo = 'paused';
    await assert.rejects(sut.connect(caller, id, {}), code(ErrorCode.HostOperationFailed));
  });

  it('sets the timeout through Wrenn\'s command, and answers 404 for sandboxes E2B cannot see', async () => {
    const { sut, sandboxes } = setup();
    const { sandboxID: id } = await sut.create(caller, newSandbox());
    await sut.setTimeout(caller, id, 60);
    assert.equal(sandboxes.rows.get(id)!.timeout_sec, 60);
    const gone = 'sb_01jz0000000000000000000098';
    sandboxes.rows.set(gone, view(gone, 'deleted'));
    await assert.rejects(sut.setTimeout(caller, gone, 60), code(ErrorCode.SandboxNotFound));
    await assert.rejects(sut.pause(caller, gone, {}), code(ErrorCode.SandboxNotFound));
    await assert.rejects(sut.connect(caller, gone, {}), code(ErrorCode.SandboxNotFound));
    await assert.rejects(sut.connect(caller, 'sb_01jz0000000000000000000097', {}), code(ErrorCode.SandboxNotFound));
    assert.deepEqual(sandboxes.calls, [`timeout ${id} 60`]);
  });
});
