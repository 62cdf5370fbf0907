/**
 * Builds OCI / Docker images from local files for tests and benchmarks, and pushes them to a
 * registry with our own push code (RegistryClient.pushBlob/pushManifest).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { execFile, nullLogger } from '../../lib/index.js';
import type { RegistryAuth } from '../image-service.js';
import { sha256Digest } from '../digest.js';
import { mediaTypes } from '../oci-schemas.js';
import { parseReference } from '../reference.js';
import { RegistryClient } from '../registry-client.js';
import { buildTar, encodeTarHeader, tarPadding, tarTrailer, type TarEntryType } from '../tar-format.js';

/** One entry of a layer. Directories need no content; links need `linkname`. */
export interface FileSpec {
  readonly path: string;
  readonly type?: TarEntryType;
  readonly content?: string | Buffer;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  readonly xattrs?: Readonly<Record<string, string | Buffer>>;
  readonly mtimeMs?: number;
}

export interface LayerSpec {
  /** Entries in archive order. Whiteouts are files named `.wh.<name>` / `.wh..wh..opq`. */
  readonly entries?: readonly FileSpec[];
  /** A ready-made (possibly malicious) uncompressed tar instead of `entries`. */
  readonly rawTar?: Buffer;
  /** A ready-made gzip layer and the digest of its uncompressed tar (see `zeroFilledLayer`). */
  readonly gzipped?: { readonly data: Buffer; readonly diffId: string };
  readonly compression?: 'gzip' | 'zstd' | 'none';
  /** Override the layer media type (to test unknown types). */
  readonly mediaType?: string;
}

export interface ImageConfigSpec {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly exposedPorts?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly stopSignal?: string;
}

export interface ImageSpec {
  readonly layers: readonly LayerSpec[];
  readonly config?: ImageConfigSpec;
  readonly os?: string;
  readonly architecture?: string;
  readonly variant?: string;
  readonly created?: string;
  /** `oci` (default) or `docker` (schema2) media types. */
  readonly format?: 'oci' | 'docker';
}

export interface BuiltLayer {
  readonly data: Buffer;
  readonly digest: string;
  readonly diffId: string;
  readonly mediaType: string;
  readonly size: number;
}

export interface BuiltImage {
  readonly manifest: Buffer;
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  readonly config: Buffer;
  readonly configDigest: string;
  readonly layers: readonly BuiltLayer[];
  readonly platform: { readonly os: string; readonly architecture: string; readonly variant?: string };
}

const fixedMtimeMs = Date.parse('2024-01-01T00:00:00Z');

/** An uncompressed tar of `entries`. */
export function layerTar(entries: readonly FileSpec[]): Buffer {
  return buildTar(
    entries.map((e) => {
      const type = e.type ?? (e.path.endsWith('/') ? 'directory' : 'file');
      const data =
        e.content === undefined ? undefined : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content);
      return {
        header: {
          name: e.path,
          type,
          mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          mtimeMs: e.mtimeMs ?? fixedMtimeMs,
          ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
          ...(e.devmajor !== undefined ? { devmajor: e.devmajor } : {}),
          ...(e.devminor !== undefined ? { devminor: e.devminor } : {}),
          ...(e.xattrs
            ? { xattrs: new Map(Object.entries(e.xattrs).map(([k, v]) => [k, Buffer.from(v)])) }
            : {}),
        },
        ...(data ? { data } : {}),
      };
    }),
  );
}

/**
 * A gzip layer of `files` files of `fileBytes` zero bytes each (`zeros/0`, `zeros/1`, …): a
 * decompression bomb in miniature (a gzip of zeros is about a thousandth of its size). Streamed,
 * so a layer that inflates to gigabytes costs no more memory than its gzip.
 */
