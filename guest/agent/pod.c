/* The pod inside the VM and the requests of the protocol (docs/adr/0002): the dispatcher,
 * requests waiting for devices, reaping, exit events, the pod's network and the shutdown.
 *
 * Layout: one "pod init" process (PID 1 of the pod's PID/UTS/IPC namespaces, created at boot
 * so pooled VMs are ready) reaps orphans; containers (container.c) have their own mount
 * namespace and cgroup and share the pod namespaces; processes (process.c) are the agent's
 * children. Devices (devices.c), volumes (volumes.c) and prepared containers (prepared.c)
 * have their own units. */
#include "agent.h"
#include "container.h"
#include "devices.h"
#include "files.h"
#include "names.h"
#include "pod.h"
#include "podfiles.h"
#include "prepared.h"
#include "process.h"
#include "volumes.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/wait.h>

static jarena req_arena;
static pending pend[MAX_PENDING];
static bool pod_ready;
int podns_pid = -1, podns_uts = -1, podns_ipc = -1;
bool g_shutdown_requested;

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

int open_ns(pid_t pid, const char *ns) {
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
  containers_cgroup_init();
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
  if (strcmp(op, "writeFiles") == 0 || strcmp(op, "commitFiles") == 0) {
    int rc = strcmp(op, "writeFiles") == 0 ? op_write_files(r, err, sizeof err, &code) : op_commit_files(r, err, sizeof err, &code);
    if (rc < 0) chan_respond_err(id, code, "%s", err);
    else chan_respond_ok(id, "");
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
      oom = (k > c->oom_kills_at_exit || c->psi_killed) && WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL;
      if (k > c->oom_kills) c->oom_kills = k;
      c->oom_kills_at_exit = k;
    }
    uint64_t dropped = (p->sout ? p->sout->dropped : 0) + (p->serr ? p->serr->dropped : 0);
    jwriter w;
    /* room for a 4,096-byte termination message escaped (6 bytes a byte at worst), within the
     * guest's frame: an event that does not fit would never be sent */
    jw_init(&w, 32 * 1024);
    jw_begin_obj(&w);
    jw_str(&w, "type", "exit");
    jw_str(&w, "container", c ? c->id : "");
    jw_str(&w, "execId", p->exec_id);
    jw_int(&w, "exitCode", code);
    if (WIFSIGNALED(p->status)) jw_int(&w, "signal", WTERMSIG(p->status));
    jw_bool(&w, "oomKilled", oom);
    if (p->errcode) { jw_int(&w, "startErrorCode", p->errcode); jw_str(&w, "startError", p->errmsg); }
    if (dropped) jw_int(&w, "droppedBytes", (int64_t)dropped);
    if (c && c->init == p) {
      char term[4097];
      if (container_read_term(c, term, sizeof term) > 0) jw_str(&w, "terminationMessage", term);
    }
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
  volumes_unmount_all();
  empty_dirs_unmount_all();
  sync();
  reboot(RB_POWER_OFF);
}

