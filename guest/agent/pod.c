/* Pod, containers and processes inside the VM: the requests of the protocol (docs/adr/0002).
 *
 * Layout: one "pod init" process (PID 1 of the pod's PID/UTS/IPC namespaces, created at boot
 * so pooled VMs are ready) reaps orphans; each container has its own mount namespace whose
 * root is its block device (a per-container overlay of the image disk), a cgroup v2 leaf
 * (memory/pids/cpu limits, OOM counting, kill-all) and shares the pod namespaces. Processes
 * are started by a double fork (setns needs a fork for the PID namespace); the agent stays
 * their parent, so it reaps them and knows their exit codes. */
#include "agent.h"
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

static jarena req_arena;
static pending pend[MAX_PENDING];
static bool pod_ready;
static int podns_pid = -1, podns_uts = -1, podns_ipc = -1;
bool g_shutdown_requested;

typedef struct volume {
  bool used;
  char serial[64];
  char dir[128];
  int refs;
} volume;
static volume volumes[MAX_MOUNTS * 2];

/* ---- small helpers ---- */

static int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC | O_CREAT, 0644);
  if (fd < 0) return -1;
  size_t n = strlen(data);
  ssize_t w = write(fd, data, n);
  int e = errno;
  close(fd);
  errno = e;
  return w == (ssize_t)n ? 0 : -1;
}

static ssize_t read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}

static int mkdir_p(const char *path, mode_t mode) {
  char tmp[600];
  if (strlen(path) >= sizeof tmp) { errno = ENAMETOOLONG; return -1; }
  strcpy(tmp, path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, mode) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, mode) < 0 && errno != EEXIST) return -1;
  return 0;
}

static bool valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= ID_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
  return s[0] != '.';
}

/* A path inside a container: absolute, no "..", bounded. */
static bool valid_cpath(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 400 || s[0] != '/') return false;
  for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
    if ((p == s || p[-1] == '/') && (p[2] == 0 || p[2] == '/')) return false;
  return true;
}

static container *find_container(const char *id) {
  for (int i = 0; i < MAX_CONTAINERS; i++)
    if (g_containers[i].used && strcmp(g_containers[i].id, id) == 0) return &g_containers[i];
  return NULL;
}

static process *find_process(container *c, const char *exec_id) {
  for (int i = 0; i < MAX_PROCESSES; i++) {
    process *p = &g_procs[i];
    if (p->used && p->c == c && strcmp(p->exec_id, exec_id) == 0) return p;
  }
  return NULL;
}

static process *new_process(void) {
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

static void free_process(process *p) {
  if (p->sin) stream_free(p->sin);
  if (p->sout) { p->sout->proc = NULL; }
  if (p->serr) { p->serr->proc = NULL; }
  if (p->tty_fd >= 0) close(p->tty_fd);
  if (p->sock_fd >= 0) close(p->sock_fd);
  if (p->c && p->c->init == p) p->c->init = NULL;
  memset(p, 0, sizeof *p);
}

/* Runs a helper (busybox) to completion; its output (bounded) goes to err. */
static int run_helper(char *const argv[], char *err, size_t errlen) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) { snprintf(err, errlen, "pipe: %s", strerror(errno)); return -1; }
  pid_t pid = fork();
  if (pid < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); close(pfd[0]); close(pfd[1]); return -1; }
  if (pid == 0) {
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

/* The serial of a SCSI disk from its unit serial number VPD page (0x80): a 4-byte header,
 * then the serial, possibly padded with spaces or NULs. */
static bool scsi_serial(const char *name, char *out, size_t outlen) {
  char path[300];
  unsigned char buf[128];
  snprintf(path, sizeof path, "/sys/block/%s/device/vpd_pg80", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 5 || buf[1] != 0x80) return false;
  size_t len = ((size_t)buf[2] << 8) | buf[3];
  if (len > (size_t)n - 4) len = (size_t)n - 4;
  size_t start = 4, end = 4 + len;
  while (start < end && (buf[start] == ' ' || buf[start] == 0)) start++;
  while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == 0)) end--;
  if (end - start + 1 > outlen) return false;
  memcpy(out, buf + start, end - start);
  out[end - start] = 0;
  return true;
}

/* /dev/vdX (virtio-blk) or /dev/sdX (virtio-scsi) whose serial is `serial`; 0 when found. */
static int find_disk(const char *serial, char *dev, size_t devlen) {
  DIR *d = opendir("/sys/block");
  if (!d) return -1;
  struct dirent *e;
  int rc = -1;
  while ((e = readdir(d))) {
    char path[300], buf[128];
    if (strncmp(e->d_name, "vd", 2) == 0) {
      snprintf(path, sizeof path, "/sys/block/%s/serial", e->d_name);
      if (read_file(path, buf, sizeof buf) < 0) continue;
      size_t n = strlen(buf);
      while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
    } else if (strncmp(e->d_name, "sd", 2) == 0) {
      if (!scsi_serial(e->d_name, buf, sizeof buf)) continue;
    } else {
      continue;
    }
    if (strcmp(buf, serial) == 0) {
      /* A SCSI disk shows up before its capacity is read: wait for a size. */
      char sz[32];
      snprintf(path, sizeof path, "/sys/block/%s/size", e->d_name);
      if (read_file(path, sz, sizeof sz) < 0 || atoll(sz) <= 0) break;
      snprintf(dev, devlen, "/dev/%s", e->d_name);
      /* Found once its first block can be read (the node appears while the disk is probed). */
      unsigned char blk[4096];
      int fd = open(dev, O_RDONLY | O_CLOEXEC);
      rc = fd >= 0 && pread(fd, blk, sizeof blk, 0) == (ssize_t)sizeof blk ? 0 : -1;
      if (fd >= 0) close(fd);
      break;
    }
  }
  closedir(d);
  return rc;
}

static int find_nic(const char *mac, char *ifname, size_t len) {
  DIR *d = opendir("/sys/class/net");
  if (!d) return -1;
  struct dirent *e;
  int rc = -1;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300], buf[64];
    snprintf(path, sizeof path, "/sys/class/net/%s/address", e->d_name);
    if (read_file(path, buf, sizeof buf) < 0) continue;
    if (strncasecmp(buf, mac, strlen(mac)) == 0 && strlen(mac) == 17) {
      snprintf(ifname, len, "%s", e->d_name);
      rc = 0;
      break;
    }
  }
  closedir(d);
  return rc;
}

/* Filesystem on a device: "ext", "xfs", "erofs" or "" (none we know). */
static const char *probe_fs(const char *dev) {
  int fd = open(dev, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  unsigned char sb[2048];
  ssize_t n = pread(fd, sb, sizeof sb, 0);
  close(fd);
  if (n < (ssize_t)sizeof sb) return "";
  if (sb[1080] == 0x53 && sb[1081] == 0xEF) return "ext";
  if (memcmp(sb, "XFSB", 4) == 0) return "xfs";
  if (sb[1024] == 0xe2 && sb[1025] == 0xe1 && sb[1026] == 0xf5 && sb[1027] == 0xe0) return "erofs";
  return "";
}

/* ---- pod ---- */

static int podinit_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (;;) {
    int st;
    pid_t r = waitpid(-1, &st, 0);
    if (r < 0 && errno == ECHILD) {
      int sig;
      sigset_t w;
      sigemptyset(&w);
      sigaddset(&w, SIGCHLD);
      sigwait(&w, &sig);
    }
  }
  return 0;
}

static int open_ns(pid_t pid, const char *ns) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns);
  return open(path, O_RDONLY | O_CLOEXEC);
}

