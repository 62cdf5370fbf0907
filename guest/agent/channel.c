/* The guest side of the host–guest protocol (proto.h): framing, resynchronisation after the
 * host reconnects, numbered events kept until acknowledged, and stdio streams with per-stream
 * credit. Nothing a host (or a process) sends can make this code allocate without bound:
 * host frames are capped at H8_MAX_HOST_PAYLOAD, each output stream holds at most
 * H8_OUT_WINDOW unacknowledged bytes, each input stream at most H8_IN_WINDOW. */
#include "agent.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/utsname.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <fcntl.h>

/* ---- receive side ---- */
static uint8_t rxbuf[H8_HEADER_BYTES + H8_MAX_HOST_PAYLOAD];
static size_t rxlen;
static bool rx_sync = true;    /* scanning for a CONNECT frame */
static bool link_ready;        /* CONNECT received on this connection */
static bool port_registered;
static bool disconnected = true;

/* ---- transmit side ---- */
#define TXBUF (128u * 1024u)
static uint8_t txbuf[TXBUF];
static size_t txlen, txoff;
static bool tx_blocked;

typedef struct ctl {
  struct ctl *next;
  size_t len;
  uint8_t data[];
} ctl;
static ctl *ctl_head, *ctl_tail;
static size_t ctl_bytes;

static event events[MAX_EVENTS];
static size_t nevents;      /* unacknowledged events, oldest first */
static size_t ev_next_send; /* index into events of the next to send */
static uint64_t ev_seq;     /* last sequence issued */

static size_t rr_cursor;

static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put_be64(uint8_t *p, uint64_t v) { put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v); }
static uint32_t get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t get_be64(const uint8_t *p) { return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4); }

static void header(uint8_t *h, uint8_t kind, uint32_t id, uint64_t aux, uint32_t len) {
  put_be16(h, H8_MAGIC);
  h[2] = kind;
  h[3] = 0;
  put_be32(h + 4, id);
  put_be64(h + 8, aux);
  put_be32(h + 16, len);
  put_be32(h + 20, 0);
}

bool chan_connected(void) { return link_ready && !disconnected; }

static void ctl_push(uint8_t kind, uint32_t id, uint64_t aux, const void *payload, size_t len) {
  if (len > H8_MAX_GUEST_PAYLOAD) {
    /* Our own message is too large: say so instead of sending a frame the host must reject. */
    static const char msg[] = "{\"ok\":false,\"code\":\"InternalError\",\"message\":\"Response too large\"}";
    if (kind != K_RESPONSE) { logk("dropping oversized frame kind %u", kind); return; }
    payload = msg;
    len = sizeof msg - 1;
  }
  ctl *c = malloc(sizeof *c + H8_HEADER_BYTES + len);
  if (!c) { logk("out of memory queueing a frame"); return; }
  header(c->data, kind, id, aux, (uint32_t)len);
  if (len) memcpy(c->data + H8_HEADER_BYTES, payload, len);
  c->len = H8_HEADER_BYTES + len;
  c->next = NULL;
  if (ctl_tail) ctl_tail->next = c; else ctl_head = c;
  ctl_tail = c;
  ctl_bytes += c->len;
}

static void ctl_clear(void) {
  while (ctl_head) {
    ctl *n = ctl_head->next;
    free(ctl_head);
    ctl_head = n;
  }
  ctl_tail = NULL;
  ctl_bytes = 0;
}

void chan_respond_ok(uint32_t id, const char *fields) {
  if (!chan_connected()) return; /* the request died with its connection */
  char small[512];
  size_t fl = fields ? strlen(fields) : 0;
  char *buf = fl + 16 <= sizeof small ? small : malloc(fl + 16);
  if (!buf) return;
  int n = snprintf(buf, fl + 16, "{\"ok\":true%s%s}", fl ? "," : "", fl ? fields : "");
  ctl_push(K_RESPONSE, id, 0, buf, (size_t)n);
  if (buf != small) free(buf);
}

