/**
 * The limits on what an image may unpack to (maxUnpackedBytes, maxUnpackedEntries), with
 * hostile images built here: layers of zeros that gzip to a thousandth of their size.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFile, findH8sError, nullLogger, type ErrorCode } from '../lib/index.js';
import { createImageService, type ImageServiceOptions } from './index.js';
import {
  buildImage,
  layerTar,
  pushImage,
  startTestRegistry,
  zeroFilledLayer,
  type BuiltImage,
  type TestRegistry,
} from './testing/index.js';

const MiB = 1024 * 1024;
let reg: TestRegistry;
let tmp: string;
/** 256 MiB of zeros in one layer of 256 files: about 256 KiB of gzip. */
let bomb: BuiltImage;
/** Two images sharing a 10 MiB layer; `pair` adds another 10 MiB layer on top. */
let base: BuiltImage;
let pair: BuiltImage;
let many: BuiltImage;
const ref = (name: string): string => `${reg.host}/limits/${name}:v1`;

function refusedWith(code: ErrorCode, message: RegExp): (err: unknown) => boolean {
  return (err) => {
    const e = findH8sError(err);
    assert.equal(e?.code, code, `want ${code}, got ${String(err)}`);
    assert.match(e.message, message);
    return true;
  };
}

async function service(root: string, extra: Partial<ImageServiceOptions> = {}) {
  return createImageService({ root, log: nullLogger, maxUnpackedBytes: 16 * MiB, ...extra });
}

/** What is left of unpacking work: temp dirs, layer trees, disks. */
async function leftovers(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of ['tmp', 'layers', 'disks'])
    for (const n of await readdir(join(root, d)).catch(() => [] as string[])) out.push(`${d}/${n}`);
  return out;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'h8s-image-limits-'));
  reg = await startTestRegistry();
  bomb = await buildImage({ layers: [await zeroFilledLayer({ files: 256, fileBytes: MiB })] });
  const shared = await zeroFilledLayer({ files: 10, fileBytes: MiB });
  base = await buildImage({ layers: [shared] });
  pair = await buildImage({
    layers: [
      shared,
      {
        entries: Array.from({ length: 10 }, (_, i) => ({ path: `more/${i}`, content: Buffer.alloc(MiB, 1) })),
      },
    ],
  });
  many = await buildImage({
    layers: [{ entries: Array.from({ length: 300 }, (_, i) => ({ path: `f${i}`, content: '' })) }],
  });
  await pushImage(ref('bomb'), bomb);
  await pushImage(ref('base'), base);
  await pushImage(ref('pair'), pair);
  await pushImage(ref('many'), many);
});