void pod_init(void) {
  mkdir_p("/run/h8s/c", 0700);
  mkdir_p("/run/h8s/v", 0700);
  mkdir_p("/run/h8s/pod", 0755);
  mkdir_p("/sys/fs/cgroup", 0755);
  if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    logk("mount cgroup2: %s", strerror(errno));
  if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids +cpu") < 0)
    logk("enable cgroup controllers: %s", strerror(errno));
  write_file("/run/h8s/pod/hostname", "localhost\n");
  write_file("/run/h8s/pod/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
  write_file("/run/h8s/pod/resolv.conf", "");
  static char stack[64 * 1024] __attribute__((aligned(16)));
  g_podinit = clone(podinit_main, stack + sizeof stack, CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD, NULL);
  if (g_podinit < 0) { logk("cannot create the pod namespaces: %s", strerror(errno)); return; }
  podns_pid = open_ns(g_podinit, "pid");
  podns_uts = open_ns(g_podinit, "uts");
  podns_ipc = open_ns(g_podinit, "ipc");
  char *lo[] = { "/bin/busybox", "ip", "link", "set", "lo", "up", NULL };
  char err[256];
  if (run_helper(lo, err, sizeof err) != 0) logk("lo up: %s", err);
}

/* The agent (single-threaded) steps into the pod's UTS namespace and back: no fork, which
 * costs tens of milliseconds of a pod start under TCG. */
static int set_pod_hostname(const char *name, char *err, size_t errlen) {
  static int self_uts = -1;
  if (self_uts < 0) self_uts = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  if (self_uts < 0 || setns(podns_uts, CLONE_NEWUTS) < 0) {
    snprintf(err, errlen, "cannot enter the pod's UTS namespace: %s", strerror(errno));
    return -1;
  }
  int rc = sethostname(name, strlen(name));
  int e = errno;
  if (setns(self_uts, CLONE_NEWUTS) < 0) logk("cannot return to the agent's UTS namespace: %s", strerror(errno));
  if (rc < 0) { snprintf(err, errlen, "cannot set hostname \"%s\": %s", name, strerror(e)); return -1; }
  return 0;
}

static bool valid_hostname(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 63) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.') return false;
  return true;
}

static bool valid_token(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr(".:-_/%", s[i])) return false;
  return true;
}

/* setupPod: returns 1 when it must wait for a NIC to appear, 0 done, -1 failed (err set). */
static int op_setup_pod(jnode *r, char *err, size_t errlen, const char **code) {
  *code = "Invalid";
  jnode *ifs = jarr(r, "interfaces");
  /* First pass: every NIC must be present before anything changes. */
  for (jnode *i = ifs ? ifs->child : NULL; i; i = i->next) {
    const char *mac = jstr(i, "mac", "");
    char ifn[64];
    if (strlen(mac) != 17) { snprintf(err, errlen, "interface MAC \"%s\" is not valid", mac); return -1; }
    if (find_nic(mac, ifn, sizeof ifn) < 0) return 1;
  }
  const char *hostname = jstr(r, "hostname", "");
  if (*hostname) {
    if (!valid_hostname(hostname)) { snprintf(err, errlen, "hostname \"%.64s\" is not valid", hostname); return -1; }
    if (set_pod_hostname(hostname, err, errlen) < 0) { *code = "InternalError"; return -1; }
    char buf[128];
    snprintf(buf, sizeof buf, "%s\n", hostname);
    write_file("/run/h8s/pod/hostname", buf);
    char hosts[512];
    snprintf(hosts, sizeof hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
             hostname);
    write_file("/run/h8s/pod/hosts", hosts);
  }
  jnode *dns = jobj(r, "dns");
  if (dns) {
    jwriter w;
    jw_init(&w, 8192);
    const char *keys[] = { "servers", "searches", "options" };
    const char *pfx[] = { "nameserver ", "search ", "options " };
    for (int k = 0; k < 3; k++) {
      jnode *a = jarr(dns, keys[k]);
      if (!a || !a->len) continue;
      if (k) jw_raw(&w, pfx[k], strlen(pfx[k]));
      for (jnode *e = a->child; e; e = e->next) {
        if (e->type != J_STR || !valid_token(e->str, 253)) {
          jw_free(&w);
          snprintf(err, errlen, "dns %s entry is not valid", keys[k]);
          return -1;
        }
        if (k == 0) jw_raw(&w, pfx[0], strlen(pfx[0]));
        jw_raw(&w, e->str, e->len);
        jw_raw(&w, k == 0 ? "\n" : " ", 1);
      }
      if (k) jw_raw(&w, "\n", 1);
    }
    if (!w.failed) write_file("/run/h8s/pod/resolv.conf", w.buf ? w.buf : "");
    jw_free(&w);
  }
  *code = "InternalError";
  for (jnode *i = ifs ? ifs->child : NULL; i; i = i->next) {
    const char *mac = jstr(i, "mac", "");
    const char *name = jstr(i, "name", "");
    char ifn[64];
    if (find_nic(mac, ifn, sizeof ifn) < 0) return 1;
    if (*name && !valid_token(name, 15)) { *code = "Invalid"; snprintf(err, errlen, "interface name is not valid"); return -1; }
    if (*name && strcmp(name, ifn) != 0) {
      char *a[] = { "/bin/busybox", "ip", "link", "set", "dev", ifn, "name", (char *)name, NULL };
      char out[256];
      if (run_helper(a, out, sizeof out) != 0) { snprintf(err, errlen, "rename %s to %s: %s", ifn, name, out); return -1; }
      snprintf(ifn, sizeof ifn, "%s", name);
    }
    bool okint = true;
    int64_t mtu = jint(i, "mtu", 0, 68, 65535, &okint);
    if (mtu) {
      char m[16];
      snprintf(m, sizeof m, "%lld", (long long)mtu);
      char *a[] = { "/bin/busybox", "ip", "link", "set", "dev", ifn, "mtu", m, NULL };
      char out[256];
      if (run_helper(a, out, sizeof out) != 0) { snprintf(err, errlen, "mtu on %s: %s", ifn, out); return -1; }
    }
    jnode *addrs = jarr(i, "addresses");
    for (jnode *e = addrs ? addrs->child : NULL; e; e = e->next) {
      if (e->type != J_STR || !valid_token(e->str, 64)) { *code = "Invalid"; snprintf(err, errlen, "address is not valid"); return -1; }
      char *a[] = { "/bin/busybox", "ip", "addr", "add", (char *)e->str, "dev", ifn, NULL };
      char out[256];
      if (run_helper(a, out, sizeof out) != 0 && !strstr(out, "exists")) {
        snprintf(err, errlen, "address %s on %s: %s", e->str, ifn, out);
        return -1;
      }
    }
    char *up[] = { "/bin/busybox", "ip", "link", "set", "dev", ifn, "up", NULL };
    char out[256];
    if (run_helper(up, out, sizeof out) != 0) { snprintf(err, errlen, "link up %s: %s", ifn, out); return -1; }
  }
  jnode *routes = jarr(r, "routes");
  for (jnode *e = routes ? routes->child : NULL; e; e = e->next) {
    const char *dst = jstr(e, "destination", "");
    const char *gw = jstr(e, "gateway", "");
    const char *devn = jstr(e, "device", "");
    if (!valid_token(dst, 64) || (*gw && !valid_token(gw, 64)) || (*devn && !valid_token(devn, 15))) {
      *code = "Invalid";
      snprintf(err, errlen, "route is not valid");
      return -1;
    }
    char *a[12];
    int n = 0;
    a[n++] = "/bin/busybox"; a[n++] = "ip";
    if (strchr(dst, ':') || strchr(gw, ':')) a[n++] = "-6";
    a[n++] = "route"; a[n++] = "replace"; a[n++] = (char *)dst;
    if (*gw) { a[n++] = "via"; a[n++] = (char *)gw; }
    if (*devn) { a[n++] = "dev"; a[n++] = (char *)devn; }
    a[n] = NULL;
    char out[256];
    if (run_helper(a, out, sizeof out) != 0) { snprintf(err, errlen, "route %s: %s", dst, out); return -1; }
  }
  jnode *sysctls = jobj(r, "sysctls");
  for (jnode *e = sysctls ? sysctls->child : NULL; e; e = e->next) {
    if (e->type != J_STR || !valid_token(e->key, 200) || strstr(e->key, "..")) {
      *code = "Invalid";
      snprintf(err, errlen, "sysctl is not valid");
      return -1;
    }
    char path[300];
    snprintf(path, sizeof path, "/proc/sys/%s", e->key);
    for (char *p = path + 10; *p; p++) if (*p == '.') *p = '/';
    if (write_file(path, e->str) < 0) { snprintf(err, errlen, "sysctl %s: %s", e->key, strerror(errno)); return -1; }
  }
  pod_ready = true;
  return 0;
}

