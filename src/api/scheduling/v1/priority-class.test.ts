import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import type { KubeObject } from '../../kind-definition.js';
import { priorityClassKind } from './priority-class.js';

const pc = (name: string, extra: Record<string, unknown>) => ({
  apiVersion: 'scheduling.k8s.io/v1',
  kind: 'PriorityClass',
  metadata: { name },
  ...extra,
});

describe('PriorityClass', () => {
  it('defaults preemptionPolicy and shows value, global default and policy', () => {
    const r = admit(priorityClassKind, pc('high', { value: 1000 }), { nowMs: Date.UTC(2024, 0, 1) });
    assert.deepEqual(causeLines(r), []);
    assert.equal((r.object as { preemptionPolicy?: string }).preemptionPolicy, 'PreemptLowerPriority');
    assert.deepEqual(priorityClassKind.row(r.object as KubeObject, Date.UTC(2024, 0, 1, 0, 2)), [
      'high',
      1000,
      false,
      'PreemptLowerPriority',
      '2m',
    ]);
  });

  it('requires a value, reserves system- names and caps user values at one billion', () => {
    assert.deepEqual(causeLines(admit(priorityClassKind, pc('p', {}))), ['value: Required value']);
    assert.deepEqual(causeLines(admit(priorityClassKind, pc('system-mine', { value: 1 }))), [
      'metadata.name: Forbidden: priority class names with the prefix "system-" are reserved',
    ]);
    assert.deepEqual(causeLines(admit(priorityClassKind, pc('huge', { value: 1_000_000_001 }))), [
      'value: Invalid value: 1000000001: must be no greater than 1000000000',
    ]);
    assert.deepEqual(
      causeLines(admit(priorityClassKind, pc('system-node-critical', { value: 2_000_001_000 }))),
      [],
    );
    assert.deepEqual(
      causeLines(admit(priorityClassKind, pc('p', { value: 1, preemptionPolicy: 'Sometimes' }))),
      ['preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"'],
    );
  });

  it('keeps value and preemptionPolicy immutable', () => {
    const old = admit(priorityClassKind, pc('p', { value: 5 })).object;
    const lines = causeLines(
      admit(priorityClassKind, pc('p', { value: 6, preemptionPolicy: 'Never' }), { old }),
    );
    assert.deepEqual(lines, [
      'value: Invalid value: 6: field is immutable',
      'preemptionPolicy: Invalid value: "Never": field is immutable',
    ]);
  });
});
