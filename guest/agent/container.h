/* Containers inside the VM: root disk mounts, the cgroup v2 leaf (limits, OOM counting and
 * the PSI livelock guard, kill-all) and their release. */
#ifndef H8S_CONTAINER_H
#define H8S_CONTAINER_H
#include "agent.h"

/* The pids limit of a container whose resources name none (set by containers_cgroup_init). */
extern int64_t g_default_pids_max;
/* Boot: the parent cgroup of all containers, with a pids limit that spares the agent. */
void containers_cgroup_init(void);
container *find_container(const char *id);
/* Kills what is left in c, unmounts its root and volumes, frees the slot. */
void container_release(container *c);
/* Reads memoryBytes, pidsLimit, cpuQuota, cpuPeriod (absent keys keep the current value). */
void read_resources(jnode *res, container *c);
/* Writes c's limits to its cgroup; err is set (not cleared) on a failure. */
void apply_resources(container *c, char *err, size_t errlen);
/* createContainer: 1 = waiting for disks, 0 = done, -1 = failed (err and code set). */
int op_create_container(jnode *r, char *err, size_t errlen, const char **code);
/* OOM kills counted in c's memory.events. */
int64_t oom_kills(container *c);

/* Records the container's terminationMessagePath and makes the file bound there (empty). */
int container_set_term_path(container *c, const char *path, char *err, size_t errlen);
/* Reads the termination message (at most cap - 1 bytes, NUL-terminated); 0 when none. */
size_t container_read_term(const container *c, char *buf, size_t cap);

#endif
