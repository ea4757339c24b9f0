import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, SandboxSpec, WrennError } from '@wrenn/contracts';
import { createLogger } from '@wrenn/logger';
import { RecoveryReport, RuntimeSandbox, SandboxRuntime } from '../runtime/sandbox-runtime';
import { SandboxOrchestrator } from './sandbox-orchestrator';

/** A runtime that records calls; unit tests only (the real one is tested on the kernel). */
class FakeRuntime implements SandboxRuntime {
  readonly kind = 'namespace' as const;
  calls: string[] = [];
  live = new Map<string, SandboxSpec>();
  createDelayMs = 0;
  async prepare() {}
  async create(spec: SandboxSpec): Promise<RuntimeSandbox> {
    this.calls.push(`create:${spec.sandboxId}`);
    await new Promise((r) => setTimeout(r, this.createDelayMs));
    this.live.set(spec.sandboxId, spec);
    return { sandboxId: spec.sandboxId, pid: 1, dir: '/x' };
  }
  async endpoint(id: string) {
    this.calls.push(`endpoint:${id}`);
    return { envdUrl: 'http://127.0.0.1:1' };
  }
  async destroy(id: string) {
    this.calls.push(`destroy:${id}`);
    this.live.delete(id);
  }
  async list() {
    return [...this.live.keys()];
  }
  async resources(id: string) {
    const s = this.live.get(id)!;
    return { vcpus: s.vcpus, memoryMb: s.memoryMb };
  }
  async metrics() {
    return { cpuUsageUsec: 0, memoryBytes: 0, memoryLimitBytes: 0, pids: 0, oomKills: 0, diskBytes: 0, vcpus: 1, memoryMb: 1 };
  }
  async shutdown() {}
  async recover(): Promise<RecoveryReport> {
    return { adopted: [...this.live.keys()], removed: [] };
  }
  paused = new Set<string>();
  /** Makes the next pause fail; with `afterKill` the sandbox is gone anyway (as on a real host). */
  failPause: { afterKill: boolean } | undefined;
  pauseDelayMs = 0;
  async pause(id: string) {
    this.calls.push(`pause:${id}`);
    await new Promise((r) => setTimeout(r, this.pauseDelayMs));
    if (this.failPause) {
      if (this.failPause.afterKill) this.live.delete(id);
      this.failPause = undefined;
      throw new Error('pause failed');
    }
    if (!this.live.has(id) && !this.paused.has(id)) throw new WrennError(ErrorCode.SandboxNotFound, `no ${id}`);
    this.live.delete(id);
    this.paused.add(id);
    return { snapshotRef: `snap_${id}`, sizeBytes: 4096 };
  }
  async resume(spec: SandboxSpec): Promise<RuntimeSandbox> {
    this.calls.push(`resume:${spec.sandboxId}`);
    this.paused.delete(spec.sandboxId);
    this.live.set(spec.sandboxId, spec);
    return { sandboxId: spec.sandboxId, pid: 1, dir: '/x' };
  }
  async listPaused() {
    return [...this.paused];
  }
  async createTemplate(id: string, templateId: string) {
    this.calls.push(`template:${id}:${templateId}`);
    return { sizeBytes: 0 };
  }
  async deleteTemplate(templateId: string) {
    this.calls.push(`template-delete:${templateId}`);
  }
}

const ID = 'sb_0123456789abcdefghijklmnop';
const TPL = 'tpl_0123456789abcdefghijklmnop';
const invalid = (e: { code?: string }) => e.code === 'validation_failed';
const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({ sandboxId: ID, teamId: 't', template: 'base', vcpus: 2, memoryMb: 256, ...over });
const log = createLogger('test');

