/* Small file helpers (files.h). */
#include "files.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC | O_CREAT, 0644);
  if (fd < 0) return -1;
  size_t n = strlen(data);
  ssize_t w = write(fd, data, n);
  int e = errno;
  close(fd);
  errno = e;
  return w == (ssize_t)n ? 0 : -1;
}

ssize_t read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}

int mkdir_p(const char *path, mode_t mode) {
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

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }
