/**
 * `npm run bench:store`: the store on SQLite against a local single-member etcd, at the same
 * durability (SQLite `synchronous=FULL` fsyncs every commit; etcd fsyncs its WAL on every
 * commit), on the same disk, in one run. Rounds alternate between the backends and each figure
 * is the median of its rounds, so load from other work on the machine hits both alike.
 *
 * Figures: sequential durable writes/s (one writer); concurrent writes/s (256 writers: group
 * commit for SQLite, etcd's own batching); time to list 10,000 keys; watch fan-out to 100
 * watchers (events delivered/s and p99 delivery latency). Also, for SQLite: the event-loop
 * stall during group commit, and `synchronous=normal` sequential writes.
 *
 * Targets (docs/benchmarks.md): SQLite at least as fast as etcd for single-node writes, and at
 * least 5,000 writes/s with group commit.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { setMaxListeners } from 'node:events';
import { createLogger, createRateLimitedLogger, nullLogger, textLineSink } from '../src/lib/index.js';
import { type KeyValueStore, openKeyValueStore } from '../src/storage/index.js';
import { type EtcdCluster, startEtcd } from '../src/storage/testing/etcd-harness.js';

const rounds = 3;
const slices = 8;
const sliceMs = 300;
const valueBytes = 1024;
const concurrentWriters = 256;
const listKeys = 10_000;
const watchers = 100;
const fanOutWrites = 1000;

interface Backend {
  readonly name: string;
  readonly store: KeyValueStore;
}

// Warnings from the stores (etcd stream resumes, failed compactions) explain odd figures.
const log = createRateLimitedLogger(
  createLogger({ level: 'warn', sink: textLineSink((line) => process.stderr.write(line)) }),
  { burst: 5, windowMs: 10_000 },
);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

function value(): Uint8Array {
  const v = new Uint8Array(valueBytes);
  v.fill(0x61);
  return v;
}

/** One writer, one durable write at a time, for `ms`; returns [writes, elapsed ms]. */
async function sequentialWrites(store: KeyValueStore, tag: string, ms: number): Promise<[number, number]> {
  const v = value();
  const started = performance.now();
  const end = started + ms;
  let n = 0;
  while (performance.now() < end) {
    const r = await store.create(`/bench/seq/${tag}/${n}`, v);
    if (!r.ok) throw new Error(`create failed: ${r.reason}`);
    n++;
  }
  return [n, performance.now() - started];
}

/** `concurrentWriters` writers in parallel for `ms`; returns [writes, elapsed ms]. */
async function concurrentWrites(store: KeyValueStore, tag: string, ms: number): Promise<[number, number]> {
  const v = value();
  const started = performance.now();
  const end = started + ms;
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrentWriters }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const r = await store.create(`/bench/par/${tag}/${w}/${i}`, v);
        if (!r.ok) throw new Error(`create failed: ${r.reason}`);
        n++;
      }
    }),
  );
  return [n, performance.now() - started];
}

/**
 * Runs `phase` on every backend in turns of `sliceMs` (so a change in machine load hits all of
 * them alike) and returns each backend's rate in operations per second.
 */
async function interleaved(
  backends: readonly Backend[],
  phase: (store: KeyValueStore, tag: string, ms: number) => Promise<[number, number]>,
  tag: string,
  onSlice?: (backend: string, start: boolean) => void,
): Promise<Record<string, number>> {
  const ops: Record<string, number> = {};
  const time: Record<string, number> = {};
  for (let slice = 0; slice < slices; slice++) {
    for (const b of backends) {
      onSlice?.(b.name, true);
      const [n, ms] = await phase(b.store, `${tag}-${slice}`, sliceMs);
      onSlice?.(b.name, false);
      ops[b.name] = (ops[b.name] ?? 0) + n;
      time[b.name] = (time[b.name] ?? 0) + ms;
    }
  }
  return Object.fromEntries(backends.map((b) => [b.name, ((ops[b.name] ?? 0) / (time[b.name] ?? 1)) * 1000]));
}

async function fill(store: KeyValueStore, prefix: string, count: number): Promise<void> {
  const v = value();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrentWriters }, async () => {
      for (let i = next++; i < count; i = next++) {
        const r = await store.create(`${prefix}${String(i).padStart(6, '0')}`, v);
        if (!r.ok) throw new Error(`create failed: ${r.reason}`);
      }
    }),
  );
}

