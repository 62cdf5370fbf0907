/* Processes in containers (process.h). They are started by a double fork (setns needs a fork
 * for the PID namespace); the agent stays their parent, so it reaps them and knows their exit
 * codes. */
#include "process.h"
#include "podfiles.h"
#include "container.h"
#include "files.h"
#include "names.h"
#include "pod.h"
#include "prepared.h"
#include "volumes.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

process *find_process(container *c, const char *exec_id) {
  for (int i = 0; i < MAX_PROCESSES; i++) {
    process *p = &g_procs[i];
    if (p->used && p->c == c && strcmp(p->exec_id, exec_id) == 0) return p;
  }
  return NULL;
}

process *new_process(void) {
  for (int i = 0; i < MAX_PROCESSES; i++)
    if (!g_procs[i].used) {
      process *p = &g_procs[i];
      memset(p, 0, sizeof *p);
      p->used = true;
      p->tty_fd = -1;
      p->sock_fd = -1;
      p->pid = -1;
      return p;
    }
  return NULL;
}

void free_process(process *p) {
  if (p->sin) stream_free(p->sin);
  if (p->sout) { p->sout->proc = NULL; }
  if (p->serr) { p->serr->proc = NULL; }
  if (p->tty_fd >= 0) close(p->tty_fd);
  if (p->sock_fd >= 0) close(p->sock_fd);
  if (p->c && p->c->init == p) p->c->init = NULL;
  memset(p, 0, sizeof *p);
}

pid_t fork_retrying(void) {
  for (int i = 0;; i++) {
    pid_t pid = fork();
    if (pid >= 0 || errno != EAGAIN || i == 4) return pid;
    /* EAGAIN: the VM is out of task slots or memory for a moment (the OOM killer is at work);
     * try a few times over about 30 ms rather than failing the request at once. */
    usleep(2000u << i);
  }
}

void child_leave_agent(void) {
  /* The agent runs at oom_score_adj -1000 and its children inherit that: a container's
   * processes would be unkillable by the OOM killer, and a memory hog would leave it nothing
   * to kill but a kernel panic. They get the default back (raising it is always allowed). */
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t w = write(fd, "0", 1);
    (void)w;
    close(fd);
  }
}

int open_cgroup_procs(container *c) {
  char path[220];
  snprintf(path, sizeof path, "%s/cgroup.procs", c->cgroup);
  return open(path, O_WRONLY | O_CLOEXEC);
}

void child_join_cgroup(int procs_fd, int efd) {
  /* "0": the writing process. The fd was opened in the agent's mount namespace, before the
   * child entered the container's, where the cgroup file system is not mounted. */
  if (write(procs_fd, "0", 1) != 1) child_fail(efd, 125, "join cgroup: %s", strerror(errno));
  close(procs_fd);
}

