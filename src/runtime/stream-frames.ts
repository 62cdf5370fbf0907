/**
 * The framed channel protocol of the runtime's streams (exec, attach, logs, port-forward), used
 * both on the daemon's upgraded HTTP connections and on the runc shim's attach socket.
 *
 * A frame is `u8 channel | u32 big-endian length | payload`. Channels follow the Kubernetes
 * v5.channel.k8s.io numbering where it has one: 0 stdin, 1 stdout, 2 stderr, 3 status (JSON:
 * `{ exitCode }` or `{ error: { code, message } }`), 4 resize (JSON `{ width, height }` on the
 * daemon's connections, 4 binary bytes on the shim socket), 255 close (payload: the channel
 * being half-closed, e.g. `[0]` = stdin EOF). The runc shim adds 5 hello and 6 reopen-log.
 *
 * Frames are capped at `maxFramePayloadBytes`; a larger length is a protocol error, so a peer
 * cannot make us buffer without bound.
 */
import { badRequest } from '../lib/index.js';

export const channel = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  status: 3,
  resize: 4,
  hello: 5,
  reopenLog: 6,
  /** A CRI log line (logs streams): the line exactly as stored on disk, without its newline. */
  logLine: 7,
  close: 255,
} as const;

export const maxFramePayloadBytes = 64 * 1024;
const headerBytes = 5;

export interface Frame {
  readonly channel: number;
  readonly payload: Buffer;
}

/** Encodes one frame. Payloads larger than the cap must be split by the caller (`encodeData`). */
export function encodeFrame(ch: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(headerBytes + payload.length);
  out.writeUInt8(ch, 0);
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, headerBytes);
  return out;
}

/** Encodes data of any size as one or more frames on `ch`. */
export function encodeData(ch: number, data: Uint8Array): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < data.length; off += maxFramePayloadBytes) {
    frames.push(encodeFrame(ch, data.subarray(off, Math.min(data.length, off + maxFramePayloadBytes))));
  }
  return frames;
}

export function encodeJsonFrame(ch: number, value: unknown): Buffer {
  return encodeFrame(ch, Buffer.from(JSON.stringify(value), 'utf8'));
}

/** Incremental decoder: feed it chunks, get whole frames. */
export class FrameDecoder {
  #buf: Buffer = Buffer.alloc(0);
  readonly #maxPayload: number;

  constructor(maxPayload = maxFramePayloadBytes) {
    this.#maxPayload = maxPayload;
  }

  /** @throws BadRequest when a frame announces more than the cap. */
  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const frames: Frame[] = [];
    let off = 0;
    while (this.#buf.length - off >= headerBytes) {
      const len = this.#buf.readUInt32BE(off + 1);
      if (len > this.#maxPayload) {
        throw badRequest(`Stream frame of ${len} bytes is over the limit of ${this.#maxPayload} bytes`);
      }
      if (this.#buf.length - off < headerBytes + len) break;
      const ch = this.#buf.readUInt8(off);
      frames.push({
        channel: ch,
        payload: Buffer.from(this.#buf.subarray(off + headerBytes, off + headerBytes + len)),
      });
      off += headerBytes + len;
    }
    this.#buf = off === this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(off));
    return frames;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.#buf.length;
  }
}
