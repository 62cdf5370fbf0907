import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCode, nullLogger } from '../../lib/index.js';
import { openKeyValueStore } from '../index.js';
import { runKeyValueStoreConformance, WatchReader } from '../testing/key-value-store-conformance.js';

runKeyValueStoreConformance('memory', async () => {
  const store = await openKeyValueStore('memory://', { log: nullLogger });
  return { store, cleanup: () => store.close() };
});

describe('memory store options', () => {
  it('watchQueueEvents bounds a live watch queue', async () => {
    const store = await openKeyValueStore('memory://?watchQueueEvents=5', { log: nullLogger });
    try {
      const w = new WatchReader(store.watch('/k/'));
      for (let i = 0; i < 6; i++) await store.create(`/k/${i}`, new Uint8Array([i]));
      await assert.rejects(w.next(), (err) => errorCode(err) === 'Expired');
    } finally {
      await store.close();
    }
  });

  it('a watch from far back replays a long history page by page, then goes live', async () => {
    const store = await openKeyValueStore('memory://', { log: nullLogger });
    try {
      const start = await store.currentRevision();
      for (let i = 0; i < 3000; i++) {
        await store.create(i % 7 === 0 ? `/rare/${i}` : `/busy/${i}`, new Uint8Array([1]));
      }
      // The consumer reads slowly, but a replay never overflows: pages are read on demand.
      const rare = new WatchReader(store.watch('/rare/', { fromRevision: start }));
      const events = await rare.events(Math.ceil(3000 / 7));
      assert.deepEqual(
        events.map((e) => e.kv.key),
        Array.from({ length: 3000 }, (_, i) => i)
          .filter((i) => i % 7 === 0)
          .map((i) => `/rare/${i}`),
      );
      const live = await store.create('/rare/live', new Uint8Array([2]));
      assert.equal((await rare.events(1))[0]?.revision, live.revision);
      await rare.close();
    } finally {
      await store.close();
    }
  });
});
