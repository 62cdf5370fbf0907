/**
 * Registry behaviour: auth (htpasswd, token, stored credentials), mirrors, resume, and bad
 * input from the registry (each a clear error and an intact store), plus a full disk.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  errorCode,
  execFile,
  isInvalid,
  isNotFound,
  isUnauthorized,
  isUnavailable,
  nullLogger,
} from '../lib/index.js';
import { hashFile } from './content-store.js';
import { createImageService, type LocalImageService } from './index.js';
import {
  buildImage,
  busyboxImage,
  freeLoopbackPort,
  pushImage,
  startRegistryProxy,
  startTestRegistry,
  type BuiltImage,
  type TestRegistry,
} from './testing/index.js';

let tmp: string;
let reg: TestRegistry;
let busybox: BuiltImage;
let counter = 0;

async function service(
  extra: Partial<Parameters<typeof createImageService>[0]> = {},
): Promise<LocalImageService> {
  return createImageService({ root: join(tmp, `store-${counter++}`), log: nullLogger, ...extra });
}

/** The store is intact: the given images are listed and every blob matches its name. */
async function assertIntact(images: LocalImageService, ids: readonly string[]): Promise<void> {
  assert.deepEqual((await images.listImages()).map((i) => i.id).sort(), [...ids].sort());
  const dir = join(images.root, 'blobs', 'sha256');
  for (const name of await readdir(dir))
    assert.equal(await hashFile(join(dir, name)), `sha256:${name}`, `blob ${name} matches its digest`);
  await images.garbageCollect();
  for (const id of ids) {
    await images.ensureLayerTree(id);
  }
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'h8s-registry-int-'));
  reg = await startTestRegistry();
  busybox = await busyboxImage();
  await pushImage(`${reg.host}/busybox:latest`, busybox);
});

after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('registry auth', { concurrency: 1 }, () => {
  for (const mode of ['htpasswd', 'token'] as const) {
    it(`pulls from a registry behind ${mode} auth with credentials and refuses without`, async () => {
      const r = await startTestRegistry({ auth: mode });
      try {
        const auth = { username: r.username, password: r.password };
        await pushImage(`${r.host}/private/busybox:v1`, busybox, { auth });
        const images = await service();
        const ref = `${r.host}/private/busybox:v1`;
        await assert.rejects(
          images.pullImage(ref),
          (err) =>
            isUnauthorized(err) &&
            /requires authentication; run "hyperctl login/.test((err as Error).message),
        );
        await assert.rejects(
          images.pullImage(ref, { auth: { username: r.username, password: 'wrong' } }),
          (err) => isUnauthorized(err) && /rejected the credentials/.test((err as Error).message),
        );
        const rec = await images.pullImage(ref, { auth });
        assert.equal(rec.id, busybox.configDigest);
        await images.checkLogin(r.host, auth);
        await assert.rejects(
          images.checkLogin(r.host, { username: r.username, password: 'nope' }),
          isUnauthorized,
        );
        if (mode === 'token') {
          const granted = r.tokenServer!.requests.filter((q) => q.status === 200 && q.account === r.username);
          assert.ok(
            granted.some((q) => q.scopes.includes('repository:private/busybox:pull')),
            JSON.stringify(r.tokenServer!.requests),
          );
        }
        // credentials from a docker-style config.json
        const cfg = join(tmp, `config-${mode}.json`);
        await writeFile(
          cfg,
          JSON.stringify({
            auths: {
              [`http://${r.host}`]: { auth: Buffer.from(`${r.username}:${r.password}`).toString('base64') },
            },
          }),
        );
        const withCfg = await service({ authConfigPath: cfg });
        assert.equal((await withCfg.pullImage(ref)).id, busybox.configDigest);
        await assertIntact(images, [busybox.configDigest]);
      } finally {
        await r.stop();
      }
    });
  }
});

