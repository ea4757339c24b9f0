/**
 * A test stand-in for the `firecracker` binary: serves FakeFirecrackerApi on the `--api-sock`
 * path it is given, as Firecracker does, and records calls next to it
 * (`fake-firecracker.calls.jsonl`); faults to inject are read from `fake-firecracker.faults.json`
 * in the same directory and from $WRENN_FAKE_FC_FAULTS (set by the wrapper script). It runs no VM.
 */
import { variable } from '@wrenn/config';
import { dirname, join } from 'node:path';
import { FakeFirecrackerApi } from './fake-firecracker-api';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  // Its call log outlives it: a resumed sandbox's next VMM may run under another id (another slot).
  process.umask(0);
  const socketPath = arg('--api-sock');
  if (!socketPath) {
    process.stderr.write('usage: fake-firecracker --api-sock <path> [--id <id>]\n');
    process.exit(2);
  }
  const dir = dirname(socketPath);
  const api = new FakeFirecrackerApi({
    socketPath,
    callLog: join(dir, 'fake-firecracker.calls.jsonl'),
    faultsFile: join(dir, 'fake-firecracker.faults.json'),
    sharedFaultsFile: variable('WRENN_FAKE_FC_FAULTS'),
  });
  await api.listen();
  process.stdout.write(`fake firecracker serving ${socketPath} (id ${arg('--id') ?? '-'})\n`);
  const stop = () => void api.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main().catch((error) => {
  process.stderr.write(`fake firecracker: ${(error as Error).stack}\n`);
  process.exit(1);
});
