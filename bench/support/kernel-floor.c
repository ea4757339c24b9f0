// What this kernel charges for the pieces of a namespace sandbox's start, each done alone by
// the smallest program that can: the floor under the host's steps in bench/cold-host.bench.mjs.
// Built and run by that bench (cc -O2 kernel-floor.c -o …; root). Prints one line a piece:
// "<piece>\t<p50 µs>\t<p90 µs>".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 40

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n) {
  qsort(v, n, sizeof *v, cmp);
  printf("%s\t%.0f\t%.0f\n", what, v[n / 2], v[(n * 9) / 10]);
  fflush(stdout);
}

static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  exit(1);
}

static void write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) die(path);
  close(fd);
}

// A child that waits on a pipe; answers its pid (the pipe's write end in *hold).
static pid_t parked_child(int *hold) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(p[1]);
    (void)!read(p[0], &c, 1);
    _exit(0);
  }
  close(p[0]);
  *hold = p[1];
  return pid;
}

static void release(pid_t pid, int hold) {
  close(hold);
  waitpid(pid, NULL, 0);
}

// Runs `body` in a fresh child RUNS times; the child's own measure comes back through a pipe.
static void in_child(const char *what, double (*body)(void)) {
  double v[RUNS];
  for (int i = 0; i < RUNS; i++) {
    int p[2];
    if (pipe(p) < 0) die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
      double us = body();
      (void)!write(p[1], &us, sizeof us);
      _exit(0);
    }
    close(p[1]);
    if (read(p[0], &v[i], sizeof v[i]) != sizeof v[i]) die(what);
    close(p[0]);
    waitpid(pid, NULL, 0);
  }
  report(what, v, RUNS);
}

static double fork_exec_wait(void) {
  double t = now_us();
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
  }
  waitpid(pid, NULL, 0);
  return now_us() - t;
}

// The helper's user namespace: a holder child unshares it, the parent writes its maps.
static double userns_with_maps(void) {
  double t = now_us();
  int hold;
  int ready[2];
  if (pipe(ready) < 0) die("pipe");
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    char c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'x';
    (void)!write(ready[1], &c, 1);
    close(p[1]);
    (void)!read(p[0], &c, 1);
    _exit(0);
  }
  close(p[0]);
  hold = p[1];
  char c;
  if (read(ready[0], &c, 1) != 1 || c != 'u') die("unshare user");
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
  write_text(path, "0 1073741824 65536");
  snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
  write_text(path, "0 1073741824 65536");
  snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  release(pid, hold);
  double us = now_us() - t;
  close(fd);
  close(ready[0]);
  close(ready[1]);
  return us;
}

static double mount_namespace(void) {
  double t = now_us();
  if (unshare(CLONE_NEWNS) < 0) die("unshare mount");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");
  if (mount("tmpfs", "/mnt", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0) die("tmpfs");
  return now_us() - t;
}

// The sandbox's own namespaces and its PID 1, up to the moment the parent knows it runs.
static double pid_namespace_and_init(void) {
  double t = now_us();
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWCGROUP) < 0) die("unshare");
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, NULL, 0);
  return now_us() - t;
}

// cgroup v1: a process moved into a new group of each hierarchy, as the helper moves itself.
static void cgroup_attach(const char *group) {
  static const char *const hierarchies[] = {"cpu", "cpuacct", "memory", "pids", "freezer", "devices"};
  double first[RUNS], rest[RUNS];
  char dir[256], path[300], pid_text[32];
  for (int i = 0; i < RUNS; i++) {
    int hold;
    pid_t pid = parked_child(&hold);
    snprintf(pid_text, sizeof pid_text, "%d", pid);
    usleep(30000);  // idle between starts, as a create's is
    double t = now_us();
    for (size_t h = 0; h < sizeof hierarchies / sizeof *hierarchies; h++) {
      snprintf(dir, sizeof dir, "/sys/fs/cgroup/%s/%s", hierarchies[h], group);
      if (mkdir(dir, 0755) < 0 && errno != EEXIST) die(dir);
      snprintf(path, sizeof path, "%s/cgroup.procs", dir);
      write_text(path, pid_text);
      if (h == 0) {
        first[i] = now_us() - t;
        t = now_us();
      }
    }
    rest[i] = now_us() - t;
    release(pid, hold);
    for (size_t h = 0; h < sizeof hierarchies / sizeof *hierarchies; h++) {
      snprintf(dir, sizeof dir, "/sys/fs/cgroup/%s/%s", hierarchies[h], group);
      while (rmdir(dir) < 0 && errno == EBUSY) usleep(1000);
    }
  }
  report("cgroup v1 attach, first hierarchy", first, RUNS);
  report("cgroup v1 attach, five more", rest, RUNS);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: kernel-floor <cgroup name>\n");
    return 2;
  }
  in_child("fork + exec + wait of /bin/true", fork_exec_wait);
  in_child("user namespace + id maps", userns_with_maps);
  in_child("mount namespace + a mount", mount_namespace);
  in_child("pid/uts/ipc/cgroup/mount ns + fork", pid_namespace_and_init);
  cgroup_attach(argv[1]);
  return 0;
}
