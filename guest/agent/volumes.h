/* Volume disks: mounted once under /run/h8s/v/<serial> (formatted on first use) and
 * reference-counted across the containers that bind them. */
#ifndef H8S_VOLUMES_H
#define H8S_VOLUMES_H
#include <stdbool.h>
#include <stddef.h>

typedef struct volume {
  bool used;
  char serial[64];
  char dir[128];
  int refs;
} volume;

volume *find_volume(const char *serial);
/* Mounts a volume disk (formatting it first when blank) or takes another reference:
 * 0 done, 1 = wait for the disk, -1 failed (err set). */
int volume_acquire(const char *serial, const char *fstype, char *err, size_t errlen);
/* Drops a reference; the last one unmounts the volume. */
void volume_release(const char *serial);
/* Shutdown: detaches every mounted volume. */
void volumes_unmount_all(void);

#endif
