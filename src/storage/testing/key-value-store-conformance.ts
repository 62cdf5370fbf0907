/**
 * The one conformance suite of the KeyValueStore contract (STYLE.md example 9). Every backend
 * (memory, sqlite, etcd) runs it; a fake that other modules write passes it too.
 *
 *   runKeyValueStoreConformance('sqlite', async () => ({ store, cleanup }));
 *
 * `open` is called once per test and must return a store with the default options. Stores may
 * share a server (etcd) between tests: every test works under its own random key prefix and
 * checks revisions relative to the revision it started at.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  bestEffort,
  createLogger,
  errorCode,
  isGone,
  textLineSink,
  type ErrorCode,
} from '../../lib/index.js';
import type {
  KeyValue,
  KeyValueStore,
  WatchEvent,
  WatchProgress,
  WatchStream,
  WriteResult,
} from '../index.js';

export interface OpenedStore {
  readonly store: KeyValueStore;
  /** Closes the store (if the test did not) and removes what `open` created. */
  readonly cleanup: () => Promise<void>;
}

const encoder = new TextEncoder();
/** Where clean-up failures go: the test's stderr, so they are seen. */
const cleanupLog = createLogger({
  level: 'debug',
  sink: textLineSink((line) => process.stderr.write(line + '\n')),
});
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (v: Uint8Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

function ok(r: WriteResult): Extract<WriteResult, { ok: true }> {
  if (!r.ok) assert.fail(`expected the write to succeed, got ${r.reason} at revision ${r.revision}`);
  return r;
}

function failed(r: WriteResult): Extract<WriteResult, { ok: false }> {
  if (r.ok) assert.fail(`expected the write to fail, got success at revision ${r.revision}`);
  return r;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode | 'Gone', what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    if (code === 'Gone') assert.ok(isGone(err), `${what}: expected Gone/Expired, got ${String(err)}`);
    else assert.equal(errorCode(err), code, `${what}: expected ${code}, got ${String(err)}`);
    return true;
  });
}

/** Reads items from a watch with a deadline so a missing event fails the test instead of hanging it. */
export class WatchReader {
  readonly #it: AsyncIterator<WatchEvent | WatchProgress>;
  constructor(stream: WatchStream) {
    this.#it = stream[Symbol.asyncIterator]();
  }

