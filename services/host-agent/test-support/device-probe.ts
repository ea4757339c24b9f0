// Device probes for host tests of the device allowlist: what a process of a cgroup may open.
import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const EPERM = 1;

export async function waitFor<T>(check: () => T | false | undefined | Promise<T | false | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Tries each check and prints one line per check: "<label> ok [bytes]" or "<label> errno <n>".
 * A check is "<label>|read|<path>", "<label>|write|<path>" or "<label>|mknod|<path>|c|<major>|<minor>".
 */
const PROBE = String.raw`
use strict;
use Fcntl;
for my $spec (@ARGV) {
  my ($label, $op, $path, @node) = split /\|/, $spec;
  if ($op eq 'mknod') {
    my $out = qx(mknod $path @node 2>&1);
    print $? == 0 ? "$label ok\n" : ($out =~ /Operation not permitted/ ? "$label errno 1\n" : "$label failed: $out");
    next;
  }
  my $mode = $op eq 'read' ? O_RDONLY : O_WRONLY;
  my $fh;
  if (!sysopen($fh, $path, $mode)) { print "$label errno ", $! + 0, "\n"; next }
  my $n = $op eq 'read' ? sysread($fh, my $buf, 4) : syswrite($fh, "x");
  print defined $n ? "$label ok $n\n" : "$label io-errno " . ($! + 0) . "\n";
  close $fh;
}
`;

/** Writes the probe to `dir` as a file (`perl -e` would open /dev/null for its script); returns its path. */
export async function writeProbe(dir: string): Promise<string> {
  const path = join(dir, 'probe.pl');
  await writeFile(path, PROBE);
  return path;
}

/**
 * Runs the probe as a process of the cgroup whose cgroup.procs is `procsFile`: the shell writes
 * its own pid there and only then execs the probe, so nothing it opens predates the filter.
 */
export function probeInside(procsFile: string, probe: string, checks: string[]): Promise<Map<string, string>> {
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$WRENN_PROCS" || exit 99; exec perl "$@"', 'sh', probe, ...checks], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', WRENN_PROCS: procsFile },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the probe did not finish in 20 s: ${stderr}`));
    }, 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the probe exited ${code}: ${stderr}`));
      const lines = stdout.trim().split('\n');
      resolve(new Map(lines.map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)])));
    });
  });
}

/**
 * A real device node of this host that this process can open, not in the sandbox allowlist: its
 * refusal inside is the filter's doing. /dev/kvm first (a character device), else a disk.
 */
export function realDevice(): { path: string; type: 'b' | 'c'; major: number; minor: number } | undefined {
  for (const path of ['/dev/kvm', '/dev/vda', '/dev/sda', '/dev/nvme0n1', '/dev/xvda', '/dev/mem', '/dev/loop0']) {
    try {
      const st = statSync(path);
      if (!st.isBlockDevice() && !st.isCharacterDevice()) continue;
      closeSync(openSync(path, 'r'));
      const rdev = st.rdev;
      return { path, type: st.isBlockDevice() ? 'b' : 'c', major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00) };
    } catch {
      /* not on this host, or not openable: try the next */
    }
  }
  return undefined;
}
