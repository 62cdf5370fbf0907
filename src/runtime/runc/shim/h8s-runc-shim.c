/*
 * h8s-runc-shim: the small helper programs of h8s's runc handler (docs/adr/0003-runc-monitor.md).
 *
 *   run           the per-container monitor: starts the container with `runc run -d`, becomes
 *                 its parent (child subreaper), keeps its stdio, writes the CRI log file (with
 *                 size rotation), serves attach clients on a unix socket, and writes the exit
 *                 status to <dir>/exit.json. It outlives the daemon that started it.
 *   exec          one exec session: `runc exec -d`, relays a pty when asked, reports the exit
 *                 code. It dies with its session (EOF on the control pipe kills the process).
 *   netns         creates the pod's network/UTS/IPC namespaces and pins them with bind mounts.
 *   port-forward  connects to 127.0.0.1:PORT inside a network namespace and relays stdio.
 *
 * Everything a container writes is bounded: log lines are cut at 16 KiB (CRI "P" lines), log
 * files rotate by size, attach clients have bounded queues (a full queue pauses reading, so a
 * container cannot grow this process's memory), frames are capped at 64 KiB.
 *
 * Framing on the attach socket and the exec control pipe: u8 channel, u32 big-endian length,
 * payload. Channels: 0 stdin, 1 stdout, 2 stderr, 3 exit (JSON), 4 resize (u16 cols, u16 rows),
 * 5 hello (u8 flags: 1 = wants output, 2 = sends stdin), 6 reopen log, 255 close stdin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CH_STDIN 0
#define CH_STDOUT 1
#define CH_STDERR 2
#define CH_EXIT 3
#define CH_RESIZE 4
#define CH_HELLO 5
#define CH_REOPEN 6
#define CH_CLOSE_STDIN 255

#define HELLO_OUTPUT 1
#define HELLO_STDIN 2

#define MAX_FRAME 65536
#define HDR 5
#define LINE_MAX_BYTES 16384
#define CLIENT_QUEUE_MAX (1024 * 1024)
#define MAX_CLIENTS 32
#define STDIN_BUF_MAX 65536
#define READ_CHUNK 32768
#define REPLAY_MAX 65536

static const char *prog = "h8s-runc-shim";

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(125);
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void set_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFD);
  if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        poll(&pfd, 1, 1000);
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* RFC 3339 with nanoseconds in UTC: 2024-01-02T03:04:05.123456789Z (35 chars). */
static size_t format_time(char *out, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(out + n, cap - n, ".%09ldZ", ts.tv_nsec);
  return n;
}

