/**
 * The host side of the host–guest protocol, version 1 (docs/adr/0002-guest-protocol.md;
 * mirrors guest/agent/proto.h). Framing and the schemas of everything the guest sends.
 *
 * Frame: 24-byte big-endian header, then `len` payload bytes:
 *   u16 magic 0x4838 | u8 kind | u8 flags (0) | u32 id | u64 aux | u32 len | u32 reserved (0)
 * `id` is a request id (REQUEST/RESPONSE) or a stream id (DATA/WINDOW/CLOSE); `aux` is a byte
 * offset (DATA/WINDOW/CLOSE) or an event sequence (EVENT/EVENT_ACK).
 *
 * The guest is hostile: `GuestFrameDecoder` enforces the size limit before buffering a
 * payload, and every JSON payload goes through a schema (`parseWith`) before use.
 */
import { Type, type Static } from '@sinclair/typebox';
import { invalid, parseJson, parseWith } from '../../lib/index.js';

export const protocolVersion = 1;
export const frameMagic = 0x4838;
export const headerBytes = 24;

export const frameKind = {
  hello: 1,
  connect: 2,
  request: 3,
  response: 4,
  event: 5,
  eventAck: 6,
  data: 7,
  window: 8,
  close: 9,
} as const;
export type FrameKind = (typeof frameKind)[keyof typeof frameKind];

/** Largest payload the host sends (the guest rejects more). */
export const maxHostPayloadBytes = 256 * 1024;
/** Largest payload the guest may send; anything bigger is a protocol violation. */
export const maxGuestPayloadBytes = 64 * 1024;
/** Bytes the guest may send on one output stream beyond what the host acknowledged. */
export const outWindowBytes = 128 * 1024;
/** Bytes the host may send on one input stream beyond what the guest consumed. */
export const inWindowBytes = 64 * 1024;

export interface Frame {
  readonly kind: FrameKind;
  readonly id: number;
  readonly aux: bigint;
  readonly payload: Buffer;
}

/** Encodes one frame. */
export function encodeFrame(kind: FrameKind, id: number, aux: bigint | number, payload?: Uint8Array): Buffer {
  const len = payload?.length ?? 0;
  if (len > maxHostPayloadBytes)
    throw invalid(`Frame payload of ${len} bytes exceeds ${maxHostPayloadBytes}`);
  const buf = Buffer.allocUnsafe(headerBytes + len);
  buf.writeUInt16BE(frameMagic, 0);
  buf.writeUInt8(kind, 2);
  buf.writeUInt8(0, 3);
  buf.writeUInt32BE(id >>> 0, 4);
  buf.writeBigUInt64BE(BigInt(aux), 8);
  buf.writeUInt32BE(len, 16);
  buf.writeUInt32BE(0, 20);
  if (payload && len) Buffer.from(payload.buffer, payload.byteOffset, len).copy(buf, headerBytes);
  return buf;
}

export function encodeJson(kind: FrameKind, id: number, aux: bigint | number, value: unknown): Buffer {
  return encodeFrame(kind, id, aux, Buffer.from(JSON.stringify(value), 'utf8'));
}

/** A framing error from the guest: the channel must be closed. */
export class ProtocolViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

/**
 * Splits the guest's byte stream into frames. After every (re)connection it starts in sync
 * mode and skips bytes until a HELLO header (stale bytes from an earlier connection may come
 * first). After that any malformed header is a violation. Buffered bytes never exceed one
 * maximal frame.
 */
export class GuestFrameDecoder {
  #buf: Buffer = Buffer.alloc(0);
  #sync = true;
  #skipped = 0;

  /** Bytes discarded while looking for HELLO since the last reset. */
  get skippedBytes(): number {
    return this.#skipped;
  }

  /** Back to sync mode (the host sent CONNECT: the guest answers with HELLO). */
  reset(): void {
    this.#buf = Buffer.alloc(0);
    this.#sync = true;
    this.#skipped = 0;
  }

  /** Feeds bytes; returns complete frames. @throws ProtocolViolation */
  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const frames: Frame[] = [];
    let off = 0;
    const buf = this.#buf;
    while (buf.length - off >= headerBytes) {
      if (this.#sync) {
        if (!isHelloHeader(buf, off)) {
          off++;
          this.#skipped++;
          if (this.#skipped > 4 * 1024 * 1024) {
            throw new ProtocolViolation('No HELLO frame within 4 MiB of guest output');
          }
          continue;
        }
      } else {
        checkHeader(buf, off);
      }
      const len = buf.readUInt32BE(off + 16);
      if (buf.length - off < headerBytes + len) break;
      const kind = buf.readUInt8(off + 2) as FrameKind;
      frames.push({
        kind,
        id: buf.readUInt32BE(off + 4),
        aux: buf.readBigUInt64BE(off + 8),
        payload: Buffer.from(buf.subarray(off + headerBytes, off + headerBytes + len)),
      });
      off += headerBytes + len;
      this.#sync = false;
    }
    this.#buf = off === 0 ? buf : Buffer.from(buf.subarray(off));
    return frames;
  }
}

