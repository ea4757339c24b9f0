import { readFileSync } from 'node:fs';

/** uid/gid → name from the sandbox's passwd and group files, re-read at most once a second. */
let cache: { at: number; users: Map<number, string>; groups: Map<number, string> } | undefined;

function load() {
  if (cache && Date.now() - cache.at < 1000) return cache;
  const parse = (file: string) => {
    const map = new Map<number, string>();
    try {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const parts = line.split(':');
        if (parts.length > 2) map.set(Number(parts[2]), parts[0]);
      }
    } catch {
      /* no such file: ids stay numeric */
    }
    return map;
  };
  cache = { at: Date.now(), users: parse('/etc/passwd'), groups: parse('/etc/group') };
  return cache;
}

export const userName = (uid: number) => load().users.get(uid) ?? String(uid);
export const groupName = (gid: number) => load().groups.get(gid) ?? String(gid);