describe('mirrors', { concurrency: 1 }, () => {
  it('pulls through a mirror when the registry itself is down', async () => {
    const dead = `127.0.0.1:${await freeLoopbackPort()}`;
    const images = await service({ mirrors: { [dead]: [`http://${reg.host}`] } });
    const rec = await images.pullImage(`${dead}/busybox:latest`);
    assert.equal(rec.id, busybox.configDigest);
    assert.deepEqual(rec.repoTags, [`${dead}/busybox:latest`]);
  });

  it('tries mirrors first and falls back to the registry when a mirror fails', async () => {
    const proxy = await startRegistryProxy(reg.host);
    try {
      const deadMirror = `http://127.0.0.1:${await freeLoopbackPort()}`;
      const images = await service({ mirrors: { [reg.host]: [deadMirror, `http://${proxy.host}`] } });
      await images.pullImage(`${reg.host}/busybox:latest`);
      assert.ok(proxy.requests.some((q) => q.path.includes('/manifests/latest')));
      assert.ok(proxy.requests.some((q) => q.path.includes(`/blobs/${busybox.layers[0]!.digest}`)));
      proxy.fault = () => ({ kind: 'status', status: 500 });
      const other = await service({ mirrors: { [reg.host]: [`http://${proxy.host}`] } });
      assert.equal((await other.pullImage(`${reg.host}/busybox:latest`)).id, busybox.configDigest);
    } finally {
      await proxy.close();
    }
  });

  it('refuses plain http to a registry that is not insecure', async () => {
    const images = await service({ mirrors: { 'docker.io': ['http://mirror.example:5000'] } });
    await assert.rejects(
      images.pullImage('busybox'),
      (err) =>
        isInvalid(err) &&
        /Refusing plain http to registry "mirror.example:5000"/.test((err as Error).message),
    );
  });
});

describe('resuming downloads', { concurrency: 1 }, () => {
  let big: BuiltImage;
  before(async () => {
    big = await buildImage({
      layers: [{ entries: [{ path: 'blob.bin', content: randomBytes(1_500_000) }] }],
    });
    await pushImage(`${reg.host}/big:v1`, big);
  });

  it('resumes an interrupted blob with a Range request within one pull', async () => {
    const proxy = await startRegistryProxy(reg.host);
    try {
      let cuts = 0;
      proxy.fault = (q) =>
        q.path.endsWith(big.layers[0]!.digest) && cuts++ === 0
          ? { kind: 'cut', bytes: 400_000 }
          : { kind: 'pass' };
      const images = await service();
      // unpacking while downloading must fall back to the verified blob after the interruption
      const rec = await images.pullImage(`${proxy.host}/big:v1`, { unpack: 'layers' });
      assert.equal(rec.id, big.configDigest);
      const [dir] = (await images.ensureLayerTree(rec.id)).lowerDirs;
      assert.equal((await stat(join(dir!, 'blob.bin'))).size, 1_500_000);
      assert.deepEqual(await readdir(join(images.root, 'tmp')), []);
      const gets = proxy.requests.filter((q) => q.path.endsWith(big.layers[0]!.digest));
      assert.equal(gets.length, 2);
      assert.match(gets[1]!.range ?? '', /^bytes=[1-9]\d*-$/);
    } finally {
      await proxy.close();
    }
  });

  it('keeps a partial download across failed pulls and resumes it in the next pull', async () => {
    const proxy = await startRegistryProxy(reg.host);
    try {
      proxy.fault = (q) =>
        q.path.endsWith(big.layers[0]!.digest) ? { kind: 'cut', bytes: 600_000 } : { kind: 'pass' };
      const images = await service({ blobAttempts: 1 });
      await assert.rejects(
        images.pullImage(`${proxy.host}/big:v1`),
        (err) => isUnavailable(err) && /failed 1 times/.test((err as Error).message),
      );
      assert.deepEqual(await images.listImages(), []);
      const partial = join(images.root, 'ingest', `${big.layers[0]!.digest.slice(7)}.partial`);
      const have = (await stat(partial)).size;
      assert.ok(have > 0);
      proxy.fault = () => ({ kind: 'pass' });
      await images.pullImage(`${proxy.host}/big:v1`);
      const last = proxy.requests.filter((q) => q.path.endsWith(big.layers[0]!.digest)).at(-1)!;
      assert.equal(last.range, `bytes=${have}-`);
      await assertIntact(images, [big.configDigest]);
    } finally {
      await proxy.close();
    }
  });
});

