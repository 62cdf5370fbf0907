import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from './clock.js';
import { Backoff } from './backoff.js';

describe('ManualClock', () => {
  it('fires timers in order only when advanced', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 200);
    clock.setTimeout(() => fired.push('a'), 100);
    const c = clock.setTimeout(() => fired.push('c'), 150);
    c.cancel();
    clock.advance(99);
    assert.deepEqual(fired, []);
    clock.advance(101);
    assert.deepEqual(fired, ['a', 'b']);
    assert.equal(clock.now(), 200);
  });

  it('resolves sleeps when time passes and rejects them on abort', async () => {
    const clock = new ManualClock(0);
    const p = clock.sleep(50);
    clock.advance(50);
    await p;
    const ac = new AbortController();
    const q = clock.sleep(50, ac.signal);
    ac.abort(new Error('stopped'));
    await assert.rejects(q, /stopped/);
  });
});

describe('Backoff', () => {
  it('doubles up to the cap and resets', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 50 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [10, 20, 40, 50]);
    b.reset();
    assert.equal(b.next(), 10);
  });
});