void chan_respond_err(uint32_t id, const char *code, const char *fmt, ...) {
  if (!chan_connected()) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  jwriter w;
  jw_init(&w, 4096);
  jw_begin_obj(&w);
  jw_bool(&w, "ok", false);
  jw_str(&w, "code", code);
  jw_str(&w, "message", msg);
  jw_end_obj(&w);
  if (!w.failed) ctl_push(K_RESPONSE, id, 0, w.buf, w.len);
  jw_free(&w);
}

uint64_t events_last_seq(void) { return ev_seq; }

void chan_event(const char *json, size_t len) {
  if (nevents >= MAX_EVENTS) {
    /* The host has not acknowledged 4096 events: it is gone or broken. Keep the newest by
     * dropping the oldest, and count it in the next HELLO (never silently). */
    free(events[0].json);
    memmove(events, events + 1, (nevents - 1) * sizeof *events);
    nevents--;
    if (ev_next_send) ev_next_send--;
    logk("event queue full; dropped the oldest unacknowledged event");
  }
  char *copy = malloc(len);
  if (!copy) { logk("out of memory queueing an event"); return; }
  memcpy(copy, json, len);
  events[nevents].seq = ++ev_seq;
  events[nevents].json = copy;
  events[nevents].len = len;
  nevents++;
}

static void events_ack(uint64_t seq) {
  size_t drop = 0;
  while (drop < nevents && events[drop].seq <= seq) {
    free(events[drop].json);
    drop++;
  }
  if (!drop) return;
  memmove(events, events + drop, (nevents - drop) * sizeof *events);
  nevents -= drop;
  ev_next_send = ev_next_send > drop ? ev_next_send - drop : 0;
}

/* ---- streams ---- */

stream *stream_find(uint32_t id) {
  if (!id) return NULL;
  for (int i = 0; i < MAX_STREAMS; i++)
    if (g_streams[i].used && g_streams[i].id == id) return &g_streams[i];
  return NULL;
}

stream *stream_new(uint32_t id, bool out, int fd, process *p) {
  if (!id || stream_find(id)) return NULL;
  for (int i = 0; i < MAX_STREAMS; i++) {
    stream *s = &g_streams[i];
    if (s->used) continue;
    memset(s, 0, sizeof *s);
    if (out) {
      s->buf = malloc(H8_OUT_WINDOW);
      if (!s->buf) return NULL;
    }
    s->used = true;
    s->id = id;
    s->out = out;
    s->fd = fd;
    s->proc = p;
    stream_update_poll(s);
    return s;
  }
  return NULL;
}

static void stream_close_fd(stream *s) {
  if (s->fd < 0) return;
  /* Port-forward stdin: the half-close must reach the peer even though the socket has a dup. */
  if (!s->out && s->proc && s->proc->is_forward) shutdown(s->fd, SHUT_WR);
  if (s->registered) epoll_ctl(g_epfd, EPOLL_CTL_DEL, s->fd, NULL);
  s->registered = false;
  s->epoll_events = 0;
  close(s->fd);
  s->fd = -1;
}

void stream_free(stream *s) {
  if (!s || !s->used) return;
  stream_close_fd(s);
  free(s->buf);
  if (s->proc) {
    if (s->proc->sin == s) s->proc->sin = NULL;
    if (s->proc->sout == s) s->proc->sout = NULL;
    if (s->proc->serr == s) s->proc->serr = NULL;
  }
  memset(s, 0, sizeof *s);
  s->fd = -1;
}

static size_t in_pending(const stream *s) { return (size_t)(s->in_recv - s->in_written); }

/* Registers interest: out streams read while their window has room; in streams write while
 * bytes are pending. Level-triggered, so interest is dropped when there is nothing to do. */
