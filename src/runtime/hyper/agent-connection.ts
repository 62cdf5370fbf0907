/**
 * One connection to a VM's guest agent over its virtio-serial control socket: requests with
 * ids, numbered events acknowledged after the host has recorded them, and stdio streams with
 * per-stream credit (docs/adr/0002-guest-protocol.md).
 *
 * Invariants:
 * - Host memory per stream is bounded by the window: the host acknowledges output only after
 *   its sink has taken it (written to the log, or read by the exec client), and the guest
 *   never sends more than `outWindowBytes` beyond the acknowledged offset.
 * - Any malformed frame, schema mismatch or window violation closes the connection and calls
 *   `onViolation` once; it never throws into the caller's event loop.
 * - After a reconnection (daemon restart) the host says which streams it still reads and from
 *   which offset; the guest resends unacknowledged output and events.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import {
  H8sError,
  internal,
  systemClock,
  timeout as timeoutError,
  unavailable,
  type Clock,
  type ErrorCode,
  type Logger,
  type TimerHandle,
} from '../../lib/index.js';
import {
  EventSchema,
  GuestFrameDecoder,
  HelloSchema,
  ProtocolViolation,
  ResponseSchema,
  encodeFrame,
  encodeJson,
  frameKind,
  inWindowBytes,
  maxGuestPayloadBytes,
  outWindowBytes,
  parseGuestJson,
  protocolVersion,
  type AgentEvent,
  type Frame,
  type Hello,
} from './protocol.js';

/** Receives one guest output stream. `write` resolving means the bytes are consumed. */
export interface OutputSink {
  write(chunk: Buffer): void | Promise<void>;
  /** The guest closed the stream (all bytes delivered). */
  end(): void;
  /** The connection failed; the stream will not complete on this connection. */
  fail?(err: Error): void;
}

interface OutputState {
  readonly id: number;
  readonly sink: OutputSink;
  /** Next offset expected. */
  next: bigint;
  /** Offset acknowledged to the guest. */
  acked: bigint;
  /** Bytes received and not yet consumed by the sink. */
  inFlight: number;
  queue: Promise<void>;
  closedAt?: bigint;
  ended: boolean;
  /** True until the first DATA after a (re)connection: the guest may resume past `next`. */
  resumed: boolean;
  /** Nobody reads it any more: bytes are acknowledged and dropped. */
  discard: boolean;
}

interface InputState {
  readonly id: number;
  sent: bigint;
  acked: bigint;
  waiters: (() => void)[];
  closed: boolean;
  /** After a reconnection the guest's first WINDOW says where stdin resumes. */
  resumed: boolean;
}

export interface AgentConnectionOptions {
  readonly socketPath: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Highest event sequence the host has recorded (persisted by the caller). */
  readonly lastEventSeq: number;
  /** Output streams to resume after a reconnection, with the offsets the host has consumed. */
  readonly resumeStreams?: readonly { id: number; acked: number; sink: OutputSink }[];
  /** Input (stdin) streams to keep open across a reconnection. */
  readonly resumeInputs?: readonly number[];
  /** Called for each new event, in order; the event is acknowledged once it resolves. */
  onEvent(seq: number, event: AgentEvent): void | Promise<void>;
  /** The guest broke the protocol; the connection is already closed. */
  onViolation(reason: string): void;
  /** The socket closed (QEMU exited, or the VM is being stopped). */
  onClose?(): void;
  /**
   * Send fresh random bytes with every CONNECT (the agent credits them to the guest kernel's
   * RNG and reseeds it: VM templating, docs/hyper-runtime.md). Default true; false only for
   * the template builder, whose state every clone inherits.
   */
  readonly sendEntropy?: boolean;
}

export interface ConnectOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

const knownCodes: ReadonlySet<string> = new Set<ErrorCode>([
  'NotFound',
  'AlreadyExists',
  'Conflict',
  'Invalid',
  'BadRequest',
  'Forbidden',
  'Timeout',
  'TooManyRequests',
  'ServiceUnavailable',
  'InternalError',
]);

export class AgentConnection {
  readonly #opts: AgentConnectionOptions;
  readonly #clock: Clock;
  readonly #decoder = new GuestFrameDecoder();
  #socket: Socket | undefined;
  #hello: Hello | undefined;
  #helloWaiter: { resolve: (h: Hello) => void; reject: (e: Error) => void } | undefined;
  #nextRequestId = 1;
  readonly #pending = new Map<
    number,
    {
      resolve: (v: Record<string, unknown>) => void;
      reject: (e: Error) => void;
      timer: TimerHandle;
      op: string;
    }
  >();
  readonly #outputs = new Map<number, OutputState>();
  readonly #inputs = new Map<number, InputState>();
  #lastEventSeq: number;
  #eventChain: Promise<void> = Promise.resolve();
  #closed = false;
  #closeReason: Error | undefined;

