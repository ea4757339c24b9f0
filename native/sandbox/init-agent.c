// The init's agent loop and the operations its children do (see init-agent.h for the protocol).
#define _GNU_SOURCE
#include "init-agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#define MAX_ARGS 4096
#define MAX_GROUPS 64
#define MAX_CHILDREN 1024
#define MAX_CONNS 8
#define CHUNK 32768
#define USER_CGROUPS "/run/wrenn/cgroup"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct header {
  uint32_t id;
  uint32_t kind;
  int32_t value;
};

// The connection a child answers on (inherited from the init at fork).
static int conn = -1;
static uint32_t request_id;

// ---- replies -------------------------------------------------------------------------------

static int send_reply(int fd, uint32_t id, uint32_t kind, int32_t value, const void *body, size_t len, const int *fds, int nfds) {
  static char buf[sizeof(struct header) + CHUNK + 4096];
  if (len > sizeof buf - sizeof(struct header)) len = sizeof buf - sizeof(struct header);
  struct header h = {id, kind, value};
  memcpy(buf, &h, sizeof h);
  if (len) memcpy(buf + sizeof h, body, len);
  struct iovec iov = {buf, sizeof h + len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  char control[CMSG_SPACE(sizeof(int) * 4)];
  if (nfds > 0) {
    memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  ssize_t r;
  do r = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -1 : 0;
}

// A child's final answers: they end the child.
static void __attribute__((noreturn)) fail_with(int err, const char *step) {
  send_reply(conn, request_id, AGENT_ERR, err, step, strlen(step), NULL, 0);
  _exit(1);
}

static void __attribute__((noreturn)) ok_with(int32_t value, const char *body, size_t len, const int *fds, int nfds) {
  if (send_reply(conn, request_id, AGENT_OK, value, body, len, fds, nfds) < 0) _exit(1);
  _exit(0);
}

// Strings of a reply body, bounded.
struct body {
  char data[CHUNK];
  size_t len;
};

static void add(struct body *b, const char *s) {
  size_t n = strlen(s) + 1;
  if (b->len + n > sizeof b->data) fail_with(E2BIG, "reply");
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void add_num(struct body *b, long long v) {
  char text[32];
  snprintf(text, sizeof text, "%lld", v);
  add(b, text);
}

// ---- the requested user ---------------------------------------------------------------------

static int parse_u32(const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (!*s || *end || errno || v > 0xffffffffUL) return -1;
  *out = v;
  return 0;
}

// Takes the user's groups, gid and uid (in that order: each later step drops the right to the earlier).
static void become(char **args) {
  unsigned long uid, gid, g;
  gid_t groups[MAX_GROUPS];
  int n = 0;
  if (parse_u32(args[0], &uid) < 0 || parse_u32(args[1], &gid) < 0) fail_with(EINVAL, "user");
  char list[1024];
  if (strlen(args[2]) >= sizeof list) fail_with(EINVAL, "groups");
  strcpy(list, args[2]);
  char *save = NULL;
  for (char *part = strtok_r(list, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
    if (n >= MAX_GROUPS || parse_u32(part, &g) < 0) fail_with(EINVAL, "groups");
    groups[n++] = (gid_t)g;
  }
  if (setgroups((size_t)n, groups) < 0) fail_with(errno, "setgroups");
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) fail_with(errno, "setgid");
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) fail_with(errno, "setuid");
}

static void need_absolute(const char *path) {
  if (path[0] != '/') fail_with(EINVAL, "path must be absolute");
}

// ---- operations (each in its own child, as the user) -----------------------------------------

static void add_stat(struct body *b, const struct stat *st) {
  add_num(b, st->st_mode);
  add_num(b, st->st_uid);
  add_num(b, st->st_gid);
  add_num(b, st->st_size);
  add_num(b, (long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000);
}

static void op_entry(const char *path) {
  static struct body b;
  struct stat st, target;
  if (lstat(path, &st) < 0) fail_with(errno, "lstat");
  add_stat(&b, &st);
  if (S_ISLNK(st.st_mode)) {
    char link[4097];
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0) fail_with(errno, "readlink");
    link[n] = 0;
    add(&b, link);
    if (stat(path, &target) == 0) add_stat(&b, &target);
  }
  ok_with(0, b.data, b.len, NULL, 0);
}

static void op_readdir(const char *path) {
  DIR *dir = opendir(path);
  if (!dir) fail_with(errno, "opendir");
  static char chunk[CHUNK];
  size_t len = 0;
  struct dirent *e;
  errno = 0;
  while ((e = readdir(dir))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    size_t n = strlen(e->d_name) + 1;
    if (len + n > sizeof chunk) {
      if (send_reply(conn, request_id, AGENT_MORE, 0, chunk, len, NULL, 0) < 0) _exit(1);
      len = 0;
    }
    memcpy(chunk + len, e->d_name, n);
    len += n;
    errno = 0;
  }
  if (errno) fail_with(errno, "readdir");
  if (len && send_reply(conn, request_id, AGENT_MORE, 0, chunk, len, NULL, 0) < 0) _exit(1);
  ok_with(0, NULL, 0, NULL, 0);
}

static void op_mkdirs(const char *path) {
  static struct body b;
  char prefix[4097];
  if (strlen(path) >= sizeof prefix) fail_with(ENAMETOOLONG, "mkdir");
  for (size_t i = 1;; i++) {
    if (path[i] != '/' && path[i] != 0) continue;
    memcpy(prefix, path, i);
    prefix[i] = 0;
    if (i > 1 && path[i - 1] != '/') {
      if (mkdir(prefix, 0755) == 0) add(&b, prefix);
      else if (errno != EEXIST) fail_with(errno, "mkdir");
      else {
        struct stat st;
        if (stat(prefix, &st) < 0) fail_with(errno, "stat");
        if (!S_ISDIR(st.st_mode)) fail_with(ENOTDIR, "mkdir");
      }
    }
    if (!path[i]) break;
  }
  ok_with(0, b.data, b.len, NULL, 0);
}

// rm -rf below an open directory, never following a symlink.
static int remove_at(int dirfd, const char *name) {
  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return -1;
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *dir = fdopendir(fd);
  if (!dir) {
    close(fd);
    return -1;
  }
  struct dirent *e;
  int result = 0;
  while ((e = readdir(dir))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (remove_at(fd, e->d_name) < 0) result = -1;
  }
  int saved = errno;
  closedir(dir);
  if (result < 0) {
    errno = saved;
    return -1;
  }
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return -1;
  return 0;
}

static void op_remove(const char *path) {
  if (!strcmp(path, "/")) fail_with(EBUSY, "remove /");
  if (remove_at(AT_FDCWD, path) < 0) fail_with(errno, "remove");
  ok_with(0, NULL, 0, NULL, 0);
}

static void op_open_read(const char *path) {
  // Non-blocking open: a FIFO planted at the path must not hang the child.
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail_with(errno, "open");
  struct stat st;
  if (fstat(fd, &st) < 0) fail_with(errno, "fstat");
  if (S_ISDIR(st.st_mode)) fail_with(EISDIR, "open");
  if (!S_ISREG(st.st_mode)) fail_with(EINVAL, "not a regular file");
  fcntl(fd, F_SETFL, 0);
  static struct body b;
  add_num(&b, st.st_size);
  ok_with(0, b.data, b.len, &fd, 1);
}

static void op_open_write(const char *path, const char *mode_text) {
  unsigned long mode;
  if (parse_u32(mode_text, &mode) < 0 || mode > 07777) fail_with(EINVAL, "mode");
  const char *slash = strrchr(path, '/');
  size_t dirlen = (size_t)(slash - path);
  unsigned char random[6];
  if (getrandom(random, sizeof random, 0) != sizeof random) fail_with(errno, "getrandom");
  char temp[4200];
  int n = snprintf(temp, sizeof temp, "%.*s/.%.64s.wrenn-%02x%02x%02x%02x%02x%02x", (int)dirlen, path, slash + 1, random[0], random[1], random[2], random[3], random[4], random[5]);
  if (n < 0 || (size_t)n >= sizeof temp || strlen(slash + 1) == 0) fail_with(ENAMETOOLONG, "temp name");
  int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode & 0777);
  if (fd < 0) fail_with(errno, "create");
  if (fchmod(fd, (mode_t)mode) < 0) {
    int e = errno;
    unlink(temp);
    fail_with(e, "chmod");
  }
  static struct body b;
  add(&b, temp);
  ok_with(0, b.data, b.len, &fd, 1);
}

// ---- watch ------------------------------------------------------------------------------------

#define WATCH_MASK (IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR)
static char **watched; // wd → path
static int nwatched;

static void add_watch(int ino, const char *path, int recursive) {
  int wd = inotify_add_watch(ino, path, WATCH_MASK);
  if (wd < 0) return; // raced with a removal, or not a directory
  if (wd >= nwatched) {
    int n = wd + 64;
    watched = realloc(watched, sizeof *watched * (size_t)n);
    if (!watched) _exit(1);
    memset(watched + nwatched, 0, sizeof *watched * (size_t)(n - nwatched));
    nwatched = n;
  }
  free(watched[wd]);
  watched[wd] = strdup(path);
  if (!recursive) return;
  DIR *dir = opendir(path);
  if (!dir) return;
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char child[4096];
    if (snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") ? path : "", e->d_name) >= (int)sizeof child) continue;
    add_watch(ino, child, 1);
  }
  closedir(dir);
}

// Children inherit the init's lowered OOM score; what lives on (a command, a watcher) gets an
// ordinary one, so the OOM killer picks a runaway there, never the init. Root only: before become().
static void ordinary_oom_score(void) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!write(fd, "0", 1);
    close(fd);
  }
}