after(async () => {
  await reg?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('limits on unpacked images', { concurrency: 1 }, () => {
  it('refuses a layer that inflates past the limit before the disk fills, and leaves nothing of it', async () => {
    // The store on a 48 MiB filesystem: 256 MiB of zeros would fill it five times over.
    const root = join(tmp, 'small-disk');
    await mkdir(root);
    // PRIVILEGED: mounts a 48 MiB tmpfs on this test's own temp dir (unmounted in finally).
    await execFile(['mount', '-t', 'tmpfs', '-o', 'size=48m,mode=0700', 'h8s-image-limits', root]);
    try {
      const images = await service(root);
      const layer = bomb.layers[0]!;
      await assert.rejects(
        images.pullImage(ref('bomb'), { unpack: 'layers' }),
        refusedWith(
          'RequestEntityTooLarge',
          new RegExp(
            `^Refusing image "${ref('bomb')}": layer "${layer.digest}" takes it past the limit of 16 MiB \\(16777216 bytes\\) of unpacked files; raise the image service's maxUnpackedBytes \\("h8s runtime --image-max-bytes"\\) to accept it$`,
          ),
        ),
      );
      assert.deepEqual(await leftovers(root), [], 'the partial layer tree is removed');
      assert.equal(await images.findImage(ref('bomb')), undefined);
      await images.pullImage(ref('bomb'));
      await assert.rejects(
        images.ensureRootDisk(ref('bomb')),
        refusedWith('RequestEntityTooLarge', /16 MiB/),
      );
      await assert.rejects(
        images.ensureLayerTree(ref('bomb')),
        refusedWith('RequestEntityTooLarge', /16 MiB/),
      );
      assert.deepEqual(await leftovers(root), []);
      const fs = await statfs(root);
      assert.ok((fs.blocks - fs.bfree) * fs.bsize < 4 * MiB, 'only the blobs (a few hundred KiB) stay');

      // Without the bound (the default is 8 GiB) the same layer runs the filesystem full.
      const unbounded = await createImageService({ root, log: nullLogger });
      await assert.rejects(
        unbounded.ensureLayerTree(ref('bomb')),
        refusedWith('InternalError', /no space left/),
      );
      assert.deepEqual(await leftovers(root), [], 'a full disk also leaves nothing half-built');
    } finally {
      // PRIVILEGED: undoes the test's own mount.
      await execFile(['umount', root], { check: false });
    }
  });

  it("counts the layers an image shares with one unpacked before against the image's limit", async () => {
    const root = join(tmp, 'shared');
    const images = await service(root);
    await images.pullImage(ref('base'), { unpack: 'layers' }); // 10 MiB: within 16 MiB
    const second = pair.layers[1]!;
    // only the second layer is unpacked now, but the image is 20 MiB
    await assert.rejects(
      images.pullImage(ref('pair'), { unpack: 'layers' }),
      refusedWith(
        'RequestEntityTooLarge',
        new RegExp(`layer "${second.digest}" takes it past the limit of 16 MiB`),
      ),
    );
    await images.pullImage(ref('pair'));
    await assert.rejects(images.ensureLayerTree(ref('pair')), refusedWith('RequestEntityTooLarge', /16 MiB/));
    await assert.rejects(images.ensureRootDisk(ref('pair')), refusedWith('RequestEntityTooLarge', /16 MiB/));
    assert.deepEqual(
      (await readdir(join(root, 'layers'))).sort(),
      [base.layers[0]!.diffId.slice(7)],
      'the shared layer stays; the refused one was never published',
    );
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    // raising the limit accepts it
    const raised = await service(root, { maxUnpackedBytes: 32 * MiB });
    assert.equal((await raised.ensureLayerTree(ref('pair'))).lowerDirs.length, 2);
    await images.flush();
    await raised.flush();
  });

  it('sizes the root disk of an image within the limit from its bounded content', async () => {
    const images = await service(join(tmp, 'disk'), { rootDiskFreeBytes: MiB });
    await images.pullImage(ref('base'));
    const disk = await images.ensureRootDisk(ref('base'));
    // 10 MiB of files, plus the fixed 16 MiB of slack and the 1 MiB of free space asked for
    assert.ok(disk.sizeBytes >= 10 * MiB && disk.sizeBytes <= 16 * MiB * 1.1 + 17 * MiB, `${disk.sizeBytes}`);
    const fsck = await execFile(['e2fsck', '-fn', disk.path], { check: false });
    assert.equal(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  });

  it('bounds the number of entries of an image', async () => {
    const root = join(tmp, 'entries');
    const images = await service(root, { maxUnpackedEntries: 100 });
    await assert.rejects(
      images.pullImage(ref('many'), { unpack: 'layers' }),
      refusedWith('RequestEntityTooLarge', /past the limit of 100 unpacked entries .*maxUnpackedEntries/),
    );
    assert.deepEqual(await leftovers(root), []);
  });

  it('refuses a compressed image tarball that inflates past the limit, and unpacks nothing of it', async () => {
    const root = join(tmp, 'load');
    const images = await service(root);
    const archive = join(tmp, 'bomb.tar.gz');
    await writeFile(
      archive,
      gzipSync(layerTar([{ path: 'manifest.json', content: Buffer.alloc(64 * MiB) }])),
    );
    await assert.rejects(
      images.loadImage(archive),
      refusedWith(
        'RequestEntityTooLarge',
        /^Refusing image archive ".*bomb\.tar\.gz": it unpacks past the limit of 16 MiB/,
      ),
    );
    assert.deepEqual(await images.listImages(), []);
    assert.deepEqual(await leftovers(root), []);
  });
});
