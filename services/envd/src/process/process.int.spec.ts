import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { processPb } from '@wrenn/proto';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { basicAuth, collect, EnvdHarness, startEnvd } from '@wrenn/envd-test-support';

const { Signal } = processPb;

async function rejectsWith(promise: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('envd process service (a real envd over Connect, HTTP/1.1)', () => {
  let envd: EnvdHarness;
  before(async () => {
    envd = await startEnvd();
  });
  after(async () => {
    await envd?.stop();
  });

  it('starts `echo hello`: start with a pid, stdout "hello\\n", end with exit 0', async () => {
    const c = await collect(envd.process.start({ process: { cmd: 'echo', args: ['hello'] } }));
    assert.ok(c.pid && c.pid > 0);
    assert.equal(c.stdout, 'hello\n');
    assert.equal(c.stderr, '');
    assert.equal(c.end?.exitCode, 0);
    assert.equal(c.end?.exited, true);
    assert.equal(c.end?.status, 'exit status 0');
    assert.equal(c.end?.error, undefined);
  });

  it('reports stderr and a non-zero exit with its status as the error', async () => {
    const c = await collect(envd.process.start({ process: { cmd: '/bin/sh', args: ['-c', 'echo oops >&2; exit 3'] } }));
    assert.equal(c.stderr, 'oops\n');
    assert.equal(c.end?.exitCode, 3);
    assert.equal(c.end?.error, 'exit status 3');
  });

  it('applies envs over the default env, and cwd', async () => {
    const c = await collect(
      envd.process.start({
        process: { cmd: '/bin/sh', args: ['-c', 'echo "$FOO|$USER|$HOME|$LANG"; pwd'], envs: { FOO: 'bar', LANG: 'en_US.UTF-8' }, cwd: envd.dir },
      }),
    );
    assert.equal(c.stdout, `bar|root|/root|en_US.UTF-8\n${realpathSync(envd.dir)}\n`);
    assert.equal(c.end?.exitCode, 0);
  });

  it('runs in the user\'s home when no cwd is given', async () => {
    const c = await collect(envd.process.start({ process: { cmd: 'pwd' } }));
    assert.equal(c.stdout, '/root\n');
  });

  it('refuses a cwd that does not exist (invalid_argument)', async () => {
    await rejectsWith(collect(envd.process.start({ process: { cmd: 'true', cwd: `${envd.dir}/nope` } })), Code.InvalidArgument);
  });

  it('refuses an unknown user (unauthenticated), as E2B\'s envd does', async () => {
    const stream = envd.process.start({ process: { cmd: 'true' } }, { headers: { authorization: basicAuth('no-such-user-here') } });
    await rejectsWith(collect(stream), Code.Unauthenticated);
  });

  it('passes SendInput to stdin and CloseStdin ends it', async () => {
    const stream = envd.process.start({ process: { cmd: 'cat' }, stdin: true });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.value.event?.event.case, 'start');
    const pid = (first.value.event!.event.value as processPb.ProcessEvent_StartEvent).pid;
    await envd.process.sendInput({ process: { selector: { case: 'pid', value: pid } }, input: { input: { case: 'stdin', value: Buffer.from('ping\n') } } });
    const rest = collect({ [Symbol.asyncIterator]: () => iterator }, (c) => c.stdout.includes('ping\n'));
    assert.equal((await rest).stdout, 'ping\n');
    await envd.process.closeStdin({ process: { selector: { case: 'pid', value: pid } } });
    const end = await collect({ [Symbol.asyncIterator]: () => iterator });
    assert.equal(end.end?.exitCode, 0);
  });

  it('orders StreamInput chunks into stdin', async () => {
    const stream = envd.process.start({ process: { cmd: '/bin/sh', args: ['-c', 'head -c 6'] }, tag: 'stream-input' });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // start
    async function* input() {
      yield create(processPb.StreamInputRequestSchema, { event: { case: 'start', value: { process: { selector: { case: 'tag', value: 'stream-input' } } } } });
      for (const part of ['ab', 'cd', 'ef']) {
        yield create(processPb.StreamInputRequestSchema, { event: { case: 'data', value: { input: { input: { case: 'stdin', value: Buffer.from(part) } } } } });
      }
    }
    await envd.process.streamInput(input());
    const c = await collect({ [Symbol.asyncIterator]: () => iterator });
    assert.equal(c.stdout, 'abcdef');
    assert.equal(c.end?.exitCode, 0);
  });

  it('lists a running process and SendSignal SIGKILL ends `sleep 100`', async () => {
    const stream = envd.process.start({ process: { cmd: 'sleep', args: ['100'] }, tag: 'sleeper' });
    const iterator = stream[Symbol.asyncIterator]();
    const pid = ((await iterator.next()).value.event!.event.value as processPb.ProcessEvent_StartEvent).pid;
    const { processes } = await envd.process.list({});
    const listed = processes.find((p) => p.pid === pid);
    assert.ok(listed, 'the running process is listed');
    assert.equal(listed.tag, 'sleeper');
    assert.equal(listed.config?.cmd, 'sleep');
    assert.deepEqual(listed.config?.args, ['100']);
    await envd.process.sendSignal({ process: { selector: { case: 'pid', value: pid } }, signal: Signal.SIGKILL });
    const c = await collect({ [Symbol.asyncIterator]: () => iterator });
    assert.equal(c.end?.exited, false);
    assert.equal(c.end?.status, 'signal: killed');
    assert.ok(!(await envd.process.list({})).processes.some((p) => p.pid === pid), 'gone from the list once ended');
  });

  it('SendSignal SIGTERM terminates a process', async () => {
    const stream = envd.process.start({ process: { cmd: 'sleep', args: ['100'] } });
    const iterator = stream[Symbol.asyncIterator]();
    const pid = ((await iterator.next()).value.event!.event.value as processPb.ProcessEvent_StartEvent).pid;
    await envd.process.sendSignal({ process: { selector: { case: 'pid', value: pid } }, signal: Signal.SIGTERM });
    const c = await collect({ [Symbol.asyncIterator]: () => iterator });
    assert.equal(c.end?.status, 'signal: terminated');
  });

  it('answers not_found for a process that is not there', async () => {
    await rejectsWith(envd.process.sendSignal({ process: { selector: { case: 'pid', value: 4_000_000 } }, signal: Signal.SIGKILL }), Code.NotFound);
    await rejectsWith(collect(envd.process.connect({ process: { selector: { case: 'tag', value: 'nobody' } } })), Code.NotFound);
  });

  it('Connect re-attaches by tag after the Start stream went away and gets later output', async () => {
    const controller = new AbortController();
    const stream = envd.process.start(
      { process: { cmd: '/bin/sh', args: ['-c', 'read line; echo "got $line"'] }, tag: 'reattach', stdin: true },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    const pid = ((await iterator.next()).value.event!.event.value as processPb.ProcessEvent_StartEvent).pid;
    controller.abort(); // the client goes away; the process keeps running
    await iterator.return?.();
    await sleep(100);
    assert.ok((await envd.process.list({})).processes.some((p) => p.pid === pid));

    const attached = envd.process.connect({ process: { selector: { case: 'tag', value: 'reattach' } } });
    const attachedIterator = attached[Symbol.asyncIterator]();
    const start = await attachedIterator.next();
    assert.equal(start.value.event?.event.case, 'start');
    assert.equal((start.value.event!.event.value as processPb.ProcessEvent_StartEvent).pid, pid);
    await envd.process.sendInput({ process: { selector: { case: 'pid', value: pid } }, input: { input: { case: 'stdin', value: Buffer.from('later\n') } } });
    const c = await collect({ [Symbol.asyncIterator]: () => attachedIterator });
    assert.equal(c.stdout, 'got later\n');
    assert.equal(c.end?.exitCode, 0);
  });

  it('sends keepalives at the interval the Keepalive-Ping-Interval header asks for', async () => {
    const c = await collect(envd.process.start({ process: { cmd: 'sleep', args: ['2.2'] } }, { headers: { 'keepalive-ping-interval': '1' } }));
    assert.ok(c.keepalives >= 1, `keepalives: ${c.keepalives}`);
    assert.equal(c.end?.exitCode, 0);
  });

  it('ends when the process exits even if a background child keeps its output open', async () => {
    const started = Date.now();
    const c = await collect(envd.process.start({ process: { cmd: '/bin/sh', args: ['-c', 'sleep 30 & echo $!'] } }));
    const orphan = Number(c.stdout.trim());
    process.kill(orphan, 'SIGKILL'); // left behind on purpose by the command: not envd's to reap
    assert.ok(orphan > 0);
    assert.equal(c.end?.exitCode, 0);
    assert.ok(Date.now() - started < 10_000);
  });

  it('runs a PTY: output as pty data, the requested size, Update resizes it', async () => {
    const stream = envd.process.start({ process: { cmd: '/bin/sh' }, pty: { size: { cols: 100, rows: 30 } }, tag: 'pty' });
    const iterator = stream[Symbol.asyncIterator]();
    const pid = ((await iterator.next()).value.event!.event.value as processPb.ProcessEvent_StartEvent).pid;
    const selector = { selector: { case: 'pid' as const, value: pid } };
    const send = (text: string) => envd.process.sendInput({ process: selector, input: { input: { case: 'pty', value: Buffer.from(text) } } });
    const rest = { [Symbol.asyncIterator]: () => iterator };
    await send('stty size\n');
    assert.match((await collect(rest, (c) => c.pty.includes('30 100'))).pty, /30 100/);
    await envd.process.update({ process: selector, pty: { size: { cols: 120, rows: 40 } } });
    await send('stty size\n');
    assert.match((await collect(rest, (c) => c.pty.includes('40 120'))).pty, /40 120/);
    await send('exit 0\n');
    const end = await collect(rest);
    assert.equal(end.end?.exitCode, 0);
  });
});