describe(SandboxOrchestrator.name, () => {
  it('refuses ids and template names that could reach outside its directories', async () => {
    const runtime = new FakeRuntime();
    const o = new SandboxOrchestrator(runtime, log);
    for (const bad of ['../../etc', 'sb_../../x', '', 'SB_0123456789ABCDEFGHIJKLMNOP']) {
      await assert.rejects(() => o.create({ commandId: 'c', spec: spec({ sandboxId: bad }) }), (e: { code?: string }) => e.code === 'validation_failed');
      await assert.rejects(() => o.destroy({ commandId: 'c', sandboxId: bad }), (e: { code?: string }) => e.code === 'validation_failed');
    }
    await assert.rejects(() => o.create({ commandId: 'c', spec: spec({ template: '../base' }) }), (e: { code?: string }) => e.code === 'validation_failed');
    assert.deepEqual(runtime.calls, []);
  });

  it('creates once when the same create is retried, and tallies usage', async () => {
    const runtime = new FakeRuntime();
    const o = new SandboxOrchestrator(runtime, log);
    await o.create({ commandId: 'c', spec: spec() });
    await o.create({ commandId: 'c', spec: spec() });
    assert.deepEqual(runtime.calls, [`create:${ID}`]);
    assert.deepEqual(o.usage(), { sandboxes: 1, vcpus: 2, memoryMb: 256 });
    await o.destroy({ commandId: 'd', sandboxId: ID });
    assert.deepEqual(o.usage(), { sandboxes: 0, vcpus: 0, memoryMb: 0 });
  });

  it('lands a destroy after the create that came before it', async () => {
    const runtime = new FakeRuntime();
    runtime.createDelayMs = 30;
    const o = new SandboxOrchestrator(runtime, log);
    await Promise.all([o.create({ commandId: 'c', spec: spec() }), o.destroy({ commandId: 'd', sandboxId: ID })]);
    assert.deepEqual(runtime.calls, [`create:${ID}`, `destroy:${ID}`]);
    assert.deepEqual(await runtime.list(), []);
  });

  it('answers sandbox_not_found for exec in a sandbox it does not hold', async () => {
    const o = new SandboxOrchestrator(new FakeRuntime(), log);
    await assert.rejects(() => o.exec({ sandboxId: ID, cmd: 'true', args: [], timeoutSec: 1 }), (e: { code?: string }) => e.code === 'sandbox_not_found');
  });

  it('re-tallies adopted sandboxes after a restart', async () => {
    const runtime = new FakeRuntime();
    runtime.live.set(ID, spec());
    const o = new SandboxOrchestrator(runtime, log);
    const report = await o.start();
    assert.deepEqual(report.adopted, [ID]);
    assert.deepEqual(o.usage(), { sandboxes: 1, vcpus: 2, memoryMb: 256 });
  });

  it('refuses template names outside the allowlist before anything reaches the runtime', async () => {
    const runtime = new FakeRuntime();
    const o = new SandboxOrchestrator(runtime, log);
    await o.create({ commandId: 'c', spec: spec() });
    runtime.calls = [];
    const bad: unknown[] = [
      '../x', 'a/b', '', 'x'.repeat(300), '.', '..', 'My-Template', 'tеmplate' /* Cyrillic e */, 'ｔemplate', 'a.b',
      '-lead', 'a b', 'a\u0000b', 'café', undefined, null, 42, ['x'],
    ];
    for (const name of bad) {
      await assert.rejects(() => o.createTemplate({ commandId: 'c', sandboxId: ID, templateId: TPL, templateName: name as string }), invalid, `create refuses ${JSON.stringify(name)}`);
      await assert.rejects(() => o.deleteTemplate({ commandId: 'c', templateId: TPL, templateName: name as string }), invalid, `delete refuses ${JSON.stringify(name)}`);
    }
    for (const id of ['../tpl', 'tpl_../../x', '', 'TPL_0123456789ABCDEFGHIJKLMNOP', 'sb_0123456789abcdefghijklmnop']) {
      await assert.rejects(() => o.createTemplate({ commandId: 'c', sandboxId: ID, templateId: id, templateName: 'ok' }), invalid);
      await assert.rejects(() => o.deleteTemplate({ commandId: 'c', templateId: id, templateName: 'ok' }), invalid);
      await assert.rejects(() => o.create({ commandId: 'c', spec: spec({ sandboxId: 'sb_1123456789abcdefghijklmnop', templateId: id }) }), invalid);
    }
    await assert.rejects(() => o.createTemplate({ commandId: 'c', sandboxId: ID, templateId: TPL, templateName: 'base' }), (e: { code?: string }) => e.code === 'template_exists');
    assert.deepEqual(runtime.calls, [], 'nothing reached the runtime');
    await o.createTemplate({ commandId: 'c', sandboxId: ID, templateId: TPL, templateName: 'my_template-2' });
    assert.deepEqual(runtime.calls, [`template:${ID}:${TPL}`]);
  });

  it('refuses pause and resume of ids that are not sandbox ids, and snapshot refs of another sandbox', async () => {
    const runtime = new FakeRuntime();
    const o = new SandboxOrchestrator(runtime, log);
    for (const bad of ['../../etc', '', 'sb_../../x']) {
      await assert.rejects(() => o.pause({ commandId: 'c', sandboxId: bad }), invalid);
      await assert.rejects(() => o.resume({ commandId: 'c', spec: spec({ sandboxId: bad }), snapshotRef: `snap_${bad}` }), invalid);
    }
    for (const ref of ['snap_sb_1123456789abcdefghijklmnop', '../snap', '', `snap_${ID}/..`]) {
      await assert.rejects(() => o.resume({ commandId: 'c', spec: spec(), snapshotRef: ref }), invalid);
    }
    assert.deepEqual(runtime.calls, []);
  });

  it('claims only from the warm pool: refuses having done nothing when none is ready, and a retried claim takes no second one', async () => {
    const runtime = new (class extends FakeRuntime {
      ready = 1;
      async claimWarm(s: SandboxSpec): Promise<RuntimeSandbox | undefined> {
        this.calls.push(`claim:${s.sandboxId}`);
        if (this.ready === 0) return undefined;
        this.ready -= 1;
        this.live.set(s.sandboxId, s);
        return { sandboxId: s.sandboxId, pid: 1, dir: '/x' };
      }
      warmCounts() {
        return { 'image:base': this.ready };
      }
    })();
    const o = new SandboxOrchestrator(runtime, log);
    const before = Date.now();
    const claimed = await o.claim({ commandId: 'c', spec: spec() });
    assert.deepEqual({ ...claimed, elapsedMs: 0 }, { claimed: true, sandboxId: ID, elapsedMs: 0, warmLeft: 0 });
    assert.deepEqual(o.usage(), { sandboxes: 1, vcpus: 2, memoryMb: 256 });
    const again = await o.claim({ commandId: 'c', spec: spec() });
    assert.deepEqual(again, { claimed: true, sandboxId: ID, elapsedMs: 0 });
    assert.deepEqual(runtime.calls, [`claim:${ID}`], 'the retry took nothing');
    // The list says when it was made: the reconciler's grace before the log knows it.
    const { startedAt } = await o.list();
    assert.ok(startedAt![ID] >= before && startedAt![ID] <= Date.now());
    const other = 'sb_1123456789abcdefghijklmnop';
    assert.deepEqual(await o.claim({ commandId: 'd', spec: { ...spec(), sandboxId: other } }), { claimed: false, reason: 'no warm sandbox of this template is ready' });
    assert.deepEqual(o.usage(), { sandboxes: 1, vcpus: 2, memoryMb: 256 }, 'a refusal holds nothing');
    assert.ok(!runtime.calls.includes(`create:${other}`), 'and starts nothing cold');
    await o.destroy({ commandId: 'x', sandboxId: ID });
    assert.deepEqual((await o.list()).startedAt, {});
  });

  it('lists a claimed sandbox as just made while its egress policy is still being applied, so the reconciler does not destroy it as an orphan', async () => {
    // The runtime lists the sandbox the moment its claim is done; its policy comes after, and its
    // one event is appended only once the claim answers. A list without its time in between made
    // the reaper destroy it as an orphan as its create answered 201 (exec then found no sandbox).
    const runtime = new (class extends FakeRuntime {
      async claimWarm(s: SandboxSpec): Promise<RuntimeSandbox | undefined> {
        this.live.set(s.sandboxId, s);
        return { sandboxId: s.sandboxId, pid: 1, dir: '/x' };
      }
    })();
    let applying!: () => void;
    const applied = new Promise<void>((resolve) => (applying = resolve));
    let release!: () => void;
    const egress = {
      applyAt: async () => {
        applying();
        await new Promise<void>((resolve) => (release = resolve));
      },
    };
    const o = new SandboxOrchestrator(runtime, log, { egress });
    const before = Date.now();
    const claim = o.claim({ commandId: 'c', spec: spec({ network: { allowOut: ['10.9.0.2/32'], denyOut: [], allowInternetAccess: false } }) });
    await applied;
    const during = await o.list();
    assert.deepEqual(during.sandboxIds, [ID]);
    assert.ok(during.startedAt![ID] >= before, 'listed as made now while its policy is applied');
    release();
    assert.equal((await claim).claimed, true);
    assert.ok((await o.list()).startedAt![ID] >= before);
  });

  it('refuses every claim on a runtime without a warm pool', async () => {
    const runtime = new FakeRuntime();
    const o = new SandboxOrchestrator(runtime, log);
    assert.equal((await o.claim({ commandId: 'c', spec: spec() })).claimed, false);
    assert.deepEqual(runtime.calls, []);
  });

  it('a paused sandbox counts for nothing, is listed as paused, and a retried pause answers the same snapshot', async () => {
    const runtime = new FakeRuntime();
    const o = new SandboxOrchestrator(runtime, log);
    await o.create({ commandId: 'c', spec: spec() });
    await o.envd(ID); // a client exists
    const first = await o.pause({ commandId: 'p', sandboxId: ID });
    assert.equal(first.snapshotRef, `snap_${ID}`);
    assert.deepEqual(o.usage(), { sandboxes: 0, vcpus: 0, memoryMb: 0 });
    assert.deepEqual(await o.list(), { sandboxIds: [], pausedIds: [ID], startedAt: {} });
    await assert.rejects(() => o.exec({ sandboxId: ID, cmd: 'true', args: [], timeoutSec: 1 }), (e: { code?: string }) => e.code === 'sandbox_not_found');
    const again = await o.pause({ commandId: 'p', sandboxId: ID });
    assert.equal(again.snapshotRef, first.snapshotRef);
    assert.equal(again.sizeBytes, first.sizeBytes);

    await o.resume({ commandId: 'r', spec: spec(), snapshotRef: first.snapshotRef });
    assert.deepEqual(o.usage(), { sandboxes: 1, vcpus: 2, memoryMb: 256 });
    assert.deepEqual(await o.list(), { sandboxIds: [ID], pausedIds: [], startedAt: {} });
    const callsBefore = runtime.calls.length;
    const retried = await o.resume({ commandId: 'r', spec: spec(), snapshotRef: first.snapshotRef });
    assert.equal(retried.elapsedMs, 0);
    assert.equal(runtime.calls.length, callsBefore, 'a retried resume of a running sandbox does nothing');
    // The envd client of before the pause was dropped: a new one is asked for the new endpoint.
    await o.envd(ID);
    assert.equal(runtime.calls.filter((c) => c.startsWith('endpoint:')).length, 2);
  });

  it('keeps the tally right when a pause fails before or after the kill', async () => {
    const runtime = new FakeRuntime();
    const o = new SandboxOrchestrator(runtime, log);
    await o.create({ commandId: 'c', spec: spec() });
    runtime.failPause = { afterKill: false };
    await assert.rejects(() => o.pause({ commandId: 'p', sandboxId: ID }));
    assert.deepEqual(o.usage(), { sandboxes: 1, vcpus: 2, memoryMb: 256 }, 'still running, still counted');
    runtime.failPause = { afterKill: true };
    await assert.rejects(() => o.pause({ commandId: 'p', sandboxId: ID }));
    assert.deepEqual(o.usage(), { sandboxes: 0, vcpus: 0, memoryMb: 0 }, 'its processes are gone: it holds nothing');
  });

  it('makes templates only from running sandboxes, and serialises them with the sandbox', async () => {
    const runtime = new FakeRuntime();
    runtime.createDelayMs = 30;
    const o = new SandboxOrchestrator(runtime, log);
    await assert.rejects(() => o.createTemplate({ commandId: 't', sandboxId: ID, templateId: TPL, templateName: 'x' }), (e: { code?: string }) => e.code === 'sandbox_not_found');
    await Promise.all([
      o.create({ commandId: 'c', spec: spec() }),
      o.createTemplate({ commandId: 't', sandboxId: ID, templateId: TPL, templateName: 'x' }),
      o.pause({ commandId: 'p', sandboxId: ID }),
    ]);
    assert.deepEqual(runtime.calls, [`create:${ID}`, `template:${ID}:${TPL}`, `pause:${ID}`]);
    await assert.rejects(() => o.createTemplate({ commandId: 't', sandboxId: ID, templateId: TPL, templateName: 'x' }), (e: { code?: string }) => e.code === 'invalid_state');
    await o.deleteTemplate({ commandId: 'd', templateId: TPL, templateName: 'x' });
    assert.equal(runtime.calls.at(-1), `template-delete:${TPL}`);
  });

  it('never hands out an envd client made for the address a sandbox had before its pause', async () => {
    const runtime = new FakeRuntime();
    runtime.pauseDelayMs = 30;
    const o = new SandboxOrchestrator(runtime, log);
    await o.create({ commandId: 'c', spec: spec() });
    const pausing = o.pause({ commandId: 'p', sandboxId: ID });
    await new Promise((r) => setTimeout(r, 5));
    const during = await o.envd(ID); // a data-plane call that lands mid-pause
    await pausing;
    await o.resume({ commandId: 'r', spec: spec(), snapshotRef: `snap_${ID}` });
    const afterResume = await o.envd(ID);
    assert.notEqual(afterResume, during);
    assert.equal(runtime.calls.filter((c) => c.startsWith('endpoint:')).length, 2, 'the endpoint is asked again after the resume');
  });
});
