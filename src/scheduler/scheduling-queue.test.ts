import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../lib/index.js';
import { SchedulingQueue } from './scheduling-queue.js';
import { testPod } from './testing/fixtures.js';

async function popNow(q: SchedulingQueue): Promise<string | undefined> {
  const ac = new AbortController();
  const p = q.pop(ac.signal).then(
    (i) => i.key,
    () => undefined,
  );
  await new Promise((r) => setImmediate(r));
  ac.abort();
  return p;
}

describe('SchedulingQueue', () => {
  it('hands out the highest priority first, then the oldest', async () => {
    const clock = new ManualClock();
    const q = new SchedulingQueue({ clock });
    q.add('a', testPod('a'), 0);
    clock.advance(1);
    q.add('b', testPod('b'), 10);
    clock.advance(1);
    q.add('c', testPod('c'), 0);
    clock.advance(1);
    q.add('d', testPod('d'), 10);
    assert.deepEqual(
      [await popNow(q), await popNow(q), await popNow(q), await popNow(q)],
      ['b', 'd', 'a', 'c'],
    );
    assert.equal(await popNow(q), undefined);
  });

  it('parks unschedulable pods until the cluster changes, then backs off 1 s doubling to 10 s', async () => {
    const clock = new ManualClock();
    const q = new SchedulingQueue({ clock });
    q.add('p', testPod('p'), 0);
    for (const wait of [1000, 2000, 4000, 8000, 10_000, 10_000]) {
      assert.equal(await popNow(q), 'p');
      q.unschedulable('p');
      assert.equal(await popNow(q), undefined, 'parked');
      q.moveAllUnschedulable();
      clock.advance(wait - 1);
      assert.equal(await popNow(q), undefined, `still backing off at ${wait - 1} ms`);
      clock.advance(1);
    }
    assert.equal(await popNow(q), 'p');
  });

  it('retries a pod whose cluster changed while it was being scheduled', async () => {
    const clock = new ManualClock();
    const q = new SchedulingQueue({ clock, initialBackoffMs: 100 });
    q.add('p', testPod('p'), 0);
    assert.equal(await popNow(q), 'p');
    q.moveAllUnschedulable(); // a node appeared mid-cycle
    q.unschedulable('p');
    clock.advance(100);
    assert.equal(await popNow(q), 'p');
  });

  it('flushes pods parked for five minutes and forgets deleted ones', async () => {
    const clock = new ManualClock();
    const q = new SchedulingQueue({ clock });
    q.add('p', testPod('p'), 0);
    q.add('gone', testPod('gone'), 0);
    assert.equal(await popNow(q), 'p');
    q.unschedulable('p');
    q.delete('gone');
    clock.advance(300_000);
    assert.equal(await popNow(q), undefined, 'in back-off after the flush');
    clock.advance(1000);
    assert.equal(await popNow(q), 'p');
    assert.equal(q.size, 1);
    q.done('p');
    assert.equal(q.size, 0);
  });

  it('wakes a waiting pop when a back-off ends', async () => {
    const clock = new ManualClock();
    const q = new SchedulingQueue({ clock, initialBackoffMs: 50 });
    q.add('p', testPod('p'), 0);
    const ac = new AbortController();
    assert.equal((await q.pop(ac.signal)).key, 'p');
    q.retryLater('p');
    const next = q.pop(ac.signal);
    await new Promise((r) => setImmediate(r));
    clock.advance(50);
    assert.equal((await next).key, 'p');
  });
});
