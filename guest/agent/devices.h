/* The VM's hot-added devices as the host names them: disks by serial (virtio-blk, or
 * virtio-scsi through VPD page 0x80), NICs by MAC, and the filesystem a disk holds. */
#ifndef H8S_DEVICES_H
#define H8S_DEVICES_H
#include <stddef.h>

/* /dev/vdX or /dev/sdX whose serial is `serial`, once its first block can be read: 0 when
 * found, -1 while it has not appeared (the caller retries). */
int find_disk(const char *serial, char *dev, size_t devlen);
/* The interface whose MAC is `mac` (17 characters): 0 when found, else -1. */
int find_nic(const char *mac, char *ifname, size_t len);
/* Filesystem on a device: "ext", "xfs", "erofs" or "" (none we know). */
const char *probe_fs(const char *dev);

#endif
