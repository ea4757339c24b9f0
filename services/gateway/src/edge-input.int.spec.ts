import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { within } from '@wrenn/testing';
import { GatewayHarness, startGateway } from '@wrenn/gateway-test-support';

/** Sends a raw request and reads the status line and body, whatever the gateway answers. */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    // An upgrade the server refuses arrives as a plain response; one it accepts would be a bug here.
    req.on('upgrade', () => reject(new Error('the upgrade was accepted')));
    req.setTimeout(5000, () => req.destroy(new Error('the gateway did not answer')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('bad input at the API edge answers 4xx', () => {
  let h: GatewayHarness;

  before(async () => {
    h = await startGateway('edgeinput');
  });
  after(async () => {
    await h?.close();
  });

  it('refuses an exec-stream upgrade whose sandbox id is malformed percent-encoding, and keeps serving', async () => {
    const upgrade = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    const res = await raw(h.gateway.url, 'GET', '/v1/sandboxes/%E0%A4%A/exec/stream', { ...h.authHeaders(), ...upgrade });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'validation_failed');
    const health = await h.getJson('/v1/sandboxes');
    assert.equal(health.status, 200, 'the gateway still answers after the bad upgrade');
  });

  it('answers 400 to a multipart upload without a boundary', async () => {
    const res = await raw(h.gateway.url, 'POST', '/v1/sandboxes/sbx_doesnotmatter/files?path=/tmp/a', { ...h.authHeaders(), 'content-type': 'multipart/form-data' }, 'x');
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'validation_failed');
  });

  it('closes an exec stream whose client sends a frame over the size limit with 1009, and keeps serving', async () => {
    const ws = new WebSocket(`${h.gateway.url.replace('http', 'ws')}/v1/sandboxes/sbx_edgeinput/exec/stream`, { headers: h.authHeaders() });
    ws.on('error', () => undefined);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('unexpected-response', () => reject(new Error('the upgrade was refused')));
      }),
      10_000,
      'the exec stream to open',
    );
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(Buffer.alloc(4 * 1024 * 1024 + 1));
    const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5000).unref())]);
    ws.terminate();
    assert.equal(code, 1009, 'the server closes with "message too big"');
    const after = await h.getJson('/v1/sandboxes');
    assert.equal(after.status, 200, 'the gateway still answers after the oversize frame');
  });

});