/* ---- volumes and container roots ---- */

static volume *find_volume(const char *serial) {
  for (size_t i = 0; i < sizeof volumes / sizeof *volumes; i++)
    if (volumes[i].used && strcmp(volumes[i].serial, serial) == 0) return &volumes[i];
  return NULL;
}

/* Mounts a volume disk (formatting it first when blank). 1 = wait for the disk. */
static int volume_acquire(const char *serial, const char *fstype, char *err, size_t errlen) {
  volume *v = find_volume(serial);
  if (v) { v->refs++; return 0; }
  char dev[64];
  if (find_disk(serial, dev, sizeof dev) < 0) return 1;
  if (strcmp(fstype, "ext4") != 0) {
    snprintf(err, errlen, "volume filesystem \"%s\" is not supported in the guest (use ext4)", fstype);
    return -1;
  }
  const char *have = probe_fs(dev);
  if (!*have) {
    /* First use: format. busybox mke2fs writes an ext2 layout, which the ext4 driver mounts
     * (docs/hyper-runtime.md, "Volumes"). */
    char *a[] = { "/bin/busybox", "mke2fs", "-q", "-F", "-m", "0", dev, NULL };
    char out[256];
    if (run_helper(a, out, sizeof out) != 0) { snprintf(err, errlen, "format volume %s: %s", serial, out); return -1; }
  } else if (strcmp(have, "ext") != 0) {
    snprintf(err, errlen, "volume %s holds a %s filesystem, not ext4", serial, have);
    return -1;
  }
  for (size_t i = 0; i < sizeof volumes / sizeof *volumes; i++) {
    if (volumes[i].used) continue;
    v = &volumes[i];
    snprintf(v->serial, sizeof v->serial, "%s", serial);
    snprintf(v->dir, sizeof v->dir, "/run/h8s/v/%s", serial);
    mkdir_p(v->dir, 0755);
    if (mount(dev, v->dir, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0) {
      snprintf(err, errlen, "mount volume %s: %s", serial, strerror(errno));
      return -1;
    }
    v->used = true;
    v->refs = 1;
    return 0;
  }
  snprintf(err, errlen, "too many volumes");
  return -1;
}

static void volume_release(const char *serial) {
  volume *v = find_volume(serial);
  if (!v || --v->refs > 0) return;
  if (umount2(v->dir, MNT_DETACH) < 0) logk("umount %s: %s", v->dir, strerror(errno));
  rmdir(v->dir);
  v->used = false;
}

static void container_release(container *c) {
  if (c->cgroup[0]) {
    char path[200];
    snprintf(path, sizeof path, "%s/cgroup.kill", c->cgroup);
    write_file(path, "1");
  }
  if (c->oom_fd >= 0) { epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->oom_fd, NULL); close(c->oom_fd); }
  if (c->psi_fd >= 0) { epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->psi_fd, NULL); close(c->psi_fd); }
  if (c->mntns_fd >= 0) close(c->mntns_fd);
  if (c->pre_sock >= 0) close(c->pre_sock);
  if (c->pre_epipe >= 0) close(c->pre_epipe);
  /* The container's directory under /run/h8s/c: named after the id it was created with (a
   * claimed prepared container keeps its first name there). */
  char dir[200] = "";
  if (c->rootdir[0]) {
    snprintf(dir, sizeof dir, "%s", c->rootdir);
    char *sl = strrchr(dir, '/');
    if (sl) *sl = 0;
  }
  if (c->rootdir[0]) { umount2(c->rootdir, MNT_DETACH); rmdir(c->rootdir); }
  if (c->lowerdir[0]) {
    umount2(c->lowerdir, MNT_DETACH);
    char up[220];
    snprintf(up, sizeof up, "%s/upper", dir);
    umount2(up, MNT_DETACH);
  }
  for (int i = 0; i < c->nmounts; i++)
    if (strcmp(c->mounts[i].type, "block") == 0) volume_release(c->mounts[i].source);
  if (c->cgroup[0]) rmdir(c->cgroup); /* may fail while processes die; harmless */
  if (dir[0]) rmdir(dir);
  for (int i = 0; i < MAX_PROCESSES; i++) {
    process *p = &g_procs[i];
    if (!p->used || p->c != c) continue;
    if (p->exited && p->exit_queued) free_process(p);
    else p->c = NULL;
  }
  memset(c, 0, sizeof *c);
  c->oom_fd = -1;
  c->psi_fd = -1;
  c->mntns_fd = -1;
  c->pre_sock = -1;
  c->pre_epipe = -1;
}

static void apply_resources(container *c, char *err, size_t errlen) {
  char path[220], val[64];
  if (c->memory_max > 0) {
    snprintf(path, sizeof path, "%s/memory.max", c->cgroup);
    snprintf(val, sizeof val, "%lld", (long long)c->memory_max);
    if (write_file(path, val) < 0) snprintf(err, errlen, "memory.max: %s", strerror(errno));
  }
  if (c->pids_max > 0) {
    snprintf(path, sizeof path, "%s/pids.max", c->cgroup);
    snprintf(val, sizeof val, "%lld", (long long)c->pids_max);
    if (write_file(path, val) < 0) snprintf(err, errlen, "pids.max: %s", strerror(errno));
  }
  if (c->cpu_quota > 0) {
    snprintf(path, sizeof path, "%s/cpu.max", c->cgroup);
    snprintf(val, sizeof val, "%lld %lld", (long long)c->cpu_quota, (long long)(c->cpu_period > 0 ? c->cpu_period : 100000));
    if (write_file(path, val) < 0) snprintf(err, errlen, "cpu.max: %s", strerror(errno));
  }
}

static void read_resources(jnode *res, container *c) {
  bool ok = true;
  if (!res) return;
  c->memory_max = jint(res, "memoryBytes", c->memory_max, 0, INT64_MAX, &ok);
  c->pids_max = jint(res, "pidsLimit", c->pids_max, 0, 4194304, &ok);
  c->cpu_quota = jint(res, "cpuQuota", c->cpu_quota, 0, INT64_MAX, &ok);
  c->cpu_period = jint(res, "cpuPeriod", c->cpu_period, 0, 1000000, &ok);
}

/*
 * The OOM killer of a memory cgroup does not fire while reclaim still "makes progress", and
 * a container at its limit without swap can make progress forever by evicting and re-reading
 * its own program text: it hangs at 100% of its CPU instead of dying. As systemd-oomd and
 * Android's lmkd do, a PSI trigger on the container's memory.pressure reports every second in
 * which its tasks were fully stalled on memory for PSI_STALL_US or more; PSI_STRIKES such
 * seconds within PSI_SPAN_MS while the cgroup sits at its limit kill the container (cgroup.kill)
 * and report it as OOM-killed.
 */
#define PSI_STALL_US 300000
#define PSI_WINDOW_US 1000000
#define PSI_STRIKES 5
#define PSI_SPAN_MS 15000

static void watch_memory_pressure(container *c) {
  char path[220];
  snprintf(path, sizeof path, "%s/memory.pressure", c->cgroup);
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return; /* kernel without PSI: the cgroup OOM killer alone */
  char trig[64];
  int n = snprintf(trig, sizeof trig, "full %d %d", PSI_STALL_US, PSI_WINDOW_US);
  if (write(fd, trig, (size_t)n + 1) < 0) { close(fd); return; }
  struct epoll_event ev = { .events = EPOLLPRI, .data.u64 = ((uint64_t)TAG_PSI << 32) | (uint64_t)(c - g_containers) };
  if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) { close(fd); return; }
  c->psi_fd = fd;
}

static int64_t cgroup_int(container *c, const char *file) {
  char path[220], buf[64];
  snprintf(path, sizeof path, "%s/%s", c->cgroup, file);
  ssize_t n = read_file(path, buf, sizeof buf);
  if (n <= 0 || buf[0] < '0' || buf[0] > '9') return -1; /* missing, or "max" */
  return strtoll(buf, NULL, 10);
}

