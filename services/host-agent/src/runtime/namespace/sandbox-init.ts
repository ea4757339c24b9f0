/**
 * Capabilities a sandbox's processes keep (the rest are dropped from the bounding set before the
 * init runs, so nothing inside can regain them): enough for package managers, users and
 * networking tools; no CAP_SYS_ADMIN (mounts, namespaces), no CAP_MKNOD, no module or raw I/O.
 */
export const SANDBOX_CAPABILITIES = [
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'net_bind_service', 'net_raw', 'sys_chroot', 'audit_write', 'setfcap',
] as const;

/**
 * The sandbox's first process (bash): closes every inherited file descriptor above stderr — the
 * agent may have been started holding pipes and sockets the sandbox must never see — joins the
 * sandbox's cgroups, then becomes the rest of the command line (nsenter → unshare), so every
 * process of the sandbox is born inside its cgroups with nothing of the host open.
 * Arguments: procs files…, "--", command…
 */
export const CGROUP_JOIN_SCRIPT = String.raw`
for fd in /proc/$$/fd/*; do
  # Parameter expansion, not basename: one fork+exec per inherited fd adds up on every start.
  fd=${'$'}{fd##*/}
  if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do echo $$ > "$1"; shift; done
shift
exec "$@"
`;

/**
 * The whole start of a sandbox in one process: the host's perl, run as PID 1 of the new pid
 * namespace (after `unshare --mount --uts --ipc --pid --fork` inside the sandbox's network
 * namespace), making system calls itself — no program is started until tini, which is one
 * exec instead of the two dozen a shell script of mount, cp and friends costs on every create
 * and resume.
 *
 * It builds the root inside the sandbox's own mount namespace (none of these mounts exist in the
 * host's mount table): the overlay, /proc, a /dev tmpfs with the allowed device nodes (made
 * within the device cgroup's allowlist), the /proc/self/fd links, devpts and /dev/shm, the
 * platform's Node binary and envd bound read-only, the user cgroups' procs files bound; then
 * pivot_root into it and detach the old root, so no path leads to the host any more; opens the
 * init's log inside the sandbox; drops every capability but the kept ones from the bounding set;
 * and execs tini, which runs the init with those alone.
 *
 * The root may hold a user's files from an earlier life (a resumed snapshot, a template), so
 * nothing runs from it while privileged, and nothing is created or written through a path in
 * it: the agent made every mount point a real directory or file in the upper dir beforehand
 * (see mountPoints()), which the overlay shows above anything a lower layer has, so no planted
 * symlink is on these paths; /dev is a tmpfs of ours before anything is made in it.
 *
 * Arguments: syscall numbers ("mount=165,…"), capabilities to keep (numbers, comma-separated),
 * root (merged dir), lower (colon-separated), upper, work, hostname, node binary or "", envd dir
 * or "", procs files (space-separated) or "", then the command tini runs as PID 1's child.
 */
