import { apiClient } from '../api/cli-config';
import { variable } from '@wrenn/config';

/**
 * An interactive terminal in a sandbox over the exec WebSocket: a PTY sized like ours, our
 * terminal in raw mode (keys go through as typed, Ctrl-C included), resized on SIGWINCH, and the
 * remote exit code as ours. Without a terminal (piped stdin) it runs without a PTY.
 */
export async function shell(id: string, command: string[], options: { user?: string; cwd?: string }): Promise<void> {
  const client = await apiClient();
  const stdin = process.stdin;
  const stdout = process.stdout;
  const tty = Boolean(stdin.isTTY && stdout.isTTY);
  const [cmd, ...args] = command.length > 0 ? command : ['/bin/bash', '-l'];
  const session = client.execStream(id, {
    cmd,
    args,
    user: options.user,
    cwd: options.cwd,
    pty: tty,
    // A terminal that reports no size (0×0, e.g. under `script` without one) gets the classic 80×24.
    cols: tty ? stdout.columns || 80 : undefined,
    rows: tty ? stdout.rows || 24 : undefined,
    env: { TERM: variable('TERM'), LANG: variable('LANG') },
    // A shell lives as long as its user wants it to.
    timeout_sec: 24 * 3600,
  });
  const onResize = () => session.resize(stdout.columns || 80, stdout.rows || 24);
  const onInput = (chunk: Buffer) => session.write(chunk);
  const onEnd = () => session.end();
  session.on('stdout', (data: Buffer) => stdout.write(data));
  session.on('stderr', (data: Buffer) => process.stderr.write(data));
  session.on('started', () => {
    if (tty) {
      stdin.setRawMode(true);
      stdout.on('resize', onResize);
    }
    stdin.on('data', onInput);
    stdin.on('end', onEnd);
    stdin.resume();
  });
  try {
    const exit = await session.done;
    process.exitCode = exit.timed_out ? 124 : exit.exit_code;
  } finally {
    // Give the terminal back exactly as it was, whatever happened.
    if (tty) {
      stdin.setRawMode(false);
      stdout.off('resize', onResize);
    }
    stdin.off('data', onInput);
    stdin.off('end', onEnd);
    stdin.pause();
  }
}
