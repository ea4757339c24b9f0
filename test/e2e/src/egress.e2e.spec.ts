import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Platform, startPlatform } from './platform';

/**
 * The egress policy through REST: a private test host (in a network namespace this file makes,
 * routed from the host) is unreachable from a sandbox by default; PUT …/network with allow_out
 * opens it live, a bad entry changes nothing, and the next PUT takes it away again.
 */
const KEY = randomBytes(2).toString('hex');
const LAB = { ns: `wtest-e2e${KEY}`, hostVeth: `wte2e${KEY}`, peer: `wte2p${KEY}`, gw: `10.98.${randomBytes(1)[0]}.1` };
const PRIVATE = LAB.gw.replace(/\.1$/, '.2');
const PORT = 8080;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args).toString();

describe('egress policy through REST', () => {
  let p: Platform;
  let listener: ChildProcess;
  before(async () => {
    sh('ip', ['netns', 'add', LAB.ns]);
    sh('ip', ['link', 'add', LAB.hostVeth, 'type', 'veth', 'peer', 'name', LAB.peer]);
    sh('ip', ['link', 'set', LAB.peer, 'netns', LAB.ns]);
    sh('ip', ['addr', 'add', `${LAB.gw}/24`, 'dev', LAB.hostVeth]);
    sh('ip', ['link', 'set', LAB.hostVeth, 'up']);
    for (const args of [['link', 'set', 'lo', 'up'], ['link', 'set', LAB.peer, 'up'], ['addr', 'add', `${PRIVATE}/24`, 'dev', LAB.peer], ['route', 'add', 'default', 'via', LAB.gw]]) {
      sh('ip', ['-n', LAB.ns, ...args]);
    }
    const script = `require('net').createServer(s=>s.end('ok')).listen(${PORT},'0.0.0.0',()=>console.log('ready'))`;
    listener = spawn('ip', ['netns', 'exec', LAB.ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => listener.stdout!.once('data', resolve));
    p = await startPlatform('egress');
  });
  after(async () => {
    for (const row of await p?.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => []) ?? []) {
      await p.api('DELETE', `/v1/sandboxes/${row.id}`).catch(() => undefined);
    }
    await p?.stop();
    listener?.kill('SIGKILL');
    execFileSync('ip', ['link', 'del', LAB.hostVeth], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', LAB.ns], { stdio: 'ignore' });
  });

  /** "ok" when the lab host answered the sandbox, else what went wrong. */
  const probe = async (id: string, platform = p) => {
    const res = await platform.api('POST', `/v1/sandboxes/${id}/exec`, { cmd: 'timeout', args: ['3', 'bash', '-c', `cat < /dev/tcp/${PRIVATE}/${PORT}`] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.stdout === 'ok' ? 'ok' : `exit ${res.body.exit_code}: ${res.body.stderr.trim()}`;
  };

  it('opens a private host with allow_out and takes it away again, live; a bad entry changes nothing', async () => {
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 128 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    assert.deepEqual(created.body.network, { allow_out: [], deny_out: [], allow_internet_access: true });
    assert.notEqual(await probe(id), 'ok', 'a private address is closed by default');

    const opened = await p.api('PUT', `/v1/sandboxes/${id}/network`, { allow_out: [PRIVATE] });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    assert.deepEqual(opened.body.network, { allow_out: [`${PRIVATE}/32`], deny_out: [], allow_internet_access: true });
    assert.equal(await probe(id), 'ok', 'allow_out opened it');

    const bad = await p.api('PUT', `/v1/sandboxes/${id}/network`, { allow_out: ['10.0.0.0/40'], deny_out: [] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'validation_failed');
    assert.match(JSON.stringify(bad.body), /allow_out\[0\]/);
    assert.deepEqual((await p.api('GET', `/v1/sandboxes/${id}`)).body.network.allow_out, [`${PRIVATE}/32`], 'nothing changed');
    assert.equal(await probe(id), 'ok');

    const closed = await p.api('PUT', `/v1/sandboxes/${id}/network`, {});
    assert.equal(closed.status, 200);
    assert.notEqual(await probe(id), 'ok', 'the change took it away');

    const history = (await p.cli('sandbox', 'history', id, '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    assert.equal(history.filter((e) => e.type === 'sandbox.network_changed').length, 2);
  });

  it('creates a sandbox with its policy in place from the start, through REST and E2B', async () => {
    const created = await p.api('POST', '/v1/sandboxes', { memory_mb: 128, network: { allow_out: [`${PRIVATE}/32`] }, allow_internet_access: false });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(await probe(created.body.id), 'ok');
    const refused = await p.api('POST', '/v1/sandboxes', { memory_mb: 128, network: { deny_out: ['not a cidr/8'] } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'validation_failed');

    const e2b = await p.api('POST', '/e2b/sandboxes', { templateID: 'base', network: { allowOut: [PRIVATE], denyOut: ['0.0.0.0/0'] } });
    assert.equal(e2b.status, 201, JSON.stringify(e2b.body));
    const id = e2b.body.sandboxID;
    assert.deepEqual((await p.api('GET', `/v1/sandboxes/${id}`)).body.network, { allow_out: [`${PRIVATE}/32`], deny_out: [], allow_internet_access: false });
    assert.equal(await probe(id), 'ok');
    assert.equal((await p.api('PUT', `/e2b/sandboxes/${id}/network`, { allowOut: [] })).status, 204);
    assert.notEqual(await probe(id), 'ok');
  });

  it('answers a warm create with its policy only once the sandbox is there for good: exec works at once, every time, the reconciler sweeping meanwhile', async (t) => {
    // A claim is on its host a moment before its event is on the log, and its policy is applied
    // in that moment: a sweep that found it then judged it an orphan and destroyed it just as the
    // create answered 201 (the exec after it: 404 sandbox_not_found). A sweep every 25 ms lands in
    // that moment in one create of a few.
    const q = await startPlatform('egress-sweep', { WRENN_REAPER_INTERVAL_MS: '25' });
    t.after(async () => {
      await q.releaseHost().catch(() => undefined);
      await q.stop();
    });
    for (let i = 0; i < 25; i++) {
      const created = await q.api('POST', '/v1/sandboxes', { memory_mb: 128, network: { allow_out: [`${PRIVATE}/32`] }, allow_internet_access: false });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal(await probe(id, q), 'ok', `create ${i}: the sandbox answered runs with its policy`);
      await q.deleteSandbox(id);
    }
    assert.doesNotMatch(q.output(), /destroyed orphan sandbox/);
  });
});
