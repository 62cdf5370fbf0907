/* Pod file volumes and emptyDir in the guest (podfiles.h). */
#include "podfiles.h"
#include "agent.h"
#include "files.h"
#include "names.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* A file or directory name inside a volume: relative, no "." or ".." component, no leading
 * "..", bounded; the generation directories and "..data" can never be named. */
static bool valid_relpath(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 250 || s[0] == '/' || s[0] == '.') return false;
  const char *seg = s;
  for (const char *p = s;; p++) {
    if (*p == '/' || *p == 0) {
      size_t len = (size_t)(p - seg);
      if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) return false;
      if (*p == 0) break;
      seg = p + 1;
    } else if ((unsigned char)*p < 0x20) {
      return false;
    }
  }
  return true;
}

static int b64val(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes standard base64 (padding optional) into out; returns the length or -1. */
static ssize_t b64decode(const char *in, size_t len, unsigned char *out) {
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] == '=') break;
    int v = b64val((unsigned char)in[i]);
    if (v < 0) return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)((acc >> bits) & 0xff);
    }
  }
  return (ssize_t)o;
}

static int check_names(jnode *r, const char **vol, const char **gen, char *err, size_t errlen) {
  *vol = jstr(r, "volume", "");
  *gen = jstr(r, "generation", "");
  if (!valid_id(*vol) || strlen(*vol) > 64) { snprintf(err, errlen, "file volume id is not valid"); return -1; }
  if (!valid_id(*gen) || strlen(*gen) > 32) { snprintf(err, errlen, "file generation is not valid"); return -1; }
  return 0;
}

int op_write_files(jnode *r, char *err, size_t errlen, const char **code) {
  *code = "Invalid";
  const char *vol, *gen;
  if (check_names(r, &vol, &gen, err, errlen) < 0) return -1;
  const char *path = jstr(r, "path", "");
  if (!valid_relpath(path)) { snprintf(err, errlen, "file path \"%.100s\" is not valid", path); return -1; }
  bool ok = true;
  int mode = (int)jint(r, "mode", 0644, 0, 0777, &ok);
  if (!ok) { snprintf(err, errlen, "file mode is not valid"); return -1; }
  const char *data = jstr(r, "data", "");
  size_t dlen = strlen(data);
  unsigned char *buf = malloc(dlen / 4 * 3 + 4);
  if (!buf) { *code = "InternalError"; snprintf(err, errlen, "out of memory"); return -1; }
  ssize_t n = b64decode(data, dlen, buf);
  if (n < 0) { free(buf); snprintf(err, errlen, "file data is not base64"); return -1; }
  *code = "InternalError";
  char dir[400], file[700];
  snprintf(dir, sizeof dir, FILES_ROOT "/%s/..g%s", vol, gen);
  snprintf(file, sizeof file, "%s/%s", dir, path);
  /* parent directories of the file inside the generation */
  char parent[700];
  snprintf(parent, sizeof parent, "%s", file);
  char *slash = strrchr(parent, '/');
  if (slash) *slash = 0;
  if (mkdir_p(parent, 0755) < 0) { free(buf); snprintf(err, errlen, "mkdir %s: %s", parent, strerror(errno)); return -1; }
  bool append = jbool(r, "append", false);
  int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC), mode);
  if (fd < 0) { free(buf); snprintf(err, errlen, "open %s: %s", path, strerror(errno)); return -1; }
  ssize_t w = write(fd, buf, (size_t)n);
  int e = errno;
  fchmod(fd, (mode_t)mode);
  close(fd);
  free(buf);
  if (w != n) { snprintf(err, errlen, "write %s: %s", path, w < 0 ? strerror(e) : "short write"); return -1; }
  return 0;
}

static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char p[900];
      snprintf(p, sizeof p, "%s/%s", path, de->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
      else unlink(p);
    }
    closedir(d);
  }
  rmdir(path);
}

static bool in_names(jnode *names, const char *name) {
  for (jnode *n = names ? names->child : NULL; n; n = n->next)
    if (n->type == J_STR && strcmp(n->str, name) == 0) return true;
  return false;
}

