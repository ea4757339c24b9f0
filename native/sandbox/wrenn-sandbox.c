// wrenn-sandbox: starts one namespace sandbox (or, with "mode<TAB>vmm" first in its plan, jails one
// Firecracker VMM: see vmm-jail.h). Run by the host agent as host root; reads its
// plan on stdin, reports on fd 3, and ends as the sandbox's first program (PID 1 of its own pid
// namespace), with nothing of the host left to it.
//
// Two processes come out of it:
//   supervisor — joins the sandbox's cgroups and network namespace, makes its user namespace,
//                builds the root filesystem (needs host privilege: idmapped layers, overlayfs,
//                sysfs), then enters the user namespace, unshares the rest and forks; it stays as
//                the parent of the sandbox (unprivileged on the host) and exits with its status.
//   init       — root of the sandbox's user namespace: hostname, /proc with its masks and
//                read-only knobs, /dev, /sys, the platform's binds, pivot_root, then the process
//                hardening (capabilities, no_new_privs, seccomp, fds) and exec: of the plan's
//                program, or, with "agent<TAB><host socket path>" in the plan, of the init agent
//                that serves the host over that socket (init-agent.h).
//
// Every step is named; a failure reports "error <step>: <errno text>" on fd 3 and exits 1.
// Success is fd 3 reaching end-of-file (it is close-on-exec) after one "pid <host pid>" line.
//
// Paths inside the sandbox root are never followed through symlinks while the host is still
// visible: each component is opened with O_NOFOLLOW, and mounts target the opened fd.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 64
#define STATUS_FD 3

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct bind {
  char *source;
  char *target; // relative to the sandbox root
  int readonly;
};

struct plan {
  char *uid_map, *gid_map; // "inside outside count"
  unsigned long root_uid, root_gid; // host ids of the sandbox's root
  char *cgroups[MAX_ITEMS];
  int ncgroups;
  char *netns;
  char *oom_score_adj;
  char *lowers[MAX_ITEMS]; // top first
  int nlowers;
  char *disk; // directory holding upper/ and work/
  char *merged;
  char *stage; // empty directory for the supervisor's staging mounts
  char *hostname;
  struct bind binds[MAX_ITEMS];
  int nbinds;
  int keep_caps[CAP_LAST_CAP + 1];
  char *seccomp_profile;
  char *log;
  char *env[MAX_ITEMS + 1];
  int nenv;
  char *argv[MAX_ITEMS + 1];
  int nargv;
  char *agent; // host path of the init's socket: the init serves it instead of exec'ing argv
};

static const char *step = "plan";

static void fail(const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  dprintf(STATUS_FD, "error %s: %s\n", step, message);
  _exit(1);
}

static void check(int result, const char *what) {
  if (result < 0) fail("%s: %s", what, strerror(errno));
}

// ---- the plan ------------------------------------------------------------------------------

