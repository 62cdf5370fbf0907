import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, nullLogger, waitFor } from '../lib/index.js';
import { CompactionScheduler } from './compaction-scheduler.js';

function fakeTarget() {
  const t = {
    current: 1,
    compacted: 0,
    calls: [] as number[],
    currentRevision: async () => t.current,
    compactedRevision: async () => t.compacted,
    compact: async (rev: number) => {
      t.calls.push(rev);
      t.compacted = rev;
    },
  };
  return t;
}

describe('CompactionScheduler', () => {
  it('compacts to the revision seen keepMs ago, never closer than keepRevisions to the head', async () => {
    const clock = new ManualClock();
    const target = fakeTarget();
    const s = new CompactionScheduler(
      target,
      { intervalMs: 1000, keepRevisions: 100, keepMs: 3000 },
      { clock, log: nullLogger },
    );
    target.current = 500;
    assert.equal(await s.tick(), undefined, 'nothing is 3 s old yet');
    clock.advance(1000);
    target.current = 900;
    assert.equal(await s.tick(), undefined);
    clock.advance(2000);
    target.current = 950;
    assert.equal(await s.tick(), 500, 'the sample from 3 s ago');
    clock.advance(1000);
    target.current = 960;
    assert.equal(await s.tick(), 860, 'limited by keepRevisions: the sample from 3 s ago is 900');
    clock.advance(5000);
    target.current = 1150;
    assert.equal(await s.tick(), 960, 'the newest sample at least 3 s old');
    assert.deepEqual(target.calls, [500, 860, 960]);
  });

  it('with keepMs 0 keeps only keepRevisions', async () => {
    const target = fakeTarget();
    const s = new CompactionScheduler(
      target,
      { intervalMs: 1000, keepRevisions: 10, keepMs: 0 },
      { clock: new ManualClock(), log: nullLogger },
    );
    target.current = 15;
    assert.equal(await s.tick(), 5);
    target.current = 12;
    assert.equal(await s.tick(), undefined, 'never moves backwards');
  });

  it('ticks on its interval and stops', async () => {
    const clock = new ManualClock();
    const target = fakeTarget();
    target.current = 50;
    const s = new CompactionScheduler(
      target,
      { intervalMs: 1000, keepRevisions: 10, keepMs: 0 },
      { clock, log: nullLogger },
    );
    s.start();
    clock.advance(1000);
    await waitFor(() => target.calls.length === 1, { timeoutMs: 2000 });
    assert.deepEqual(target.calls, [40]);
    await s.stop();
    clock.advance(10_000);
    assert.equal(clock.pendingTimers, 0);
  });

  it('an interval of 0 never compacts', () => {
    const clock = new ManualClock();
    const s = new CompactionScheduler(
      fakeTarget(),
      { intervalMs: 0, keepRevisions: 10, keepMs: 0 },
      { clock, log: nullLogger },
    );
    s.start();
    assert.equal(clock.pendingTimers, 0);
  });
});