function isHelloHeader(buf: Buffer, off: number): boolean {
  return (
    buf.readUInt16BE(off) === frameMagic &&
    buf.readUInt8(off + 2) === frameKind.hello &&
    buf.readUInt8(off + 3) === 0 &&
    buf.readUInt32BE(off + 4) === 0 &&
    buf.readUInt32BE(off + 16) <= maxGuestPayloadBytes &&
    buf.readUInt32BE(off + 20) === 0
  );
}

function checkHeader(buf: Buffer, off: number): void {
  const magic = buf.readUInt16BE(off);
  if (magic !== frameMagic) throw new ProtocolViolation(`Bad frame magic 0x${magic.toString(16)}`);
  const kind = buf.readUInt8(off + 2);
  if (
    kind !== frameKind.hello &&
    kind !== frameKind.response &&
    kind !== frameKind.event &&
    kind !== frameKind.data &&
    kind !== frameKind.window &&
    kind !== frameKind.close
  ) {
    throw new ProtocolViolation(`Frame kind ${kind} is not one a guest may send`);
  }
  if (buf.readUInt8(off + 3) !== 0 || buf.readUInt32BE(off + 20) !== 0) {
    throw new ProtocolViolation('Reserved frame header bits are set');
  }
  const len = buf.readUInt32BE(off + 16);
  if (len > maxGuestPayloadBytes) {
    throw new ProtocolViolation(`Frame payload of ${len} bytes exceeds ${maxGuestPayloadBytes}`);
  }
}

// ---- schemas of guest messages ----

const Str = (max: number) => Type.String({ maxLength: max });

export const HelloSchema = Type.Object({
  version: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  agent: Str(64),
  kernelRelease: Str(128),
  bootId: Str(64),
  capabilities: Type.Array(Str(64), { maxItems: 64 }),
  outWindowBytes: Type.Integer({ minimum: 4096, maximum: 16 * 1024 * 1024 }),
  inWindowBytes: Type.Integer({ minimum: 4096, maximum: 16 * 1024 * 1024 }),
  maxHostPayloadBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024 }),
  lastEventSeq: Type.Integer({ minimum: 0 }),
  podReady: Type.Optional(Type.Boolean()),
  truncated: Type.Optional(Type.Boolean()),
  containers: Type.Optional(
    Type.Array(
      Type.Object({
        id: Str(80),
        state: Type.Union([Type.Literal('created'), Type.Literal('running'), Type.Literal('exited')]),
        exitCode: Type.Optional(Type.Integer()),
      }),
      { maxItems: 256 },
    ),
  ),
  execs: Type.Optional(
    Type.Array(Type.Object({ container: Str(80), execId: Str(80), exited: Type.Boolean() }), {
      maxItems: 1024,
    }),
  ),
});
export type Hello = Static<typeof HelloSchema>;

export const ResponseSchema = Type.Union([
  Type.Object({ ok: Type.Literal(true) }, { additionalProperties: true }),
  Type.Object({ ok: Type.Literal(false), code: Str(64), message: Str(2048) }),
]);
export type AgentResponse = Static<typeof ResponseSchema>;

export const ExitEventSchema = Type.Object({
  type: Type.Literal('exit'),
  container: Str(80),
  execId: Str(80),
  exitCode: Type.Integer({ minimum: 0, maximum: 1000 }),
  signal: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
  oomKilled: Type.Boolean(),
  startErrorCode: Type.Optional(Type.Integer()),
  startError: Type.Optional(Str(1024)),
  droppedBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The container's terminationMessagePath file, at most 4,096 bytes (JSON-escaped here). */
  terminationMessage: Type.Optional(Str(6 * 4096)),
  finishedAtMs: Type.Integer({ minimum: 0 }),
});
export const OomEventSchema = Type.Object({
  type: Type.Literal('oom'),
  container: Str(80),
  oomKills: Type.Integer({ minimum: 0 }),
});
export const EventSchema = Type.Union([ExitEventSchema, OomEventSchema]);
export type AgentEvent = Static<typeof EventSchema>;
export type ExitEvent = Static<typeof ExitEventSchema>;

/** Parses a JSON payload from the guest against a schema. @throws ProtocolViolation */
export function parseGuestJson<T extends Parameters<typeof parseWith>[0]>(
  schema: T,
  payload: Buffer,
  what: string,
): Static<T> {
  try {
    return parseWith(schema, parseJson(payload.toString('utf8'), what), what);
  } catch (err) {
    throw new ProtocolViolation((err as Error).message);
  }
}