void pod_on_psi_fd(int idx) {
  if (idx < 0 || idx >= MAX_CONTAINERS) return;
  container *c = &g_containers[idx];
  if (!c->used || c->psi_killed) return;
  int64_t max = cgroup_int(c, "memory.max"), cur = cgroup_int(c, "memory.current");
  /* stalls below the limit are the whole guest's memory pressure, not this container's */
  if (max <= 0 || cur < 0 || cur < max - max / 16) { c->psi_strikes = 0; return; }
  int64_t now = mono_ms();
  if (c->psi_strikes == 0 || now - c->psi_first_ms > PSI_SPAN_MS) { c->psi_first_ms = now; c->psi_strikes = 0; }
  if (++c->psi_strikes < PSI_STRIKES) return;
  char path[220];
  snprintf(path, sizeof path, "%s/cgroup.kill", c->cgroup);
  if (write_file(path, "1") < 0) return;
  c->psi_killed = true;
  logk("container %s: stalled at its memory limit (%lld of %lld bytes); killed as out of memory", c->id, (long long)cur, (long long)max);
  jwriter w;
  jw_init(&w, 512);
  jw_begin_obj(&w);
  jw_str(&w, "type", "oom");
  jw_str(&w, "container", c->id);
  jw_int(&w, "oomKills", c->oom_kills + 1);
  jw_end_obj(&w);
  if (!w.failed) chan_event(w.buf, w.len);
  jw_free(&w);
}

/* createContainer: 1 = waiting for disks, 0 = done, -1 = failed. */
static int op_create_container(jnode *r, char *err, size_t errlen, const char **code) {
  *code = "Invalid";
  const char *id = jstr(r, "id", "");
  if (!valid_id(id)) { snprintf(err, errlen, "container id is not valid"); return -1; }
  if (find_container(id)) { *code = "AlreadyExists"; snprintf(err, errlen, "container \"%s\" already exists", id); return -1; }
  jnode *root = jobj(r, "root");
  const char *serial = jstr(root, "serial", "");
  if (!valid_token(serial, 20)) { snprintf(err, errlen, "root disk serial is not valid"); return -1; }
  jnode *mounts = jarr(r, "mounts");
  if (mounts && mounts->len > MAX_MOUNTS) { snprintf(err, errlen, "too many mounts (at most %d)", MAX_MOUNTS); return -1; }
  /* Validate everything and wait for every disk before touching anything. */
  char dev[64];
  if (find_disk(serial, dev, sizeof dev) < 0) return 1;
  tracek("create %s: disk %s found", id, dev);
  for (jnode *m = mounts ? mounts->child : NULL; m; m = m->next) {
    const char *type = jstr(m, "type", "");
    const char *path = jstr(m, "containerPath", "");
    if (!valid_cpath(path)) { snprintf(err, errlen, "mount path \"%.100s\" is not valid", path); return -1; }
    if (strcmp(type, "block") == 0) {
      const char *ser = jstr(m, "serial", "");
      if (!valid_token(ser, 20)) { snprintf(err, errlen, "volume serial is not valid"); return -1; }
      char vdev[64];
      if (!find_volume(ser) && find_disk(ser, vdev, sizeof vdev) < 0) return 1;
    } else if (strcmp(type, "tmpfs") != 0) {
      snprintf(err, errlen, "mount type \"%.20s\" is not supported", type);
      return -1;
    }
  }
  container *c = NULL;
  for (int i = 0; i < MAX_CONTAINERS; i++)
    if (!g_containers[i].used) { c = &g_containers[i]; break; }
  if (!c) { *code = "Forbidden"; snprintf(err, errlen, "too many containers in this pod"); return -1; }
  memset(c, 0, sizeof *c);
  c->used = true;
  c->oom_fd = -1;
  c->psi_fd = -1;
  c->mntns_fd = -1;
  c->pre_sock = -1;
  c->pre_epipe = -1;
  snprintf(c->id, sizeof c->id, "%s", id);
  snprintf(c->dev, sizeof c->dev, "%s", dev);
  c->readonly_root = jbool(root, "readonly", false);
  *code = "InternalError";
  const char *fstype = jstr(root, "fsType", "ext4");
  const char *have = probe_fs(dev);
  snprintf(c->rootdir, sizeof c->rootdir, "/run/h8s/c/%s/rootfs", id);
  mkdir_p(c->rootdir, 0755);
  if (strcmp(fstype, "erofs") == 0 || strcmp(have, "erofs") == 0) {
    /* Read-only image filesystem: writable overlay in guest memory on top. */
    char up[200], upper[220], work[220], opts[700];
    snprintf(c->lowerdir, sizeof c->lowerdir, "/run/h8s/c/%s/lower", id);
    snprintf(up, sizeof up, "/run/h8s/c/%s/upper", id);
    mkdir_p(c->lowerdir, 0755);
    mkdir_p(up, 0755);
    if (mount(dev, c->lowerdir, "erofs", MS_RDONLY, NULL) < 0 ||
        mount("tmpfs", up, "tmpfs", MS_NOSUID | MS_NODEV, "size=50%,mode=0755") < 0) {
      snprintf(err, errlen, "mount root %s: %s", dev, strerror(errno));
      container_release(c);
      return -1;
    }
    snprintf(upper, sizeof upper, "%s/u", up);
    snprintf(work, sizeof work, "%s/w", up);
    mkdir_p(upper, 0755);
    mkdir_p(work, 0755);
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", c->lowerdir, upper, work);
    if (mount("overlay", c->rootdir, "overlay", 0, opts) < 0) {
      snprintf(err, errlen, "overlay root: %s", strerror(errno));
      container_release(c);
      return -1;
    }
  } else {
    if (strcmp(have, "ext") != 0) {
      snprintf(err, errlen, "root disk %s has no ext4 filesystem", serial);
      *code = "Invalid";
      container_release(c);
      return -1;
    }
    tracek("create %s: mounting", id);
    /* noinit_itable: no ext4lazyinit thread zeroing inode tables in the background of a
     * pod start (it competes for the vCPU and writes the overlay for nothing). */
    if (mount(dev, c->rootdir, "ext4", c->readonly_root ? MS_RDONLY : 0, "noinit_itable") < 0) {
      snprintf(err, errlen, "mount root %s: %s", dev, strerror(errno));
      container_release(c);
      return -1;
    }
    tracek("create %s: mounted", id);
  }
  for (jnode *m = mounts ? mounts->child : NULL; m; m = m->next) {
    mountspec *ms = &c->mounts[c->nmounts];
    snprintf(ms->path, sizeof ms->path, "%s", jstr(m, "containerPath", ""));
    snprintf(ms->type, sizeof ms->type, "%s", jstr(m, "type", ""));
    ms->readonly = jbool(m, "readonly", false);
    if (strcmp(ms->type, "block") == 0) {
      snprintf(ms->source, sizeof ms->source, "%s", jstr(m, "serial", ""));
      int rc = volume_acquire(ms->source, jstr(m, "fsType", "ext4"), err, errlen);
      if (rc != 0) {
        if (rc == 1) snprintf(err, errlen, "volume disk %s disappeared", ms->source);
        container_release(c);
        return -1;
      }
    }
    c->nmounts++;
  }
  snprintf(c->cgroup, sizeof c->cgroup, "/sys/fs/cgroup/c-%s", id);
  if (mkdir(c->cgroup, 0755) < 0 && errno != EEXIST) {
    snprintf(err, errlen, "cgroup: %s", strerror(errno));
    container_release(c);
    return -1;
  }
  read_resources(jobj(r, "resources"), c);
  err[0] = 0;
  apply_resources(c, err, errlen);
  if (err[0]) { container_release(c); return -1; }
  char evpath[220];
  snprintf(evpath, sizeof evpath, "%s/memory.events", c->cgroup);
  c->oom_fd = open(evpath, O_RDONLY | O_CLOEXEC);
  if (c->oom_fd >= 0) {
    struct epoll_event ev = { .events = EPOLLPRI, .data.u64 = ((uint64_t)TAG_OOM << 32) | (uint64_t)(c - g_containers) };
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, c->oom_fd, &ev);
  }
  watch_memory_pressure(c);
  tracek("create %s: done", id);
  return 0;
}