  async next(timeoutMs = 10_000): Promise<IteratorResult<WatchEvent | WatchProgress>> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.#it.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`No watch item within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next `n` events, skipping progress notifications. */
  async events(n: number, timeoutMs = 15_000): Promise<WatchEvent[]> {
    const out: WatchEvent[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < n) {
      const r = await this.next(Math.max(1, deadline - Date.now()));
      if (r.done) assert.fail(`watch ended after ${out.length} of ${n} events`);
      if (r.value.type !== 'progress') out.push(r.value);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

function assertConsecutive(revisions: readonly number[], what: string): void {
  for (let i = 1; i < revisions.length; i++) {
    assert.equal(
      revisions[i],
      (revisions[i - 1] as number) + 1,
      `${what}: revisions ${revisions.join(',')} have a gap or are out of order at index ${i}`,
    );
  }
}

/** Runs the whole contract against the backend that `open` returns. */
export function runKeyValueStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`KeyValueStore conformance: ${name}`, () => {
    let opened: OpenedStore | undefined;
    let store: KeyValueStore;
    let p: string; // this test's key prefix
    const readers: WatchReader[] = [];
    const watchOf = (prefix: string, options?: Parameters<KeyValueStore['watch']>[1]): WatchReader => {
      const r = new WatchReader(store.watch(prefix, options));
      readers.push(r);
      return r;
    };

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
      p = `/conformance/${randomBytes(4).toString('hex')}/`;
    });

    afterEach(async () => {
      for (const r of readers.splice(0)) await bestEffort(cleanupLog, 'close a watch reader', r.close());
      await opened?.cleanup();
      opened = undefined;
    });

    describe('reads and writes', () => {
      it('get throws NotFound and find returns undefined for a missing key', async () => {
        await rejectsWith(store.get(p + 'missing'), 'NotFound', 'get');
        assert.equal(await store.find(p + 'missing'), undefined);
      });

      it('create stores a key at the next revision and refuses an existing key', async () => {
        const before = await store.currentRevision();
        const r = ok(await store.create(p + 'a', bytes('one')));
        assert.equal(r.revision, before + 1);
        assert.equal(r.kv.key, p + 'a');
        assert.equal(text(r.kv.value), 'one');
        assert.equal(r.kv.createRevision, r.revision);
        assert.equal(r.kv.modRevision, r.revision);
        assert.equal(r.prev, undefined);
        const got = await store.get(p + 'a');
        assert.deepEqual(
          { ...got, value: text(got.value) },
          { key: p + 'a', value: 'one', createRevision: r.revision, modRevision: r.revision },
        );

        const again = failed(await store.create(p + 'a', bytes('two')));
        assert.equal(again.reason, 'exists');
        assert.equal(again.current?.modRevision, r.revision);
        assert.equal(text(again.current?.value ?? new Uint8Array()), 'one');
        assert.equal(await store.currentRevision(), r.revision, 'a failed create must not use a revision');
      });

      it('update is a compare-and-swap on modRevision', async () => {
        const c = ok(await store.create(p + 'k', bytes('v1')));
        const u = ok(await store.update(p + 'k', bytes('v2'), c.revision));
        assert.equal(u.revision, c.revision + 1);
        assert.equal(u.kv.createRevision, c.revision);
        assert.equal(u.kv.modRevision, u.revision);
        assert.equal(text(u.prev?.value ?? new Uint8Array()), 'v1');
        assert.equal(u.prev?.modRevision, c.revision);

        const stale = failed(await store.update(p + 'k', bytes('v3'), c.revision));
        assert.equal(stale.reason, 'conflict');
        assert.equal(stale.current?.modRevision, u.revision);
        assert.equal(text(stale.current?.value ?? new Uint8Array()), 'v2');
        assert.equal(stale.revision, u.revision);

        const any = ok(await store.update(p + 'k', bytes('v4'), 0));
        assert.equal(any.revision, u.revision + 1);
        assert.equal(text((await store.get(p + 'k')).value), 'v4');

        const missing = failed(await store.update(p + 'nope', bytes('x'), 0));
        assert.equal(missing.reason, 'notFound');
        const missing2 = failed(await store.update(p + 'nope', bytes('x'), 5));
        assert.equal(missing2.reason, 'notFound');
        assert.equal(await store.currentRevision(), any.revision);
      });

      it('delete is a compare-and-swap and carries the previous value', async () => {
        const c = ok(await store.create(p + 'd', bytes('doomed')));
        const wrong = failed(await store.delete(p + 'd', c.revision + 100));
        assert.equal(wrong.reason, 'conflict');
        assert.equal(wrong.current?.modRevision, c.revision);

        const d = ok(await store.delete(p + 'd', c.revision));
        assert.equal(d.revision, c.revision + 1);
        assert.equal(d.kv.key, p + 'd');
        assert.equal(d.kv.modRevision, d.revision);
        assert.equal(d.kv.value.byteLength, 0);
        assert.equal(text(d.prev?.value ?? new Uint8Array()), 'doomed');
        assert.equal(d.prev?.modRevision, c.revision);
        assert.equal(d.prev?.createRevision, c.revision);
        assert.equal(await store.find(p + 'd'), undefined);

        const gone = failed(await store.delete(p + 'd', 0));
        assert.equal(gone.reason, 'notFound');

        ok(await store.create(p + 'e', bytes('x')));
        const any = ok(await store.delete(p + 'e', 0));
        assert.equal(text(any.prev?.value ?? new Uint8Array()), 'x');
      });

      it('a key created again after a delete has a new createRevision', async () => {
        const c1 = ok(await store.create(p + 'r', bytes('1')));
        ok(await store.delete(p + 'r', 0));
        const c2 = ok(await store.create(p + 'r', bytes('2')));
        assert.equal(c2.kv.createRevision, c2.revision);
        assert.ok(c2.revision > c1.revision);
        assert.equal(c2.prev, undefined);
      });

      it('revisions increase by exactly one per successful write and failed writes use none', async () => {
        const start = await store.currentRevision();
        const revs: number[] = [];
        revs.push(ok(await store.create(p + 'a', bytes('1'))).revision);
        failed(await store.create(p + 'a', bytes('1')));
        revs.push(ok(await store.create(p + 'b', bytes('1'))).revision);
        failed(await store.update(p + 'a', bytes('2'), 1));
        revs.push(ok(await store.update(p + 'a', bytes('2'), 0)).revision);
        failed(await store.delete(p + 'zzz', 0));
        revs.push(ok(await store.delete(p + 'b', 0)).revision);
        revs.push(ok(await store.create(p + 'b', bytes('3'))).revision);
        assert.equal(revs[0], start + 1);
        assertConsecutive(revs, 'sequential writes');
        assert.equal(await store.currentRevision(), start + 5);
      });

      it('stores and returns values of 1.5 MiB byte for byte', async () => {
        const big = randomBytes(1.5 * 1024 * 1024);
        const big2 = randomBytes(1.5 * 1024 * 1024);
        const w = store.watch(p, {});
        const reader = new WatchReader(w);
        readers.push(reader);
        const c = ok(await store.create(p + 'big', big));
        assert.ok(sameBytes((await store.get(p + 'big')).value, big));
        const u = ok(await store.update(p + 'big', big2, c.revision));
        assert.ok(u.prev && sameBytes(u.prev.value, big));
        const listed = await store.list(p);
        assert.equal(listed.items.length, 1);
        assert.ok(sameBytes((listed.items[0] as KeyValue).value, big2));
        const [e1, e2] = await reader.events(2);
        assert.ok(e1 && sameBytes(e1.kv.value, big));
        assert.ok(e2 && sameBytes(e2.kv.value, big2) && e2.prev && sameBytes(e2.prev.value, big));
        const d = ok(await store.delete(p + 'big', 0));
        assert.ok(d.prev && sameBytes(d.prev.value, big2));
      });

      it('stores empty values and binary values', async () => {
        ok(await store.create(p + 'empty', new Uint8Array(0)));
        assert.equal((await store.get(p + 'empty')).value.byteLength, 0);
        const bin = new Uint8Array([0, 255, 1, 254, 0]);
        ok(await store.create(p + 'bin', bin));
        assert.ok(sameBytes((await store.get(p + 'bin')).value, bin));
      });

      it('a value changed by the caller after a write does not change the store', async () => {
        const v = bytes('original');
        ok(await store.create(p + 'm', v));
        v[0] = 0x58;
        assert.equal(text((await store.get(p + 'm')).value), 'original');
      });

      it('keys with non-ASCII characters round-trip', async () => {
        const keys = [p + 'ünïcödé', p + '名前', p + 'emoji-😀', p + 'space key'];
        for (const k of keys) ok(await store.create(k, bytes(k)));
        for (const k of keys) assert.equal(text((await store.get(k)).value), k);
      });
    });

    describe('bad arguments', () => {
      it('rejects empty keys, bad revisions and non-byte values with BadRequest', async () => {
        await rejectsWith(store.get(''), 'BadRequest', 'get ""');
        await rejectsWith(store.create('', bytes('x')), 'BadRequest', 'create ""');
        await rejectsWith(
          store.create(p + 'x', 'text' as unknown as Uint8Array),
          'BadRequest',
          'create string value',
        );
        await rejectsWith(store.update(p + 'x', bytes('x'), -1), 'BadRequest', 'update -1');
        await rejectsWith(store.delete(p + 'x', 1.5), 'BadRequest', 'delete 1.5');
        await rejectsWith(store.get(p + 'x', { revision: -3 }), 'BadRequest', 'get at -3');
        await rejectsWith(store.list(p, { limit: -1 }), 'BadRequest', 'list limit -1');
        await rejectsWith(
          store.list(p, { startKey: '/elsewhere/' }),
          'BadRequest',
          'startKey outside prefix',
        );
        await rejectsWith(store.create(p + 'bad\uD800', bytes('x')), 'BadRequest', 'lone surrogate');
        await rejectsWith(store.create(p + 'x'.repeat(5000), bytes('x')), 'BadRequest', 'key too long');
        assert.equal(await store.find(p + 'x'), undefined);
      });

      it('rejects a value above the size limit with RequestEntityTooLarge', async () => {
        await rejectsWith(
          store.create(p + 'huge', new Uint8Array(9 * 1024 * 1024)),
          'RequestEntityTooLarge',
          'create 9 MiB',
        );
        assert.equal(await store.find(p + 'huge'), undefined);
      });

      it('a read at a future revision answers Timeout', async () => {
        const cur = await store.currentRevision();
        await rejectsWith(store.get(p + 'a', { revision: cur + 1000 }), 'Timeout', 'get in the future');
        await rejectsWith(store.list(p, { revision: cur + 1000 }), 'Timeout', 'list in the future');
        await rejectsWith(store.compact(cur + 1000), 'Timeout', 'compact in the future');
      });
    });

    describe('lists', () => {
      it('lists keys under a prefix in byte order, not beyond the prefix', async () => {
        // U+E000 sorts before U+1F600 in UTF-8 byte order but after it in UTF-16 order.
        const keys = ['b', 'a', 'a/1', 'a0', '\uE000', '\u{1F600}', 'A', 'é'];
        for (const k of keys) ok(await store.create(p + 'x/' + k, bytes(k)));
        ok(await store.create(p + 'x', bytes('not under x/')));
        ok(await store.create(p + 'x0', bytes('not under x/')));
        const r = await store.list(p + 'x/');
        const expected = [...keys]
          .map((k) => Buffer.from(k))
          .sort(Buffer.compare)
          .map((b) => b.toString());
        assert.deepEqual(
          r.items.map((i) => i.key.slice((p + 'x/').length)),
          expected,
        );
        assert.equal(r.count, keys.length);
        assert.equal(r.more, false);
        assert.equal(r.revision, await store.currentRevision());
        for (const i of r.items) assert.equal(text(i.value), i.key.slice((p + 'x/').length));
      });

      it('an empty prefix result still reports the current revision', async () => {
        const r = await store.list(p + 'nothing/');
        assert.deepEqual(r.items, []);
        assert.equal(r.count, 0);
        assert.equal(r.more, false);
        assert.equal(r.revision, await store.currentRevision());
      });

      it('limit, startKey, more, count and countOnly', async () => {
        for (let i = 0; i < 10; i++) ok(await store.create(`${p}k${i}`, bytes(String(i))));
        ok(await store.delete(`${p}k5`, 0));
        const first = await store.list(p, { limit: 4 });
        assert.deepEqual(
          first.items.map((i) => i.key.slice(p.length)),
          ['k0', 'k1', 'k2', 'k3'],
        );
        assert.equal(first.more, true);
        assert.equal(first.count, 9);
        const second = await store.list(p, { limit: 4, startKey: `${p}k4`, revision: first.revision });
        assert.deepEqual(
          second.items.map((i) => i.key.slice(p.length)),
          ['k4', 'k6', 'k7', 'k8'],
        );
        assert.equal(second.more, true);
        assert.equal(second.count, 5);
        const last = await store.list(p, { limit: 4, startKey: `${p}k9`, revision: first.revision });
        assert.deepEqual(
          last.items.map((i) => i.key.slice(p.length)),
          ['k9'],
        );
        assert.equal(last.more, false);
        const exact = await store.list(p, { limit: 9 });
        assert.equal(exact.items.length, 9);
        assert.equal(exact.more, false);
        const counted = await store.list(p, { countOnly: true });
        assert.equal(counted.count, 9);
        assert.deepEqual(counted.items, []);
        // The key after "k3" as the apiserver computes a continue key: last key + "\0".
        const afterK3 = await store.list(p, { startKey: `${p}k3\0`, limit: 1 });
        assert.deepEqual(
          afterK3.items.map((i) => i.key.slice(p.length)),
          ['k4'],
        );
      });

      it('lists and gets at a past revision see the state as it was', async () => {
        const a1 = ok(await store.create(p + 'a', bytes('a1')));
        ok(await store.create(p + 'b', bytes('b1')));
        const then = await store.currentRevision();
        ok(await store.update(p + 'a', bytes('a2'), a1.revision));
        ok(await store.delete(p + 'b', 0));
        ok(await store.create(p + 'c', bytes('c1')));

        const past = await store.list(p, { revision: then });
        assert.equal(past.revision, then);
        assert.deepEqual(
          past.items.map((i) => [i.key.slice(p.length), text(i.value)]),
          [
            ['a', 'a1'],
            ['b', 'b1'],
          ],
        );
        assert.equal(text((await store.get(p + 'a', { revision: then })).value), 'a1');
        assert.equal(await store.find(p + 'c', { revision: then }), undefined);
        assert.equal(await store.find(p + 'b'), undefined);
        const now = await store.list(p);
        assert.deepEqual(
          now.items.map((i) => [i.key.slice(p.length), text(i.value)]),
          [
            ['a', 'a2'],
            ['c', 'c1'],
          ],
        );
        assert.equal(text((await store.get(p + 'a', { revision: a1.revision })).value), 'a1');
      });

      it('paging at a fixed revision is stable while writes continue', async () => {
        const n = 60;
        for (let i = 0; i < n; i++)
          ok(await store.create(`${p}item-${String(i).padStart(3, '0')}`, bytes(`v${i}`)));
        const first = await store.list(p, { limit: 7 });
        const rev = first.revision;
        const seen = [...first.items];
        let more = first.more;
        let round = 0;
        while (more) {
          // Churn between pages: new keys before and after the cursor, updates, deletes.
          round++;
          ok(await store.create(`${p}item-${String(round).padStart(3, '0')}-new`, bytes('new')));
          ok(await store.create(`${p}zzz-${round}`, bytes('new')));
          ok(await store.update(`${p}item-${String(n - round).padStart(3, '0')}`, bytes('changed'), 0));
          ok(await store.delete(`${p}item-${String(n - round - 20).padStart(3, '0')}`, 0));
          const last = seen[seen.length - 1] as KeyValue;
          const page = await store.list(p, { limit: 7, revision: rev, startKey: last.key + '\0' });
          assert.equal(page.revision, rev);
          seen.push(...page.items);
          more = page.more;
        }
        assert.equal(seen.length, n);
        assert.deepEqual(
          seen.map((i) => [i.key, text(i.value)]),
          Array.from({ length: n }, (_, i) => [`${p}item-${String(i).padStart(3, '0')}`, `v${i}`]),
        );
        assert.ok((await store.list(p)).count > n);
      });
    });

    describe('concurrency', () => {
      it('many concurrent writers on one key: exactly one wins per revision', async () => {
        const key = p + 'counter';
        const c = ok(await store.create(key, bytes('0')));
        const writers = 8;
        const winsEach = 8;
        const wins: WriteResult[] = [];
        let conflicts = 0;
        await Promise.all(
          Array.from({ length: writers }, async () => {
            let mine = 0;
            while (mine < winsEach) {
              const cur = await store.get(key);
              const next = String(Number(text(cur.value)) + 1);
              const r = await store.update(key, bytes(next), cur.modRevision);
              if (r.ok) {
                mine++;
                wins.push(r);
              } else {
                assert.equal(r.reason, 'conflict');
                assert.ok(r.current && r.current.modRevision !== cur.modRevision);
                conflicts++;
              }
            }
          }),
        );
        const final = await store.get(key);
        assert.equal(text(final.value), String(writers * winsEach), 'no update may be lost');
        const revs = wins.map((w) => w.revision).sort((a, b) => a - b);
        assert.equal(new Set(revs).size, revs.length, 'two writers won the same revision');
        assert.equal(revs[0], c.revision + 1);
        assertConsecutive(revs, 'winning updates');
        for (const w of wins) {
          assert.ok(w.ok && w.prev);
          assert.equal(w.prev.modRevision + 1, w.revision, 'each win must build on the previous revision');
        }
        assert.equal(final.modRevision, revs[revs.length - 1]);
        assert.ok(conflicts >= 0);
      });

      it('concurrent creates of one key: exactly one succeeds', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.create(p + 'once', bytes(String(i)))),
        );
        const winners = results.filter((r) => r.ok);
        assert.equal(winners.length, 1);
        for (const r of results) if (!r.ok) assert.equal(r.reason, 'exists');
      });

