import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import type { KubeObject } from '../../kind-definition.js';
import { secretKind, type Secret } from './secret.js';

const secret = (extra: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's', namespace: 'default' },
  ...extra,
});

describe('Secret', () => {
  it('defaults type Opaque and folds stringData into data', () => {
    const r = admit(secretKind, secret({ data: { a: 'eA==' }, stringData: { b: 'hello' } }));
    assert.deepEqual(causeLines(r), []);
    const s = r.object as unknown as Secret;
    assert.equal(s.type, 'Opaque');
    assert.deepEqual(s.data, { a: 'eA==', b: 'aGVsbG8=' });
    assert.equal(s.stringData, undefined);
    assert.deepEqual(secretKind.row(r.object as KubeObject, Date.UTC(2024, 0, 1)).slice(0, 3), [
      's',
      'Opaque',
      2,
    ]);
  });

  it('rejects bad base64 without echoing the value', () => {
    const r = admit(secretKind, secret({ data: { password: 'hunter2!' } }));
    assert.deepEqual(causeLines(r), [
      'data[password]: Invalid value: "<secret contents redacted>": must be a valid base64 string',
    ]);
  });

  it('requires the keys of built-in types', () => {
    assert.deepEqual(
      causeLines(admit(secretKind, secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' } }))),
      ['data[tls.key]: Required value'],
    );
    assert.deepEqual(causeLines(admit(secretKind, secret({ type: 'kubernetes.io/service-account-token' }))), [
      'metadata.annotations[kubernetes.io/service-account.name]: Required value',
    ]);
    assert.deepEqual(
      causeLines(
        admit(
          secretKind,
          secret({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'e30=' } }),
        ),
      ),
      [],
    );
  });

  it('keeps type immutable and supports the type field selector', () => {
    const old = admit(secretKind, secret({ data: {} })).object;
    const next = { ...structuredClone(old), type: 'example.com/custom' };
    assert.deepEqual(causeLines(admit(secretKind, next, { old })), [
      'type: Invalid value: "example.com/custom": field is immutable',
    ]);
    assert.equal(secretKind.fieldSelectors['type']?.(old), 'Opaque');
  });
});
