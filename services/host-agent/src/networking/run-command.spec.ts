import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError, run } from './run-command';

describe('run', () => {
  it('reports a program that exits before reading its input as its own failure, not an EPIPE', async () => {
    // 4 MiB of input to a program that exits at once: the pipe breaks while it is written.
    for (let i = 0; i < 5; i++) {
      await assert.rejects(run('sh', ['-c', 'exit 3'], { input: 'x'.repeat(4 * 1024 * 1024) }), (e: unknown) => e instanceof CommandError && e.exitCode === 3);
    }
  });

  it('passes input and answers stdout', async () => {
    assert.equal(await run('cat', [], { input: 'hello' }), 'hello');
  });
});
