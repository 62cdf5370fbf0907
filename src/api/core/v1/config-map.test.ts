import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import type { KubeObject } from '../../kind-definition.js';
import { configMapKind } from './config-map.js';

const cm = (extra: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'cfg', namespace: 'default' },
  ...extra,
});

describe('ConfigMap', () => {
  it('accepts data and binaryData and counts both in the DATA column', () => {
    const r = admit(configMapKind, cm({ data: { 'a.conf': 'x', b: 'y' }, binaryData: { c: 'AAE=' } }), {
      nowMs: Date.UTC(2024, 0, 1),
    });
    assert.deepEqual(causeLines(r), []);
    assert.deepEqual(configMapKind.row(r.object as KubeObject, Date.UTC(2024, 0, 1, 0, 2)), ['cfg', 3, '2m']);
  });

  it('rejects bad keys, duplicate keys and bad base64', () => {
    const lines = causeLines(
      admit(
        configMapKind,
        cm({ data: { 'bad key': 'x', dup: 'y' }, binaryData: { dup: 'AA==', bin: '!!' } }),
      ),
    );
    assert.match(
      lines[0] ?? '',
      /^data\[bad key\]: Invalid value: "bad key": a valid config key must consist of/,
    );
    assert.ok(lines.includes('binaryData: Invalid value: "dup": duplicate of key present in data'));
    assert.ok(lines.includes('binaryData[bin]: Invalid value: "<binary>": must be a valid base64 string'));
  });

  it('limits the total size to 1 MiB', () => {
    const lines = causeLines(admit(configMapKind, cm({ data: { a: 'x'.repeat(1024 * 1024 + 1) } })));
    assert.deepEqual(lines, ['Too long: may not be more than 1048576 bytes']);
  });

  it('freezes data once immutable', () => {
    const old = admit(configMapKind, cm({ immutable: true, data: { a: '1' } })).object;
    const changed = { ...structuredClone(old), data: { a: '2' } };
    assert.deepEqual(causeLines(admit(configMapKind, changed, { old })), [
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
    const unset = { ...structuredClone(old), immutable: false };
    assert.deepEqual(causeLines(admit(configMapKind, unset, { old })), [
      'immutable: Forbidden: field is immutable when `immutable` is set',
    ]);
    const labelled = structuredClone(old);
    labelled.metadata.labels = { a: 'b' };
    assert.deepEqual(causeLines(admit(configMapKind, labelled, { old })), []);
  });
});
