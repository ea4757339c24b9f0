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
 * host's mount table — then pivots into it, drops the old root entirely, and execs the init
 * with a reduced capability bounding set.
 *
 * Positional arguments: $1 root (merged dir), $2 lower, $3 upper, $4 work, $5 hostname,
 * $6 capabilities (setpriv syntax), $7 node binary or "", $8 envd dir or "", $9 the user groups'
 * cgroup.procs files (space-separated) or "", $10 the /dev template dir (its entries, space-
 * separated, follow as $11), then the init command.
 */
export const SANDBOX_INIT_SCRIPT = String.raw`
set -eu
# Every exec here is on the path of a create and a resume: mount points are made with the
# shell's own redirection (no touch), and read-only binds in one mount call (util-linux ≥ 2.27).
root=$1; lower=$2; upper=$3; work=$4; name=$5; caps=$6; node=$7; envd=$8; userprocs=$9
devtpl=${'$'}{10}; deventries=${'$'}{11}
shift 11
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
# sethostname without the hostname tool's RFC check: sandbox ids contain "_".
printf %s "$name" > /proc/sys/kernel/hostname
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,mode=755,size=1m tmpfs "$root/dev"
# Device nodes (made by mknod within the device cgroup's allowlist), the fd links and the pts
# and shm mount points, all in one copy.
cd "$devtpl"
# shellcheck disable=SC2086
cp -a $deventries "$root/dev/"
cd /
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"
# The platform's Node binary and envd, read-only: the sandbox can run them, never change them.
if [ -n "$node" ]; then
  mkdir -p "$root/opt/wrenn/bin" "$root/opt/wrenn/envd" "$root/run/wrenn/cgroup"
  : > "$root/opt/wrenn/bin/node"
  mount -o bind,ro "$node" "$root/opt/wrenn/bin/node"
  mount -o bind,ro "$envd" "$root/opt/wrenn/envd"
fi
# envd moves the commands it starts into the limited groups through these files.
if [ -n "$userprocs" ]; then
  [ -d "$root/run/wrenn/cgroup" ] || mkdir -p "$root/run/wrenn/cgroup"
  n=0
  for f in $userprocs; do
    n=$((n+1))
    : > "$root/run/wrenn/cgroup/$n.procs"
    mount --bind "$f" "$root/run/wrenn/cgroup/$n.procs"
  done
fi
cd "$root"
mkdir -p .wrenn-oldroot
pivot_root . .wrenn-oldroot
cd /
umount -l /.wrenn-oldroot
rmdir /.wrenn-oldroot
# From here on the init writes to a log inside the sandbox, never to a host file.
mkdir -p /var/log
exec </dev/null >>/var/log/wrenn-init.log 2>&1
# The OOM killer should pick a runaway command, not envd (it resets this for what it starts);
# best effort: some kernels and hypervisors refuse to lower it.
echo -1000 2>/dev/null > /proc/self/oom_score_adj || true
exec setpriv --bounding-set "$caps" -- /usr/bin/tini -s -- "$@"
`;
