import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInvalid } from '../lib/index.js';
import { openLayerStream, sniffCompression } from './layer-stream.js';
import { buildImage } from './testing/index.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('layer streams', () => {
  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    it(`decompresses ${compression} layers to their diffID even when read late`, async () => {
      const img = await buildImage({ layers: [{ entries: [{ path: 'a', content: 'hello' }], compression }] });
      const dir = await mkdtemp(join(tmpdir(), 'h8s-layer-stream-'));
      dirs.push(dir);
      const p = join(dir, 'layer');
      await writeFile(p, img.layers[0]!.data);
      assert.equal(await sniffCompression(p), compression);
      for (let i = 0; i < 3; i++) {
        const s = await openLayerStream(p, compression, 'test layer');
        // zstd may exit before anyone reads: its output must not be lost (Node resumes the
        // unread stdout of an exited child)
        await new Promise((r) => setTimeout(r, 100));
        for await (const _ of s.chunks) {
          // drain
        }
        await s.done();
        assert.equal(s.diffId(), img.layers[0]!.diffId);
      }
    });
  }

  it('reports a corrupt gzip layer as Invalid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h8s-layer-stream-'));
    dirs.push(dir);
    const p = join(dir, 'bad');
    await writeFile(p, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    const s = await openLayerStream(p, 'gzip', 'bad layer');
    await assert.rejects(
      (async () => {
        for await (const _ of s.chunks) {
          // drain
        }
        await s.done(); // the decompressor's verdict, whichever way the stream ended
      })(),
      (err) => isInvalid(err) && /Cannot decompress bad layer \(gzip\)/.test((err as Error).message),
    );
  });
});