void stream_update_poll(stream *s) {
  if (s->fd < 0) return;
  uint32_t want = 0;
  if (s->out) {
    if (!s->eof && (s->orphan || s->end - s->base < H8_OUT_WINDOW)) want = EPOLLIN;
  } else {
    if (in_pending(s) > 0) want = EPOLLOUT;
  }
  if (s->registered && want == s->epoll_events) return;
  struct epoll_event ev = { .events = want, .data.u64 = ((uint64_t)TAG_STREAM << 32) | (uint64_t)(s - g_streams) };
  if (!s->registered) {
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, s->fd, &ev) == 0) s->registered = true;
    else if (errno == EPERM) {
      /* Regular files (/dev/null redirections) cannot be polled: treat as always ready. */
      s->registered = false;
    }
  } else {
    epoll_ctl(g_epfd, EPOLL_CTL_MOD, s->fd, &ev);
  }
  s->epoll_events = want;
}

static void out_read(stream *s) {
  uint8_t tmp[H8_DATA_CHUNK];
  for (int rounds = 0; rounds < 4 && !s->eof; rounds++) {
    size_t room = s->orphan ? sizeof tmp : H8_OUT_WINDOW - (size_t)(s->end - s->base);
    if (room == 0) break;
    if (room > sizeof tmp) room = sizeof tmp;
    ssize_t n = read(s->fd, tmp, room);
    if (n > 0) {
      if (s->orphan) { s->dropped += (uint64_t)n; continue; }
      for (ssize_t i = 0; i < n;) {
        size_t pos = (size_t)(s->end % H8_OUT_WINDOW);
        size_t chunk = H8_OUT_WINDOW - pos;
        if (chunk > (size_t)(n - i)) chunk = (size_t)(n - i);
        memcpy(s->buf + pos, tmp + i, chunk);
        s->end += chunk;
        i += (ssize_t)chunk;
      }
      continue;
    }
    if (n == 0 || (n < 0 && errno == EIO)) { s->eof = true; break; } /* EIO: pty slave closed */
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      /* The process is gone and its pipe is empty: what it wrote has all been read. */
      if (s->proc && s->proc->exited) s->eof = true;
      break;
    }
    s->eof = true;
    break;
  }
  if (s->eof) stream_close_fd(s);
  else stream_update_poll(s);
}

