/* Processes in containers: the process spec, the double fork into the pod's namespaces and
 * the container's cgroup and mount namespace, the child side (mounts, user, exec), and the
 * start, signal and resize requests. */
#ifndef H8S_PROCESS_H
#define H8S_PROCESS_H
#include "agent.h"

typedef struct procspec {
  char *argv[1025];
  char *envp[1025];
  const char *cwd;
  const char *user;
  bool tty, is_init;
  uint32_t in_id, out_id, err_id;
  int rows, cols;
} procspec;

process *find_process(container *c, const char *exec_id);
process *new_process(void);
void free_process(process *p);
/* Runs a helper (busybox) to completion; its output (bounded) goes to err. The exit code, or
 * -1 when it could not be started. */
int run_helper(char *const argv[], char *err, size_t errlen);
/* fork(), retried a few times (about 30 ms in all) while it fails with EAGAIN. */
pid_t fork_retrying(void);
/* Child side, first thing after the agent's fork: drop what only the agent may keep (its
 * oom_score_adj of -1000). */
void child_leave_agent(void);
/* c's cgroup.procs opened for writing (close-on-exec), or -1. */
int open_cgroup_procs(container *c);
/* Child side: moves the calling process into the cgroup of procs_fd (then closes it). */
void child_join_cgroup(int procs_fd, int efd);
int parse_procspec(jnode *p, procspec *ps, char *err, size_t errlen);

/* Child side: report a setup error to the agent on efd and exit with docker's code. */
void child_fail(int efd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
/* In the container's new mount namespace: build its view and enter it (chroot). */
void container_enter(container *c, int efd);
/* Sets up stdio, user, environment and working directory, then execs; never returns. */
void child_exec(process *p, procspec *ps, int efd, int in_fd, int out_fd, int err_fd, int slave_fd) __attribute__((noreturn));

void op_start(uint32_t id, jnode *r, bool is_exec);
void op_signal(uint32_t id, jnode *r);
void op_resize(uint32_t id, jnode *r);

#endif
