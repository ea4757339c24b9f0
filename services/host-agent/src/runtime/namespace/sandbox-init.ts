/**
 * The first moments of a sandbox, run by `sh` as PID 1 of the new pid namespace (after
 * `unshare --mount --uts --ipc --net --pid --fork`). It builds the root inside the sandbox's own
 * mount namespace — so none of these mounts exist in the host's mount table — then pivots into
 * it, drops the old root entirely, and execs the init.
 *
 * Positional arguments: $1 root (merged dir), $2 lower, $3 upper, $4 work, $5 hostname.
 */
export const SANDBOX_INIT_SCRIPT = String.raw`
set -eu
root=$1; lower=$2; upper=$3; work=$4; name=$5
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
# sethostname without the hostname tool's RFC check: sandbox ids contain "_".
printf %s "$name" > /proc/sys/kernel/hostname
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,mode=755,size=1m tmpfs "$root/dev"
for d in null zero full random urandom tty; do
  touch "$root/dev/$d"
  mount --bind "/dev/$d" "$root/dev/$d"
done
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/tmp"
ip link set lo up
cd "$root"
mkdir -p .wrenn-oldroot
pivot_root . .wrenn-oldroot
cd /
umount -l /.wrenn-oldroot
rmdir /.wrenn-oldroot
exec /usr/bin/tini -s -- /bin/sleep infinity
`;
