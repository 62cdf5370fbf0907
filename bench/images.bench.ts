/**
 * `npm run bench:images`: pull and unpack of a multi-layer image of about 50 MB (generated
 * from random and compressible local data, pushed to a loopback docker-registry) by h8s,
 * against `skopeo copy docker://… dir:` of the same image in the same run (skopeo only
 * downloads and verifies; h8s also unpacks every layer for overlayfs). Rounds alternate between
 * the two and each figure is the median of its rounds, so load from other work on the machine
 * hits both alike. Also: the time to build the VM root disk (ext4) per MB of image, and the
 * unpacking of a layer of 2,000 small files against GNU tar extracting the same blob (creating
 * files is what dominates there, and its cost depends on the host's filesystem).
 *
 * Targets (docs/benchmarks.md): h8s pull+unpack no slower than skopeo's copy (ratio ≤ 1.0);
 * small-file unpack no slower than GNU tar.
 *
 * h8s unpacks in its pool of worker threads; the pool is started before the rounds, as the
 * runtime daemon starts it at start-up (the start time is printed). Unpacked trees are synced
 * to disk in the background after a pull returns (docs/images.md, "Crash safety"): each round
 * waits for that sync outside the timed pull and prints how long it took.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, nullLogger } from '../src/lib/index.js';
import { createImageService, sharedUnpackPool } from '../src/images/index.js';
import { buildImage, pushImage, startTestRegistry, type FileSpec } from '../src/images/testing/index.js';

const rounds = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function compressibleText(bytes: number, seed: number): Buffer {
  const words = [
    'network',
    'function',
    'tenant',
    'packet',
    'router',
    'session',
    'gateway',
    'policy',
    'vnf',
    'sbc',
  ];
  const parts: string[] = [];
  let n = 0;
  let x = seed;
  while (n < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = `${words[x % words.length]}-${x % 1000} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'h8s-bench-images-'));
  const reg = await startTestRegistry({ tmpRoot: tmp });
  try {
    // ~50 MB compressed: three 14 MB random layers (incompressible) and two 16 MB compressible
    // text layers, a few files each.
    const randomLayer = (name: string): FileSpec[] => [
      { path: 'opt/' },
      { path: `opt/${name}/` },
      ...Array.from({ length: 7 }, (_, i) => ({
        path: `opt/${name}/part${i}.bin`,
        content: randomBytes(2_000_000),
      })),
    ];
    const image = await buildImage({
      layers: [
        { entries: randomLayer('a') },
        { entries: randomLayer('b') },
        { entries: randomLayer('c') },
        {
          entries: [
            { path: 'usr/' },
            { path: 'usr/share/' },
            { path: 'usr/share/a.txt', content: compressibleText(16_000_000, 1) },
          ],
        },
        {
          entries: [
            { path: 'usr/' },
            { path: 'usr/share/' },
            { path: 'usr/share/b.txt', content: compressibleText(16_000_000, 2) },
          ],
        },
      ],
      config: { cmd: ['sh'] },
    });
    const ref = `${reg.host}/bench/multilayer:v1`;
    await pushImage(ref, image);
    const compressedMB = image.layers.reduce((a, l) => a + l.size, 0) / 1e6;

    const pool = sharedUnpackPool();
    let t0 = performance.now();
    await pool.whenReady();
    const poolStartMs = performance.now() - t0;
    const flushMs: number[] = [];
    const skopeoMs: number[] = [];
    const h8sMs: number[] = [];
    const h8sPullOnlyMs: number[] = [];
    const diskMsPerMB: number[] = [];
    let uncompressedMB = 0;
    for (let r = 0; r < rounds; r++) {
      const dirOut = join(tmp, `skopeo-${r}`);
      let t = performance.now();
      await execFile(['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${dirOut}`], {
        timeoutMs: 300_000,
      });
      skopeoMs.push(performance.now() - t);
      await rm(dirOut, { recursive: true, force: true });

      const root = join(tmp, `h8s-${r}`);
      const images = await createImageService({ root, log: nullLogger });
      t = performance.now();
      const rec = await images.pullImage(ref, { unpack: 'layers' });
      h8sMs.push(performance.now() - t);
      uncompressedMB = rec.sizeBytes / 1e6;
      t0 = performance.now();
      await images.flush();
      flushMs.push(performance.now() - t0);

      t = performance.now();
      await images.ensureRootDisk(ref);
      diskMsPerMB.push((performance.now() - t) / uncompressedMB);
      await rm(root, { recursive: true, force: true });

      const root2 = join(tmp, `h8s-pull-${r}`);
      const images2 = await createImageService({ root: root2, log: nullLogger });
      t = performance.now();
      await images2.pullImage(ref);
      h8sPullOnlyMs.push(performance.now() - t);
      await rm(root2, { recursive: true, force: true });
    }
    // Many small files: h8s's unpacker against GNU tar on the same gzip blob, same disk.
    const smallFiles: FileSpec[] = [{ path: 'srv/' }];
    for (let i = 0; i < 2000; i++)
      smallFiles.push({ path: `srv/f${i}.bin`, content: randomBytes(2048 + (i % 7) * 512) });
    const small = await buildImage({ layers: [{ entries: smallFiles }] });
    const blob = join(tmp, 'small.tar.gz');
    await writeFile(blob, small.layers[0]!.data);
    const tarMs: number[] = [];
    const unpackMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const a = join(tmp, `tar-${r}`);
      await mkdir(a);
      let t = performance.now();
      await execFile(['tar', '-xzf', blob, '-C', a, '--same-owner', '-p'], { timeoutMs: 300_000 });
      tarMs.push(performance.now() - t);
      const b = join(tmp, `unpack-${r}`);
      await mkdir(b);
      t = performance.now();
      await pool.run(
        {
          source: { kind: 'file', path: blob },
          compression: 'gzip',
          dir: b,
          mode: 'overlay',
          deviceNodes: 'skip',
          what: 'bench layer',
        },
        { log: nullLogger },
      ).result;
      unpackMs.push(performance.now() - t);
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
    }
    const st = median(tarMs);
    const su = median(unpackMs);

    const s = median(skopeoMs);
    const h = median(h8sMs);
    const hp = median(h8sPullOnlyMs);
    const d = median(diskMsPerMB);
    console.log(
      `image: ${image.layers.length} layers, ${compressedMB.toFixed(1)} MB compressed, ${uncompressedMB.toFixed(1)} MB uncompressed; ${rounds} rounds, load ${loadavg()[0]!.toFixed(2)}`,
    );
    console.log(
      `skopeo copy docker:// dir:          ${s.toFixed(0)} ms (median; ${skopeoMs.map((x) => x.toFixed(0)).join(', ')})`,
    );
    console.log(
      `h8s pull + unpack (layers):          ${h.toFixed(0)} ms (median; ${h8sMs.map((x) => x.toFixed(0)).join(', ')})`,
    );
    console.log(
      `h8s pull only:                       ${hp.toFixed(0)} ms (median; ${h8sPullOnlyMs.map((x) => x.toFixed(0)).join(', ')})`,
    );
    console.log(`ratio h8s pull+unpack / skopeo copy: ${(h / s).toFixed(2)} (target <= 1.00)`);
    console.log(
      `  (unpack pool: ${pool.size} worker threads, started in ${poolStartMs.toFixed(0)} ms before the rounds; background sync of the unpacked layers after each pull, untimed: ${flushMs.map((x) => x.toFixed(0)).join(', ')} ms)`,
    );
    console.log(`ratio h8s pull only / skopeo copy:   ${(hp / s).toFixed(2)}`);
    console.log(
      `root disk (ext4) build:              ${d.toFixed(1)} ms per MB of image (${(d * uncompressedMB).toFixed(0)} ms for this image)`,
    );
    console.log(
      `2,000 small files: GNU tar -x ${st.toFixed(0)} ms, h8s unpack ${su.toFixed(0)} ms, ratio ${(su / st).toFixed(2)} (target <= 1.00)`,
    );
    console.log(
      JSON.stringify({
        bench: 'images',
        skopeoMs: s,
        h8sPullUnpackMs: h,
        h8sPullOnlyMs: hp,
        ratio: h / s,
        diskMsPerMB: d,
        compressedMB,
        uncompressedMB,
        smallFilesTarMs: st,
        smallFilesUnpackMs: su,
        unpackWorkers: pool.size,
        poolStartMs,
        syncAfterPullMs: median(flushMs),
      }),
    );
  } finally {
    await reg.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
