import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { findH8sError, isInvalid, nullLogger } from '../lib/index.js';
import { sha256Digest } from './digest.js';
import { layerTar } from './testing/index.js';
import { createUnpackBudget, unpackBudgetUsed } from './unpack-budget.js';
import { closeFd, openForFollow, type UnpackJobSpec } from './unpack-job.js';
import { UnpackPool } from './unpack-pool.js';

const tmps: string[] = [];
const pools: UnpackPool[] = [];
after(async () => {
  for (const p of pools) await p.close();
  for (const t of tmps) await rm(t, { recursive: true, force: true });
});

async function fresh(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'h8s-unpack-pool-'));
  tmps.push(dir);
  return dir;
}

function spec(dir: string, source: UnpackJobSpec['source']): UnpackJobSpec {
  return { source, compression: 'gzip', dir, mode: 'overlay', deviceNodes: 'skip', what: 'test layer' };
}

const goodTar = layerTar([
  { path: 'etc/' },
  { path: 'etc/motd', content: 'hello\n', mode: 0o644 },
  { path: 'big.bin', content: randomBytes(3_000_000) },
]);

/** A tar whose first entry escapes the root (hand-made, as an attacker would). */
function maliciousTar(): Buffer {
  const t = layerTar([{ path: 'xx/pwned', content: 'evil' }]);
  // rename the entry "xx/pwned" to "../pwned" in its header and fix the checksum
  t.write('../pwned\0', 0, 'latin1');
  t.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += t[i]!;
  t.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return t;
}

for (const size of [2, 0]) {
  const where = size === 0 ? 'in the calling thread' : 'in worker threads';
  describe(`unpack pool ${where}`, { concurrency: 1 }, () => {
    const pool = new UnpackPool({ size });
    pools.push(pool);

    it('unpacks a finished file and reports the diffID', async () => {
      const t = await fresh();
      await writeFile(join(t, 'layer.gz'), gzipSync(goodTar));
      await mkdir(join(t, 'out'));
      const r = await pool.run(spec(join(t, 'out'), { kind: 'file', path: join(t, 'layer.gz') }), {
        log: nullLogger,
      }).result;
      assert.equal(r.diffId, sha256Digest(goodTar));
      assert.equal(r.stats.files, 2);
      assert.equal(await readFile(join(t, 'out', 'etc', 'motd'), 'utf8'), 'hello\n');
    });

    it('refuses a malicious layer with a clear error, writes nothing outside, and keeps working', async () => {
      const t = await fresh();
      await writeFile(join(t, 'bad.gz'), gzipSync(maliciousTar()));
      await mkdir(join(t, 'root', 'out'), { recursive: true });
      await assert.rejects(
        pool.run(spec(join(t, 'root', 'out'), { kind: 'file', path: join(t, 'bad.gz') }), { log: nullLogger })
          .result,
        (err) => isInvalid(err) && /contains "\.\."/.test((err as Error).message),
      );
      assert.deepEqual(await readdir(join(t, 'root')), ['out']);
      // the same pool (and worker) still unpacks a good layer
      await writeFile(join(t, 'good.gz'), gzipSync(goodTar));
      await mkdir(join(t, 'out2'));
      const r = await pool.run(spec(join(t, 'out2'), { kind: 'file', path: join(t, 'good.gz') }), {
        log: nullLogger,
      }).result;
      assert.equal(r.diffId, sha256Digest(goodTar));
    });

    it("charges every job of an image to the image's one budget, whichever thread runs it", async () => {
      const t = await fresh();
      const MiB = 1024 * 1024;
      const budget = createUnpackBudget('image "two-layers:v1"', { maxBytes: 5 * MiB, maxEntries: 100 });
      const zeros = (name: string) => layerTar([{ path: name, content: Buffer.alloc(3 * MiB) }]);
      await writeFile(join(t, 'one.gz'), gzipSync(zeros('one')));
      await writeFile(join(t, 'two.gz'), gzipSync(zeros('two')));
      await mkdir(join(t, 'out1'));
      await mkdir(join(t, 'out2'));
      const run = (n: string) =>
        pool.run(
          {
            ...spec(join(t, `out${n === 'one' ? 1 : 2}`), { kind: 'file', path: join(t, `${n}.gz`) }),
            budget,
          },
          {
            log: nullLogger,
          },
        ).result;
      await run('one');
      // the counters are shared with the worker, not copied: this thread sees its charges
      assert.deepEqual(unpackBudgetUsed(budget), { bytes: 3 * MiB, entries: 1 });
      await assert.rejects(
        run('two'),
        (err) =>
          findH8sError(err)?.code === 'RequestEntityTooLarge' &&
          /Refusing image "two-layers:v1": test layer takes it past the limit of 5 MiB/.test(
            (err as Error).message,
          ),
      );
      assert.deepEqual(unpackBudgetUsed(budget), { bytes: 3 * MiB, entries: 1 });
    });

    it('refuses a corrupt gzip stream', async () => {
      const t = await fresh();
      const gz = gzipSync(goodTar);
      const mid = Math.floor(gz.length / 2);
      gz[mid] = gz[mid]! ^ 0xff;
      await writeFile(join(t, 'corrupt.gz'), gz);
      await mkdir(join(t, 'out'));
      await assert.rejects(
        pool.run(spec(join(t, 'out'), { kind: 'file', path: join(t, 'corrupt.gz') }), { log: nullLogger })
          .result,
        (err) => isInvalid(err),
      );
    });

    it('reads a file behind its writer as bytes are reported, and stops when aborted', async () => {
      const t = await fresh();
      const gz = gzipSync(goodTar);
      const file = join(t, 'partial');
      await writeFile(file, gz.subarray(0, 1000));
      await mkdir(join(t, 'out'));
      const fd = openForFollow(file);
      try {
        const job = pool.run(spec(join(t, 'out'), { kind: 'follow', fd }), { log: nullLogger });
        job.available(1000);
        for (let off = 1000; off < gz.length; off += 100_000) {
          const end = Math.min(gz.length, off + 100_000);
          await appendFile(file, gz.subarray(off, end));
          job.available(end);
        }
        job.available(gz.length, true);
        const r = await job.result;
        assert.equal(r.diffId, sha256Digest(goodTar));
        assert.equal((await readFile(join(t, 'out', 'big.bin'))).length, 3_000_000);
      } finally {
        closeFd(fd);
      }

      // a job left waiting for bytes that never come ends when aborted
      await writeFile(join(t, 'stuck'), gz.subarray(0, 5000));
      await mkdir(join(t, 'out3'));
      const fd2 = openForFollow(join(t, 'stuck'));
      try {
        const job = pool.run(spec(join(t, 'out3'), { kind: 'follow', fd: fd2 }), { log: nullLogger });
        job.available(5000);
        setImmediate(() => job.abort());
        await assert.rejects(job.result, /aborted/);
      } finally {
        closeFd(fd2);
      }
    });
  });
}
