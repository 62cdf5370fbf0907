import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findDuplicateFields } from './duplicate-fields.js';

describe('findDuplicateFields', () => {
  it('finds repeated keys with their paths', () => {
    const text =
      '{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"image":"x","image":"y"}]},"spec2":1,"spec2":2}';
    assert.deepEqual(findDuplicateFields(text), ['metadata.name', 'spec.containers[0].image', 'spec2']);
  });

  it('ignores the same key in different objects and keys inside strings', () => {
    const text =
      '{"a":{"k":1},"b":{"k":2},"c":"{\\"k\\":1,\\"k\\":2}","d":[{"k":1},{"k":2}],"e\\"":1,"e\\u0022":2}';
    assert.deepEqual(findDuplicateFields(text), ['e"']);
  });

  it('handles nesting and empty containers', () => {
    assert.deepEqual(findDuplicateFields('{"a":[],"b":{},"c":[[{"x":1,"x":1}]]}'), ['c[0][0].x']);
    assert.deepEqual(findDuplicateFields('[1,2,3]'), []);
  });
});
