/* h8s guest agent: PID 1 of every hyper VM (docs/hyper-runtime.md).
 *
 * Boot: mount the basic filesystems, load the kernel modules listed in
 * /lib/modules/load.order (dependencies first), find the virtio-serial control port by its
 * name under /sys/class/virtio-ports, create the pod namespaces, then serve the host over
 * the port forever. Kernel command line flags:
 *   h8s.marker      print "H8S-BOOT-MARKER" on the console when the agent would serve the
 *                   host, then power off (the benchmark's bare-boot baseline)
 *   h8s.port=NAME   control port name (default h8s.ctl)
 *   h8s.page_reporting_order=N   free page reporting granularity (2^N pages)
 *   h8s.trace       timestamped steps of container set-up on the console (profiling)
 *   h8s.template    this VM may become a template: the kernel boot id is read only after
 *                   the host sent fresh entropy (channel.c, per-VM identity)
 * The agent must never exit (the kernel panics when PID 1 dies) and never trusts the host's
 * input: every parser is bounded and every error answered, not fatal. */
#include "agent.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/prctl.h>

/* VM templating (defined in channel.c; declared here and there to keep agent.h untouched). */
extern bool g_template_mode;
void agent_boot_id(void);

int g_epfd = -1;
int g_port_fd = -1;
pid_t g_podinit = -1;
char g_boot_id[40];
container g_containers[MAX_CONTAINERS];
process g_procs[MAX_PROCESSES];
stream g_streams[MAX_STREAMS];

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Console messages, at most 20 per 10 s so a misbehaving host cannot flood the console. */
void logk(const char *fmt, ...) {
  static int64_t window;
  static int count;
  int64_t t = mono_ms();
  if (t - window > 10000) { window = t; count = 0; }
  if (++count > 20) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    char line[600];
    int l = snprintf(line, sizeof line, "<4>h8s-agent: %.*s", n, buf);
    ssize_t w = write(fd, line, (size_t)l);
    (void)w;
    close(fd);
  }
}

bool g_trace;

void tracek(const char *fmt, ...) {
  if (!g_trace) return;
  char buf[300];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  char line[400];
  int l = snprintf(line, sizeof line, "H8S-TRACE %lld.%06ld %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000, buf);
  /* Opened once, so a forked child can still trace after it entered a container's /dev. */
  static int fd = -1;
  if (fd < 0) fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t w = write(fd, line, (size_t)(l < (int)sizeof line ? l : (int)sizeof line - 1));
  (void)w;
}

static bool cmdline_has(const char *cmdline, const char *flag, char *value, size_t vlen) {
  size_t fl = strlen(flag);
  for (const char *p = cmdline; (p = strstr(p, flag)) != NULL; p += fl) {
    if (p != cmdline && p[-1] != ' ') continue;
    if (p[fl] == ' ' || p[fl] == '\n' || p[fl] == 0) { if (value && vlen) value[0] = 0; return true; }
    if (p[fl] == '=') {
      if (value) {
        size_t i = 0;
        for (const char *q = p + fl + 1; *q && *q != ' ' && *q != '\n' && i + 1 < vlen; q++) value[i++] = *q;
        value[i] = 0;
      }
      return true;
    }
  }
  return false;
}

static void load_modules(void) {
  FILE *f = fopen("/lib/modules/load.order", "re");
  if (!f) return;
  char name[256];
  while (fgets(name, sizeof name, f)) {
    name[strcspn(name, "\n")] = 0;
    if (!name[0] || strchr(name, '/')) continue;
    char path[300];
    snprintf(path, sizeof path, "/lib/modules/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) logk("module %s: %s", name, strerror(errno));
    close(fd);
    /* The module is in kernel memory now; the file only costs guest RAM. */
    unlink(path);
  }
  fclose(f);
}

static int find_port(const char *want, char *dev, size_t len) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return -1;
  struct dirent *e;
  int rc = -1;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300], name[128];
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, name, sizeof name - 1);
    close(fd);
    if (n <= 0) continue;
    name[n] = 0;
    name[strcspn(name, "\n")] = 0;
    if (strcmp(name, want) == 0) {
      snprintf(dev, len, "/dev/%s", e->d_name);
      rc = 0;
      break;
    }
  }
  closedir(d);
  return rc;
}

static void console_print(const char *s) {
  int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t w = write(fd, s, strlen(s));
  (void)w;
  close(fd);
}

/* The agent must outlive anything a container does: a fork bomb, a memory hog. Its processes
 * (containers' and the helpers') drop these again (process.c child_leave_agent). */
#define AGENT_MIN_FREE_KIB 4096
static void protect_agent(void) {
  /* Never chosen by the OOM killer. */
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom >= 0) { ssize_t w = write(oom, "-1000", 5); (void)w; close(oom); }
  /* Its pages stay resident: nothing it touched is reclaimed or waits for I/O while the VM is
   * short of memory. MCL_ONFAULT: locked as they are touched, so the large static tables
   * (streams, processes, containers) cost only what is used. */
  if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0) logk("mlockall: %s", strerror(errno));
  /* A floor of free memory the kernel keeps for itself (atomic allocations, OOM victims on
   * their way out), so the agent's sockets and pipes still get buffers at the edge of OOM.
   * Raised only: a larger VM's default is already higher. */
  char buf[32] = "";
  int fd = open("/proc/sys/vm/min_free_kbytes", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  if (n > 0 && atol(buf) < AGENT_MIN_FREE_KIB) {
    int l = snprintf(buf, sizeof buf, "%d", AGENT_MIN_FREE_KIB);
    if (pwrite(fd, buf, (size_t)l, 0) != l) logk("vm.min_free_kbytes: %s", strerror(errno));
  }
  close(fd);
}

