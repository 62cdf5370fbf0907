/* Pod file volumes (ConfigMap, Secret, downward API, tokens) copied in by the host in kubelet's
 * atomic-writer layout, and emptyDir directories shared by a pod's containers (ADR 0008).
 *
 *   /run/h8s/files/<volume>/..g<generation>/<files>   one directory per generation
 *   /run/h8s/files/<volume>/..data -> ..g<generation>  swapped with a rename
 *   /run/h8s/files/<volume>/<name> -> ..data/<name>    the visible top-level names
 *   /run/h8s/empty/<name>/                             emptyDir (a tmpfs for medium Memory)
 *
 * A container binds the volume directory read-only, so it sees every later generation. */
#ifndef H8S_PODFILES_H
#define H8S_PODFILES_H
#include "json.h"
#include <stdbool.h>
#include <stddef.h>

#define FILES_ROOT "/run/h8s/files"
#define EMPTY_ROOT "/run/h8s/empty"

/* writeFiles: {volume, generation, path, mode, data (base64), append}: writes (or appends) one
 * file of a generation that is not yet committed. 0 ok, -1 failed (err, code set). */
int op_write_files(jnode *r, char *err, size_t errlen, const char **code);
/* commitFiles: {volume, generation, names: [top-level names]}: makes the generation current. */
int op_commit_files(jnode *r, char *err, size_t errlen, const char **code);
/* Whether a file volume has a committed generation. */
bool files_volume_ready(const char *volume);
/* Prepares an emptyDir (idempotent): a tmpfs of `size_bytes` (0 = half the guest's memory), for
 * both media for now. 0 ok, -1 failed (err set). */
int empty_dir_acquire(const char *name, bool memory, long long size_bytes, char *err, size_t errlen);
/* Shutdown: detaches the emptyDir tmpfs mounts. */
void empty_dirs_unmount_all(void);

#endif
