/**
 * A small pool of worker threads that unpack layers (unpack-worker.ts), so decompressing,
 * hashing and writing a layer's files use another core while the main thread downloads and
 * serves requests. Layers in overlay form are independent, so a pull unpacks several at once.
 *
 * One pool serves the whole process (`sharedUnpackPool`): starting a worker costs tens of
 * milliseconds (hundreds when it loads the TypeScript sources through tsx), so workers are started ahead of
 * use (`warm`), kept while there is work and for `idleMs` after, and never keep the process
 * alive on their own. With `size: 0`, or when workers cannot start, jobs run in the calling
 * thread with the same code (unpack-job.ts).
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import {
  H8sError,
  internal,
  startWorkerThread,
  type ErrorCode,
  type LogLevel,
  type Logger,
} from '../lib/index.js';
import { FollowState, runUnpackJob, type UnpackJobResult, type UnpackJobSpec } from './unpack-job.js';

/** Messages from the pool to a worker. */
export type PoolRequest =
  | {
      readonly type: 'start';
      readonly id: number;
      readonly spec: UnpackJobSpec;
      readonly available: number;
      readonly ended: boolean;
      readonly debug: boolean;
    }
  | { readonly type: 'available'; readonly id: number; readonly bytes: number; readonly ended: boolean }
  | { readonly type: 'abort'; readonly id: number };

/** Messages from a worker to the pool. */
export type PoolReply =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly result: UnpackJobResult }
  | {
      readonly type: 'failed';
      readonly id: number;
      readonly error: {
        readonly code: ErrorCode;
        readonly message: string;
        readonly errno?: string | undefined;
      };
    }
  | {
      readonly type: 'log';
      readonly id: number;
      readonly level: LogLevel;
      readonly message: string;
      readonly fields: Record<string, unknown>;
    };

/** A running (or queued) unpack. */
export interface UnpackJob {
  /** For a followed source: `bytes` from the file's start are written; `ended`: that is all of it. */
  available(bytes: number, ended?: boolean): void;
  /** Stops the job; `result` rejects. The caller removes the half-written directory. */
  abort(): void;
  readonly result: Promise<UnpackJobResult>;
}

export interface UnpackPoolOptions {
  /** Worker threads; 0 runs every job in the calling thread. Default: the number of CPUs, at most 4. */
  readonly size?: number;
  /** Idle workers are stopped after this long. Default 5 minutes. */
  readonly idleMs?: number;
}

interface PendingJob {
  readonly id: number;
  readonly spec: UnpackJobSpec;
  readonly log: Logger;
  readonly follow: FollowState;
  aborted: boolean;
  /** Stops a job running in this thread. */
  abortHere?: () => void;
  resolve(r: UnpackJobResult): void;
  reject(err: unknown): void;
  /** Set while a worker runs it. */
  worker?: PoolWorker | undefined;
}

interface PoolWorker {
  readonly thread: Worker;
  /** Resolves when the worker has loaded its code (or has died trying). */
  readonly started: Promise<void>;
  markStarted(): void;
  ready: boolean;
  job: PendingJob | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

function rebuildError(e: { code: ErrorCode; message: string; errno?: string | undefined }): H8sError {
  const cause = e.errno ? Object.assign(new Error(e.message), { code: e.errno }) : undefined;
  return new H8sError(e.code, e.message, cause ? { cause } : {});
}

export class UnpackPool {
  readonly size: number;
  readonly #idleMs: number;
  readonly #workers = new Set<PoolWorker>();
  readonly #queue: PendingJob[] = [];
  #nextId = 1;
  /** Workers failed to start: run everything in this thread. */
  #broken = false;
  #log: Logger | undefined;

  constructor(options: UnpackPoolOptions = {}) {
    this.size = Math.max(0, Math.floor(options.size ?? Math.min(4, availableParallelism())));
    this.#idleMs = options.idleMs ?? 5 * 60_000;
  }

  /** Whether jobs run in worker threads. */
  get threaded(): boolean {
    return this.size > 0 && !this.#broken;
  }