static void op_watch(const char *path, int recursive) {
  struct stat st;
  if (stat(path, &st) < 0) fail_with(errno, "stat");
  if (!S_ISDIR(st.st_mode)) fail_with(ENOTDIR, "watch");
  int ino = inotify_init1(IN_CLOEXEC);
  if (ino < 0) fail_with(errno, "inotify_init");
  if (inotify_add_watch(ino, path, WATCH_MASK) < 0) fail_with(errno, "inotify_add_watch");
  add_watch(ino, path, recursive);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) fail_with(errno, "pipe");
  if (send_reply(conn, request_id, AGENT_OK, 0, NULL, 0, &p[0], 1) < 0) _exit(1);
  close(p[0]);
  close(conn);
  signal(SIGPIPE, SIG_IGN);
  static char events[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
  static char record[4096 + 8 + 256];
  for (;;) {
    struct pollfd fds[2] = {{ino, POLLIN, 0}, {p[1], 0, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (fds[1].revents & (POLLERR | POLLHUP)) _exit(0); // the host closed its end
    if (!(fds[0].revents & POLLIN)) continue;
    ssize_t n = read(ino, events, sizeof events);
    if (n <= 0) continue;
    for (char *at = events; at < events + n;) {
      struct inotify_event *e = (struct inotify_event *)at;
      at += sizeof *e + e->len;
      if (e->wd < 0 || e->wd >= nwatched || !watched[e->wd]) continue;
      const char *dir = watched[e->wd];
      int len = e->len ? snprintf(record + 8, sizeof record - 8, "%s/%s", strcmp(dir, "/") ? dir : "", e->name) : snprintf(record + 8, sizeof record - 8, "%s", dir);
      if (len < 0 || len >= (int)sizeof record - 8) continue;
      uint32_t mask = e->mask, length = (uint32_t)len;
      memcpy(record, &mask, 4);
      memcpy(record + 4, &length, 4);
      if (write(p[1], record, 8 + (size_t)len) < 0) _exit(0);
      if (recursive && (e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO))) add_watch(ino, record + 8, 1);
      if (e->mask & IN_IGNORED) {
        free(watched[e->wd]);
        watched[e->wd] = NULL;
      }
    }
  }
}

// ---- spawn ------------------------------------------------------------------------------------

// argv[0] as execvp would find it, with the command's own PATH; answers a path or NULL (errno).
static const char *lookup(const char *name, char *const *env, char *out, size_t size) {
  if (strchr(name, '/')) return name;
  const char *path = DEFAULT_PATH;
  for (char *const *e = env; *e; e++)
    if (!strncmp(*e, "PATH=", 5)) path = *e + 5;
  int found_denied = 0;
  for (const char *at = path;;) {
    const char *end = strchr(at, ':');
    size_t len = end ? (size_t)(end - at) : strlen(at);
    if (snprintf(out, size, "%.*s%s%s", (int)len, at, len ? "/" : "", name) < (int)size) {
      if (access(out, X_OK) == 0) {
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return out;
      } else if (errno == EACCES) found_denied = 1;
    }
    if (!end) break;
    at = end + 1;
  }
  errno = found_denied ? EACCES : ENOENT;
  return NULL;
}

static void join_cgroups(void) {
  char path[64], pid[32];
  snprintf(pid, sizeof pid, "%d", getpid());
  for (int i = 1;; i++) {
    snprintf(path, sizeof path, USER_CGROUPS "/%d.procs", i);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) break;
    if (fd < 0) fail_with(errno, "open cgroup");
    if (write(fd, pid, strlen(pid)) < 0) fail_with(errno, "join cgroup");
    close(fd);
  }
}