/** Milliseconds to list every key under a prefix holding `listKeys` keys (values included). */
async function listTime(store: KeyValueStore, prefix: string): Promise<number> {
  const started = performance.now();
  const r = await store.list(prefix);
  const ms = performance.now() - started;
  if (r.items.length !== listKeys) throw new Error(`listed ${r.items.length} keys, expected ${listKeys}`);
  return ms;
}

/** `watchers` watches on one prefix; 8 writers make `fanOutWrites` writes; delivery latency per event. */
async function fanOut(store: KeyValueStore, tag: string): Promise<{ eventsPerSec: number; p99Ms: number }> {
  const prefix = `/bench/watch/${tag}/`;
  const from = await store.currentRevision();
  const ac = new AbortController();
  setMaxListeners(watchers + 10, ac.signal);
  const latencies: number[] = [];
  let delivered = 0;
  const expected = watchers * fanOutWrites;
  let lastDelivery = 0;
  let resolveAll: () => void = () => {};
  const allDelivered = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const consumers = Array.from({ length: watchers }, async () => {
    let mine = 0;
    for await (const e of store.watch(prefix, { fromRevision: from, signal: ac.signal })) {
      if (e.type === 'progress') continue;
      const sentAt = Buffer.from(e.kv.value).readDoubleLE(0);
      const now = performance.now();
      latencies.push(now - sentAt);
      lastDelivery = now;
      delivered++;
      if (++mine === fanOutWrites) break;
    }
    if (delivered === expected) resolveAll();
  });
  // Let every watch get established before writing (etcd creates them over the network).
  await new Promise((resolve) => setTimeout(resolve, 500));
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < fanOutWrites; i = next++) {
        const v = Buffer.alloc(256);
        v.writeDoubleLE(performance.now(), 0);
        const r = await store.create(`${prefix}${i}`, v);
        if (!r.ok) throw new Error(`create failed: ${r.reason}`);
      }
    }),
  );
  const timer = setTimeout(() => ac.abort(), 60_000);
  await Promise.race([allDelivered, Promise.all(consumers)]);
  clearTimeout(timer);
  ac.abort();
  if (delivered !== expected) throw new Error(`delivered ${delivered} of ${expected} events`);
  latencies.sort((a, b) => a - b);
  return {
    eventsPerSec: (delivered / (lastDelivery - started)) * 1000,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] as number,
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function machineNotes(): string[] {
  const sqliteVersion = (() => {
    const db = new Database(':memory:');
    try {
      return db.prepare('SELECT sqlite_version()').pluck().get() as string;
    } finally {
      db.close();
    }
  })();
  let etcdVersion = 'unknown';
  try {
    etcdVersion =
      /etcd Version: (\S+)/.exec(execFileSync('etcd', ['--version']).toString())?.[1] ?? 'unknown';
  } catch {
    // reported as unknown
  }
  return [
    `date: ${new Date().toISOString()}`,
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, load average at start ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
    `node ${process.version}, SQLite ${sqliteVersion} (better-sqlite3), etcd ${etcdVersion}`,
    `value ${valueBytes} B; ${rounds} rounds per figure, median shown; within a round the backends take turns in ${slices} slices of ${sliceMs} ms`,
  ];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'h8s-bench-store-'));
  let etcd: EtcdCluster | undefined;
  const backends: Backend[] = [];
  try {
    for (const line of machineNotes()) console.log(line);
    const sqlite = await openKeyValueStore(`sqlite://${dir}/state.db?compactIntervalMs=0`, { log });
    const sqliteNormal = await openKeyValueStore(
      `sqlite://${dir}/normal.db?compactIntervalMs=0&synchronous=normal`,
      {
        log: nullLogger,
      },
    );
    etcd = await startEtcd({ dir: join(dir, 'etcd') });
    const etcdStore = await openKeyValueStore(`${etcd.url}?compactIntervalMs=0`, { log });
    backends.push({ name: 'sqlite', store: sqlite }, { name: 'etcd', store: etcdStore });

    const results: Record<string, Record<string, number[]>> = { sqlite: {}, etcd: {} };
    const record = (backend: string, metric: string, v: number): void => {
      ((results[backend] as Record<string, number[]>)[metric] ??= []).push(v);
    };

    const sqliteOnly: Backend[] = [
      { name: 'sqlite', store: sqlite },
      { name: 'sqliteNormal', store: sqliteNormal },
    ];
    for (let round = 0; round < rounds; round++) {
      const seq = await interleaved(backends, sequentialWrites, `r${round}`);
      for (const b of backends) record(b.name, 'seq', seq[b.name] as number);
      const normal = await interleaved(sqliteOnly, sequentialWrites, `n${round}`);
      record('sqlite', 'seqFullOnly', normal['sqlite'] as number);
      record('sqlite', 'seqNormal', normal['sqliteNormal'] as number);
      const delays: Record<string, ReturnType<typeof monitorEventLoopDelay>> = {};
      for (const b of backends) delays[b.name] = monitorEventLoopDelay({ resolution: 1 });
      const par = await interleaved(backends, concurrentWrites, `r${round}`, (name, start) => {
        if (start) delays[name]?.enable();
        else delays[name]?.disable();
      });
      for (const b of backends) {
        record(b.name, 'par', par[b.name] as number);
        record(b.name, 'loopP99', (delays[b.name]?.percentile(99) ?? 0) / 1e6);
        record(b.name, 'loopMax', (delays[b.name]?.max ?? 0) / 1e6);
      }
    }
    for (const b of backends) await fill(b.store, '/bench/list/', listKeys);
    for (let round = 0; round < rounds; round++) {
      for (const b of backends) record(b.name, 'list', await listTime(b.store, '/bench/list/'));
    }
    for (let round = 0; round < rounds; round++) {
      for (const b of backends) {
        const f = await fanOut(b.store, `r${round}`);
        record(b.name, 'fanOutRate', f.eventsPerSec);
        record(b.name, 'fanOutP99', f.p99Ms);
      }
    }

    const m = (backend: string, metric: string): number =>
      median((results[backend] as Record<string, number[]>)[metric] as number[]);
    const rows: [string, string, string, string][] = [
      [
        'sequential durable writes/s (1 writer)',
        fmt(m('sqlite', 'seq')),
        fmt(m('etcd', 'seq')),
        fmt(m('sqlite', 'seq') / m('etcd', 'seq'), 2),
      ],
      [
        `concurrent writes/s (${concurrentWriters} writers)`,
        fmt(m('sqlite', 'par')),
        fmt(m('etcd', 'par')),
        fmt(m('sqlite', 'par') / m('etcd', 'par'), 2),
      ],
      [
        `list ${fmt(listKeys)} keys, ms`,
        fmt(m('sqlite', 'list'), 1),
        fmt(m('etcd', 'list'), 1),
        fmt(m('sqlite', 'list') / m('etcd', 'list'), 2),
      ],
      [
        `watch fan-out to ${watchers} watchers, events/s`,
        fmt(m('sqlite', 'fanOutRate')),
        fmt(m('etcd', 'fanOutRate')),
        fmt(m('sqlite', 'fanOutRate') / m('etcd', 'fanOutRate'), 2),
      ],
      [
        'watch delivery latency p99, ms',
        fmt(m('sqlite', 'fanOutP99'), 1),
        fmt(m('etcd', 'fanOutP99'), 1),
        fmt(m('sqlite', 'fanOutP99') / m('etcd', 'fanOutP99'), 2),
      ],
    ];
    console.log('');
    console.log('| figure | sqlite | etcd | sqlite/etcd |');
    console.log('|---|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log('');
    console.log(
      `sqlite synchronous=normal sequential writes/s: ${fmt(m('sqlite', 'seqNormal'))} ` +
        `(${fmt(m('sqlite', 'seqNormal') / m('sqlite', 'seqFullOnly'), 1)}x synchronous=full in the same slices)`,
    );
    console.log(
      `event loop during ${concurrentWriters}-writer phase: sqlite p99 ${fmt(m('sqlite', 'loopP99'), 1)} ms, max ${fmt(m('sqlite', 'loopMax'), 1)} ms; ` +
        `etcd p99 ${fmt(m('etcd', 'loopP99'), 1)} ms, max ${fmt(m('etcd', 'loopMax'), 1)} ms`,
    );
    const seqOk = m('sqlite', 'seq') >= m('etcd', 'seq');
    const parOk = m('sqlite', 'par') >= 5000;
    console.log(`target sqlite >= etcd for sequential durable writes: ${seqOk ? 'met' : 'NOT MET'}`);
    console.log(`target sqlite >= 5,000 writes/s with group commit: ${parOk ? 'met' : 'NOT MET'}`);
    console.log(
      `load average at end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    await sqliteNormal.close();
  } finally {
    for (const b of backends) await b.store.close().catch(() => {});
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
