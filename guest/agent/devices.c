/* Disks, NICs and filesystems by the names the host gives them (devices.h). */
#include "devices.h"
#include "files.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The serial of a SCSI disk from its unit serial number VPD page (0x80): a 4-byte header,
 * then the serial, possibly padded with spaces or NULs. */
static bool scsi_serial(const char *name, char *out, size_t outlen) {
  char path[300];
  unsigned char buf[128];
  snprintf(path, sizeof path, "/sys/block/%s/device/vpd_pg80", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 5 || buf[1] != 0x80) return false;
  size_t len = ((size_t)buf[2] << 8) | buf[3];
  if (len > (size_t)n - 4) len = (size_t)n - 4;
  size_t start = 4, end = 4 + len;
  while (start < end && (buf[start] == ' ' || buf[start] == 0)) start++;
  while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == 0)) end--;
  if (end - start + 1 > outlen) return false;
  memcpy(out, buf + start, end - start);
  out[end - start] = 0;
  return true;
}

/* /dev/vdX (virtio-blk) or /dev/sdX (virtio-scsi) whose serial is `serial`; 0 when found. */
int find_disk(const char *serial, char *dev, size_t devlen) {
  DIR *d = opendir("/sys/block");
  if (!d) return -1;
  struct dirent *e;
  int rc = -1;
  while ((e = readdir(d))) {
    char path[300], buf[128];
    if (strncmp(e->d_name, "vd", 2) == 0) {
      snprintf(path, sizeof path, "/sys/block/%s/serial", e->d_name);
      if (read_file(path, buf, sizeof buf) < 0) continue;
      size_t n = strlen(buf);
      while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
    } else if (strncmp(e->d_name, "sd", 2) == 0) {
      if (!scsi_serial(e->d_name, buf, sizeof buf)) continue;
    } else {
      continue;
    }
    if (strcmp(buf, serial) == 0) {
      /* A SCSI disk shows up before its capacity is read: wait for a size. */
      char sz[32];
      snprintf(path, sizeof path, "/sys/block/%s/size", e->d_name);
      if (read_file(path, sz, sizeof sz) < 0 || atoll(sz) <= 0) break;
      snprintf(dev, devlen, "/dev/%s", e->d_name);
      /* Found once its first block can be read (the node appears while the disk is probed). */
      unsigned char blk[4096];
      int fd = open(dev, O_RDONLY | O_CLOEXEC);
      rc = fd >= 0 && pread(fd, blk, sizeof blk, 0) == (ssize_t)sizeof blk ? 0 : -1;
      if (fd >= 0) close(fd);
      break;
    }
  }
  closedir(d);
  return rc;
}

int find_nic(const char *mac, char *ifname, size_t len) {
  DIR *d = opendir("/sys/class/net");
  if (!d) return -1;
  struct dirent *e;
  int rc = -1;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300], buf[64];
    snprintf(path, sizeof path, "/sys/class/net/%s/address", e->d_name);
    if (read_file(path, buf, sizeof buf) < 0) continue;
    if (strncasecmp(buf, mac, strlen(mac)) == 0 && strlen(mac) == 17) {
      snprintf(ifname, len, "%s", e->d_name);
      rc = 0;
      break;
    }
  }
  closedir(d);
  return rc;
}

/* Filesystem on a device: "ext", "xfs", "erofs" or "" (none we know). */
const char *probe_fs(const char *dev) {
  int fd = open(dev, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  unsigned char sb[2048];
  ssize_t n = pread(fd, sb, sizeof sb, 0);
  close(fd);
  if (n < (ssize_t)sizeof sb) return "";
  if (sb[1080] == 0x53 && sb[1081] == 0xEF) return "ext";
  if (memcmp(sb, "XFSB", 4) == 0) return "xfs";
  if (sb[1024] == 0xe2 && sb[1025] == 0xe1 && sb[1026] == 0xf5 && sb[1027] == 0xe0) return "erofs";
  return "";
}