static void in_write(stream *s) {
  /* in streams keep their bytes in `buf` too (allocated lazily, H8_IN_WINDOW ring) */
  while (in_pending(s) > 0 && s->fd >= 0) {
    size_t pos = (size_t)(s->in_written % H8_IN_WINDOW);
    size_t chunk = H8_IN_WINDOW - pos;
    if (chunk > in_pending(s)) chunk = in_pending(s);
    ssize_t n = write(s->fd, s->buf + pos, chunk);
    if (n > 0) { s->in_written += (uint64_t)n; s->ack_pending = true; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    /* EPIPE: the reader is gone; discard what is left but keep acknowledging it. */
    s->in_written = s->in_recv;
    s->ack_pending = true;
    stream_close_fd(s);
    break;
  }
  if (s->in_closed && in_pending(s) == 0) stream_close_fd(s);
  else stream_update_poll(s);
}

void stream_on_fd(stream *s, uint32_t ev) {
  (void)ev;
  if (!s->used || s->fd < 0) return;
  if (s->out) out_read(s);
  else in_write(s);
}

static void host_data(uint32_t id, uint64_t off, const uint8_t *p, size_t len) {
  stream *s = stream_find(id);
  if (!s || s->out) return; /* stdin of a process that is gone: nothing to do */
  if (!s->buf) {
    s->buf = malloc(H8_IN_WINDOW);
    if (!s->buf) return;
  }
  if (s->in_closed) return;
  /* Skip bytes we already have (a resend after reconnect). */
  if (off + len <= s->in_recv) return;
  if (off > s->in_recv) { logk("stdin stream %u: gap at %llu", id, (unsigned long long)off); return; }
  size_t skip = (size_t)(s->in_recv - off);
  p += skip;
  len -= skip;
  size_t room = H8_IN_WINDOW - in_pending(s);
  if (len > room) {
    logk("stdin stream %u: host exceeded its window", id);
    len = room; /* the host will resend from our acknowledged offset */
  }
  for (size_t i = 0; i < len;) {
    size_t pos = (size_t)(s->in_recv % H8_IN_WINDOW);
    size_t chunk = H8_IN_WINDOW - pos;
    if (chunk > len - i) chunk = len - i;
    memcpy(s->buf + pos, p + i, chunk);
    s->in_recv += chunk;
    i += chunk;
  }
  if (s->fd < 0) { s->in_written = s->in_recv; s->ack_pending = true; return; }
  in_write(s);
}

/* ---- transmit scheduling ---- */

static bool tx_room(size_t n) { return txlen + n <= TXBUF; }

static void tx_frame(uint8_t kind, uint32_t id, uint64_t aux, const void *payload, size_t len) {
  header(txbuf + txlen, kind, id, aux, (uint32_t)len);
  if (len) memcpy(txbuf + txlen + H8_HEADER_BYTES, payload, len);
  txlen += H8_HEADER_BYTES + len;
}

/* Fills txbuf with whole frames: control frames first, then events, acknowledgements and
 * stream data, one chunk per stream per round so no stream can starve another. */
static void tx_fill(void) {
  if (!chan_connected()) return;
  while (ctl_head && tx_room(ctl_head->len)) {
    ctl *c = ctl_head;
    memcpy(txbuf + txlen, c->data, c->len);
    txlen += c->len;
    ctl_head = c->next;
    if (!ctl_head) ctl_tail = NULL;
    ctl_bytes -= c->len;
    free(c);
  }
  if (ctl_head) return;
  while (ev_next_send < nevents && tx_room(H8_HEADER_BYTES + events[ev_next_send].len)) {
    event *e = &events[ev_next_send++];
    tx_frame(K_EVENT, 0, e->seq, e->json, e->len);
  }
  for (int i = 0; i < MAX_STREAMS; i++) {
    stream *s = &g_streams[i];
    if (s->used && !s->out && s->ack_pending && tx_room(H8_HEADER_BYTES)) {
      tx_frame(K_WINDOW, s->id, s->in_written, NULL, 0);
      s->ack_pending = false;
    }
  }
  for (int pass = 0; pass < 8; pass++) {
    bool any = false;
    for (int k = 0; k < MAX_STREAMS; k++) {
      size_t i = (rr_cursor + (size_t)k) % MAX_STREAMS;
      stream *s = &g_streams[i];
      if (!s->used || !s->out || s->orphan) continue;
      if (s->sent < s->end) {
        size_t n = (size_t)(s->end - s->sent);
        if (n > H8_DATA_CHUNK) n = H8_DATA_CHUNK;
        size_t pos = (size_t)(s->sent % H8_OUT_WINDOW);
        if (n > H8_OUT_WINDOW - pos) n = H8_OUT_WINDOW - pos;
        if (!tx_room(H8_HEADER_BYTES + n)) { rr_cursor = i; return; }
        tx_frame(K_DATA, s->id, s->sent, s->buf + pos, n);
        s->sent += n;
        any = true;
      } else if (s->eof && !s->close_sent) {
        if (!tx_room(H8_HEADER_BYTES)) { rr_cursor = i; return; }
        tx_frame(K_CLOSE, s->id, s->end, NULL, 0);
        s->close_sent = true;
        any = true;
      }
    }
    rr_cursor = (rr_cursor + 1) % MAX_STREAMS;
    if (!any) break;
  }
}

static void port_interest(void) {
  if (g_port_fd < 0 || disconnected) return;
  struct epoll_event ev = { .events = EPOLLIN | (tx_blocked ? EPOLLOUT : 0), .data.u64 = (uint64_t)TAG_PORT << 32 };
  if (!port_registered) {
    if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_port_fd, &ev) == 0) port_registered = true;
  } else {
    epoll_ctl(g_epfd, EPOLL_CTL_MOD, g_port_fd, &ev);
  }
}

