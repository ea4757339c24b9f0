/**
 * Capabilities a sandbox's processes keep (the rest are dropped from the bounding set before the
 * init runs, so nothing inside can regain them): enough for package managers, users and
 * networking tools; no CAP_SYS_ADMIN (mounts, namespaces), no CAP_MKNOD, no module or raw I/O.
 */
export const SANDBOX_CAPABILITIES = [
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'net_bind_service', 'net_raw', 'sys_chroot', 'audit_write', 'setfcap',
];

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
 * The first moments of a sandbox, run by `sh` as PID 1 of the new pid namespace (after
 * `unshare --mount --uts --ipc --pid --fork` inside the sandbox's network namespace). It builds
 * the root inside the sandbox's own mount namespace — so none of these mounts exist in the
 * host's mount table — then hands over to SANDBOX_PIVOT (perl), which pivots into it.
 *
 * The root may hold a user's files from an earlier life (a resumed snapshot, a template), so
 * nothing here creates or writes a file through a path inside it: the agent made every mount
 * point a real directory or file in the upper dir beforehand (see mountPoints()), which the
 * overlay shows above anything a lower layer has, so no planted symlink is on these paths; /dev
 * is a tmpfs of ours before anything is copied into it. Every program run here is the host's.
 *
 * Positional arguments: $1 root (merged dir), $2 lower, $3 upper, $4 work, $5 hostname, $6 the
 * /dev template dir, $7 its entries (space-separated), $8 SANDBOX_PIVOT, then its arguments.
 */
export const SANDBOX_INIT_SCRIPT = String.raw`
set -eu
root=$1; lower=$2; upper=$3; work=$4; name=$5; devtpl=$6; deventries=$7; pivot=$8
shift 8
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
# sethostname without the hostname tool's RFC check: sandbox ids contain "_".
printf %s "$name" > /proc/sys/kernel/hostname
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,mode=755,size=1m tmpfs "$root/dev"
# Device nodes (made by mknod within the device cgroup's allowlist), the fd links and the pts
# and shm mount points, all in one copy (one program instead of a bind, touch and link each).
cd "$devtpl"
# shellcheck disable=SC2086
cp -a $deventries "$root/dev/"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"
cd "$root"
exec perl -e "$pivot" -- "$@"
`;

/**
 * The rest of a sandbox's start, in one trusted process (the host's perl, loaded before the
 * switch) that runs no program of the sandbox's root while it holds its privileges: a resumed
 * or template-made root is the user's, and any of its binaries run with every capability and
 * the host's root still attached would be an escape.
 *
 * In order: bind the platform's files into the root (the Node binary and envd read-only, the
 * user cgroups' procs files), pivot_root into it and detach the old root, so no path leads to
 * the host any more; open the init's log inside the sandbox; drop every capability but the
 * kept ones from the bounding set; exec tini, which runs the init with those alone.
 *
 * Arguments: syscall numbers ("mount=165,…"), capabilities to keep (numbers, comma-separated),
 * node binary or "", envd dir or "", procs files (space-separated) or "", then the command tini
 * runs as PID 1's child. The working directory is the new root.
 */
export const SANDBOX_PIVOT = String.raw`
use strict;
my ($nrs, $keep, $node, $envd, $procs) = splice(@ARGV, 0, 5);
my %nr = split /[=,]/, $nrs;
my %keep = map { $_ => 1 } split /,/, $keep;
use constant { MS_RDONLY => 1, MS_NOSUID => 2, MS_NODEV => 4, MS_REMOUNT => 32, MS_BIND => 4096, MNT_DETACH => 2, PR_CAPBSET_DROP => 24 };
# syscall() wants writable arguments: copies, never literals.
sub sys { my $name = shift; my @args = map { my $copy = $_; $copy } @_; my $r = syscall($nr{$name} + 0, @args); die "$name(@_): $!\n" if $r == -1; }
sub bind_path {
  my ($source, $target, $ro) = @_;
  sys('mount', $source, $target, 0, MS_BIND + 0, 0);
  sys('mount', 0, $target, 0, (MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV) + 0, 0) if $ro;
}
if (length $node) {
  bind_path($node, 'opt/wrenn/bin/node', 1);
  bind_path($envd, 'opt/wrenn/envd', 1);
}
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
export const CAPABILITY_NUMBERS: Record<string, number> = {
  chown: 0, dac_override: 1, fowner: 3, fsetid: 4, kill: 5, setgid: 6, setuid: 7, setpcap: 8,
  net_bind_service: 10, net_raw: 13, sys_chroot: 18, audit_write: 29, setfcap: 31,
};

/** The few system calls SANDBOX_PIVOT makes, by architecture (Node's process.arch). */
export const SYSCALL_NUMBERS: Record<string, Record<'mount' | 'umount2' | 'pivot_root' | 'prctl', number>> = {
  x64: { mount: 165, umount2: 166, pivot_root: 155, prctl: 157 },
  arm64: { mount: 40, umount2: 39, pivot_root: 41, prctl: 167 },
};
