/**
 * Unpacking while downloading (`pullImage(ref, { unpack: 'layers' })`), through a real
 * docker-registry and a fault-injecting proxy, with the unpack in worker threads and in the
 * calling thread: a tree is published only after both the blob digest and the diffID check,
 * a bad layer or a bad blob found while the unpack runs leaves nothing behind, a resumed
 * download still unpacks correctly, and trees that may not have reached the disk before a
 * machine crash are unpacked again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode, isInvalid, nullLogger } from '../lib/index.js';
import { digestHex } from './digest.js';
import { createImageService, type LocalImageService } from './index.js';
import {
  buildImage,
  layerTar,
  pushImage,
  startRegistryProxy,
  startTestRegistry,
  type BuiltImage,
  type RegistryProxy,
  type TestRegistry,
} from './testing/index.js';
import { UnpackPool } from './unpack-pool.js';

let tmp: string;
let reg: TestRegistry;
let proxy: RegistryProxy;
let image: BuiltImage;
let counter = 0;
const inThread = new UnpackPool({ size: 0 });

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'h8s-unpack-stream-int-'));
  reg = await startTestRegistry({ tmpRoot: tmp });
  proxy = await startRegistryProxy(reg.host);
  image = await buildImage({
    layers: [
      { entries: [{ path: 'opt/' }, { path: 'opt/a.bin', content: randomBytes(3_000_000) }] },
      { entries: [{ path: 'etc/' }, { path: 'etc/motd', content: 'second layer\n' }] },
    ],
  });
  await pushImage(`${reg.host}/stream:v1`, image);
});

after(async () => {
  await proxy?.close();
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function service(pool: 'workers' | 'in-thread'): Promise<LocalImageService> {
  return createImageService({
    root: join(tmp, `store-${counter++}`),
    log: nullLogger,
    ...(pool === 'in-thread' ? { unpackPool: inThread } : {}),
  });
}

/**
 * Nothing half-made is left: no directory for the bad layer (good layers of the same pull may
 * stay cached: their blob and diffID checked), nothing in tmp/, no image record.
 */
async function assertNothingPublished(images: LocalImageService, badDiffId: string): Promise<void> {
  assert.ok(!(await readdir(join(images.root, 'layers'))).includes(digestHex(badDiffId)));
  assert.deepEqual(await readdir(join(images.root, 'tmp')), []);
  assert.deepEqual(await images.listImages(), []);
}

async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

for (const pool of ['workers', 'in-thread'] as const) {
  describe(`unpacking while downloading (${pool})`, { concurrency: 1 }, () => {
    it('publishes nothing when the blob fails its digest though its content unpacks to the right diffID', async () => {
      const images = await service(pool);
      const layer = image.layers[0]!;
      // Same length, same uncompressed bytes (so the diffID matches), another blob digest:
      // the gzip header's OS byte, which decompressors ignore.
      const forged = Buffer.from(layer.data);
      forged[9] = forged[9] === 0xff ? 3 : 0xff;
      proxy.fault = (q) =>
        q.path.endsWith(`/blobs/${layer.digest}`) ? { kind: 'body', body: forged } : { kind: 'pass' };
      try {
        await assert.rejects(images.pullImage(`${proxy.host}/stream:v1`, { unpack: 'layers' }), (err) => {
          assert.ok(
            isInvalid(err) && /failed verification/.test((err as Error).message),
            `${errorCode(err)}: ${(err as Error).message}`,
          );
          return true;
        });
      } finally {
        proxy.fault = () => ({ kind: 'pass' });
      }
      await assertNothingPublished(images, layer.diffId);
      const rec = await images.pullImage(`${proxy.host}/stream:v1`, { unpack: 'layers' });
      const tree = await images.ensureLayerTree(rec.id);
      assert.equal((await readFile(join(tree.lowerDirs[0]!, 'opt', 'a.bin'))).length, 3_000_000);
      assert.equal(await readFile(join(tree.lowerDirs[1]!, 'etc', 'motd'), 'utf8'), 'second layer\n');
    });

    it('refuses a malicious layer found while it downloads and leaves nothing behind', async () => {
      const images = await service(pool);
      const raw = layerTar([{ path: 'xx/pwned', content: 'evil' }]);
      raw.write('../pwned\0', 0, 'latin1'); // the entry now climbs out; fix its checksum
      raw.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += raw[i]!;
      raw.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
      const evil = await buildImage({
        layers: [{ entries: [{ path: 'opt/big', content: randomBytes(2_000_000) }] }, { rawTar: raw }],
      });
      await pushImage(`${reg.host}/evil-${pool}:v1`, evil);
      await assert.rejects(
        images.pullImage(`${proxy.host}/evil-${pool}:v1`, { unpack: 'layers' }),
        (err) => isInvalid(err) && /contains "\.\."/.test((err as Error).message),
      );
      await assertNothingPublished(images, evil.layers[1]!.diffId);
      assert.ok(!(await listTree(images.root)).some((p) => p.endsWith('pwned')));
    });

    it('unpacks correctly when the download is cut and resumed mid-layer', async () => {
      const images = await service(pool);
      const layer = image.layers[0]!;
      let cut = false;
      proxy.requests.length = 0;
      proxy.fault = (q) => {
        if (!cut && q.path.endsWith(`/blobs/${layer.digest}`)) {
          cut = true;
          return { kind: 'cut', bytes: 1_000_000 };
        }
        return { kind: 'pass' };
      };
      try {
        const rec = await images.pullImage(`${proxy.host}/stream:v1`, { unpack: 'layers' });
        assert.ok(proxy.requests.some((q) => q.range !== undefined && q.range.startsWith('bytes=')));
        const tree = await images.ensureLayerTree(rec.id);
        assert.equal((await readFile(join(tree.lowerDirs[0]!, 'opt', 'a.bin'))).length, 3_000_000);
      } finally {
        proxy.fault = () => ({ kind: 'pass' });
      }
    });
  });
}

describe('crash safety of unpacked layers', { concurrency: 1 }, () => {
  it('marks trees durable after one sync, and unpacks again a tree of an earlier boot that was not', async () => {
    const images = await service('workers');
    const rec = await images.pullImage(`${proxy.host}/stream:v1`, { unpack: 'layers' });
    await images.flush();
    const hex = digestHex(image.layers[1]!.diffId);
    const statsPath = join(images.root, 'layers', hex, 'stats.json');
    const meta = JSON.parse(await readFile(statsPath, 'utf8')) as Record<string, unknown>;
    assert.equal(meta['durable'], true);
    const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    assert.equal(meta['bootId'], bootId);
    const marker = join(images.root, 'layers', hex, 'fs', 'marker');

    // written in this boot, not yet synced: trusted (the page cache has it all)
    await writeFile(statsPath, JSON.stringify({ ...meta, durable: false }));
    await writeFile(marker, 'kept');
    await images.ensureLayerTree(rec.id);
    assert.equal(await readFile(marker, 'utf8'), 'kept');

    // written in an earlier boot and never synced: a crash may have cut it short
    await writeFile(statsPath, JSON.stringify({ ...meta, durable: false, bootId: 'an-earlier-boot' }));
    const tree = await images.ensureLayerTree(rec.id);
    assert.deepEqual(await listTree(tree.lowerDirs[1]!), ['etc', 'etc/motd']);
    const again = JSON.parse(await readFile(statsPath, 'utf8')) as Record<string, unknown>;
    assert.equal(again['bootId'], bootId);
    await images.flush();
    assert.equal((JSON.parse(await readFile(statsPath, 'utf8')) as Record<string, unknown>)['durable'], true);
  });
});