static void go_disconnected(void) {
  if (port_registered) epoll_ctl(g_epfd, EPOLL_CTL_DEL, g_port_fd, NULL);
  port_registered = false;
  disconnected = true;
  link_ready = false;
  rx_sync = true;
  rxlen = 0;
  txlen = txoff = 0;
  tx_blocked = false;
  ctl_clear();
}

void chan_flush(void) {
  if (!chan_connected()) return;
  for (int guard = 0; guard < 64; guard++) {
    if (txoff == txlen) {
      txoff = txlen = 0;
      tx_fill();
      if (txlen == 0) break;
    }
    ssize_t n = write(g_port_fd, txbuf + txoff, txlen - txoff);
    if (n > 0) { txoff += (size_t)n; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      /* The host is slow or gone; virtio-serial blocks writes while it is disconnected. */
      if (!tx_blocked) { tx_blocked = true; port_interest(); }
      return;
    }
    go_disconnected();
    return;
  }
  if (tx_blocked) { tx_blocked = false; port_interest(); }
}

/* ---- connection (re)establishment ---- */

static void send_hello(void) {
  struct utsname u;
  uname(&u);
  jwriter w;
  jw_init(&w, H8_MAX_GUEST_PAYLOAD);
  jw_begin_obj(&w);
  jw_int(&w, "version", H8_PROTOCOL_VERSION);
  jw_str(&w, "agent", "h8s-agent/1");
  jw_str(&w, "kernelRelease", u.release);
  jw_str(&w, "bootId", g_boot_id);
  jw_begin_arr(&w, "capabilities");
  const char *caps[] = { "exec", "tty", "signals", "resize", "oom-events", "volumes", "port-forward",
                         "cgroup2", "stream-resume", "meminfo" };
  for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) jw_str(&w, NULL, caps[i]);
  jw_end_arr(&w);
  jw_int(&w, "outWindowBytes", H8_OUT_WINDOW);
  jw_int(&w, "inWindowBytes", H8_IN_WINDOW);
  jw_int(&w, "maxHostPayloadBytes", H8_MAX_HOST_PAYLOAD);
  jw_int(&w, "lastEventSeq", (int64_t)ev_seq);
  pod_hello_state(&w);
  jw_end_obj(&w);
  if (w.failed) {
    /* Too much state to describe: send the essentials. */
    jw_free(&w);
    jw_init(&w, 4096);
    jw_begin_obj(&w);
    jw_int(&w, "version", H8_PROTOCOL_VERSION);
    jw_str(&w, "agent", "h8s-agent/1");
    jw_str(&w, "kernelRelease", u.release);
    jw_str(&w, "bootId", g_boot_id);
    jw_begin_arr(&w, "capabilities");
    jw_end_arr(&w);
    jw_int(&w, "outWindowBytes", H8_OUT_WINDOW);
    jw_int(&w, "inWindowBytes", H8_IN_WINDOW);
    jw_int(&w, "maxHostPayloadBytes", H8_MAX_HOST_PAYLOAD);
    jw_int(&w, "lastEventSeq", (int64_t)ev_seq);
    jw_bool(&w, "truncated", true);
    jw_end_obj(&w);
  }
  ctl_push(K_HELLO, 0, 0, w.buf, w.len);
  jw_free(&w);
}

/* ---- per-VM identity (docs/hyper-runtime.md "VM templating") ----
 * A VM restored from a template starts with the template's kernel RNG state, clock and (if it
 * had been read) boot id. Every CONNECT from the host carries fresh random bytes and the host's
 * time: the bytes are credited to the kernel's input pool and the CRNG is reseeded at once (so
 * /dev/urandom, getrandom() and the per-CPU batches all diverge from every other clone), and
 * the wall clock is set. In a template (kernel flag h8s.template) the kernel's boot id is not
 * generated until such a CONNECT has arrived: the kernel creates it lazily on first read, so
 * each clone gets its own. The template builder's own CONNECT carries no entropy. */
extern bool g_template_mode;
void agent_boot_id(void);
bool g_template_mode;

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool identity_applied;

