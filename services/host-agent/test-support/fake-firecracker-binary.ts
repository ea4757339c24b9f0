import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FIRECRACKER_SPEC_PATH, REPO_ROOT } from './firecracker-spec';

/**
 * Writes an executable `fake-firecracker` into `dir` that runs the fake API server with this
 * Node binary: what tests configure as the Firecracker binary path. Faults written to
 * `<dir>/fake-firecracker.faults.json` apply to every fake it starts.
 */
export async function writeFakeFirecrackerBinary(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'fake-firecracker');
  const main = join(__dirname, 'fake-firecracker.main.js');
  const faults = join(dir, 'fake-firecracker.faults.json');
  await writeFile(path, `#!/bin/sh\nexport WRENN_FAKE_FC_FAULTS='${faults}'\nexec '${process.execPath}' '${main}' "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

/**
 * What the stand-in needs in a VMM's jail, where Firecracker (a static binary) needs nothing:
 * /bin/sh, Node and its libraries, this repository (its code and modules), the pinned API spec
 * it checks requests against, and the directory of its shared faults file. Bound read-only at
 * the same paths. The binary's directory must hold nothing else the VMM should see.
 */
export function fakeFirecrackerRuntimeDirs(binaryDir: string): string[] {
  const dirs = ['/bin', '/usr', '/lib', '/lib64', dirname(process.execPath), REPO_ROOT, dirname(FIRECRACKER_SPEC_PATH), binaryDir];
  const within = (d: string, other: string) => d !== other && d.startsWith(`${other}/`);
  return [...new Set(dirs)].filter((d) => existsSync(d) && !dirs.some((other) => within(d, other)));
}