static char *read_all(int fd) {
  size_t size = 0, cap = 4096;
  char *buf = malloc(cap);
  for (;;) {
    if (size + 1 >= cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + size, cap - size - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read: %s", strerror(errno));
    if (n == 0) break;
    size += (size_t)n;
  }
  buf[size] = 0;
  return buf;
}

// One "key<TAB>value[<TAB>value]" per line; values may hold spaces.
static void parse(struct plan *p, char *text) {
  memset(p, 0, sizeof *p);
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char *value = strchr(line, '\t');
    if (!value) fail("line without a value: %s", line);
    *value++ = 0;
    const char *key = line;
#define ADD(array, count)                             \
  do {                                                \
    if ((count) >= MAX_ITEMS) fail("too many %s", key); \
    (array)[(count)++] = value;                       \
  } while (0)
    if (!strcmp(key, "uidmap")) p->uid_map = value;
    else if (!strcmp(key, "gidmap")) p->gid_map = value;
    else if (!strcmp(key, "cgroup")) ADD(p->cgroups, p->ncgroups);
    else if (!strcmp(key, "netns")) p->netns = value;
    else if (!strcmp(key, "oom")) p->oom_score_adj = value;
    else if (!strcmp(key, "lower")) ADD(p->lowers, p->nlowers);
    else if (!strcmp(key, "disk")) p->disk = value;
    else if (!strcmp(key, "merged")) p->merged = value;
    else if (!strcmp(key, "stage")) p->stage = value;
    else if (!strcmp(key, "hostname")) p->hostname = value;
    else if (!strcmp(key, "seccomp")) p->seccomp_profile = value;
    else if (!strcmp(key, "log")) p->log = value;
    else if (!strcmp(key, "env")) ADD(p->env, p->nenv);
    else if (!strcmp(key, "arg")) ADD(p->argv, p->nargv);
    else if (!strcmp(key, "agent")) p->agent = value;
    else if (!strcmp(key, "cap")) {
      int cap = atoi(value);
      if (cap < 0 || cap > CAP_LAST_CAP) fail("capability %s out of range", value);
      p->keep_caps[cap] = 1;
    } else if (!strcmp(key, "ro") || !strcmp(key, "rw")) {
      if (p->nbinds >= MAX_ITEMS) fail("too many binds");
      char *target = strchr(value, '\t');
      if (!target) fail("bind without a target: %s", value);
      *target++ = 0;
      p->binds[p->nbinds++] = (struct bind){value, target, key[1] == 'o'};
    } else fail("unknown key %s", key);
  }
  if (!p->uid_map || !p->gid_map || !p->merged || !p->disk || !p->stage || !p->nlowers || (!p->nargv && !p->agent))
    fail("the plan needs uidmap, gidmap, lower, disk, merged, stage and arg (or agent)");
  unsigned long inside, count;
  if (sscanf(p->uid_map, "%lu %lu %lu", &inside, &p->root_uid, &count) != 3 || inside != 0)
    fail("uidmap must map 0: %s", p->uid_map);
  if (sscanf(p->gid_map, "%lu %lu %lu", &inside, &p->root_gid, &count) != 3 || inside != 0)
    fail("gidmap must map 0: %s", p->gid_map);
  if (p->root_uid == 0 || p->root_gid == 0) fail("the sandbox's root must not be the host's");
}

// ---- small helpers -------------------------------------------------------------------------

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("open %s: %s", path, strerror(errno));
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) fail("write %s: %s", path, strerror(errno));
  close(fd);
}

static const char *fd_path(int fd) {
  static char path[2][64];
  static int which;
  which ^= 1;
  snprintf(path[which], sizeof path[which], "/proc/self/fd/%d", fd);
  return path[which];
}

// Opens `rel` below `dirfd` one component at a time, never following a symlink, creating
// missing directories (and the last component as `kind`: 'd' directory, 'f' file).
static int open_beneath(int dirfd, const char *rel, char kind) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", rel);
  int cur = dup(dirfd);
  char *save = NULL;
  char *next = NULL;
  for (char *part = strtok_r(buf, "/", &save); part; part = next) {
    next = strtok_r(NULL, "/", &save);
    if (!strcmp(part, "..") || !strcmp(part, ".")) fail("unsafe path %s", rel);
    int last = next == NULL;
    int fd;
    if (last && kind == 'f') {
      fd = openat(cur, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) fd = openat(cur, part, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) fail("%s is not a regular file", rel);
      }
    } else {
      fd = openat(cur, part, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) {
        if (mkdirat(cur, part, 0755) < 0 && errno != EEXIST) fail("mkdir %s: %s", rel, strerror(errno));
        fd = openat(cur, part, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
      }
    }
    if (fd < 0) fail("open %s (at %s): %s", rel, part, errno == ENOTDIR || errno == ELOOP ? "a symlink or not a directory" : strerror(errno));
    close(cur);
    cur = fd;
  }
  return cur;
}

static void mount_at(const char *source, int target, const char *type, unsigned long flags, const char *data, const char *what) {
  if (mount(source, fd_path(target), type, flags, data) < 0) fail("mount %s: %s", what, strerror(errno));
}

// A bind of `source` (and what is mounted below it) on `target`, its flags set before it is
// attached: with the mount API's detached tree, no remount of a path is needed.
static void bind_at(const char *source, int target, uint64_t attrs, const char *what) {
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) fail("bind %s: %s", what, strerror(errno));
  struct mount_attr attr = {.attr_set = attrs};
  if (attrs && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) fail("flags of %s: %s", what, strerror(errno));
  if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) fail("attach %s: %s", what, strerror(errno));
  close(tree);
}

// An idmapped view of `source` (disk ids shown through the sandbox's user namespace) at `target`.
static void idmapped_mount(const char *source, const char *target, int userns, uint64_t extra) {
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) fail("open_tree %s: %s", source, strerror(errno));
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP | extra, .userns_fd = (uint64_t)userns};
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) fail("idmap %s: %s", source, strerror(errno));
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) fail("move_mount %s: %s", source, strerror(errno));
  close(tree);
}