static void op_spawn(char **args, int nargs) {
  // args: uid gid groups cwd pty stdin argc argv… env…
  const char *cwd = args[3], *pty = args[4];
  int want_stdin = !strcmp(args[5], "1");
  unsigned long argc;
  if (parse_u32(args[6], &argc) < 0 || argc < 1 || argc > (unsigned long)(nargs - 7)) fail_with(EINVAL, "argv");
  int nenv = nargs - 7 - (int)argc;
  // NULL-terminated copies for execve.
  static char *envp[MAX_ARGS + 1];
  static char *argvp[MAX_ARGS + 1];
  for (unsigned long i = 0; i < argc; i++) argvp[i] = args[7 + i];
  argvp[argc] = NULL;
  for (int i = 0; i < nenv; i++) envp[i] = args[7 + argc + (unsigned long)i];
  envp[nenv] = NULL;

  // Its own session and process group; the sandbox's limited cgroups; an ordinary OOM score
  // (the init's is lowered so the OOM killer picks a runaway command, not the init).
  if (setsid() < 0) fail_with(errno, "setsid");
  join_cgroups();
  ordinary_oom_score();
  become(args);
  if (chdir(cwd) < 0) fail_with(errno, "cwd");
  char found[4096];
  const char *file = lookup(argvp[0], envp, found, sizeof found);
  if (!file) fail_with(errno, "lookup");

  int host[3], nhost = 0;
  if (pty[0]) {
    unsigned cols = 80, rows = 24;
    if (sscanf(pty, "%u %u", &cols, &rows) != 2 || !cols || !rows || cols > 65535 || rows > 65535) fail_with(EINVAL, "pty size");
    // The sandbox's own devpts: the terminal belongs to the user who opened it.
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) fail_with(errno, "open ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail_with(errno, "unlockpt");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) fail_with(errno, "open pty");
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) fail_with(errno, "winsize");
    if (ioctl(slave, TIOCSCTTY, 0) < 0) fail_with(errno, "controlling terminal");
    for (int i = 0; i < 3; i++)
      if (dup2(slave, i) < 0) fail_with(errno, "dup2");
    if (slave > 2) close(slave);
    host[nhost++] = master;
  } else {
    int in[2] = {-1, -1}, out[2], err[2];
    if (want_stdin && pipe2(in, O_CLOEXEC) < 0) fail_with(errno, "pipe");
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) fail_with(errno, "pipe");
    int null = -1;
    if (!want_stdin && (null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) fail_with(errno, "open /dev/null");
    if (dup2(want_stdin ? in[0] : null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) fail_with(errno, "dup2");
    if (want_stdin) {
      close(in[0]);
      host[nhost++] = in[1];
    } else close(null);
    close(out[1]);
    close(err[1]);
    host[nhost++] = out[0];
    host[nhost++] = err[0];
  }
  // The command gets default signal handling (the init's own, set once in agent_run) and an
  // empty mask (the init blocks SIGCHLD for its signalfd), as from any shell.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (send_reply(conn, request_id, AGENT_OK, getpid(), NULL, 0, host, nhost) < 0) _exit(127);
  for (int i = 0; i < nhost; i++) close(host[i]);
  close(conn);
  execve(file, argvp, envp);
  dprintf(2, "%s: %s\n", argvp[0], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

// The account files' identity, as the host computes it from the fds it read them through.
static void accounts_stamp(char *out, size_t size) {
  static const char *files[] = {"/etc/passwd", "/etc/group"};
  size_t at = 0;
  out[0] = 0;
  for (int i = 0; i < 2; i++) {
    struct stat st;
    if (stat(files[i], &st) < 0) fail_with(ESTALE, "account files");
    int n = snprintf(out + at, size - at, "%llu:%llu:%lld:%lld:%lld|", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
                     (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
    if (n < 0 || (size_t)n >= size - at) fail_with(ESTALE, "account files");
    at += (size_t)n;
  }
}

// ---- the child of one request ------------------------------------------------------------------

static void __attribute__((noreturn)) serve(uint32_t op, char **args, int nargs) {
  static const int arity[] = {[AGENT_ENTRY] = 4, [AGENT_READDIR] = 4, [AGENT_MKDIRS] = 4, [AGENT_RENAME] = 5, [AGENT_REMOVE] = 4, [AGENT_OPEN_READ] = 4, [AGENT_OPEN_WRITE] = 5, [AGENT_WATCH] = 5, [AGENT_SPAWN] = 7, [AGENT_SPAWN_IF] = 8};
  if (op >= sizeof arity / sizeof *arity || !arity[op]) fail_with(ENOSYS, "unknown operation");
  if (nargs < arity[op] || (op != AGENT_SPAWN && op != AGENT_SPAWN_IF && nargs != arity[op])) fail_with(EINVAL, "arguments");
  if (op == AGENT_SPAWN_IF) {
    // Before anything else, as root: the user the host resolved must come from the files as they are now.
    char stamp[256];
    accounts_stamp(stamp, sizeof stamp);
    if (strcmp(stamp, args[0])) fail_with(ESTALE, "account files changed");
    args++;
    nargs--;
    op = AGENT_SPAWN;
  }
  if (op == AGENT_SPAWN) {
    need_absolute(args[3]);
    op_spawn(args, nargs);
  }
  need_absolute(args[3]);
  if (op == AGENT_WATCH) ordinary_oom_score();
  become(args);
  switch (op) {
    case AGENT_ENTRY: op_entry(args[3]); break;
    case AGENT_READDIR: op_readdir(args[3]); break;
    case AGENT_MKDIRS: op_mkdirs(args[3]); break;
    case AGENT_RENAME:
      need_absolute(args[4]);
      if (rename(args[3], args[4]) < 0) fail_with(errno, "rename");
      ok_with(0, NULL, 0, NULL, 0);
    case AGENT_REMOVE: op_remove(args[3]); break;
    case AGENT_OPEN_READ: op_open_read(args[3]); break;
    case AGENT_OPEN_WRITE: op_open_write(args[3], args[4]); break;
    case AGENT_WATCH: op_watch(args[3], !strcmp(args[4], "1")); break;
  }
  fail_with(ENOSYS, "unknown operation");
}

// ---- the init -----------------------------------------------------------------------------------

// The host's connections: a few at once (an agent and its restarted self overlap, several
// clients may share a sandbox); past that the oldest is closed. `newest` takes the ends of
// children whose own connection has gone.
static struct {
  int fd;
  unsigned long accepted;
} conns[MAX_CONNS];
static int newest = -1;

static struct {
  pid_t pid;
  uint32_t id;
  int spawned;
  int conn; // the connection that asked (-1 once it closed)
} children[MAX_CHILDREN];

static int remember(pid_t pid, uint32_t id, int spawned) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    if (children[i].pid) continue;
    children[i].pid = pid;
    children[i].id = id;
    children[i].spawned = spawned;
    children[i].conn = conn;
    return 0;
  }
  return -1;
}

static void drop_conn(int slot) {
  int fd = conns[slot].fd;
  close(fd);
  conns[slot].fd = -1;
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid && children[i].conn == fd) children[i].conn = -1;
  if (newest == fd) {
    newest = -1;
    unsigned long latest = 0;
    for (int k = 0; k < MAX_CONNS; k++)
      if (conns[k].fd >= 0 && conns[k].accepted >= latest) {
        latest = conns[k].accepted;
        newest = conns[k].fd;
      }
  }
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (int i = 0; i < MAX_CHILDREN; i++) {
      if (children[i].pid != pid) continue;
      children[i].pid = 0;
      int to = children[i].conn >= 0 ? children[i].conn : newest;
      if (to >= 0) send_reply(to, children[i].id, AGENT_EXIT, status, NULL, 0, NULL, 0);
      break;
    }
  }
}

