/* Containers inside the VM (container.h): each has its own mount namespace whose root is its
 * block device (a per-container overlay of the image disk, or an erofs image under a tmpfs
 * overlay) and a cgroup v2 leaf (memory/pids/cpu limits, OOM counting, kill-all). */
#include "container.h"
#include "podfiles.h"
#include "devices.h"
#include "files.h"
#include "names.h"
#include "process.h"
#include "volumes.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* Every container's cgroup is a child of this one. Its pids.max keeps the sum of all
 * containers' processes below the kernel's threads-max, so a fork bomb with any limit (or
 * none) can never take the last task slots from the agent, which stays in the root cgroup:
 * the agent can always fork to start an exec or a helper. */
#define CONTAINERS_CGROUP "/sys/fs/cgroup/containers"

int64_t g_default_pids_max = 1024;

void containers_cgroup_init(void) {
  char buf[32];
  int64_t threads = read_file("/proc/sys/kernel/threads-max", buf, sizeof buf) > 0 ? strtoll(buf, NULL, 10) : 0;
  if (threads <= 0) threads = 4096;
  /* A container's share when its resources name no pids limit: a quarter of the VM's task
   * slots (threads-max scales with guest RAM: about 1000 at 128 MiB), at most docker's and
   * runc's usual 4096, at least enough for an ordinary service. */
  g_default_pids_max = threads / 4;
  if (g_default_pids_max > 4096) g_default_pids_max = 4096;
  if (g_default_pids_max < 64) g_default_pids_max = 64;
  if (mkdir(CONTAINERS_CGROUP, 0755) < 0 && errno != EEXIST) {
    logk("cgroup %s: %s", CONTAINERS_CGROUP, strerror(errno));
    return;
  }
  if (write_file(CONTAINERS_CGROUP "/cgroup.subtree_control", "+memory +pids +cpu") < 0)
    logk("enable cgroup controllers for containers: %s", strerror(errno));
  /* Memory for all containers together: the VM's less what the agent, pod init and the
   * kernel's own tables need (1/8, at least 16 MiB), so a container without a memory limit
   * meets an OOM kill inside the containers' cgroup before the agent runs short. Set at boot
   * from MemTotal: a balloon inflated later shrinks the VM below it, and then the agent's
   * oom_score_adj and vm.min_free_kbytes (main.c) protect it. */
  char mi[4096];
  long long total_kib = 0;
  if (read_file("/proc/meminfo", mi, sizeof mi) > 0) {
    const char *t = strstr(mi, "MemTotal:");
    if (t) total_kib = atoll(t + 9);
  }
  if (total_kib > 0) {
    long long reserve = total_kib / 8 > 16384 ? total_kib / 8 : 16384;
    if (total_kib > reserve * 2) {
      char mb[32];
      snprintf(mb, sizeof mb, "%lld", (total_kib - reserve) * 1024);
      if (write_file(CONTAINERS_CGROUP "/memory.max", mb) < 0) logk("containers memory.max: %s", strerror(errno));
    }
  }
  /* Three quarters for all containers together; the rest is the agent's, pod init's, the
   * helpers' and the kernel threads'. */
  snprintf(buf, sizeof buf, "%lld", (long long)(threads - threads / 4));
  if (write_file(CONTAINERS_CGROUP "/pids.max", buf) < 0) logk("containers pids.max: %s", strerror(errno));
}

container *find_container(const char *id) {
  for (int i = 0; i < MAX_CONTAINERS; i++)
    if (g_containers[i].used && strcmp(g_containers[i].id, id) == 0) return &g_containers[i];
  return NULL;
}