/* Writes a file atomically (tmp + rename) so a reader never sees half of it. */
static void write_file_atomic(const char *dir, const char *name, const char *content) {
  char tmp[PATH_MAX], dst[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  write_all(fd, content, strlen(content));
  fsync(fd);
  close(fd);
  rename(tmp, dst);
}

/* The last error message runc wrote to its JSON log ("msg":"..."), unescaped. */
static void runc_error(const char *log_path, char *out, size_t cap) {
  out[0] = 0;
  int fd = open(log_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  static char buf[65536];
  off_t size = lseek(fd, 0, SEEK_END);
  off_t start = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
  ssize_t n = pread(fd, buf, sizeof buf - 1, start);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  char *line = buf, *best = NULL;
  while (line && *line) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if (strstr(line, "\"level\":\"error\"") || strstr(line, "\"level\":\"fatal\"")) best = line;
    line = nl ? nl + 1 : NULL;
  }
  if (!best) return;
  char *m = strstr(best, "\"msg\":\"");
  if (!m) return;
  m += 7;
  size_t o = 0;
  for (; *m && o + 1 < cap; m++) {
    if (*m == '"') break;
    if (*m == '\\' && m[1]) {
      m++;
      if (*m == 'n' || *m == 't') {
        out[o++] = ' ';
        continue;
      }
      if (*m == 'u' && m[1] && m[2] && m[3] && m[4]) {
        m += 4;
        out[o++] = '?';
        continue;
      }
    }
    out[o++] = *m;
  }
  out[o] = 0;
}

/* Docker's convention for processes that could not be started: 127 not found, 126 not executable. */
static int start_error_code(const char *msg) {
  if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory")) return 127;
  if (strstr(msg, "permission denied") || strstr(msg, "exec format error")) return 126;
  return 128;
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

/* ---------------------------------------------------------------- growable byte queue */

struct queue {
  uint8_t *data;
  size_t len, cap, off;
};

static int queue_push(struct queue *q, const void *p, size_t n) {
  if (q->off > 0 && q->off == q->len) q->off = q->len = 0;
  if (q->len + n > q->cap) {
    if (q->off > 0) {
      memmove(q->data, q->data + q->off, q->len - q->off);
      q->len -= q->off;
      q->off = 0;
    }
    if (q->len + n > q->cap) {
      size_t nc = q->cap ? q->cap : 4096;
      while (nc < q->len + n) nc *= 2;
      uint8_t *nd = realloc(q->data, nc);
      if (!nd) return -1;
      q->data = nd;
      q->cap = nc;
    }
  }
  memcpy(q->data + q->len, p, n);
  q->len += n;
  return 0;
}

static size_t queue_size(const struct queue *q) { return q->len - q->off; }

static void queue_free(struct queue *q) {
  free(q->data);
  memset(q, 0, sizeof *q);
}

/* Writes as much of the queue as the fd takes now; -1 on a broken fd. */
static int queue_flush(struct queue *q, int fd) {
  while (queue_size(q) > 0) {
    ssize_t w = write(fd, q->data + q->off, queue_size(q));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    q->off += (size_t)w;
  }
  q->off = q->len = 0;
  return 0;
}

/* ---------------------------------------------------------------- CRI log writer */

struct log_writer {
  const char *path;
  int fd;
  long long size;
  long long max_bytes;
  int max_files;
  uint8_t line[2][LINE_MAX_BYTES];
  size_t line_len[2];
};

static void log_open(struct log_writer *lw) {
  lw->fd = open(lw->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  lw->size = 0;
  if (lw->fd >= 0) {
    struct stat st;
    if (fstat(lw->fd, &st) == 0) lw->size = st.st_size;
  }
}

/* Rotation: path.(k-1) -> path.k ... path -> path.1, keeping max_files files in all. */
static void log_rotate(struct log_writer *lw) {
  char from[PATH_MAX], to[PATH_MAX];
  if (lw->fd >= 0) close(lw->fd);
  lw->fd = -1;
  if (lw->max_files <= 1) {
    unlink(lw->path);
  } else {
    snprintf(to, sizeof to, "%s.%d", lw->path, lw->max_files - 1);
    unlink(to);
    for (int i = lw->max_files - 2; i >= 1; i--) {
      snprintf(from, sizeof from, "%s.%d", lw->path, i);
      snprintf(to, sizeof to, "%s.%d", lw->path, i + 1);
      rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", lw->path);
    rename(lw->path, to);
  }
  log_open(lw);
}

static void log_line(struct log_writer *lw, int stream, const uint8_t *p, size_t n, int full) {
  if (lw->fd < 0) return;
  char head[64];
  size_t h = format_time(head, sizeof head);
  h += (size_t)snprintf(head + h, sizeof head - h, " %s %c ", stream == 2 ? "stderr" : "stdout",
                        full ? 'F' : 'P');
  if (lw->max_bytes > 0 && lw->size > 0 && lw->size + (long long)(h + n + 1) > lw->max_bytes) log_rotate(lw);
  if (lw->fd < 0) return;
  struct iovec iov[3] = {{head, h}, {(void *)p, n}, {"\n", 1}};
  ssize_t w = writev(lw->fd, iov, 3);
  if (w > 0) lw->size += w; /* a full disk drops lines rather than blocking the container */
}

/* Splits a chunk of output into CRI lines; lines longer than LINE_MAX_BYTES become P lines. */
static void log_data(struct log_writer *lw, int stream, const uint8_t *p, size_t n) {
  int s = stream == 2 ? 1 : 0;
  while (n > 0) {
    const uint8_t *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) : n;
    size_t room = LINE_MAX_BYTES - lw->line_len[s];
    if (take >= room) {
      memcpy(lw->line[s] + lw->line_len[s], p, room);
      log_line(lw, stream, lw->line[s], LINE_MAX_BYTES, 0);
      lw->line_len[s] = 0;
      p += room;
      n -= room;
      continue;
    }
    memcpy(lw->line[s] + lw->line_len[s], p, take);
    lw->line_len[s] += take;
    if (!nl) return;
    log_line(lw, stream, lw->line[s], lw->line_len[s], 1);
    lw->line_len[s] = 0;
    p += take + 1;
    n -= take + 1;
  }
}

static void log_flush_partial(struct log_writer *lw) {
  for (int s = 0; s < 2; s++) {
    if (lw->line_len[s] > 0) log_line(lw, s == 1 ? 2 : 1, lw->line[s], lw->line_len[s], 0);
    lw->line_len[s] = 0;
  }
}

/* ---------------------------------------------------------------- small helpers */

static int listen_unix(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) die("socket path too long: %s", path);
  strcpy(addr.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: %s", strerror(errno));
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind %s: %s", path, strerror(errno));
  chmod(path, 0600);
  if (listen(fd, 16) < 0) die("listen: %s", strerror(errno));
  return fd;
}

/* Receives the pty master runc sends over the console socket (SCM_RIGHTS). */
static int recv_console(int listen_fd, int timeout_ms) {
  struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
  if (poll(&pfd, 1, timeout_ms) <= 0) return -1;
  int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return -1;
  char name[256];
  struct iovec iov = {name, sizeof name};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  pfd.fd = c;
  if (poll(&pfd, 1, timeout_ms) <= 0) {
    close(c);
    return -1;
  }
  ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
  close(c);
  if (n < 0) return -1;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return fd;
}

static void set_winsize(int fd, unsigned cols, unsigned rows) {
  if (fd < 0 || cols == 0 || rows == 0) return;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  ioctl(fd, TIOCSWINSZ, &ws);
}

static pid_t read_pid_file(const char *path) {
  char buf[32] = {0};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  return (pid_t)atoi(buf);
}

/* Children reaped before we knew which pid was the container's. */
struct reaped {
  pid_t pid;
  int status;
};
static struct reaped early[64];
static int n_early;

static void remember(pid_t pid, int status) {
  if (n_early < 64) early[n_early++] = (struct reaped){pid, status};
}

static int recall(pid_t pid, int *status) {
  for (int i = 0; i < n_early; i++)
    if (early[i].pid == pid) {
      *status = early[i].status;
      return 1;
    }
  return 0;
}

static sigset_t blocked;

static int make_signalfd(void) {
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGHUP);
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  int fd = signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) die("signalfd: %s", strerror(errno));
  return fd;
}

static void drain_signalfd(int fd, int *got_term) {
  struct signalfd_siginfo si;
  while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP) *got_term = 1;
  }
}