int main(void) {
  if (getpid() != 1) {
    fprintf(stderr, "h8s-agent: must run as PID 1 inside a hyper VM\n");
    return 2;
  }
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=620");
  mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=10%");
  mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=10%");
  setsid();
  int fd0 = open("/dev/null", O_RDWR);
  if (fd0 >= 0) { dup2(fd0, 0); dup2(fd0, 1); dup2(fd0, 2); if (fd0 > 2) close(fd0); }
  protect_agent();
  struct rlimit rl = { 1048576, 1048576 };
  setrlimit(RLIMIT_NOFILE, &rl);
  setenv("PATH", "/bin", 1);

  char cmdline[4096] = "";
  int cfd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (cfd >= 0) { ssize_t n = read(cfd, cmdline, sizeof cmdline - 1); if (n > 0) cmdline[n] = 0; close(cfd); }
  char portname[64] = "h8s.ctl";
  cmdline_has(cmdline, "h8s.port", portname, sizeof portname);
  if (!portname[0]) snprintf(portname, sizeof portname, "h8s.ctl");

  g_trace = cmdline_has(cmdline, "h8s.trace", NULL, 0);
  tracek("agent started");
  load_modules();
  g_template_mode = cmdline_has(cmdline, "h8s.template", NULL, 0);
  agent_boot_id();
  /* Linux 6.1 resets page_reporting_order to pageblock_order (2 MiB) when the balloon
   * registers, and only reports while a zone has 32 free blocks of that order above its low
   * watermark (64 MiB), which a small VM never has. A lower order lets the guest hand free
   * memory back to the host. */
  char order[8];
  if (cmdline_has(cmdline, "h8s.page_reporting_order", order, sizeof order) && order[0]) {
    int ofd = open("/sys/module/page_reporting/parameters/page_reporting_order", O_WRONLY | O_CLOEXEC);
    if (ofd >= 0) {
      ssize_t w = write(ofd, order, strlen(order));
      (void)w;
      close(ofd);
    }
  }

  char dev[300];
  int64_t deadline = mono_ms() + 10000;
  while (find_port(portname, dev, sizeof dev) < 0 || access(dev, F_OK) < 0) {
    if (mono_ms() > deadline) {
      logk("control port %s not found; powering off", portname);
      reboot(RB_POWER_OFF);
    }
    usleep(2000);
  }
  if (cmdline_has(cmdline, "h8s.marker", NULL, 0)) {
    console_print("H8S-BOOT-MARKER\n");
    reboot(RB_POWER_OFF);
  }
  g_port_fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (g_port_fd < 0) { logk("open %s: %s", dev, strerror(errno)); reboot(RB_POWER_OFF); }

  for (int i = 0; i < MAX_STREAMS; i++) g_streams[i].fd = -1;
  for (int i = 0; i < MAX_CONTAINERS; i++) { g_containers[i].oom_fd = -1; g_containers[i].psi_fd = -1; g_containers[i].mntns_fd = -1; }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  g_epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event sev = { .events = EPOLLIN, .data.u64 = (uint64_t)TAG_SIGNAL << 32 };
  epoll_ctl(g_epfd, EPOLL_CTL_ADD, sfd, &sev);

  pod_init();
  chan_init();

  struct epoll_event evs[64];
  int64_t shutdown_at = 0;
  for (;;) {
    chan_flush();
    bool disconnected = !chan_connected();
    int timeout = -1;
    if (pod_has_pending()) timeout = 10;
    else if (disconnected) timeout = 20;
    if (g_shutdown_requested) timeout = 10;
    int n = epoll_wait(g_epfd, evs, 64, timeout);
    if (n < 0 && errno != EINTR) { logk("epoll_wait: %s", strerror(errno)); usleep(10000); continue; }
    for (int i = 0; i < n; i++) {
      uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
      uint32_t idx = (uint32_t)evs[i].data.u64;
      switch (tag) {
      case TAG_PORT: chan_on_port_event(evs[i].events); break;
      case TAG_SIGNAL: {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {}
        pod_on_sigchld();
        break;
      }
      case TAG_STREAM:
        if (idx < MAX_STREAMS) stream_on_fd(&g_streams[idx], evs[i].events);
        break;
      case TAG_OOM: pod_on_oom_fd((int)idx); break;
      case TAG_PSI: pod_on_psi_fd((int)idx); break;
      default: break;
      }
    }
    if (!chan_connected()) chan_poll_reconnect();
    streams_progress();
    pod_retry_pending();
    pod_progress();
    if (g_shutdown_requested) {
      if (!shutdown_at) shutdown_at = mono_ms() + 200;
      chan_flush();
      if (mono_ms() >= shutdown_at) pod_shutdown();
    }
  }
}
