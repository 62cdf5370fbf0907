/**
 * The default seccomp profile of runc containers, with Docker's default-profile semantics:
 * an allowlist (everything else fails with EPERM), a few syscalls allowed only with argument
 * filters (clone without namespace flags, personality with the safe personas), and groups that
 * open up only when the container holds the capability that makes them meaningful (mount and
 * namespaces with CAP_SYS_ADMIN, clock setting with CAP_SYS_TIME, ...).
 *
 * Written as data; `buildSeccompProfile` turns it into the flat OCI `linux.seccomp` section
 * for one container's capability set. Names libseccomp does not know are skipped by runc.
 */

/** Whitespace-separated names, so the lists stay data rather than code. */
function words(text: string): readonly string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

/** Syscalls every container may make. */
const allowAlways: readonly string[] = words(`
  _llseek _newselect accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir
  chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
  clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
  copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
  epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
  exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
  fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock
  fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
  ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
  get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32 geteuid
  geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
  getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getrusage
  getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
  inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
  io_pgetevents_time64 io_setup io_submit ioctl ioprio_get ioprio_set ipc kill landlock_add_rule
  landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
  listxattr llistxattr lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack
  membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
  mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
  mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
  munlockall munmap nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal
  pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv
  preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
  readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
  remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
  rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min
  sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
  sendfile64 sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address setfsgid
  setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
  setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
  setrlimit setsid setsockopt setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown
  sigaltstack signalfd signalfd4 sigprocmask sigreturn socket socketcall socketpair splice stat
  stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
  time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
  timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
  timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
  utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev arch_prctl
  modify_ldt ptrace process_vm_readv process_vm_writev
`);
// arch_prctl and modify_ldt are x86 only (libseccomp skips names an architecture lacks); ptrace is
// safe on kernels >= 4.8, where seccomp re-checks a call after a tracer changes it.

/** Personas `personality(2)` may select: Linux, UNAME26, PER_LINUX32, their mix, and the query. */
const safePersonalities = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** Namespace flags of clone(2); creating namespaces needs CAP_SYS_ADMIN. */
const cloneNamespaceFlags = 0x7e020000;

/** Syscalls opened up by one capability, as Docker's profile does. */
const byCapability: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: words(
    'bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount name_to_handle_at open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare',
  ),
  CAP_SYS_BOOT: words('reboot'),
  CAP_SYS_CHROOT: words('chroot'),
  CAP_SYS_MODULE: words('delete_module init_module finit_module'),
  CAP_SYS_PACCT: words('acct'),
  CAP_SYS_PTRACE: words('kcmp pidfd_getfd process_madvise'),
  CAP_SYS_RAWIO: words('iopl ioperm'),
  CAP_SYS_TIME: words('settimeofday stime clock_settime clock_settime64'),
  CAP_SYS_TTY_CONFIG: words('vhangup'),
  CAP_SYS_NICE: words('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
  CAP_SYSLOG: words('syslog'),
  CAP_DAC_READ_SEARCH: words('open_by_handle_at'),
  CAP_BPF: words('bpf'),
  CAP_PERFMON: words('perf_event_open'),
};

export interface OciSeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ';
}

export interface OciSeccompRule {
  readonly names: readonly string[];
  readonly action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  readonly errnoRet?: number;
  readonly args?: readonly OciSeccompArg[];
}

export interface OciSeccomp {
  readonly defaultAction: 'SCMP_ACT_ERRNO';
  readonly defaultErrnoRet: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly OciSeccompRule[];
}

const EPERM = 1;
const ENOSYS = 38;

const architecturesByNodeArch: Readonly<Record<string, readonly string[]>> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

/**
 * The OCI seccomp section for a container that holds `capabilities` (names like CAP_CHOWN),
 * for the host architecture `arch` (Node's `process.arch`).
 */
export function buildSeccompProfile(capabilities: readonly string[], arch = 'x64'): OciSeccomp {
  const caps = new Set(capabilities);
  const allowed = new Set(allowAlways);
  for (const [cap, names] of Object.entries(byCapability)) {
    if (caps.has(cap)) names.forEach((n) => allowed.add(n));
  }
  const rules: OciSeccompRule[] = [];
  const hasSysAdmin = caps.has('CAP_SYS_ADMIN');
  if (!hasSysAdmin) {
    // clone without namespace flags (x86: flags are the first argument)
    allowed.delete('clone');
    allowed.delete('clone3');
    rules.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: cloneNamespaceFlags, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    // clone3 passes flags in memory seccomp cannot read: say "not implemented" so libc falls back to clone
    rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  rules.unshift({ names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' });
  for (const p of safePersonalities) {
    rules.push({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }],
    });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: architecturesByNodeArch[arch] ?? [],
    syscalls: rules,
  };
}
