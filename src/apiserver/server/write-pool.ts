/**
 * A small pool of write worker threads (`write-worker.ts`) that take the CPU-heavy, stateless
 * part of creates off the event loop: JSON decode and the duplicate-key scan, unknown fields,
 * the schema check, defaults, validation, managedFields and the encoding of the stored bytes.
 * The event loop keeps HTTP/TLS, namespace admission, the store write and the response.
 *
 * Only the built-in kinds (`allKinds()`, which the worker loads itself) are offloaded. Until a
 * worker is ready, or when every worker is gone, `prepareCreate` returns undefined and the
 * caller does the work inline. A worker that dies or stops answering (`requestTimeoutMs`) fails
 * its requests with an InternalError (500) and is replaced, at most `maxRestarts` times a
 * minute; a bad body never takes a worker down (the worker answers with its Status error).
 */
import type { Worker } from 'node:worker_threads';
import { allKinds, type KindDefinition } from '../../api/index.js';
import { describeError, errorFromWire, internal, startWorkerThread, type Logger } from '../../lib/index.js';
import type { CreatePreparer, PreparedCreateReply } from '../endpoints/resource-handler.js';
import type { PrepareCreateRequest, WorkerReply, WorkerRequest } from './write-worker-protocol.js';

export interface WritePoolOptions {
  /** Worker threads (at least 1). */
  readonly size: number;
  readonly log: Logger;
  /** A worker that has not answered a request for this long is ended (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Workers started again per minute after failures, beyond which the pool shrinks (default 5). */
  readonly maxRestarts?: number;
}

type CreateInput = Omit<PrepareCreateRequest, 'id' | 'bodyEnd'> & { readonly body: Uint8Array };

interface Pending {
  readonly resolve: (r: PreparedCreateReply) => void;
  readonly reject: (e: Error) => void;
  readonly sentMs: number;
}

class Slot {
  readonly pending = new Map<number, Pending>();
  /** Requests of this turn of the event loop, sent together (`#flush`). */
  outbox: { readonly req: PrepareCreateRequest; readonly body: Uint8Array }[] = [];
  outboxBytes = 0;
  isReady = false;
  isGone = false;
  constructor(readonly worker: Worker) {}
}

const builtIn = new Set<KindDefinition>(allKinds());

/** A batch of bodies this large is sent at once instead of at the end of the event-loop turn. */
const maxBatchBytes = 4 * 1024 * 1024;

export class WritePool implements CreatePreparer {
  readonly #options: WritePoolOptions;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  readonly #restarts: number[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #nextId = 1;
  #prepared = 0;
  #isStopping = false;
  /** Resolves when every first worker is ready or gone. */
  readonly #started: Promise<void>;

