/* Small file helpers of the guest agent: whole-file reads and writes (sysfs, procfs, cgroup
 * files), mkdir -p, non-blocking fds. */
#ifndef H8S_FILES_H
#define H8S_FILES_H
#include <sys/types.h>

/* Writes `data` to `path` (created 0644, truncated): 0, or -1 with errno set. */
int write_file(const char *path, const char *data);
/* Reads at most cap-1 bytes of `path` into buf, NUL-terminated: the length, or -1. */
ssize_t read_file(const char *path, char *buf, size_t cap);
int mkdir_p(const char *path, mode_t mode);
void set_nonblock(int fd);

#endif