export async function zeroFilledLayer(options: { files: number; fileBytes: number }): Promise<LayerSpec> {
  const tarHash = createHash('sha256');
  const gzip = createGzip({ level: 6 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const finished = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const write = async (b: Buffer): Promise<void> => {
    tarHash.update(b);
    if (!gzip.write(b)) await new Promise((r) => gzip.once('drain', r));
  };
  const chunk = Buffer.alloc(Math.min(options.fileBytes, 1024 * 1024));
  await write(encodeTarHeader({ name: 'zeros/', type: 'directory', mode: 0o755 }));
  for (let i = 0; i < options.files; i++) {
    await write(encodeTarHeader({ name: `zeros/${i}`, type: 'file', mode: 0o644, size: options.fileBytes }));
    for (let left = options.fileBytes; left > 0; left -= chunk.length)
      await write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    await write(tarPadding(options.fileBytes));
  }
  await write(tarTrailer());
  gzip.end();
  await finished;
  return { gzipped: { data: Buffer.concat(out), diffId: 'sha256:' + tarHash.digest('hex') } };
}

async function compress(tar: Buffer, how: 'gzip' | 'zstd' | 'none'): Promise<Buffer> {
  if (how === 'none') return tar;
  if (how === 'gzip') return gzipSync(tar, { level: 6 });
  const r = await execFile(['zstd', '-q', '-c', '-3'], { input: tar, timeoutMs: 120_000 });
  return r.stdoutBytes;
}

/** Builds an image in memory. */
export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const docker = spec.format === 'docker';
  const layers: BuiltLayer[] = [];
  for (const l of spec.layers) {
    if (l.gzipped) {
      const data = l.gzipped.data;
      const mediaType = l.mediaType ?? (docker ? mediaTypes.dockerLayerGzip : mediaTypes.ociLayerGzip);
      layers.push({
        data,
        digest: sha256Digest(data),
        diffId: l.gzipped.diffId,
        mediaType,
        size: data.length,
      });
      continue;
    }
    const tar = l.rawTar ?? layerTar(l.entries ?? []);
    const how = l.compression ?? 'gzip';
    const data = await compress(tar, how);
    const mediaType =
      l.mediaType ??
      (docker
        ? how === 'gzip'
          ? mediaTypes.dockerLayerGzip
          : how === 'none'
            ? mediaTypes.dockerLayer
            : mediaTypes.ociLayerZstd
        : how === 'gzip'
          ? mediaTypes.ociLayerGzip
          : how === 'zstd'
            ? mediaTypes.ociLayerZstd
            : mediaTypes.ociLayer);
    layers.push({
      data,
      digest: sha256Digest(data),
      diffId: sha256Digest(tar),
      mediaType,
      size: data.length,
    });
  }
  const c = spec.config ?? {};
  const platform = {
    os: spec.os ?? 'linux',
    architecture: spec.architecture ?? 'amd64',
    ...(spec.variant ? { variant: spec.variant } : {}),
  };
  const config = Buffer.from(
    JSON.stringify({
      created: spec.created ?? '2024-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {
        ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
        ...(c.cmd ? { Cmd: c.cmd } : {}),
        Env: c.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(c.workingDir ? { WorkingDir: c.workingDir } : {}),
        ...(c.user ? { User: c.user } : {}),
        ...(c.exposedPorts ? { ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])) } : {}),
        ...(c.labels ? { Labels: c.labels } : {}),
        ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'h8s image-builder' })),
    }),
  );
  const manifestMediaType = docker ? mediaTypes.dockerManifest : mediaTypes.ociManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: {
        mediaType: docker ? mediaTypes.dockerConfig : mediaTypes.ociConfig,
        digest: sha256Digest(config),
        size: config.length,
      },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return {
    manifest,
    manifestDigest: sha256Digest(manifest),
    manifestMediaType,
    config,
    configDigest: sha256Digest(config),
    layers,
    platform,
  };
}

/** An OCI image index (or Docker manifest list) over already built images. */
export function buildIndex(
  images: readonly BuiltImage[],
  format: 'oci' | 'docker' = 'oci',
): { bytes: Buffer; digest: string; mediaType: string } {
  const mediaType = format === 'docker' ? mediaTypes.dockerManifestList : mediaTypes.ociIndex;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((i) => ({
        mediaType: i.manifestMediaType,
        digest: i.manifestDigest,
        size: i.manifest.length,
        platform: i.platform,
      })),
    }),
  );
  return { bytes, digest: sha256Digest(bytes), mediaType };
}

export interface PushOptions {
  readonly auth?: RegistryAuth;
}

function clientFor(): RegistryClient {
  return new RegistryClient({ log: nullLogger });
}

