import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SandboxSpec } from '@wrenn/contracts';
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
  async pause(id: string) {
    this.calls.push(`pause:${id}`);
    this.live.delete(id);
    this.paused.add(id);
    return { snapshotRef: `snap_${id}`, sizeBytes: 0 };
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
});
