import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode } from '../lib/index.js';
import { compareKeys, prefixEnd, validateKey, validateStartKey } from './key-range.js';

describe('key ranges', () => {
  it('compareKeys orders keys by their UTF-8 bytes', () => {
    const keys = ['b', 'a', '', 'a\0', 'ab', '\uE000', '\u{1F600}', '\uFFFF', 'é', '\u07FF', '\u0800', 'Z'];
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...keys].sort(compareKeys), byBytes);
  });

  it('prefixEnd is the first string after every string with the prefix', () => {
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('/a/'), '/a0');
    assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
    assert.equal(prefixEnd('a\uD7FF'), 'a\uE000');
    assert.equal(prefixEnd('\u{10FFFF}'), undefined);
    const p = '/registry/pods/';
    const end = prefixEnd(p) as string;
    for (const k of [p, p + 'x', p + '\u{10FFFF}\u{10FFFF}', p + '\uFFFF'])
      assert.ok(compareKeys(k, end) < 0, k);
    for (const k of ['/registry/pods0', '/registry/podt', '/registry/pods/'.slice(0, -1) + '0']) {
      assert.ok(compareKeys(k, end) >= 0, k);
    }
  });

  it('validateKey rejects what no backend can store the same way', () => {
    for (const bad of ['', 'a\0b', 'x\uDC00', 'k'.repeat(5000), 42, undefined]) {
      assert.throws(
        () => validateKey(bad),
        (err) => errorCode(err) === 'BadRequest',
        String(bad),
      );
    }
    validateKey('/registry/pods/default/web-0');
    validateKey('/ünïcödé/😀');
  });

  it('validateStartKey allows the NUL that continue keys end with, but only under the prefix', () => {
    validateStartKey('/a/b\0', '/a/');
    assert.throws(() => validateStartKey('/b/', '/a/'), /does not start with the prefix/);
    assert.throws(
      () => validateStartKey('', '/a/'),
      (err) => errorCode(err) === 'BadRequest',
    );
  });
});
