import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBadRequest, isInvalid } from '../../lib/index.js';
import { applyJsonPatch, jsonEqual } from './json-patch.js';

const doc = { metadata: { name: 'a', labels: { x: '1' } }, spec: { list: [1, 2, 3] } };

describe('JSON patch (RFC 6902)', () => {
  it('adds, replaces and removes values', () => {
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/metadata/labels/y', value: '2' },
      { op: 'replace', path: '/metadata/name', value: 'b' },
      { op: 'remove', path: '/metadata/labels/x' },
    ]);
    assert.deepEqual(out, { metadata: { name: 'b', labels: { y: '2' } }, spec: { list: [1, 2, 3] } });
    assert.deepEqual(doc.metadata.labels, { x: '1' }, 'the input is not modified');
  });

  it('inserts into arrays by index and appends with "-"', () => {
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/spec/list/0', value: 0 },
      { op: 'add', path: '/spec/list/-', value: 4 },
    ]) as typeof doc;
    assert.deepEqual(out.spec.list, [0, 1, 2, 3, 4]);
  });

  it('moves, copies and tests', () => {
    const out = applyJsonPatch(doc, [
      { op: 'copy', from: '/metadata/name', path: '/spec/copied' },
      { op: 'move', from: '/spec/list', path: '/spec/moved' },
      { op: 'test', path: '/spec/copied', value: 'a' },
    ]);
    assert.deepEqual(out, { metadata: doc.metadata, spec: { copied: 'a', moved: [1, 2, 3] } });
  });

  it('escapes ~0 and ~1 in pointers', () => {
    const out = applyJsonPatch({ a: { 'b/c': 1, 'd~e': 2 } }, [
      { op: 'replace', path: '/a/b~1c', value: 10 },
      { op: 'remove', path: '/a/d~0e' },
    ]);
    assert.deepEqual(out, { a: { 'b/c': 10 } });
  });

  it('answers Invalid when an operation cannot apply', () => {
    assert.throws(() => applyJsonPatch(doc, [{ op: 'remove', path: '/metadata/missing' }]), isInvalid);
    assert.throws(() => applyJsonPatch(doc, [{ op: 'replace', path: '/spec/list/9', value: 1 }]), isInvalid);
    assert.throws(
      () => applyJsonPatch(doc, [{ op: 'test', path: '/metadata/name', value: 'zzz' }]),
      isInvalid,
    );
    assert.throws(() => applyJsonPatch(doc, [{ op: 'add', path: '/nope/deeper', value: 1 }]), isInvalid);
  });

  it('answers BadRequest for a malformed patch document', () => {
    assert.throws(() => applyJsonPatch(doc, { op: 'add' }), isBadRequest);
    assert.throws(() => applyJsonPatch(doc, [{ op: 'frobnicate', path: '/a' }]), isBadRequest);
    assert.throws(() => applyJsonPatch(doc, [{ op: 'add', path: 'no-slash', value: 1 }]), isBadRequest);
    assert.throws(() => applyJsonPatch(doc, [{ op: 'add', path: '/a' }]), isBadRequest);
    assert.throws(() => applyJsonPatch(doc, [{ op: 'move', path: '/a' }]), isBadRequest);
  });

  it('compares JSON values regardless of key order', () => {
    assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
    assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!jsonEqual([1, 2], [2, 1]));
  });
});
