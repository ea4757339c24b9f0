import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentsHost, NotFoundException, PayloadTooLargeException, UnauthorizedException } from '@nestjs/common';
import { ErrorCode, WrennError } from '@wrenn/contracts';
import { createLogger } from '@wrenn/logger';
import { ErrorFilter } from './error.filter';

/** What the filter wrote for `exception` on a request to `path`. */
function answer(path: string, exception: unknown): { status: number; body: any; headers: Record<string, string> } {
  const out = { status: 0, body: undefined as any, headers: {} as Record<string, string> };
  const res = {
    headersSent: false,
    status(code: number) { out.status = code; return res; },
    json(body: unknown) { out.body = body; return res; },
    setHeader(name: string, value: string) { out.headers[name] = value; },
  };
  const host = { switchToHttp: () => ({ getRequest: () => ({ path }), getResponse: () => res }) } as unknown as ArgumentsHost;
  const log = createLogger('test');
  log.level = 'silent';
  new ErrorFilter(log).catch(exception, host);
  return out;
}

// body-parser's error for malformed JSON: a status and a type, no HttpException.
const malformedJson = Object.assign(new Error('Unexpected end of JSON input'), { status: 400, type: 'entity.parse.failed' });

describe(ErrorFilter.name, () => {
  it("answers Wrenn's shape with the mapped status", () => {
    assert.deepEqual(answer('/v1/sandboxes/x', new WrennError(ErrorCode.SandboxNotFound, 'sandbox x not found')), {
      status: 404, headers: {}, body: { error: { code: 'sandbox_not_found', message: 'sandbox x not found' } },
    });
    assert.deepEqual(answer('/v1/sandboxes', malformedJson).body, { error: { code: 'validation_failed', message: 'request body is not valid JSON' } });
    assert.deepEqual(answer('/v1/nope', new NotFoundException()).body, { error: { code: 'not_found', message: 'no such route' } });
    assert.equal(answer('/v1/auth/login', new WrennError(ErrorCode.RateLimited, 'slow down', { retry_after_sec: 7 })).headers['retry-after'], '7');
  });

  it("answers E2B's shape under /e2b, also for errors that never reached an E2B route", () => {
    assert.deepEqual(answer('/e2b/v2/sandboxes', malformedJson), {
      status: 400, headers: {}, body: { code: 400, message: 'request body is not valid JSON', reason: 'validation_failed' },
    });
    assert.deepEqual(answer('/e2b/v3/templates', new NotFoundException()).body, { code: 404, message: 'no such route', reason: 'not_found' });
    assert.deepEqual(answer('/e2b', new NotFoundException()).body.code, 404);
    // Only the /e2b segment itself, not a path that merely starts with the letters.
    assert.deepEqual(answer('/e2bx', new NotFoundException()).body, { error: { code: 'not_found', message: 'no such route' } });
  });

  it('answers a server-side failure with its code, a fixed message and a request id, never the inside story', () => {
    const leaky = new WrennError(ErrorCode.HostOperationFailed, 'sandbox could not be started: ENOENT /var/lib/wrenn/sandboxes/sb_1/disk.img', { sandbox_id: 'sb_1', seq: 42, host_code: 'internal' });
    const out = answer('/v1/sandboxes', leaky);
    assert.equal(out.status, 502);
    assert.equal(out.body.error.code, 'host_operation_failed');
    assert.match(out.body.error.details.request_id, /^req_[0-9a-f]{24}$/);
    assert.equal(out.headers['x-request-id'], out.body.error.details.request_id);
    assert.deepEqual(Object.keys(out.body.error.details).sort(), ['request_id', 'sandbox_id']);
    assert.ok(!JSON.stringify(out.body).includes('ENOENT') && !JSON.stringify(out.body).includes('/var/lib'), JSON.stringify(out.body));
    const crash = answer('/v1/sandboxes', new TypeError("Cannot read properties of undefined (reading 'hostId')"));
    assert.equal(crash.status, 500);
    assert.ok(!JSON.stringify(crash.body).includes('hostId'));
    const e2b = answer('/e2b/sandboxes', leaky);
    assert.equal(e2b.status, 502);
    assert.ok(!e2b.body.message.includes('ENOENT'));
    assert.match(e2b.body.message, /request req_/);
  });

  it('answers host_full with 503, saying what the hosts are full of but not which hosts or how much', () => {
    const full = new WrennError(ErrorCode.HostFull, 'no host has room for this sandbox (every host is full: host h1 is out of memory: 23000 MiB really in use, 1024 MiB reserved, of 24576 MiB)', {
      sandbox_id: 'sb_1', seq: 3, resource: 'memory', hosts: [{ host_id: 'h1', resource: 'memory' }],
    });
    const out = answer('/v1/sandboxes', full);
    assert.equal(out.status, 503);
    assert.equal(out.body.error.code, 'host_full');
    assert.match(out.body.error.message, /^no host has the memory for this sandbox now/);
    assert.deepEqual(Object.keys(out.body.error.details).sort(), ['request_id', 'resource', 'sandbox_id']);
    assert.equal(out.body.error.details.resource, 'memory');
    assert.ok(!JSON.stringify(out.body).includes('h1'), JSON.stringify(out.body));
    const e2b = answer('/e2b/sandboxes', full);
    assert.equal(e2b.status, 503);
    assert.equal(e2b.body.reason, 'host_full');
    assert.match(e2b.body.message, /memory/);
  });

  it('gives both surfaces the same status and code for every error code and framework error', () => {
    const cases: unknown[] = [
      ...Object.values(ErrorCode).map((c) => new WrennError(c, `a ${c}`)),
      new NotFoundException(), new UnauthorizedException(), new PayloadTooLargeException(), malformedJson, new TypeError('boom'),
    ];
    for (const exception of cases) {
      const wrenn = answer('/v1/sandboxes', exception);
      const e2b = answer('/e2b/sandboxes', exception);
      assert.equal(e2b.status, wrenn.status, String(exception));
      assert.equal(e2b.body.code, wrenn.status, String(exception));
      assert.equal(e2b.body.reason, wrenn.body.error.code, String(exception));
    }
    assert.equal(answer('/e2b/sandboxes', new UnauthorizedException()).status, 401);
    assert.equal(answer('/e2b/sandboxes', new PayloadTooLargeException()).body.message, 'request body too large');
    assert.equal(answer('/e2b/sandboxes', new WrennError(ErrorCode.RateLimited, 'slow down', { retry_after_sec: 3 })).headers['retry-after'], '3');
  });
});
