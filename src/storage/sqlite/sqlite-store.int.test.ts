import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { errorCode, ManualClock, nullLogger, waitFor } from '../../lib/index.js';
import { openKeyValueStore, type KeyValueStore } from '../index.js';
import { runKeyValueStoreConformance, WatchReader } from '../testing/key-value-store-conformance.js';

runKeyValueStoreConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'h8s-sqlite-'));
  const store = await openKeyValueStore(`sqlite://${dir}/state.db`, { log: nullLogger });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (v: Uint8Array): string => Buffer.from(v).toString();
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('sqlite store files', () => {
  let dir: string;
  const open: KeyValueStore[] = [];
  const openStore = async (path: string, query = ''): Promise<KeyValueStore> => {
    const s = await openKeyValueStore(`sqlite://${path}${query}`, { log: nullLogger });
    open.push(s);
    return s;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'h8s-sqlite-files-'));
  });
  after(async () => {
    for (const s of open) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A closed store with some history, ready to be copied and damaged. */
  async function makeStore(name: string): Promise<string> {
    const path = join(dir, name, 'state.db');
    const s = await openStore(path);
    for (let i = 0; i < 300; i++) await s.create(`/registry/pods/default/p${i}`, Buffer.alloc(2000, i % 256));
    await s.close();
    return path;
  }

  it('keeps keys, revisions and history across a reopen', async () => {
    const path = join(dir, 'reopen', 'state.db');
    const a = await openStore(path);
    const c = await a.create('/k/a', bytes('1'));
    assert.ok(c.ok);
    const u = await a.update('/k/a', bytes('2'), c.revision);
    assert.ok(u.ok);
    const d = await a.create('/k/b', bytes('b'));
    assert.ok(d.ok);
    await a.delete('/k/b', 0);
    const rev = await a.currentRevision();
    await a.close();

    const b = await openStore(path);
    assert.equal(await b.currentRevision(), rev);
    assert.equal(text((await b.get('/k/a')).value), '2');
    assert.equal(await b.find('/k/b'), undefined);
    assert.equal(text((await b.get('/k/a', { revision: c.revision })).value), '1');
    const w = new WatchReader(b.watch('/k/', { fromRevision: c.revision }));
    const events = await w.events(3);
    assert.deepEqual(
      events.map((e) => [e.type, e.kv.key, text(e.prev?.value ?? new Uint8Array())]),
      [
        ['put', '/k/a', '1'],
        ['put', '/k/b', ''],
        ['delete', '/k/b', 'b'],
      ],
    );
    await w.close();
    const next = await b.create('/k/c', bytes('c'));
    assert.ok(next.ok);
    assert.equal(next.revision, rev + 1);
  });

  it('a store whose newest write is a delete keeps its revision after compaction and reopen', async () => {
    const path = join(dir, 'head-tombstone', 'state.db');
    const a = await openStore(path);
    await a.create('/k/a', bytes('1'));
    const d = await a.delete('/k/a', 0);
    assert.ok(d.ok);
    await a.compact(d.revision);
    await a.close();
    const b = await openStore(path);
    assert.equal(await b.currentRevision(), d.revision);
    const n = await b.create('/k/a', bytes('again'));
    assert.ok(n.ok);
    assert.equal(n.revision, d.revision + 1);
  });

  it('compaction removes superseded rows and tombstones from the file', async () => {
    const path = join(dir, 'compact', 'state.db');
    const s = await openStore(path);
    let r = await s.create('/k/hot', bytes('0'));
    for (let i = 1; i <= 2500; i++) {
      r = await s.update('/k/hot', bytes(String(i)), 0);
    }
    for (let i = 0; i < 50; i++) {
      await s.create(`/k/tmp${i}`, bytes('x'));
      await s.delete(`/k/tmp${i}`, 0);
    }
    await s.create('/k/last', bytes('last'));
    await s.compact(await s.currentRevision());
    assert.equal(text((await s.get('/k/hot')).value), '2500');
    assert.ok(r.ok);
    await s.close();
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT COUNT(*) FROM log').pluck().get() as number;
      assert.equal(rows, 2, 'only the live versions of /k/hot and /k/last may remain');
    } finally {
      db.close();
    }
  });

  it('refuses a second opener of the same file with ServiceUnavailable', async () => {
    const path = join(dir, 'locked', 'state.db');
    const first = await openStore(path);
    await first.create('/k/a', bytes('x'));
    await assert.rejects(openKeyValueStore(`sqlite://${path}`, { log: nullLogger }), (err: Error) => {
      assert.equal(errorCode(err), 'ServiceUnavailable');
      assert.match(err.message, /in use by another process/);
      assert.ok(err.message.includes(path));
      return true;
    });
    assert.equal(text((await first.get('/k/a')).value), 'x');
  });

  const damages: [string, (path: string) => void, RegExp][] = [
    [
      'truncated to half',
      (p) => truncateSync(p, Math.floor(statSync(p).size / 2)),
      /corrupt or truncated|corrupt/,
    ],
    [
      'truncated by one page',
      (p) => truncateSync(p, statSync(p).size - 4096),
      /corrupt or truncated|corrupt/,
    ],
    ['truncated to zero bytes', (p) => truncateSync(p, 0), /file is empty/],
    [
      'overwritten in the middle',
      (p) => {
        const buf = readFileSync(p);
        for (let i = 0; i < 8192; i++) buf[Math.floor(buf.length / 2) + i] = (i * 7919) & 0xff;
        writeFileSync(p, buf);
      },
      /corrupt/,
    ],
    [
      'given a garbage header',
      (p) => {
        const buf = readFileSync(p);
        buf.fill(0x41, 0, 100);
        writeFileSync(p, buf);
      },
      /not an SQLite database/,
    ],
  ];
  for (const [what, damage, message] of damages) {
    it(`a database file ${what} fails at start-up naming the file and is left as it was`, async () => {
      const path = await makeStore(`damaged-${what.replace(/\W+/g, '-')}`);
      damage(path);
      const before = sha(path);
      const filesBefore = readdirSync(join(path, '..')).sort();
      await assert.rejects(openKeyValueStore(`sqlite://${path}`, { log: nullLogger }), (err: Error) => {
        assert.equal(errorCode(err), 'InternalError', String(err));
        assert.ok(err.message.includes(`"${path}"`), `the message must name the file: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
      assert.equal(sha(path), before, 'the damaged file must not be changed');
      assert.deepEqual(readdirSync(join(path, '..')).sort(), filesBefore, 'no files may be added or removed');
    });
  }

  it('an SQLite file that is not an h8s store is refused', async () => {
    const path = join(dir, 'foreign.db');
    const db = new Database(path);
    db.exec('CREATE TABLE t (x)');
    db.close();
    const before = sha(path);
    await assert.rejects(openKeyValueStore(`sqlite://${path}`, { log: nullLogger }), /not an h8s store/);
    assert.equal(sha(path), before);
  });

  it('a leftover -wal without its database is refused instead of starting empty', async () => {
    const path = join(dir, 'orphan', 'state.db');
    const src = await makeStore('orphan-src');
    mkdirSync(join(path, '..'));
    copyFileSync(src, path + '-wal');
    await assert.rejects(openKeyValueStore(`sqlite://${path}`, { log: nullLogger }), (err: Error) => {
      assert.match(err.message, /database file is missing but/);
      return true;
    });
    assert.equal(existsSync(path), false);
  });

  it('reopens a store after a crash that left a hot WAL', async () => {
    // Simulate a crash: copy the files of a store that is still open (its WAL not checkpointed).
    const live = await openStore(join(dir, 'hot-wal-live', 'state.db'));
    for (let i = 0; i < 50; i++) await live.create(`/k/${i}`, bytes(String(i)));
    const crashed = join(dir, 'hot-wal-copy', 'state.db');
    mkdirSync(join(crashed, '..'));
    copyFileSync(join(dir, 'hot-wal-live', 'state.db'), crashed);
    copyFileSync(join(dir, 'hot-wal-live', 'state.db-wal'), crashed + '-wal');
    const s = await openStore(crashed);
    assert.equal((await s.list('/k/')).count, 50);
  });

  it('a new store removes the leftovers of a creation cut short, and nothing else', async () => {
    const sub = join(dir, 'stale-init');
    mkdirSync(sub);
    writeFileSync(join(sub, 'state.db.init-0badc0de'), 'half a store');
    writeFileSync(join(sub, 'state.db.init-0badc0de-wal'), 'x');
    writeFileSync(join(sub, 'other.db.init-0badc0de'), 'not ours');
    await openStore(join(sub, 'state.db'));
    assert.deepEqual(readdirSync(sub).sort(), [
      'other.db.init-0badc0de',
      'state.db',
      'state.db-shm',
      'state.db-wal',
      'state.db.lock',
    ]);
  });

  it('rejects bad URLs and options with BadRequest', async () => {
    const bad = [
      'sqlite://relative/state.db',
      `sqlite://${dir}/x.db?synchronous=sometimes`,
      `sqlite://${dir}/x.db?unknown=1`,
      `sqlite://${dir}/x.db?compactIntervalMs=-5`,
      `sqlite://${dir}/`,
      'mysql://localhost/db',
      'not a url',
    ];
    for (const url of bad) {
      await assert.rejects(openKeyValueStore(url, { log: nullLogger }), (err: Error) => {
        assert.equal(errorCode(err), 'BadRequest', `${url}: ${String(err)}`);
        return true;
      });
    }
    assert.equal(existsSync(join(dir, 'x.db')), false);
  });

  it('synchronous=normal is accepted and stores data', async () => {
    const s = await openStore(join(dir, 'normal', 'state.db'), '?synchronous=normal');
    const r = await s.create('/k/a', bytes('x'));
    assert.ok(r.ok);
  });

  it('compacts itself periodically, keeping the configured window', async () => {
    const clock = new ManualClock();
    const path = join(dir, 'periodic', 'state.db');
    const s = await openKeyValueStore(
      `sqlite://${path}?compactIntervalMs=1000&compactKeepRevisions=10&compactKeepMs=5000`,
      { log: nullLogger, clock },
    );
    open.push(s);
    for (let i = 0; i < 30; i++) await s.create(`/k/${i}`, bytes('x'));
    const sampled = await s.currentRevision();
    clock.advance(1000); // first sample: (t=1s, sampled)
    await waitFor(async () => (await s.currentRevision()) === sampled && clock.pendingTimers > 0, {
      timeoutMs: 5000,
    });
    for (let i = 30; i < 60; i++) await s.create(`/k/${i}`, bytes('x'));
    assert.equal(await s.compactedRevision(), 0, 'nothing is old enough yet');
    for (let t = 0; t < 5; t++) {
      clock.advance(1000);
      await waitFor(() => clock.pendingTimers > 0, { timeoutMs: 5000 });
    }
    // The sample taken at t=1s is now 5 s old: compact to it (it is also >= 10 behind the head).
    await waitFor(async () => (await s.compactedRevision()) === sampled, { timeoutMs: 5000 });
    await assert.rejects(s.get('/k/0', { revision: sampled - 1 }), (err) => errorCode(err) === 'Expired');
    assert.equal((await s.list('/k/')).count, 60);
  });
});
