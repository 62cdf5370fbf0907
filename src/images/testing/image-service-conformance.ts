/**
 * The conformance suite of the `ImageService` contract (src/images/image-service.ts): every
 * implementation (the local service, the runtime client through the daemon's socket, a fake)
 * passes the same tests, against a real registry (Debian's docker-registry on loopback) filled
 * with small images built from local files.
 *
 *   runImageServiceConformance('local', async (options) => {
 *     const root = await mkdtemp(...);
 *     const images = await createImageService({ root, log, ...options });
 *     return { images, close: () => rm(root, { recursive: true, force: true }) };
 *   });
 *
 * `open` is called once per test, for an empty service; `close` removes it. The options are
 * image service options the suite needs set (the unpacked-size limit it tests).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, findH8sError, isInvalid, isNotFound, type ErrorCode } from '../../lib/index.js';
import type { ImageRecord, ImageService, PullProgress } from '../image-service.js';
import { mediaTypes } from '../oci-schemas.js';
import { buildTar } from '../tar-format.js';
import { buildImage, pushImage, zeroFilledLayer, type BuiltImage } from './image-builder.js';
import { startTestRegistry, type TestRegistry } from './test-registry.js';

/** Options of the service under test that the suite sets. */
export interface ConformanceServiceOptions {
  /** The image service's `maxUnpackedBytes`. */
  readonly maxUnpackedBytes: number;
}

export interface ImageServiceUnderTest {
  readonly images: ImageService;
  /** Stops the service and removes its state. */
  close(): Promise<void>;
}

/** The limit the suite configures: far below the hostile image, far above the others. */
const maxUnpackedBytes = 16 * 1024 * 1024;

