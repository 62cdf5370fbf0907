/**
 * The image service against a real registry (Debian's docker-registry on loopback) filled
 * with images built from local files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, isConflict, isNotFound, nullLogger, spawnProcess, waitFor } from '../lib/index.js';
import { createImageService, type LocalImageService } from './index.js';
import {
  buildImage,
  busyboxImage,
  pushBusybox,
  pushImage,
  pushIndex,
  startRegistryProxy,
  startTestRegistry,
  type BuiltImage,
  type TestRegistry,
} from './testing/index.js';

let reg: TestRegistry;
let tmp: string;
let busyboxRef: string;
let busybox: BuiltImage;
let layered: BuiltImage;
const layeredRef = () => `${reg.host}/layered:v1`;

async function service(
  name: string,
  extra: Partial<Parameters<typeof createImageService>[0]> = {},
): Promise<LocalImageService> {
  return createImageService({ root: join(tmp, name), log: nullLogger, ...extra });
}

/** debugfs reads the ext4 image without mounting it. */
async function debugfs(image: string, cmd: string): Promise<string> {
  const r = await execFile(['debugfs', '-R', cmd, image], { check: false });
  return r.stdout + r.stderr;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'h8s-images-int-'));
  reg = await startTestRegistry();
  ({ ref: busyboxRef, image: busybox } = await pushBusybox(reg.host));
  layered = await busyboxImage({
    extraLayers: [
      {
        entries: [
          { path: 'etc/app/', mode: 0o750, uid: 1000, gid: 1000 },
          { path: 'etc/app/one.conf', content: 'one' },
          { path: 'etc/app/two.conf', content: 'two' },
          { path: 'srv/', mode: 0o755 },
          { path: 'srv/old', content: 'old' },
          { path: 'srv/sub/', mode: 0o755 },
          { path: 'srv/sub/older', content: 'older' },
          { path: 'usr/bin/app', content: '#!/bin/sh\necho app\n', mode: 0o4755 },
          { path: 'usr/bin/app-link', type: 'hardlink', linkname: 'usr/bin/app' },
          {
            path: 'usr/bin/ping',
            content: 'elf',
            mode: 0o755,
            xattrs: { 'security.capability': Buffer.from('0100000200200000000000000000000000000000', 'hex') },
          },
        ],
      },
      {
        compression: 'zstd',
        entries: [
          { path: 'etc/app/', mode: 0o750, uid: 1000, gid: 1000 },
          { path: 'etc/app/.wh.one.conf', content: '' },
          { path: 'srv/', mode: 0o755 },
          { path: 'srv/.wh..wh..opq', content: '' },
          { path: 'srv/new', content: 'new' },
          { path: 'bin/.wh.vi', content: '' },
        ],
      },
    ],
    config: {
      entrypoint: ['/usr/bin/app'],
      cmd: ['--serve'],
      env: ['PATH=/bin:/usr/bin', 'APP=1'],
      workingDir: '/srv',
      user: '1000:1000',
      exposedPorts: ['8080/tcp'],
      labels: { tier: 'test' },
      stopSignal: 'SIGINT',
    },
  });
  await pushImage(layeredRef(), layered);
});