/* Forks and execs argv with fds 0,1,2 set to in/out/err; the child gets a clean signal state. */
static pid_t spawn(char *const argv[], int in, int out, int err) {
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    sigprocmask(SIG_UNBLOCK, &blocked, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (in != 0) dup2(in, 0);
    if (out != 1) dup2(out, 1);
    if (err != 2) dup2(err, 2);
    for (int fd = 3; fd < 1024; fd++) close(fd);
    execv(argv[0], argv);
    _exit(127);
  }
  return pid;
}

/* Waits for one specific child, remembering any other children reaped meanwhile. */
static int wait_child(pid_t pid) {
  int status;
  for (;;) {
    pid_t r = waitpid(-1, &status, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == pid) return status;
    remember(r, status);
  }
}

static const char *opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 0; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static int flag(int argc, char **argv, const char *name) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static const char *need(int argc, char **argv, const char *name) {
  const char *v = opt(argc, argv, name, NULL);
  if (!v) die("missing %s", name);
  return v;
}

/* ---------------------------------------------------------------- run: the container monitor */

struct client {
  int fd;
  int flags;
  int hello;
  uint8_t in[HDR + MAX_FRAME];
  size_t in_len;
  struct queue out;
};

static struct client *clients[MAX_CLIENTS];

static void client_close(struct client *c, int stdin_once, int *stdin_fd) {
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i] == c) clients[i] = NULL;
  if (stdin_once && (c->flags & HELLO_STDIN) && *stdin_fd >= 0) {
    close(*stdin_fd);
    *stdin_fd = -1;
  }
  close(c->fd);
  queue_free(&c->out);
  free(c);
}

static void client_send(struct client *c, int ch, const void *p, size_t n) {
  uint8_t h[HDR] = {(uint8_t)ch, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
  queue_push(&c->out, h, HDR);
  if (n) queue_push(&c->out, p, n);
}

static void broadcast(int ch, const void *p, size_t n) {
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i] && (clients[i]->flags & HELLO_OUTPUT)) client_send(clients[i], ch, p, n);
}

static int clients_full(void) {
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i] && queue_size(&clients[i]->out) > CLIENT_QUEUE_MAX) return 1;
  return 0;
}