describe('bad input from the registry', { concurrency: 1 }, () => {
  let proxy: Awaited<ReturnType<typeof startRegistryProxy>>;
  let images: LocalImageService;
  let target: BuiltImage;
  const ref = () => `${proxy.host}/target:v1`;

  before(async () => {
    target = await buildImage({ layers: [{ entries: [{ path: 'data', content: randomBytes(200_000) }] }] });
    await pushImage(`${reg.host}/target:v1`, target);
    proxy = await startRegistryProxy(reg.host);
    images = await service({ blobAttempts: 2 });
    await images.pullImage(`${proxy.host}/busybox:latest`);
  });
  after(async () => {
    await proxy.close();
  });

  const cases: {
    name: string;
    fault: Parameters<typeof proxy.fault>[0] extends infer Q
      ? (q: Q & { path: string }) => ReturnType<typeof proxy.fault>
      : never;
    check: (err: unknown) => boolean;
  }[] = [
    {
      name: 'a blob whose content does not match its digest',
      fault: (q) =>
        q.path.endsWith(target.layers[0]!.digest)
          ? { kind: 'body', body: randomBytes(target.layers[0]!.size) }
          : { kind: 'pass' },
      check: (err) => isInvalid(err) && /failed verification/.test((err as Error).message),
    },
    {
      name: 'a truncated blob',
      fault: (q) =>
        q.path.endsWith(target.layers[0]!.digest) ? { kind: 'cut', bytes: 1000 } : { kind: 'pass' },
      check: (err) =>
        isUnavailable(err) &&
        /failed 2 times: (Connection closed after|Cannot reach)/.test((err as Error).message),
    },
    {
      name: 'a blob longer than its descriptor',
      fault: (q) =>
        q.path.endsWith(target.layers[0]!.digest)
          ? { kind: 'body', body: randomBytes(target.layers[0]!.size + 10) }
          : { kind: 'pass' },
      check: (err) => isInvalid(err) && /descriptor says/.test((err as Error).message),
    },
    {
      name: 'an oversized manifest',
      fault: (q) =>
        q.path.includes('/manifests/')
          ? {
              kind: 'body',
              body: Buffer.alloc(5 * 1024 * 1024, 0x20),
              contentType: 'application/vnd.oci.image.manifest.v1+json',
            }
          : { kind: 'pass' },
      check: (err) =>
        errorCode(err) === 'RequestEntityTooLarge' &&
        /larger than the limit of 4194304 bytes/.test((err as Error).message),
    },
    {
      name: 'a manifest of an unknown media type',
      fault: (q) =>
        q.path.includes('/manifests/')
          ? {
              kind: 'body',
              body: Buffer.from(
                JSON.stringify({
                  schemaVersion: 2,
                  mediaType: 'application/vnd.example.thing.v1+json',
                  config: {},
                  layers: [],
                }),
              ),
              contentType: 'application/vnd.example.thing.v1+json',
            }
          : { kind: 'pass' },
      check: (err) =>
        isInvalid(err) &&
        /unsupported manifest media type "application\/vnd.example.thing.v1\+json"/.test(
          (err as Error).message,
        ),
    },
    {
      name: 'a malformed manifest',
      fault: (q) =>
        q.path.includes('/manifests/')
          ? {
              kind: 'body',
              body: Buffer.from(
                JSON.stringify({
                  schemaVersion: 2,
                  mediaType: 'application/vnd.oci.image.manifest.v1+json',
                  config: { digest: 'nope' },
                  layers: 'x',
                }),
              ),
            }
          : { kind: 'pass' },
      check: (err) => isInvalid(err) && /Invalid manifest of/.test((err as Error).message),
    },
    {
      name: 'a 401 without a challenge',
      fault: () => ({ kind: 'status', status: 401 }),
      check: (err) => isUnauthorized(err),
    },
    {
      name: 'a 404',
      fault: () => ({
        kind: 'status',
        status: 404,
        body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }),
      }),
      check: (err) =>
        isNotFound(err) &&
        /not found in registry .*MANIFEST_UNKNOWN manifest unknown/.test((err as Error).message),
    },
    {
      name: 'a 500',
      fault: () => ({ kind: 'status', status: 500 }),
      check: (err) => isUnavailable(err) && /answered HTTP 500/.test((err as Error).message),
    },
    {
      name: 'a 500 for a layer',
      fault: (q) =>
        q.path.endsWith(target.layers[0]!.digest) ? { kind: 'status', status: 503 } : { kind: 'pass' },
      check: (err) => isUnavailable(err) && /answered HTTP 503/.test((err as Error).message),
    },
  ];

  for (const c of cases) {
    it(`answers ${c.name} with a clear error and an intact store`, async () => {
      proxy.fault = c.fault as typeof proxy.fault;
      await assert.rejects(images.pullImage(ref()), (err) => {
        assert.ok(c.check(err), `unexpected error: ${errorCode(err)} ${(err as Error).message}`);
        return true;
      });
      proxy.fault = () => ({ kind: 'pass' });
      await assertIntact(images, [busybox.configDigest]);
    });
  }

  it('refuses a layer of an unknown media type before downloading it', async () => {
    const odd = await buildImage({
      layers: [{ entries: [{ path: 'x', content: 'x' }], mediaType: 'application/vnd.example.layer.v1+foo' }],
    });
    await pushImage(`${reg.host}/odd:v1`, odd);
    proxy.requests.length = 0;
    await assert.rejects(
      images.pullImage(`${proxy.host}/odd:v1`),
      (err) =>
        isInvalid(err) &&
        /unsupported media type "application\/vnd.example.layer.v1\+foo"/.test((err as Error).message),
    );
    assert.ok(!proxy.requests.some((q) => q.path.endsWith(odd.layers[0]!.digest)));
    await assertIntact(images, [busybox.configDigest]);
  });

  it('refuses a layer whose content does not match the config diffID when unpacking', async () => {
    const good = await buildImage({ layers: [{ entries: [{ path: 'x', content: 'x' }] }] });
    const lie = JSON.parse(good.config.toString()) as { rootfs: { diff_ids: string[] } };
    lie.rootfs.diff_ids = ['sha256:' + 'e'.repeat(64)];
    const cfg = Buffer.from(JSON.stringify(lie));
    const { sha256Digest } = await import('./digest.js');
    const manifest = JSON.parse(good.manifest.toString()) as { config: { digest: string; size: number } };
    manifest.config = { ...manifest.config, digest: sha256Digest(cfg), size: cfg.length };
    const mBytes = Buffer.from(JSON.stringify(manifest));
    await pushImage(`${reg.host}/liar:v1`, {
      ...good,
      config: cfg,
      configDigest: sha256Digest(cfg),
      manifest: mBytes,
      manifestDigest: sha256Digest(mBytes),
    });
    const rec = await images.pullImage(`${proxy.host}/liar:v1`);
    await assert.rejects(
      images.ensureLayerTree(rec.id),
      (err) => isInvalid(err) && /does not match the image config/.test((err as Error).message),
    );
    await assert.rejects(images.ensureRootDisk(rec.id), isInvalid);
    assert.equal((await readdir(join(images.root, 'layers'))).filter((n) => n.startsWith('eeee')).length, 0);
    await images.removeImage(rec.id);
  });
});