  /** Starts the workers now (in the background), so the first job does not wait for them. */
  warm(log?: Logger): void {
    if (log) this.#log ??= log;
    if (!this.threaded) return;
    while (this.#workers.size < this.size) this.#spawn(); // each goes idle once it has loaded
  }

  /** Starts the workers (as `warm`) and resolves when they have loaded their code. */
  async whenReady(log?: Logger): Promise<void> {
    this.warm(log);
    await Promise.all([...this.#workers].map((w) => w.started));
  }

  /** Queues an unpack. A `follow` source starts with nothing available. */
  run(spec: UnpackJobSpec, options: { log: Logger; signal?: AbortSignal | undefined }): UnpackJob {
    this.#log ??= options.log;
    let resolve!: (r: UnpackJobResult) => void;
    let reject!: (err: unknown) => void;
    const result = new Promise<UnpackJobResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const job: PendingJob = {
      id: this.#nextId++,
      spec,
      log: options.log,
      follow: new FollowState(),
      aborted: false,
      resolve,
      reject,
    };
    const abort = (): void => {
      if (job.aborted) return;
      job.aborted = true;
      job.abortHere?.();
      const i = this.#queue.indexOf(job);
      if (i >= 0) {
        this.#queue.splice(i, 1);
        job.reject(new Error('unpack aborted'));
      } else if (job.worker) {
        job.worker.thread.postMessage({ type: 'abort', id: job.id } satisfies PoolRequest);
      }
    };
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) job.aborted = true;
      else signal.addEventListener('abort', abort, { once: true });
      result.then(
        () => signal.removeEventListener('abort', abort),
        () => signal.removeEventListener('abort', abort),
      );
    }
    if (job.aborted) job.reject(signal?.reason ?? new Error('unpack aborted'));
    else if (!this.threaded) this.#runHere(job);
    else {
      this.#queue.push(job);
      this.#dispatch();
    }
    return {
      available: (bytes, ended = false) => {
        job.follow.update(bytes, ended);
        if (job.worker)
          job.worker.thread.postMessage({
            type: 'available',
            id: job.id,
            bytes,
            ended,
          } satisfies PoolRequest);
      },
      abort,
      result,
    };
  }

  /** Stops all workers (queued and running jobs fail). */
  async close(): Promise<void> {
    const ws = [...this.#workers];
    this.#workers.clear();
    for (const j of this.#queue.splice(0)) j.reject(internal('The unpack pool was closed'));
    await Promise.all(
      ws.map(async (w) => {
        if (w.idleTimer) clearTimeout(w.idleTimer);
        w.job?.reject(internal('The unpack pool was closed'));
        await w.thread.terminate();
      }),
    );
  }

  #runHere(job: PendingJob): void {
    const controller = new AbortController();
    job.abortHere = () => {
      controller.abort(new Error('unpack aborted'));
      job.follow.wake(); // a followed job's reader then sees the aborted signal
    };
    if (job.aborted) job.abortHere();
    runUnpackJob(job.spec, { log: job.log, signal: controller.signal, follow: job.follow }).then(
      job.resolve,
      job.reject,
    );
  }

  #spawn(): PoolWorker {
    const thread = startWorkerThread(new URL('./unpack-worker.js', import.meta.url), { name: 'h8s-unpack' });
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const w: PoolWorker = {
      thread,
      started,
      markStarted,
      ready: false,
      job: undefined,
      idleTimer: undefined,
    };
    this.#workers.add(w);
    thread.on('message', (m: PoolReply) => this.#onMessage(w, m));
    thread.on('error', (err) => this.#onExit(w, err));
    thread.on('exit', (code) => this.#onExit(w, new Error(`unpack worker exited with code ${code}`)));
    return w;
  }

  #onMessage(w: PoolWorker, m: PoolReply): void {
    switch (m.type) {
      case 'ready':
        w.ready = true;
        w.markStarted();
        if (!w.job) this.#idle(w);
        return;
      case 'log': {
        const log = w.job?.id === m.id ? w.job.log : this.#log;
        log?.[m.level](m.message, m.fields);
        return;
      }
      case 'done':
      case 'failed': {
        const job = w.job;
        if (!job || job.id !== m.id) return;
        w.job = undefined;
        job.worker = undefined;
        if (m.type === 'done') job.resolve(m.result);
        else job.reject(job.aborted ? new Error('unpack aborted') : rebuildError(m.error));
        this.#dispatch();
        if (!w.job) this.#idle(w);
        return;
      }
    }
  }

  #onExit(w: PoolWorker, err: Error): void {
    w.markStarted();
    if (!this.#workers.delete(w)) return;
    if (w.idleTimer) clearTimeout(w.idleTimer);
    const job = w.job;
    w.job = undefined;
    if (!w.ready) {
      // It never started (e.g. its module cannot load here): run jobs in this thread instead.
      this.#broken = true;
      this.#log?.warn('Unpack worker threads are unavailable; unpacking in the main thread', {
        error: err,
      });
      for (const q of this.#queue.splice(0)) this.#runHere(q);
      if (job) {
        job.worker = undefined;
        this.#runHere(job);
      }
      return;
    }
    if (job)
      job.reject(internal(`Unpacking ${job.spec.what} failed: the worker thread died`, { cause: err }));
    this.#dispatch();
  }

  #idle(w: PoolWorker): void {
    w.thread.unref();
    if (w.idleTimer) clearTimeout(w.idleTimer);
    w.idleTimer = setTimeout(() => {
      if (w.job) return;
      this.#workers.delete(w);
      void w.thread.terminate();
    }, this.#idleMs);
    w.idleTimer.unref();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let free: PoolWorker | undefined;
      for (const w of this.#workers) if (!w.job) free = free ?? w;
      if (!free) {
        if (this.#workers.size >= this.size) return;
        free = this.#spawn();
      }
      const job = this.#queue.shift()!;
      if (free.idleTimer) clearTimeout(free.idleTimer);
      free.idleTimer = undefined;
      free.job = job;
      job.worker = free;
      free.thread.ref();
      free.thread.postMessage({
        type: 'start',
        id: job.id,
        spec: job.spec,
        available: job.follow.available,
        ended: job.follow.ended,
        debug: job.log.isEnabled('debug'),
      } satisfies PoolRequest);
    }
  }
}

let shared: UnpackPool | undefined;

/** The process-wide pool (created on first use with `options`). */
export function sharedUnpackPool(options?: UnpackPoolOptions): UnpackPool {
  shared ??= new UnpackPool(options);
  return shared;
}
