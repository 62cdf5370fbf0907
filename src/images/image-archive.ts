/**
 * `load` and `save` of image tarballs.
 *
 * save writes one tarball that is both a docker-archive (`manifest.json`, `repositories`) and an
 * OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`), as Docker 25+ does: layers are
 * stored uncompressed under their diffID, so `docker load`, `skopeo` (docker-archive: or
 * oci-archive:) and `hyperctl load` all read it.
 *
 * load reads either format (older docker-archives with `<id>/layer.tar` and symlinked layers
 * too). The tarball is untrusted: it is unpacked with the same safe unpacker as layers into a
 * temp dir inside the store, every path it names must stay inside that dir, every blob is
 * verified by digest and every layer against the config's diffIDs before anything is recorded.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { once } from 'node:events';
import { invalid, parseJson, parseWith, type Logger } from '../lib/index.js';
import type { ImageRecord } from './image-service.js';
import type { ContentStore } from './content-store.js';
import { hashFile } from './content-store.js';
import { sha256Digest, digestHex } from './digest.js';
import type { StoredImage, StoredLayer } from './image-store.js';
import { unpackLayer } from './layer-unpacker.js';
import { openLayerStream, sniffCompression } from './layer-stream.js';
import {
  DockerArchiveManifestSchema,
  ImageConfigSchema,
  IndexSchema,
  ManifestSchema,
  indexMediaTypes,
  layerCompression,
  manifestMediaTypes,
  mediaTypes,
  type ImageConfig,
  type LayerCompression,
} from './oci-schemas.js';
import { parseReference, splitRepoTag, taggedName } from './reference.js';
import { selectPlatform } from './registry-client.js';
import { encodeTarHeader, tarPadding, tarTrailer } from './tar-format.js';
import { createUnpackBudget, type UnpackLimits } from './unpack-budget.js';

const maxJsonBytes = 16 * 1024 * 1024;

export interface LoadDeps {
  readonly content: ContentStore;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /**
   * Bounds what unpacking the tarball may write: its bytes limit is raised to the tarball's own
   * size when that is larger (a plain tarball never unpacks to more than it weighs; a compressed
   * one could inflate without end).
   */
  readonly limits: UnpackLimits;
  readonly store: (args: {
    id: string;
    manifestDigest: string;
    manifestMediaType: string;
    layers: StoredLayer[];
    cfg: ImageConfig;
    tags: readonly string[];
  }) => Promise<ImageRecord>;
}

/** A path named inside the archive, resolved within `dir` (symlinks included) or refused. */
async function insidePath(dir: string, name: string, what: string): Promise<string> {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || parts.includes('..') || parts.length === 0)
    throw invalid(`Invalid image archive: ${what} "${name.slice(0, 300)}" is not a path inside the archive`);
  let real: string;
  try {
    real = await realpath(join(dir, ...parts));
  } catch {
    throw invalid(`Invalid image archive: ${what} "${name.slice(0, 300)}" is missing`);
  }
  const realDir = await realpath(dir);
  if (!real.startsWith(realDir + sep))
    throw invalid(`Invalid image archive: ${what} "${name.slice(0, 300)}" points outside the archive`);
  return real;
}

async function readSmall(path: string, what: string): Promise<Buffer> {
  const st = await stat(path);
  if (st.size > maxJsonBytes)
    throw invalid(
      `Invalid image archive: ${what} is ${st.size} bytes, larger than the limit of ${maxJsonBytes}`,
    );
  return readFile(path);
}

/** Hashes the uncompressed content of a layer file (its diffID). */
async function diffIdOf(path: string, compression: LayerCompression, what: string): Promise<string> {
  if (compression === 'none') return hashFile(path);
  const s = await openLayerStream(path, compression, what);
  for await (const _ of s.chunks) {
    // hashing happens in the stream
  }
  await s.done();
  return s.diffId();
}

function ociLayerType(c: LayerCompression): string {
  return c === 'gzip'
    ? mediaTypes.ociLayerGzip
    : c === 'zstd'
      ? mediaTypes.ociLayerZstd
      : mediaTypes.ociLayer;
}

/** Moves a verified layer file into the store (or drops it when the store has it). */
async function importBlob(content: ContentStore, path: string, digest: string): Promise<void> {
  if (await content.hasBlob(digest)) return;
  // The file may be referenced twice (hard-linked or repeated layers): rename only once.
  try {
    await rename(path, content.blobPath(digest));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !(await content.hasBlob(digest))) throw err;
  }
}

/**
 * Loads every image in a docker-archive or OCI-layout tarball.
 * @throws Invalid for a malformed archive or a blob that fails verification (nothing recorded)
 */
