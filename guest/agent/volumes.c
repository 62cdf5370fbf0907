/* Volume disks shared by the pod's containers (volumes.h). */
#include "volumes.h"
#include "agent.h"
#include "devices.h"
#include "files.h"
#include "process.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>

static volume volumes[MAX_MOUNTS * 2];

volume *find_volume(const char *serial) {
  for (size_t i = 0; i < sizeof volumes / sizeof *volumes; i++)
    if (volumes[i].used && strcmp(volumes[i].serial, serial) == 0) return &volumes[i];
  return NULL;
}

/* Mounts a volume disk (formatting it first when blank). 1 = wait for the disk. */
int volume_acquire(const char *serial, const char *fstype, char *err, size_t errlen) {
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

void volume_release(const char *serial) {
  volume *v = find_volume(serial);
  if (!v || --v->refs > 0) return;
  if (umount2(v->dir, MNT_DETACH) < 0) logk("umount %s: %s", v->dir, strerror(errno));
  rmdir(v->dir);
  v->used = false;
}

void volumes_unmount_all(void) {
  for (size_t i = 0; i < sizeof volumes / sizeof *volumes; i++)
    if (volumes[i].used) umount2(volumes[i].dir, MNT_DETACH);
}
