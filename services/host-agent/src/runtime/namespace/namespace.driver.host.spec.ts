import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NamespaceDriver } from './namespace.driver';
import { childrenOf, isZombieOrGone, signal, startTime } from './proc';

/**
 * The kill of a booted sandbox finds its helper by the pid its record holds, not by a walk of
 * /proc: these prove it still ends the helper (and what it left), and that it leaves alone a
 * process that only has the recorded pid (reused since).
 */
describe(`${NamespaceDriver.name} kill`, () => {
  const started: ChildProcess[] = [];
  const groups: number[] = [];
  const dirs: string[] = [];
  after(async () => {
    // A fake helper's whole group: killing its shell alone would orphan its `sleep`, which
    // outlives the file (the helper a kill left alone is never ended by the driver).
    for (const pgid of groups) signal(-pgid, 'SIGKILL');
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /**
   * A process whose command line is a sandbox helper's for `dir` (…/wrenn-sandbox <dir>/merged),
   * with a child; in a process group of its own so that the cleanup ends both. Returned once the
   * child exists (a loaded host may take long to fork it) or the shell has ended.
   */
  const fakeHelper = async (dir: string) => {
    const script = join(dir, 'wrenn-sandbox');
    await writeFile(script, 'sleep 60 &\nwait\n');
    const child = spawn('sh', [script, `${dir}/merged`], { stdio: 'ignore', detached: true });
    groups.push(child.pid!);
    while (child.exitCode === null && (await childrenOf(child.pid!)).length === 0) await new Promise((r) => setTimeout(r, 5));
    return child;
  };
  const booted = async (supervisorPid: number) => {
    // An init already gone: its pid is this process's, its start time one it never had.
    return { initPid: process.pid, initStart: `${Number(await startTime(process.pid)) + 1}`, supervisorPid };
  };

  it('kills the helper recorded for the sandbox, and its children', async () => {
    const dir = await mkdtemp('/tmp/wrenn-tdriver-');
    dirs.push(dir);
    const helper = await fakeHelper(dir);
    const children = await childrenOf(helper.pid!);
    assert.equal(children.length, 1);
    await new NamespaceDriver().kill(await booted(helper.pid!), dir);
    assert.ok(await isZombieOrGone(helper.pid!), 'the helper is gone');
    assert.ok(await isZombieOrGone(children[0]), "the helper's child is gone");
  });

  it('leaves alone a process that holds the recorded pid but is no helper of that sandbox', async () => {
    const dir = await mkdtemp('/tmp/wrenn-tdriver-');
    const other = await mkdtemp('/tmp/wrenn-tdriver-');
    dirs.push(dir, other);
    // Another sandbox's helper, and an unrelated program, each standing at the recorded pid.
    const helper = await fakeHelper(other);
    const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
    started.push(unrelated);
    for (const pid of [helper.pid!, unrelated.pid!]) await new NamespaceDriver().kill(await booted(pid), dir);
    assert.equal(await isZombieOrGone(helper.pid!), false);
    assert.equal(await isZombieOrGone(unrelated.pid!), false);
  });
});
