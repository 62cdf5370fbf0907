import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, isBadRequest } from '../lib/index.js';
import { createLeaderElector, toMicroTime, type LeaderElector } from './index.js';
import { MemoryLeaseStore } from './testing/memory-lease-lock.js';
import { runLeaseLockConformance } from './testing/lease-lock-conformance.js';

runLeaseLockConformance('memory', async () => {
  const store = new MemoryLeaseStore();
  return { a: store.lock('a'), b: store.lock('b') };
});

const settle = async (): Promise<void> => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

interface Candidate {
  elector: LeaderElector;
  ac: AbortController;
  running: Promise<void>;
  /** [start, end] monotonic ms of each leadership term. */
  terms: [number, number | undefined][];
  lock: ReturnType<MemoryLeaseStore['lock']>;
}

function candidate(store: MemoryLeaseStore, clock: ManualClock, identity: string): Candidate {
  const lock = store.lock(identity);
  const terms: [number, number | undefined][] = [];
  const ac = new AbortController();
  const elector = createLeaderElector({
    lock,
    identity,
    clock,
    random: () => 0,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: (signal) =>
      new Promise<void>((resolve) => {
        terms.push([clock.monotonicMs(), undefined]);
        signal.addEventListener('abort', () => {
          const t = terms[terms.length - 1];
          if (t) t[1] = clock.monotonicMs();
          resolve();
        });
      }),
  });
  return { elector, ac, running: elector.run(ac.signal), terms, lock };
}

async function advance(clock: ManualClock, ms: number, stepMs = 250): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(Math.min(stepMs, ms - t));
    await settle();
  }
}

function overlaps(a: [number, number | undefined][], b: [number, number | undefined][]): boolean {
  return a.some(([s1, e1]) => b.some(([s2, e2]) => s1 < (e2 ?? Infinity) && s2 < (e1 ?? Infinity)));
}

describe('leader election', () => {
  it('takes a free lease at once, renews it and releases it on shutdown', async () => {
    const clock = new ManualClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, 'a');
    await settle();
    assert.equal(a.elector.isLeader(), true);
    assert.equal(store.current?.record.holderIdentity, 'a');
    assert.equal(store.current?.record.leaseDurationSeconds, 15);
    assert.equal(store.current?.record.renewTime, toMicroTime(clock.now()));
    const firstRenew = store.current?.record.renewTime;
    await advance(clock, 2_000);
    assert.notEqual(store.current?.record.renewTime, firstRenew, 'renewed after one retry period');
    assert.equal(store.current?.record.acquireTime, firstRenew, 'acquireTime kept on renew');
    a.ac.abort();
    await a.running;
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.terms[0]?.[1], clock.monotonicMs(), 'work stopped');
    assert.equal(store.current?.record.holderIdentity, '', 'released');
  });

  it('keeps a second candidate waiting while the leader renews, and hands over on release', async () => {
    const clock = new ManualClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, 'a');
    await settle();
    const b = candidate(store, clock, 'b');
    await advance(clock, 60_000);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(b.elector.isLeader(), false);
    assert.equal(b.elector.leaderIdentity(), 'a');
    a.ac.abort();
    await a.running;
    await advance(clock, 2_000);
    assert.equal(b.elector.isLeader(), true, 'took the released lease within one retry period');
    assert.equal(store.current?.record.leaseTransitions, 1);
    assert.ok(!overlaps(a.terms, b.terms));
    b.ac.abort();
    await b.running;
  });

  it('steps down when it cannot renew, and the other takes over only after the lease expires', async () => {
    const clock = new ManualClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, 'a');
    await settle();
    const b = candidate(store, clock, 'b');
    await advance(clock, 4_000);
    const lastRenewByA = clock.monotonicMs();
    a.lock.failing = true;
    await advance(clock, 11_000);
    assert.equal(a.elector.isLeader(), false, 'stepped down after the renew deadline');
    assert.equal(b.elector.isLeader(), false, 'the lease has not expired yet');
    await advance(clock, 10_000);
    assert.equal(b.elector.isLeader(), true);
    const [bStart] = b.terms[0] ?? [0];
    assert.ok(bStart >= lastRenewByA + 15_000, 'not before a full lease duration after the last renewal');
    assert.ok(!overlaps(a.terms, b.terms), 'never two leaders at once');
    // A comes back and competes again, but B holds the lease now.
    a.lock.failing = false;
    await advance(clock, 30_000);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(b.elector.isLeader(), true);
    a.ac.abort();
    b.ac.abort();
    await Promise.all([a.running, b.running]);
  });

  it('survives a store outage shorter than the renew deadline', async () => {
    const clock = new ManualClock();
    const store = new MemoryLeaseStore();
    const a = candidate(store, clock, 'a');
    await settle();
    store.failing = true;
    await advance(clock, 6_000);
    store.failing = false;
    await advance(clock, 4_000);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(a.terms.length, 1, 'one uninterrupted term');
    a.ac.abort();
    await a.running;
  });

  it('refuses timings that could give two leaders', () => {
    const store = new MemoryLeaseStore();
    assert.throws(
      () =>
        createLeaderElector({
          lock: store.lock(),
          identity: 'a',
          leaseDurationMs: 10_000,
          renewDeadlineMs: 10_000,
          onStartedLeading: () => undefined,
        }),
      isBadRequest,
    );
  });
});