after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('image service with a real registry', { concurrency: 1 }, () => {
  it('pulls busybox by tag and reports per-layer progress', async () => {
    const images = await service('by-tag');
    const phases: string[] = [];
    const rec = await images.pullImage(busyboxRef, { onProgress: (p) => phases.push(p.phase) });
    assert.equal(rec.id, busybox.configDigest);
    assert.deepEqual(rec.repoTags, [`${reg.host}/busybox:latest`]);
    assert.deepEqual(rec.repoDigests, [`${reg.host}/busybox@${busybox.manifestDigest}`]);
    assert.deepEqual(rec.config.cmd, ['sh']);
    assert.ok(rec.sizeBytes > busybox.layers[0]!.size, 'size is the uncompressed size');
    assert.deepEqual([phases[0], phases.at(-1)], ['resolve', 'done']);
    assert.ok(phases.includes('download') && phases.includes('verify'));
    // a second pull downloads nothing
    const again: string[] = [];
    await images.pullImage(busyboxRef, { onProgress: (p) => again.push(p.phase) });
    assert.ok(!again.includes('download') && again.includes('exists'));
    assert.deepEqual(
      (await images.listImages()).map((i) => i.id),
      [busybox.configDigest],
    );
    assert.equal((await images.getImage(`${reg.host}/busybox`)).id, rec.id);
    assert.equal((await images.getImage(rec.id.slice(7, 19))).id, rec.id);
    assert.equal(await images.findImage(`${reg.host}/other:latest`), undefined);
    await assert.rejects(images.getImage(`${reg.host}/other:latest`), isNotFound);
  });

  it('pulls by digest and records the digest reference', async () => {
    const images = await service('by-digest');
    const rec = await images.pullImage(`${reg.host}/busybox@${busybox.manifestDigest}`);
    assert.equal(rec.id, busybox.configDigest);
    assert.deepEqual(rec.repoTags, []);
    assert.equal((await images.getImage(`${reg.host}/busybox@${busybox.manifestDigest}`)).id, rec.id);
  });

  it('unpacks a multi-layer image with whiteouts into overlayfs lowerdirs that mount correctly', async () => {
    const images = await service('layers');
    const rec = await images.pullImage(layeredRef(), { unpack: 'layers' });
    assert.deepEqual(rec.config, {
      entrypoint: ['/usr/bin/app'],
      cmd: ['--serve'],
      env: ['PATH=/bin:/usr/bin', 'APP=1'],
      workingDir: '/srv',
      user: '1000:1000',
      exposedPorts: ['8080/tcp'],
      labels: { tier: 'test' },
      stopSignal: 'SIGINT',
    });
    const tree = await images.ensureLayerTree(layeredRef());
    assert.equal(tree.lowerDirs.length, 3);
    const top = tree.lowerDirs[2]!;
    const wh = await lstat(join(top, 'etc/app/one.conf'));
    assert.equal(wh.isCharacterDevice() && wh.rdev === 0, true, 'whiteout is a 0/0 char device');
    const opq = await execFile([
      'getfattr',
      '-n',
      'trusted.overlay.opaque',
      '--absolute-names',
      join(top, 'srv'),
    ]);
    assert.match(opq.stdout, /="y"/);
    // cached: the same directories again
    assert.deepEqual((await images.ensureLayerTree(rec.id)).lowerDirs, tree.lowerDirs);

    const mnt = join(tmp, 'overlay-mnt');
    const upper = join(tmp, 'overlay-upper');
    const work = join(tmp, 'overlay-work');
    for (const d of [mnt, upper, work]) await mkdir(d, { recursive: true });
    // PRIVILEGED: mounts an overlayfs of the unpacked layers on a temp dir of this test, unmounted in finally.
    await execFile([
      'mount',
      '-t',
      'overlay',
      'h8s-images-test',
      '-o',
      `lowerdir=${[...tree.lowerDirs].reverse().join(':')},upperdir=${upper},workdir=${work}`,
      mnt,
    ]);
    try {
      assert.deepEqual((await readdir(join(mnt, 'etc/app'))).sort(), ['two.conf']);
      assert.deepEqual((await readdir(join(mnt, 'srv'))).sort(), ['new']);
      await assert.rejects(lstat(join(mnt, 'bin/vi')));
      assert.equal((await lstat(join(mnt, 'bin/sh'))).isSymbolicLink(), true);
      const app = await stat(join(mnt, 'usr/bin/app'));
      assert.equal(app.mode & 0o7777, 0o4755);
      assert.equal(app.nlink, 2);
      const conf = await stat(join(mnt, 'etc/app'));
      assert.deepEqual([conf.uid, conf.gid, conf.mode & 0o777], [1000, 1000, 0o750]);
    } finally {
      // PRIVILEGED: undoes the test's own mount.
      await execFile(['umount', mnt], { check: false });
    }
  });

  it('builds one cached ext4 root disk with the layers applied in order', async () => {
    const images = await service('disk');
    await images.pullImage(layeredRef());
    const disk = await images.ensureRootDisk(layeredRef());
    assert.equal(disk.fsType, 'ext4');
    assert.match(disk.path, /\/disks\/[a-f0-9]{64}\.ext4$/);
    const fsck = await execFile(['e2fsck', '-fn', disk.path], { check: false });
    assert.equal(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
    assert.match(await debugfs(disk.path, 'ls -p /etc/app'), /two\.conf/);
    assert.doesNotMatch(await debugfs(disk.path, 'ls -p /etc/app'), /one\.conf/);
    const srv = await debugfs(disk.path, 'ls -p /srv');
    assert.match(srv, /\/new\//);
    assert.doesNotMatch(srv, /old/);
    assert.doesNotMatch(await debugfs(disk.path, 'ls -p /bin'), /\/vi\//);
    const app = await debugfs(disk.path, 'stat /usr/bin/app');
    assert.match(app, /Mode:\s+04755/);
    assert.match(app, /Links: 2/);
    assert.match(await debugfs(disk.path, 'stat /etc/app'), /User:\s+1000\s+Group:\s+1000/);
    assert.match(await debugfs(disk.path, 'ea_list /usr/bin/ping'), /security\.capability/);
    assert.match(await debugfs(disk.path, 'stat /tmp'), /Mode:\s+01777/);
    const again = await images.ensureRootDisk(layeredRef());
    assert.deepEqual(again, disk);
    // building in parallel shares one build
    const other = await service('disk-parallel');
    await other.pullImage(busyboxRef);
    const [a, b] = await Promise.all([other.ensureRootDisk(busyboxRef), other.ensureRootDisk(busyboxRef)]);
    assert.equal(a.path, b.path);
    assert.deepEqual(await readdir(join(other.root, 'tmp')), []);
  });

  it('picks linux/amd64 from a multi-arch index by default and another platform on request', async () => {
    const amd = await busyboxImage({ config: { cmd: ['sh'], labels: { arch: 'amd64' } } });
    const arm = await busyboxImage({
      architecture: 'arm64',
      variant: 'v8',
      config: { cmd: ['sh'], labels: { arch: 'arm64' } },
    });
    const indexDigest = await pushIndex(`${reg.host}/multi:v1`, [arm, amd]);
    await pushIndex(
      `${reg.host}/multi-docker:v1`,
      [
        arm,
        await busyboxImage({ format: 'docker', config: { cmd: ['sh'], labels: { arch: 'amd64-docker' } } }),
      ],
      { format: 'docker' },
    );
    const images = await service('multi');
    const a = await images.pullImage(`${reg.host}/multi:v1`);
    assert.equal(a.config.labels['arch'], 'amd64');
    assert.deepEqual(a.repoDigests, [`${reg.host}/multi@${indexDigest}`]);
    const b = await images.pullImage(`${reg.host}/multi:v1`, { platform: 'linux/arm64' });
    assert.equal(b.config.labels['arch'], 'arm64');
    assert.equal(b.architecture, 'arm64');
    const c = await images.pullImage(`${reg.host}/multi-docker:v1`);
    assert.equal(c.config.labels['arch'], 'amd64-docker');
    await assert.rejects(
      images.pullImage(`${reg.host}/multi:v1`, { platform: 'linux/s390x' }),
      (err) =>
        isNotFound(err) &&
        /no manifest for platform "linux\/s390x".*linux\/arm64\/v8, linux\/amd64/.test(
          (err as Error).message,
        ),
    );
  });

  it('shares the work of two concurrent pulls of the same image', async () => {
    const big = await buildImage({
      layers: [
        { entries: [{ path: 'a', content: Buffer.alloc(300_000, 1) }] },
        { entries: [{ path: 'b', content: Buffer.alloc(300_000, 2) }] },
      ],
    });
    const proxy = await startRegistryProxy(reg.host);
    try {
      await pushImage(`${reg.host}/shared:v1`, big);
      const images = await service('shared');
      const ref = `${proxy.host}/shared:v1`;
      const [x, y] = await Promise.all([
        images.pullImage(ref, { onProgress: () => undefined }),
        images.pullImage(ref, { onProgress: () => undefined }),
      ]);
      assert.equal(x.id, y.id);
      for (const l of big.layers) {
        assert.equal(
          proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${l.digest}`)).length,
          1,
          `layer ${l.digest} fetched once`,
        );
      }
    } finally {
      await proxy.close();
    }
  });

  it('leaves no image visible when a pull is aborted half way, and a later pull completes', async () => {
    const big = await buildImage({
      layers: [
        {
          entries: [
            {
              path: 'big',
              content: Buffer.from(Array.from({ length: 2_000_000 }, (_, i) => (i * 7919) % 251)),
            },
          ],
          compression: 'none',
        },
      ],
    });
    await pushImage(`${reg.host}/abort:v1`, big);
    const proxy = await startRegistryProxy(reg.host);
    try {
      const images = await service('abort');
      const ac = new AbortController();
      proxy.fault = (r) =>
        r.path.includes('/blobs/') && r.path.endsWith(big.layers[0]!.digest)
          ? { kind: 'cut', bytes: 500_000 }
          : { kind: 'pass' };
      await assert.rejects(
        images.pullImage(`${proxy.host}/abort:v1`, {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.phase === 'download' && (p.currentBytes ?? 0) > 0) ac.abort(new Error('stop'));
          },
        }),
      );
      assert.deepEqual(await images.listImages(), []);
      assert.equal(await images.findImage(`${proxy.host}/abort:v1`), undefined);
      proxy.fault = () => ({ kind: 'pass' });
      const rec = await images.pullImage(`${proxy.host}/abort:v1`);
      assert.equal(rec.id, big.configDigest);
    } finally {
      await proxy.close();
    }
  });

  it('counts references: rmi keeps shared blobs until the last image goes, and retained images refuse removal', async () => {
    const images = await service('rmi');
    await images.pullImage(busyboxRef);
    await images.pullImage(layeredRef());
    const blobsDir = join(images.root, 'blobs', 'sha256');
    await images.ensureLayerTree(layeredRef());
    await images.ensureRootDisk(layeredRef());
    await images.removeImage(layeredRef());
    const left = await readdir(blobsDir);
    assert.ok(left.includes(busybox.layers[0]!.digest.slice(7)), 'shared busybox layer stays');
    for (const l of layered.layers.slice(1)) assert.ok(!left.includes(l.digest.slice(7)), 'unique layers go');
    assert.deepEqual(await readdir(join(images.root, 'disks')), []);
    assert.equal((await readdir(join(images.root, 'layers'))).length, 1);

    await images.retain(busyboxRef, 'sandbox-1');
    await assert.rejects(
      images.removeImage(busyboxRef),
      (err) => isConflict(err) && /in use by "sandbox-1"/.test((err as Error).message),
    );
    await images.removeImage(busyboxRef, { force: true });
    assert.deepEqual(
      (await images.listImages()).map((i) => i.repoTags),
      [[]],
    );
    assert.ok((await readdir(blobsDir)).length > 0, 'held image keeps its blobs');
    await images.release('sandbox-1');
    assert.deepEqual(await images.listImages(), []);
    assert.deepEqual(await readdir(blobsDir), []);
    assert.deepEqual(await readdir(join(images.root, 'layers')), []);
    await assert.rejects(images.removeImage(busyboxRef), isNotFound);
  });

  it('removes by image ID only with force when several tags name it', async () => {
    const images = await service('rmi-id');
    await pushImage(`${reg.host}/busybox:second`, busybox);
    const rec = await images.pullImage(busyboxRef);
    await images.pullImage(`${reg.host}/busybox:second`);
    await assert.rejects(images.removeImage(rec.id.slice(7, 19)), isConflict);
    await images.removeImage(rec.id.slice(7, 19), { force: true });
    assert.deepEqual(await images.listImages(), []);
    assert.equal(await images.garbageCollect(), 0);
  });

  it('saves images to a tarball that it, and skopeo, can load back', async () => {
    const images = await service('save');
    await images.pullImage(layeredRef());
    await images.pullImage(busyboxRef);
    const out = join(tmp, 'saved.tar');
    await images.saveImage([layeredRef(), busyboxRef], out);
    const list = (await execFile(['tar', '-tf', out])).stdout.split('\n');
    for (const f of ['manifest.json', 'repositories', 'index.json', 'oci-layout'])
      assert.ok(list.includes(f), f);
    const manifest = JSON.parse((await execFile(['tar', '-xOf', out, 'manifest.json'])).stdout) as {
      RepoTags: string[];
    }[];
    assert.deepEqual(
      manifest.map((m) => m.RepoTags),
      [[`${reg.host}/layered:v1`], [`${reg.host}/busybox:latest`]],
    );
    const sk = await execFile(
      ['skopeo', 'inspect', '--raw', `docker-archive:${out}:${reg.host}/layered:v1`],
      { check: false },
    );
    assert.equal(sk.exitCode, 0, sk.stderr);
    const ski = await execFile(['skopeo', 'inspect', `oci-archive:${out}:latest`], { check: false });
    assert.equal(ski.exitCode, 0, ski.stderr);

    const other = await service('load');
    const loaded = await other.loadImage(out);
    assert.deepEqual(
      loaded.map((r) => r.id),
      [layered.configDigest, busybox.configDigest],
    );
    assert.deepEqual((await other.getImage(layeredRef())).config.entrypoint, ['/usr/bin/app']);
    const disk = await other.ensureRootDisk(layeredRef());
    assert.match(await debugfs(disk.path, 'ls -p /srv'), /\/new\//);
    assert.deepEqual((await other.ensureLayerTree(busyboxRef)).lowerDirs.length, 1);
  });

  it('loads a docker-archive and an OCI archive written by skopeo', async () => {
    const images = await service('load-skopeo');
    const da = join(tmp, 'skopeo-docker.tar');
    const oa = join(tmp, 'skopeo-oci.tar');
    await execFile([
      'skopeo',
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${busyboxRef}`,
      `docker-archive:${da}:example.test/tools/busybox:v3`,
    ]);
    await execFile([
      'skopeo',
      'copy',
      '-q',
      '--src-tls-verify=false',
      `docker://${layeredRef()}`,
      `oci-archive:${oa}:example.test/team/layered:v2`,
    ]);
    const [a] = await images.loadImage(da);
    assert.equal(a!.id, busybox.configDigest);
    assert.deepEqual(a!.repoTags, ['example.test/tools/busybox:v3']);
    const [b] = await images.loadImage(oa);
    assert.equal(b!.id, layered.configDigest);
    assert.deepEqual(b!.repoTags, ['example.test/team/layered:v2']);
    const disk = await images.ensureRootDisk('example.test/team/layered:v2');
    assert.match(await debugfs(disk.path, 'ls -p /etc/app'), /two\.conf/);
  });

  it('refuses a tarball that is not an image archive, with an intact store', async () => {
    const images = await service('load-bad');
    const bad = join(tmp, 'not-an-image.tar');
    await mkdir(join(tmp, 'plain'), { recursive: true });
    await writeFile(join(tmp, 'plain', 'hello.txt'), 'hello');
    await execFile(['tar', '-cf', bad, '-C', join(tmp, 'plain'), 'hello.txt']);
    await assert.rejects(images.loadImage(bad), /neither a docker-archive/);
    await assert.rejects(images.loadImage(join(tmp, 'missing.tar')), /does not exist/);
    assert.deepEqual(await images.listImages(), []);
    assert.deepEqual(await readdir(join(images.root, 'tmp')), []);
  });
});

describe('a crash in the middle of a pull', () => {
  it('leaves no half image after SIGKILL, and the next pull completes, resuming what reached the disk', async () => {
    const big = await buildImage({
      layers: [
        {
          entries: [
            {
              path: 'big.bin',
              content: randomBytes(3_000_000),
            },
          ],
        },
        { entries: [{ path: 'small', content: 'x' }] },
      ],
    });
    await pushImage(`${reg.host}/crash:v1`, big);
    const proxy = await startRegistryProxy(reg.host);
    const root = join(tmp, 'crash');
    const layer = big.layers[0]!;
    try {
      proxy.fault = (q) =>
        q.path.endsWith(layer.digest)
          ? { kind: 'stall', bytes: Math.floor(layer.size / 2) }
          : { kind: 'pass' };
      const child = await spawnProcess(
        [
          process.execPath,
          '--import',
          'tsx',
          new URL('./testing/pull-child.ts', import.meta.url).pathname,
          root,
          `${proxy.host}/crash:v1`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      try {
        await waitFor(() => /progress \d+/.test(out) && out, {
          timeoutMs: 60_000,
          description: 'the child pull to start downloading',
        });
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
      const images = await createImageService({ root, log: nullLogger });
      assert.deepEqual(await images.listImages(), []);
      assert.deepEqual(await readdir(join(images.root, 'tmp')), [], "the dead process's work dirs are gone");
      const partial =
        (await stat(join(root, 'ingest', `${layer.digest.slice(7)}.partial`)).catch(() => undefined))?.size ??
        0;
      proxy.fault = () => ({ kind: 'pass' });
      proxy.requests.length = 0;
      const rec = await images.pullImage(`${proxy.host}/crash:v1`, { unpack: 'layers' });
      assert.equal(rec.id, big.configDigest);
      // whatever reached the disk before the kill is resumed, not fetched again
      const get = proxy.requests.find((q) => q.path.endsWith(layer.digest));
      assert.equal(get?.range, partial > 0 ? `bytes=${partial}-` : undefined);
      const [dir] = (await images.ensureLayerTree(rec.id)).lowerDirs;
      assert.equal((await stat(join(dir!, 'big.bin'))).size, 3_000_000);
      // the background sync of the trees is done before the test's directories are removed
      await images.flush();
    } finally {
      await proxy.close();
    }
  });
});