// What of the request buffer stays resident after a request; a larger one's pages are given
// back once its child has its copy, so one big spawn does not grow every sandbox's PID 1 for good.
#define KEEP_RESIDENT 8192

static void handle(int listen_fd, int sigfd, int slot) {
  static char buf[AGENT_MAX_REQUEST + 1] __attribute__((aligned(4096)));
  static char *args[MAX_ARGS + 1];
  conn = conns[slot].fd;
  ssize_t n = recv(conn, buf, AGENT_MAX_REQUEST, MSG_TRUNC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    drop_conn(slot);
    return;
  }
  if (n < 8) return;
  struct header h;
  memcpy(&h, buf, 8);
  if (n > AGENT_MAX_REQUEST) {
    send_reply(conn, h.id, AGENT_ERR, E2BIG, "request", 7, NULL, 0);
    return;
  }
  buf[n] = 0;
  int nargs = 0;
  for (char *at = buf + 8; at < buf + n; at += strlen(at) + 1) {
    if (nargs >= MAX_ARGS) {
      send_reply(conn, h.id, AGENT_ERR, E2BIG, "arguments", 9, NULL, 0);
      return;
    }
    args[nargs++] = at;
  }
  if (buf[n - 1] != 0 && n > 8) {
    send_reply(conn, h.id, AGENT_ERR, EINVAL, "unterminated argument", 21, NULL, 0);
    return;
  }
  uint32_t op = h.kind;
  if (op == AGENT_SIGNAL) {
    // Done here: kill() never blocks, and only a process group this init started is signalled.
    unsigned long pid, sig;
    int known = 0;
    if (nargs == 2 && parse_u32(args[0], &pid) == 0 && parse_u32(args[1], &sig) == 0 && pid > 1 && sig < NSIG) {
      for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].pid == (pid_t)pid && children[i].spawned) known = 1;
      if (!known) send_reply(conn, h.id, AGENT_ERR, ESRCH, "signal", 6, NULL, 0);
      else if (kill(-(pid_t)pid, (int)sig) < 0 && kill((pid_t)pid, (int)sig) < 0) send_reply(conn, h.id, AGENT_ERR, errno, "signal", 6, NULL, 0);
      else send_reply(conn, h.id, AGENT_OK, 0, NULL, 0, NULL, 0);
    } else send_reply(conn, h.id, AGENT_ERR, EINVAL, "signal", 6, NULL, 0);
    return;
  }
  pid_t child = fork();
  if (child < 0) {
    send_reply(conn, h.id, AGENT_ERR, errno, "fork", 4, NULL, 0);
    return;
  }
  if (child == 0) {
    close(listen_fd);
    close(sigfd);
    // Only the asking connection: a long-lived child (a watcher) must not hold the others open.
    for (int k = 0; k < MAX_CONNS; k++)
      if (conns[k].fd >= 0 && conns[k].fd != conn) close(conns[k].fd);
    request_id = h.id;
    serve(op, args, nargs);
  }
  if (n > KEEP_RESIDENT) madvise(buf + KEEP_RESIDENT, (size_t)n - KEEP_RESIDENT, MADV_DONTNEED);
  if (remember(child, h.id, op == AGENT_SPAWN || op == AGENT_SPAWN_IF) < 0) {
    // More children than the table holds: this one is stopped and reported failed.
    kill(child, SIGKILL);
    send_reply(conn, h.id, AGENT_ERR, EAGAIN, "too many processes", 18, NULL, 0);
  }
}