static int cmd_run(int argc, char **argv) {
  const char *runc = need(argc, argv, "--runc");
  const char *root = need(argc, argv, "--root");
  const char *bundle = need(argc, argv, "--bundle");
  const char *id = need(argc, argv, "--id");
  const char *dir = need(argc, argv, "--dir");
  const char *log_path = need(argc, argv, "--log");
  int tty = flag(argc, argv, "--tty");
  int want_stdin = flag(argc, argv, "--stdin");
  int stdin_once = flag(argc, argv, "--stdin-once");

  struct log_writer *lw = calloc(1, sizeof *lw);
  if (!lw) die("out of memory");
  lw->path = log_path;
  lw->max_bytes = atoll(opt(argc, argv, "--log-max-bytes", "10485760"));
  lw->max_files = atoi(opt(argc, argv, "--log-max-files", "5"));
  log_open(lw);

  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  /* The container root: overlayfs over the image layers, mounted here with one syscall rather
   * than by mount(8) from the daemon (which costs a process and a mount-table parse). */
  const char *lower = opt(argc, argv, "--overlay-lower", NULL);
  if (lower) {
    const char *upper = need(argc, argv, "--overlay-upper");
    const char *work = need(argc, argv, "--overlay-work");
    const char *target = need(argc, argv, "--rootfs");
    const char *cwd = opt(argc, argv, "--overlay-cwd", NULL);
    static char data[8192];
    int n = snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    if (n < 0 || (size_t)n >= sizeof data) {
      dprintf(1, "error 128 the image has too many layers for overlayfs\n");
      return 1;
    }
    int rc = 0;
    int old_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cwd && chdir(cwd) < 0) rc = -1;
    /* PRIVILEGED: the container's overlayfs root under its own state directory; the image
     * layers stay read-only, writes land in the container's upper directory. */
    if (rc == 0 && mount("overlay", target, "overlay", 0, data) < 0 && errno != EBUSY) rc = -1;
    int saved = errno;
    if (old_cwd >= 0) {
      if (fchdir(old_cwd) < 0) rc = rc ? rc : 0;
      close(old_cwd);
    }
    if (rc < 0) {
      dprintf(1, "error 128 cannot mount the container root: %s\n", strerror(saved));
      return 1;
    }
  }
  int sfd = make_signalfd();

  char sock_path[PATH_MAX], console_path[PATH_MAX], pid_path[PATH_MAX], runc_log[PATH_MAX];
  snprintf(sock_path, sizeof sock_path, "%s/shim.sock", dir);
  snprintf(console_path, sizeof console_path, "%s/console.sock", dir);
  snprintf(pid_path, sizeof pid_path, "%s/pid", dir);
  snprintf(runc_log, sizeof runc_log, "%s/runc.log", dir);
  unlink(pid_path);

  int lfd = listen_unix(sock_path);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  int out_r = -1, err_r = -1, in_w = -1, master = -1, console_l = -1;
  int child_in = devnull, child_out = devnull, child_err = devnull;
  int p[2];

  if (tty) {
    console_l = listen_unix(console_path);
    if (want_stdin) in_w = -2; /* stdin goes to the master */
  } else {
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
    out_r = p[0];
    child_out = p[1];
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
    err_r = p[0];
    child_err = p[1];
    if (want_stdin) {
      if (pipe2(p, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
      child_in = p[0];
      in_w = p[1];
    }
  }

  char *rargv[16];
  int k = 0;
  rargv[k++] = (char *)runc;
  rargv[k++] = "--root";
  rargv[k++] = (char *)root;
  rargv[k++] = "--log";
  rargv[k++] = runc_log;
  rargv[k++] = "--log-format";
  rargv[k++] = "json";
  rargv[k++] = "run";
  rargv[k++] = "-d";
  rargv[k++] = "--bundle";
  rargv[k++] = (char *)bundle;
  rargv[k++] = "--pid-file";
  rargv[k++] = pid_path;
  if (tty) {
    rargv[k++] = "--console-socket";
    rargv[k++] = console_path;
  }
  rargv[k++] = (char *)id;
  rargv[k] = NULL;

  pid_t runc_pid = spawn(rargv, child_in, child_out, child_err);
  if (child_out != devnull) close(child_out);
  if (child_err != devnull) close(child_err);
  if (child_in != devnull) close(child_in);

  if (tty) {
    /* runc connects while it sets the container up; a failed run never connects. */
    for (;;) {
      struct pollfd pf[2] = {{.fd = console_l, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
      if (poll(pf, 2, 30000) <= 0) break;
      if (pf[0].revents & POLLIN) {
        master = recv_console(console_l, 5000);
        break;
      }
      /* SIGCHLD: if runc already exited it has failed (it connects before it exits) */
      int st;
      pid_t r = waitpid(runc_pid, &st, WNOHANG);
      int dummy = 0;
      drain_signalfd(sfd, &dummy);
      if (r == runc_pid) {
        remember(runc_pid, st);
        break;
      }
    }
    close(console_l);
    unlink(console_path);
  }

  int runc_status;
  if (!recall(runc_pid, &runc_status)) runc_status = wait_child(runc_pid);
  pid_t cpid = read_pid_file(pid_path);
  if (runc_status != 0 || cpid <= 0) {
    char msg[2048];
    runc_error(runc_log, msg, sizeof msg);
    if (!msg[0]) snprintf(msg, sizeof msg, "runc run exited with code %d", status_code(runc_status));
    dprintf(1, "error %d %s\n", start_error_code(msg), msg);
    unlink(sock_path);
    return 1;
  }
  dprintf(1, "ok %d\n", (int)cpid);
  /* From here on this process belongs to nobody: detach from the daemon's pipes. */
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);

  if (master >= 0) {
    set_nonblock(master);
    unsigned cols = (unsigned)atoi(opt(argc, argv, "--cols", "0"));
    unsigned rows = (unsigned)atoi(opt(argc, argv, "--rows", "0"));
    set_winsize(master, cols, rows);
    if (in_w == -2) in_w = master;
  }
  if (out_r >= 0) set_nonblock(out_r);
  if (err_r >= 0) set_nonblock(err_r);
  if (in_w >= 0 && in_w != master) set_nonblock(in_w);
  set_nonblock(lfd);

  int exited = 0, exit_status = 0, got_term = 0;
  if (recall(cpid, &exit_status)) exited = 1;
  int64_t drain_deadline = 0;
  struct queue stdin_q = {0};
  /* A terminal container's first attach (`hyperctl run -t`) connects just after the start: keep
   * what it printed until then (the last 64 KiB) and give it to that first attach client. */
  int replay_pending = tty;
  struct queue replay = {0};
  static uint8_t buf[READ_CHUNK];

  for (;;) {
    int out_open = (master >= 0) || out_r >= 0 || err_r >= 0;
    if (exited && !drain_deadline) drain_deadline = mono_ms() + 2000;
    if (exited && (!out_open || mono_ms() > drain_deadline)) break;

    struct pollfd pf[8 + MAX_CLIENTS];
    int n = 0, i_sfd = -1, i_l = -1, i_out = -1, i_err = -1, i_master = -1, i_in = -1;
    int paused = clients_full();
    pf[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
    i_sfd = n++;
    if (!exited) {
      pf[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
      i_l = n++;
    }
    if (!paused) {
      if (master >= 0) {
        pf[n] = (struct pollfd){.fd = master, .events = POLLIN};
        i_master = n++;
      }
      if (out_r >= 0) {
        pf[n] = (struct pollfd){.fd = out_r, .events = POLLIN};
        i_out = n++;
      }
      if (err_r >= 0) {
        pf[n] = (struct pollfd){.fd = err_r, .events = POLLIN};
        i_err = n++;
      }
    }
    if (in_w >= 0 && queue_size(&stdin_q) > 0) {
      if (in_w == master && i_master >= 0) {
        pf[i_master].events |= POLLOUT;
      } else {
        pf[n] = (struct pollfd){.fd = in_w, .events = POLLOUT};
        i_in = n++;
      }
    }
    int ci[MAX_CLIENTS];
    for (int i = 0; i < MAX_CLIENTS; i++) {
      ci[i] = -1;
      struct client *c = clients[i];
      if (!c) continue;
      short ev = 0;
      if (queue_size(&stdin_q) < STDIN_BUF_MAX) ev |= POLLIN; /* stdin back-pressure */
      if (queue_size(&c->out) > 0) ev |= POLLOUT;
      pf[n] = (struct pollfd){.fd = c->fd, .events = ev};
      ci[i] = n++;
    }
    int timeout = exited ? 100 : -1;
    int r = poll(pf, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;

    if (pf[i_sfd].revents & POLLIN) {
      drain_signalfd(sfd, &got_term);
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
        if (w == cpid) {
          exited = 1;
          exit_status = st;
        }
      }
    }
    if (i_l >= 0 && (pf[i_l].revents & POLLIN)) {
      int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        int slot = -1;
        for (int i = 0; i < MAX_CLIENTS; i++)
          if (!clients[i]) {
            slot = i;
            break;
          }
        if (slot < 0) {
          close(fd);
        } else {
          struct client *c = calloc(1, sizeof *c);
          if (!c) {
            close(fd);
          } else {
            c->fd = fd;
            clients[slot] = c;
          }
        }
      }
    }
    /* container output */
    struct {
      int *fd;
      int idx;
      int ch;
    } outs[3] = {{&master, i_master, CH_STDOUT}, {&out_r, i_out, CH_STDOUT}, {&err_r, i_err, CH_STDERR}};
    for (int o = 0; o < 3; o++) {
      if (outs[o].idx < 0 || *outs[o].fd < 0) continue;
      short re = pf[outs[o].idx].revents;
      if (re & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t got = read(*outs[o].fd, buf, sizeof buf);
        if (got > 0) {
          log_data(lw, outs[o].ch, buf, (size_t)got);
          broadcast(outs[o].ch, buf, (size_t)got);
          if (replay_pending) {
            queue_push(&replay, buf, (size_t)got);
            if (queue_size(&replay) > REPLAY_MAX) {
              replay.off += queue_size(&replay) - REPLAY_MAX;
            }
          }
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          /* EOF (or EIO on a pty whose last slave closed) */
          if (*outs[o].fd == in_w) in_w = -1;
          close(*outs[o].fd);
          *outs[o].fd = -1;
        }
      }
      if (outs[o].fd == &master && master >= 0 && (re & POLLOUT) && in_w == master) {
        if (queue_flush(&stdin_q, master) < 0) queue_free(&stdin_q);
      }
    }
    if (i_in >= 0 && (pf[i_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      if (queue_flush(&stdin_q, in_w) < 0) {
        queue_free(&stdin_q);
        close(in_w);
        in_w = -1;
      }
    }
    /* clients */
    for (int i = 0; i < MAX_CLIENTS; i++) {
      struct client *c = clients[i];
      if (!c || ci[i] < 0) continue;
      short re = pf[ci[i]].revents;
      int drop = 0;
      if (re & POLLOUT) {
        if (queue_flush(&c->out, c->fd) < 0) drop = 1;
      }
      if (!drop && (re & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t got = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
          drop = 1;
        } else if (got > 0) {
          c->in_len += (size_t)got;
          while (c->in_len >= HDR) {
            uint32_t len = ((uint32_t)c->in[1] << 24) | ((uint32_t)c->in[2] << 16) |
                           ((uint32_t)c->in[3] << 8) | c->in[4];
            if (len > MAX_FRAME) {
              drop = 1;
              break;
            }
            if (c->in_len < HDR + len) break;
            uint8_t ch = c->in[0];
            uint8_t *pl = c->in + HDR;
            if (ch == CH_HELLO && len >= 1) {
              c->flags = pl[0];
              c->hello = 1;
              if (replay_pending && (c->flags & HELLO_OUTPUT)) {
                replay_pending = 0;
                if (queue_size(&replay) > 0) client_send(c, CH_STDOUT, replay.data + replay.off, queue_size(&replay));
                queue_free(&replay);
              }
            } else if (ch == CH_STDIN && (c->flags & HELLO_STDIN) && in_w >= 0) {
              queue_push(&stdin_q, pl, len);
              if (in_w == master) {
                if (queue_flush(&stdin_q, master) < 0) queue_free(&stdin_q);
              } else if (queue_flush(&stdin_q, in_w) < 0) {
                queue_free(&stdin_q);
                close(in_w);
                in_w = -1;
              }
            } else if (ch == CH_CLOSE_STDIN && (c->flags & HELLO_STDIN) && in_w >= 0 && in_w != master) {
              queue_flush(&stdin_q, in_w);
              queue_free(&stdin_q);
              close(in_w);
              in_w = -1;
            } else if (ch == CH_RESIZE && len >= 4 && master >= 0) {
              set_winsize(master, ((unsigned)pl[0] << 8) | pl[1], ((unsigned)pl[2] << 8) | pl[3]);
            } else if (ch == CH_REOPEN) {
              if (lw->fd >= 0) close(lw->fd);
              log_open(lw);
            }
            memmove(c->in, c->in + HDR + len, c->in_len - HDR - len);
            c->in_len -= HDR + len;
          }
        }
      }
      if (drop) client_close(c, stdin_once, &in_w);
    }
    (void)got_term; /* the monitor ignores TERM/INT/HUP: only the container's exit ends it */
  }

  log_flush_partial(lw);
  int code = status_code(exit_status);
  int sig = WIFSIGNALED(exit_status) ? WTERMSIG(exit_status) : 0;
  char json[256];
  snprintf(json, sizeof json, "{\"exitCode\":%d,\"signal\":%d,\"pid\":%d,\"finishedAtNs\":\"%lld\"}\n", code, sig,
           (int)cpid, (long long)now_ns());
  write_file_atomic(dir, "exit.json", json);
  close(lfd);
  unlink(sock_path);
  broadcast(CH_EXIT, json, strlen(json));
  /* give attached clients a moment to read the tail of the output and the exit frame */
  int64_t deadline = mono_ms() + 1000;
  for (;;) {
    struct pollfd pf[MAX_CLIENTS];
    int idx[MAX_CLIENTS], n = 0;
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (clients[i] && queue_size(&clients[i]->out) > 0) {
        pf[n] = (struct pollfd){.fd = clients[i]->fd, .events = POLLOUT};
        idx[n++] = i;
      }
    }
    int64_t left = deadline - mono_ms();
    if (n == 0 || left <= 0) break;
    if (poll(pf, (nfds_t)n, (int)left) <= 0) break;
    for (int j = 0; j < n; j++) {
      struct client *c = clients[idx[j]];
      if (pf[j].revents & (POLLOUT | POLLERR | POLLHUP))
        if (queue_flush(&c->out, c->fd) < 0) queue_free(&c->out);
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- exec: one exec session */

static int cmd_exec(int argc, char **argv) {
  const char *runc = need(argc, argv, "--runc");
  const char *root = need(argc, argv, "--root");
  const char *id = need(argc, argv, "--id");
  const char *process = need(argc, argv, "--process");
  const char *tag = need(argc, argv, "--tag"); /* unique per session: names its files */
  const char *dir = need(argc, argv, "--dir");
  int tty = flag(argc, argv, "--tty");
  const int ctl = 3, status_fd = 4;

  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* if the daemon dies, so does the session */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  int sfd = make_signalfd();
  set_cloexec(ctl);
  set_cloexec(status_fd);

  char console_path[PATH_MAX], pid_path[PATH_MAX], runc_log[PATH_MAX];
  snprintf(console_path, sizeof console_path, "%s/%s.sock", dir, tag);
  snprintf(pid_path, sizeof pid_path, "%s/%s.pid", dir, tag);
  snprintf(runc_log, sizeof runc_log, "%s/%s.log", dir, tag);
  unlink(pid_path);
  int console_l = tty ? listen_unix(console_path) : -1;

  char *rargv[20];
  int k = 0;
  rargv[k++] = (char *)runc;
  rargv[k++] = "--root";
  rargv[k++] = (char *)root;
  rargv[k++] = "--log";
  rargv[k++] = runc_log;
  rargv[k++] = "--log-format";
  rargv[k++] = "json";
  rargv[k++] = "exec";
  rargv[k++] = "-d";
  rargv[k++] = "--process";
  rargv[k++] = (char *)process;
  rargv[k++] = "--pid-file";
  rargv[k++] = pid_path;
  if (tty) {
    rargv[k++] = "--console-socket";
    rargv[k++] = console_path;
  }
  rargv[k++] = (char *)id;
  rargv[k] = NULL;

  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  /* non-tty: the process inherits our stdio, i.e. the daemon's pipes, directly */
  pid_t runc_pid = tty ? spawn(rargv, devnull, devnull, devnull) : spawn(rargv, 0, 1, 2);
  int master = -1;
  if (tty) {
    for (;;) {
      struct pollfd pf[2] = {{.fd = console_l, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
      if (poll(pf, 2, 30000) <= 0) break;
      if (pf[0].revents & POLLIN) {
        master = recv_console(console_l, 5000);
        break;
      }
      int st, dummy = 0;
      drain_signalfd(sfd, &dummy);
      pid_t r = waitpid(runc_pid, &st, WNOHANG);
      if (r == runc_pid) {
        remember(runc_pid, st);
        break;
      }
    }
    close(console_l);
    unlink(console_path);
  }
  int runc_status;
  if (!recall(runc_pid, &runc_status)) runc_status = wait_child(runc_pid);
  pid_t pid = read_pid_file(pid_path);
  unlink(pid_path);
  if (runc_status != 0 || pid <= 0) {
    char msg[2048];
    runc_error(runc_log, msg, sizeof msg);
    if (!msg[0]) snprintf(msg, sizeof msg, "runc exec exited with code %d", status_code(runc_status));
    int code = start_error_code(msg);
    dprintf(status_fd, "error %d %s\n", code, msg);
    unlink(runc_log);
    return code;
  }
  unlink(runc_log);
  dprintf(status_fd, "started %d\n", (int)pid);

  if (!tty) {
    /* only the process may hold the session's output pipes, so their EOF means it is done */
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
  } else {
    set_nonblock(master);
    set_winsize(master, (unsigned)atoi(opt(argc, argv, "--cols", "0")),
                (unsigned)atoi(opt(argc, argv, "--rows", "0")));
    set_nonblock(0);
    set_nonblock(1);
  }
  set_nonblock(ctl);

  int exited = 0, status = 0, got_term = 0, in_open = tty, ctl_open = 1;
  if (recall(pid, &status)) exited = 1;
  static uint8_t buf[READ_CHUNK];
  uint8_t cbuf[HDR + 64];
  size_t clen = 0;
  struct queue to_master = {0}, to_out = {0};
  int64_t drain_deadline = 0;

  int killed = 0;
  for (;;) {
    if ((got_term || !ctl_open) && !exited && !killed) {
      kill(pid, SIGKILL); /* the session is gone (daemon closed it or died): end the process */
      killed = 1;
    }
    if (exited && (master < 0 || (drain_deadline && mono_ms() > drain_deadline))) break;
    if (exited && !drain_deadline) drain_deadline = mono_ms() + 2000;
    struct pollfd pf[6];
    int n = 0, i_s, i_c = -1, i_m = -1, i_in = -1, i_out = -1;
    pf[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
    i_s = n++;
    if (ctl_open) {
      pf[n] = (struct pollfd){.fd = ctl, .events = POLLIN};
      i_c = n++;
    }
    if (master >= 0) {
      short ev = 0;
      if (queue_size(&to_out) < CLIENT_QUEUE_MAX) ev |= POLLIN;
      if (queue_size(&to_master) > 0) ev |= POLLOUT;
      pf[n] = (struct pollfd){.fd = master, .events = ev};
      i_m = n++;
      if (in_open && queue_size(&to_master) < STDIN_BUF_MAX) {
        pf[n] = (struct pollfd){.fd = 0, .events = POLLIN};
        i_in = n++;
      }
      if (queue_size(&to_out) > 0) {
        pf[n] = (struct pollfd){.fd = 1, .events = POLLOUT};
        i_out = n++;
      }
    }
    int r = poll(pf, (nfds_t)n, exited ? 100 : -1);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (pf[i_s].revents & POLLIN) {
      drain_signalfd(sfd, &got_term);
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0)
        if (w == pid) {
          exited = 1;
          status = st;
        }
    }
    if (i_c >= 0 && (pf[i_c].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(ctl, cbuf + clen, sizeof cbuf - clen);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        ctl_open = 0; /* the session is gone: the process is killed at the top of the loop */
      } else if (got > 0) {
        clen += (size_t)got;
        while (clen >= HDR) {
          uint32_t len = ((uint32_t)cbuf[1] << 24) | ((uint32_t)cbuf[2] << 16) | ((uint32_t)cbuf[3] << 8) | cbuf[4];
          if (len > 64) {
            clen = 0;
            break;
          }
          if (clen < HDR + len) break;
          if (cbuf[0] == CH_RESIZE && len >= 4)
            set_winsize(master, ((unsigned)cbuf[5] << 8) | cbuf[6], ((unsigned)cbuf[7] << 8) | cbuf[8]);
          memmove(cbuf, cbuf + HDR + len, clen - HDR - len);
          clen -= HDR + len;
        }
      }
    }
    if (i_m >= 0) {
      short re = pf[i_m].revents;
      if (re & POLLOUT) queue_flush(&to_master, master);
      if (re & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t got = read(master, buf, sizeof buf);
        if (got > 0) {
          queue_push(&to_out, buf, (size_t)got);
          queue_flush(&to_out, 1);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          queue_flush(&to_out, 1);
          close(master);
          master = -1;
        }
      }
    }
    if (i_in >= 0 && (pf[i_in].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(0, buf, sizeof buf);
      if (got > 0) {
        queue_push(&to_master, buf, (size_t)got);
        queue_flush(&to_master, master);
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        in_open = 0; /* a terminal has no half-close: send EOF the way a user would */
        uint8_t eot = 4;
        queue_push(&to_master, &eot, 1);
        queue_flush(&to_master, master);
      }
    }
    if (i_out >= 0 && (pf[i_out].revents & (POLLOUT | POLLERR | POLLHUP))) {
      if (queue_flush(&to_out, 1) < 0) queue_free(&to_out);
    }
  }
  if (queue_size(&to_out) > 0) {
    int fl = fcntl(1, F_GETFL);
    fcntl(1, F_SETFL, fl & ~O_NONBLOCK);
    queue_flush(&to_out, 1);
  }
  int code = status_code(status);
  dprintf(status_fd, "exit %d\n", code);
  return code;
}

/* ---------------------------------------------------------------- netns: pod namespaces */

static void bind_ns(const char *ns, const char *target) {
  char src[64];
  snprintf(src, sizeof src, "/proc/self/ns/%s", ns);
  int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) die("create %s: %s", target, strerror(errno));
  close(fd);
  /* PRIVILEGED: pins a namespace by bind-mounting its nsfs file under the sandbox's state
   * directory; only the daemon's own containers join it. */
  if (mount(src, target, NULL, MS_BIND, NULL) < 0) die("bind %s on %s: %s", src, target, strerror(errno));
}

static int cmd_netns(int argc, char **argv) {
  const char *net = opt(argc, argv, "--net", NULL);
  const char *uts = opt(argc, argv, "--uts", NULL);
  const char *ipc = opt(argc, argv, "--ipc", NULL);
  const char *hostname = opt(argc, argv, "--hostname", NULL);
  int flags = 0;
  if (net) flags |= CLONE_NEWNET;
  if (uts) flags |= CLONE_NEWUTS;
  if (ipc) flags |= CLONE_NEWIPC;
  /* PRIVILEGED: new network/UTS/IPC namespaces for one pod; nothing in them reaches the host's. */
  if (flags && unshare(flags) < 0) die("unshare: %s", strerror(errno));
  if (uts && hostname && sethostname(hostname, strlen(hostname)) < 0) die("sethostname: %s", strerror(errno));
  if (net) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("lo: %s", strerror(errno));
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("lo up: %s", strerror(errno));
    close(s);
    bind_ns("net", net);
  }
  if (uts) bind_ns("uts", uts);
  if (ipc) bind_ns("ipc", ipc);
  const char *shm = opt(argc, argv, "--shm", NULL);
  if (shm) {
    char data[64];
    snprintf(data, sizeof data, "mode=1777,size=%s", opt(argc, argv, "--shm-size", "67108864"));
    /* PRIVILEGED: a size-capped tmpfs for the pod's /dev/shm under its state directory. */
    if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data) < 0)
      die("mount shm on %s: %s", shm, strerror(errno));
  }
  return 0;
}

/* ---------------------------------------------------------------- port-forward */

static int cmd_port_forward(int argc, char **argv) {
  const char *netns = need(argc, argv, "--netns");
  int port = atoi(need(argc, argv, "--port"));
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int nfd = open(netns, O_RDONLY | O_CLOEXEC);
  if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0) die("cannot enter network namespace %s: %s", netns, strerror(errno));
  close(nfd);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
    fprintf(stderr, "%s: cannot connect to port %d in the pod: %s\n", prog, port, strerror(errno));
    return 1;
  }
  static uint8_t buf[READ_CHUNK];
  int in_open = 1, sock_open = 1;
  while (sock_open) {
    struct pollfd pf[2] = {{.fd = in_open ? 0 : -1, .events = POLLIN}, {.fd = s, .events = POLLIN}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) {
        if (write_all(s, buf, (size_t)n) < 0) break;
      } else if (n == 0 || errno != EINTR) {
        in_open = 0;
        shutdown(s, SHUT_WR);
      }
    }
    if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(s, buf, sizeof buf);
      if (n > 0) {
        if (write_all(1, buf, (size_t)n) < 0) break;
      } else if (n == 0 || errno != EINTR) {
        sock_open = 0;
      }
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: %s run|exec|netns|port-forward [options]", prog);
  if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(argv[1], "exec") == 0) return cmd_exec(argc - 2, argv + 2);
  if (strcmp(argv[1], "netns") == 0) return cmd_netns(argc - 2, argv + 2);
  if (strcmp(argv[1], "port-forward") == 0) return cmd_port_forward(argc - 2, argv + 2);
  if (strcmp(argv[1], "version") == 0) {
    printf("h8s-runc-shim 1\n");
    return 0;
  }
  die("unknown command %s", argv[1]);
  return 2;
}