export async function loadArchive(tarPath: string, deps: LoadDeps): Promise<ImageRecord[]> {
  const { content, log, signal } = deps;
  let tarBytes: number;
  try {
    tarBytes = (await stat(tarPath)).size;
  } catch {
    throw invalid(`Cannot load images: file "${tarPath}" does not exist`);
  }
  const budget = createUnpackBudget(`image archive "${tarPath}"`, {
    maxBytes: Math.max(deps.limits.maxBytes, tarBytes),
    maxEntries: deps.limits.maxEntries,
  });
  const work = content.tempPath('load');
  await mkdir(work, { recursive: true, mode: 0o700 });
  const release = content.lease([]);
  try {
    const sniff = await sniffCompression(tarPath);
    const stream = await openLayerStream(tarPath, sniff, `archive "${tarPath}"`);
    try {
      await unpackLayer(stream.chunks, work, {
        mode: 'merge',
        deviceNodes: 'skip',
        log,
        signal,
        what: `image archive "${tarPath}"`,
        budget,
      });
      await stream.done();
    } catch (err) {
      stream.destroy();
      throw err;
    }
    const hasFile = async (n: string): Promise<boolean> =>
      stat(join(work, n)).then(
        (s) => s.isFile(),
        () => false,
      );
    if (await hasFile('manifest.json')) return await loadDockerArchive(work, deps);
    if (await hasFile('index.json')) return await loadOciLayout(work, deps);
    throw invalid(
      `Cannot load images from "${tarPath}": it is neither a docker-archive (no manifest.json) nor an OCI layout (no index.json)`,
    );
  } finally {
    release();
    await rm(work, { recursive: true, force: true, maxRetries: 2 });
  }
}

async function loadDockerArchive(dir: string, deps: LoadDeps): Promise<ImageRecord[]> {
  const entries = parseWith(
    DockerArchiveManifestSchema,
    parseJson(
      (await readSmall(join(dir, 'manifest.json'), 'manifest.json')).toString('utf8'),
      'manifest.json',
    ),
    'docker-archive manifest.json',
  );
  const out: ImageRecord[] = [];
  const done = new Map<string, StoredLayer>();
  for (const [n, e] of entries.entries()) {
    const cfgBytes = await readSmall(
      await insidePath(dir, e.Config, `config of image ${n}`),
      `config of image ${n}`,
    );
    const cfg = parseWith(
      ImageConfigSchema,
      parseJson(cfgBytes.toString('utf8'), 'image config'),
      `image config "${e.Config}"`,
    );
    if (cfg.rootfs.diff_ids.length !== e.Layers.length)
      throw invalid(
        `Invalid image archive: image ${n} lists ${e.Layers.length} layers but its config ${cfg.rootfs.diff_ids.length}`,
      );
    const configDigest = await deps.content.writeBlob(cfgBytes);
    const layers: StoredLayer[] = [];
    for (const [i, name] of e.Layers.entries()) {
      deps.signal?.throwIfAborted();
      const key = name
        .split('/')
        .filter((p) => p !== '' && p !== '.')
        .join('/');
      const seen = done.get(key);
      if (seen) {
        if (seen.diffId !== cfg.rootfs.diff_ids[i])
          throw invalid(
            `Invalid image archive: layer "${name.slice(0, 300)}" has diffID "${seen.diffId}", but the config says "${cfg.rootfs.diff_ids[i]}"`,
          );
        layers.push(seen);
        continue;
      }
      const path = await insidePath(dir, name, `layer ${i} of image ${n}`);
      const compression = await sniffCompression(path);
      const want = cfg.rootfs.diff_ids[i]!;
      const diffId = await diffIdOf(path, compression, `layer "${name}"`);
      if (diffId !== want)
        throw invalid(
          `Invalid image archive: layer "${name.slice(0, 300)}" has diffID "${diffId}", but the config says "${want}"`,
        );
      const digest = compression === 'none' ? diffId : await hashFile(path);
      const size = (await stat(path)).size;
      await importBlob(deps.content, path, digest);
      const layer = { digest, diffId, mediaType: ociLayerType(compression), size };
      done.set(key, layer);
      layers.push(layer);
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mediaTypes.ociManifest,
        config: { mediaType: mediaTypes.ociConfig, digest: configDigest, size: cfgBytes.length },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    );
    const manifestDigest = await deps.content.writeBlob(manifest);
    const tags = (e.RepoTags ?? []).map((t) => taggedName(parseReference(t))!);
    out.push(
      await deps.store({
        id: configDigest,
        manifestDigest,
        manifestMediaType: mediaTypes.ociManifest,
        layers,
        cfg,
        tags,
      }),
    );
  }
  return out;
}

