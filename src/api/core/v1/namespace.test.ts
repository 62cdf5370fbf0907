import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import type { KubeObject } from '../../kind-definition.js';
import { namespaceKind, type Namespace } from './namespace.js';

const seed = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns2' }, spec: { network: 'net2' } };

describe('Namespace', () => {
  it('accepts the seed manifest and sets phase Active and the kubernetes finalizer', () => {
    const r = admit(namespaceKind, seed);
    assert.deepEqual(causeLines(r), []);
    const ns = r.object as unknown as Namespace;
    assert.equal(ns.status?.phase, 'Active');
    assert.deepEqual(ns.spec?.finalizers, ['kubernetes']);
    assert.equal(ns.spec?.network, 'net2');
    assert.equal(ns.metadata?.namespace, undefined);
  });

  it('rejects names with dots and bad network names', () => {
    const r = admit(namespaceKind, { ...seed, metadata: { name: 'a.b' }, spec: { network: 'Net_2' } });
    const lines = causeLines(r).join('\n');
    assert.match(lines, /metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label/);
    assert.match(lines, /spec.network: Invalid value: "Net_2"/);
  });

  it('keeps spec.network immutable', () => {
    const old = admit(namespaceKind, seed).object;
    const next = structuredClone(old) as unknown as Namespace;
    (next.spec as { network: string }).network = 'net3';
    assert.deepEqual(causeLines(admit(namespaceKind, next, { old })), [
      'spec.network: Invalid value: "net3": field is immutable',
    ]);
  });

  it('prints STATUS and supports the status.phase field selector', () => {
    const obj = { ...admit(namespaceKind, seed, { nowMs: Date.UTC(2024, 0, 1) }).object } as KubeObject;
    assert.deepEqual(namespaceKind.row(obj, Date.UTC(2024, 0, 1, 0, 0, 30)), ['ns2', 'Active', '30s']);
    assert.equal(namespaceKind.fieldSelectors['status.phase']?.(obj), 'Active');
    assert.ok(!namespaceKind.verbs.includes('deletecollection'));
  });
});