describe('a full disk', () => {
  it('fails a pull that does not fit with a clear error and leaves the store usable', async () => {
    // PRIVILEGED: a tiny loop-mounted ext4 as the store root, so the pull hits ENOSPC; unmounted
    // (which detaches the loop device, autoclear) in finally.
    const img = join(tmp, 'tiny.ext4');
    const mnt = join(tmp, 'tiny-mnt');
    await mkdir(mnt);
    await execFile(['truncate', '-s', '12M', img]);
    await execFile(['mkfs.ext4', '-q', '-F', '-m', '0', img]);
    await execFile(['mount', '-o', 'loop', img, mnt]);
    try {
      const huge = await buildImage({
        layers: [{ entries: [{ path: 'huge.bin', content: randomBytes(14_000_000) }], compression: 'none' }],
      });
      await pushImage(`${reg.host}/huge:v1`, huge);
      const images = await createImageService({ root: join(mnt, 'store'), log: nullLogger });
      await images.pullImage(`${reg.host}/busybox:latest`);
      await assert.rejects(images.pullImage(`${reg.host}/huge:v1`), (err) =>
        /no space left in the image store/.test((err as Error).message),
      );
      assert.deepEqual(
        (await images.listImages()).map((i) => i.id),
        [busybox.configDigest],
      );
      await images.garbageCollect();
      assert.deepEqual(await readdir(join(images.root, 'ingest')), []);
      await assertIntact(images, [busybox.configDigest]);
      // still usable after the failure
      await images.removeImage(`${reg.host}/busybox:latest`);
      await images.pullImage(`${reg.host}/busybox:latest`);
    } finally {
      // PRIVILEGED: undoes the test's own mount.
      await execFile(['umount', mnt], { check: false });
    }
  });
});