// ---- supervisor steps (host root) ----------------------------------------------------------

// A user namespace with the plan's maps, held by a short-lived child; answers an fd to it.
static int make_userns(const struct plan *p) {
  int ready[2], done[2];
  check(pipe2(ready, O_CLOEXEC), "pipe");
  check(pipe2(done, O_CLOEXEC), "pipe");
  pid_t child = fork();
  check(child, "fork");
  if (child == 0) {
    close(done[1]);
    close(ready[0]);
    char c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'x';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    (void)read(done[0], &c, 1); // until the parent holds the namespace
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char c = 0;
  if (read(ready[0], &c, 1) != 1 || c != 'u') fail("unshare(CLONE_NEWUSER) failed in the holder");
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/uid_map", child);
  write_file(path, p->uid_map);
  snprintf(path, sizeof path, "/proc/%d/gid_map", child);
  write_file(path, p->gid_map);
  snprintf(path, sizeof path, "/proc/%d/ns/user", child);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open %s: %s", path, strerror(errno));
  close(done[1]);
  close(ready[0]);
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
  return fd;
}

// The sandbox's root: its layers seen through the user namespace's ids, overlaid, at `merged`;
// its sysfs (of its network namespace), read-only with firmware masked, staged for the init.
static void build_root(const struct plan *p, int userns) {
  char dir[4096], lowerdir[8192] = "", options[12288];
  step = "stage";
  // Owned by the sandbox's root, which binds the staged sysfs from here (private to the sandbox).
  snprintf(options, sizeof options, "mode=0700,size=64k,uid=%lu,gid=%lu", p->root_uid, p->root_gid);
  check(mount("tmpfs", p->stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options), "tmpfs on stage");
  step = "idmap";
  for (int i = 0; i < p->nlowers; i++) {
    snprintf(dir, sizeof dir, "%s/l%d", p->stage, i);
    check(mkdir(dir, 0700), "mkdir layer");
    idmapped_mount(p->lowers[i], dir, userns, MOUNT_ATTR_RDONLY);
    size_t used = strlen(lowerdir);
    snprintf(lowerdir + used, sizeof lowerdir - used, "%s%s", i ? ":" : "", dir);
  }
  snprintf(dir, sizeof dir, "%s/disk", p->stage);
  check(mkdir(dir, 0700), "mkdir disk");
  idmapped_mount(p->disk, dir, userns, 0);
  step = "overlay";
  // The overlay acts with its mounter's credentials; on the idmapped upper those must be a
  // mapped id, so it is mounted as the sandbox's root, with the capabilities kept effective.
  setfsuid((uid_t)p->root_uid);
  setfsgid((gid_t)p->root_gid);
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct caps[2];
  check((int)syscall(SYS_capget, &header, caps), "capget");
  caps[0].effective = caps[0].permitted;
  caps[1].effective = caps[1].permitted;
  check((int)syscall(SYS_capset, &header, caps), "capset");
  snprintf(options, sizeof options, "lowerdir=%s,upperdir=%s/disk/upper,workdir=%s/disk/work", lowerdir, p->stage, p->stage);
  int r = mount("overlay", p->merged, "overlay", MS_NOSUID | MS_NODEV, options);
  int saved = errno;
  setfsuid(0);
  setfsgid(0);
  errno = saved;
  check(r, "mount overlay");
  step = "sysfs";
  snprintf(dir, sizeof dir, "%s/sys", p->stage);
  check(mkdir(dir, 0700), "mkdir sys");
  check(mount("sysfs", dir, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount sysfs");
  snprintf(dir, sizeof dir, "%s/sys/firmware", p->stage);
  check(mount("tmpfs", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0"), "mask /sys/firmware");
}

// ---- init steps (root of the sandbox's user namespace) -------------------------------------

static const char *const MASKED_FILES[] = {"kcore", "keys", "timer_list", "sched_debug", "latency_stats", "timer_stats", "sysrq-trigger"};
static const char *const MASKED_DIRS[] = {"acpi", "scsi"};
static const char *const READONLY[] = {"sys", "irq", "bus", "fs", "asound"};
static const char *const DEVICES[] = {"null", "zero", "full", "random", "urandom", "tty"};

static void setup_proc(int root) {
  step = "proc";
  int proc = open_beneath(root, "proc", 'd');
  mount_at("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "proc");
  close(proc);
  proc = open_beneath(root, "proc", 'd'); // the new mount's root, not the directory under it
  for (size_t i = 0; i < sizeof MASKED_FILES / sizeof *MASKED_FILES; i++) {
    int fd = openat(proc, MASKED_FILES[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue; // not on this kernel
    mount_at("/dev/null", fd, NULL, MS_BIND, NULL, MASKED_FILES[i]);
    close(fd);
  }
  for (size_t i = 0; i < sizeof MASKED_DIRS / sizeof *MASKED_DIRS; i++) {
    int fd = openat(proc, MASKED_DIRS[i], O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;
    mount_at("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", MASKED_DIRS[i]);
    close(fd);
  }
  for (size_t i = 0; i < sizeof READONLY / sizeof *READONLY; i++) {
    int fd = openat(proc, READONLY[i], O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;
    bind_at(fd_path(fd), fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, READONLY[i]);
    close(fd);
  }
  close(proc);
}

static void setup_dev(int root) {
  step = "dev";
  int dev = open_beneath(root, "dev", 'd');
  mount_at("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", "/dev");
  close(dev);
  dev = open_beneath(root, "dev", 'd');
  // Device nodes can't be made in a user namespace: the host's own nodes are bound in (the
  // cgroup's device allowlist is what lets them open).
  for (size_t i = 0; i < sizeof DEVICES / sizeof *DEVICES; i++) {
    int fd = openat(dev, DEVICES[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) fail("create /dev/%s: %s", DEVICES[i], strerror(errno));
    char source[64];
    snprintf(source, sizeof source, "/dev/%s", DEVICES[i]);
    mount_at(source, fd, NULL, MS_BIND, NULL, source);
    close(fd);
  }
  static const char *const links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) check(symlinkat(links[i][0], dev, links[i][1]), "symlink in /dev");
  int pts = open_beneath(dev, "pts", 'd');
  mount_at("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", "/dev/pts");
  close(pts);
  int shm = open_beneath(dev, "shm", 'd');
  mount_at("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", "/dev/shm");
  close(shm);
  close(dev);
}

static void setup_binds(const struct plan *p, int root) {
  step = "sys";
  char staged[4096];
  snprintf(staged, sizeof staged, "%s/sys", p->stage);
  int sys = open_beneath(root, "sys", 'd');
  bind_at(staged, sys, 0, "/sys");
  close(sys);
  step = "binds";
  for (int i = 0; i < p->nbinds; i++) {
    const struct bind *b = &p->binds[i];
    struct stat st;
    if (stat(b->source, &st) < 0) fail("%s: %s", b->source, strerror(errno));
    int target = open_beneath(root, b->target, S_ISDIR(st.st_mode) ? 'd' : 'f');
    bind_at(b->source, target, (b->readonly ? MOUNT_ATTR_RDONLY : MOUNT_ATTR_NOEXEC) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, b->target);
    close(target);
  }
}

static void enter_root(int root) {
  step = "pivot_root";
  // pivot_root(".", "."): the old root ends up under the new one and is detached at once, so no
  // directory in the sandbox is needed for it and no path leads back to the host.
  check(fchdir(root), "fchdir");
  check((int)syscall(SYS_pivot_root, ".", "."), "pivot_root");
  check(umount2(".", MNT_DETACH), "detach the host's root");
  check(chdir("/"), "chdir /");
}

static void open_log(const char *path) {
  step = "log";
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  check(null, "open /dev/null");
  check(dup2(null, 0), "stdin");
  int log = -1;
  if (path) {
    // Inside the sandbox now: whatever this path leads to, it stays in the sandbox.
    (void)mkdir("/var", 0755);
    (void)mkdir("/var/log", 0755);
    log = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
  }
  check(dup2(log >= 0 ? log : null, 1), "stdout");
  check(dup2(log >= 0 ? log : null, 2), "stderr");
  if (log >= 0) close(log);
  close(null);
}

static void drop_capabilities(const struct plan *p) {
  step = "capabilities";
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
    if (p->keep_caps[cap]) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) fail("drop capability %d: %s", cap, strerror(errno));
  }
  check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities");
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct caps[2] = {{0}};
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
    if (!p->keep_caps[cap]) continue;
    caps[cap / 32].effective |= 1u << (cap % 32);
    caps[cap / 32].permitted |= 1u << (cap % 32);
  }
  check((int)syscall(SYS_capset, &header, caps), "capset");
}

// The profile is data: "default errno N", "allow NAME…", "allow-if NAME ARG OP VALUE [MASK]"
// (OP eq, ne or masked_eq), "errno N NAME…". Names this architecture lacks are skipped.
static scmp_filter_ctx build_seccomp(const char *path) {
  step = "seccomp";
  FILE *f = fopen(path, "re");
  if (!f) fail("%s: %s", path, strerror(errno));
  char line[8192];
  scmp_filter_ctx ctx = NULL;
  while (fgets(line, sizeof line, f)) {
    char *save = NULL;
    char *word = strtok_r(line, " \t\n", &save);
    if (!word || word[0] == '#') continue;
    if (!strcmp(word, "default")) {
      char *kind = strtok_r(NULL, " \t\n", &save), *num = strtok_r(NULL, " \t\n", &save);
      if (!kind || strcmp(kind, "errno") || !num) fail("bad default line");
      ctx = seccomp_init(SCMP_ACT_ERRNO(atoi(num)));
      if (!ctx) fail("seccomp_init failed");
      continue;
    }
    if (!ctx) fail("the profile must start with its default");
    if (!strcmp(word, "allow") || !strcmp(word, "errno")) {
      uint32_t action = SCMP_ACT_ALLOW;
      if (word[0] == 'e') {
        char *num = strtok_r(NULL, " \t\n", &save);
        if (!num) fail("errno line without a number");
        action = SCMP_ACT_ERRNO(atoi(num));
      }
      for (char *name = strtok_r(NULL, " \t\n", &save); name; name = strtok_r(NULL, " \t\n", &save)) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) continue;
        int r = seccomp_rule_add(ctx, action, nr, 0);
        if (r < 0) fail("rule for %s: %s", name, strerror(-r));
      }
    } else if (!strcmp(word, "allow-if")) {
      char *name = strtok_r(NULL, " \t\n", &save), *arg = strtok_r(NULL, " \t\n", &save);
      char *op = strtok_r(NULL, " \t\n", &save), *value = strtok_r(NULL, " \t\n", &save);
      char *mask = strtok_r(NULL, " \t\n", &save);
      if (!name || !arg || !op || !value) fail("bad allow-if line");
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue;
      unsigned idx = (unsigned)atoi(arg);
      scmp_datum_t v = strtoull(value, NULL, 0);
      struct scmp_arg_cmp cmp;
      if (!strcmp(op, "eq")) cmp = SCMP_CMP(idx, SCMP_CMP_EQ, v);
      else if (!strcmp(op, "ne")) cmp = SCMP_CMP(idx, SCMP_CMP_NE, v);
      else if (!strcmp(op, "masked_eq") && mask) cmp = SCMP_CMP(idx, SCMP_CMP_MASKED_EQ, strtoull(mask, NULL, 0), v);
      else fail("bad comparison %s", op);
      int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, cmp);
      if (r < 0) fail("rule for %s: %s", name, strerror(-r));
    } else fail("unknown profile line %s", word);
  }
  fclose(f);
  if (!ctx) fail("empty profile");
  return ctx;
}

// ---- agent mode (see init-agent.h) ------------------------------------------------------------

// Host root, host filesystem: binds and listens on `path` (0600, replacing a stale socket).
static int agent_listen(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) fail("%s: path too long for a socket", path);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  check(fd, "socket");
  if (unlink(path) < 0 && errno != ENOENT) fail("remove %s: %s", path, strerror(errno));
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  check(r, "bind");
  check(chmod(path, 0600), "chmod");
  check(listen(fd, 64), "listen");
  return fd;
}

// The agent program beside this helper, opened now (host filesystem) for the init to exec later.
static int open_agent_program(void) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
  if (n < 0) fail("readlink /proc/self/exe: %s", strerror(errno));
  self[n] = 0;
  char *slash = strrchr(self, '/');
  strcpy(slash + 1, "wrenn-init-agent");
  int fd = open(self, O_PATH | O_CLOEXEC);
  if (fd < 0) fail("%s: %s", self, strerror(errno));
  return fd;
}

static void run_init(struct plan *p, int agent_fd, int agent_program) {
  step = "hostname";
  if (p->hostname) check(sethostname(p->hostname, strlen(p->hostname)), "sethostname");
  // The filter is built from the host's profile file now and loaded last, just before the exec.
  scmp_filter_ctx filter = p->seccomp_profile ? build_seccomp(p->seccomp_profile) : NULL;
  step = "root";
  // The overlay came from the supervisor's namespace, so it is locked here and can't be pivoted
  // into: a bind of it onto itself is the sandbox's own mount, and the one it pivots into.
  int below = open(p->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
  check(below, "open the root");
  bind_at(p->merged, below, 0, "the root");
  close(below);
  int root = open(p->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
  check(root, "open the root");
  setup_proc(root);
  setup_dev(root);
  setup_binds(p, root);
  enter_root(root);
  close(root);
  open_log(p->log);
  drop_capabilities(p);
  step = "no_new_privs";
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
  if (filter) {
    step = "seccomp";
    int r = seccomp_load(filter);
    if (r < 0) fail("seccomp_load: %s", strerror(-r));
    seccomp_release(filter);
  }
  step = "fds";
  // Nothing but stdio survives the exec (fd 3, the status pipe, is close-on-exec already).
  check((int)syscall(SYS_close_range, 4, ~0U, CLOSE_RANGE_CLOEXEC), "close_range");
  if (agent_fd >= 0) {
    // PID 1 becomes the agent: the listening socket is the one fd it keeps.
    step = "exec agent";
    check(fcntl(agent_fd, F_SETFD, 0), "keep the socket");
    char fd_text[16];
    snprintf(fd_text, sizeof fd_text, "%d", agent_fd);
    char *agent_argv[] = {"wrenn-init", fd_text, NULL};
    char *agent_env[] = {NULL};
    syscall(SYS_execveat, agent_program, "", agent_argv, agent_env, AT_EMPTY_PATH);
    fail("%s", strerror(errno));
  }
  step = "exec";
  p->argv[p->nargv] = NULL;
  p->env[p->nenv] = NULL;
  execve(p->argv[0], p->argv, (char **)p->env);
  fail("%s: %s", p->argv[0], strerror(errno));
}

#include "vmm-jail.h"

int main(void) {
  struct plan p;
  if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0) return 2; // no status pipe: not started by the agent
  char *text = read_all(0);
  // The other job: a plan that opens with "mode<TAB>vmm" jails one Firecracker VMM.
  static const char VMM_MODE[] = "mode\tvmm\n";
  if (!strncmp(text, VMM_MODE, sizeof VMM_MODE - 1)) return vmm_main(text + sizeof VMM_MODE - 1);
  parse(&p, text);

  step = "fds";
  // The agent may hold sockets and pipes the sandbox must never see.
  check((int)syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0), "close_range");
  int agent_fd = -1, agent_program = -1;
  if (p.agent) {
    // Bound as host root on the host's filesystem (the sandbox's state dir); the listening fd
    // goes through the namespaces and pivot_root with the init, never to the sandbox's processes.
    step = "agent socket";
    agent_program = open_agent_program();
    agent_fd = agent_listen(p.agent);
  }
  step = "cgroups";
  char pid[32];
  snprintf(pid, sizeof pid, "%d", getpid());
  for (int i = 0; i < p.ncgroups; i++) write_file(p.cgroups[i], pid);
  if (p.oom_score_adj) {
    // Lowering it takes host privilege: done here, inherited by the init (envd resets it for
    // the commands it starts), so the OOM killer picks a runaway command, not envd.
    step = "oom";
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!write(fd, p.oom_score_adj, strlen(p.oom_score_adj));
      close(fd);
    }
  }
  if (p.netns) {
    step = "netns";
    int fd = open(p.netns, O_RDONLY | O_CLOEXEC);
    check(fd, "open netns");
    check(setns(fd, CLONE_NEWNET), "setns net");
    close(fd);
  }
  step = "userns";
  int userns = make_userns(&p);
  step = "mount namespace";
  check(unshare(CLONE_NEWNS), "unshare mount");
  check(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
  build_root(&p, userns);

  step = "enter userns";
  check(setns(userns, CLONE_NEWUSER), "setns user");
  close(userns);
  check(setgroups(0, NULL), "setgroups");
  check(setresgid(0, 0, 0), "setresgid");
  check(setresuid(0, 0, 0), "setresuid");
  step = "namespaces";
  // Made by the user namespace's root, so the sandbox owns them; the mount namespace is a copy
  // of the one built above, and a copy across a user namespace locks every mount in it.
  check(unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWCGROUP), "unshare");

  pid_t init = fork();
  check(init, "fork");
  if (init == 0) {
    run_init(&p, agent_fd, agent_program);
    return 1;
  }
  if (agent_fd >= 0) {
    close(agent_fd);
    close(agent_program);
  }
  dprintf(STATUS_FD, "pid %d\n", init);
  close(STATUS_FD);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
  }
  // The supervisor: reaps the init and exits with its status.
  for (;;) {
    int status;
    pid_t r = waitpid(init, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  }
}