/* Runs a helper (busybox) to completion; its output (bounded) goes to err. */
int run_helper(char *const argv[], char *err, size_t errlen) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) { snprintf(err, errlen, "pipe: %s", strerror(errno)); return -1; }
  pid_t pid = fork_retrying();
  if (pid < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); close(pfd[0]); close(pfd[1]); return -1; }
  if (pid == 0) {
    child_leave_agent();
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) dup2(nul, 0);
    execv(argv[0], argv);
    _exit(127);
  }
  close(pfd[1]);
  size_t got = 0;
  char buf[512];
  for (;;) {
    ssize_t n = read(pfd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && got + 1 < errlen; i++) err[got++] = buf[i];
  }
  if (errlen) err[got < errlen ? got : errlen - 1] = 0;
  close(pfd[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}


int parse_procspec(jnode *p, procspec *ps, char *err, size_t errlen) {
  memset(ps, 0, sizeof *ps);
  jnode *args = jarr(p, "args");
  if (!args || args->len == 0) { snprintf(err, errlen, "process args are empty"); return -1; }
  if (args->len > 1024) { snprintf(err, errlen, "too many process args"); return -1; }
  int n = 0;
  for (jnode *a = args->child; a; a = a->next) {
    if (a->type != J_STR) { snprintf(err, errlen, "process args must be strings"); return -1; }
    ps->argv[n++] = (char *)a->str;
  }
  if (!ps->argv[0][0]) { snprintf(err, errlen, "process executable is empty"); return -1; }
  jnode *env = jarr(p, "env");
  n = 0;
  for (jnode *e = env ? env->child : NULL; e; e = e->next) {
    if (n >= 1024) { snprintf(err, errlen, "too many environment variables"); return -1; }
    if (e->type != J_STR || !strchr(e->str, '=') || e->str[0] == '=') {
      snprintf(err, errlen, "environment entries must look like NAME=value");
      return -1;
    }
    ps->envp[n++] = (char *)e->str;
  }
  ps->cwd = jstr(p, "cwd", "/");
  if (!ps->cwd[0]) ps->cwd = "/";
  if (ps->cwd[0] != '/') { snprintf(err, errlen, "working directory \"%.100s\" is not absolute", ps->cwd); return -1; }
  ps->user = jstr(p, "user", "");
  ps->tty = jbool(p, "tty", false);
  bool ok = true;
  ps->in_id = (uint32_t)jint(p, "stdin", 0, 0, UINT32_MAX, &ok);
  ps->out_id = (uint32_t)jint(p, "stdout", 0, 0, UINT32_MAX, &ok);
  ps->err_id = (uint32_t)jint(p, "stderr", 0, 0, UINT32_MAX, &ok);
  ps->rows = (int)jint(p, "rows", 24, 1, 10000, &ok);
  ps->cols = (int)jint(p, "cols", 80, 1, 10000, &ok);
  if (!ok) { snprintf(err, errlen, "process has an out-of-range number"); return -1; }
  if ((ps->in_id && stream_find(ps->in_id)) || (ps->out_id && stream_find(ps->out_id)) ||
      (ps->err_id && stream_find(ps->err_id)) || (ps->in_id && (ps->in_id == ps->out_id || ps->in_id == ps->err_id)) ||
      (ps->out_id && ps->out_id == ps->err_id)) {
    snprintf(err, errlen, "stream ids are in use");
    return -1;
  }
  return 0;
}

void child_fail(int efd, int code, const char *fmt, ...) {
  char msg[300];
  msg[0] = (char)code;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg + 1, sizeof msg - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof msg - 2) n = (int)sizeof msg - 2;
  ssize_t w = write(efd, msg, (size_t)n + 1);
  (void)w;
  _exit(code);
}

static void mount_or_fail(int efd, const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) child_fail(efd, 125, "mount %s on %s: %s", type ? type : src, dst, strerror(errno));
}

static void bind_file(int efd, const char *src, const char *root, const char *rel) {
  char dst[700];
  snprintf(dst, sizeof dst, "%s%s", root, rel);
  struct stat st;
  if (lstat(dst, &st) == 0 && S_ISLNK(st.st_mode)) unlink(dst); /* e.g. resolv.conf -> /run/... */
  int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return; /* read-only root without the file: skip it, as docker does for /etc missing */
  close(fd);
  if (mount(src, dst, NULL, MS_BIND, NULL) < 0) child_fail(efd, 125, "bind %s: %s", rel, strerror(errno));
}

