/* Shared state of the guest agent (PID 1). Single-threaded: one epoll loop owns everything. */
#ifndef H8S_AGENT_H
#define H8S_AGENT_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "json.h"
#include "proto.h"

#define MAX_STREAMS 1024
#define MAX_PROCESSES 512
#define MAX_CONTAINERS 64
#define MAX_MOUNTS 32
#define MAX_EVENTS 4096
#define MAX_PENDING 64
#define ID_MAX 80

/* epoll tags: high 32 bits kind, low 32 bits index */
#define TAG_PORT 1u
#define TAG_SIGNAL 2u
#define TAG_STREAM 3u
#define TAG_OOM 4u
#define TAG_PSI 5u

struct process;

typedef struct stream {
  bool used;
  bool out; /* guest -> host */
  uint32_t id;
  int fd;
  struct process *proc;
  uint32_t epoll_events; /* what is registered now (0 = not registered) */
  bool registered;
  /* out: ring of H8_OUT_WINDOW bytes holding [base, end) */
  uint8_t *buf;
  uint64_t base, sent, end;
  bool eof, close_sent, orphan;
  uint64_t dropped;
  /* in: bytes received from the host not yet written to fd */
  uint64_t in_recv, in_written, in_acked;
  bool in_closed, ack_pending;
  size_t round; /* last round-robin turn */
} stream;

typedef struct mountspec {
  char path[512];  /* inside the container */
  char source[72]; /* device serial (block), file volume id (files), emptyDir name */
  char sub[256];    /* files: a path inside the volume to bind instead of its root ("" = all) */
  char type[12];    /* block | tmpfs | files | emptyDir */
  bool readonly;
} mountspec;

typedef struct container {
  bool used;
  char id[ID_MAX];
  char rootdir[160];
  char lowerdir[160]; /* erofs roots: the read-only lower layer */
  char dev[32];
  char cgroup[160];
  char hostname[65];
  int state; /* 0 created, 1 running, 2 exited */
  struct process *init;
  int mntns_fd;
  int exit_code;
  bool readonly_root;
  mountspec mounts[MAX_MOUNTS];
  int nmounts;
  /* terminationMessagePath inside the container ("" = none); the file bound there is
   * /run/h8s/c/<id>/termination-log, read when the container's main process exits */
  char term_path[256];
  char term_file[240];
  int oom_fd;
  int64_t oom_kills;
  /* oom_kill count when the last exit was classified: the OOM event may be handled (and
   * oom_kills advanced) before the killed process's exit is, so exits compare with this. */
  int64_t oom_kills_at_exit;
  /* memory.pressure trigger: a container stuck reclaiming at its limit is killed as OOM */
  int psi_fd;
  int psi_strikes;
  int64_t psi_first_ms;
  bool psi_killed;
  int64_t memory_max, pids_max, cpu_quota, cpu_period;
  /* Prepared in a pooled VM (prepareContainer): a process already in the container's cgroup,
   * namespaces and root, waiting for its process spec on pre_sock; pre_epipe reports its exec
   * (EOF) or a start error. pre_pid 0: not prepared; -1: the prepared process died. */
  pid_t pre_pid;
  int pre_sock;
  int pre_epipe;
} container;

typedef struct process {
  bool used;
  container *c;
  char exec_id[ID_MAX]; /* "" for the container's init */
  pid_t pid;
  int tty_fd; /* master, for resize; -1 without tty */
  stream *sin, *sout, *serr;
  int sock_fd; /* port-forward connections: the TCP socket */
  bool exited, exit_queued;
  int status;
  char errmsg[256];
  int errcode; /* 125/126/127 when the process could not be started */
  bool is_forward;
} process;

typedef struct event {
  uint64_t seq;
  char *json;
  size_t len;
} event;

typedef struct pending {
  bool used;
  uint32_t req_id;
  char *payload;
  size_t len;
  int64_t deadline_ms;
} pending;

/* global state (main.c) */
extern int g_epfd;
extern int g_port_fd;
extern pid_t g_podinit;
extern char g_boot_id[40];
extern container g_containers[MAX_CONTAINERS];
extern process g_procs[MAX_PROCESSES];
extern stream g_streams[MAX_STREAMS];

int64_t now_ms(void);
int64_t mono_ms(void);
/* Timestamped step log on the console when booted with h8s.trace (profiling pod starts). */
extern bool g_trace;
void tracek(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void logk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* channel.c: framing, streams, events */
void chan_init(void);
void chan_on_port_event(uint32_t events);
void chan_poll_reconnect(void);
bool chan_connected(void);
void chan_flush(void);
void chan_respond_ok(uint32_t id, const char *json_fields); /* fields without braces, may be "" */
void chan_respond_err(uint32_t id, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void chan_event(const char *json, size_t len);
stream *stream_new(uint32_t id, bool out, int fd, process *p);
stream *stream_find(uint32_t id);
void stream_free(stream *s);
void stream_update_poll(stream *s);
void stream_on_fd(stream *s, uint32_t events);
void streams_progress(void);
uint64_t events_last_seq(void);
void chan_misbehave(const char *mode);

/* pod.c: requests */
void pod_init(void);
void pod_handle_request(uint32_t id, const char *payload, size_t len, bool retry);
void pod_retry_pending(void);
bool pod_has_pending(void);
void pod_on_sigchld(void);
void pod_on_oom_fd(int idx);
void pod_on_psi_fd(int idx);
void pod_hello_state(jwriter *w);
void pod_progress(void);
void pod_orphan_process(process *p);
void pod_shutdown(void);
extern bool g_shutdown_requested;

#endif
