import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalid } from '../../lib/index.js';
import {
  findQuantity,
  parseQuantity,
  quantityFromNumber,
  quantityMilliValue,
  quantityValue,
} from './quantity.js';

describe('parseQuantity', () => {
  it('parses SI, binary and exponent suffixes', () => {
    assert.equal(parseQuantity('100m'), 0.1);
    assert.equal(parseQuantity('1'), 1);
    assert.equal(parseQuantity('1.5'), 1.5);
    assert.equal(parseQuantity('2k'), 2000);
    assert.equal(parseQuantity('128Mi'), 128 * 1024 * 1024);
    assert.equal(parseQuantity('1Gi'), 2 ** 30);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity('-1'), -1);
    assert.equal(parseQuantity('.5'), 0.5);
    assert.equal(parseQuantity(2), 2);
  });

  it('rejects malformed quantities', () => {
    for (const q of ['', 'abc', '1.2.3', '1Mb', '1 Gi', 'Mi', '1ee3']) {
      assert.equal(findQuantity(q), undefined, q);
    }
    assert.throws(
      () => parseQuantity('12x'),
      (e: Error) => isInvalid(e),
    );
  });

  it('rounds up milli values and byte values like upstream', () => {
    assert.equal(quantityMilliValue('100m'), 100);
    assert.equal(quantityMilliValue('0.1'), 100);
    assert.equal(quantityMilliValue('1'), 1000);
    assert.equal(quantityMilliValue('1n'), 1);
    assert.equal(quantityValue('1.5'), 2);
    assert.equal(quantityValue('64Mi'), 67108864);
  });

  it('renders JSON numbers as quantity strings', () => {
    assert.equal(quantityFromNumber(1), '1');
    assert.equal(quantityFromNumber(0.5), '500m');
    assert.equal(quantityFromNumber(0.0005), '500u');
  });
});
