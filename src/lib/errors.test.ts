import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  H8sError,
  conflict,
  describeError,
  errorCode,
  httpStatusFor,
  internal,
  isConflict,
  isGone,
  isNotFound,
  notFound,
} from './errors.js';

describe('errors', () => {
  it('predicates find a code through a chain of causes', () => {
    const root = notFound('Key "/a" not found');
    const wrapped = internal('Cannot read pod', { cause: new Error('outer', { cause: root }) });
    assert.equal(isNotFound(root), true);
    assert.equal(isNotFound(new Error('plain', { cause: root })), true);
    // The first H8sError in the chain decides: an InternalError that wraps a NotFound is internal.
    assert.equal(isNotFound(wrapped), false);
    assert.equal(errorCode(wrapped), 'InternalError');
    assert.equal(isConflict(conflict('x')), true);
    assert.equal(isNotFound(undefined), false);
    assert.equal(isNotFound('NotFound'), false);
  });

  it('maps every reason to the HTTP status Kubernetes uses', () => {
    assert.equal(httpStatusFor('NotFound'), 404);
    assert.equal(httpStatusFor('Invalid'), 422);
    assert.equal(httpStatusFor('Expired'), 410);
    assert.equal(isGone(new H8sError('Expired', 'too old')), true);
    assert.equal(new H8sError('Conflict', 'x').httpStatus, 409);
  });

  it('describes an error with its causes on one line without repeats', () => {
    const err = internal('Cannot start pod "web"', { cause: new Error('qemu exited') });
    assert.equal(describeError(err), 'Cannot start pod "web": qemu exited');
  });
});
