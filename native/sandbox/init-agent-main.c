// wrenn-init-agent: PID 1 of a namespace sandbox in agent mode (see init-agent.h). The sandbox
// helper's init exec's it (from an fd opened on the host before pivot_root) once every step of
// the hardening is done, with the listening socket as its only fd beyond stdio. A separate,
// statically linked program so that PID 1 carries neither the helper's libseccomp nor a
// dynamic loader: what stays resident per sandbox is this loop alone.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "init-agent.h"

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char *end;
  long fd = strtol(argv[1], &end, 10);
  int listening = 0;
  socklen_t len = sizeof listening;
  // Only ever started by the helper: anything but a listening socket is a mistake, not a mode.
  if (*end || fd < 3 || fd > 1024 || getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) return 2;
  fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  agent_run((int)fd);
}