async function loadOciLayout(dir: string, deps: LoadDeps): Promise<ImageRecord[]> {
  const index = parseWith(
    IndexSchema,
    parseJson((await readSmall(join(dir, 'index.json'), 'index.json')).toString('utf8'), 'index.json'),
    'OCI layout index.json',
  );
  const blobFile = async (digest: string, what: string): Promise<string> =>
    insidePath(dir, `blobs/sha256/${digestHex(digest)}`, what);
  const verified = async (digest: string, what: string): Promise<Buffer> => {
    const bytes = await readSmall(await blobFile(digest, what), what);
    if (sha256Digest(bytes) !== digest)
      throw invalid(`Invalid image archive: ${what} does not match its digest "${digest}"`);
    return bytes;
  };
  const out: ImageRecord[] = [];
  for (const desc of index.manifests) {
    let mDesc = desc;
    if (indexMediaTypes.includes(desc.mediaType)) {
      const inner = parseWith(
        IndexSchema,
        parseJson((await verified(desc.digest, 'nested index')).toString('utf8'), 'index'),
        'nested index',
      );
      const chosen = selectPlatform(inner, 'linux/amd64');
      if (!chosen)
        throw invalid(`Invalid image archive: nested index "${desc.digest}" has no linux/amd64 manifest`);
      mDesc = { ...chosen, annotations: { ...(chosen.annotations ?? {}), ...(desc.annotations ?? {}) } };
    }
    if (!manifestMediaTypes.includes(mDesc.mediaType))
      throw invalid(
        `Invalid image archive: unsupported manifest media type "${mDesc.mediaType.slice(0, 200)}"`,
      );
    const mBytes = await verified(mDesc.digest, `manifest "${mDesc.digest}"`);
    const m = parseWith(
      ManifestSchema,
      parseJson(mBytes.toString('utf8'), 'manifest'),
      `manifest "${mDesc.digest}"`,
    );
    const cfgBytes = await verified(m.config.digest, `config "${m.config.digest}"`);
    const cfg = parseWith(
      ImageConfigSchema,
      parseJson(cfgBytes.toString('utf8'), 'image config'),
      `image config "${m.config.digest}"`,
    );
    if (cfg.rootfs.diff_ids.length !== m.layers.length)
      throw invalid(
        `Invalid image archive: manifest "${mDesc.digest}" lists ${m.layers.length} layers but its config ${cfg.rootfs.diff_ids.length}`,
      );
    const layers: StoredLayer[] = [];
    for (const [i, l] of m.layers.entries()) {
      deps.signal?.throwIfAborted();
      const compression = layerCompression(l.mediaType);
      if (compression === undefined)
        throw invalid(
          `Invalid image archive: layer "${l.digest}" has unsupported media type "${l.mediaType.slice(0, 200)}"`,
        );
      if (await deps.content.hasBlob(l.digest)) {
        layers.push({
          digest: l.digest,
          diffId: cfg.rootfs.diff_ids[i]!,
          mediaType: l.mediaType,
          size: l.size,
        });
        continue;
      }
      const path = await blobFile(l.digest, `layer "${l.digest}"`);
      if ((await hashFile(path)) !== l.digest)
        throw invalid(`Invalid image archive: layer blob "${l.digest}" does not match its digest`);
      const diffId = await diffIdOf(path, compression, `layer "${l.digest}"`);
      if (diffId !== cfg.rootfs.diff_ids[i])
        throw invalid(
          `Invalid image archive: layer "${l.digest}" has diffID "${diffId}", but the config says "${cfg.rootfs.diff_ids[i]}"`,
        );
      await importBlob(deps.content, path, l.digest);
      layers.push({ digest: l.digest, diffId, mediaType: l.mediaType, size: l.size });
    }
    await deps.content.writeBlob(cfgBytes, m.config.digest);
    await deps.content.writeBlob(mBytes, mDesc.digest);
    const ann = mDesc.annotations ?? {};
    const tags: string[] = [];
    const full = ann['io.containerd.image.name'];
    const refName = ann['org.opencontainers.image.ref.name'];
    for (const candidate of [full, refName]) {
      if (candidate === undefined) continue;
      try {
        const r = parseReference(candidate);
        if (
          candidate === refName &&
          !candidate.includes('/') &&
          !candidate.includes(':') &&
          full !== undefined
        )
          continue; // a bare tag
        const t = taggedName(r);
        if (t !== undefined && (candidate.includes(':') || candidate.includes('/'))) {
          tags.push(t);
          break;
        }
      } catch {
        // a bare tag such as "latest" is not a reference: fine
      }
    }
    out.push(
      await deps.store({
        id: m.config.digest,
        manifestDigest: mDesc.digest,
        manifestMediaType: mDesc.mediaType,
        layers,
        cfg,
        tags,
      }),
    );
  }
  return out;
}

