import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The auth service as operators run it (its main), with a JWT secret that is too short. */
describe('auth service start', () => {
  it('refuses to start with a JWT secret under 32 bytes, and says why', async () => {
    const child = spawn(process.execPath, [join(__dirname, 'main.js')], {
      env: { ...process.env, WRENN_JWT_SECRET: 'too-short-secret', WRENN_NS: 'jwtcheck' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    clearTimeout(timer);
    assert.notEqual(code, 0, 'it exits with a failure');
    assert.notEqual(code, null, 'it exits on its own (it was not killed at the deadline)');
    assert.match(output, /WRENN_JWT_SECRET is 16 bytes; it must be at least 32 bytes/);
  });
});
