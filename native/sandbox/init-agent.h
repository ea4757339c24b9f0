// The sandbox's init as the host's agent inside it (plan key "agent<TAB><host socket path>").
//
// Instead of the sandbox's own first program, PID 1 exec's wrenn-init-agent (a small static
// program opened on the host before pivot_root; init-agent-main.c) once the hardening is done:
// it serves requests from the host over a SOCK_SEQPACKET Unix socket the supervisor bound on the
// host (mode 0600, host root only) before it entered the sandbox's user namespace. It marks
// itself non-dumpable, so nothing in the sandbox can ptrace it or follow its fds. Every operation that touches a path or starts a
// program runs in a child forked for it, which takes the requested user's groups, gid and uid
// first: the kernel checks permissions and resolves every path inside the sandbox's own mount
// namespace. The init itself never blocks on the sandbox's files; it only accepts, forks, reaps
// and reports.
//
// ---- wire format (host byte order: both ends are on the same machine) ----------------------
// One message per packet. Up to 8 connections at once (a ninth closes the oldest): the host
// reconnects after its own restart or an idle close, and the old and new may overlap. A child's
// end goes to the connection that asked for it or, once that one has closed, to the newest; with
// none open it is not kept.
//
// Request (at most AGENT_MAX_REQUEST bytes):
//   u32 id | u32 op | args: a sequence of NUL-terminated strings
// Reply:
//   u32 id | u32 kind | i32 value | body
//     AGENT_OK    value: op-specific (a spawned pid); body: NUL-terminated strings; fds by SCM_RIGHTS
//     AGENT_ERR   value: errno; body: the failing step, as text
//     AGENT_MORE  body: a chunk of a long answer (readdir); the final AGENT_OK follows
//     AGENT_EXIT  a child the init forked for request `id` ended; value: its wait status
//
// "user" below is three args: uid, gid, supplementary gids comma-separated ("" for none).
//   AGENT_ENTRY      user path → lmode luid lgid lsize lmtime_ms [target [tmode tuid tgid tsize tmtime_ms]]
//   AGENT_READDIR    user path → MORE chunks of NUL-terminated names (no . and ..), then OK
//   AGENT_MKDIRS     user path → the directories it created, top first
//   AGENT_RENAME     user from to
//   AGENT_REMOVE     user path (rm -rf; missing is not an error)
//   AGENT_OPEN_READ  user path → size; fd: the file, opened O_RDONLY (regular files only)
//   AGENT_OPEN_WRITE user path mode(decimal) → temp path beside `path`; fd: it, O_WRONLY, owned by
//                    the user with `mode`. Commit = AGENT_RENAME temp → path; abort = AGENT_REMOVE temp.
//   AGENT_WATCH      user path recursive("1"|"0") → fd: a pipe's read end carrying records
//                    u32 inotify mask | u32 length | path (absolute), until the host closes it
//   AGENT_SPAWN      user cwd pty("" | "cols rows") stdin("1"|"0") argc argv… env("K=V")…
//                    → value: pid (in the sandbox); fds: [stdin write end,] stdout, stderr read
//                    ends, or the PTY's master alone. Its end comes later as AGENT_EXIT.
//   AGENT_SIGNAL     pid signo → to the process group of a process this init spawned
//   AGENT_SPAWN_IF   stamp, then AGENT_SPAWN's args → as AGENT_SPAWN, but first (as the init's
//                    root) the child compares /etc/passwd and /etc/group with `stamp`
//                    ("dev:ino:size:mtime_ns:ctime_ns|" for each, as stat(2) reports them) and
//                    fails with ESTALE if either differs: the host may resolve a user from its
//                    copy of the account files and have the child check that copy is current.
#pragma once

#define AGENT_MAX_REQUEST (128 * 1024)

enum agent_op {
  AGENT_ENTRY = 1,
  AGENT_READDIR = 2,
  AGENT_MKDIRS = 3,
  AGENT_RENAME = 4,
  AGENT_REMOVE = 5,
  AGENT_OPEN_READ = 6,
  AGENT_OPEN_WRITE = 7,
  AGENT_WATCH = 8,
  AGENT_SPAWN = 9,
  AGENT_SIGNAL = 10,
  AGENT_SPAWN_IF = 11,
};

enum agent_reply_kind { AGENT_OK = 0, AGENT_ERR = 1, AGENT_MORE = 2, AGENT_EXIT = 3 };

// PID 1, fully hardened: serves the socket until killed. Never returns.
void agent_run(int listen_fd) __attribute__((noreturn));
