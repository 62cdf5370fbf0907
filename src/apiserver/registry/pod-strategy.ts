/**
 * Pod deletion as upstream's pod strategy does it: a pod bound to a node is deleted
 * gracefully (deletionTimestamp + deletionGracePeriodSeconds, and the node agent removes it
 * with grace 0 once its containers stopped); an unscheduled or finished pod goes at once.
 */
import type { KubeObject } from '../../api/index.js';
import { isRecord } from '../../lib/index.js';
import type { AdmissionFacts, KindStrategy } from './kind-strategy.js';

const defaultGraceSeconds = 30;

function record(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}

export const podStrategy: KindStrategy = {
  returnsDeletedObject: true,
  // What the Priority admission plugin decides by (see admission/priority.ts).
  admissionFacts(obj: KubeObject): AdmissionFacts {
    const spec = record(obj['spec']);
    const name = spec['priorityClassName'];
    const priority = spec['priority'];
    const policy = spec['preemptionPolicy'];
    return {
      priorityClassName: typeof name === 'string' && name !== '' ? name : undefined,
      priority: typeof priority === 'number' ? priority : undefined,
      preemptionPolicy: typeof policy === 'string' ? policy : undefined,
    };
  },
  gracePeriodSeconds(obj: KubeObject, requested: number | undefined): number {
    const spec = record(obj['spec']);
    const status = record(obj['status']);
    const fromSpec = spec['terminationGracePeriodSeconds'];
    let grace = requested ?? (typeof fromSpec === 'number' ? fromSpec : defaultGraceSeconds);
    if (typeof spec['nodeName'] !== 'string' || spec['nodeName'] === '') grace = 0;
    if (status['phase'] === 'Succeeded' || status['phase'] === 'Failed') grace = 0;
    if (grace < 0) grace = 1;
    return grace;
  },
};