/* From <linux/random.h> (musl ships no kernel headers). */
#ifndef RNDADDENTROPY
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#endif
#ifndef RNDRESEEDCRNG
#define RNDRESEEDCRNG _IO('R', 0x07)
#endif
struct h8s_rand_pool { int entropy_count; int buf_size; uint32_t buf[128]; };

static void apply_identity(const jnode *r) {
  const char *hex = jstr(r, "entropy", NULL);
  if (!hex) return;
  size_t n = strlen(hex);
  if (n < 64 || n > 1024 || n % 2) { logk("CONNECT: entropy must be 32 to 512 bytes of hex"); return; }
  struct h8s_rand_pool rp;
  memset(&rp, 0, sizeof rp);
  uint8_t *bytes = (uint8_t *)rp.buf;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) { logk("CONNECT: entropy is not hex"); return; }
    bytes[i] = (uint8_t)(hi << 4 | lo);
  }
  rp.buf_size = (int)(n / 2);
  rp.entropy_count = (int)(n / 2 * 8);
  int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
  if (fd < 0) fd = open("/dev/random", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    if (ioctl(fd, RNDADDENTROPY, &rp) < 0) logk("RNDADDENTROPY: %s", strerror(errno));
    /* Mixing into the input pool is not enough: the CRNG keeps its key until the next reseed. */
    if (ioctl(fd, RNDRESEEDCRNG) < 0) logk("RNDRESEEDCRNG: %s", strerror(errno));
    close(fd);
  } else {
    logk("open /dev/urandom: %s", strerror(errno));
  }
  explicit_bzero(&rp, sizeof rp);
  bool ok = true;
  int64_t host_ms = jint(r, "hostTimeMs", 0, 0, INT64_MAX, &ok);
  if (ok && host_ms > 0) {
    int64_t diff = host_ms - now_ms();
    if (diff > 100 || diff < -100) {
      struct timespec ts = { .tv_sec = host_ms / 1000, .tv_nsec = (long)(host_ms % 1000) * 1000000L };
      if (clock_settime(CLOCK_REALTIME, &ts) < 0) logk("clock_settime: %s", strerror(errno));
    }
  }
  identity_applied = true;
}

/* The template builder's CONNECT (template mode, no entropy): drop clean caches, compact, then
 * fault in and release all but 16 MiB of the free memory. The kernel zeroes each page it hands
 * to an anonymous mapping, so afterwards the guest's free pages hold zeros, and the host turns
 * the zero pages of the template's RAM file into holes (fallocate --dig-holes): the template
 * keeps only the memory the guest kernel uses. */
static void template_prepare(void) {
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) { ssize_t w = write(fd, "3", 1); (void)w; close(fd); }
  fd = open("/proc/sys/vm/compact_memory", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) { ssize_t w = write(fd, "1", 1); (void)w; close(fd); }
  char buf[4096];
  long free_kib = -1;
  fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
      buf[n] = 0;
      char *m = strstr(buf, "MemFree:");
      if (m) free_kib = strtol(m + 8, NULL, 10);
    }
  }
  enum { CHUNK = 1 << 20, MAX_CHUNKS = 4096 };
  static void *chunks[MAX_CHUNKS];
  long want = free_kib / 1024 - 16;
  int got = 0;
  for (; got < want && got < MAX_CHUNKS; got++) {
    void *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) break;
    chunks[got] = p;
  }
  for (int i = 0; i < got; i++) munmap(chunks[i], CHUNK);
  tracek("template: zeroed %d MiB of free memory", got);
}

void agent_boot_id(void) {
  if (g_boot_id[0]) return;
  if (g_template_mode && !identity_applied) return;
  int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, g_boot_id, sizeof g_boot_id - 1);
    close(fd);
    if (n > 0) g_boot_id[strcspn(g_boot_id, "\n")] = 0;
    else g_boot_id[0] = 0;
  }
}

static jarena g_arena;