static int prefork(container *c, char *err, size_t errlen);
/* Files a prepared container reads ahead while it waits (see warm_cache). */
#define WARM_MAX_FILES 8
#define WARM_MAX_BYTES (32 << 20)
static char warm_files[WARM_MAX_FILES][512];
static int warm_count;
static char warm_path[1024];

/* prepareContainer: createContainer, then the prepared process (see prefork). */
static int op_prepare_container(jnode *r, char *err, size_t errlen, const char **code) {
  jnode *warm = jarr(r, "warm");
  if (warm && warm->len > WARM_MAX_FILES) { snprintf(err, errlen, "too many files to warm (at most %d)", WARM_MAX_FILES); return -1; }
  const char *wp = jstr(r, "warmPath", "");
  if (strlen(wp) >= sizeof warm_path) { snprintf(err, errlen, "warmPath is too long"); return -1; }
  for (jnode *e = warm ? warm->child : NULL; e; e = e->next)
    if (e->type != J_STR || !e->str[0] || strlen(e->str) >= sizeof warm_files[0]) { snprintf(err, errlen, "warm entries must be file names"); return -1; }
  int rc = op_create_container(r, err, errlen, code);
  if (rc != 0) return rc;
  warm_count = 0;
  for (jnode *e = warm ? warm->child : NULL; e; e = e->next) snprintf(warm_files[warm_count++], sizeof warm_files[0], "%s", e->str);
  snprintf(warm_path, sizeof warm_path, "%s", wp);
  container *c = find_container(jstr(r, "id", ""));
  if (!c) { *code = "InternalError"; snprintf(err, errlen, "prepared container vanished"); return -1; }
  if (prefork(c, err, errlen) < 0) {
    *code = "InternalError";
    container_release(c);
    return -1;
  }
  return 0;
}

/* claimContainer {from, id, resources}: a pod takes the prepared container under its own id. */
static void op_claim(uint32_t id, jnode *r) {
  const char *from = jstr(r, "from", "");
  const char *to = jstr(r, "id", "");
  container *c = find_container(from);
  if (!c || c->pre_pid == 0) { chan_respond_err(id, "NotFound", "prepared container \"%.80s\" not found", from); return; }
  if (!valid_id(to)) { chan_respond_err(id, "Invalid", "container id is not valid"); return; }
  if (find_container(to)) { chan_respond_err(id, "AlreadyExists", "container \"%s\" already exists", to); return; }
  if (c->pre_pid < 0 || c->pre_sock < 0 || c->state != 0) {
    chan_respond_err(id, "Conflict", "the prepared process of container \"%s\" died", from);
    return;
  }
  char err[512] = "";
  read_resources(jobj(r, "resources"), c);
  apply_resources(c, err, sizeof err);
  if (err[0]) { chan_respond_err(id, "InternalError", "%s", err); return; }
  snprintf(c->id, sizeof c->id, "%s", to);
  tracek("claim %s -> %s", from, to);
  chan_respond_ok(id, "");
}