int op_commit_files(jnode *r, char *err, size_t errlen, const char **code) {
  *code = "Invalid";
  const char *vol, *gen;
  if (check_names(r, &vol, &gen, err, errlen) < 0) return -1;
  jnode *names = jarr(r, "names");
  for (jnode *n = names ? names->child : NULL; n; n = n->next) {
    if (n->type != J_STR || !valid_relpath(n->str) || strchr(n->str, '/')) {
      snprintf(err, errlen, "top-level file name is not valid");
      return -1;
    }
  }
  *code = "InternalError";
  char vdir[300], gdir[400], tmp[400], data[400];
  snprintf(vdir, sizeof vdir, FILES_ROOT "/%s", vol);
  snprintf(gdir, sizeof gdir, "%s/..g%s", vdir, gen);
  /* an empty volume (a ConfigMap with no keys) still gets its generation directory */
  if (mkdir_p(gdir, 0755) < 0) { snprintf(err, errlen, "mkdir %s: %s", gdir, strerror(errno)); return -1; }
  /* 1. the visible names first, so that a reader following name -> ..data/name never sees a
   * name the new generation has before the swap (it resolves into the old one until then) */
  for (jnode *n = names ? names->child : NULL; n; n = n->next) {
    char link[700], target[300];
    snprintf(link, sizeof link, "%s/%s", vdir, n->str);
    snprintf(target, sizeof target, "..data/%s", n->str);
    struct stat st;
    if (lstat(link, &st) == 0) continue;
    if (symlink(target, link) < 0) { snprintf(err, errlen, "symlink %s: %s", n->str, strerror(errno)); return -1; }
  }
  /* 2. the swap */
  snprintf(tmp, sizeof tmp, "%s/..data_tmp", vdir);
  snprintf(data, sizeof data, "%s/..data", vdir);
  unlink(tmp);
  char gname[64];
  snprintf(gname, sizeof gname, "..g%s", gen);
  if (symlink(gname, tmp) < 0 || rename(tmp, data) < 0) {
    snprintf(err, errlen, "swap ..data: %s", strerror(errno));
    return -1;
  }
  /* 3. names and generations that are no longer current */
  DIR *d = opendir(vdir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      const char *nm = de->d_name;
      if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strcmp(nm, "..data") == 0) continue;
      char p[700];
      snprintf(p, sizeof p, "%s/%s", vdir, nm);
      if (strncmp(nm, "..g", 3) == 0) {
        if (strcmp(nm, gname) != 0) remove_tree(p);
      } else if (nm[0] != '.' && !in_names(names, nm)) {
        unlink(p);
      }
    }
    closedir(d);
  }
  return 0;
}

bool files_volume_ready(const char *volume) {
  char data[300];
  snprintf(data, sizeof data, FILES_ROOT "/%s/..data", volume);
  struct stat st;
  return lstat(data, &st) == 0;
}

static char empty_mounted[MAX_MOUNTS][64];

int empty_dir_acquire(const char *name, bool memory, long long size_bytes, char *err, size_t errlen) {
  if (!valid_id(name) || strlen(name) > 63) { snprintf(err, errlen, "emptyDir name is not valid"); return -1; }
  char dir[200];
  snprintf(dir, sizeof dir, EMPTY_ROOT "/%s", name);
  struct stat st;
  bool exists = stat(dir, &st) == 0;
  if (mkdir_p(dir, 0777) < 0) { snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno)); return -1; }
  if (exists) return 0;
  /* Both media are a tmpfs for now, so the size limit is enforced by the filesystem; a disk
   * emptyDir without a limit may take half the guest's memory (ADR 0008 plans a scratch disk). */
  (void)memory;
  char opts[64];
  if (size_bytes > 0) snprintf(opts, sizeof opts, "mode=0777,size=%lld", size_bytes);
  else snprintf(opts, sizeof opts, "mode=0777,size=50%%");
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
    snprintf(err, errlen, "mount emptyDir %s: %s", name, strerror(errno));
    rmdir(dir);
    return -1;
  }
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (empty_mounted[i][0]) continue;
    snprintf(empty_mounted[i], sizeof empty_mounted[i], "%s", name);
    break;
  }
  return 0;
}

void empty_dirs_unmount_all(void) {
  for (int i = 0; i < MAX_MOUNTS; i++) {
    if (!empty_mounted[i][0]) continue;
    char dir[200];
    snprintf(dir, sizeof dir, EMPTY_ROOT "/%s", empty_mounted[i]);
    umount2(dir, MNT_DETACH);
    empty_mounted[i][0] = 0;
  }
}
