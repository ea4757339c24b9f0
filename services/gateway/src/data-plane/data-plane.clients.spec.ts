import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { WrennError } from '@wrenn/contracts';
import { fromConnect } from './data-plane.clients';

describe('fromConnect', () => {
  it("keeps the host agent's own error code when it sent one", () => {
    const error = new ConnectError('no such sandbox', Code.FailedPrecondition, { 'wrenn-error-code': 'sandbox_not_found' });
    assert.equal(fromConnect(error).code, 'sandbox_not_found');
  });

  it('maps envd failures onto the API error model', () => {
    assert.equal(fromConnect(new ConnectError('gone', Code.NotFound)).code, 'file_not_found');
    assert.equal(fromConnect(new ConnectError('unknown user', Code.Unauthenticated)).code, 'validation_failed');
    assert.equal(fromConnect(new ConnectError('slow', Code.DeadlineExceeded)).code, 'exec_timeout');
  });

  it('answers a sandbox that went away mid-call as unavailable, never as an internal error', () => {
    for (const code of [Code.Aborted, Code.Canceled, Code.Unavailable]) {
      const mapped = fromConnect(new ConnectError('aborted', code));
      assert.equal(mapped.code, 'sandbox_unavailable', Code[code]);
    }
  });

  it("answers a host that refused the gateway's own token as the host's fault, never as the caller's", () => {
    const refused = new ConnectError('host token expired', Code.Unauthenticated, { 'wrenn-host-token-refused': 'host_token_expired' });
    assert.equal(fromConnect(refused).code, 'host_unavailable');
  });

  it('passes typed errors through and wraps anything else as internal', () => {
    const typed = new WrennError('invalid_state', 'paused');
    assert.equal(fromConnect(typed), typed);
    assert.equal(fromConnect(new Error('boom')).code, 'internal');
  });
});