static void on_connect(const uint8_t *payload, size_t len) {
  jnode *r = json_parse(&g_arena, (const char *)payload, len);
  if (!r || r->type != J_OBJ) { logk("CONNECT: bad payload (%s)", g_arena.error ? g_arena.error : "not an object"); return; }
  /* New connection: whatever was in flight on the old one is void. */
  txlen = txoff = 0;
  tx_blocked = false;
  ctl_clear();
  link_ready = true;
  bool ok = true;
  apply_identity(r);
  if (g_template_mode && !identity_applied) template_prepare();
  agent_boot_id();
  uint64_t last = (uint64_t)jint(r, "lastEventSeq", 0, 0, INT64_MAX, &ok);
  events_ack(last);
  ev_next_send = 0;
  /* Streams the host wants resumed, with what it has consumed. */
  static bool listed[MAX_STREAMS];
  memset(listed, 0, sizeof listed);
  jnode *arr = jarr(r, "streams");
  for (jnode *e = arr ? arr->child : NULL; e; e = e->next) {
    uint32_t id = (uint32_t)jint(e, "id", 0, 1, UINT32_MAX, &ok);
    uint64_t acked = (uint64_t)jint(e, "acked", 0, 0, INT64_MAX, &ok);
    stream *s = stream_find(id);
    if (!s) continue;
    listed[s - g_streams] = true;
    if (s->out) {
      if (acked > s->end) acked = s->end;
      if (acked > s->base) s->base = acked;
      s->sent = s->base;
      s->close_sent = false;
    } else {
      s->ack_pending = true; /* tell the host where to resume stdin */
    }
    stream_update_poll(s);
  }
  for (int i = 0; i < MAX_STREAMS; i++) {
    stream *s = &g_streams[i];
    if (!s->used || listed[i]) continue;
    /* Nobody on the host side reads this stream any more. */
    if (s->proc) pod_orphan_process(s->proc);
    if (!s->used) continue;
    if (s->out) {
      s->orphan = true;
      s->dropped += s->end - s->base;
      s->base = s->sent = s->end;
      stream_update_poll(s);
    } else {
      stream_free(s);
    }
  }
  send_hello();
}

static void on_frame(uint8_t kind, uint32_t id, uint64_t aux, const uint8_t *p, size_t len) {
  switch (kind) {
  case K_CONNECT: on_connect(p, len); break;
  case K_REQUEST: if (link_ready) pod_handle_request(id, (const char *)p, len, false); break;
  case K_EVENT_ACK: if (link_ready) events_ack(aux); break;
  case K_DATA: if (link_ready) host_data(id, aux, p, len); break;
  case K_WINDOW: {
    if (!link_ready) break;
    stream *s = stream_find(id);
    if (!s || !s->out) break;
    if (aux > s->sent) { logk("stream %u: acknowledged beyond what was sent", id); aux = s->sent; }
    if (aux > s->base) s->base = aux;
    if (s->eof && s->close_sent && s->base == s->end) {
      process *proc = s->proc;
      stream_free(s);
      (void)proc;
    } else {
      stream_update_poll(s);
    }
    break;
  }
  case K_CLOSE: {
    if (!link_ready) break;
    stream *s = stream_find(id);
    if (!s || s->out) break;
    s->in_closed = true;
    if (in_pending(s) == 0) stream_close_fd(s);
    break;
  }
  default: break; /* unknown kinds from a newer host are ignored */
  }
}

static bool header_ok(const uint8_t *h) {
  return h[0] == (H8_MAGIC >> 8) && h[1] == (H8_MAGIC & 0xff) && h[2] >= K_HELLO && h[2] <= K_CLOSE && h[3] == 0 &&
         get_be32(h + 16) <= H8_MAX_HOST_PAYLOAD && get_be32(h + 20) == 0;
}