export const SANDBOX_INIT = String.raw`
use strict;
my ($nrs, $keep, $root, $lower, $upper, $work, $name, $node, $envd, $procs) = splice(@ARGV, 0, 10);
my %nr = split /[=,]/, $nrs;
my %keep = map { $_ => 1 } split /,/, $keep;
use constant {
  MS_RDONLY => 1, MS_NOSUID => 2, MS_NODEV => 4, MS_NOEXEC => 8, MS_REMOUNT => 32, MS_BIND => 4096,
  MNT_DETACH => 2, PR_CAPBSET_DROP => 24, AT_FDCWD => -100, S_IFCHR => 0020000,
};
# syscall() wants writable arguments: copies, never literals.
sub sys { my $name = shift; my @args = map { my $copy = $_; $copy } @_; my $r = syscall($nr{$name} + 0, @args); die "$name(@_): $!\n" if $r == -1; }
sub mnt { my ($source, $target, $type, $flags, $data) = @_; sys('mount', $source, $target, $type, $flags + 0, defined $data ? $data : 0); }
sub bind_path {
  my ($source, $target, $ro) = @_;
  mnt($source, $target, 0, MS_BIND);
  mnt(0, $target, 0, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV) if $ro;
}
umask 0;
mnt('overlay', $root, 'overlay', 0, "lowerdir=$lower,upperdir=$upper,workdir=$work");
# sethostname through /proc (still the host's here; the UTS namespace is the sandbox's).
open(my $host, '>', '/proc/sys/kernel/hostname') or die "hostname: $!\n"; print $host $name; close $host or die "hostname: $!\n";
chdir $root or die "chdir $root: $!\n";
mnt('proc', 'proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC);
mnt('tmpfs', 'dev', 'tmpfs', MS_NOSUID, 'mode=755,size=1m');
for (['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]) {
  my ($dev, $major, $minor) = @$_;
  sys('mknodat', AT_FDCWD + 0, "dev/$dev", (S_IFCHR | 0666) + 0, (($major << 8) | $minor) + 0);
}
symlink($_->[0], "dev/$_->[1]") or die "symlink dev/$_->[1]: $!\n"
  for ['/proc/self/fd', 'fd'], ['/proc/self/fd/0', 'stdin'], ['/proc/self/fd/1', 'stdout'], ['/proc/self/fd/2', 'stderr'], ['pts/ptmx', 'ptmx'];
mkdir('dev/pts', 0755) or die "mkdir dev/pts: $!\n";
mkdir('dev/shm', 01777) or die "mkdir dev/shm: $!\n";
mnt('devpts', 'dev/pts', 'devpts', 0, 'newinstance,ptmxmode=0666,mode=0620');
mnt('tmpfs', 'dev/shm', 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=1777');
umask 022;
# The platform's Node binary and envd, read-only: the sandbox can run them, never change them.
if (length $node) {
  bind_path($node, 'opt/wrenn/bin/node', 1);
  bind_path($envd, 'opt/wrenn/envd', 1);
}
# envd moves the commands it starts into the limited groups through these files.
my $n = 0;
bind_path($_, 'run/wrenn/cgroup/' . ++$n . '.procs', 0) for grep { length } split / /, $procs;

# The switch: from here on no path leads to the host.
sys('pivot_root', '.', '.wrenn-oldroot');
chdir '/' or die "chdir /: $!\n";
sys('umount2', '/.wrenn-oldroot', MNT_DETACH + 0);
rmdir '/.wrenn-oldroot' or die "rmdir /.wrenn-oldroot: $!\n";

# From here on the init writes to a log inside the sandbox, never to a host file.
mkdir '/var'; mkdir '/var/log';
open(STDIN, '<', '/dev/null');
open(STDOUT, '>>', '/var/log/wrenn-init.log') or die "log: $!\n";
open(STDERR, '>&', \*STDOUT);
# The OOM killer should pick a runaway command, not envd (it resets this for what it starts);
# best effort: some kernels and hypervisors refuse to lower it.
if (open(my $oom, '>', '/proc/self/oom_score_adj')) { print $oom "-1000"; close $oom; }
open(my $last, '<', '/proc/sys/kernel/cap_last_cap') or die "cap_last_cap: $!\n";
my $lastcap = <$last> + 0;
for my $cap (0 .. $lastcap) { sys('prctl', PR_CAPBSET_DROP + 0, $cap + 0, 0, 0, 0) unless $keep{$cap}; }
my @init = ('/usr/bin/tini', '-s', '--', @ARGV);
exec { $init[0] } @init or die "exec $init[0]: $!\n";
`;

/**
 * Every path the start mounts something on, relative to the root: directories, then files.
 * The agent makes each a real directory (or file) in the upper dir before the start.
 */
export function mountPoints(userProcsFiles: number): { dirs: string[]; files: string[] } {
  return {
    dirs: ['proc', 'dev', 'opt', 'opt/wrenn', 'opt/wrenn/bin', 'opt/wrenn/envd', 'run', 'run/wrenn', 'run/wrenn/cgroup', '.wrenn-oldroot'],
    files: ['opt/wrenn/bin/node', ...Array.from({ length: userProcsFiles }, (_, i) => `run/wrenn/cgroup/${i + 1}.procs`)],
  };
}

/** Linux capability numbers of SANDBOX_CAPABILITIES (include/uapi/linux/capability.h). */
export const CAPABILITY_NUMBERS: Record<(typeof SANDBOX_CAPABILITIES)[number], number> = {
  chown: 0, dac_override: 1, fowner: 3, fsetid: 4, kill: 5, setgid: 6, setuid: 7, setpcap: 8,
  net_bind_service: 10, net_raw: 13, sys_chroot: 18, audit_write: 29, setfcap: 31,
};

/** The few system calls SANDBOX_INIT makes, by architecture (Node's process.arch). */
export const SYSCALL_NUMBERS: Record<string, Record<'mount' | 'umount2' | 'pivot_root' | 'prctl' | 'mknodat', number>> = {
  x64: { mount: 165, umount2: 166, pivot_root: 155, prctl: 157, mknodat: 259 },
  arm64: { mount: 40, umount2: 39, pivot_root: 41, prctl: 167, mknodat: 33 },
};
