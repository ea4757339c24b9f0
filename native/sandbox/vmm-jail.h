// The helper's second job: jail one Firecracker VMM, as Firecracker's own jailer does. Included
// by wrenn-sandbox.c (one program: it shares the plan reader, the status pipe and the mount
// steps with the namespace sandbox).
//
// Plan (after the "mode<TAB>vmm" line), one "key<TAB>value[<TAB>value]" a line:
//   uid N / gid N          the VMM's host ids (never 0)
//   cgroup FILE            cgroup.procs files the VMM is born in (every controller)
//   netns PATH             the network namespace (slot) holding its TAP
//   chroot DIR             the jail: a host directory, pivoted into
//   tmpfs REL              a small tmpfs at REL in the jail (device nodes live on these)
//   dir REL                a directory at REL owned by the VMM (0700): where it may write
//   dev NODE REL           a device node at REL with NODE's type and number, the VMM's own
//                          (0600); a regular file (a file-backed drive) is chowned and bound
//   ro SOURCE REL          SOURCE bound read-only at REL (the binary, the kernel, a snapshot)
//   sock SOURCE REL        a Unix socket, made the VMM's (0600) and bound at REL
//   arg VALUE              the command line; arg 0 is a path inside the jail
// Jail entries are applied in plan order. Nothing else of the host is in the jail: no /proc,
// no /sys, no other device.
//
// Steps, each named in "error <step>: …" on fd 3:
//   fds → cgroups → netns → namespaces (mount, pid, ipc) → fork
//   parent: "pid <host pid of the VMM>" on fd 3, exits (the VMM is re-adopted by pid + start time)
//   child (pid 1 of its pid namespace): jail → pivot_root → stdio → identity (bounding set
//   emptied, groups, gid, uid) → no_new_privs → fds → exec. Firecracker then installs its own
//   seccomp filters; nothing here turns them off.

enum jail_kind { JAIL_TMPFS, JAIL_DIR, JAIL_DEV, JAIL_RO, JAIL_SOCK };

struct jail_entry {
  enum jail_kind kind;
  char *source; // host path (dev, ro, sock)
  char *target; // relative to the jail
};

struct vmm_plan {
  unsigned long uid, gid;
  char *cgroups[MAX_ITEMS];
  int ncgroups;
  char *netns;
  char *chroot;
  struct jail_entry entries[MAX_ITEMS];
  int nentries;
  char *argv[MAX_ITEMS + 1];
  int nargv;
};

static unsigned long parse_id(const char *key, const char *value) {
  char *end;
  errno = 0;
  unsigned long id = strtoul(value, &end, 10);
  if (errno || *end || end == value || id == 0 || id >= 0xffffffffUL) fail("%s must be a host id other than 0: %s", key, value);
  return id;
}

static void parse_vmm(struct vmm_plan *p, char *text) {
  memset(p, 0, sizeof *p);
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char *value = strchr(line, '\t');
    if (!value) fail("line without a value: %s", line);
    *value++ = 0;
    const char *key = line;
    if (!strcmp(key, "uid")) p->uid = parse_id(key, value);
    else if (!strcmp(key, "gid")) p->gid = parse_id(key, value);
    else if (!strcmp(key, "cgroup")) {
      if (p->ncgroups >= MAX_ITEMS) fail("too many cgroups");
      p->cgroups[p->ncgroups++] = value;
    } else if (!strcmp(key, "netns")) p->netns = value;
    else if (!strcmp(key, "chroot")) p->chroot = value;
    else if (!strcmp(key, "arg")) {
      if (p->nargv >= MAX_ITEMS) fail("too many args");
      p->argv[p->nargv++] = value;
    } else {
      static const struct { const char *key; enum jail_kind kind; int has_source; } kinds[] = {
          {"tmpfs", JAIL_TMPFS, 0}, {"dir", JAIL_DIR, 0}, {"dev", JAIL_DEV, 1}, {"ro", JAIL_RO, 1}, {"sock", JAIL_SOCK, 1}};
      size_t i = 0;
      while (i < sizeof kinds / sizeof *kinds && strcmp(kinds[i].key, key)) i++;
      if (i == sizeof kinds / sizeof *kinds) fail("unknown key %s", key);
      if (p->nentries >= MAX_ITEMS) fail("too many jail entries");
      struct jail_entry *e = &p->entries[p->nentries++];
      e->kind = kinds[i].kind;
      if (kinds[i].has_source) {
        char *target = strchr(value, '\t');
        if (!target) fail("%s without a target: %s", key, value);
        *target++ = 0;
        e->source = value;
        e->target = target;
      } else {
        e->target = value;
      }
    }
  }
  if (!p->uid || !p->gid || !p->chroot || !p->netns || !p->nargv) fail("the plan needs uid, gid, chroot, netns and arg");
  if (p->argv[0][0] != '/') fail("the VMM binary must be a path inside the jail: %s", p->argv[0]);
}

