import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBadRequest } from '../../../lib/index.js';
import { matchesFieldSelector, parseFieldSelector } from './field-selector.js';

describe('parseFieldSelector', () => {
  it('parses =, == and != terms', () => {
    assert.deepEqual(parseFieldSelector('spec.nodeName=n1,status.phase!=Failed,metadata.name==web'), [
      { field: 'spec.nodeName', operator: '=', value: 'n1' },
      { field: 'status.phase', operator: '!=', value: 'Failed' },
      { field: 'metadata.name', operator: '=', value: 'web' },
    ]);
    assert.deepEqual(parseFieldSelector('spec.nodeName='), [
      { field: 'spec.nodeName', operator: '=', value: '' },
    ]);
    assert.deepEqual(parseFieldSelector(''), []);
  });

  it('unescapes values', () => {
    assert.deepEqual(parseFieldSelector('a=x\\,y\\=z'), [{ field: 'a', operator: '=', value: 'x,y=z' }]);
  });

  it('rejects terms without an operator', () => {
    assert.throws(
      () => parseFieldSelector('spec.nodeName'),
      (e: Error) => isBadRequest(e),
    );
  });

  it('matches through a field getter', () => {
    const reqs = parseFieldSelector('status.phase!=Succeeded,spec.nodeName=n1');
    const get = (f: string) => ({ 'status.phase': 'Running', 'spec.nodeName': 'n1' })[f] ?? '';
    assert.ok(matchesFieldSelector(reqs, get));
    assert.ok(!matchesFieldSelector(parseFieldSelector('spec.nodeName=n2'), get));
  });
});
