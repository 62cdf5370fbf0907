/**
 * SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 with the 3.1 additions), as much as the
 * Kubernetes streaming protocols use: kubectl and the API server speak it through Go's
 * spdystream, which opens streams (SYN_STREAM), expects a SYN_REPLY for each, sends DATA with
 * FIN for half-close, and pings. spdystream does no flow control, so WINDOW_UPDATE and SETTINGS
 * are read and ignored.
 *
 * Header blocks are zlib streams (one per direction per connection) primed with the SPDY
 * dictionary. We decompress the peer's with a real inflater; ours are written as stored
 * (uncompressed) deflate blocks of one zlib stream, which every inflater reads and which
 * needs no asynchronous compressor.
 */
import { constants as zlibConstants, createInflate, type Inflate } from 'node:zlib';
import { H8sError } from '../../lib/index.js';
import { spdyHeaderDictionary } from './spdy-dictionary.js';

export const spdyVersion = 3;

export const controlType = {
  synStream: 1,
  synReply: 2,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goAway: 7,
  headers: 8,
  windowUpdate: 9,
} as const;

export const flagFin = 0x01;

/** RST_STREAM status codes. */
export const rstStatus = { protocolError: 1, invalidStream: 2, refusedStream: 3, cancel: 5 } as const;

/** A frame's payload is at most 16 MiB - 1; we refuse frames above this (a peer gone wrong). */
const maxFrameBytes = 1 << 20;
/** Our DATA frames carry at most this much. */
export const maxDataBytes = 32 * 1024;

export type SpdyFrame =
  | { readonly isControl: false; readonly streamId: number; readonly flags: number; readonly data: Buffer }
  | { readonly isControl: true; readonly type: number; readonly flags: number; readonly payload: Buffer };

function protocolError(message: string): H8sError {
  return new H8sError('BadRequest', `SPDY protocol error: ${message}`);
}

/** Cuts a byte stream into frames. */
export class SpdyFrameReader {
  #buffer: Buffer = Buffer.alloc(0);

  /** @throws BadRequest on a frame we cannot read (wrong version, too large). */
  push(chunk: Buffer): SpdyFrame[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const frames: SpdyFrame[] = [];
    while (this.#buffer.length >= 8) {
      const b = this.#buffer;
      const length = b.readUIntBE(5, 3);
      if (length > maxFrameBytes) throw protocolError(`a frame of ${length} bytes is too large`);
      if (b.length < 8 + length) break;
      const flags = b[4] as number;
      const body = b.subarray(8, 8 + length);
      if (((b[0] as number) & 0x80) !== 0) {
        const version = b.readUInt16BE(0) & 0x7fff;
        if (version !== spdyVersion) throw protocolError(`version ${version} is not 3`);
        frames.push({ isControl: true, type: b.readUInt16BE(2), flags, payload: body });
      } else {
        frames.push({ isControl: false, streamId: b.readUInt32BE(0) & 0x7fffffff, flags, data: body });
      }
      this.#buffer = b.subarray(8 + length);
    }
    return frames;
  }
}

export function encodeControlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | spdyVersion, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(payload.length, 4);
  head[4] = flags;
  return Buffer.concat([head, payload]);
}

export function encodeDataFrame(streamId: number, flags: number, data: Uint8Array): Buffer {
  const frame = Buffer.alloc(8 + data.length);
  frame.writeUInt32BE(streamId & 0x7fffffff, 0);
  frame.writeUInt32BE(data.length, 4);
  frame[4] = flags;
  frame.set(data, 8);
  return frame;
}

/** Header names as SPDY carries them (lowercase); a repeated value joined by NUL on the wire. */
export type SpdyHeaders = Readonly<Record<string, string>>;

function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(4);
  count.writeUInt32BE(Object.keys(headers).length);
  parts.push(count);
  for (const [name, value] of Object.entries(headers)) {
    for (const s of [name.toLowerCase(), value]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

function decodeHeaderBlock(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  let at = 0;
  const take = (): string => {
    if (at + 4 > block.length) throw protocolError('a header block is truncated');
    const len = block.readUInt32BE(at);
    at += 4;
    if (at + len > block.length) throw protocolError('a header block is truncated');
    const s = block.toString('utf8', at, at + len);
    at += len;
    return s;
  };
  if (block.length < 4) throw protocolError('a header block is truncated');
  const count = block.readUInt32BE(0);
  at = 4;
  if (count > 1000) throw protocolError(`a header block of ${count} headers is too large`);
  for (let i = 0; i < count; i++) {
    const name = take().toLowerCase();
    // Several values travel NUL-separated; the protocols here use the first.
    headers[name] = take().split('\0')[0] ?? '';
  }
  return headers;
}

/**
 * Our side's header compressor: one zlib stream of stored blocks. The first block carries the
 * zlib header (deflate, 32 KiB window, no preset dictionary needed for stored data).
 */
export class SpdyHeaderWriter {
  #isStarted = false;

  encode(headers: SpdyHeaders): Buffer {
    const raw = encodeHeaderBlock(headers);
    const parts: Buffer[] = [];
    if (!this.#isStarted) {
      this.#isStarted = true;
      parts.push(Buffer.from([0x78, 0x01]));
    }
    for (let at = 0; at < raw.length; at += 0xffff) {
      const piece = raw.subarray(at, at + 0xffff);
      const head = Buffer.alloc(5);
      head[0] = 0; // BFINAL=0, BTYPE=00 (stored); we are byte-aligned after every stored block
      head.writeUInt16LE(piece.length, 1);
      head.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(head, piece);
    }
    // An empty stored block ends the block as zlib's sync flush does: inflaters (Go's among
    // them) hand out a stored block's bytes only when they see the block after it.
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/** The peer's header decompressor: one inflater for the connection, blocks decoded in order. */
export class SpdyHeaderReader {
  readonly #inflate: Inflate = createInflate({ dictionary: spdyHeaderDictionary });
  #chain: Promise<unknown> = Promise.resolve();
  #error: Error | undefined;
  /** Fails the block being decoded (a zlib error ends the inflater; no flush callback follows). */
  #failCurrent: ((err: Error) => void) | undefined;

  constructor() {
    this.#inflate.on('error', (err: Error) => {
      this.#error = err;
      this.#failCurrent?.(err);
    });
  }

  /** Decodes the next header block. @throws BadRequest when it is not valid. */
  decode(compressed: Buffer): Promise<Record<string, string>> {
    const next = this.#chain.then(
      () =>
        new Promise<Record<string, string>>((resolve, reject) => {
          const fail = (err: Error): void => {
            this.#failCurrent = undefined;
            reject(protocolError(`bad header compression: ${err.message}`));
          };
          if (this.#error) return fail(this.#error);
          const out: Buffer[] = [];
          const onData = (c: Buffer): void => {
            out.push(c);
          };
          this.#failCurrent = (err) => {
            this.#inflate.off('data', onData);
            fail(err);
          };
          this.#inflate.on('data', onData);
          this.#inflate.write(compressed);
          this.#inflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
            this.#inflate.off('data', onData);
            if (this.#error) return fail(this.#error);
            this.#failCurrent = undefined;
            try {
              resolve(decodeHeaderBlock(Buffer.concat(out)));
            } catch (err) {
              reject(err as Error);
            }
          });
        }),
    );
    // The chain only orders the blocks; each caller sees its own block's failure.
    this.#chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.#inflate.destroy();
  }
}