// ---- jail steps (the child: pid 1 of the new pid namespace, still host root) -----------------

// Opens the directory of `rel` below `root` (made if missing) and answers it; *name is the last
// component.
static int open_parent(int root, const char *rel, char *copy, size_t size, const char **name) {
  snprintf(copy, size, "%s", rel);
  char *slash = strrchr(copy, '/');
  if (!slash) {
    *name = copy;
    return dup(root);
  }
  *slash = 0;
  *name = slash + 1;
  return open_beneath(root, copy, 'd');
}

static void own(int fd, const char *name, const struct vmm_plan *p, mode_t mode, const char *what) {
  if (fchownat(fd, name, (uid_t)p->uid, (gid_t)p->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) fail("chown %s: %s", what, strerror(errno));
  // O_PATH descriptors take no fchmod: through /proc, which names exactly this inode.
  if (!*name && chmod(fd_path(fd), mode) < 0) fail("chmod %s: %s", what, strerror(errno));
  if (*name && fchmodat(fd, name, mode, 0) < 0) fail("chmod %s: %s", what, strerror(errno));
}

static void jail_tmpfs(int root, const struct jail_entry *e) {
  int dir = open_beneath(root, e->target, 'd');
  // Not nodev: the VMM's device nodes live here, and only here.
  mount_at("wrenn-vmm", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", e->target);
  close(dir);
}

static void jail_dir(int root, const struct jail_entry *e, const struct vmm_plan *p) {
  int dir = open_beneath(root, e->target, 'd');
  own(dir, "", p, 0700, e->target);
  close(dir);
}

// A node of the host device's type and number, the VMM's alone: it opens it without any group
// of the host (the cgroup's device list still decides what opens).
static void jail_dev(int root, const struct jail_entry *e, const struct vmm_plan *p) {
  struct stat st;
  if (lstat(e->source, &st) < 0) fail("%s: %s", e->source, strerror(errno));
  if (S_ISREG(st.st_mode)) {
    // A file-backed drive: the VMM's own file, bound in.
    int file = open(e->source, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (file < 0) fail("%s: %s", e->source, strerror(errno));
    own(file, "", p, 0600, e->source);
    int target = open_beneath(root, e->target, 'f');
    bind_at(fd_path(file), target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, e->target);
    close(target);
    close(file);
    return;
  }
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) fail("%s is neither a device nor a file", e->source);
  char copy[4096];
  const char *name;
  int dir = open_parent(root, e->target, copy, sizeof copy, &name);
  if (mknodat(dir, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0) fail("mknod %s: %s", e->target, strerror(errno));
  own(dir, name, p, 0600, e->target);
  close(dir);
}

static void jail_ro(int root, const struct jail_entry *e) {
  struct stat st;
  if (stat(e->source, &st) < 0) fail("%s: %s", e->source, strerror(errno));
  int target = open_beneath(root, e->target, S_ISDIR(st.st_mode) ? 'd' : 'f');
  bind_at(e->source, target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, e->target);
  close(target);
}

static void jail_sock(int root, const struct jail_entry *e, const struct vmm_plan *p) {
  int sock = open(e->source, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (sock < 0 || fstat(sock, &st) < 0) fail("%s: %s", e->source, strerror(errno));
  if (!S_ISSOCK(st.st_mode)) fail("%s is not a socket", e->source);
  own(sock, "", p, 0600, e->source);
  int target = open_beneath(root, e->target, 'f');
  bind_at(fd_path(sock), target, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, e->target);
  close(target);
  close(sock);
}

// The jail's root: the chroot dir bound onto itself (pivot_root wants a mount), then each entry.
static int build_jail(const struct vmm_plan *p) {
  step = "jail";
  int below = open(p->chroot, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (below < 0) fail("%s: %s", p->chroot, strerror(errno));
  bind_at(p->chroot, below, MOUNT_ATTR_NOSUID, "the jail");
  close(below);
  int root = open(p->chroot, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  check(root, "open the jail");
  for (int i = 0; i < p->nentries; i++) {
    const struct jail_entry *e = &p->entries[i];
    switch (e->kind) {
      case JAIL_TMPFS: jail_tmpfs(root, e); break;
      case JAIL_DIR: jail_dir(root, e, p); break;
      case JAIL_DEV: jail_dev(root, e, p); break;
      case JAIL_RO: jail_ro(root, e); break;
      case JAIL_SOCK: jail_sock(root, e, p); break;
    }
  }
  return root;
}

// stdin from /dev/null (opened before the pivot: the jail has none); stdout and stderr stay the
// VMM's log, opened by the agent.
static void redirect_stdin(int null) {
  step = "stdio";
  check(dup2(null, 0), "stdin");
  close(null);
}

// Host root → the VMM's unprivileged ids, with nothing to regain: the bounding set is emptied
// first, and a uid change from 0 clears every capability.
static void drop_to_vmm_ids(const struct vmm_plan *p) {
  step = "identity";
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) fail("drop capability %d: %s", cap, strerror(errno));
  }
  check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities");
  check(setgroups(0, NULL), "setgroups");
  check(setresgid((gid_t)p->gid, (gid_t)p->gid, (gid_t)p->gid), "setresgid");
  check(setresuid((uid_t)p->uid, (uid_t)p->uid, (uid_t)p->uid), "setresuid");
  if (setuid(0) == 0) fail("root could be regained");
  step = "no_new_privs";
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
}

static void run_vmm(struct vmm_plan *p) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  check(null, "open /dev/null");
  int root = build_jail(p);
  enter_root(root);
  close(root);
  redirect_stdin(null);
  drop_to_vmm_ids(p);
  step = "fds";
  // Only stdio reaches the VMM (fd 3, the status pipe, is close-on-exec).
  check((int)syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0), "close_range");
  step = "exec";
  p->argv[p->nargv] = NULL;
  char *env[] = {NULL};
  execve(p->argv[0], p->argv, env);
  fail("%s: %s", p->argv[0], strerror(errno));
}

static int vmm_main(char *text) {
  struct vmm_plan p;
  parse_vmm(&p, text);
  step = "fds";
  // The agent may hold sockets and pipes the VMM must never see.
  check((int)syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0), "close_range");
  step = "cgroups";
  char pid[32];
  snprintf(pid, sizeof pid, "%d", getpid());
  for (int i = 0; i < p.ncgroups; i++) write_file(p.cgroups[i], pid);
  step = "netns";
  int netns = open(p.netns, O_RDONLY | O_CLOEXEC);
  check(netns, "open netns");
  check(setns(netns, CLONE_NEWNET), "setns net");
  close(netns);
  step = "namespaces";
  check(unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare");
  check(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
  step = "fork";
  pid_t vmm = fork();
  check(vmm, "fork");
  if (vmm == 0) {
    run_vmm(&p);
    return 1;
  }
  // The VMM reports its own failures on its copy of fd 3; this process is done.
  dprintf(STATUS_FD, "pid %d\n", vmm);
  return 0;
}
