import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { podKind } from '../core/v1/pod.js';
import { dropNullFields, findUnknownFields, pruneUnknownFields } from './unknown-fields.js';

describe('unknown fields', () => {
  const pod = () => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', labels: { anything: 'goes' }, bogus: 1 },
    spec: {
      containers: [
        { name: 'c', image: 'busybox', imagePullPolicyy: 'Always', resources: { limits: { cpu: '1' } } },
      ],
      nodeSelector: { 'any/key': 'v' },
      extra: true,
    },
  });

  it('finds undeclared fields with kubectl paths and leaves maps alone', () => {
    assert.deepEqual(findUnknownFields(podKind.schema, pod()), [
      'metadata.bogus',
      'spec.containers[0].imagePullPolicyy',
      'spec.extra',
    ]);
  });

  it('prunes undeclared fields in place', () => {
    const p = pod();
    assert.equal(pruneUnknownFields(podKind.schema, p).length, 3);
    assert.deepEqual(findUnknownFields(podKind.schema, p), []);
    assert.equal((p.spec as Record<string, unknown>)['extra'], undefined);
  });

  it('drops nulls as Go decoding does', () => {
    const v = { metadata: { name: 'x', creationTimestamp: null }, spec: { a: [null, { b: null }] } };
    dropNullFields(v);
    assert.deepEqual(v, { metadata: { name: 'x' }, spec: { a: [null, {}] } });
  });
});
