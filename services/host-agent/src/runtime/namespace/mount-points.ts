import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Every path the start mounts something on, relative to the root: directories, then files. The
 * agent makes each a real directory (or file) in the upper dir of a sandbox that is not running,
 * so a planted symlink can't break a start (the helper itself refuses to follow one).
 */
export function mountPoints(userProcsFiles: number, options: { envd?: boolean } = {}): { dirs: string[]; files: string[] } {
  // envd inside the sandbox needs the Node binary and its bundle bound in; the host's envd none.
  const envd = options.envd ?? true;
  return {
    dirs: ['proc', 'dev', 'sys', ...(envd ? ['opt', 'opt/wrenn', 'opt/wrenn/bin', 'opt/wrenn/envd'] : []), 'run', 'run/wrenn', 'run/wrenn/cgroup'],
    files: [...(envd ? ['opt/wrenn/bin/node'] : []), ...Array.from({ length: userProcsFiles }, (_, i) => `run/wrenn/cgroup/${i + 1}.procs`)],
  };
}

/**
 * Makes each path (relative to the root) a real directory, and each file path an empty regular
 * file, in the upper dir — replacing whatever else the sandbox left there (a symlink, a file, a
 * whiteout, a directory where a file goes). The overlay shows the upper's entry above anything
 * in a lower layer, so these paths of the merged root then hold no symlink: a sandbox's start
 * can mount on them without being led outside. Only for a sandbox that is not running.
 */
export async function ensureMountPoints(upper: string, points: { dirs: string[]; files: string[] }): Promise<void> {
  const dir = async (rel: string) => {
    let path = upper;
    for (const part of rel.split('/').filter(Boolean)) {
      path = join(path, part);
      const st = await lstat(path).catch(() => undefined);
      if (st?.isDirectory()) continue;
      if (st) await rm(path, { force: true });
      await mkdir(path, { mode: 0o755 });
    }
  };
  for (const rel of points.dirs) await dir(rel);
  for (const rel of points.files) {
    await dir(dirname(rel));
    const path = join(upper, rel);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isFile()) continue;
    if (st) await rm(path, { force: true, recursive: true });
    await writeFile(path, '', { flag: 'wx', mode: 0o644 });
  }
}
