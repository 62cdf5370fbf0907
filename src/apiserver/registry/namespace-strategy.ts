/**
 * Namespace lifecycle as upstream's namespace registry runs it: every namespace carries the
 * `kubernetes` finalizer in `spec.finalizers`; deleting it sets deletionTimestamp and phase
 * `Terminating`, the namespace controller empties it and removes the finalizer through
 * `namespaces/{name}/finalize`, and only then is the namespace itself removed.
 */
import type { KubeObject } from '../../api/index.js';
import { isRecord } from '../../lib/index.js';
import type { KindStrategy } from './kind-strategy.js';

export const namespaceFinalizer = 'kubernetes';

function record(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = obj[key];
  if (isRecord(v)) return v;
  const fresh: Record<string, unknown> = {};
  obj[key] = fresh;
  return fresh;
}

/** The namespace's `spec.finalizers` (empty when absent). */
export function namespaceSpecFinalizers(obj: KubeObject): string[] {
  const spec = obj['spec'];
  if (typeof spec !== 'object' || spec === null) return [];
  const f = (spec as Record<string, unknown>)['finalizers'];
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
}

export const namespaceStrategy: KindStrategy = {
  returnsDeletedObject: true,
  prepareForCreate(obj: KubeObject): void {
    const spec = record(obj, 'spec');
    const finalizers = namespaceSpecFinalizers(obj);
    if (!finalizers.includes(namespaceFinalizer)) spec['finalizers'] = [...finalizers, namespaceFinalizer];
  },
  hasPendingFinalization(obj: KubeObject): boolean {
    return namespaceSpecFinalizers(obj).length > 0;
  },
  onDeletionStarted(obj: KubeObject): void {
    record(obj, 'status')['phase'] = 'Terminating';
  },
  deleteWhilePendingMessage:
    'The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.',
};