static int64_t oom_kills(container *c) {
  if (c->oom_fd < 0) return 0;
  char buf[512];
  ssize_t n = pread(c->oom_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return c->oom_kills;
  buf[n] = 0;
  char *p = strstr(buf, "oom_kill ");
  return p ? strtoll(p + 9, NULL, 10) : 0;
}

void pod_on_oom_fd(int idx) {
  if (idx < 0 || idx >= MAX_CONTAINERS) return;
  container *c = &g_containers[idx];
  if (!c->used) return;
  int64_t k = oom_kills(c);
  if (k > c->oom_kills) {
    c->oom_kills = k;
    jwriter w;
    jw_init(&w, 512);
    jw_begin_obj(&w);
    jw_str(&w, "type", "oom");
    jw_str(&w, "container", c->id);
    jw_int(&w, "oomKills", k);
    jw_end_obj(&w);
    if (!w.failed) chan_event(w.buf, w.len);
    jw_free(&w);
  }
}

/* ---- processes ---- */

typedef struct procspec {
  char *argv[1025];
  char *envp[1025];
  const char *cwd;
  const char *user;
  bool tty, is_init;
  uint32_t in_id, out_id, err_id;
  int rows, cols;
} procspec;

static int parse_procspec(jnode *p, procspec *ps, char *err, size_t errlen) {
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

/* Child side: report a setup error to the agent and exit with docker's code. */
static void child_fail(int efd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
static void child_fail(int efd, int code, const char *fmt, ...) {
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
static void container_enter(container *c, int efd) {
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
    } else {
      volume *v = find_volume(m->source);
      if (!v) child_fail(efd, 125, "volume %s is not mounted", m->source);
      mount_or_fail(efd, v->dir, p, NULL, MS_BIND, NULL);
      if (m->readonly) mount_or_fail(efd, NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
    }
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

static void child_exec(process *p, procspec *ps, int efd, int in_fd, int out_fd, int err_fd, int slave_fd) {
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


/* ---- prepared containers (pooled VMs) ----
 * A pooled VM can hold one container prepared ahead of its pod (prepareContainer): root disk
 * mounted, cgroup made, and a process that already joined the pod's namespaces, built the
 * container's mount namespace and entered its root. It waits on a socket for its process spec
 * and stdio; the pod's createContainer claims it (claimContainer: new id, resources) and
 * startContainer only has to hand over the spec, so a pod start skips the disk hot-add, mount,
 * namespace and mount set-up work that dominates under TCG. */

/* The spec as one buffer: "H8PS", tty byte, cwd, user, argc, argv..., envc, env...
 * (strings NUL-terminated, counts as 4 bytes). Returns the length, 0 when it does not fit. */
static size_t pack_procspec(const procspec *ps, char *buf, size_t cap) {
  size_t o = 0;
#define PUT(src, n) do { if (o + (n) > cap) return 0; memcpy(buf + o, (src), (n)); o += (n); } while (0)
  PUT("H8PS", 4);
  char t = ps->tty ? 1 : 0;
  PUT(&t, 1);
  PUT(ps->cwd, strlen(ps->cwd) + 1);
  PUT(ps->user, strlen(ps->user) + 1);
  for (int k = 0; k < 2; k++) {
    char *const *v = k ? ps->envp : ps->argv;
    uint32_t n = 0;
    while (v[n]) n++;
    PUT(&n, 4);
    for (uint32_t i = 0; i < n; i++) PUT(v[i], strlen(v[i]) + 1);
  }
#undef PUT
  return o;
}

static bool unpack_procspec(char *buf, size_t len, procspec *ps) {
  memset(ps, 0, sizeof *ps);
  if (len < 5 || memcmp(buf, "H8PS", 4) != 0) return false;
  size_t o = 4;
  ps->tty = buf[o++] != 0;
  const char **strs[2] = { &ps->cwd, &ps->user };
  for (int k = 0; k < 2; k++) {
    char *e = memchr(buf + o, 0, len - o);
    if (!e) return false;
    *strs[k] = buf + o;
    o = (size_t)(e - buf) + 1;
  }
  for (int k = 0; k < 2; k++) {
    uint32_t n;
    if (o + 4 > len) return false;
    memcpy(&n, buf + o, 4);
    o += 4;
    if (n > 1024) return false;
    char **v = k ? ps->envp : ps->argv;
    for (uint32_t i = 0; i < n; i++) {
      char *e = o < len ? memchr(buf + o, 0, len - o) : NULL;
      if (!e) return false;
      v[i] = buf + o;
      o = (size_t)(e - buf) + 1;
    }
    v[n] = NULL;
  }
  return ps->argv[0] != NULL;
}

/* Files the prepared process reads into the page cache while it waits (prepareContainer
 * "warm": the programs the image's last pod ran, resolved through "warmPath"), so that the
 * pod's exec does not wait for the disk. Bounded: a few names, WARM_MAX_BYTES in all. */

static void warm_one(const char *path, size_t *budget) {
  /* The names come from a pod's command: only regular files of the image, never the kernel's
   * file systems (/proc/kmsg would block), and O_NONBLOCK so a FIFO cannot hang the open. */
  if (!strncmp(path, "/proc", 5) || !strncmp(path, "/sys", 4) || !strncmp(path, "/dev", 4)) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) { close(fd); return; }
  struct statfs sf;
  if (fstatfs(fd, &sf) == 0 && (sf.f_type == 0x9fa0 /* proc */ || sf.f_type == 0x62656572 /* sysfs */)) { close(fd); return; }
  static char buf[128 * 1024];
  ssize_t n;
  while (*budget > 0 && (n = read(fd, buf, *budget < sizeof buf ? *budget : sizeof buf)) > 0) *budget -= (size_t)n;
  close(fd);
}

static void warm_cache(void) {
  size_t budget = WARM_MAX_BYTES;
  warm_one("/etc/passwd", &budget);
  warm_one("/etc/group", &budget);
  for (int i = 0; i < warm_count && budget > 0; i++) {
    const char *name = warm_files[i];
    if (strchr(name, '/')) { warm_one(name, &budget); continue; }
    const char *dirs = warm_path[0] ? warm_path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    while (*dirs) {
      const char *end = strchr(dirs, ':');
      size_t dl = end ? (size_t)(end - dirs) : strlen(dirs);
      char full[1100];
      if (dl > 0 && dl < 512) {
        snprintf(full, sizeof full, "%.*s/%s", (int)dl, dirs, name);
        if (access(full, X_OK) == 0) { warm_one(full, &budget); break; }
      }
      dirs += dl;
      if (*dirs == ':') dirs++;
    }
  }
}

/* The prepared process: enter the container, report ready, warm the cache, wait for the spec, exec. */
static void prepared_main(container *c, int sock, int efd) {
  container_enter(c, efd);
  tracek("prepared %s: waiting", c->id);
  if (write(sock, "R", 1) != 1) _exit(0);
  warm_cache();
  tracek("prepared %s: warm", c->id);
  uint32_t len = 0;
  int fds[4] = { -1, -1, -1, -1 };
  char cbuf[CMSG_SPACE(sizeof fds)];
  struct iovec iov = { .iov_base = &len, .iov_len = sizeof len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  ssize_t n;
  while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (n != (ssize_t)sizeof len) _exit(0); /* released before it was used */
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof fds)) child_fail(efd, 125, "prepared container: no stdio");
  memcpy(fds, CMSG_DATA(cm), sizeof fds);
  if (len > 4 * 1024 * 1024) child_fail(efd, 125, "prepared container: process spec too large");
  char *buf = malloc(len + 1);
  if (!buf) child_fail(efd, 125, "prepared container: out of memory");
  size_t got = 0;
  while (got < len) {
    ssize_t m = read(sock, buf + got, len - got);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) _exit(0);
    got += (size_t)m;
  }
  close(sock);
  static procspec ps;
  if (!unpack_procspec(buf, len, &ps)) child_fail(efd, 125, "prepared container: bad process spec");
  ps.is_init = false; /* the container is entered already */
  tracek("prepared %s: starting", c->id);
  child_exec(NULL, &ps, efd, fds[0], fds[1], fds[2], ps.tty ? fds[3] : -1);
}

/* Forks the prepared process of c and waits until it entered the container (bounded). */
static int prefork(container *c, char *err, size_t errlen) {
  int sp[2] = { -1, -1 }, ep[2] = { -1, -1 }, pp[2] = { -1, -1 };
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 || pipe2(ep, O_CLOEXEC) < 0 || pipe2(pp, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "prepare: %s", strerror(errno));
    goto fail;
  }
  pid_t a = fork();
  if (a < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); goto fail; }
  if (a == 0) {
    close(sp[0]); close(ep[0]); close(pp[0]);
    char procs[220];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", c->cgroup);
    if (write_file(procs, "0") < 0) child_fail(ep[1], 125, "join cgroup: %s", strerror(errno));
    if (setns(podns_pid, CLONE_NEWPID) < 0 || setns(podns_uts, CLONE_NEWUTS) < 0 || setns(podns_ipc, CLONE_NEWIPC) < 0)
      child_fail(ep[1], 125, "join pod namespaces: %s", strerror(errno));
    if (unshare(CLONE_NEWNS) < 0) child_fail(ep[1], 125, "mount namespace: %s", strerror(errno));
    pid_t b = fork();
    if (b < 0) child_fail(ep[1], 125, "fork: %s", strerror(errno));
    if (b == 0) {
      close(pp[1]);
      prepared_main(c, sp[1], ep[1]);
      _exit(0);
    }
    ssize_t w = write(pp[1], &b, sizeof b);
    (void)w;
    _exit(0);
  }
  close(sp[1]); sp[1] = -1;
  close(ep[1]); ep[1] = -1;
  close(pp[1]); pp[1] = -1;
  pid_t b = -1;
  ssize_t n;
  while ((n = read(pp[0], &b, sizeof b)) < 0 && errno == EINTR) {}
  int st;
  while (waitpid(a, &st, 0) < 0 && errno == EINTR) {}
  close(pp[0]); pp[0] = -1;
  /* Ready ("R" on the socket) or an error report / EOF on the error pipe. */
  char ready = 0;
  if (n == sizeof b && b > 0) {
    struct pollfd pf[2] = { { .fd = sp[0], .events = POLLIN }, { .fd = ep[0], .events = POLLIN } };
    int64_t deadline = mono_ms() + 10000;
    while (mono_ms() < deadline) {
      int pr = poll(pf, 2, (int)(deadline - mono_ms()));
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0) break;
      if (pf[0].revents & POLLIN) { if (read(sp[0], &ready, 1) != 1) ready = 0; }
      break;
    }
  }
  if (ready != 'R') {
    char msg[300];
    ssize_t m = read(ep[0], msg, sizeof msg - 1);
    msg[m > 0 ? m : 0] = 0;
    snprintf(err, errlen, "%s", m > 1 ? msg + 1 : "the prepared process did not start");
    if (b > 0) kill(b, SIGKILL);
    goto fail;
  }
  c->pre_pid = b;
  c->pre_sock = sp[0];
  c->pre_epipe = ep[0];
  tracek("prepare %s: pid %d ready", c->id, (int)b);
  return 0;
fail:
  for (int i = 0; i < 2; i++) {
    if (sp[i] >= 0) close(sp[i]);
    if (ep[i] >= 0) close(ep[i]);
    if (pp[i] >= 0) close(pp[i]);
  }
  return -1;
}

