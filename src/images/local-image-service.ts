/**
 * The node's image service over a local store root (docs/adr/0004-image-store.md):
 *
 *   <root>/blobs/sha256/<hex>       verified blobs (manifests, indexes, configs, layers)
 *   <root>/ingest/<hex>.partial     downloads in progress (kept for resume)
 *   <root>/state/images.json        image records, replaced atomically
 *   <root>/layers/<diffhex>/fs      one unpacked layer, overlayfs whiteout format (runc lowerdirs)
 *   <root>/disks/<chainhex>.ext4    read-only root disk of a whole image (VM pods)
 *   <root>/tmp/<pid>-…              work in progress, renamed into place when complete
 *
 * A record is written only after every blob it names is verified and in blobs/, so a crash
 * mid-pull leaves at most unreferenced blobs (collected later), never a half image. This file
 * holds lookup, pull, records, removal and archives; the layer trees are `LayerTreeCache`
 * (layer-tree-cache.ts) and the disks `RootDiskBuilder` (root-disk-builder.ts). Every unpack of
 * an image is charged to one budget (unpack-budget.ts) bounded by `maxUnpackedBytes` and
 * `maxUnpackedEntries`.
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bestEffortSync,
  conflict,
  internal,
  invalid,
  notFound,
  parseJson,
  parseWith,
  systemClock,
  type Clock,
  type Logger,
} from '../lib/index.js';
import { ContentStore } from './content-store.js';
import { chainIds, digestHex, emptyChainId } from './digest.js';
import { normalizeConfigKey, readDockerConfigAuth } from './docker-config.js';
import type {
  ImageRecord,
  ImageService,
  LayerTree,
  PullOptions,
  PullProgress,
  RegistryAuth,
  RootDisk,
} from './image-service.js';
import { ImageStore, type ImageStoreState, type StoredImage, type StoredLayer } from './image-store.js';
import type { DeviceNodePolicy } from './layer-unpacker.js';
import { LayerTreeCache, type LayerSink } from './layer-tree-cache.js';
import { ImageConfigSchema, layerCompression, type ImageConfig, type Manifest } from './oci-schemas.js';
import { parseReference, repositoryName, taggedName, type ImageReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { RootDiskBuilder } from './root-disk-builder.js';
import {
  chargeUnpacked,
  createUnpackBudget,
  defaultMaxUnpackedBytes,
  defaultMaxUnpackedEntries,
  formatBytes,
  unpackLimitError,
  type UnpackBudget,
  type UnpackLimits,
} from './unpack-budget.js';
import { sharedUnpackPool, type UnpackPool } from './unpack-pool.js';

export interface ImageServiceOptions {
  /** Store root, e.g. `/var/lib/h8s/images`. Created if missing (mode 0700). */
  readonly root: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Registries allowed over plain http / unverified TLS besides 127.0.0.0/8 and localhost. */
  readonly insecureRegistries?: readonly string[];
  /** Pull mirrors per registry, e.g. `{ 'docker.io': ['http://127.0.0.1:5001'] }`. */
  readonly mirrors?: Readonly<Record<string, readonly string[]>>;
  /** docker-style config.json consulted for credentials when a pull brings none. */
  readonly authConfigPath?: string;
  /** Default `os/arch[/variant]`; `linux/amd64`. */
  readonly defaultPlatform?: string;
  /** Layer downloads in parallel per pull. Default 3. */
  readonly maxConcurrentDownloads?: number;
  /** Device nodes in layers: skipped (default) or created. See docs/images.md. */
  readonly deviceNodes?: DeviceNodePolicy;
  /** Largest manifest/index accepted. Default 4 MiB. */
  readonly maxManifestBytes?: number;
  /** Largest image config accepted. Default 8 MiB. */
  readonly maxConfigBytes?: number;
  /**
   * Largest unpacked size of an image: the bytes of its regular files summed over its layers
   * (what `sizeBytes` reports), counted as the layers unpack. An image past it is refused with
   * RequestEntityTooLarge before the disk fills, and its partial trees are removed. Also bounds
   * the content of a tarball `loadImage` unpacks (or the tarball's own size when larger).
   * Default 8 GiB. See docs/images.md, "Limits".
   */
  readonly maxUnpackedBytes?: number;
  /** Most entries (files, directories, links) in an image's layers together. Default 2,000,000. */
  readonly maxUnpackedEntries?: number;
  /** Attempts per blob download (each resumes where the last stopped). Default 4. */
  readonly blobAttempts?: number;
  /** Free space left in each root disk for the container's writes (sparse, costs no host disk). Default 256 MiB. */
  readonly rootDiskFreeBytes?: number;
  /**
   * Where layers are unpacked: default the process-wide pool of worker threads
   * (`sharedUnpackPool()`); `new UnpackPool({ size: 0 })` unpacks in the calling thread.
   */
  readonly unpackPool?: UnpackPool;
}