  private constructor(opts: AgentConnectionOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#lastEventSeq = opts.lastEventSeq;
    for (const r of opts.resumeStreams ?? []) this.#addOutput(r.id, r.sink, BigInt(r.acked));
    for (const id of opts.resumeInputs ?? []) {
      this.#inputs.set(id, { id, sent: 0n, acked: 0n, waiters: [], closed: false, resumed: true });
    }
  }

  /**
   * Connects (retrying while QEMU creates the socket), sends CONNECT and waits for the
   * guest's HELLO. @throws Timeout when the guest does not answer in time; ServiceUnavailable
   * when the socket cannot be reached; Invalid when the guest speaks another major version.
   */
  static async connect(opts: AgentConnectionOptions, c: ConnectOptions): Promise<AgentConnection> {
    const conn = new AgentConnection(opts);
    await conn.#open(c);
    return conn;
  }

  get hello(): Hello {
    if (!this.#hello) throw internal('Agent connection has no HELLO yet');
    return this.#hello;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get lastEventSeq(): number {
    return this.#lastEventSeq;
  }

  async #open(c: ConnectOptions): Promise<void> {
    const clock = this.#clock;
    const deadline = clock.monotonicMs() + c.timeoutMs;
    let delay = 5;
    let socket: Socket | undefined;
    let lastErr: unknown;
    while (!socket) {
      c.signal?.throwIfAborted();
      try {
        socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(this.#opts.socketPath);
          s.once('connect', () => {
            s.removeAllListeners('error');
            resolve(s);
          });
          s.once('error', reject);
        });
      } catch (err) {
        lastErr = err;
        if (clock.monotonicMs() + delay > deadline) {
          throw unavailable(`Cannot connect to the guest agent socket "${this.#opts.socketPath}"`, {
            cause: lastErr,
          });
        }
        await clock.sleep(delay, c.signal);
        delay = Math.min(100, delay * 2);
      }
    }
    this.#socket = socket;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) =>
      this.#shutdown(unavailable('Guest agent socket failed', { cause: err }), false),
    );
    socket.on('close', () => this.#shutdown(unavailable('Guest agent socket closed'), false));
    const helloPromise = new Promise<Hello>((resolve, reject) => {
      this.#helloWaiter = { resolve, reject };
    });
    // The guest may still be booting: resend CONNECT now and then until HELLO arrives.
    let resend: TimerHandle | undefined;
    const sendConnect = (): void => {
      if (this.#closed) return;
      this.#decoder.reset();
      for (const o of this.#outputs.values()) {
        o.resumed = true;
      }
      const streams = [
        ...[...this.#outputs.values()].map((o) => ({ id: o.id, acked: Number(o.acked) })),
        ...[...this.#inputs.values()].map((i) => ({ id: i.id, acked: 0 })),
      ];
      this.#write(
        encodeJson(frameKind.connect, 0, 0, {
          lastEventSeq: this.#lastEventSeq,
          streams,
          hostTimeMs: clock.now(),
          ...(this.#opts.sendEntropy === false ? {} : { entropy: randomBytes(32).toString('hex') }),
        }),
      );
      resend = clock.setTimeout(sendConnect, 5000);
    };
    sendConnect();
    const onAbort = (): void =>
      this.#shutdown(unavailable('Connecting to the guest agent was aborted'), false);
    c.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = clock.setTimeout(
      () => {
        this.#shutdown(timeoutError(`The guest agent did not answer within ${c.timeoutMs} ms`), false);
      },
      Math.max(1, deadline - clock.monotonicMs()),
    );
    try {
      this.#hello = await helloPromise;
    } finally {
      timer.cancel();
      resend?.cancel();
      c.signal?.removeEventListener('abort', onAbort);
    }
  }

  #write(buf: Buffer): void {
    if (this.#closed || !this.#socket) return;
    this.#socket.write(buf);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
      for (const f of frames) this.#onFrame(f);
    } catch (err) {
      this.#violation(err);
    }
  }

  #violation(err: unknown): void {
    if (this.#closed) return;
    const reason = err instanceof Error ? err.message : String(err);
    this.#shutdown(unavailable(`Guest agent broke the protocol: ${reason}`), true);
    this.#opts.onViolation(reason);
  }

  #onFrame(f: Frame): void {
    switch (f.kind) {
      case frameKind.hello: {
        const hello = parseGuestJson(HelloSchema, f.payload, 'guest HELLO');
        if (Math.floor(hello.version) !== protocolVersion) {
          throw new ProtocolViolation(
            `Guest speaks protocol version ${hello.version}, host ${protocolVersion}`,
          );
        }
        if (hello.outWindowBytes > outWindowBytes || hello.maxHostPayloadBytes < 4096) {
          throw new ProtocolViolation('Guest window sizes are out of range');
        }
        this.#hello = hello;
        const w = this.#helloWaiter;
        this.#helloWaiter = undefined;
        w?.resolve(hello);
        return;
      }
      case frameKind.response: {
        const p = this.#pending.get(f.id);
        if (!p) throw new ProtocolViolation(`Response to unknown request ${f.id}`);
        const body = parseGuestJson(ResponseSchema, f.payload, 'guest response');
        this.#pending.delete(f.id);
        p.timer.cancel();
        if (body.ok) p.resolve(body as Record<string, unknown>);
        else {
          const code = (knownCodes.has(body.code) ? body.code : 'InternalError') as ErrorCode;
          p.reject(new H8sError(code, `Guest agent refused "${p.op}": ${body.message}`));
        }
        return;
      }
      case frameKind.event: {
        const seq = Number(f.aux);
        if (!Number.isSafeInteger(seq) || seq <= 0)
          throw new ProtocolViolation('Event sequence out of range');
        const ev = parseGuestJson(EventSchema, f.payload, 'guest event');
        this.#eventChain = this.#eventChain.then(async () => {
          if (this.#closed) return;
          if (seq > this.#lastEventSeq) {
            try {
              await this.#opts.onEvent(seq, ev);
            } catch (err) {
              this.#opts.log.error('Cannot record guest event', { seq, err: err as Error });
              return; // not acknowledged: the guest resends it on the next connection
            }
            this.#lastEventSeq = seq;
          }
          this.#write(encodeFrame(frameKind.eventAck, 0, BigInt(this.#lastEventSeq)));
        });
        return;
      }
      case frameKind.data:
        this.#onStreamData(f);
        return;
      case frameKind.window: {
        const s = this.#inputs.get(f.id);
        if (!s) return; // a stdin stream the host already dropped
        if (s.resumed) {
          s.resumed = false;
          s.sent = f.aux;
          s.acked = f.aux;
        }
        if (f.aux > s.sent) throw new ProtocolViolation(`Stream ${f.id} acknowledged bytes never sent`);
        if (f.aux > s.acked) s.acked = f.aux;
        const w = s.waiters.splice(0);
        for (const fn of w) fn();
        return;
      }
      case frameKind.close: {
        const o = this.#outputs.get(f.id);
        if (!o) throw new ProtocolViolation(`Close of unknown stream ${f.id}`);
        if (f.aux < o.acked && !o.resumed)
          throw new ProtocolViolation(`Stream ${f.id} closed before its acknowledged end`);
        o.closedAt = f.aux;
        if (o.resumed && f.aux > o.next) {
          // everything up to here was consumed before a restart
          o.next = f.aux;
          o.acked = f.aux;
        }
        o.resumed = false;
        this.#maybeEnd(o);
        return;
      }
      default:
        throw new ProtocolViolation(`Unexpected frame kind ${f.kind as number}`);
    }
  }

  #onStreamData(f: Frame): void {
    const o = this.#outputs.get(f.id);
    if (!o) throw new ProtocolViolation(`Data for unknown stream ${f.id}`);
    if (o.closedAt !== undefined) throw new ProtocolViolation(`Data after close on stream ${f.id}`);
    let off = f.aux;
    let data = f.payload;
    if (o.resumed) {
      // First data after a reconnection: the guest resumes from its acknowledged offset,
      // which may be ahead of what we persisted (acknowledged but not yet saved).
      if (off > o.next) {
        o.next = off;
        o.acked = off;
      }
      o.resumed = false;
    }
    if (off > o.next) throw new ProtocolViolation(`Gap in stream ${f.id} at offset ${off}`);
    if (off < o.next) {
      const skip = Number(o.next - off);
      if (skip >= data.length) return; // a resend of bytes we have
      data = data.subarray(skip);
      off = o.next;
    }
    if (Number(o.next + BigInt(data.length) - o.acked) > outWindowBytes) {
      throw new ProtocolViolation(`Stream ${f.id} exceeded its window`);
    }
    o.next += BigInt(data.length);
    o.inFlight += data.length;
    const len = data.length;
    o.queue = o.queue.then(async () => {
      if (o.ended) return;
      try {
        if (!o.discard) await o.sink.write(data);
      } catch (err) {
        this.#opts.log.warn('Stream consumer failed', { stream: o.id, err: err as Error });
      }
      o.inFlight -= len;
      o.acked += BigInt(len);
      this.#write(encodeFrame(frameKind.window, o.id, o.acked));
      this.#maybeEnd(o);
    });
  }

  #maybeEnd(o: OutputState): void {
    if (o.ended || o.closedAt === undefined) return;
    void o.queue.then(() => {
      if (o.ended || o.closedAt === undefined || o.acked < o.closedAt) return;
      o.ended = true;
      this.#outputs.delete(o.id);
      // Acknowledge the close so the guest frees its buffer.
      this.#write(encodeFrame(frameKind.window, o.id, o.closedAt));
      if (!o.discard) o.sink.end();
    });
  }

  #addOutput(id: number, sink: OutputSink, acked: bigint): void {
    this.#outputs.set(id, {
      id,
      sink,
      next: acked,
      acked,
      inFlight: 0,
      queue: Promise.resolve(),
      ended: false,
      resumed: true,
      discard: false,
    });
  }

  /** Registers a guest output stream before the request that creates it. */
  openOutput(id: number, sink: OutputSink): void {
    if (this.#outputs.has(id)) throw internal(`Stream ${id} is already open`);
    this.#outputs.set(id, {
      id,
      sink,
      next: 0n,
      acked: 0n,
      inFlight: 0,
      queue: Promise.resolve(),
      ended: false,
      resumed: false,
      discard: false,
    });
  }

  /** Acknowledged offset of an output stream (what the host has consumed), for persistence. */
  outputOffset(id: number): number | undefined {
    const o = this.#outputs.get(id);
    return o ? Number(o.acked) : undefined;
  }

  /** Forgets an output stream (its consumer went away); later data for it is discarded. */
  dropOutput(id: number): void {
    const o = this.#outputs.get(id);
    // Keep acknowledging so the guest is never blocked on a stream nobody reads.
    if (o) o.discard = true;
  }

  /** Registers a host->guest (stdin) stream. */
  openInput(id: number): void {
    this.#inputs.set(id, { id, sent: 0n, acked: 0n, waiters: [], closed: false, resumed: false });
  }

  /** Sends bytes on an input stream, waiting for credit. @throws ServiceUnavailable when closed */
  async writeInput(id: number, data: Uint8Array): Promise<void> {
    const s = this.#inputs.get(id);
    if (!s || s.closed) throw unavailable(`Input stream ${id} is closed`);
    let off = 0;
    while (off < data.length) {
      if (this.#closed) throw this.#closeReason ?? unavailable('Guest agent connection closed');
      const credit = inWindowBytes - Number(s.sent - s.acked);
      if (credit <= 0) {
        await new Promise<void>((resolve) => s.waiters.push(resolve));
        continue;
      }
      const n = Math.min(credit, 32 * 1024, data.length - off);
      this.#write(encodeFrame(frameKind.data, id, s.sent, data.subarray(off, off + n)));
      s.sent += BigInt(n);
      off += n;
    }
  }

  /** Half-closes an input stream (EOF for the process). */
  closeInput(id: number): void {
    const s = this.#inputs.get(id);
    if (!s || s.closed) return;
    s.closed = true;
    this.#write(encodeFrame(frameKind.close, id, s.sent));
    this.#inputs.delete(id);
    for (const fn of s.waiters.splice(0)) fn();
  }

  /** Sends a request and waits for its response. @throws the guest's error code, Timeout, ServiceUnavailable */
  request(
    op: string,
    body: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    if (this.#closed)
      return Promise.reject(this.#closeReason ?? unavailable('Guest agent connection closed'));
    const id = this.#nextRequestId++;
    if (this.#nextRequestId > 0xfffffff0) this.#nextRequestId = 1;
    const payload = Buffer.from(JSON.stringify({ op, ...body }), 'utf8');
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(timeoutError(`Guest agent did not answer "${op}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, op });
      try {
        this.#write(encodeFrame(frameKind.request, id, 0, payload));
      } catch (err) {
        this.#pending.delete(id);
        timer.cancel();
        reject(err as Error);
      }
    });
  }

  /** Closes the connection (the VM keeps running). */
  close(): void {
    this.#shutdown(unavailable('Guest agent connection closed'), false);
  }

  #shutdown(reason: Error, violation: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#socket?.destroy();
    const w = this.#helloWaiter;
    this.#helloWaiter = undefined;
    w?.reject(reason);
    for (const p of this.#pending.values()) {
      p.timer.cancel();
      p.reject(reason);
    }
    this.#pending.clear();
    for (const s of this.#inputs.values()) for (const fn of s.waiters.splice(0)) fn();
    for (const o of this.#outputs.values()) if (!o.discard) o.sink.fail?.(reason);
    if (!violation) this.#opts.onClose?.();
  }
}

/** Exposed for tests: the largest payload a guest may send. */
export const guestPayloadLimit = maxGuestPayloadBytes;
