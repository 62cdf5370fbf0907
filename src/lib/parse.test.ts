import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { parseWith, pointerToFieldPath } from './parse.js';
import { findH8sError, isInvalid } from './errors.js';

describe('parseWith', () => {
  const Podfile = Type.Object(
    { id: Type.String({ minLength: 1 }), containers: Type.Array(Type.Object({ image: Type.String() })) },
    { additionalProperties: false },
  );

  it('returns a typed value for valid input', () => {
    const v = parseWith(Podfile, { id: 'web', containers: [{ image: 'busybox' }] }, 'pod file');
    assert.equal(v.containers[0]?.image, 'busybox');
  });

  it('throws Invalid with field paths for bad input', () => {
    assert.throws(
      () => parseWith(Podfile, { id: 'web', containers: [{ image: 3 }] }, 'pod file "x.json"'),
      (err: Error) => {
        assert.ok(isInvalid(err));
        assert.match(err.message, /Invalid pod file "x.json": containers\[0\]\.image/);
        assert.ok(findH8sError(err)?.details.causes?.some((c) => c.field === 'containers[0].image'));
        return true;
      },
    );
  });

  it('turns JSON pointers into Kubernetes field paths', () => {
    assert.equal(pointerToFieldPath('/spec/containers/0/image'), 'spec.containers[0].image');
    assert.equal(pointerToFieldPath('/metadata/labels/a~1b'), 'metadata.labels.a/b');
  });
});
