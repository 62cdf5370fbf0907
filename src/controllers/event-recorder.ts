/**
 * Writing core/v1 Events about objects (what `kubectl describe` shows). Best effort: an event
 * that cannot be written is logged at debug and dropped, never retried or thrown, so a broken
 * events path cannot stall a controller. Repeats of one reason for one object within a window
 * are dropped, so a stuck object cannot flood the event store.
 */
import { builtinResources, type ApiClient } from '../client/index.js';
import { describeError, systemClock, type Clock, type Logger } from '../lib/index.js';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  /** '' for cluster-scoped objects (their events go to `default`, as upstream). */
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface EventRecorder {
  warning(target: EventTarget, reason: string, message: string): void;
  normal(target: EventTarget, reason: string, message: string): void;
}

export function createEventRecorder(options: {
  readonly client: ApiClient;
  readonly component: string;
  readonly log: Logger;
  readonly clock?: Clock | undefined;
  /** Same object and reason are recorded at most once per window; default 10 minutes. */
  readonly dedupeWindowMs?: number | undefined;
}): EventRecorder {
  const clock = options.clock ?? systemClock;
  const windowMs = options.dedupeWindowMs ?? 600_000;
  const recent = new Map<string, number>();
  let seq = 0;
  const record = (type: 'Warning' | 'Normal', target: EventTarget, reason: string, message: string): void => {
    const key = `${target.uid}\u0000${reason}`;
    const now = clock.now();
    const last = recent.get(key);
    if (last !== undefined && now - last < windowMs) return;
    recent.set(key, now);
    if (recent.size > 10_000) recent.delete(recent.keys().next().value as string);
    const namespace = target.namespace || 'default';
    const time = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      // Named as upstream's recorder names events: `<object>.<hex time>` (unique per recorder).
      metadata: {
        name: `${target.name.slice(0, 200)}.${(BigInt(now) * 1_000_000n + BigInt(seq++ % 1_000_000)).toString(16)}`,
        namespace,
      },
      involvedObject: {
        apiVersion: target.apiVersion,
        kind: target.kind,
        name: target.name,
        uid: target.uid,
        ...(target.namespace ? { namespace: target.namespace } : {}),
      },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: options.component },
      reportingComponent: options.component,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    options.client
      .resource(builtinResources.events, namespace)
      .create(event)
      .catch((err: unknown) =>
        options.log.debug('Could not record event', { reason, error: describeError(err) }),
      );
  };
  return {
    warning: (t, r, m) => record('Warning', t, r, m),
    normal: (t, r, m) => record('Normal', t, r, m),
  };
}
