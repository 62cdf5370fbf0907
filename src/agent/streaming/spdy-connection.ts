/**
 * The server side of a SPDY/3.1 connection as Kubernetes uses it (apimachinery's
 * httpstream/spdy over spdystream): the client opens every stream; we answer each SYN_STREAM
 * with a SYN_REPLY (the client waits for it), carry DATA both ways, half-close with FIN, answer
 * pings, and end with GOAWAY. Each stream is a Node Duplex.
 *
 * Frames are handled strictly in order (a header block must be inflated before the DATA that
 * follows it is routed). A stream whose reader falls behind pauses the whole connection, as
 * TCP would; spdystream has no per-stream flow control either.
 */
import { Duplex } from 'node:stream';
import { describeError, type Logger } from '../../lib/index.js';
import {
  SpdyFrameReader,
  SpdyHeaderReader,
  SpdyHeaderWriter,
  controlType,
  encodeControlFrame,
  encodeDataFrame,
  flagFin,
  maxDataBytes,
  rstStatus,
  type SpdyFrame,
  type SpdyHeaders,
} from './spdy-frames.js';

/** One stream the client opened. */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  readonly #conn: SpdyServerConnection;
  #isReplied = false;
  #isRemoteEnded = false;

  constructor(conn: SpdyServerConnection, id: number, headers: SpdyHeaders) {
    super({ allowHalfOpen: true });
    this.#conn = conn;
    this.id = id;
    this.headers = headers;
  }

  /** Sends the SYN_REPLY (idempotent); the client's CreateStream waits for it. */
  reply(): void {
    if (this.#isReplied) return;
    this.#isReplied = true;
    this.#conn.sendReply(this.id);
  }

  /** Data from the client (called by the connection). */
  receive(data: Buffer, isFin: boolean): void {
    if (this.#isRemoteEnded) return;
    if (data.length > 0 && !this.push(data)) this.#conn.pauseReading();
    if (isFin) {
      this.#isRemoteEnded = true;
      this.push(null);
    }
  }

  /** The client reset the stream or the connection went away. */
  abort(): void {
    this.#isRemoteEnded = true;
    this.destroy();
  }

  override _read(): void {
    this.#conn.resumeReading();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.reply();
    this.#conn.sendData(this.id, chunk, false, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.reply();
    this.#conn.sendData(this.id, Buffer.alloc(0), true, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Ended by us and by the client: nothing to reset.
    if (!(this.#isRemoteEnded && this.writableFinished)) this.#conn.sendReset(this.id);
    this.#conn.forget(this.id);
    callback(error);
  }
}

export interface SpdyServerConnectionOptions {
  readonly log: Logger;
  /** Called for every stream the client opens, after its headers are decoded. */
  readonly onStream: (stream: SpdyStream) => void;
}

export class SpdyServerConnection {
  readonly #socket: Duplex;
  readonly #log: Logger;
  readonly #onStream: (stream: SpdyStream) => void;
  readonly #frames = new SpdyFrameReader();
  readonly #headerReader = new SpdyHeaderReader();
  readonly #headerWriter = new SpdyHeaderWriter();
  readonly #streams = new Map<number, SpdyStream>();
  #queue: Promise<void> = Promise.resolve();
  #lastStreamId = 0;
  #isClosed = false;
  readonly #closed: Promise<void>;

  constructor(socket: Duplex, options: SpdyServerConnectionOptions) {
    this.#socket = socket;
    this.#log = options.log;
    this.#onStream = options.onStream;
    let done!: () => void;
    this.#closed = new Promise<void>((r) => (done = r));
    socket.on('data', (chunk: Buffer) => {
      let frames: SpdyFrame[];
      try {
        frames = this.#frames.push(chunk);
      } catch (err) {
        this.#log.info('Closed a SPDY connection', { error: describeError(err) });
        this.close();
        return;
      }
      for (const f of frames) this.#queue = this.#queue.then(() => this.#handle(f));
    });
    socket.on('error', (err) => this.#log.debug('SPDY connection error', { error: describeError(err) }));
    socket.on('close', () => {
      this.#isClosed = true;
      this.#headerReader.close();
      for (const s of [...this.#streams.values()]) s.abort();
      done();
    });
  }

  /** Resolves once the underlying connection has closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Says GOAWAY and closes the connection once what was written has been sent. */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    const goAway = Buffer.alloc(8);
    goAway.writeUInt32BE(this.#lastStreamId, 0);
    this.#write(encodeControlFrame(controlType.goAway, 0, goAway));
    this.#socket.end();
    for (const s of [...this.#streams.values()]) s.abort();
  }

  pauseReading(): void {
    this.#socket.pause();
  }

  resumeReading(): void {
    this.#socket.resume();
  }

  sendReply(streamId: number): void {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(streamId);
    this.#write(
      encodeControlFrame(controlType.synReply, 0, Buffer.concat([id, this.#headerWriter.encode({})])),
    );
  }

  sendData(streamId: number, data: Buffer, isFin: boolean, callback: (err?: Error | null) => void): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) {
      callback(new Error('The SPDY connection is closed'));
      return;
    }
    let at = 0;
    do {
      const piece = data.subarray(at, at + maxDataBytes);
      at += piece.length;
      const isLast = at >= data.length;
      const frame = encodeDataFrame(streamId, isLast && isFin ? flagFin : 0, piece);
      if (isLast) this.#socket.write(frame, (err) => callback(err ?? null));
      else this.#socket.write(frame);
    } while (at < data.length);
  }

  sendReset(streamId: number): void {
    const body = Buffer.alloc(8);
    body.writeUInt32BE(streamId, 0);
    body.writeUInt32BE(rstStatus.cancel, 4);
    this.#write(encodeControlFrame(controlType.rstStream, 0, body));
  }

  forget(streamId: number): void {
    this.#streams.delete(streamId);
  }

  #write(frame: Buffer): void {
    if (!this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.write(frame);
  }

  async #handle(f: SpdyFrame): Promise<void> {
    if (this.#isClosed) return;
    if (!f.isControl) {
      const s = this.#streams.get(f.streamId);
      if (s) s.receive(f.data, (f.flags & flagFin) !== 0);
      return;
    }
    switch (f.type) {
      case controlType.synStream: {
        if (f.payload.length < 10) return this.#fail('a SYN_STREAM is too short');
        const id = f.payload.readUInt32BE(0) & 0x7fffffff;
        let headers: Record<string, string>;
        try {
          headers = await this.#headerReader.decode(f.payload.subarray(10));
        } catch (err) {
          return this.#fail(describeError(err));
        }
        if (id % 2 !== 1 || id <= this.#lastStreamId) return this.#fail(`stream id ${id} is out of order`);
        this.#lastStreamId = id;
        this.#log.debug('SPDY stream opened', { id, headers });
        const stream = new SpdyStream(this, id, headers);
        this.#streams.set(id, stream);
        if ((f.flags & flagFin) !== 0) stream.receive(Buffer.alloc(0), true);
        this.#onStream(stream);
        return;
      }
      case controlType.rstStream: {
        if (f.payload.length < 8) return;
        this.#streams.get(f.payload.readUInt32BE(0) & 0x7fffffff)?.abort();
        return;
      }
      case controlType.ping:
        // A ping from the client (odd id) is echoed back.
        this.#write(encodeControlFrame(controlType.ping, 0, f.payload));
        return;
      case controlType.goAway:
        this.close();
        return;
      case controlType.synReply:
      case controlType.headers:
        if (f.payload.length >= 4) await this.#headerReader.decode(f.payload.subarray(4)).catch(() => ({}));
        return;
      default:
        // SETTINGS, WINDOW_UPDATE and unknown control frames: nothing to do.
        return;
    }
  }

  #fail(message: string): void {
    this.#log.info('Closed a SPDY connection', { error: message });
    this.close();
  }
}
