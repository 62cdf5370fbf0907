/* Prepared containers of pooled VMs (prepared.h). */
#include "prepared.h"
#include "container.h"
#include "files.h"
#include "names.h"
#include "pod.h"
#include "podfiles.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/mount.h>

static int prefork(container *c, char *err, size_t errlen);
/* Files a prepared container reads ahead while it waits (see warm_cache). */
#define WARM_MAX_FILES 8
#define WARM_MAX_BYTES (32 << 20)
static char warm_files[WARM_MAX_FILES][512];
static int warm_count;
static char warm_path[1024];

/* prepareContainer: createContainer, then the prepared process (see prefork). */
int op_prepare_container(jnode *r, char *err, size_t errlen, const char **code) {
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

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
struct h8s_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

/* The guest directory (or file) a files or emptyDir mount binds; made ready first. */
static int claim_mount_source(jnode *m, char *src, size_t srclen, char *err, size_t errlen) {
  const char *type = jstr(m, "type", "");
  const char *source = jstr(m, "source", "");
  const char *sub = jstr(m, "subPath", "");
  if (!valid_subpath(sub)) { snprintf(err, errlen, "subPath is not valid"); return -1; }
  if (!valid_cpath(jstr(m, "containerPath", ""))) { snprintf(err, errlen, "mount path is not valid"); return -1; }
  if (strcmp(type, "files") == 0) {
    if (!valid_id(source) || !files_volume_ready(source)) { snprintf(err, errlen, "file volume %.80s has no files yet", source); return -1; }
    snprintf(src, srclen, *sub ? FILES_ROOT "/%s/%s" : FILES_ROOT "/%s", source, sub);
    return 0;
  }
  if (strcmp(type, "emptyDir") == 0) {
    bool ok = true;
    long long size = jint(m, "sizeLimitBytes", 0, 0, INT64_MAX, &ok);
    if (empty_dir_acquire(source, strcmp(jstr(m, "medium", ""), "Memory") == 0, size, err, errlen) < 0) return -1;
    snprintf(src, srclen, *sub ? EMPTY_ROOT "/%s/%s" : EMPTY_ROOT "/%s", source, sub);
    if (*sub && mkdir_p(src, 0777) < 0) { snprintf(err, errlen, "mkdir subPath: %s", strerror(errno)); return -1; }
    return 0;
  }
  snprintf(err, errlen, "mount type \"%.20s\" cannot join a prepared container", type);
  return -1;
}

/* Moves a detached copy of `src` to `path` inside the running prepared process's root, in its
 * mount namespace (open_tree + move_mount, Linux 5.2+), from a child so that the agent's own
 * namespace and root never change. 0 ok, -1 failed (err set). */
static int claim_bind(container *c, const char *src, const char *path, bool readonly, char *err, size_t errlen) {
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | O_CLOEXEC);
  if (tree < 0) { snprintf(err, errlen, "open_tree %s: %s", src, strerror(errno)); return -1; }
  if (readonly) {
    struct h8s_mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &a, sizeof a) < 0) {
      snprintf(err, errlen, "read-only %s: %s", src, strerror(errno));
      close(tree);
      return -1;
    }
  }
  struct stat sst;
  bool is_dir = stat(src, &sst) == 0 && S_ISDIR(sst.st_mode);
  char nspath[64], rootpath[64];
  snprintf(nspath, sizeof nspath, "/proc/%d/ns/mnt", (int)c->pre_pid);
  snprintf(rootpath, sizeof rootpath, "/proc/%d/root", (int)c->pre_pid);
  int ns = open(nspath, O_RDONLY | O_CLOEXEC);
  int root = open(rootpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int ep[2] = { -1, -1 };
  if (ns < 0 || root < 0 || pipe2(ep, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "enter the prepared container: %s", strerror(errno));
    goto fail;
  }
  pid_t pid = fork_retrying();
  if (pid < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); goto fail; }
  if (pid == 0) {
    char msg[300] = "";
    if (setns(ns, CLONE_NEWNS) < 0 || fchdir(root) < 0 || chroot(".") < 0) snprintf(msg, sizeof msg, "enter: %s", strerror(errno));
    else if (is_dir ? mkdir_p(path, 0755) < 0 : false) snprintf(msg, sizeof msg, "mkdir %s: %s", path, strerror(errno));
    else {
      if (!is_dir) {
        char parent[520];
        snprintf(parent, sizeof parent, "%s", path);
        char *sl = strrchr(parent, '/');
        if (sl && sl != parent) { *sl = 0; mkdir_p(parent, 0755); }
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
      }
      if (syscall(SYS_move_mount, tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        snprintf(msg, sizeof msg, "move_mount %s: %s", path, strerror(errno));
    }
    if (msg[0]) { ssize_t w = write(ep[1], msg, strlen(msg)); (void)w; _exit(1); }
    _exit(0);
  }
  close(ep[1]);
  ep[1] = -1;
  char msg[300];
  ssize_t n = read(ep[0], msg, sizeof msg - 1);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (n > 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    msg[n > 0 ? n : 0] = 0;
    snprintf(err, errlen, "mount into the prepared container: %s", n > 0 ? msg : "helper failed");
    goto fail;
  }
  close(ep[0]);
  close(ns);
  close(root);
  close(tree);
  return 0;
fail:
  if (ep[0] >= 0) close(ep[0]);
  if (ep[1] >= 0) close(ep[1]);
  if (ns >= 0) close(ns);
  if (root >= 0) close(root);
  close(tree);
  return -1;
}

/* claimContainer {from, id, resources, mounts}: a pod takes the prepared container under its
 * own id; its files and emptyDir mounts are moved into the waiting process's namespace. */
void op_claim(uint32_t id, jnode *r) {
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
  jnode *mounts = jarr(r, "mounts");
  if (mounts && mounts->len + (size_t)c->nmounts > MAX_MOUNTS) { chan_respond_err(id, "Invalid", "too many mounts (at most %d)", MAX_MOUNTS); return; }
  for (jnode *m = mounts ? mounts->child : NULL; m; m = m->next) {
    char src[600];
    if (claim_mount_source(m, src, sizeof src, err, sizeof err) < 0) { chan_respond_err(id, "Invalid", "%s", err); return; }
    bool ro = strcmp(jstr(m, "type", ""), "files") == 0 || jbool(m, "readonly", false);
    if (claim_bind(c, src, jstr(m, "containerPath", ""), ro, err, sizeof err) < 0) { chan_respond_err(id, "InternalError", "%s", err); return; }
    mountspec *ms = &c->mounts[c->nmounts++];
    snprintf(ms->path, sizeof ms->path, "%s", jstr(m, "containerPath", ""));
    snprintf(ms->type, sizeof ms->type, "%s", jstr(m, "type", ""));
    snprintf(ms->source, sizeof ms->source, "%s", jstr(m, "source", ""));
    snprintf(ms->sub, sizeof ms->sub, "%s", jstr(m, "subPath", ""));
    ms->readonly = ro;
  }
  const char *term = jstr(r, "terminationMessagePath", "");
  if (*term) {
    if (strlen(term) >= 250 || !valid_cpath(term)) { chan_respond_err(id, "Invalid", "terminationMessagePath is not valid"); return; }
    if (container_set_term_path(c, term, err, sizeof err) < 0) { chan_respond_err(id, "InternalError", "%s", err); return; }
    if (claim_bind(c, c->term_file, term, false, err, sizeof err) < 0) { chan_respond_err(id, "InternalError", "%s", err); return; }
  }
  read_resources(jobj(r, "resources"), c);
  apply_resources(c, err, sizeof err);
  if (err[0]) { chan_respond_err(id, "InternalError", "%s", err); return; }
  snprintf(c->id, sizeof c->id, "%s", to);
  tracek("claim %s -> %s", from, to);
  chan_respond_ok(id, "");
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
  pid_t a = fork_retrying();
  if (a < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); goto fail; }
  if (a == 0) {
    close(sp[0]); close(ep[0]); close(pp[0]);
    child_leave_agent();
    int procs = open_cgroup_procs(c);
    if (procs < 0) child_fail(ep[1], 125, "join cgroup: %s", strerror(errno));
    if (setns(podns_pid, CLONE_NEWPID) < 0 || setns(podns_uts, CLONE_NEWUTS) < 0 || setns(podns_ipc, CLONE_NEWIPC) < 0)
      child_fail(ep[1], 125, "join pod namespaces: %s", strerror(errno));
    if (unshare(CLONE_NEWNS) < 0) child_fail(ep[1], 125, "mount namespace: %s", strerror(errno));
    /* Joins the cgroup after the fork, as spawn's processes do (process.c). */
    pid_t b = fork_retrying();
    if (b < 0) child_fail(ep[1], 125, "fork: %s", strerror(errno));
    if (b == 0) {
      close(pp[1]);
      child_join_cgroup(procs, ep[1]);
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
int start_prepared(container *c, const procspec *ps, int in_fd, int out_fd, int err_fd, int tty_fd, char *err, size_t errlen) {
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