      it('concurrent writes to many keys get distinct revisions without gaps', async () => {
        const start = await store.currentRevision();
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => store.create(`${p}k${i}`, bytes(String(i)))),
        );
        const revs = results.map((r) => ok(r).revision).sort((a, b) => a - b);
        assert.equal(revs[0], start + 1);
        assertConsecutive(revs, 'concurrent creates');
        assert.equal(await store.currentRevision(), start + 100);
      });
    });

    describe('watch', () => {
      it('delivers every event under the prefix in revision order without gaps', async () => {
        const w = watchOf(p);
        const other = ok(await store.create('/elsewhere' + p, bytes('not mine')));
        const start = other.revision;
        const results = await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const key = `${p}k${i % 10}`;
            const r = await store.create(key, bytes(`c${i}`));
            if (r.ok) return r;
            return store.update(key, bytes(`u${i}`), 0);
          }),
        );
        const n = results.filter((r) => r.ok).length;
        const events = await w.events(n);
        assert.equal(events[0]?.revision, start + 1);
        assertConsecutive(
          events.map((e) => e.revision),
          'watch events',
        );
        for (const e of events) {
          assert.equal(e.kv.modRevision, e.revision);
          assert.ok(e.kv.key.startsWith(p));
        }
        await store.delete('/elsewhere' + p, 0);
      });

      it('carries the new state on creates and the previous state on updates and deletes', async () => {
        const w = watchOf(p);
        const c = ok(await store.create(p + 'a', bytes('v1')));
        const u = ok(await store.update(p + 'a', bytes('v2'), c.revision));
        const d = ok(await store.delete(p + 'a', u.revision));
        const [ec, eu, ed] = await w.events(3);
        assert.ok(ec && eu && ed);
        assert.equal(ec.type, 'put');
        assert.equal(ec.kv.createRevision, c.revision);
        assert.equal(ec.kv.modRevision, c.revision);
        assert.equal(text(ec.kv.value), 'v1');
        assert.equal(ec.prev, undefined);

        assert.equal(eu.type, 'put');
        assert.equal(eu.revision, u.revision);
        assert.equal(eu.kv.createRevision, c.revision);
        assert.equal(text(eu.kv.value), 'v2');
        assert.equal(text(eu.prev?.value ?? new Uint8Array()), 'v1');
        assert.equal(eu.prev?.modRevision, c.revision);

        assert.equal(ed.type, 'delete');
        assert.equal(ed.revision, d.revision);
        assert.equal(ed.kv.key, p + 'a');
        assert.equal(ed.kv.modRevision, d.revision);
        assert.equal(ed.kv.value.byteLength, 0);
        assert.equal(text(ed.prev?.value ?? new Uint8Array()), 'v2');
        assert.equal(ed.prev?.modRevision, u.revision);
      });

      it('resumes from a revision: replays history, then follows live writes', async () => {
        const revs: number[] = [];
        for (let i = 0; i < 10; i++)
          revs.push(ok(await store.create(`${p}k${i}`, bytes(String(i)))).revision);
        ok(await store.update(`${p}k2`, bytes('changed'), 0));
        ok(await store.delete(`${p}k3`, 0));
        const from = revs[4] as number;
        const w = watchOf(p, { fromRevision: from });
        const replayed = await w.events(7);
        assert.equal(replayed[0]?.revision, from + 1);
        assertConsecutive(
          replayed.map((e) => e.revision),
          'replayed events',
        );
        const upd = replayed[5];
        assert.equal(upd?.kv.key, `${p}k2`);
        assert.equal(
          text(upd?.prev?.value ?? new Uint8Array()),
          '2',
          'a replayed update carries its previous value',
        );
        const del = replayed[6];
        assert.equal(del?.type, 'delete');
        assert.equal(
          text(del?.prev?.value ?? new Uint8Array()),
          '3',
          'a replayed delete carries its previous value',
        );
        const live = ok(await store.create(`${p}live`, bytes('live')));
        const [e] = await w.events(1);
        assert.equal(e?.revision, live.revision);
        assert.equal(e?.revision, (del?.revision ?? 0) + 1);
      });

      it('a watch without fromRevision sees only later writes', async () => {
        ok(await store.create(p + 'before', bytes('x')));
        const w = watchOf(p);
        const after = ok(await store.create(p + 'after', bytes('y')));
        const [e] = await w.events(1);
        assert.equal(e?.kv.key, p + 'after');
        assert.equal(e?.revision, after.revision);
      });

      it('a watch on a prefix does not see keys outside it', async () => {
        const w = watchOf(p + 'in/');
        ok(await store.create(p + 'out', bytes('x')));
        ok(await store.create(p + 'in', bytes('x')));
        const r = ok(await store.create(p + 'in/yes', bytes('x')));
        const [e] = await w.events(1);
        assert.equal(e?.kv.key, p + 'in/yes');
        assert.equal(e?.revision, r.revision);
      });

      it('many watchers on one prefix each get every event', async () => {
        const ws = Array.from({ length: 20 }, () => watchOf(p));
        const rs: number[] = [];
        for (let i = 0; i < 5; i++) rs.push(ok(await store.create(`${p}k${i}`, bytes('x'))).revision);
        for (const w of ws)
          assert.deepEqual(
            (await w.events(5)).map((e) => e.revision),
            rs,
          );
      });

      it('ends when its signal aborts and when the consumer breaks out', async () => {
        const ac = new AbortController();
        const stream = store.watch(p, { signal: ac.signal });
        const it = stream[Symbol.asyncIterator]();
        const pending = it.next();
        ac.abort();
        assert.equal((await pending).done, true);

        const stream2 = store.watch(p);
        const r = ok(await store.create(p + 'x', bytes('1')));
        for await (const e of stream2) {
          assert.equal(e.revision, r.revision);
          break;
        }
        // The store keeps working after watchers went away.
        ok(await store.create(p + 'y', bytes('2')));
      });

      it('sends progress notifications when idle, at or after the latest revision', async () => {
        const w = watchOf(p + 'quiet/', { progressIntervalMs: 100 });
        const r = ok(await store.create(p + 'noise', bytes('x')));
        const deadline = Date.now() + 20_000;
        for (;;) {
          const item = await w.next(Math.max(1, deadline - Date.now()));
          assert.equal(item.done, false);
          const v = item.value as WatchEvent | WatchProgress;
          assert.equal(v.type, 'progress', 'no events are expected under the quiet prefix');
          if (v.revision >= r.revision) break;
        }
      });

      it('a watcher that does not keep up is ended with Gone instead of buffering without bound', async () => {
        // 48 events of 1.5 MiB exceed the default watch queue of 64 MiB.
        const slow = store.watch(p);
        const fast = watchOf(p);
        const value = randomBytes(1.5 * 1024 * 1024);
        const n = 48;
        const fastEvents = fast.events(n, 60_000);
        let last = 0;
        for (let i = 0; i < n; i++) last = ok(await store.create(`${p}big-${i}`, value)).revision;
        const got = await fastEvents;
        assert.equal(got[n - 1]?.revision, last);
        let delivered = 0;
        await assert.rejects(
          (async () => {
            for await (const e of slow) {
              void e;
              delivered++;
            }
          })(),
          (err: unknown) => {
            assert.equal(errorCode(err), 'Expired', `expected Expired, got ${String(err)}`);
            return true;
          },
        );
        assert.ok(delivered < n, `the slow watcher got all ${n} events`);
        const after = watchOf(p);
        const r = ok(await store.create(`${p}after`, bytes('x')));
        assert.equal((await after.events(1))[0]?.revision, r.revision);
      });
    });

    describe('compaction', () => {
      it('reads and watches below the compacted revision answer Gone (Expired)', async () => {
        const a = ok(await store.create(p + 'a', bytes('a1')));
        const a2 = ok(await store.update(p + 'a', bytes('a2'), a.revision));
        ok(await store.create(p + 'b', bytes('b1')));
        const del = ok(await store.delete(p + 'b', 0));
        const at = await store.currentRevision();
        ok(await store.update(p + 'a', bytes('a3'), a2.revision));
        await store.compact(at);
        assert.ok((await store.compactedRevision()) >= at);

        await rejectsWith(store.get(p + 'a', { revision: a.revision }), 'Gone', 'get below compaction');
        await rejectsWith(store.list(p, { revision: a.revision }), 'Gone', 'list below compaction');
        await assert.rejects(
          store.list(p, { revision: a.revision }),
          (err: unknown) => errorCode(err) === 'Expired',
        );
        const w = watchOf(p, { fromRevision: a.revision });
        await assert.rejects(w.next(), (err: unknown) => {
          assert.equal(errorCode(err), 'Expired', `expected Expired, got ${String(err)}`);
          return true;
        });

        // The state at the compacted revision itself is still readable, and watchable from it.
        const atList = await store.list(p, { revision: at });
        assert.deepEqual(
          atList.items.map((i) => [i.key.slice(p.length), text(i.value)]),
          [['a', 'a2']],
        );
        assert.equal(del.revision <= at, true);
        const fromAt = watchOf(p, { fromRevision: at });
        const [e] = await fromAt.events(1);
        assert.equal(text(e?.kv.value ?? new Uint8Array()), 'a3');
        assert.equal(
          text(e?.prev?.value ?? new Uint8Array()),
          'a2',
          'prev of the first event after compaction',
        );
        assert.equal(text((await store.get(p + 'a')).value), 'a3');
      });

      it('compacting at or below the compacted revision is a no-op', async () => {
        ok(await store.create(p + 'a', bytes('1')));
        const at = await store.currentRevision();
        await store.compact(at);
        const compacted = await store.compactedRevision();
        await store.compact(at - 1);
        await store.compact(at);
        assert.equal(await store.compactedRevision(), compacted);
        ok(await store.update(p + 'a', bytes('2'), 0));
        assert.equal(text((await store.get(p + 'a')).value), '2');
      });

      it('compaction keeps every live key and the ability to write on', async () => {
        for (let i = 0; i < 30; i++) ok(await store.create(`${p}k${i}`, bytes(`v${i}`)));
        for (let i = 0; i < 30; i += 2) ok(await store.update(`${p}k${i}`, bytes(`w${i}`), 0));
        for (let i = 0; i < 30; i += 3) ok(await store.delete(`${p}k${i}`, 0));
        const before = await store.list(p);
        await store.compact(await store.currentRevision());
        const after = await store.list(p);
        assert.deepEqual(
          after.items.map((i) => [i.key, text(i.value), i.createRevision, i.modRevision]),
          before.items.map((i) => [i.key, text(i.value), i.createRevision, i.modRevision]),
        );
        const r = ok(await store.create(`${p}k0`, bytes('again')));
        // etcd records the compaction under a reserved key, which takes one revision.
        assert.ok(r.revision > before.revision);
        assert.equal(r.revision, await store.currentRevision());
      });
    });

    describe('close', () => {
      it('ends open watches and fails later calls with ServiceUnavailable', async () => {
        const w = store.watch(p);
        const it = w[Symbol.asyncIterator]();
        const pending = it.next();
        await store.close();
        await assert.rejects(pending, (err: unknown) => {
          assert.equal(
            errorCode(err),
            'ServiceUnavailable',
            `expected ServiceUnavailable, got ${String(err)}`,
          );
          return true;
        });
        await rejectsWith(store.get(p + 'a'), 'ServiceUnavailable', 'get after close');
        await rejectsWith(store.create(p + 'a', bytes('x')), 'ServiceUnavailable', 'create after close');
        await store.close();
      });
    });
  });
}
