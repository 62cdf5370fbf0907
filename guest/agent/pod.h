/* State of the pod shared by the agent's units: the pod's namespaces, held open by the agent
 * (pod init is their PID 1). */
#ifndef H8S_POD_H
#define H8S_POD_H
#include <sys/types.h>

extern int podns_pid, podns_uts, podns_ipc;
/* Opens /proc/<pid>/ns/<ns> (close-on-exec). */
int open_ns(pid_t pid, const char *ns);

#endif
