/* Prepared containers of pooled VMs (prepareContainer, claimContainer): a process already in
 * the container's cgroup, namespaces and root, waiting for its process spec. */
#ifndef H8S_PREPARED_H
#define H8S_PREPARED_H
#include "process.h"

/* prepareContainer: createContainer, then the prepared process. Same returns. */
int op_prepare_container(jnode *r, char *err, size_t errlen, const char **code);
/* claimContainer {from, id, resources}: a pod takes the prepared container under its own id. */
void op_claim(uint32_t id, jnode *r);
/* Hands the spec and stdio to c's prepared process. 0, or -1 with err set. */
int start_prepared(container *c, const procspec *ps, int in_fd, int out_fd, int err_fd, int tty_fd, char *err, size_t errlen);

#endif
