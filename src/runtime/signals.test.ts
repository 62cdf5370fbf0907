import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { isInvalid } from '../lib/index.js';
import { signalName, signalNumber } from './signals.js';

test('stop signals by name or number', () => {
  assert.equal(signalNumber('SIGTERM'), 15);
  assert.equal(signalNumber('term'), 15);
  assert.equal(signalNumber(' sigkill '), 9);
  assert.equal(signalNumber('9'), 9);
  assert.equal(signalNumber('SIGIOT'), 6);
  assert.equal(signalNumber('64'), 64);
  for (const bad of ['SIGNOPE', '0', '65', '', 'SIG']) {
    assert.throws(
      () => signalNumber(bad),
      (e: unknown) => isInvalid(e),
      bad,
    );
  }
});

test('the signal table agrees with the host kernel for every standard signal', () => {
  for (let n = 1; n <= 31; n++) {
    const name = signalName(n);
    assert.ok(name, `signal ${n} has a name`);
    assert.equal(constants.signals[name as NodeJS.Signals], n, name);
    assert.equal(signalNumber(name), n);
  }
  assert.equal(signalName(40), undefined);
});