function hasCode(code: ErrorCode, message?: RegExp): (err: unknown) => boolean {
  return (err) => {
    const e = findH8sError(err);
    assert.equal(e?.code, code, `want ${code}, got ${String(err)}`);
    if (message) assert.match(e.message, message);
    return true;
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Runs the suite against the implementation `open` makes. */
export function runImageServiceConformance(
  name: string,
  open: (options: ConformanceServiceOptions) => Promise<ImageServiceUnderTest>,
): void {
  describe(`ImageService conformance: ${name}`, { concurrency: 1 }, () => {
    let reg: TestRegistry;
    let tmp: string;
    let app: BuiltImage;
    let other: BuiltImage;
    let hostile: BuiltImage;
    const appRef = (): string => `${reg.host}/conformance/app:v1`;
    const otherRef = (): string => `${reg.host}/conformance/other:v1`;
    const hostileRef = (): string => `${reg.host}/conformance/zeros:v1`;

    before(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'h8s-image-conformance-'));
      reg = await startTestRegistry();
      app = await buildImage({
        layers: [
          {
            entries: [
              { path: 'bin/' },
              { path: 'bin/app', content: '#!/bin/sh\necho app\n', mode: 0o755 },
              { path: 'etc/' },
              { path: 'etc/old.conf', content: 'old' },
            ],
          },
          {
            entries: [
              { path: 'etc/' },
              { path: 'etc/.wh.old.conf', content: '' },
              { path: 'etc/app.conf', content: 'mode=test\n' },
            ],
          },
        ],
        config: {
          entrypoint: ['/bin/app'],
          cmd: ['--serve'],
          env: ['PATH=/bin', 'APP=1'],
          workingDir: '/etc',
          user: '1000:1000',
          exposedPorts: ['8080/tcp'],
          labels: { suite: 'conformance' },
          stopSignal: 'SIGINT',
        },
      });
      other = await buildImage({ layers: [{ entries: [{ path: 'other', content: 'other' }] }] });
      // 64 MiB of zeros in 64 files, about 64 KiB of gzip: four times the configured limit
      hostile = await buildImage({ layers: [await zeroFilledLayer({ files: 64, fileBytes: 1024 * 1024 })] });
      await pushImage(appRef(), app);
      await pushImage(otherRef(), other);
      await pushImage(hostileRef(), hostile);
    });

    after(async () => {
      await reg?.stop();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    /** Runs `fn` on a fresh, empty service and closes it whatever happens. */
    async function withService(fn: (images: ImageService) => Promise<void>): Promise<void> {
      const s = await open({ maxUnpackedBytes });
      try {
        await fn(s.images);
      } finally {
        await s.close();
      }
    }

    it('starts empty', () =>
      withService(async (images) => {
        assert.deepEqual(await images.listImages(), []);
        assert.equal(await images.findImage(appRef()), undefined);
      }));

    it('pulls an image by tag, reporting progress from resolve to done for every layer', () =>
      withService(async (images) => {
        const progress: PullProgress[] = [];
        const rec = await images.pullImage(appRef(), { onProgress: (p) => progress.push(p) });
        assert.equal(rec.id, app.configDigest);
        assert.deepEqual(rec.repoTags, [appRef()]);
        assert.deepEqual(rec.repoDigests, [`${reg.host}/conformance/app@${app.manifestDigest}`]);
        assert.deepEqual(rec.config, {
          entrypoint: ['/bin/app'],
          cmd: ['--serve'],
          env: ['PATH=/bin', 'APP=1'],
          workingDir: '/etc',
          user: '1000:1000',
          exposedPorts: ['8080/tcp'],
          labels: { suite: 'conformance' },
          stopSignal: 'SIGINT',
        });
        assert.deepEqual([rec.os, rec.architecture], ['linux', 'amd64']);
        assert.match(rec.chainId, /^sha256:[a-f0-9]{64}$/);
        assert.ok(rec.sizeBytes > 0);

        assert.equal(progress[0]?.phase, 'resolve');
        assert.equal(progress.at(-1)?.phase, 'done');
        for (const l of app.layers) {
          const mine = progress.filter((p) => p.digest === l.digest);
          assert.ok(
            mine.some((p) => p.phase === 'download'),
            `layer ${l.digest} reports its download`,
          );
          assert.ok(
            mine.some((p) => p.phase === 'verify'),
            `layer ${l.digest} reports its verification`,
          );
          for (const p of mine.filter((x) => x.phase === 'download'))
            assert.ok((p.currentBytes ?? 0) <= (p.totalBytes ?? l.size) && p.totalBytes === l.size);
        }

        // again: nothing to download, every layer is there
        const again: PullProgress[] = [];
        assert.equal((await images.pullImage(appRef(), { onProgress: (p) => again.push(p) })).id, rec.id);
        assert.ok(!again.some((p) => p.phase === 'download'));
        for (const l of app.layers)
          assert.ok(again.some((p) => p.phase === 'exists' && p.digest === l.digest));
      }));

    it('lists the images it holds', () =>
      withService(async (images) => {
        await images.pullImage(appRef());
        await images.pullImage(otherRef());
        const list = await images.listImages();
        assert.deepEqual(list.map((i) => i.id).sort(), [app.configDigest, other.configDigest].sort());
        assert.deepEqual(list.find((i) => i.id === other.configDigest)?.repoTags, [otherRef()]);
      }));

    it('reports an image by tag, by repository (latest), by digest, by ID and by ID prefix', () =>
      withService(async (images) => {
        await pushImage(`${reg.host}/conformance/app:latest`, app);
        const rec = await images.pullImage(`${reg.host}/conformance/app`);
        assert.deepEqual(rec.repoTags, [`${reg.host}/conformance/app:latest`]);
        const same = (r: ImageRecord): void => assert.equal(r.id, app.configDigest);
        same(await images.getImage(`${reg.host}/conformance/app:latest`));
        same(await images.getImage(`${reg.host}/conformance/app`));
        same(await images.getImage(`${reg.host}/conformance/app@${app.manifestDigest}`));
        same(await images.getImage(app.configDigest));
        same(await images.getImage(app.configDigest.slice(7, 19)));
        const found = await images.findImage(app.configDigest.slice(7, 19));
        assert.equal(found?.id, app.configDigest);
      }));

    it('pulls by digest without a tag', () =>
      withService(async (images) => {
        const byDigest = `${reg.host}/conformance/other@${other.manifestDigest}`;
        const rec = await images.pullImage(byDigest);
        assert.equal(rec.id, other.configDigest);
        assert.deepEqual(rec.repoTags, []);
        assert.deepEqual(rec.repoDigests, [byDigest]);
        assert.equal((await images.getImage(byDigest)).id, rec.id);
      }));

    it('removes an image with its last tag, and then knows nothing of it', () =>
      withService(async (images) => {
        await images.pullImage(appRef());
        await images.pullImage(otherRef());
        await images.removeImage(appRef());
        assert.equal(await images.findImage(appRef()), undefined);
        await assert.rejects(images.getImage(appRef()), isNotFound);
        await assert.rejects(images.getImage(app.configDigest), isNotFound);
        assert.deepEqual(
          (await images.listImages()).map((i) => i.id),
          [other.configDigest],
        );
        await assert.rejects(images.removeImage(appRef()), isNotFound);
      }));

    it('refuses to remove an image a holder retains, unless forced, and drops it on release', () =>
      withService(async (images) => {
        await images.pullImage(appRef());
        await images.retain(appRef(), 'conformance-sandbox');
        await assert.rejects(
          images.removeImage(appRef()),
          hasCode('Conflict', /in use by "conformance-sandbox"/),
        );
        assert.equal((await images.getImage(appRef())).id, app.configDigest);
        await images.removeImage(appRef(), { force: true });
        assert.equal(await images.findImage(appRef()), undefined, 'the tag is gone at once');
        await images.release('conformance-sandbox');
        assert.deepEqual(await images.listImages(), []);
        await assert.rejects(images.retain(appRef(), 'late'), isNotFound);
      }));

    it('saves a docker-archive that loads back with its tags and content', async () => {
      const tar = join(tmp, 'saved.tar');
      await withService(async (images) => {
        await images.pullImage(appRef());
        await images.pullImage(otherRef());
        await images.saveImage([appRef(), otherRef()], tar);
      });
      const names = (await execFile(['tar', '-tf', tar])).stdout.split('\n');
      for (const f of ['manifest.json', 'index.json', 'oci-layout']) assert.ok(names.includes(f), f);
      await withService(async (images) => {
        const loaded = await images.loadImage(tar);
        assert.deepEqual(
          loaded.map((r) => [r.id, r.repoTags]),
          [
            [app.configDigest, [appRef()]],
            [other.configDigest, [otherRef()]],
          ],
        );
        assert.deepEqual((await images.getImage(appRef())).config.entrypoint, ['/bin/app']);
        const tree = await images.ensureLayerTree(appRef());
        assert.equal(await readFile(join(tree.lowerDirs[1]!, 'etc/app.conf'), 'utf8'), 'mode=test\n');
      });
    });

    it('loads an OCI image layout tarball', async () => {
      const blobs = [
        { digest: app.configDigest, data: app.config },
        { digest: app.manifestDigest, data: app.manifest },
        ...app.layers.map((l) => ({ digest: l.digest, data: l.data })),
      ];
      const index = {
        schemaVersion: 2,
        mediaType: mediaTypes.ociIndex,
        manifests: [
          {
            mediaType: app.manifestMediaType,
            digest: app.manifestDigest,
            size: app.manifest.length,
            annotations: {
              'io.containerd.image.name': 'example.test/conformance/oci:v2',
              'org.opencontainers.image.ref.name': 'v2',
            },
          },
        ],
      };
      const tar = join(tmp, 'oci-layout.tar');
      await writeFile(
        tar,
        buildTar([
          {
            header: { name: 'oci-layout', type: 'file' },
            data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
          },
          { header: { name: 'index.json', type: 'file' }, data: Buffer.from(JSON.stringify(index)) },
          { header: { name: 'blobs/', type: 'directory' } },
          { header: { name: 'blobs/sha256/', type: 'directory' } },
          ...blobs.map((b) => ({
            header: { name: `blobs/sha256/${b.digest.slice(7)}`, type: 'file' as const },
            data: b.data,
          })),
        ]),
      );
      await withService(async (images) => {
        const [rec] = await images.loadImage(tar);
        assert.equal(rec?.id, app.configDigest);
        assert.deepEqual(rec?.repoTags, ['example.test/conformance/oci:v2']);
        assert.equal((await images.getImage('example.test/conformance/oci:v2')).config.user, '1000:1000');
      });
    });

    it('gives each failure its code: NotFound, the registry’s own NotFound, Invalid', () =>
      withService(async (images) => {
        const missing = `${reg.host}/conformance/app:no-such-tag`;
        await assert.rejects(images.getImage(missing), hasCode('NotFound', /not found/));
        await assert.rejects(images.removeImage(missing), isNotFound);
        await assert.rejects(images.retain(missing, 'h'), isNotFound);
        await assert.rejects(images.ensureRootDisk(missing), isNotFound);
        await assert.rejects(images.saveImage([missing], join(tmp, 'never.tar')), isNotFound);
        assert.equal(await exists(join(tmp, 'never.tar')), false, 'a failed save writes no file');
        // the registry's own answer, with its error code in the message
        await assert.rejects(images.pullImage(missing), hasCode('NotFound', /MANIFEST_UNKNOWN/));
        await assert.rejects(images.pullImage(`${reg.host}/conformance/no-such-repo:v1`), isNotFound);
        for (const bad of ['Upper/Case:v1', 'app:bad tag', 'reg:5000/app::v1', 'app@sha256:short']) {
          await assert.rejects(images.pullImage(bad), isInvalid, `pull "${bad}"`);
          await assert.rejects(images.getImage(bad), isInvalid, `get "${bad}"`);
          await assert.rejects(images.removeImage(bad), isInvalid, `remove "${bad}"`);
        }
        await assert.rejects(images.saveImage([], join(tmp, 'never.tar')), isInvalid);
        const notAnArchive = join(tmp, 'not-an-image.tar');
        await writeFile(
          notAnArchive,
          buildTar([{ header: { name: 'hello.txt', type: 'file' }, data: Buffer.from('hi') }]),
        );
        await assert.rejects(images.loadImage(notAnArchive), hasCode('Invalid', /neither a docker-archive/));
        await assert.rejects(images.loadImage(join(tmp, 'no-such-file.tar')), isInvalid);
        assert.deepEqual(await images.listImages(), [], 'nothing failed half way into the store');
      }));

    it('unpacks layer trees for overlayfs and builds one cached ext4 root disk', () =>
      withService(async (images) => {
        await images.pullImage(appRef());
        const tree = await images.ensureLayerTree(appRef());
        assert.equal(tree.lowerDirs.length, 2);
        assert.equal(await readFile(join(tree.lowerDirs[0]!, 'etc/old.conf'), 'utf8'), 'old');
        assert.deepEqual((await images.ensureLayerTree(app.configDigest)).lowerDirs, tree.lowerDirs);
        const disk = await images.ensureRootDisk(appRef());
        assert.equal(disk.fsType, 'ext4');
        assert.ok(disk.sizeBytes > 0 && (await exists(disk.path)));
        const ls = await execFile(['debugfs', '-R', 'ls -p /etc', disk.path], { check: false });
        assert.match(ls.stdout, /\/app\.conf\//);
        assert.doesNotMatch(ls.stdout, /old\.conf/, 'the whiteout of the upper layer applies');
        assert.deepEqual(await images.ensureRootDisk(appRef()), disk);
      }));

    it('refuses an image whose layers unpack past maxUnpackedBytes, naming the image, layer, limit and option', () =>
      withService(async (images) => {
        const layer = hostile.layers[0]!;
        const refused = (what: string) =>
          hasCode(
            'RequestEntityTooLarge',
            new RegExp(
              `Refusing image "${what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": layer "${layer.digest}" .*16 MiB.*maxUnpackedBytes`,
            ),
          );
        // pulling while unpacking: refused, and no image recorded
        await assert.rejects(images.pullImage(hostileRef(), { unpack: 'layers' }), refused(hostileRef()));
        assert.equal(await images.findImage(hostileRef()), undefined);
        // pulled without unpacking, it is listed, but neither output can be made of it
        const rec = await images.pullImage(hostileRef());
        await assert.rejects(images.ensureLayerTree(hostileRef()), refused(hostileRef()));
        await assert.rejects(images.ensureRootDisk(rec.id), refused(rec.id));
        // an image within the limit still unpacks
        await images.pullImage(appRef(), { unpack: 'layers' });
        assert.equal((await images.ensureLayerTree(appRef())).lowerDirs.length, 2);
      }));
  });
}