/* In the container's new mount namespace: build its view and enter it. */
void container_enter(container *c, int efd) {
  const char *root = c->rootdir;
  char p[700];
  mount_or_fail(efd, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  mount_or_fail(efd, root, root, NULL, MS_BIND | MS_REC, NULL);
  tracek("enter: private+bind");
  snprintf(p, sizeof p, "%s/proc", root);
  mkdir_p(p, 0555);
  mount_or_fail(efd, "proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  snprintf(p, sizeof p, "%s/sys", root);
  mkdir_p(p, 0555);
  mount_or_fail(efd, "sysfs", p, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
  snprintf(p, sizeof p, "%s/dev", root);
  mkdir_p(p, 0755);
  mount_or_fail(efd, "tmpfs", p, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1024k");
  struct { const char *n; int maj, min; } devs[] = { { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
                                                     { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
  for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
    snprintf(p, sizeof p, "%s/dev/%s", root, devs[i].n);
    mknod(p, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min));
    chmod(p, 0666);
  }
  tracek("enter: proc sys dev");
  snprintf(p, sizeof p, "%s/dev/pts", root);
  mkdir(p, 0755);
  mount_or_fail(efd, "devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620");
  snprintf(p, sizeof p, "%s/dev/shm", root);
  mkdir(p, 01777);
  mount_or_fail(efd, "shm", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
  snprintf(p, sizeof p, "%s/dev/mqueue", root);
  mkdir(p, 0755);
  mount(p, p, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  const char *links[][2] = { { "pts/ptmx", "ptmx" }, { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
                             { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" } };
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    snprintf(p, sizeof p, "%s/dev/%s", root, links[i][1]);
    symlink(links[i][0], p);
  }
  tracek("enter: pts shm mq links");
  snprintf(p, sizeof p, "%s/etc", root);
  struct stat st;
  if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && !c->readonly_root) {
    bind_file(efd, "/run/h8s/pod/hosts", root, "/etc/hosts");
    bind_file(efd, "/run/h8s/pod/resolv.conf", root, "/etc/resolv.conf");
    bind_file(efd, "/run/h8s/pod/hostname", root, "/etc/hostname");
  }
  for (int i = 0; i < c->nmounts; i++) {
    mountspec *m = &c->mounts[i];
    snprintf(p, sizeof p, "%s%s", root, m->path);
    if (mkdir_p(p, 0755) < 0) child_fail(efd, 125, "mkdir %s: %s", m->path, strerror(errno));
    if (strcmp(m->type, "tmpfs") == 0) {
      mount_or_fail(efd, "tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0), "mode=1777");
    } else if (strcmp(m->type, "files") == 0 || strcmp(m->type, "emptyDir") == 0) {
      char src[600];
      bool files = strcmp(m->type, "files") == 0;
      const char *base = files ? FILES_ROOT : EMPTY_ROOT;
      if (m->sub[0]) snprintf(src, sizeof src, "%s/%s/%s", base, m->source, m->sub);
      else snprintf(src, sizeof src, "%s/%s", base, m->source);
      /* a subPath of an emptyDir is created on first use, as kubelet does */
      if (!files && m->sub[0] && mkdir_p(src, 0777) < 0) child_fail(efd, 125, "mkdir subPath %s: %s", m->sub, strerror(errno));
      struct stat sst;
      if (stat(src, &sst) < 0) child_fail(efd, 125, "volume path %s: %s", m->path, strerror(errno));
      if (!S_ISDIR(sst.st_mode)) {
        /* a file (a subPath of one key): bind it over a file, not a directory */
        rmdir(p);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
      }
      mount_or_fail(efd, src, p, NULL, MS_BIND, NULL);
      if (m->readonly) mount_or_fail(efd, NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
    } else {
      volume *v = find_volume(m->source);
      if (!v) child_fail(efd, 125, "volume %s is not mounted", m->source);
      mount_or_fail(efd, v->dir, p, NULL, MS_BIND, NULL);
      if (m->readonly) mount_or_fail(efd, NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
    }
  }
  if (c->term_path[0]) {
    char parent[700];
    const char *src = c->term_file;
    snprintf(p, sizeof p, "%s%s", root, c->term_path);
    snprintf(parent, sizeof parent, "%s", p);
    char *sl = strrchr(parent, '/');
    if (sl) { *sl = 0; mkdir_p(parent, 0755); }
    int tfd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (tfd >= 0) close(tfd);
    mount_or_fail(efd, src, p, NULL, MS_BIND, NULL);
  }
  if (c->readonly_root) mount_or_fail(efd, NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
  tracek("enter: etc + mounts");
  if (chdir(root) < 0) child_fail(efd, 125, "chdir root: %s", strerror(errno));
  /* pivot_root cannot leave an initramfs root, so move the container root over / and chroot
   * (as hyperstart does). The VM, not this chroot, is the isolation boundary. */
  mount_or_fail(efd, root, "/", NULL, MS_MOVE, NULL);
  if (chroot(".") < 0) child_fail(efd, 125, "chroot: %s", strerror(errno));
  if (chdir("/") < 0) child_fail(efd, 125, "chdir /: %s", strerror(errno));
}

/* Resolves "user", "uid", "user:group", "uid:gid" against the container's /etc files. */
static void child_set_user(const char *spec, int efd, const char **home) {
  char u[256], g[256] = "";
  snprintf(u, sizeof u, "%s", spec);
  char *colon = strchr(u, ':');
  if (colon) { *colon = 0; snprintf(g, sizeof g, "%s", colon + 1); }
  uid_t uid = 0;
  gid_t gid = 0;
  bool have_gid = false;
  char *end;
  *home = "/";
  struct passwd *pw = NULL;
  if (!u[0]) { uid = 0; pw = getpwuid(0); }
  else {
    long v = strtol(u, &end, 10);
    if (*end == 0 && v >= 0) { uid = (uid_t)v; pw = getpwuid(uid); }
    else {
      pw = getpwnam(u);
      if (!pw) child_fail(efd, 125, "unable to find user %s: no matching entries in passwd file", u);
      uid = pw->pw_uid;
    }
  }
  tracek("user: passwd read");
  if (pw) { gid = pw->pw_gid; have_gid = true; if (pw->pw_dir && pw->pw_dir[0]) *home = pw->pw_dir; }
  if (g[0]) {
    long v = strtol(g, &end, 10);
    if (*end == 0 && v >= 0) gid = (gid_t)v;
    else {
      struct group *gr = getgrnam(g);
      if (!gr) child_fail(efd, 125, "unable to find group %s: no matching entries in group file", g);
      gid = gr->gr_gid;
    }
    have_gid = true;
  }
  (void)have_gid;
  gid_t groups[64];
  int ng = 0;
  if (pw && !g[0]) {
    ng = 64;
    if (getgrouplist(pw->pw_name, gid, groups, &ng) < 0) ng = 0;
  }
  tracek("user: groups read");
  if (setgroups((size_t)ng, groups) < 0 && ng) child_fail(efd, 125, "setgroups: %s", strerror(errno));
  if (setgid(gid) < 0) child_fail(efd, 125, "setgid %u: %s", (unsigned)gid, strerror(errno));
  if (setuid(uid) < 0) child_fail(efd, 125, "setuid %u: %s", (unsigned)uid, strerror(errno));
}

void child_exec(process *p, procspec *ps, int efd, int in_fd, int out_fd, int err_fd, int slave_fd) {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  setsid();
  if (ps->tty) {
    /* Opened by the agent before the fork: the container's mount namespace has its own
     * devpts instance where this pty does not exist. */
    int sfd = slave_fd;
    if (sfd < 0) child_fail(efd, 125, "open pty: %s", strerror(EBADF));
    ioctl(sfd, TIOCSCTTY, 0);
    dup2(sfd, 0); dup2(sfd, 1); dup2(sfd, 2);
    if (sfd > 2) close(sfd);
  } else {
    dup2(in_fd, 0); dup2(out_fd, 1); dup2(err_fd, 2);
  }
  tracek("child: entering container");
  if (ps->is_init) container_enter(p->c, efd);
  tracek("child: entered");
  const char *home = "/";
  child_set_user(ps->user, efd, &home);
  tracek("child: user set");
  clearenv();
  bool has_path = false, has_home = false, has_host = false, has_term = false;
  for (int i = 0; ps->envp[i]; i++) {
    putenv(ps->envp[i]);
    if (!strncmp(ps->envp[i], "PATH=", 5)) has_path = true;
    if (!strncmp(ps->envp[i], "HOME=", 5)) has_home = true;
    if (!strncmp(ps->envp[i], "HOSTNAME=", 9)) has_host = true;
    if (!strncmp(ps->envp[i], "TERM=", 5)) has_term = true;
  }
  if (!has_path) setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  if (!has_home) setenv("HOME", home, 1);
  if (!has_host) {
    char hn[65] = "";
    gethostname(hn, sizeof hn - 1);
    setenv("HOSTNAME", hn, 1);
  }
  if (ps->tty && !has_term) setenv("TERM", "xterm", 1);
  if (chdir(ps->cwd) < 0) child_fail(efd, 125, "chdir to cwd (\"%s\") set in config: %s", ps->cwd, strerror(errno));
  tracek("child: exec");
  execvp(ps->argv[0], ps->argv);
  int e = errno;
  if (e == ENOENT) {
    if (strchr(ps->argv[0], '/')) child_fail(efd, 127, "exec: \"%s\": stat %s: no such file or directory", ps->argv[0], ps->argv[0]);
    child_fail(efd, 127, "exec: \"%s\": executable file not found in $PATH", ps->argv[0]);
  }
  child_fail(efd, 126, "exec: \"%s\": %s", ps->argv[0], e == EACCES ? "permission denied" : strerror(e));
}


/* Starts a process in container c. Returns 0 (process started; p->errcode set when the
 * executable could not run), or -1 with err set. */
static int spawn(process *p, procspec *ps, char *err, size_t errlen) {
  container *c = p->c;
  int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
  int epipe[2] = { -1, -1 }, pidpipe[2] = { -1, -1 };
  int master = -1, slave_fd = -1;
  char slave[160] = "";
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  int rc = -1;
  if (ps->tty) {
    /* An exec's terminal comes from the container's own devpts instance (so `tty` and
     * /dev/pts inside the container agree); the init process's from the agent's. */
    char prefix[64] = "";
    if (!ps->is_init && c->init && c->init->pid > 0 && !c->init->exited) {
      snprintf(prefix, sizeof prefix, "/proc/%d/root", (int)c->init->pid);
      char ptmx[96];
      snprintf(ptmx, sizeof ptmx, "%s/dev/pts/ptmx", prefix);
      master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
    }
    if (master < 0) {
      prefix[0] = 0;
      master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    }
    char name[64];
    if (master < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0) {
      snprintf(err, errlen, "pty: %s", strerror(errno));
      goto out;
    }
    snprintf(slave, sizeof slave, "%s%s", prefix, name);
    struct winsize ws = { .ws_row = (unsigned short)ps->rows, .ws_col = (unsigned short)ps->cols };
    ioctl(master, TIOCSWINSZ, &ws);
    slave_fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave_fd < 0) {
      snprintf(err, errlen, "open pty %s: %s", slave, strerror(errno));
      goto out;
    }
  } else {
    if ((ps->in_id && pipe2(in_pipe, O_CLOEXEC) < 0) || (ps->out_id && pipe2(out_pipe, O_CLOEXEC) < 0) ||
        (ps->err_id && pipe2(err_pipe, O_CLOEXEC) < 0)) {
      snprintf(err, errlen, "pipe: %s", strerror(errno));
      goto out;
    }
  }
  if (ps->is_init && c->pre_pid != 0) {
    /* A prepared container: its process waits in the container for the spec. */
    if (c->pre_pid < 0 || c->pre_sock < 0) {
      snprintf(err, errlen, "the prepared process of container \"%s\" died", c->id);
      goto out;
    }
    tracek("spawn %s: prepared", c->id);
    if (start_prepared(c, ps, ps->in_id ? in_pipe[0] : nul, ps->out_id ? out_pipe[1] : nul,
                       ps->err_id ? err_pipe[1] : nul, ps->tty ? slave_fd : -1, err, errlen) < 0)
      goto out;
    epipe[0] = c->pre_epipe;
    c->pre_epipe = -1;
    p->pid = c->pre_pid;
    c->pre_pid = 0;
    goto wait_exec;
  }
  if (pipe2(epipe, O_CLOEXEC) < 0 || pipe2(pidpipe, O_CLOEXEC) < 0) { snprintf(err, errlen, "pipe: %s", strerror(errno)); goto out; }
  tracek("spawn %s: fork", c->id);
  pid_t a = fork_retrying();
  if (a < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); goto out; }
  if (a == 0) {
    child_leave_agent();
    int procs = open_cgroup_procs(c);
    if (procs < 0) child_fail(epipe[1], 125, "join cgroup: %s", strerror(errno));
    if (setns(podns_pid, CLONE_NEWPID) < 0 || setns(podns_uts, CLONE_NEWUTS) < 0 || setns(podns_ipc, CLONE_NEWIPC) < 0)
      child_fail(epipe[1], 125, "join pod namespaces: %s", strerror(errno));
    tracek("mid: pod ns joined");
    if (ps->is_init) {
      if (unshare(CLONE_NEWNS) < 0) child_fail(epipe[1], 125, "mount namespace: %s", strerror(errno));
    } else if (setns(c->mntns_fd, CLONE_NEWNS) < 0) {
      child_fail(epipe[1], 125, "join container: %s", strerror(errno));
    }
    tracek("mid: mnt ns");
    /* Forked before it joins the container's cgroup: a fork there fails once the container
     * is at its pids limit (a fork bomb), while joining (a migration) is never refused. So an
     * exec still starts in a container whose processes fill its limit. */
    pid_t b = fork_retrying();
    if (b < 0) child_fail(epipe[1], 125, "fork: %s", strerror(errno));
    if (b == 0) {
      child_join_cgroup(procs, epipe[1]);
      tracek("child: cgroup joined");
      child_exec(p, ps, epipe[1], ps->in_id ? in_pipe[0] : nul, ps->out_id ? out_pipe[1] : nul,
                 ps->err_id ? err_pipe[1] : nul, slave_fd);
    }
    ssize_t w = write(pidpipe[1], &b, sizeof b);
    (void)w;
    _exit(0);
  }
  close(pidpipe[1]); pidpipe[1] = -1;
  close(epipe[1]); epipe[1] = -1;
  pid_t b = -1;
  ssize_t n;
  while ((n = read(pidpipe[0], &b, sizeof b)) < 0 && errno == EINTR) {}
  int st;
  while (waitpid(a, &st, 0) < 0 && errno == EINTR) {}
  if (n != sizeof b || b <= 0) {
    char msg[300] = "";
    ssize_t m = read(epipe[0], msg, sizeof msg - 1);
    msg[m > 0 ? m : 0] = 0;
    snprintf(err, errlen, "%s", m > 1 ? msg + 1 : "cannot start the process");
    goto out;
  }
  p->pid = b;
  tracek("spawn %s: pid %d", c->id, (int)b);
wait_exec:;
  /* Wait for exec (EOF on the close-on-exec pipe) or an error report. Container set-up is
   * local work (mounts), so this is short; bounded anyway. */
  struct pollfd pf = { .fd = epipe[0], .events = POLLIN };
  char msg[300];
  size_t got = 0;
  for (;;) {
    int pr = poll(&pf, 1, 10000);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) break;
    ssize_t m = read(epipe[0], msg + got, sizeof msg - 1 - got);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) break;
    got += (size_t)m;
    if (got >= sizeof msg - 1) break;
  }
  msg[got] = 0;
  tracek("spawn %s: exec done", c->id);
  if (got > 1) {
    p->errcode = (unsigned char)msg[0];
    snprintf(p->errmsg, sizeof p->errmsg, "%s", msg + 1);
  }
  /* Streams: the agent keeps the parent ends, non-blocking. */
  if (ps->tty) {
    set_nonblock(master);
    p->tty_fd = master;
    if (ps->out_id) {
      int d = fcntl(master, F_DUPFD_CLOEXEC, 0);
      p->sout = stream_new(ps->out_id, true, d, p);
    }
    if (ps->in_id) {
      int d = fcntl(master, F_DUPFD_CLOEXEC, 0);
      p->sin = stream_new(ps->in_id, false, d, p);
    }
    master = -1;
  } else {
    if (ps->out_id) { close(out_pipe[1]); out_pipe[1] = -1; set_nonblock(out_pipe[0]); p->sout = stream_new(ps->out_id, true, out_pipe[0], p); out_pipe[0] = -1; }
    if (ps->err_id) { close(err_pipe[1]); err_pipe[1] = -1; set_nonblock(err_pipe[0]); p->serr = stream_new(ps->err_id, true, err_pipe[0], p); err_pipe[0] = -1; }
    if (ps->in_id) { close(in_pipe[0]); in_pipe[0] = -1; set_nonblock(in_pipe[1]); p->sin = stream_new(ps->in_id, false, in_pipe[1], p); in_pipe[1] = -1; }
  }
  rc = 0;
out:
  for (int i = 0; i < 2; i++) {
    if (in_pipe[i] >= 0) close(in_pipe[i]);
    if (out_pipe[i] >= 0) close(out_pipe[i]);
    if (err_pipe[i] >= 0) close(err_pipe[i]);
    if (epipe[i] >= 0) close(epipe[i]);
    if (pidpipe[i] >= 0) close(pidpipe[i]);
  }
  if (master >= 0) close(master);
  if (slave_fd >= 0) close(slave_fd);
  if (nul >= 0) close(nul);
  return rc;
}

static void process_json(jwriter *w, process *p) {
  jw_int(w, "pid", p->pid);
  if (p->errcode) {
    jw_int(w, "startErrorCode", p->errcode);
    jw_str(w, "startError", p->errmsg);
  }
}

void op_start(uint32_t id, jnode *r, bool is_exec) {
  char err[512] = "";
  const char *cid = jstr(r, is_exec ? "container" : "id", "");
  container *c = find_container(cid);
  if (!c) { chan_respond_err(id, "NotFound", "container \"%.80s\" not found", cid); return; }
  const char *exec_id = is_exec ? jstr(r, "execId", "") : "";
  if (is_exec) {
    if (!valid_id(exec_id)) { chan_respond_err(id, "Invalid", "exec id is not valid"); return; }
    if (c->state != 1 || c->mntns_fd < 0) { chan_respond_err(id, "Conflict", "container \"%s\" is not running", cid); return; }
    if (find_process(c, exec_id)) { chan_respond_err(id, "AlreadyExists", "exec \"%s\" already exists", exec_id); return; }
  } else if (c->state != 0) {
    chan_respond_err(id, "Conflict", "container \"%s\" was already started", cid);
    return;
  }
  procspec ps;
  if (parse_procspec(jobj(r, "process"), &ps, err, sizeof err) < 0) { chan_respond_err(id, "Invalid", "%s", err); return; }
  ps.is_init = !is_exec;
  process *p = new_process();
  if (!p) { chan_respond_err(id, "Forbidden", "too many processes in this pod"); return; }
  p->c = c;
  snprintf(p->exec_id, sizeof p->exec_id, "%s", exec_id);
  if (spawn(p, &ps, err, sizeof err) < 0) {
    free_process(p);
    chan_respond_err(id, "InternalError", "%s", err);
    return;
  }
  if (!is_exec) {
    c->init = p;
    c->state = 1;
    c->oom_kills = oom_kills(c);
    c->oom_kills_at_exit = c->oom_kills;
    c->mntns_fd = open_ns(p->pid, "mnt");
  }
  tracek("start %s: responding", c->id);
  jwriter w;
  jw_init(&w, 1024);
  process_json(&w, p);
  /* fields only: strip nothing, chan_respond_ok wraps them */
  chan_respond_ok(id, w.failed ? "" : (w.buf[0] == ',' ? w.buf + 1 : w.buf));
  jw_free(&w);
}

/* Whether `pid` has a handler installed for `sig` (SigCgt in /proc/PID/status). */
static bool catches_signal(pid_t pid, int sig) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if (read_file(path, buf, sizeof buf) < 0) return true;
  char *p = strstr(buf, "SigCgt:");
  if (!p) return true;
  unsigned long long mask = strtoull(p + 7, NULL, 16);
  return sig >= 1 && sig <= 64 && (mask >> (sig - 1)) & 1ULL;
}

static int parse_signal(jnode *r, bool *ok) { return (int)jint(r, "signal", SIGTERM, 1, 64, ok); }

void op_signal(uint32_t id, jnode *r) {
  const char *cid = jstr(r, "container", "");
  container *c = find_container(cid);
  if (!c) { chan_respond_err(id, "NotFound", "container \"%.80s\" not found", cid); return; }
  bool ok = true;
  int sig = parse_signal(r, &ok);
  if (!ok) { chan_respond_err(id, "Invalid", "signal is not valid"); return; }
  const char *exec_id = jstr(r, "execId", "");
  if (jbool(r, "all", false)) {
    /* Every process of the container (stop after the grace period). */
    if (sig == SIGKILL) {
      char path[220];
      snprintf(path, sizeof path, "%s/cgroup.kill", c->cgroup);
      write_file(path, "1");
    } else {
      char path[220], buf[8192];
      snprintf(path, sizeof path, "%s/cgroup.procs", c->cgroup);
      if (read_file(path, buf, sizeof buf) > 0)
        for (char *s = strtok(buf, "\n"); s; s = strtok(NULL, "\n")) kill((pid_t)atoi(s), sig);
    }
    chan_respond_ok(id, "");
    return;
  }
  process *p = find_process(c, exec_id);
  if (!p || p->exited) { chan_respond_err(id, "NotFound", "process not found or already exited"); return; }
  if (p == c->init && sig != SIGKILL && sig != SIGSTOP && !catches_signal(p->pid, sig)) {
    /* The main process shares the pod's PID namespace, but it gets the semantics it would have
     * as PID 1 of its own container (runc, docker, Kubernetes' default): a signal it installed
     * no handler for is not delivered. So `docker stop` on a process that ignores SIGTERM, or
     * has not set its trap yet, ends with SIGKILL after the grace period, as with runc. */
    chan_respond_ok(id, "\"delivered\":false");
    return;
  }
  if (kill(p->pid, sig) < 0 && errno != ESRCH) { chan_respond_err(id, "InternalError", "kill: %s", strerror(errno)); return; }
  chan_respond_ok(id, "\"delivered\":true");
}

void op_resize(uint32_t id, jnode *r) {
  container *c = find_container(jstr(r, "container", ""));
  process *p = c ? find_process(c, jstr(r, "execId", "")) : NULL;
  if (!p) { chan_respond_err(id, "NotFound", "process not found"); return; }
  if (p->tty_fd < 0) { chan_respond_err(id, "Conflict", "process has no terminal"); return; }
  bool ok = true;
  struct winsize ws = { .ws_row = (unsigned short)jint(r, "rows", 24, 1, 10000, &ok),
                        .ws_col = (unsigned short)jint(r, "cols", 80, 1, 10000, &ok) };
  if (!ok) { chan_respond_err(id, "Invalid", "terminal size is not valid"); return; }
  ioctl(p->tty_fd, TIOCSWINSZ, &ws);
  chan_respond_ok(id, "");
}
