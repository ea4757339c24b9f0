# The system calls a sandbox's processes may make: Docker's default profile, as it applies to a
# process without CAP_SYS_ADMIN and with the capabilities the sandbox keeps (see
# services/host-agent/src/runtime/namespace/sandbox-hardening.ts). Everything else fails with
# EPERM, so a denied call is an error the program can handle, never a killed sandbox.
#
# Denied on purpose (the usual first steps of a kernel exploit or an escape): mount and the new
# mount API, unshare, setns, keyctl/add_key/request_key, bpf, perf_event_open, userfaultfd,
# kexec_*, init_module/finit_module/delete_module, open_by_handle_at, iopl/ioperm, swapon,
# reboot, syslog, acct, settimeofday, quotactl, lookup_dcookie, and io_uring (a large attack
# surface that newer Docker releases also stopped allowing).
#
# Format (read by native/sandbox/wrenn-sandbox.c): "default errno N"; "allow NAME…";
# "allow-if NAME ARG OP VALUE [MASK]" with OP eq, ne or masked_eq; "errno N NAME…". Names this
# architecture lacks are skipped.
default errno 1

allow accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
allow clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
allow clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat
allow dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
allow epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
allow faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2
allow fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
allow fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
allow ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64
allow getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
allow getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
allow getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
allow get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
allow inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
allow io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill
allow landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
allow lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr
allow lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod
allow mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
allow mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap
allow msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep
allow newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
allow pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
allow prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
allow readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
allow remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
allow rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
allow rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
allow sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
allow sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
allow sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
allow semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
allow setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
allow setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
allow setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address
allow setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
allow signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64
allow statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
allow timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
allow timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times
allow tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat
allow utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev

# Debuggers inside the sandbox (its own pid namespace: nothing outside is visible to trace).
allow ptrace process_vm_readv process_vm_writev
# Architecture-specific.
allow arch_prctl modify_ldt
# CAP_SYS_CHROOT is kept.
allow chroot

# Sockets of every family but AF_VSOCK (40): the host side of a VM's vsock is not the sandbox's.
allow-if socket 0 ne 40
# The execution domains Docker allows: Linux, Linux with UNAME26, READ_IMPLIES_EXEC, query.
allow-if personality 0 eq 0
allow-if personality 0 eq 8
allow-if personality 0 eq 131072
allow-if personality 0 eq 131080
allow-if personality 0 eq 4294967295
# Threads and processes, but no new namespaces (CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP).
allow-if clone 0 masked_eq 0 0x7E020000
# clone3's flags live in memory a filter can't read: ENOSYS makes libc fall back to clone.
errno 38 clone3
