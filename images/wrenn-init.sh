#!/bin/sh
# PID 1 of a Wrenn Firecracker guest (installed as /usr/local/sbin/wrenn-init, booted with
# init=/usr/local/sbin/wrenn-init). It mounts the kernel file systems, takes the sandbox's
# hostname, nameservers and address from the kernel command line, and hands PID 1 to tini,
# which runs envd and reaps orphans.
#
# Kernel command line it reads:
#   ip=<guest>::<gateway>:<netmask>::<device>:off   (applied here if the kernel did not)
#   wrenn.hostname=<name>   wrenn.dns=<ip>[,<ip>…]
set -u
# The guest's root and its kernel command line. (The host test runs a copy of this script with
# these two lines pointed at a stand-in directory and file; the shipped init reads nothing else.)
root=
cmdline_file=/proc/cmdline
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { echo "wrenn-init: $*" >&2; }

# Mounts $1 (type) on $2 with options $3 unless something is mounted there already (the kernel
# may have mounted devtmpfs itself).
mount_fs() {
  mkdir -p "$2"
  mountpoint -q "$2" || mount -t "$1" -o "$3" "$1" "$2" || log "could not mount $1 on $2"
}

mount_fs proc "$root/proc" nosuid,nodev,noexec
mount_fs sysfs "$root/sys" nosuid,nodev,noexec
mount_fs devtmpfs "$root/dev" nosuid,mode=0755
mount_fs devpts "$root/dev/pts" nosuid,noexec,newinstance,ptmxmode=0666,mode=0620
mount_fs tmpfs "$root/dev/shm" nosuid,nodev,mode=1777
mount_fs tmpfs "$root/run" nosuid,nodev,mode=0755
mount_fs tmpfs "$root/tmp" nosuid,nodev,mode=1777
[ -e "$root/dev/ptmx" ] || ln -s pts/ptmx "$root/dev/ptmx"
[ -e "$root/dev/fd" ] || ln -s /proc/self/fd "$root/dev/fd"
for n in 0:stdin 1:stdout 2:stderr; do
  [ -e "$root/dev/${n#*:}" ] || ln -s "/proc/self/fd/${n%%:*}" "$root/dev/${n#*:}"
done

hostname=wrenn
dns=
ipconf=
for arg in $(cat "$cmdline_file"); do
  case "$arg" in
    wrenn.hostname=*) hostname=${arg#*=} ;;
    wrenn.dns=*) dns=${arg#*=} ;;
    ip=*) ipconf=${arg#ip=} ;;
  esac
done

# sethostname through /proc: the hostname tool refuses the "_" of sandbox ids.
printf %s "$hostname" > /proc/sys/kernel/hostname || log "could not set the hostname"
printf '%s\n' "$hostname" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n' "$hostname" > "$root/etc/hosts"

: > "$root/etc/resolv.conf"
old_ifs=$IFS
IFS=,
for server in $dns; do echo "nameserver $server" >> "$root/etc/resolv.conf"; done
IFS=$old_ifs
echo "options timeout:2 attempts:2" >> "$root/etc/resolv.conf"

# 255.255.255.252 → 30
prefix_of() {
  bits=0
  old_ifs=$IFS
  IFS=.
  for octet in $1; do
    case "$octet" in
      255) bits=$((bits + 8)) ;; 254) bits=$((bits + 7)) ;; 252) bits=$((bits + 6)) ;; 248) bits=$((bits + 5)) ;;
      240) bits=$((bits + 4)) ;; 224) bits=$((bits + 3)) ;; 192) bits=$((bits + 2)) ;; 128) bits=$((bits + 1)) ;;
    esac
  done
  IFS=$old_ifs
  echo "$bits"
}

ip link set lo up
if [ -n "$ipconf" ]; then
  old_ifs=$IFS
  IFS=:
  # shellcheck disable=SC2086
  set -- $ipconf
  IFS=$old_ifs
  guest=${1:-}; gateway=${3:-}; netmask=${4:-}; device=${6:-eth0}
  # A kernel built with CONFIG_IP_PNP has configured it already; otherwise do it here.
  if [ -n "$guest" ] && ! ip -4 -o addr show dev "$device" 2>/dev/null | grep -q "inet $guest/"; then
    ip addr add "$guest/$(prefix_of "$netmask")" dev "$device" || log "could not address $device"
  fi
  ip link set "$device" up || log "could not bring $device up"
  if [ -n "$gateway" ] && ! ip route show default | grep -q .; then
    ip route add default via "$gateway" dev "$device" || log "could not add the default route"
  fi
fi

export ENVD_PORT=49983 HOME=/root
cd "$root/" || exit 1
exec tini -s -- "$root/opt/wrenn/bin/node" "$root/opt/wrenn/envd/envd.js"
