/**
 * Writing core/v1 Events about objects (what `kubectl describe` shows). Best effort: an event
 * that cannot be written is logged at debug and dropped, never retried or thrown, so a broken
 * events path cannot stall a controller. Repeats of one event (object, reason, message) within
 * a window raise the first one's `count` (at most one update per 10 s) instead of adding
 * objects, so a crash-looping container cannot flood the event store.
 */
import type { ApiClient } from './api-client.js';
import { builtinResources } from './resource-ref.js';
import { describeError, systemClock, type Clock, type Logger } from '../lib/index.js';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  /** '' for cluster-scoped objects (their events go to `default`, as upstream). */
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The part of the object the event is about, e.g. `spec.containers{web}`. */
  readonly fieldPath?: string | undefined;
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
  /** The node the component runs on (`source.host`, as kubelet sets it). */
  readonly host?: string | undefined;
  /**
   * Repeats of one event (same object, reason and message) within this window update the
   * first one's `count` instead of creating another; default 10 minutes.
   */
  readonly dedupeWindowMs?: number | undefined;
  /** A repeat updates the stored count at most this often; default 10 s. */
  readonly countUpdateMs?: number | undefined;
}): EventRecorder {
  const clock = options.clock ?? systemClock;
  const windowMs = options.dedupeWindowMs ?? 600_000;
  const countUpdateMs = options.countUpdateMs ?? 10_000;
  interface Seen {
    readonly name: string;
    readonly namespace: string;
    readonly firstMs: number;
    count: number;
    updatedMs: number;
    created: Promise<boolean>;
  }
  const recent = new Map<string, Seen>();
  let seq = 0;
  const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const record = (type: 'Warning' | 'Normal', target: EventTarget, reason: string, message: string): void => {
    const text = message.slice(0, 1024);
    const key = `${target.uid}\u0000${reason}\u0000${text}`;
    const now = clock.now();
    const seen = recent.get(key);
    const events = (ns: string) => options.client.resource(builtinResources.events, ns);
    if (seen && now - seen.firstMs < windowMs) {
      seen.count++;
      if (now - seen.updatedMs < countUpdateMs) return;
      seen.updatedMs = now;
      const count = seen.count;
      void seen.created.then((ok) => {
        if (!ok) return;
        events(seen.namespace)
          .patch(seen.name, { count, lastTimestamp: iso(now) }, { type: 'merge' })
          .catch((err: unknown) =>
            options.log.debug('Could not update event count', { reason, error: describeError(err) }),
          );
      });
      return;
    }
    if (recent.size >= 10_000) recent.delete(recent.keys().next().value as string);
    const namespace = target.namespace || 'default';
    const time = iso(now);
    // Named as upstream's recorder names events: `<object>.<hex time>` (unique per recorder).
    const name = `${target.name.slice(0, 200)}.${(BigInt(now) * 1_000_000n + BigInt(seq++ % 1_000_000)).toString(16)}`;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: target.apiVersion,
        kind: target.kind,
        name: target.name,
        uid: target.uid,
        ...(target.namespace ? { namespace: target.namespace } : {}),
        ...(target.fieldPath ? { fieldPath: target.fieldPath } : {}),
      },
      reason,
      message: text,
      type,
      source: { component: options.component, ...(options.host ? { host: options.host } : {}) },
      reportingComponent: options.component,
      ...(options.host ? { reportingInstance: options.host } : {}),
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    const created = events(namespace)
      .create(event)
      .then(
        () => true,
        (err: unknown) => {
          options.log.debug('Could not record event', { reason, error: describeError(err) });
          return false;
        },
      );
    recent.set(key, { name, namespace, firstMs: now, count: 1, updatedMs: now, created });
  };
  return {
    warning: (t, r, m) => record('Warning', t, r, m),
    normal: (t, r, m) => record('Normal', t, r, m),
  };
}
