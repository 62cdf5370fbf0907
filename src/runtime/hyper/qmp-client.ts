/**
 * A minimal QMP (QEMU Machine Protocol) client over a unix socket: capabilities negotiation,
 * commands with ids, and events. QEMU is trusted more than the guest but its replies are
 * still parsed defensively (size-limited lines, JSON checked before use).
 */
import { connect, type Socket } from 'node:net';
import {
  internal,
  systemClock,
  timeout as timeoutError,
  unavailable,
  type Clock,
  type Logger,
} from '../../lib/index.js';

const maxLineBytes = 1024 * 1024;

export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

export class QmpClient {
  readonly #socket: Socket;
  readonly #clock: Clock;
  #buf = '';
  #nextId = 1;
  readonly #pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #eventListeners = new Set<(e: QmpEvent) => void>();
  #closed = false;
  #greeting: (() => void) | undefined;

  private constructor(socket: Socket, clock: Clock, _log: Logger) {
    this.#socket = socket;
    this.#clock = clock;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.#onData(d));
    socket.on('error', () => this.#close());
    socket.on('close', () => this.#close());
  }

  /**
   * Connects (QEMU creates the socket while it starts; retried until `timeoutMs`) and
   * negotiates capabilities. @throws ServiceUnavailable
   */
  static async connect(
    path: string,
    options: { timeoutMs: number; log: Logger; clock?: Clock; signal?: AbortSignal },
  ): Promise<QmpClient> {
    const clock = options.clock ?? systemClock;
    const deadline = clock.monotonicMs() + options.timeoutMs;
    let delay = 5;
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => {
            s.removeAllListeners('error');
            resolve(s);
          });
          s.once('error', reject);
        });
        const client = new QmpClient(socket, clock, options.log);
        await client.#waitGreeting(Math.max(100, deadline - clock.monotonicMs()));
        await client.execute('qmp_capabilities');
        return client;
      } catch (err) {
        if (clock.monotonicMs() + delay > deadline) {
          throw unavailable(`Cannot connect to QMP socket "${path}"`, { cause: err });
        }
        await clock.sleep(delay, options.signal);
        delay = Math.min(100, delay * 2);
      }
    }
  }

  #waitGreeting(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = this.#clock.setTimeout(() => reject(timeoutError('QMP greeting did not arrive')), ms);
      this.#greeting = () => {
        t.cancel();
        resolve();
      };
    });
  }

  #onData(d: string): void {
    this.#buf += d;
    if (this.#buf.length > maxLineBytes && !this.#buf.includes('\n')) {
      this.#close();
      return;
    }
    let nl: number;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl).trim();
      this.#buf = this.#buf.slice(nl + 1);
      if (!line) continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof msg !== 'object' || msg === null) continue;
      const m = msg as Record<string, unknown>;
      if ('QMP' in m) {
        const g = this.#greeting;
        this.#greeting = undefined;
        g?.();
      } else if (typeof m['event'] === 'string') {
        const ev: QmpEvent = {
          event: m['event'],
          data:
            typeof m['data'] === 'object' && m['data'] !== null ? (m['data'] as Record<string, unknown>) : {},
        };
        for (const l of this.#eventListeners) l(ev);
      } else if (typeof m['id'] === 'string') {
        const p = this.#pending.get(m['id']);
        if (!p) continue;
        this.#pending.delete(m['id']);
        if ('error' in m) {
          const e = m['error'] as { class?: string; desc?: string };
          p.reject(internal(`QEMU refused the command: ${String(e?.desc ?? 'unknown error')}`));
        } else {
          p.resolve(m['return']);
        }
      }
    }
  }

  /** Runs a QMP command. @throws InternalError with QEMU's description, Timeout, ServiceUnavailable */
  execute(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    if (this.#closed) return Promise.reject(unavailable('QMP connection is closed'));
    const id = `h8s-${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      const t = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(timeoutError(`QMP command "${command}" did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          t.cancel();
          resolve(v);
        },
        reject: (e) => {
          t.cancel();
          reject(e);
        },
      });
      this.#socket.write(
        JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n',
      );
    });
  }

  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Waits for an event matching `pred`. @throws Timeout */
  waitEvent(pred: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const off = this.onEvent((e) => {
        if (!pred(e)) return;
        off();
        t.cancel();
        resolve(e);
      });
      const t = this.#clock.setTimeout(() => {
        off();
        reject(timeoutError(`QEMU event did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    for (const p of this.#pending.values()) p.reject(unavailable('QMP connection closed'));
    this.#pending.clear();
  }

  close(): void {
    this.#close();
  }
}
