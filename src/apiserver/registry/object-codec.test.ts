import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyValue } from '../../storage/index.js';
import { encodeObject, rawMetadataChunks, TableRowCache } from './object-codec.js';

function kv(key: string, revision: number, obj: Record<string, unknown>): KeyValue {
  return {
    key,
    value: encodeObject(obj as never),
    createRevision: revision,
    modRevision: revision,
  };
}

const tricky = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'p',
    annotations: { q: 'a "}" b', b: 'x\\}\\', u: 'ü ✓ \u2028 {[', j: '{"a":[1,{"b":"}"}]}' },
    managedFields: [{ manager: 'm', fieldsV1: { 'f:spec': { 'f:x': {} } } }],
  },
  spec: { containers: [{ name: 'c', image: 'i' }] },
};

describe('object codec', () => {
  it('finds the metadata in the stored bytes, strings with braces, quotes and escapes included', () => {
    const chunks = rawMetadataChunks(kv('/k/p', 7, tricky));
    assert.ok(chunks);
    const meta = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
    assert.deepEqual(meta, { resourceVersion: '7', ...tricky.metadata });
    const empty = rawMetadataChunks(kv('/k/e', 3, { apiVersion: 'v1', kind: 'Pod', metadata: {} }));
    assert.deepEqual(JSON.parse(Buffer.concat(empty ?? []).toString()), { resourceVersion: '3' });
  });

  it('answers no metadata for bytes that are not in the canonical form', () => {
    const odd: KeyValue = {
      key: '/k/o',
      value: Buffer.from('{"kind":"Pod","apiVersion":"v1","metadata":{"name":"o"}}'),
      createRevision: 1,
      modRevision: 1,
    };
    assert.equal(rawMetadataChunks(odd), undefined);
  });

  it('keeps Table row sources by key and revision, without managedFields, bounded', () => {
    const cache = new TableRowCache(2);
    const a1 = cache.get(kv('/k/a', 1, tricky));
    assert.equal(a1.object.metadata.managedFields, undefined);
    assert.equal(a1.object.metadata.resourceVersion, '1');
    const meta = JSON.parse(Buffer.from(a1.metadataJson).toString()) as Record<string, unknown>;
    assert.deepEqual(meta['managedFields'], tricky.metadata.managedFields);
    assert.equal(cache.get(kv('/k/a', 1, tricky)), a1, 'same revision: the cached source');
    const a2 = cache.get(kv('/k/a', 2, tricky));
    assert.notEqual(a2, a1, 'a new revision is decoded again');
    assert.equal(a2.object.metadata.resourceVersion, '2');
    cache.get(kv('/k/b', 3, tricky));
    cache.get(kv('/k/c', 4, tricky));
    assert.equal(cache.size, 2);
    assert.notEqual(cache.get(kv('/k/a', 2, tricky)), a2, 'the oldest entry was evicted');
  });
});
