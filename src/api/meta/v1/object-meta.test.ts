import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateObjectMeta, validateObjectMetaUpdate } from './object-meta.js';
import { causeText } from '../../validation/field-causes.js';
import type { StatusCause } from '../../../lib/index.js';

const lines = (causes: StatusCause[]) => causes.map((c) => causeText(c));

describe('validateObjectMeta', () => {
  it('accepts a well-formed namespaced object', () => {
    assert.deepEqual(
      validateObjectMeta(
        { name: 'web', namespace: 'default', labels: { app: 'web' } },
        { namespaced: true, kind: 'Pod' },
      ),
      [],
    );
  });

  it('requires a name or generateName with upstream wording', () => {
    const causes = validateObjectMeta({ namespace: 'default' }, { namespaced: true, kind: 'Pod' });
    assert.deepEqual(lines(causes), ['metadata.name: Required value: name or generateName is required']);
    assert.equal(causes[0]?.reason, 'FieldValueRequired');
  });

  it('rejects bad names per kind rule', () => {
    const pod = validateObjectMeta({ name: 'Web', namespace: 'default' }, { namespaced: true, kind: 'Pod' });
    assert.match(lines(pod)[0] ?? '', /^metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain/);
    const ns = validateObjectMeta({ name: 'a.b' }, { namespaced: false, kind: 'Namespace' });
    assert.match(lines(ns)[0] ?? '', /RFC 1123 label/);
    const svc = validateObjectMeta(
      { name: '1web', namespace: 'default' },
      { namespaced: true, kind: 'Service' },
    );
    assert.match(lines(svc)[0] ?? '', /DNS-1035 label/);
  });

  it('requires a namespace for namespaced kinds and forbids it otherwise', () => {
    assert.deepEqual(lines(validateObjectMeta({ name: 'x' }, { namespaced: true, kind: 'Pod' })), [
      'metadata.namespace: Required value',
    ]);
    assert.deepEqual(
      lines(validateObjectMeta({ name: 'x', namespace: 'd' }, { namespaced: false, kind: 'Node' })),
      ['metadata.namespace: Forbidden: not allowed on this type'],
    );
  });

  it('reports bad label keys and values at the labels path', () => {
    const causes = validateObjectMeta(
      { name: 'x', namespace: 'd', labels: { 'bad key': 'v', ok: 'bad value' } },
      { namespaced: true, kind: 'Pod' },
    );
    assert.equal(causes.length, 2);
    assert.ok(causes.every((c) => c.field === 'metadata.labels'));
    assert.match(causes[0]?.message ?? '', /^Invalid value: "bad key": name part must consist of/);
    assert.match(
      causes[1]?.message ?? '',
      /^Invalid value: "bad value": a valid label must be an empty string/,
    );
  });

  it('limits the total annotation size', () => {
    const causes = validateObjectMeta(
      { name: 'x', namespace: 'd', annotations: { big: 'x'.repeat(256 * 1024) } },
      { namespaced: true, kind: 'Pod' },
    );
    assert.deepEqual(lines(causes), ['metadata.annotations: Too long: may not be more than 262144 bytes']);
  });

  it('checks owner references and allows only one controller', () => {
    const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: 'u1', controller: true };
    const causes = validateObjectMeta(
      {
        name: 'x',
        namespace: 'd',
        ownerReferences: [
          ref,
          { ...ref, name: 'b', uid: 'u2' },
          { apiVersion: '', kind: 'X', name: 'c', uid: '' },
        ],
      },
      { namespaced: true, kind: 'Pod' },
    );
    const text = lines(causes).join('\n');
    assert.match(
      text,
      /metadata.ownerReferences\[2\].apiVersion: Invalid value: "": version must not be empty/,
    );
    assert.match(text, /metadata.ownerReferences\[2\].uid: Invalid value: "": uid must not be empty/);
    assert.match(
      text,
      /Only one reference can have Controller set to true. Found "true" in references for ReplicaSet\/a and ReplicaSet\/b/,
    );
  });

  it('accepts standard and qualified finalizers', () => {
    assert.deepEqual(
      validateObjectMeta(
        { name: 'x', finalizers: ['kubernetes', 'example.com/cleanup'] },
        { namespaced: false, kind: 'Namespace' },
      ),
      [],
    );
    assert.equal(
      validateObjectMeta(
        { name: 'x', finalizers: ['bad finalizer'] },
        { namespaced: false, kind: 'Namespace' },
      ).length,
      1,
    );
  });
});

describe('validateObjectMetaUpdate', () => {
  const old = {
    name: 'x',
    namespace: 'd',
    uid: 'u',
    creationTimestamp: '2024-01-01T00:00:00Z',
    generation: 2,
  };

  it('allows label changes', () => {
    assert.deepEqual(validateObjectMetaUpdate({ ...old, labels: { a: 'b' } }, old), []);
  });

  it('rejects changes of immutable fields', () => {
    const causes = validateObjectMetaUpdate({ ...old, name: 'y', uid: 'v' }, old);
    assert.deepEqual(lines(causes), [
      'metadata.name: Invalid value: "y": field is immutable',
      'metadata.uid: Invalid value: "v": field is immutable',
    ]);
  });

  it('forbids new finalizers once deletion started and decreasing generation', () => {
    const deleting = { ...old, deletionTimestamp: '2024-01-02T00:00:00Z', finalizers: ['a.io/x'] };
    const causes = validateObjectMetaUpdate(
      { ...deleting, finalizers: ['a.io/x', 'b.io/y'], generation: 1 },
      deleting,
    );
    const text = lines(causes).join('\n');
    assert.match(
      text,
      /metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted/,
    );
    assert.match(text, /metadata.generation: Invalid value: 1: must not be decremented/);
  });
});
