/**
 * A signal of our own that follows a parent signal, for fan-out: a controller hands one signal
 * to many workers, informers and in-flight requests. Node warns when more than 10 listeners sit
 * on one signal (a leak heuristic); on a signal we own and fan out on purpose the limit is
 * lifted, and the parent carries a single listener that `dispose` removes.
 */
import { setMaxListeners } from 'node:events';

export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Aborts the linked signal (and only it). */
  abort(reason?: unknown): void;
  /** Detaches from the parent. */
  dispose(): void;
}

export function linkSignal(parent: AbortSignal): LinkedSignal {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  const onAbort = (): void => ac.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    abort: (reason) => ac.abort(reason),
    dispose: () => parent.removeEventListener('abort', onAbort),
  };
}