export interface SaveDeps {
  readonly content: ContentStore;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

/** Writes images as one docker-archive + OCI-layout tarball at `tarPath` (atomically). */
export async function saveArchive(
  images: readonly { img: StoredImage; tags: readonly string[] }[],
  tarPath: string,
  deps: SaveDeps,
): Promise<void> {
  const { content } = deps;
  const tmpOut = `${tarPath}.${process.pid}.partial`;
  const out = createWriteStream(tmpOut, { flags: 'wx', mode: 0o644 });
  const written = new Set<string>();
  const layerSizes = new Map<string, number>();
  const write = async (b: Buffer): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  const addFile = async (name: string, data: Buffer): Promise<void> => {
    await write(encodeTarHeader({ name, type: 'file', mode: 0o644, size: data.length, mtimeMs: 0 }));
    await write(data);
    await write(tarPadding(data.length));
  };
  const scratch = content.tempPath('save');
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    await write(encodeTarHeader({ name: 'blobs', type: 'directory', mode: 0o755 }));
    await write(encodeTarHeader({ name: 'blobs/sha256', type: 'directory', mode: 0o755 }));
    const dockerManifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const indexEntries: unknown[] = [];
    for (const { img, tags } of images) {
      deps.signal?.throwIfAborted();
      const cfgBytes = await content.readBlob(img.id, maxJsonBytes);
      if (!written.has(img.id)) {
        await addFile(`blobs/sha256/${digestHex(img.id)}`, cfgBytes);
        written.add(img.id);
      }
      for (const l of img.layers) {
        const name = `blobs/sha256/${digestHex(l.diffId)}`;
        if (written.has(l.diffId)) continue;
        written.add(l.diffId);
        const compression = layerCompression(l.mediaType) ?? 'none';
        let file = content.blobPath(l.digest);
        if (compression !== 'none') {
          file = join(scratch, digestHex(l.diffId));
          const s = await openLayerStream(content.blobPath(l.digest), compression, `layer "${l.digest}"`);
          const fh = await open(file, 'w', 0o600);
          try {
            for await (const c of s.chunks) await fh.write(c);
            await s.done();
          } finally {
            await fh.close();
          }
          if (s.diffId() !== l.diffId)
            throw invalid(
              `Layer "${l.digest}" in the store does not match its diffID: got "${s.diffId()}", want "${l.diffId}"`,
            );
        }
        const size = (await stat(file)).size;
        layerSizes.set(l.diffId, size);
        await write(encodeTarHeader({ name, type: 'file', mode: 0o644, size, mtimeMs: 0 }));
        for await (const c of createReadStream(file, { highWaterMark: 1024 * 1024 }))
          await write(c as Buffer);
        await write(tarPadding(size));
        if (file !== content.blobPath(l.digest)) await rm(file, { force: true });
      }
      const manifestBytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: mediaTypes.ociManifest,
          config: { mediaType: mediaTypes.ociConfig, digest: img.id, size: cfgBytes.length },
          layers: img.layers.map((l) => ({
            mediaType: mediaTypes.ociLayer,
            digest: l.diffId,
            size: layerSizes.get(l.diffId) ?? 0,
          })),
        }),
      );
      const manifestDigest = sha256Digest(manifestBytes);
      if (!written.has(manifestDigest)) {
        await addFile(`blobs/sha256/${digestHex(manifestDigest)}`, manifestBytes);
        written.add(manifestDigest);
      }
      const topDiff = img.layers.length > 0 ? digestHex(img.layers[img.layers.length - 1]!.diffId) : '';
      dockerManifest.push({
        Config: `blobs/sha256/${digestHex(img.id)}`,
        RepoTags: tags.length > 0 ? [...tags] : null,
        Layers: img.layers.map((l) => `blobs/sha256/${digestHex(l.diffId)}`),
      });
      for (const t of tags) {
        const { repository, tag } = splitRepoTag(t);
        (repositories[repository] ??= {})[tag] = topDiff;
        const full = parseReference(t);
        indexEntries.push({
          mediaType: mediaTypes.ociManifest,
          digest: manifestDigest,
          size: manifestBytes.length,
          annotations: {
            'io.containerd.image.name': `${full.registry}/${full.repository}:${full.tag ?? 'latest'}`,
            'org.opencontainers.image.ref.name': full.tag ?? 'latest',
          },
        });
      }
      if (tags.length === 0)
        indexEntries.push({
          mediaType: mediaTypes.ociManifest,
          digest: manifestDigest,
          size: manifestBytes.length,
        });
    }
    await addFile('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await addFile(
      'index.json',
      Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: indexEntries }),
      ),
    );
    await addFile('manifest.json', Buffer.from(JSON.stringify(dockerManifest)));
    await addFile('repositories', Buffer.from(JSON.stringify(repositories)));
    await write(tarTrailer());
    out.end();
    await once(out, 'finish');
    const fh = await open(tmpOut, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmpOut, tarPath);
    deps.log.info('Saved images', { path: tarPath, images: images.length });
  } catch (err) {
    out.destroy();
    await rm(tmpOut, { force: true });
    throw err;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
