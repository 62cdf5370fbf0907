/**
 * The LeaseLock contract as a test suite, run against the memory fake (unit tests) and the
 * real Lease lock on a real `h8s server` (integration tests).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAlreadyExists, isConflict } from '../../lib/index.js';
import type { LeaderElectionRecord, LeaseLock } from '../lease-lock.js';

/** Two locks on the same (initially absent) lease. */
export interface LeaseLockPair {
  readonly a: LeaseLock;
  readonly b: LeaseLock;
}

const record = (holder: string, transitions = 0): LeaderElectionRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: '2026-01-01T00:00:00.000000Z',
  renewTime: '2026-01-01T00:00:01.000000Z',
  leaseTransitions: transitions,
});

export function runLeaseLockConformance(name: string, makePair: () => Promise<LeaseLockPair>): void {
  describe(`LeaseLock conformance: ${name}`, () => {
    it('answers undefined for a lease that does not exist', async () => {
      const { a } = await makePair();
      assert.equal(await a.get(), undefined);
    });

    it('creates a lease that the other lock then sees, and refuses a second create', async () => {
      const { a, b } = await makePair();
      const rv = await a.create(record('a'));
      assert.ok(rv !== '');
      const seen = await b.get();
      assert.equal(seen?.record.holderIdentity, 'a');
      assert.equal(seen?.record.leaseDurationSeconds, 15);
      assert.equal(seen?.record.renewTime, '2026-01-01T00:00:01.000000Z');
      assert.equal(seen?.resourceVersion, rv);
      await assert.rejects(b.create(record('b')), isAlreadyExists);
    });

    it('updates with the current resourceVersion and refuses a stale one', async () => {
      const { a, b } = await makePair();
      const rv1 = await a.create(record('a'));
      const rv2 = await b.update(record('b', 1), rv1);
      assert.notEqual(rv2, rv1);
      await assert.rejects(a.update(record('a', 2), rv1), isConflict);
      const seen = await a.get();
      assert.equal(seen?.record.holderIdentity, 'b');
      assert.equal(seen?.record.leaseTransitions, 1);
      assert.equal(seen?.resourceVersion, rv2);
    });

    it('keeps an empty holder (a released lease)', async () => {
      const { a } = await makePair();
      const rv = await a.create(record('a'));
      await a.update({ ...record(''), leaseDurationSeconds: 1 }, rv);
      const seen = await a.get();
      assert.equal(seen?.record.holderIdentity, '');
      assert.equal(seen?.record.leaseDurationSeconds, 1);
    });
  });
}
