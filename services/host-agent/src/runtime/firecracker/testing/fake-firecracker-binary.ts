import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes an executable `fake-firecracker` into `dir` that runs the fake API server with this
 * Node binary: what tests configure as the Firecracker binary path. Faults written to
 * `<dir>/fake-firecracker.faults.json` apply to every fake it starts.
 */
export async function writeFakeFirecrackerBinary(dir: string): Promise<string> {
  const path = join(dir, 'fake-firecracker');
  const main = join(__dirname, 'fake-firecracker.main.js');
  const faults = join(dir, 'fake-firecracker.faults.json');
  await writeFile(path, `#!/bin/sh\nexport WRENN_FAKE_FC_FAULTS='${faults}'\nexec '${process.execPath}' '${main}' "$@"\n`);
  await chmod(path, 0o755);
  return path;
}