  constructor(options: WritePoolOptions) {
    this.#options = options;
    this.#log = options.log;
    const firsts: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, options.size); i++) firsts.push(this.#spawn());
    this.#started = Promise.all(firsts).then(() => undefined);
    const timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#timer = setInterval(() => this.#checkTimeouts(), Math.min(1000, Math.max(10, timeoutMs / 4)));
    this.#timer.unref();
  }

  /** Resolves when the workers have loaded (or failed to); requests before that run inline. */
  ready(): Promise<void> {
    return this.#started;
  }

  /** Workers ready to take requests. */
  get readyWorkers(): number {
    return this.#slots.filter((s) => s.isReady && !s.isGone).length;
  }

  handles(def: KindDefinition): boolean {
    return builtIn.has(def);
  }

  /**
   * Prepares a create on the least busy ready worker; undefined when none is ready. The bodies
   * of one event-loop turn are copied into one buffer and transferred (a batch is sent early
   * past `maxBatchBytes`). Rejects with an InternalError when the worker dies or times out.
   */
  prepareCreate(input: CreateInput): Promise<PreparedCreateReply> | undefined {
    let best: Slot | undefined;
    for (const s of this.#slots) {
      if (s.isReady && !s.isGone && (!best || s.pending.size < best.pending.size)) best = s;
    }
    if (!best || this.#isStopping) return undefined;
    const slot = best;
    const id = this.#nextId++;
    const { body, ...rest } = input;
    const req: PrepareCreateRequest = { ...rest, id, bodyEnd: 0 };
    return new Promise<PreparedCreateReply>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, sentMs: performance.now() });
      // Referenced only while it owes an answer, as the store's writer thread.
      if (slot.pending.size === 1) slot.worker.ref();
      if (slot.outbox.length === 0) setImmediate(() => this.#flush(slot));
      slot.outbox.push({ req, body });
      slot.outboxBytes += body.length;
      if (slot.outboxBytes >= maxBatchBytes) this.#flush(slot);
    });
  }

  /** Sends the requests of this turn of the event loop in one message with one buffer of bodies. */
  #flush(slot: Slot): void {
    const outbox = slot.outbox;
    const size = slot.outboxBytes;
    slot.outbox = [];
    slot.outboxBytes = 0;
    if (outbox.length === 0 || slot.isGone) return;
    const bodies = new Uint8Array(size);
    const requests: PrepareCreateRequest[] = [];
    let at = 0;
    for (const { req, body } of outbox) {
      bodies.set(body, at);
      at += body.length;
      requests.push({ ...req, bodyEnd: at });
    }
    const msg: WorkerRequest = { type: 'prepareCreates', requests, bodies };
    slot.worker.postMessage(msg, [bodies.buffer]);
  }

  /** Creates prepared by a worker so far. */
  get prepared(): number {
    return this.#prepared;
  }

  /**
   * Test hooks for worker `index`: `crash` ends it with exit code 1, `stall` blocks it; at once
   * or (`onNextRequest`) when its next request arrives, before it answers.
   */
  injectFault(index: number, fault: 'crash' | 'stall', onNextRequest = false): void {
    const slot = this.#slots[index];
    if (slot && !slot.isGone)
      slot.worker.postMessage({ type: fault, code: 1, onNextRequest } satisfies WorkerRequest);
  }

  /** Ends every worker; requests still pending fail. */
  async stop(): Promise<void> {
    this.#isStopping = true;
    clearInterval(this.#timer);
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #spawn(): Promise<void> {
    let worker: Worker;
    try {
      worker = startWorkerThread(new URL('./write-worker.js', import.meta.url));
    } catch (err) {
      this.#log.error('Cannot start a write worker; creates run on the event loop', {
        error: describeError(err),
      });
      return Promise.resolve();
    }
    worker.unref();
    const slot = new Slot(worker);
    this.#slots.push(slot);
    return new Promise<void>((resolve) => {
      worker.on('message', (r: WorkerReply) => {
        if (r.type === 'ready') {
          slot.isReady = true;
          resolve();
          return;
        }
        let start = 0;
        const values = Buffer.from(r.values.buffer, r.values.byteOffset, r.values.byteLength);
        for (const one of r.replies) {
          const value = values.subarray(start, one.valueEnd);
          start = one.valueEnd;
          const p = slot.pending.get(one.id);
          if (!p) continue;
          slot.pending.delete(one.id);
          this.#prepared++;
          p.resolve(
            one.ok
              ? {
                  warnings: one.warnings,
                  prepared: {
                    ok: true,
                    name: one.name,
                    admissionName: one.admissionName,
                    generated: one.generated,
                    value,
                    ...(one.facts ? { facts: one.facts } : {}),
                  },
                }
              : {
                  warnings: one.warnings,
                  prepared: {
                    ok: false,
                    stage: one.stage,
                    admissionName: one.admissionName,
                    error: errorFromWire(one.error) ?? internal('The write worker sent a malformed error'),
                  },
                },
          );
        }
        if (slot.pending.size === 0) slot.worker.unref();
      });
      worker.on('error', (err) => this.#gone(slot, err));
      worker.on('exit', (code) => {
        this.#gone(slot, new Error(`the write worker exited with code ${code}`));
        resolve();
      });
    });
  }

  /** The worker of `slot` died: fail its requests, replace it (within the restart budget). */
  #gone(slot: Slot, err: Error): void {
    if (slot.isGone) return;
    slot.isGone = true;
    const failure = internal(`The write worker stopped: ${err.message}`, { cause: err });
    const failedRequests = slot.pending.size;
    for (const p of slot.pending.values()) p.reject(failure);
    slot.pending.clear();
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots.splice(at, 1);
    void slot.worker.terminate();
    if (this.#isStopping) return;
    const now = performance.now();
    while (this.#restarts.length > 0 && now - (this.#restarts[0] as number) > 60_000) this.#restarts.shift();
    const budget = this.#options.maxRestarts ?? 5;
    if (this.#restarts.length >= budget) {
      this.#log.error('A write worker stopped and will not be replaced (too many restarts a minute)', {
        error: describeError(err),
        failedRequests,
        workersLeft: this.#slots.length,
      });
      return;
    }
    this.#restarts.push(now);
    this.#log.error('A write worker stopped; starting another', {
      error: describeError(err),
      failedRequests,
    });
    void this.#spawn();
  }

  #checkTimeouts(): void {
    const limit = this.#options.requestTimeoutMs ?? 30_000;
    const now = performance.now();
    for (const slot of [...this.#slots]) {
      const oldest = slot.pending.values().next();
      if (!oldest.done && now - oldest.value.sentMs > limit) {
        this.#gone(slot, new Error(`a request took more than ${limit} ms`));
      }
    }
  }
}
