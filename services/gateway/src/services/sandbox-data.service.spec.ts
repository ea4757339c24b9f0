import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { SandboxDataService } from './sandbox-data.service';
import type { Caller } from '../auth/caller';

const ID = 'sb_01jz0000000000000000000001';
const caller = { teamId: 'team_a' } as Caller;
const notOnHost = () => new ConnectError(`sandbox ${ID} is not on this host`, Code.NotFound, { 'wrenn-error-code': 'sandbox_not_found' });

/**
 * What a data-plane call does when the host it was sent to (from memory) no longer has the
 * sandbox: the read model decides, once. The hosts and the read model are stand-ins here; the
 * memory itself is tested on real NATS and PostgreSQL in running-sandboxes.cache.int.spec.ts.
 */
function service(options: { cached: boolean; fresh: () => Promise<{ hostId: string }>; hosts: Record<string, () => Promise<unknown>> }) {
  const reads: boolean[] = [];
  const sent: string[] = [];
  const sandboxes = {
    async requireRunning(_caller: Caller, _id: string, fresh = false) {
      reads.push(fresh);
      if (!fresh) return { teamId: 'team_a', hostId: 'host-old', cached: options.cached };
      return { teamId: 'team_a', ...(await options.fresh()), cached: false };
    },
  };
  const dataPlanes = {
    async forSandbox(hostId: string) {
      return {
        exec: async () => {
          sent.push(hostId);
          return options.hosts[hostId]();
        },
      };
    },
  };
  const activity = { hold: () => () => undefined };
  const sut = new SandboxDataService(sandboxes as never, dataPlanes as never, activity as never, {} as never);
  return { sut, reads, sent };
}

const ran = { stdout: new Uint8Array(), stderr: new Uint8Array(), exitCode: 0, timedOut: false, truncated: false, durationMs: 1 };
const execTrue = { cmd: 'true', args: [], timeout_sec: 5 } as never;

describe(SandboxDataService.name, () => {
  it('sends the call once more to the host the read model names when the remembered host does not have the sandbox', async () => {
    const { sut, reads, sent } = service({ cached: true, fresh: async () => ({ hostId: 'host-new' }), hosts: { 'host-old': async () => { throw notOnHost(); }, 'host-new': async () => ran } });
    assert.equal((await sut.exec(caller, ID, execTrue)).exit_code, 0);
    assert.deepEqual(sent, ['host-old', 'host-new']);
    assert.deepEqual(reads, [false, true]);
  });

  it("answers what the read model says (409 paused) when the remembered host does not have the sandbox and it no longer runs", async () => {
    const { sut, sent } = service({ cached: true, fresh: async () => { throw new WrennError(ErrorCode.InvalidState, 'paused', { state: 'paused' }); }, hosts: { 'host-old': async () => { throw notOnHost(); } } });
    await assert.rejects(sut.exec(caller, ID, execTrue), { code: 'invalid_state' });
    assert.deepEqual(sent, ['host-old']);
  });

  it('tries once only: a host just read from the read model that does not have the sandbox answers 404', async () => {
    const { sut, sent } = service({ cached: true, fresh: async () => ({ hostId: 'host-new' }), hosts: { 'host-old': async () => { throw notOnHost(); }, 'host-new': async () => { throw notOnHost(); } } });
    await assert.rejects(sut.exec(caller, ID, execTrue), { code: 'sandbox_not_found' });
    assert.deepEqual(sent, ['host-old', 'host-new']);
  });

  it('does not repeat a call whose host came from the read model, nor one that failed otherwise', async () => {
    const fromRead = service({ cached: false, fresh: async () => assert.fail('read again'), hosts: { 'host-old': async () => { throw notOnHost(); } } });
    await assert.rejects(fromRead.sut.exec(caller, ID, execTrue), { code: 'sandbox_not_found' });
    assert.deepEqual(fromRead.sent, ['host-old']);
    const failed = service({ cached: true, fresh: async () => assert.fail('read again'), hosts: { 'host-old': async () => { throw new ConnectError('gone', Code.Unavailable); } } });
    await assert.rejects(failed.sut.exec(caller, ID, execTrue), { code: 'sandbox_unavailable' });
    assert.deepEqual(failed.sent, ['host-old']);
  });
});