void container_release(container *c) {
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
  if (c->term_file[0]) unlink(c->term_file);
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

void apply_resources(container *c, char *err, size_t errlen) {
  char path[220], val[64];
  if (c->memory_max > 0) {
    snprintf(path, sizeof path, "%s/memory.max", c->cgroup);
    snprintf(val, sizeof val, "%lld", (long long)c->memory_max);
    if (write_file(path, val) < 0) snprintf(err, errlen, "memory.max: %s", strerror(errno));
  }
  /* Always a pids limit: the container's own, or the default (a fork bomb stays inside its
   * container); -1 asks for none of its own, and the containers' parent still bounds it. */
  snprintf(path, sizeof path, "%s/pids.max", c->cgroup);
  if (c->pids_max < 0) snprintf(val, sizeof val, "max");
  else snprintf(val, sizeof val, "%lld", (long long)(c->pids_max > 0 ? c->pids_max : g_default_pids_max));
  if (write_file(path, val) < 0) snprintf(err, errlen, "pids.max: %s", strerror(errno));
  if (c->cpu_quota > 0) {
    snprintf(path, sizeof path, "%s/cpu.max", c->cgroup);
    snprintf(val, sizeof val, "%lld %lld", (long long)c->cpu_quota, (long long)(c->cpu_period > 0 ? c->cpu_period : 100000));
    if (write_file(path, val) < 0) snprintf(err, errlen, "cpu.max: %s", strerror(errno));
  }
}

void read_resources(jnode *res, container *c) {
  bool ok = true;
  if (!res) return;
  c->memory_max = jint(res, "memoryBytes", c->memory_max, 0, INT64_MAX, &ok);
  c->pids_max = jint(res, "pidsLimit", c->pids_max, -1, 4194304, &ok);
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

static int64_t file_int(const char *path) {
  char buf[64];
  ssize_t n = read_file(path, buf, sizeof buf);
  if (n <= 0 || buf[0] < '0' || buf[0] > '9') return -1; /* missing, or "max" */
  return strtoll(buf, NULL, 10);
}

static bool near_limit(int64_t cur, int64_t max) { return max > 0 && cur >= 0 && cur >= max - max / 16; }

void pod_on_psi_fd(int idx) {
  if (idx < 0 || idx >= MAX_CONTAINERS) return;
  container *c = &g_containers[idx];
  if (!c->used || c->psi_killed) return;
  int64_t max = cgroup_int(c, "memory.max"), cur = cgroup_int(c, "memory.current");
  /* A container stalled at its own limit is the victim. One stalled while all containers
   * together sit at theirs (containers_cgroup_init: the memory kept for the agent) is a sign
   * that the largest container is starving everyone: that one is the victim. Stalls below
   * both limits are the whole guest's pressure, not the containers'. */
  container *victim = c;
  if (!near_limit(cur, max)) {
    int64_t all_max = file_int(CONTAINERS_CGROUP "/memory.max"), all_cur = file_int(CONTAINERS_CGROUP "/memory.current");
    if (!near_limit(all_cur, all_max)) { c->psi_strikes = 0; return; }
    int64_t most = -1;
    for (int i = 0; i < MAX_CONTAINERS; i++) {
      container *o = &g_containers[i];
      if (!o->used || o->psi_killed || !o->cgroup[0]) continue;
      int64_t m = cgroup_int(o, "memory.current");
      if (m > most) { most = m; victim = o; }
    }
    cur = most;
    max = all_max;
  }
  int64_t now = mono_ms();
  if (c->psi_strikes == 0 || now - c->psi_first_ms > PSI_SPAN_MS) { c->psi_first_ms = now; c->psi_strikes = 0; }
  if (++c->psi_strikes < PSI_STRIKES) return;
  c->psi_strikes = 0;
  char path[220];
  snprintf(path, sizeof path, "%s/cgroup.kill", victim->cgroup);
  if (write_file(path, "1") < 0) return;
  victim->psi_killed = true;
  logk("container %s: stalled at a memory limit (%lld of %lld bytes); killed as out of memory", victim->id, (long long)cur, (long long)max);
  jwriter w;
  jw_init(&w, 512);
  jw_begin_obj(&w);
  jw_str(&w, "type", "oom");
  jw_str(&w, "container", victim->id);
  jw_int(&w, "oomKills", victim->oom_kills + 1);
  jw_end_obj(&w);
  if (!w.failed) chan_event(w.buf, w.len);
  jw_free(&w);
}

/* createContainer: 1 = waiting for disks, 0 = done, -1 = failed. */
int op_create_container(jnode *r, char *err, size_t errlen, const char **code) {
  *code = "Invalid";
  const char *id = jstr(r, "id", "");
  if (!valid_id(id)) { snprintf(err, errlen, "container id is not valid"); return -1; }
  if (find_container(id)) { *code = "AlreadyExists"; snprintf(err, errlen, "container \"%s\" already exists", id); return -1; }
  jnode *root = jobj(r, "root");
  const char *serial = jstr(root, "serial", "");
  if (!valid_token(serial, 20)) { snprintf(err, errlen, "root disk serial is not valid"); return -1; }
  jnode *mounts = jarr(r, "mounts");
  if (mounts && mounts->len > MAX_MOUNTS) { snprintf(err, errlen, "too many mounts (at most %d)", MAX_MOUNTS); return -1; }
  const char *term = jstr(r, "terminationMessagePath", "");
  if (*term && (strlen(term) >= 250 || !valid_cpath(term))) { snprintf(err, errlen, "terminationMessagePath is not valid"); return -1; }
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
    } else if (strcmp(type, "files") == 0) {
      const char *vol = jstr(m, "source", "");
      if (!valid_id(vol) || strlen(vol) > 64) { snprintf(err, errlen, "file volume id is not valid"); return -1; }
      if (!files_volume_ready(vol)) { *code = "NotFound"; snprintf(err, errlen, "file volume %s has no files yet", vol); return -1; }
      const char *sub = jstr(m, "subPath", "");
      if (!valid_subpath(sub)) { snprintf(err, errlen, "subPath \"%.100s\" is not valid", sub); return -1; }
    } else if (strcmp(type, "emptyDir") == 0) {
      const char *name = jstr(m, "source", "");
      if (!valid_id(name) || strlen(name) > 63) { snprintf(err, errlen, "emptyDir name is not valid"); return -1; }
      const char *sub = jstr(m, "subPath", "");
      if (!valid_subpath(sub)) { snprintf(err, errlen, "subPath \"%.100s\" is not valid", sub); return -1; }
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
  if (container_set_term_path(c, term, err, errlen) < 0) { c->used = false; return -1; }
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
    if (strcmp(ms->type, "files") == 0) {
      snprintf(ms->source, sizeof ms->source, "%s", jstr(m, "source", ""));
      snprintf(ms->sub, sizeof ms->sub, "%s", jstr(m, "subPath", ""));
      ms->readonly = true;
    } else if (strcmp(ms->type, "emptyDir") == 0) {
      snprintf(ms->source, sizeof ms->source, "%s", jstr(m, "source", ""));
      snprintf(ms->sub, sizeof ms->sub, "%s", jstr(m, "subPath", ""));
      bool okn = true;
      long long size = jint(m, "sizeLimitBytes", 0, 0, INT64_MAX, &okn);
      if (empty_dir_acquire(ms->source, strcmp(jstr(m, "medium", ""), "Memory") == 0, size, err, errlen) < 0) {
        container_release(c);
        return -1;
      }
    }
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
  snprintf(c->cgroup, sizeof c->cgroup, CONTAINERS_CGROUP "/c-%s", id);
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


int container_set_term_path(container *c, const char *path, char *err, size_t errlen) {
  c->term_path[0] = 0;
  if (!path || !*path) return 0;
  char dir[200], file[240];
  snprintf(dir, sizeof dir, "/run/h8s/c/%s", c->id);
  snprintf(file, sizeof file, "%s/termination-log", dir);
  if (mkdir_p(dir, 0755) < 0) { snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno)); return -1; }
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) { snprintf(err, errlen, "termination log: %s", strerror(errno)); return -1; }
  fchmod(fd, 0666);
  close(fd);
  snprintf(c->term_path, sizeof c->term_path, "%s", path);
  snprintf(c->term_file, sizeof c->term_file, "%s", file);
  return 0;
}

size_t container_read_term(const container *c, char *buf, size_t cap) {
  buf[0] = 0;
  if (!c->term_path[0] || cap == 0) return 0;
  ssize_t n = read_file(c->term_file, buf, cap);
  return n > 0 ? (size_t)n : 0;
}

int64_t oom_kills(container *c) {
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