/* Hands the spec and stdio to c's prepared process. 0, or -1 with err set. */
static int start_prepared(container *c, const procspec *ps, int in_fd, int out_fd, int err_fd, int tty_fd, char *err, size_t errlen) {
  static char buf[256 * 1024];
  size_t len = pack_procspec(ps, buf, sizeof buf);
  if (!len) { snprintf(err, errlen, "process spec is too large"); return -1; }
  uint32_t l32 = (uint32_t)len;
  int fds[4] = { in_fd, out_fd, err_fd, tty_fd >= 0 ? tty_fd : in_fd };
  char cbuf[CMSG_SPACE(sizeof fds)];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = { .iov_base = &l32, .iov_len = sizeof l32 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(cm), fds, sizeof fds);
  ssize_t n;
  while ((n = sendmsg(c->pre_sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
  size_t off = 0;
  while (n == (ssize_t)sizeof l32 && off < len) {
    ssize_t m = write(c->pre_sock, buf + off, len - off);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) { n = -1; break; }
    off += (size_t)m;
  }
  close(c->pre_sock);
  c->pre_sock = -1;
  if (n != (ssize_t)sizeof l32) { snprintf(err, errlen, "the prepared process of container \"%s\" is gone", c->id); return -1; }
  return 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

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
  pid_t a = fork();
  if (a < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); goto out; }
  if (a == 0) {
    char procs[220];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", c->cgroup);
    if (write_file(procs, "0") < 0) child_fail(epipe[1], 125, "join cgroup: %s", strerror(errno));
    tracek("mid: cgroup joined");
    if (setns(podns_pid, CLONE_NEWPID) < 0 || setns(podns_uts, CLONE_NEWUTS) < 0 || setns(podns_ipc, CLONE_NEWIPC) < 0)
      child_fail(epipe[1], 125, "join pod namespaces: %s", strerror(errno));
    tracek("mid: pod ns joined");
    if (ps->is_init) {
      if (unshare(CLONE_NEWNS) < 0) child_fail(epipe[1], 125, "mount namespace: %s", strerror(errno));
    } else if (setns(c->mntns_fd, CLONE_NEWNS) < 0) {
      child_fail(epipe[1], 125, "join container: %s", strerror(errno));
    }
    tracek("mid: mnt ns");
    pid_t b = fork();
    if (b < 0) child_fail(epipe[1], 125, "fork: %s", strerror(errno));
    if (b == 0) {
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

static void op_start(uint32_t id, jnode *r, bool is_exec) {
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

static void op_signal(uint32_t id, jnode *r) {
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

static void op_resize(uint32_t id, jnode *r) {
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

static void op_remove(uint32_t id, jnode *r) {
  const char *cid = jstr(r, "id", "");
  container *c = find_container(cid);
  if (!c) { chan_respond_ok(id, "\"gone\":true"); return; }
  if (c->state == 1) { chan_respond_err(id, "Conflict", "container \"%s\" is running", cid); return; }
  container_release(c);
  chan_respond_ok(id, "");
}

static void op_stats(uint32_t id, jnode *r) {
  container *c = find_container(jstr(r, "id", ""));
  if (!c) { chan_respond_err(id, "NotFound", "container not found"); return; }
  char path[220], buf[4096];
  long long usage = 0, mem = 0, inactive = 0;
  snprintf(path, sizeof path, "%s/cpu.stat", c->cgroup);
  if (read_file(path, buf, sizeof buf) > 0) { char *p = strstr(buf, "usage_usec "); if (p) usage = atoll(p + 11); }
  snprintf(path, sizeof path, "%s/memory.current", c->cgroup);
  if (read_file(path, buf, sizeof buf) > 0) mem = atoll(buf);
  snprintf(path, sizeof path, "%s/memory.stat", c->cgroup);
  if (read_file(path, buf, sizeof buf) > 0) { char *p = strstr(buf, "inactive_file "); if (p) inactive = atoll(p + 14); }
  long long ws = mem > inactive ? mem - inactive : 0;
  char out[160];
  snprintf(out, sizeof out, "\"cpuUsageNs\":%lld,\"memoryWorkingSetBytes\":%lld", usage * 1000, ws);
  chan_respond_ok(id, out);
}

static void op_update(uint32_t id, jnode *r) {
  container *c = find_container(jstr(r, "id", ""));
  if (!c) { chan_respond_err(id, "NotFound", "container not found"); return; }
  read_resources(jobj(r, "resources"), c);
  char err[256] = "";
  apply_resources(c, err, sizeof err);
  if (err[0]) chan_respond_err(id, "InternalError", "%s", err);
  else chan_respond_ok(id, "");
}

static void op_forward(uint32_t id, jnode *r) {
  bool ok = true;
  int port = (int)jint(r, "port", 0, 1, 65535, &ok);
  uint32_t in_id = (uint32_t)jint(r, "stdin", 0, 1, UINT32_MAX, &ok);
  uint32_t out_id = (uint32_t)jint(r, "stdout", 0, 1, UINT32_MAX, &ok);
  if (!ok || !port || !in_id || !out_id || in_id == out_id || stream_find(in_id) || stream_find(out_id)) {
    chan_respond_err(id, "Invalid", "port-forward request is not valid");
    return;
  }
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    if (s >= 0) close(s);
    chan_respond_err(id, "ServiceUnavailable", "connect to port %d in the pod: %s", port, strerror(e));
    return;
  }
  process *p = new_process();
  if (!p) { close(s); chan_respond_err(id, "Forbidden", "too many processes in this pod"); return; }
  p->is_forward = true;
  p->exit_queued = true; /* no exit event for connections (and never `exited`: an empty
                          * socket read must not look like the end of a dead process's pipe) */
  set_nonblock(s);
  int d = fcntl(s, F_DUPFD_CLOEXEC, 0);
  p->sout = stream_new(out_id, true, s, p);
  p->sin = stream_new(in_id, false, d, p);
  chan_respond_ok(id, "");
}

/* Guest memory for the host's balloon policy (docs/hyper-runtime.md "Memory levers"). With
 * `reclaim`, clean caches are dropped and free memory compacted first, so what the balloon
 * takes next is already free and free page reporting finds whole blocks. */
static long long meminfo_kib(const char *buf, const char *key) {
  const char *p = strstr(buf, key);
  return p ? atoll(p + strlen(key)) : -1;
}

static void op_meminfo(uint32_t id, jnode *r) {
  if (jbool(r, "reclaim", false)) {
    sync();
    write_file("/proc/sys/vm/drop_caches", "3");
    write_file("/proc/sys/vm/compact_memory", "1");
  }
  char buf[4096];
  if (read_file("/proc/meminfo", buf, sizeof buf) <= 0) { chan_respond_err(id, "InternalError", "cannot read /proc/meminfo"); return; }
  char out[200];
  snprintf(out, sizeof out, "\"totalKiB\":%lld,\"freeKiB\":%lld,\"availableKiB\":%lld",
           meminfo_kib(buf, "MemTotal:"), meminfo_kib(buf, "MemFree:"), meminfo_kib(buf, "MemAvailable:"));
  chan_respond_ok(id, out);
}

static int64_t exec_deadline(jnode *r) {
  bool ok = true;
  return now_ms() + jint(r, "waitMs", 10000, 0, 120000, &ok);
}

void pod_handle_request(uint32_t id, const char *payload, size_t len, bool retry) {
  tracek("request %u", id);
  jnode *r = json_parse(&req_arena, payload, len);
  if (!r || r->type != J_OBJ) {
    chan_respond_err(id, "BadRequest", "request is not a JSON object: %s", req_arena.error ? req_arena.error : "wrong type");
    return;
  }
  const char *op = jstr(r, "op", "");
  char err[512] = "";
  const char *code = "InternalError";
  if (strcmp(op, "ping") == 0) { chan_respond_ok(id, ""); return; }
  if (strcmp(op, "setupPod") == 0 || strcmp(op, "createContainer") == 0 || strcmp(op, "prepareContainer") == 0) {
    int rc = op[0] == 's'   ? op_setup_pod(r, err, sizeof err, &code)
             : op[0] == 'p' ? op_prepare_container(r, err, sizeof err, &code)
                            : op_create_container(r, err, sizeof err, &code);
    if (rc == 1) {
      if (retry) return; /* still waiting; pod_retry_pending keeps it */
      for (int i = 0; i < MAX_PENDING; i++) {
        if (pend[i].used) continue;
        pend[i].payload = malloc(len);
        if (!pend[i].payload) break;
        memcpy(pend[i].payload, payload, len);
        pend[i].len = len;
        pend[i].req_id = id;
        pend[i].deadline_ms = exec_deadline(r);
        pend[i].used = true;
        return;
      }
      chan_respond_err(id, "TooManyRequests", "too many requests waiting for devices");
      return;
    }
    if (rc < 0) chan_respond_err(id, code, "%s", err);
    else chan_respond_ok(id, "");
    if (retry) { /* the caller frees the pending slot */ }
    return;
  }
  if (strcmp(op, "startContainer") == 0) { op_start(id, r, false); return; }
  if (strcmp(op, "exec") == 0) { op_start(id, r, true); return; }
  if (strcmp(op, "signal") == 0) { op_signal(id, r); return; }
  if (strcmp(op, "resize") == 0) { op_resize(id, r); return; }
  if (strcmp(op, "removeContainer") == 0) { op_remove(id, r); return; }
  if (strcmp(op, "claimContainer") == 0) { op_claim(id, r); return; }
  if (strcmp(op, "stats") == 0) { op_stats(id, r); return; }
  if (strcmp(op, "memInfo") == 0) { op_meminfo(id, r); return; }
  if (strcmp(op, "updateResources") == 0) { op_update(id, r); return; }
  if (strcmp(op, "portForward") == 0) { op_forward(id, r); return; }
  if (strcmp(op, "shutdown") == 0) { chan_respond_ok(id, ""); g_shutdown_requested = true; return; }
  if (strcmp(op, "debugMisbehave") == 0) { chan_respond_ok(id, ""); chan_misbehave(jstr(r, "mode", "")); return; }
  chan_respond_err(id, "BadRequest", "unknown operation \"%.40s\"", op);
}

void pod_retry_pending(void) {
  for (int i = 0; i < MAX_PENDING; i++) {
    if (!pend[i].used) continue;
    if (!chan_connected()) { free(pend[i].payload); pend[i].used = false; continue; }
    bool expired = now_ms() > pend[i].deadline_ms;
    if (expired) {
      jnode *r = json_parse(&req_arena, pend[i].payload, pend[i].len);
      chan_respond_err(pend[i].req_id, "Timeout", "device for %s did not appear in time",
                       r ? jstr(r, "op", "request") : "request");
      free(pend[i].payload);
      pend[i].used = false;
      continue;
    }
    /* Re-run: answers (and we free the slot) unless it still has to wait. */
    jnode *r = json_parse(&req_arena, pend[i].payload, pend[i].len);
    const char *op = r ? jstr(r, "op", "") : "";
    char err[512] = "";
    const char *code = "InternalError";
    int rc = strcmp(op, "setupPod") == 0           ? op_setup_pod(r, err, sizeof err, &code)
             : strcmp(op, "prepareContainer") == 0 ? op_prepare_container(r, err, sizeof err, &code)
                                                   : op_create_container(r, err, sizeof err, &code);
    if (rc == 1) continue;
    if (rc < 0) chan_respond_err(pend[i].req_id, code, "%s", err);
    else chan_respond_ok(pend[i].req_id, "");
    free(pend[i].payload);
    pend[i].used = false;
  }
}

bool pod_has_pending(void) {
  for (int i = 0; i < MAX_PENDING; i++)
    if (pend[i].used) return true;
  return false;
}

void pod_on_sigchld(void) {
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid <= 0) break;
    for (int i = 0; i < MAX_CONTAINERS; i++) {
      container *pc = &g_containers[i];
      if (pc->used && pc->pre_pid == pid) {
        logk("the prepared process of container %s died", pc->id);
        pc->pre_pid = -1;
      }
    }
    for (int i = 0; i < MAX_PROCESSES; i++) {
      process *p = &g_procs[i];
      if (!p->used || p->pid != pid || p->exited) continue;
      p->exited = true;
      p->status = st;
      container *c = p->c;
      if (c && c->init == p) {
        /* The container's main process is gone: so is everything else in it (hyperstart). */
        char path[220];
        snprintf(path, sizeof path, "%s/cgroup.kill", c->cgroup);
        write_file(path, "1");
      }
      /* Pipes may still hold output: streams drain and then see EAGAIN -> EOF. */
      if (p->sout) stream_update_poll(p->sout);
      if (p->serr) stream_update_poll(p->serr);
      if (p->sout && p->sout->fd >= 0) stream_on_fd(p->sout, EPOLLIN);
      if (p->serr && p->serr->fd >= 0) stream_on_fd(p->serr, EPOLLIN);
      break;
    }
    if (pid == g_podinit) { logk("pod init exited"); g_podinit = -1; }
  }
}

void pod_orphan_process(process *p) {
  /* The host forgot this exec (daemon restarted without it): kill it rather than leave a
   * process whose output nobody can read. Container main processes are never orphaned. */
  if (p->is_forward) {
    if (p->sock_fd >= 0) shutdown(p->sock_fd, SHUT_RDWR);
    return;
  }
  if (p->c && p->c->init == p) return;
  if (!p->exited && p->pid > 0) kill(p->pid, SIGKILL);
}

static bool stream_done(stream *s) { return !s || (s->eof && (s->close_sent || s->orphan)); }

void pod_progress(void) {
  for (int i = 0; i < MAX_STREAMS; i++) {
    stream *s = &g_streams[i];
    if (s->used && s->out && s->orphan && s->eof) {
      if (s->proc && s->proc->sout == s) s->proc->sout = NULL;
      if (s->proc && s->proc->serr == s) s->proc->serr = NULL;
      stream_free(s);
    }
  }
  for (int i = 0; i < MAX_PROCESSES; i++) {
    process *p = &g_procs[i];
    if (!p->used) continue;
    if (p->is_forward) {
      if (!p->sout && (!p->sin || p->sin->fd < 0)) free_process(p);
      continue;
    }
    if (!p->exited || p->exit_queued) continue;
    if (!stream_done(p->sout) || !stream_done(p->serr)) continue;
    p->exit_queued = true;
    int code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
    container *c = p->c;
    bool oom = false;
    if (c) {
      int64_t k = oom_kills(c);
      oom = (k > c->oom_kills || c->psi_killed) && WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL;
      if (k > c->oom_kills) c->oom_kills = k;
    }
    uint64_t dropped = (p->sout ? p->sout->dropped : 0) + (p->serr ? p->serr->dropped : 0);
    jwriter w;
    jw_init(&w, 2048);
    jw_begin_obj(&w);
    jw_str(&w, "type", "exit");
    jw_str(&w, "container", c ? c->id : "");
    jw_str(&w, "execId", p->exec_id);
    jw_int(&w, "exitCode", code);
    if (WIFSIGNALED(p->status)) jw_int(&w, "signal", WTERMSIG(p->status));
    jw_bool(&w, "oomKilled", oom);
    if (p->errcode) { jw_int(&w, "startErrorCode", p->errcode); jw_str(&w, "startError", p->errmsg); }
    if (dropped) jw_int(&w, "droppedBytes", (int64_t)dropped);
    jw_int(&w, "finishedAtMs", now_ms());
    jw_end_obj(&w);
    if (!w.failed) chan_event(w.buf, w.len);
    jw_free(&w);
    if (c && c->init == p) {
      c->state = 2;
      c->exit_code = code;
      if (c->mntns_fd >= 0) { close(c->mntns_fd); c->mntns_fd = -1; }
    }
    if (p->tty_fd >= 0) { close(p->tty_fd); p->tty_fd = -1; }
    if (p->sin) stream_free(p->sin);
    /* Output streams free themselves once acknowledged; detach them from the process. */
    if (p->sout) p->sout->proc = NULL;
    if (p->serr) p->serr->proc = NULL;
    bool keep_for_status = c && c->init == p;
    if (keep_for_status) { p->sout = p->serr = NULL; }
    else free_process(p);
  }
}

void pod_hello_state(jwriter *w) {
  jw_bool(w, "podReady", pod_ready);
  jw_begin_arr(w, "containers");
  for (int i = 0; i < MAX_CONTAINERS; i++) {
    container *c = &g_containers[i];
    if (!c->used) continue;
    jw_obj_in_arr(w);
    jw_str(w, "id", c->id);
    jw_str(w, "state", c->state == 0 ? "created" : c->state == 1 ? "running" : "exited");
    if (c->state == 2) jw_int(w, "exitCode", c->exit_code);
    jw_end_obj(w);
  }
  jw_end_arr(w);
  jw_begin_arr(w, "execs");
  for (int i = 0; i < MAX_PROCESSES; i++) {
    process *p = &g_procs[i];
    if (!p->used || !p->exec_id[0] || !p->c) continue;
    jw_obj_in_arr(w);
    jw_str(w, "container", p->c->id);
    jw_str(w, "execId", p->exec_id);
    jw_bool(w, "exited", p->exited);
    jw_end_obj(w);
  }
  jw_end_arr(w);
}

void pod_shutdown(void) {
  if (g_podinit > 0) kill(g_podinit, SIGKILL);
  for (int i = 0; i < MAX_CONTAINERS; i++)
    if (g_containers[i].used) {
      char path[220];
      snprintf(path, sizeof path, "%s/cgroup.kill", g_containers[i].cgroup);
      write_file(path, "1");
    }
  sync();
  for (int i = 0; i < MAX_CONTAINERS; i++)
    if (g_containers[i].used && g_containers[i].rootdir[0]) umount2(g_containers[i].rootdir, MNT_DETACH);
  for (size_t i = 0; i < sizeof volumes / sizeof *volumes; i++)
    if (volumes[i].used) umount2(volumes[i].dir, MNT_DETACH);
  sync();
  reboot(RB_POWER_OFF);
}