export interface LocalImageService extends ImageService {
  /** The registry client (for pushes by the test harness and `hyperctl push`). */
  readonly registry: RegistryClient;
  readonly root: string;
  checkLogin(registry: string, auth: RegistryAuth, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Waits until every unpacked layer published so far is on disk (layer trees are published
   * first and synced in the background; see "Crash safety" in docs/images.md).
   */
  flush(): Promise<void>;
}

const defaultMaxConfigBytes = 8 * 1024 * 1024;

/** `sha256:abc…` → `abc…` (the first 12 hex digits, as docker shows image IDs). */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function toRecord(img: StoredImage): ImageRecord {
  return {
    id: img.id,
    repoTags: [...img.repoTags],
    repoDigests: [...img.repoDigests],
    sizeBytes: img.sizeBytes,
    created: img.created,
    os: img.os,
    architecture: img.architecture,
    chainId: img.chainId,
    config: img.config,
  };
}

/** The runnable parts of an image config. */
export function runtimeConfigOf(cfg: ImageConfig): StoredImage['config'] {
  const c = cfg.config ?? {};
  return {
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    env: c.Env ?? [],
    workingDir: c.WorkingDir ?? '',
    user: c.User ?? '',
    exposedPorts: Object.keys(c.ExposedPorts ?? {}).sort(),
    labels: c.Labels ?? {},
    stopSignal: c.StopSignal ?? '',
  };
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

function isEnospc(err: unknown): boolean {
  let cur: unknown = err;
  for (let i = 0; i < 8 && cur instanceof Error; i++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    cur = cur.cause;
  }
  return false;
}

/**
 * Creates the image service over `options.root`.
 * @throws InternalError when the root cannot be created
 */
export async function createImageService(options: ImageServiceOptions): Promise<LocalImageService> {
  const svc = new ImageServiceImpl(options);
  await svc.init();
  return svc;
}

class ImageServiceImpl implements LocalImageService {
  readonly root: string;
  readonly registry: RegistryClient;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #content: ContentStore;
  readonly #images: ImageStore;
  readonly #trees: LayerTreeCache;
  readonly #disks: RootDiskBuilder;
  readonly #opts: ImageServiceOptions;
  readonly #limits: UnpackLimits;
  readonly #pulls = new Map<string, Promise<ImageRecord>>();
  readonly #pool: UnpackPool;

  constructor(options: ImageServiceOptions) {
    this.root = options.root;
    this.#pool = options.unpackPool ?? sharedUnpackPool();
    this.#opts = options;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#limits = {
      maxBytes: options.maxUnpackedBytes ?? defaultMaxUnpackedBytes,
      maxEntries: options.maxUnpackedEntries ?? defaultMaxUnpackedEntries,
    };
    this.#content = new ContentStore(options.root, options.log);
    this.#images = new ImageStore(options.root, { clock: this.#clock, log: options.log });
    const unpackDeps = {
      content: this.#content,
      pool: this.#pool,
      log: options.log,
      deviceNodes: options.deviceNodes ?? 'skip',
    } as const;
    this.#trees = new LayerTreeCache({ ...unpackDeps, dir: join(options.root, 'layers') });
    this.#disks = new RootDiskBuilder({
      ...unpackDeps,
      dir: join(options.root, 'disks'),
      clock: this.#clock,
      freeBytes: options.rootDiskFreeBytes ?? 256 * 1024 * 1024,
    });
    const authPath = options.authConfigPath;
    this.registry = new RegistryClient({
      log: options.log,
      clock: this.#clock,
      ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
      ...(options.mirrors ? { mirrors: options.mirrors } : {}),
      ...(options.maxManifestBytes ? { maxManifestBytes: options.maxManifestBytes } : {}),
      ...(options.blobAttempts ? { blobAttempts: options.blobAttempts } : {}),
      credentials: async (registry) => (authPath ? readDockerConfigAuth(authPath, registry) : undefined),
    });
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      await this.#content.init();
      await this.#images.init();
      await this.#trees.init();
      await this.#disks.init();
    } catch (err) {
      throw internal(`Cannot open the image store at "${this.root}"`, { cause: err });
    }
  }

  /** A fresh budget for unpacking `ref` (`what` names it in errors). */
  #budget(ref: string): UnpackBudget {
    return createUnpackBudget(`image "${ref}"`, this.#limits);
  }

  /**
   * Charges the layers already unpacked for overlayfs to `budget`, so that an image is refused
   * whether its layers are new or shared with another image.
   */
  async #chargeCachedLayers(budget: UnpackBudget, layers: readonly StoredLayer[]): Promise<void> {
    for (const l of layers) {
      // only trees used as they are: one unpacked again is charged as it unpacks
      const meta = await this.#trees.readyMeta(l.diffId);
      if (meta) chargeUnpacked(budget, `layer "${l.digest}"`, meta);
    }
  }

  /**
   * The last word on an image's layer trees: their stats (however and by whomever each was
   * unpacked) must add up to no more than the limits.
   */
  async #checkUnpackedTotal(ref: string, layers: readonly StoredLayer[]): Promise<void> {
    let bytes = 0;
    let entries = 0;
    for (const l of layers) {
      const meta = await this.#trees.meta(l.diffId);
      bytes += meta?.bytes ?? 0;
      entries += meta?.entries ?? 0;
    }
    const budget = this.#budget(ref);
    if (bytes > this.#limits.maxBytes)
      throw unpackLimitError(budget, `the sum of its layers (${formatBytes(bytes)})`, 'bytes');
    if (entries > this.#limits.maxEntries)
      throw unpackLimitError(budget, `the sum of its layers (${entries} entries)`, 'entries');
  }

  // ------------------------------------------------------------------ lookup

  /** Finds the stored image `ref` names: an ID (prefix ≥ 12 hex), a tag, or a digest reference. */
  #lookup(state: ImageStoreState, ref: string): StoredImage | undefined {
    const images = Object.values(state.images);
    const idMatch = /^(sha256:)?([a-f0-9]{12,64})$/.exec(ref);
    if (idMatch) {
      const hex = idMatch[2]!;
      const hits = images.filter((i) => i.id.slice(7).startsWith(hex));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1)
        throw invalid(`Image ID prefix "${ref}" is ambiguous: it matches ${hits.length} images`);
      if (idMatch[1] !== undefined) return undefined;
    }
    let parsed: ImageReference;
    try {
      parsed = parseReference(ref);
    } catch (err) {
      if (idMatch) return undefined;
      throw err;
    }
    const repo = repositoryName(parsed);
    if (parsed.digest !== undefined) {
      const want = `${repo}@${parsed.digest}`;
      return (
        images.find((i) => i.repoDigests.includes(want)) ??
        images.find(
          (i) => i.manifestDigest === parsed.digest && i.repoDigests.some((d) => d.startsWith(repo + '@')),
        )
      );
    }
    const tag = taggedName(parsed)!;
    return images.find((i) => i.repoTags.includes(tag));
  }

  async findImage(ref: string): Promise<ImageRecord | undefined> {
    const state = await this.#images.read();
    const img = this.#lookup(state, ref);
    return img ? toRecord(img) : undefined;
  }

  async getImage(ref: string): Promise<ImageRecord> {
    const img = await this.findImage(ref);
    if (!img) throw notFound(`Image "${ref}" not found locally`, { details: { kind: 'images', name: ref } });
    return img;
  }

  async #getStored(ref: string): Promise<StoredImage> {
    const img = this.#lookup(await this.#images.read(), ref);
    if (!img) throw notFound(`Image "${ref}" not found locally`, { details: { kind: 'images', name: ref } });
    return img;
  }

  async listImages(): Promise<readonly ImageRecord[]> {
    const state = await this.#images.read();
    return Object.values(state.images)
      .sort((a, b) => (a.storedAt < b.storedAt ? 1 : a.storedAt > b.storedAt ? -1 : 0))
      .map(toRecord);
  }
  // ------------------------------------------------------------------ pull

  async pullImage(refStr: string, options: PullOptions = {}): Promise<ImageRecord> {
    const ref = parseReference(refStr);
    const key = `${ref.registry}/${ref.repository}:${ref.tag ?? ''}@${ref.digest ?? ''}|${options.platform ?? ''}|${options.unpack ?? ''}`;
    const pending = this.#pulls.get(key);
    if (pending && !options.onProgress) return pending;
    const p = this.#pull(ref, refStr, options);
    this.#pulls.set(key, p);
    try {
      return await p;
    } finally {
      if (this.#pulls.get(key) === p) this.#pulls.delete(key);
    }
  }

  async #pull(ref: ImageReference, refStr: string, options: PullOptions): Promise<ImageRecord> {
    const progress = (p: PullProgress): void => {
      // a broken progress consumer must not break the pull
      bestEffortSync(this.#log, 'report pull progress', () => options.onProgress?.(p));
    };
    const signal = options.signal;
    const platform = options.platform ?? this.#opts.defaultPlatform ?? 'linux/amd64';
    const started = this.#clock.monotonicMs();
    if (options.unpack === 'layers') this.#pool.warm(this.#log); // workers start while we resolve
    progress({ phase: 'resolve', message: refStr });
    const resolved = await this.registry.resolve(ref, { platform, auth: options.auth, signal });
    const m: Manifest = resolved.manifest;
    const what = `"${refStr}"`;
    // Refuse what we cannot unpack before downloading anything.
    m.layers.forEach((l, i) => {
      if (layerCompression(l.mediaType) === undefined)
        throw invalid(
          `Cannot pull ${what}: layer ${i} has unsupported media type "${l.mediaType.slice(0, 200)}"`,
        );
    });
    if (
      ![
        'application/vnd.oci.image.config.v1+json',
        'application/vnd.docker.container.image.v1+json',
      ].includes(m.config.mediaType)
    ) {
      throw invalid(
        `Cannot pull ${what}: unsupported config media type "${m.config.mediaType.slice(0, 200)}" (not a container image)`,
      );
    }
    const leaseDigests = [
      resolved.digest,
      m.config.digest,
      ...m.layers.map((l) => l.digest),
      ...(resolved.index ? [resolved.index.digest] : []),
    ];
    const release = this.#content.lease(leaseDigests);
    try {
      const cfgBytes = (await this.#content.hasBlob(m.config.digest))
        ? await this.#content.readBlob(m.config.digest, this.#opts.maxConfigBytes ?? defaultMaxConfigBytes)
        : await this.registry.fetchSmallBlob(
            ref,
            m.config,
            this.#opts.maxConfigBytes ?? defaultMaxConfigBytes,
            { auth: options.auth, signal, preferredEndpoint: resolved.endpoint },
          );
      const cfg = parseWith(
        ImageConfigSchema,
        parseJson(cfgBytes.toString('utf8'), 'image config'),
        `image config of ${what}`,
      );
      if (cfg.rootfs.diff_ids.length !== m.layers.length) {
        throw invalid(
          `Cannot pull ${what}: the config lists ${cfg.rootfs.diff_ids.length} layers but the manifest ${m.layers.length}`,
        );
      }
      await this.#content.writeBlob(cfgBytes, m.config.digest);

      const unpack = options.unpack ?? 'none';
      const layers: StoredLayer[] = m.layers.map((l, i) => ({
        digest: l.digest,
        mediaType: l.mediaType,
        size: l.size,
        diffId: cfg.rootfs.diff_ids[i]!,
      }));
      // Every layer this pull unpacks is charged to one budget; layers already unpacked count too.
      const budget = unpack === 'layers' ? this.#budget(refStr) : undefined;
      if (budget) await this.#chargeCachedLayers(budget, layers);
      // Unpacks run in the pool beside the downloads; a download slot is freed as soon as its
      // blob is verified, not when its layer is unpacked.
      const unpacks: Promise<string>[] = [];
      const downloads = mapLimit(m.layers, this.#opts.maxConcurrentDownloads ?? 3, async (layer, i) => {
        const stored = layers[i]!;
        let blobDone!: () => void;
        let blobFailed!: (err: unknown) => void;
        const blobReady = new Promise<void>((resolve, reject) => {
          blobDone = resolve;
          blobFailed = reject;
        });
        // observed by the layer's unpack when there is one; the pull throws the download's own error
        blobReady.catch(() => undefined);
        let sink: LayerSink | undefined;
        let state: 'present' | 'downloaded';
        try {
          state = await this.#content.ensureBlob(layer.digest, async (partial) => {
            progress({ phase: 'download', digest: layer.digest, currentBytes: 0, totalBytes: layer.size });
            sink =
              unpack === 'layers'
                ? this.#trees.stream(stored, partial, blobReady, { signal, budget })
                : undefined;
            try {
              await this.registry.fetchBlob(ref, layer, partial, {
                auth: options.auth,
                signal,
                preferredEndpoint: resolved.endpoint,
                onProgress: (b) =>
                  progress({
                    phase: 'download',
                    digest: layer.digest,
                    currentBytes: b.currentBytes,
                    totalBytes: b.totalBytes,
                  }),
                ...(sink ? { onFlushed: sink.flushed, onRestart: sink.abandon } : {}),
              });
            } catch (err) {
              sink?.abandon();
              throw err;
            }
            sink?.end(layer.size);
            progress({
              phase: 'verify',
              digest: layer.digest,
              currentBytes: layer.size,
              totalBytes: layer.size,
            });
          });
          blobDone();
        } catch (err) {
          blobFailed(err);
          sink?.abandon();
          // the download's error is the one thrown; the unpack's is only waited for
          if (sink) await sink.result.catch(() => undefined);
          throw err;
        }
        if (state === 'present') progress({ phase: 'exists', digest: layer.digest, totalBytes: layer.size });
        if (unpack === 'layers') {
          progress({ phase: 'unpack', digest: layer.digest });
          const p = sink ? sink.result : this.#trees.ensure(stored, { signal, budget });
          p.catch(() => undefined); // observed below
          unpacks.push(p);
        }
      });
      try {
        await downloads;
      } finally {
        // Whatever failed, no unpack is left running behind the caller's back.
        await Promise.allSettled(unpacks);
      }
      await Promise.all(unpacks);
      if (unpack === 'layers') await this.#checkUnpackedTotal(refStr, layers);

      // Everything is verified and in blobs/: only now does the image become visible.
      await this.#content.writeBlob(resolved.bytes, resolved.digest);
      if (resolved.index) await this.#content.writeBlob(resolved.index.bytes, resolved.index.digest);
      const repo = repositoryName(ref);
      const record = await this.#storeImage({
        id: m.config.digest,
        manifestDigest: resolved.digest,
        manifestMediaType: resolved.mediaType,
        ...(resolved.index ? { indexDigest: resolved.index.digest } : {}),
        layers,
        cfg,
        sizeBytes: await this.#uncompressedSizeEstimate(layers),
        tag: taggedName(ref),
        repoDigest: `${repo}@${ref.digest ?? resolved.index?.digest ?? resolved.digest}`,
      });
      this.#log.info('Pulled image', {
        image: refStr,
        id: record.id,
        manifest: resolved.digest,
        endpoint: resolved.endpoint,
        durationMs: Math.round(this.#clock.monotonicMs() - started),
      });
      if (unpack === 'disk') await this.ensureRootDisk(record.id, signal ? { signal } : {});
      progress({
        phase: 'done',
        digest: resolved.index?.digest ?? resolved.digest,
        message: `Downloaded ${taggedName(ref) ?? refStr}`,
      });
      return record;
    } catch (err) {
      if (isEnospc(err))
        throw internal(`Cannot pull ${what}: no space left in the image store "${this.root}"`, {
          cause: err,
        });
      throw err;
    } finally {
      release();
    }
  }

  /** Uncompressed size of an image: from unpacked layer metadata when known, else the blob sizes. */ async #uncompressedSizeEstimate(
    layers: readonly StoredLayer[],
  ): Promise<number> {
    let total = 0;
    for (const l of layers) {
      const meta = await this.#trees.meta(l.diffId);
      total += meta?.bytes ?? (await this.#gzipSize(l)) ?? l.size;
    }
    return total;
  }

  /** gzip's trailer holds the uncompressed size modulo 2^32: good enough for a listing. */
  async #gzipSize(l: StoredLayer): Promise<number | undefined> {
    if (layerCompression(l.mediaType) !== 'gzip' || l.size < 18) return undefined;
    try {
      const fh = await open(this.#content.blobPath(l.digest), 'r');
      try {
        const buf = Buffer.alloc(4);
        await fh.read(buf, 0, 4, l.size - 4);
        const n = buf.readUInt32LE(0);
        return n >= l.size / 1100 ? n : undefined; // implausible (over 4 GiB): fall back
      } finally {
        await fh.close();
      }
    } catch {
      return undefined; // unreadable: the blob size is the estimate
    }
  }

  /** Writes (or updates) the record of an image whose blobs are all in the store. */
  async #storeImage(args: {
    id: string;
    manifestDigest: string;
    manifestMediaType: string;
    indexDigest?: string;
    layers: StoredLayer[];
    cfg: ImageConfig;
    sizeBytes: number;
    tag: string | undefined;
    repoDigest: string | undefined;
  }): Promise<ImageRecord> {
    const chain = chainIds(args.layers.map((l) => l.diffId));
    return this.#images.update((state) => {
      // A tag names one image: move it away from whichever image had it.
      if (args.tag !== undefined) {
        for (const other of Object.values(state.images)) {
          if (other.id !== args.id && other.repoTags.includes(args.tag))
            other.repoTags = other.repoTags.filter((t) => t !== args.tag);
        }
      }
      const prev = state.images[args.id];
      const img: StoredImage = {
        id: args.id,
        manifestDigest: args.manifestDigest,
        manifestMediaType: args.manifestMediaType,
        ...(args.indexDigest !== undefined ? { indexDigest: args.indexDigest } : {}),
        repoTags: [...new Set([...(prev?.repoTags ?? []), ...(args.tag !== undefined ? [args.tag] : [])])],
        repoDigests: [
          ...new Set([
            ...(prev?.repoDigests ?? []),
            ...(args.repoDigest !== undefined ? [args.repoDigest] : []),
          ]),
        ],
        layers: args.layers,
        chainId: chain[chain.length - 1] ?? emptyChainId,
        sizeBytes: args.sizeBytes,
        created: args.cfg.created ?? '',
        os: args.cfg.os ?? '',
        architecture: args.cfg.architecture ?? '',
        config: runtimeConfigOf(args.cfg),
        storedAt: new Date(this.#clock.now()).toISOString(),
      };
      state.images[args.id] = img;
      return { state, result: toRecord(img) };
    });
  }

  /** Records an image whose blobs are all verified in the store (used by load), once per tag. */
  async storeImagePublic(args: {
    id: string;
    manifestDigest: string;
    manifestMediaType: string;
    layers: StoredLayer[];
    cfg: ImageConfig;
    tags: readonly string[];
  }): Promise<ImageRecord> {
    let rec: ImageRecord | undefined;
    const sizeBytes = await this.#uncompressedSizeEstimate(args.layers);
    const tags = args.tags.length > 0 ? args.tags : [undefined];
    for (const tag of tags) {
      rec = await this.#storeImage({ ...args, sizeBytes, tag, repoDigest: undefined });
    }
    return rec!;
  }

  // ------------------------------------------------------------------ outputs

  async ensureLayerTree(ref: string, options: { signal?: AbortSignal } = {}): Promise<LayerTree> {
    const img = await this.#getStored(ref);
    const release = this.#content.lease(img.layers.map((l) => l.digest));
    try {
      const budget = this.#budget(ref);
      await this.#chargeCachedLayers(budget, img.layers);
      const dirs = await mapLimit(img.layers, 2, (l) =>
        this.#trees.ensure(l, { signal: options.signal, budget }),
      );
      await this.#checkUnpackedTotal(ref, img.layers);
      return { lowerDirs: dirs };
    } catch (err) {
      if (isEnospc(err))
        throw internal(`Cannot unpack image "${ref}": no space left in the image store "${this.root}"`, {
          cause: err,
        });
      throw err;
    } finally {
      release();
    }
  }

  async ensureRootDisk(ref: string, options: { signal?: AbortSignal } = {}): Promise<RootDisk> {
    const img = await this.#getStored(ref);
    try {
      return await this.#disks.ensure(img, { signal: options.signal, budget: this.#budget(ref) });
    } catch (err) {
      if (isEnospc(err))
        throw internal(
          `Cannot build the root disk of "${ref}": no space left in the image store "${this.root}"`,
          { cause: err },
        );
      throw err;
    }
  }

  async flush(): Promise<void> {
    await this.#trees.flush();
  }

  // ------------------------------------------------------------------ removal and gc

  async removeImage(ref: string, options: { force?: boolean } = {}): Promise<void> {
    await this.#images.update((state) => {
      const img = this.#lookup(state, ref);
      if (!img)
        throw notFound(`Image "${ref}" not found locally`, { details: { kind: 'images', name: ref } });
      const holders = Object.entries(state.holders)
        .filter(([, id]) => id === img.id)
        .map(([h]) => h);
      const byId =
        /^(sha256:)?[a-f0-9]{12,64}$/.test(ref) && img.id.slice(7).startsWith(ref.replace(/^sha256:/, ''));
      let remaining: string[];
      if (byId) {
        if (img.repoTags.length > 1 && !options.force) {
          throw conflict(
            `Cannot remove image "${ref}": it is referenced by ${img.repoTags.length} tags (${img.repoTags.join(', ')}); remove them by name or use force`,
          );
        }
        remaining = [];
      } else {
        const parsed = parseReference(ref);
        const tag = taggedName(parsed);
        const repo = repositoryName(parsed);
        if (parsed.digest !== undefined) remaining = img.repoTags;
        else remaining = img.repoTags.filter((t) => t !== tag);
        if (remaining.length === 0 || parsed.digest !== undefined)
          img.repoDigests = img.repoDigests.filter(
            (d) => !d.startsWith(repo + '@') || remaining.some((t) => t.startsWith(repo + ':')),
          );
      }
      if (remaining.length === 0 && holders.length > 0 && !options.force) {
        throw conflict(
          `Cannot remove image "${ref}": it is in use by ${holders
            .slice(0, 5)
            .map((h) => `"${h}"`)
            .join(', ')}`,
        );
      }
      img.repoTags = remaining;
      if (remaining.length === 0) img.repoDigests = byId ? [] : img.repoDigests;
      if (img.repoTags.length === 0 && (byId || img.repoDigests.length === 0)) {
        if (holders.length === 0) delete state.images[img.id];
        else img.repoDigests = [];
      }
      this.#log.info('Removed image', { image: ref, id: img.id });
      return { state, result: undefined };
    });
    await this.garbageCollect();
  }

  async retain(ref: string, holder: string): Promise<void> {
    await this.#images.update((state) => {
      const img = this.#lookup(state, ref);
      if (!img)
        throw notFound(`Image "${ref}" not found locally`, { details: { kind: 'images', name: ref } });
      state.holders[holder] = img.id;
      return { state, result: undefined };
    });
  }

  async release(holder: string): Promise<void> {
    const changed = await this.#images.update((state) => {
      const id = state.holders[holder];
      if (id === undefined) return { result: false };
      delete state.holders[holder];
      const img = state.images[id];
      if (
        img &&
        img.repoTags.length === 0 &&
        img.repoDigests.length === 0 &&
        !Object.values(state.holders).includes(id)
      )
        delete state.images[id];
      return { state, result: true };
    });
    if (changed) await this.garbageCollect();
  }

  async garbageCollect(): Promise<number> {
    const state = await this.#images.read();
    const blobs = new Set<string>();
    const diffIds = new Set<string>();
    const chains = new Set<string>();
    for (const img of Object.values(state.images)) {
      blobs.add(img.id);
      blobs.add(img.manifestDigest);
      if (img.indexDigest) blobs.add(img.indexDigest);
      for (const l of img.layers) {
        blobs.add(l.digest);
        diffIds.add(digestHex(l.diffId));
      }
      chains.add(digestHex(img.chainId));
    }
    let freed = 0;
    for (const d of await this.#content.listBlobs()) {
      if (!blobs.has(d) && !this.#content.isLeased(d)) freed += await this.#content.deleteBlob(d);
    }
    freed += await this.#trees.collect(diffIds);
    freed += await this.#disks.collect(chains);
    freed += await this.#content.pruneIngest();
    if (freed > 0) this.#log.info('Garbage-collected the image store', { freedBytes: freed });
    return freed;
  }
  // ------------------------------------------------------------------ archives

  async loadImage(tarPath: string, options: { signal?: AbortSignal } = {}): Promise<readonly ImageRecord[]> {
    const { loadArchive } = await import('./image-archive.js');
    return loadArchive(tarPath, {
      content: this.#content,
      log: this.#log,
      limits: this.#limits,
      ...(options.signal ? { signal: options.signal } : {}),
      store: (args) => this.storeImagePublic(args),
    });
  }

  async saveImage(
    refs: readonly string[],
    tarPath: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    if (refs.length === 0) throw invalid('Cannot save images: no image named');
    const state = await this.#images.read();
    const wanted: { img: StoredImage; tags: string[] }[] = [];
    for (const r of refs) {
      const img = this.#lookup(state, r);
      if (!img) throw notFound(`Image "${r}" not found locally`, { details: { kind: 'images', name: r } });
      let tags: string[];
      if (/^(sha256:)?[a-f0-9]{12,64}$/.test(r) && img.id.slice(7).startsWith(r.replace(/^sha256:/, '')))
        tags = [];
      else tags = [taggedName(parseReference(r)) ?? ''].filter((t) => t !== '');
      const existing = wanted.find((w) => w.img.id === img.id);
      if (existing) existing.tags.push(...tags.filter((t) => !existing.tags.includes(t)));
      else wanted.push({ img, tags });
    }
    const { saveArchive } = await import('./image-archive.js');
    const release = this.#content.lease(
      wanted.flatMap((w) => [w.img.id, ...w.img.layers.map((l) => l.digest)]),
    );
    try {
      await saveArchive(wanted, tarPath, {
        content: this.#content,
        log: this.#log,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      release();
    }
  }

  async checkLogin(
    registry: string,
    auth: RegistryAuth,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.registry.checkLogin(normalizeConfigKey(registry), auth, options.signal);
  }
}