/** Pushes blobs, config and manifest; `name` is `host:port/repo:tag`. Returns the manifest digest. */
export async function pushImage(name: string, image: BuiltImage, options: PushOptions = {}): Promise<string> {
  const ref = parseReference(name);
  const client = clientFor();
  const o = options.auth ? { auth: options.auth } : {};
  for (const l of image.layers) await client.pushBlob(ref, l.digest, l.data, o);
  await client.pushBlob(ref, image.configDigest, image.config, o);
  await client.pushManifest(ref, ref.tag ?? image.manifestDigest, image.manifestMediaType, image.manifest, o);
  return image.manifestDigest;
}

/** Pushes several platform images and an index over them under `name`'s tag. Returns the index digest. */
export async function pushIndex(
  name: string,
  images: readonly BuiltImage[],
  options: PushOptions & { format?: 'oci' | 'docker' } = {},
): Promise<string> {
  const ref = parseReference(name);
  const client = clientFor();
  const o = options.auth ? { auth: options.auth } : {};
  for (const img of images) {
    for (const l of img.layers) await client.pushBlob(ref, l.digest, l.data, o);
    await client.pushBlob(ref, img.configDigest, img.config, o);
    await client.pushManifest(ref, img.manifestDigest, img.manifestMediaType, img.manifest, o);
  }
  const idx = buildIndex(images, options.format);
  await client.pushManifest(ref, ref.tag ?? idx.digest, idx.mediaType, idx.bytes, o);
  return idx.digest;
}

// ------------------------------------------------------------------ busybox

let busyboxEntries: Promise<FileSpec[]> | undefined;

/** The files of a Docker-like busybox image, from Debian's busybox-static. */
export function busyboxFiles(): Promise<FileSpec[]> {
  busyboxEntries ??= (async () => {
    const bin = await readFile('/bin/busybox').catch((err: unknown) => {
      throw new Error('busybox-static is not installed (/bin/busybox); run scripts/host-setup.sh', {
        cause: err,
      });
    });
    const list = (await execFile(['/bin/busybox', '--list'])).stdout
      .split('\n')
      .filter((a) => a !== '' && a !== 'busybox' && /^[\w.[-]+$/.test(a));
    const entries: FileSpec[] = [
      ...[
        'bin/',
        'dev/',
        'etc/',
        'home/',
        'proc/',
        'sys/',
        'usr/',
        'usr/bin/',
        'usr/sbin/',
        'var/',
        'var/spool/',
        'var/www/',
      ].map((p) => ({ path: p })),
      { path: 'root/', mode: 0o700 },
      { path: 'tmp/', mode: 0o1777 },
      { path: 'bin/busybox', content: bin, mode: 0o755 },
      ...[...new Set(list)]
        .sort()
        .map((a): FileSpec => ({ path: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
      {
        path: 'etc/passwd',
        content:
          'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
      },
      {
        path: 'etc/group',
        content: 'root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nwww-data:x:33:\nnogroup:x:65534:\n',
      },
      { path: 'etc/hostname', content: 'busybox\n' },
      { path: 'etc/hosts', content: '127.0.0.1\tlocalhost\n' },
      { path: 'etc/nsswitch.conf', content: 'hosts: files dns\n' },
    ];
    return entries;
  })();
  return busyboxEntries;
}

/** The busybox image (one layer, Cmd ["sh"]), optionally with more layers on top. */
export async function busyboxImage(
  options: {
    extraLayers?: readonly LayerSpec[];
    config?: ImageConfigSpec;
    architecture?: string;
    variant?: string;
    format?: 'oci' | 'docker';
    compression?: 'gzip' | 'zstd' | 'none';
  } = {},
): Promise<BuiltImage> {
  return buildImage({
    layers: [
      { entries: await busyboxFiles(), compression: options.compression ?? 'gzip' },
      ...(options.extraLayers ?? []),
    ],
    config: options.config ?? { cmd: ['sh'] },
    ...(options.architecture ? { architecture: options.architecture } : {}),
    ...(options.variant ? { variant: options.variant } : {}),
    ...(options.format ? { format: options.format } : {}),
  });
}

/**
 * Builds busybox and pushes it as `<registry>/<name>` (default `busybox:latest`).
 * @returns the full reference pushed and the built image
 */
export async function pushBusybox(
  registry: string,
  name = 'busybox:latest',
  options: PushOptions & Parameters<typeof busyboxImage>[0] = {},
): Promise<{ ref: string; image: BuiltImage }> {
  const image = await busyboxImage(options);
  const ref = `${registry}/${name}`;
  await pushImage(ref, image, options.auth ? { auth: options.auth } : {});
  return { ref, image };
}