static void rx_parse(void) {
  size_t off = 0;
  while (rxlen - off >= H8_HEADER_BYTES) {
    uint8_t *h = rxbuf + off;
    if (rx_sync) {
      /* Scan for a CONNECT header (what a host sends first on every connection). */
      if (!(header_ok(h) && h[2] == K_CONNECT && get_be32(h + 16) <= 64 * 1024)) { off++; continue; }
    } else if (!header_ok(h)) {
      logk("bad frame header from host; resynchronising");
      rx_sync = true;
      continue;
    }
    uint32_t len = get_be32(h + 16);
    if (rxlen - off < H8_HEADER_BYTES + len) break;
    if (rx_sync) {
      jnode *r = json_parse(&g_arena, (const char *)h + H8_HEADER_BYTES, len);
      if (!r || r->type != J_OBJ) { off++; continue; }
      rx_sync = false;
    }
    on_frame(h[2], get_be32(h + 4), get_be64(h + 8), h + H8_HEADER_BYTES, len);
    off += H8_HEADER_BYTES + len;
  }
  if (off) {
    memmove(rxbuf, rxbuf + off, rxlen - off);
    rxlen -= off;
  }
}

void chan_on_port_event(uint32_t ev) {
  if (ev & EPOLLIN) {
    for (int rounds = 0; rounds < 16; rounds++) {
      if (rxlen == sizeof rxbuf) {
        /* Only possible while scanning garbage: drop the oldest half. */
        memmove(rxbuf, rxbuf + sizeof rxbuf / 2, sizeof rxbuf / 2);
        rxlen = sizeof rxbuf / 2;
        rx_sync = true;
      }
      ssize_t n = read(g_port_fd, rxbuf + rxlen, sizeof rxbuf - rxlen);
      if (n > 0) {
        rxlen += (size_t)n;
        rx_parse();
        continue;
      }
      if (n == 0) { go_disconnected(); return; } /* virtio-serial: host side closed */
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      go_disconnected();
      return;
    }
  }
  if ((ev & EPOLLHUP) && !(ev & EPOLLIN)) { go_disconnected(); return; }
  if (ev & EPOLLOUT) chan_flush();
}

/* While the host is disconnected the port reports POLLHUP continuously, so it is not kept in
 * the epoll set; the main loop calls this every few milliseconds instead. */
void chan_poll_reconnect(void) {
  if (!disconnected || g_port_fd < 0) return;
  struct pollfd p = { .fd = g_port_fd, .events = POLLIN | POLLOUT };
  if (poll(&p, 1, 0) < 0) return;
  if (p.revents & POLLHUP) return;
  disconnected = false;
  rx_sync = true;
  rxlen = 0;
  port_interest();
  if (p.revents & POLLIN) chan_on_port_event(EPOLLIN);
}

void chan_init(void) {
  disconnected = true;
  chan_poll_reconnect();
}

/* Test mode (docs/hyper-runtime.md): the agent misbehaves on purpose so the host's defences
 * can be tested against a real guest. */
void chan_misbehave(const char *mode) {
  uint8_t junk[512];
  if (strcmp(mode, "garbage") == 0) {
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    if (tx_room(sizeof junk)) { memcpy(txbuf + txlen, junk, sizeof junk); txlen += sizeof junk; }
  } else if (strcmp(mode, "oversize") == 0) {
    if (tx_room(H8_HEADER_BYTES)) {
      header(txbuf + txlen, K_EVENT, 0, ev_seq + 1, 0x7fffffff);
      txlen += H8_HEADER_BYTES;
    }
  } else if (strcmp(mode, "badjson") == 0) {
    static const char bad[] = "{\"type\":\"exit\",";
    if (tx_room(H8_HEADER_BYTES + sizeof bad)) tx_frame(K_EVENT, 0, ev_seq + 1, bad, sizeof bad - 1);
  } else if (strcmp(mode, "unknown-stream") == 0) {
    if (tx_room(H8_HEADER_BYTES + 4)) tx_frame(K_DATA, 0x7ffffff0u, 0, "oops", 4);
  }
}

void streams_progress(void) {
  /* Streams whose fd cannot be polled (regular files) are read here. */
  for (int i = 0; i < MAX_STREAMS; i++) {
    stream *s = &g_streams[i];
    if (s->used && s->fd >= 0 && !s->registered) stream_on_fd(s, EPOLLIN | EPOLLOUT);
  }
}
