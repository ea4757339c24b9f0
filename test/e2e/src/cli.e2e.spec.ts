import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WrennClient } from '@wrenn/sdk';
import { eventually } from '@wrenn/testing';
import { Platform, REPO, startPlatform } from './platform';

const CLI = join(REPO, 'tools/cli/dist/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The built `wrenn` CLI as a user runs it, against a live platform: login saves the address and
 * a key in a 0600 file under the user's config directory, then sandbox, template and host
 * commands work from that file alone, print tables or (--json) JSON, and pass exit codes through.
 */
describe('wrenn CLI', () => {
  let p: Platform;
  let home: string;
  let sdk: WrennClient;
  before(async () => {
    p = await startPlatform('cli', { WRENN_WARM_POOL_SIZE: '1' });
    home = await mkdtemp(join(tmpdir(), 'wrenn-cli-home-'));
    sdk = new WrennClient({ baseUrl: p.url, apiKey: p.owner.apiKey });
  });
  after(async () => {
    for (const row of await p.sql(`SELECT id FROM sandboxes WHERE state NOT IN ('deleted')`).catch(() => [])) {
      await sdk.destroySandbox(row.id).catch(() => undefined);
    }
    for (const row of await p.sql(`SELECT name FROM templates WHERE state = 'ready'`).catch(() => [])) {
      await sdk.deleteTemplate(row.name).catch(() => undefined);
    }
    await p.stop();
    await rm(home, { recursive: true, force: true });
  });

  /** Runs the CLI with its own HOME, so only `wrenn login` tells it where the API is. */
  const wrenn = (args: string[], input?: string): Promise<Run> =>
    new Promise((resolve, reject) => {
      const env: Record<string, string> = { ...p.childEnv, HOME: home };
      delete env.XDG_CONFIG_HOME;
      delete env.WRENN_API_URL;
      delete env.WRENN_API_KEY;
      const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });
  /** Adds --json (before a `--`, after which everything is the remote command's) and parses stdout. */
  const json = async (args: string[]) => {
    const dashes = args.indexOf('--');
    const run = await wrenn(dashes < 0 ? [...args, '--json'] : [...args.slice(0, dashes), '--json', ...args.slice(dashes)]);
    assert.equal(run.code, 0, `wrenn ${args.join(' ')}: ${run.stderr}`);
    return JSON.parse(run.stdout);
  };

  it('refuses API commands before login, then logs in with email and password and saves a 0600 config', async () => {
    const before = await wrenn(['sandbox', 'ls']);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /not logged in/);

    const wrong = await wrenn(['login', '--url', p.url, '--email', p.owner.email, '--password-stdin'], 'not the password\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /unauthorized/);
    await assert.rejects(stat(join(home, '.config/wrenn/config.json')), 'a refused login saves nothing');

    const logged = await wrenn(['login', '--url', p.url, '--email', p.owner.email, '--password-stdin', '--json'], `${p.owner.password}\n`);
    assert.equal(logged.code, 0, logged.stderr);
    const summary = JSON.parse(logged.stdout);
    assert.equal(summary.email, p.owner.email);
    assert.equal(summary.team_id, p.owner.teamId);
    const file = join(home, '.config/wrenn/config.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(home, '.config/wrenn'))).mode & 0o777, 0o700);
    const saved = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(saved.url, p.url);
    assert.match(saved.apiKey, /^wrn_/);
    assert.ok(saved.token);
    // The key login made is a real key of the owner's team.
    const keys = await new WrennClient({ baseUrl: p.url, token: p.owner.token }).listApiKeys();
    assert.ok(keys.some((k) => saved.apiKey.startsWith(k.prefix) && k.name.startsWith('cli@')));

    // An API key alone works too, and a bad one is refused without touching the saved login.
    const bad = await wrenn(['login', '--url', p.url, '--api-key', 'wrn_not-a-key']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unauthorized/);
    assert.equal(JSON.parse(await readFile(file, 'utf8')).apiKey, saved.apiKey);
    const byKey = await wrenn(['login', '--url', p.url, '--api-key', p.owner.apiKey]);
    assert.equal(byKey.code, 0, byKey.stderr);
    assert.equal(JSON.parse(await readFile(file, 'utf8')).apiKey, p.owner.apiKey);
  });

  it('creates, lists, runs commands in, pauses, resumes and removes a sandbox', async () => {
    const created = await json(['sandbox', 'create', '--memory', '128']);
    assert.match(created.id, /^sb_[0-9a-z]{26}$/);
    assert.equal(created.state, 'running');
    assert.equal(created.memory_mb, 128);
    assert.equal((await sdk.getSandbox(created.id)).state, 'running');

    const listed = await json(['sandbox', 'ls']);
    assert.ok(listed.some((s: { id: string; state: string }) => s.id === created.id && s.state === 'running'));
    const table = await wrenn(['sandbox', 'ls']);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^ID\s+STATE\s+TEMPLATE/m);
    assert.match(table.stdout, new RegExp(`^${created.id}\\s+running\\s+base`, 'm'));

    const run = await wrenn(['sandbox', 'exec', created.id, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(run.code, 3, 'the command’s exit code is the CLI’s');
    assert.equal(run.stdout, 'out\n');
    assert.match(run.stderr, /^err$/m);
    const withEnv = await json(['sandbox', 'exec', created.id, '-e', 'GREETING=hi there', '--', 'sh', '-c', 'echo "$GREETING"']);
    assert.equal(withEnv.stdout, 'hi there\n');
    assert.equal(withEnv.exit_code, 0);

    // shell without a terminal: stdin is the script, no PTY; the exit code comes back.
    const sh = await wrenn(['sandbox', 'shell', created.id, 'sh'], 'echo $((6 * 7)) > /root/answer; cat /root/answer; exit 5\n');
    assert.equal(sh.code, 5, sh.stderr);
    assert.equal(sh.stdout, '42\n');

    // shell on a terminal (util-linux `script` gives the CLI one): raw mode, a PTY in the
    // sandbox, and the exit code through.
    const viaTty = await new Promise<Run>((resolve, reject) => {
      const env: Record<string, string> = { ...p.childEnv, HOME: home, TERM: 'xterm' };
      const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} sandbox shell ${created.id} /bin/bash`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
        // Type only once the remote shell has printed its prompt.
        if (/[#$] $/.test(stdout) && !stdout.includes('tty-check')) child.stdin.write('echo tty-check; tty; exit 7\r');
      });
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
    assert.equal(viaTty.code, 7, viaTty.stdout + viaTty.stderr);
    assert.match(viaTty.stdout, /tty-check\r*\n\/dev\/pts\/\d+/);

    const paused = await json(['sandbox', 'pause', created.id]);
    assert.equal(paused.state, 'paused');
    assert.equal((await sdk.getSandbox(created.id)).state, 'paused');
    const resumed = await json(['sandbox', 'resume', created.id]);
    assert.equal(resumed.state, 'running');
    assert.equal(await sdk.readFile(created.id, { path: '/root/answer' }), '42\n', 'files survive pause and resume');

    const removed = await json(['sandbox', 'rm', created.id]);
    assert.ok(['deleting', 'deleted'].includes(removed.state), removed.state);
    await eventually(async () => (await sdk.getSandbox(created.id)).state === 'deleted', 30_000, 'the sandbox to be deleted');
    assert.ok(!(await json(['sandbox', 'ls'])).some((s: { id: string }) => s.id === created.id), 'plain ls hides stopped sandboxes');
    assert.ok((await json(['sandbox', 'ls', '--all'])).some((s: { id: string }) => s.id === created.id));
  });

  it('creates, lists and removes templates, refusing to remove one in use; snapshot create|ls|rm still work, with a warning', async () => {
    const source = await sdk.createSandbox({ memory_mb: 128 });
    await sdk.exec(source.id, { cmd: 'sh', args: ['-c', 'echo seeded > /root/seed'] });
    const made = await json(['template', 'create', source.id, 'cli-tpl']);
    assert.equal(made.name, 'cli-tpl');
    assert.equal(made.state, 'ready');
    const listed = await json(['template', 'ls']);
    assert.deepEqual(listed.map((t: { name: string }) => t.name), ['cli-tpl']);
    assert.match((await wrenn(['template', 'ls'])).stdout, /^cli-tpl\s+ready\s+sb_/m);
    // The old name of the command, for one release.
    const old = await wrenn(['snapshot', 'ls']);
    assert.equal(old.code, 0);
    assert.match(old.stdout, /^cli-tpl\s+ready\s+sb_/m);
    assert.match(old.stderr, /`snapshot ls` is deprecated/);

    const child = await json(['sandbox', 'create', '--template', 'cli-tpl']);
    assert.equal(child.template, 'cli-tpl');
    assert.equal(await sdk.readFile(child.id, { path: '/root/seed' }), 'seeded\n');
    const refused = await wrenn(['template', 'rm', 'cli-tpl', '--json']);
    assert.equal(refused.code, 1);
    const error = JSON.parse(refused.stderr).error;
    assert.equal(error.code, 'template_in_use');
    assert.equal(error.status, 409);
    assert.equal((await sdk.listTemplates()).length, 1, 'a refused delete changes nothing');

    assert.equal((await wrenn(['sandbox', 'rm', child.id, source.id])).code, 0);
    assert.deepEqual(await json(['template', 'rm', 'cli-tpl']), { deleted: ['cli-tpl'] });
    assert.deepEqual(await sdk.listTemplates(), []);
  });

  it('reports API errors with their code, and lists live hosts', async () => {
    const missing = await wrenn(['sandbox', 'rm', 'sb_00000000000000000000000000']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^wrenn: sandbox_not_found: /m);
    const invalid = await wrenn(['sandbox', 'create', '--memory', '1']);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /validation_failed/);

    const hosts = await json(['host', 'ls']);
    const mine = hosts.find((h: { hostId: string }) => h.hostId === p.hostId);
    assert.ok(mine, JSON.stringify(hosts));
    assert.equal(mine.live, true);
    assert.equal(mine.runtime, 'namespace');
    assert.match((await wrenn(['host', 'ls'])).stdout, new RegExp(`^${p.hostId}\\s+yes\\s+namespace`, 'm'));
  });
});
