/*
 * The host–guest protocol, version 1 (docs/adr/0002-guest-protocol.md). Mirrors
 * src/runtime/hyper/protocol.ts; change both together.
 *
 * Every frame: 24-byte header, big-endian, then `len` payload bytes.
 *   0  u16 magic 0x4838 ("H8")
 *   2  u8  kind
 *   3  u8  flags (0)
 *   4  u32 id      request id (REQUEST/RESPONSE) or stream id (DATA/WINDOW/CLOSE)
 *   8  u64 aux     byte offset (DATA/WINDOW/CLOSE) or event sequence (EVENT/EVENT_ACK)
 *  16  u32 len     payload length
 *  20  u32 reserved (0)
 */
#ifndef H8S_PROTO_H
#define H8S_PROTO_H

#define H8_MAGIC 0x4838u
#define H8_HEADER_BYTES 24u
#define H8_PROTOCOL_VERSION 1

#define K_HELLO 1     /* g->h JSON: version, capabilities, state; answers CONNECT */
#define K_CONNECT 2   /* h->g JSON: lastEventSeq, streams [{id, acked}] */
#define K_REQUEST 3   /* h->g JSON {op, ...} */
#define K_RESPONSE 4  /* g->h JSON {ok, ...} | {ok:false, code, message} */
#define K_EVENT 5     /* g->h JSON, aux = sequence (1, 2, ...) */
#define K_EVENT_ACK 6 /* h->g aux = highest sequence the host has persisted */
#define K_DATA 7      /* both: raw bytes of stream `id` starting at offset `aux` */
#define K_WINDOW 8    /* both: receiver consumed stream `id` up to offset `aux` */
#define K_CLOSE 9     /* both: sender's half of stream `id` ends at offset `aux` */

/* Limits both sides enforce. */
#define H8_MAX_HOST_PAYLOAD (256u * 1024u)  /* h->g frames */
#define H8_MAX_GUEST_PAYLOAD (64u * 1024u)  /* g->h frames */
#define H8_OUT_WINDOW (128u * 1024u)        /* unacknowledged bytes per guest output stream */
#define H8_IN_WINDOW (64u * 1024u)          /* unconsumed bytes per host->guest (stdin) stream */
#define H8_DATA_CHUNK (32u * 1024u)

#endif
