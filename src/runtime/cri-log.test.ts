import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, appendFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, waitFor } from '../lib/index.js';
import {
  CriLogWriter,
  formatCriLogLine,
  formatCriTime,
  parseCriLogLine,
  parseCriTime,
  readCriLog,
  criLogLineMaxBytes,
} from './cri-log.js';
import type { LogLine } from './runtime-service.js';

const text = (l: LogLine): string => Buffer.from(l.content).toString();

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

describe('CRI log format', () => {
  it('formats and parses a record', () => {
    const line = {
      time: '2024-01-02T03:04:05.123456789Z',
      stream: 'stderr' as const,
      full: false,
      content: Buffer.from('a b c'),
    };
    const rec = formatCriLogLine(line);
    assert.equal(rec.toString(), '2024-01-02T03:04:05.123456789Z stderr P a b c\n');
    const back = parseCriLogLine(rec.subarray(0, rec.length - 1));
    assert.ok(back);
    assert.equal(back.stream, 'stderr');
    assert.equal(back.full, false);
    assert.equal(text(back), 'a b c');
  });

  it('parses empty content, tags with extras, and refuses garbage', () => {
    assert.equal(text(parseCriLogLine(Buffer.from('2024-01-02T03:04:05Z stdout F')) as LogLine), '');
    assert.equal(parseCriLogLine(Buffer.from('2024-01-02T03:04:05Z stdout F:x y'))?.full, true);
    assert.equal(parseCriLogLine(Buffer.from('not a log line')), undefined);
    assert.equal(parseCriLogLine(Buffer.from('2024-01-02T03:04:05Z stdin F x')), undefined);
    assert.equal(parseCriLogLine(Buffer.from('yesterday stdout F x')), undefined);
  });

  it('converts times to nanoseconds, with offsets and short fractions', () => {
    assert.equal(parseCriTime('1970-01-01T00:00:01.5Z'), 1_500_000_000);
    assert.equal(parseCriTime('1970-01-01T01:00:00+01:00'), 0);
    assert.ok(Number.isNaN(parseCriTime('1970-01-01 00:00:00')));
    assert.equal(formatCriTime(1500), '1970-01-01T00:00:01.500000000Z');
  });
});

describe('CRI log writer and reader', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'h8s-crilog-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('cuts long lines into partial records and keeps unterminated output as partial', async () => {
    const path = join(dir, 'cut.log');
    const w = new CriLogWriter({ path, clock: new ManualClock() });
    await w.write('stdout', Buffer.from('x'.repeat(criLogLineMaxBytes + 10) + '\nhello\nhalf'));
    await w.write('stderr', Buffer.from('err\n'));
    await w.close();
    const lines = await collect(readCriLog(path));
    assert.deepEqual(
      lines.map((l) => [l.stream, l.full, l.content.length]),
      [
        ['stdout', false, criLogLineMaxBytes],
        ['stdout', true, 10],
        ['stdout', true, 5],
        ['stderr', true, 3],
        ['stdout', false, 4],
      ],
    );
  });

  it('rotates by size and reads rotated files oldest first', async () => {
    const path = join(dir, 'rot.log');
    const w = new CriLogWriter({ path, maxBytes: 200, maxFiles: 3, clock: new ManualClock() });
    for (let i = 0; i < 20; i++) await w.write('stdout', Buffer.from(`line-${String(i).padStart(2, '0')}\n`));
    await w.close();
    const all = (await collect(readCriLog(path))).map(text);
    assert.ok(all.length < 20, 'the oldest file was dropped');
    assert.equal(all[all.length - 1], 'line-19');
    assert.deepEqual(all, [...all].sort(), 'in order across files');
    const tail = (await collect(readCriLog(path, { tailLines: 7 }))).map(text);
    assert.deepEqual(tail, all.slice(-7));
  });

  it('applies tail, since and limitBytes', async () => {
    const path = join(dir, 'opts.log');
    const recs = ['a', 'bb', 'ccc', 'dddd'].map((c, i) =>
      formatCriLogLine({
        time: formatCriTime(1000 * (i + 1)),
        stream: 'stdout',
        full: true,
        content: Buffer.from(c),
      }),
    );
    await writeFile(path, Buffer.concat(recs));
    assert.deepEqual((await collect(readCriLog(path, { tailLines: 2 }))).map(text), ['ccc', 'dddd']);
    assert.deepEqual((await collect(readCriLog(path, { tailLines: 0 }))).map(text), []);
    assert.deepEqual((await collect(readCriLog(path, { sinceNs: 3000 * 1e6 }))).map(text), ['ccc', 'dddd']);
    assert.deepEqual((await collect(readCriLog(path, { limitBytes: 4 }))).map(text), ['a', 'bb', 'c']);
  });

  it('follows appends and a rotation until the writer is done', async () => {
    const path = join(dir, 'follow.log');
    await writeFile(
      path,
      formatCriLogLine({ time: formatCriTime(1), stream: 'stdout', full: true, content: Buffer.from('one') }),
    );
    let live = true;
    const seen: string[] = [];
    const reader = (async () => {
      for await (const l of readCriLog(path, { follow: true, isLive: () => live, pollMs: 10 }))
        seen.push(text(l));
    })();
    const rec = (s: string) =>
      formatCriLogLine({ time: formatCriTime(2), stream: 'stdout', full: true, content: Buffer.from(s) });
    await appendFile(path, rec('two'));
    await waitFor(() => seen.includes('two'), { timeoutMs: 5000 });
    await rename(path, `${path}.1`);
    await writeFile(path, rec('three'));
    await waitFor(() => seen.includes('three'), { timeoutMs: 5000 });
    live = false;
    await reader;
    assert.deepEqual(seen, ['one', 'two', 'three']);
  });

  it('skips corrupt records', async () => {
    const path = join(dir, 'bad.log');
    await writeFile(path, `garbage\n${'z'.repeat(100)}\n2024-01-02T03:04:05Z stdout F ok\n`);
    assert.deepEqual((await collect(readCriLog(path))).map(text), ['ok']);
    assert.equal((await readFile(path, 'utf8')).length > 0, true);
  });
});
