import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { podKind } from '../core/v1/pod.js';
import { schemaNodeFor } from './schema-node.js';
import { dropNullFields, pruneUnknownFields } from './unknown-fields.js';

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
  const node = schemaNodeFor(podKind.schema);

  it('prunes undeclared fields in place, reports them with kubectl paths and leaves maps alone', () => {
    const p = pod();
    assert.deepEqual(pruneUnknownFields(node, p), [
      'metadata.bogus',
      'spec.containers[0].imagePullPolicyy',
      'spec.extra',
    ]);
    assert.deepEqual(pruneUnknownFields(node, p), []);
    assert.equal((p.spec as Record<string, unknown>)['extra'], undefined);
    assert.deepEqual(p.metadata.labels, { anything: 'goes' });
    assert.deepEqual(p.spec.nodeSelector, { 'any/key': 'v' });
  });

  it('drops null fields on the way without reporting them, as Go decoding does', () => {
    const p = { ...pod(), metadata: { name: 'web', creationTimestamp: null, labels: { a: null } } };
    assert.deepEqual(pruneUnknownFields(node, p).includes('metadata.creationTimestamp'), false);
    assert.deepEqual(p.metadata, { name: 'web', labels: {} });
  });

  it('reports at most the given number of fields but prunes them all', () => {
    const p = { ...pod(), spec: { ...pod().spec, x1: 1, x2: 2, x3: 3 } };
    assert.equal(pruneUnknownFields(node, p, 2).length, 2);
    assert.deepEqual(pruneUnknownFields(node, p), []);
  });

  it('drops nulls as Go decoding does', () => {
    const v = { metadata: { name: 'x', creationTimestamp: null }, spec: { a: [null, { b: null }] } };
    dropNullFields(v);
    assert.deepEqual(v, { metadata: { name: 'x' }, spec: { a: [null, {}] } });
  });
});
