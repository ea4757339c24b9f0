import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeHeader, encodeHeader } from './header-codec';
import { SnapshotHeader, assertBuildId } from './snapshot-header';

/** The header of the snapshot whose newest generation is `buildId`, beside its memory file. */
export function headerFileName(buildId: string): string {
  assertBuildId(buildId);
  return `header.${buildId}`;
}

export async function readHeaderFile(path: string): Promise<SnapshotHeader> {
  return decodeHeader(await readFile(path));
}

/** Writes durably and atomically: a crash leaves the old header or the new one, never half. */
export async function writeHeaderFile(path: string, h: SnapshotHeader): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const f = await open(tmp, 'wx', 0o644);
    try {
      await f.writeFile(encodeHeader(h));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
