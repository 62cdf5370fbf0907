/**
 * The level-triggered controller loop: workers take keys from a work queue and call
 * `reconcile(key)`, which looks at the current state (informer caches, live reads) and moves
 * the world one step towards the desired state. Event handlers only enqueue keys; they never
 * act, so a missed or duplicated event cannot cause a wrong action, only a late one.
 *
 * Failure handling: a reconcile that throws is logged once at warn and retried with the key's
 * back-off; a reconcile that asks to be called again (`requeueAfterMs`, `requeue`) is not an
 * error and is not logged.
 */
import { describeError, errorCode, nullLogger, type Logger } from '../lib/index.js';
import { linkSignal } from './linked-signal.js';
import type { WorkQueue } from './work-queue.js';

/** What a reconcile may ask for besides "done". */
export type ReconcileResult =
  | void
  | undefined
  /** Call again after this long (content still converging, e.g. waiting for deletions). */
  | { readonly requeueAfterMs: number }
  /** Call again after the key's back-off delay, without logging a failure. */
  | { readonly requeue: true };

export type ReconcileFn<K extends string = string> = (
  key: K,
  signal: AbortSignal,
) => Promise<ReconcileResult>;

export interface ControllerOptions<K extends string = string> {
  /** Used in logs: `namespace`, `garbage-collector`, ... */
  readonly name: string;
  readonly queue: WorkQueue<K>;
  readonly reconcile: ReconcileFn<K>;
  /** Concurrent reconciles (never two for the same key). Default 1. */
  readonly workers?: number | undefined;
  readonly log?: Logger | undefined;
}

export interface Controller {
  readonly name: string;
  /**
   * Runs the workers until `signal` aborts, then shuts the queue down and resolves once every
   * in-flight reconcile has returned. Never rejects.
   */
  run(signal: AbortSignal): Promise<void>;
}

export function createController<K extends string = string>(options: ControllerOptions<K>): Controller {
  const log = (options.log ?? nullLogger).child({ controller: options.name });
  const workers = Math.max(1, options.workers ?? 1);
  const { queue } = options;

  async function worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      // No signal here: shutDown() (on abort) releases waiting workers.
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const result = await options.reconcile(key, signal);
        if (result && 'requeueAfterMs' in result) {
          queue.forget(key);
          queue.addAfter(key, result.requeueAfterMs);
        } else if (result && 'requeue' in result) {
          queue.addRateLimited(key);
        } else {
          queue.forget(key);
        }
      } catch (err) {
        if (signal.aborted) return;
        const retryInMs = queue.addRateLimited(key);
        // The one log line per failed reconcile (STYLE.md: the loop's owner logs once).
        log.warn('Reconcile failed', {
          key,
          error: describeError(err),
          code: errorCode(err),
          attempt: queue.numRequeues(key),
          retryInMs,
        });
      } finally {
        queue.done(key);
      }
    }
  }

  return {
    name: options.name,
    async run(parent) {
      const linked = linkSignal(parent);
      const { signal } = linked;
      const stop = (): void => queue.shutDown();
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      log.debug('Controller started', { workers });
      try {
        await Promise.all(Array.from({ length: workers }, () => worker(signal)));
      } finally {
        signal.removeEventListener('abort', stop);
        linked.dispose();
      }
      log.debug('Controller stopped');
    },
  };
}

/** What `runWhenSynced` needs of an informer. */
export interface SyncingSource {
  run(signal: AbortSignal): Promise<void>;
  waitForSync(signal: AbortSignal): Promise<void>;
}

/**
 * Runs the informers, and the controller once all of them have synced (a controller must not
 * act on a partial cache), until `signal` aborts. `onSynced` runs between the two.
 */
export async function runWhenSynced(
  sources: readonly SyncingSource[],
  controller: Controller,
  signal: AbortSignal,
  onSynced?: () => void,
): Promise<void> {
  const runs = sources.map((s) => s.run(signal));
  try {
    await Promise.all(sources.map((s) => s.waitForSync(signal)));
  } catch {
    await Promise.all(runs);
    return;
  }
  onSynced?.();
  await Promise.all([...runs, controller.run(signal)]);
}