void agent_run(int listen_fd) {
  // Nothing in the sandbox may ptrace PID 1 or open its fds through /proc.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  umask(022);
  // Every disposition the default, once: what the init forks inherits it, and a spawned command
  // needs no reset of its own (ignored signals would survive its exec).
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) _exit(1);
  for (int k = 0; k < MAX_CONNS; k++) conns[k].fd = -1;
  unsigned long accepted = 0;
  for (;;) {
    struct pollfd fds[2 + MAX_CONNS] = {{sigfd, POLLIN, 0}, {listen_fd, POLLIN, 0}};
    for (int k = 0; k < MAX_CONNS; k++) fds[2 + k] = (struct pollfd){conns[k].fd, POLLIN, 0};
    if (poll(fds, 2 + MAX_CONNS, -1) < 0) continue;
    if (fds[0].revents) {
      struct signalfd_siginfo info;
      while (read(sigfd, &info, sizeof info) > 0) {}
      reap();
    }
    for (int k = 0; k < MAX_CONNS; k++)
      if (conns[k].fd >= 0 && conns[k].fd == fds[2 + k].fd && fds[2 + k].revents) handle(listen_fd, sigfd, k);
    if (fds[1].revents & POLLIN) {
      int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0) {
        int slot = 0;
        for (int k = 0; k < MAX_CONNS; k++) {
          if (conns[k].fd < 0) {
            slot = k;
            break;
          }
          if (conns[k].accepted < conns[slot].accepted) slot = k;
        }
        if (conns[slot].fd >= 0) drop_conn(slot);
        conns[slot].fd = fd;
        conns[slot].accepted = ++accepted;
        newest = fd;
      }
    }
  }
}
