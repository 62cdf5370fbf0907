/**
 * The cache of unpacked layers for overlayfs (the runc handler's lowerdirs):
 *
 *   <root>/layers/<diffhex>/fs           one layer in overlayfs whiteout format
 *   <root>/layers/<diffhex>/stats.json   what unpacking it counted, the boot it was written in,
 *                                        and whether it has reached the disk since
 *
 * One tree per diffID, shared by every image that has the layer. A tree is built under tmp/
 * and published by a rename only after its uncompressed stream hashed to the diffID and (when
 * it was unpacked while downloading) the blob itself passed verification; nothing under
 * layers/ is ever half written. Concurrent requests for one layer share one unpack; two
 * processes racing for it keep the first tree renamed into place.
 *
 * Durability: trees are not fsynced file by file; one background `sync -f` per batch of
 * publications then marks them durable (docs/images.md, "Crash safety").
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import {
  bestEffort,
  errorCode,
  execFile,
  parseJson,
  parseWith,
  writeJsonFileAtomic,
  type Logger,
} from '../lib/index.js';
import type { ContentStore } from './content-store.js';
import { digestHex } from './digest.js';
import type { StoredLayer } from './image-store.js';
import type { UnpackStats } from './layer-unpacker.js';
import { layerCompression } from './oci-schemas.js';
import type { UnpackBudget } from './unpack-budget.js';
import { closeFd, openForFollow, type UnpackJobSpec } from './unpack-job.js';
import type { UnpackJob, UnpackPool } from './unpack-pool.js';
import {
  checkDiffId,
  layerWhat,
  unpackStoredLayer,
  type StoredLayerUnpackDeps,
  type UnpackStoredLayerOptions,
} from './unpack-stored-layer.js';

/** Connects a layer's download to an unpack that reads the file behind it. */
export interface LayerSink {
  /** `bytes` from the start of the partial file are written. */
  flushed(bytes: number): void;
  /** The download restarted from zero or failed: stop; the layer is unpacked from the blob instead. */
  abandon(): void;
  /** The download is complete (`bytes` long) and verified. */
  end(bytes: number): void;
  /** The layer directory (streamed, or unpacked from the blob after a fallback). */
  readonly result: Promise<string>;
}

const Count = Type.Integer({ minimum: 0 });
const LayerMetaSchema = Type.Object({
  entries: Count,
  files: Count,
  dirs: Count,
  symlinks: Count,
  hardlinks: Count,
  whiteouts: Count,
  skippedDevices: Count,
  bytes: Count,
  blocks4k: Count,
  /** The boot the tree was written in, and whether it has reached the disk since (syncfs). */
  bootId: Type.Optional(Type.String()),
  durable: Type.Optional(Type.Boolean()),
});
/** stats.json of an unpacked layer directory. */
export type LayerMeta = Static<typeof LayerMetaSchema>;

function parseLayerMeta(text: string, path: string): LayerMeta {
  return parseWith(LayerMetaSchema, parseJson(text, `layer stats "${path}"`), `layer stats "${path}"`);
}

export interface LayerTreeCacheOptions extends StoredLayerUnpackDeps {
  /** `<root>/layers`. */
  readonly dir: string;
}

export class LayerTreeCache {
  readonly dir: string;
  readonly #deps: StoredLayerUnpackDeps;
  readonly #content: ContentStore;
  readonly #pool: UnpackPool;
  readonly #log: Logger;
  /** Trees being built, by diffID hex. */
  readonly #building = new Map<string, Promise<string>>();
  /** This boot's id: unpacked trees of another boot count only once synced. */
  #bootId = '';
  /** Layer directories published but not yet known to be on disk. */
  #notDurable: string[] = [];
  #syncing: Promise<void> | undefined;
  #syncTimer: NodeJS.Timeout | undefined;

  constructor(options: LayerTreeCacheOptions) {
    this.dir = options.dir;
    this.#deps = options;
    this.#content = options.content;
    this.#pool = options.pool;
    this.#log = options.log;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.#bootId =
      (await bestEffort(this.#log, 'read the boot id', async () =>
        (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
      )) ?? '';
  }

  /** Whether the tree of diffID hex `hex` is being built by this process. */
  isBuilding(hex: string): boolean {
    return this.#building.has(hex);
  }

  /** What unpacking the layer counted, when its tree is in the cache. */
  async meta(diffId: string): Promise<LayerMeta | undefined> {
    const path = join(this.dir, digestHex(diffId), 'stats.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return undefined; // not unpacked (or removed meanwhile)
    }
    return bestEffort(this.#log, `read the stats of layer "${diffId}"`, () => parseLayerMeta(text, path));
  }

  /**
   * What unpacking the layer counted, when its tree is in the cache and can be used as it is
   * (`ensure` unpacks it again otherwise: see `#isReady`).
   */
  async readyMeta(diffId: string): Promise<LayerMeta | undefined> {
    return this.#isReady(digestHex(diffId)) ? this.meta(diffId) : undefined;
  }

  /** Unpacks one layer into layers/<diffhex>/fs (overlay format) unless it is there; returns the fs dir. */
  ensure(layer: StoredLayer, options: UnpackStoredLayerOptions = {}): Promise<string> {
    const hex = digestHex(layer.diffId);
    const pending = this.#building.get(hex);
    if (pending) return pending;
    return this.#track(hex, this.#fromBlob(layer, options));
  }

  /**
   * Starts unpacking a layer while it downloads (gzip and plain layers): a job in the unpack
   * pool reads the partial file behind the download. The result is published only after the
   * uncompressed bytes hash to the config's diffID and the blob itself passed verification; if
   * the download restarts from zero or the unpack fails for another reason than the layer's
   * content, the layer is unpacked from the verified blob instead. Undefined when the layer
   * directory exists, is being built, or the compression cannot be streamed.
   */
  stream(
    layer: StoredLayer,
    partialPath: string,
    blobReady: Promise<void>,
    options: { signal?: AbortSignal | undefined; budget?: UnpackBudget | undefined } = {},
  ): LayerSink | undefined {
    const { signal, budget } = options;
    const compression = layerCompression(layer.mediaType);
    if (compression !== 'gzip' && compression !== 'none') return undefined;
    const hex = digestHex(layer.diffId);
    if (this.#building.has(hex) || this.#isReady(hex)) return undefined;
    const spec = (dir: string, source: UnpackJobSpec['source']): UnpackJobSpec => ({
      source,
      compression,
      dir,
      mode: 'overlay',
      deviceNodes: this.#deps.deviceNodes,
      what: layerWhat(layer),
      budget,
    });
    let job: UnpackJob | undefined;
    let abandoned = false;
    let written = 0;
    let ended = false;
    let firstBytes!: () => void;
    let noBytes!: (err: unknown) => void;
    const haveBytes = new Promise<void>((resolve, reject) => {
      firstBytes = resolve;
      noBytes = reject;
    });
    haveBytes.catch(() => undefined); // observed by the unpack below, which then falls back
    const streamed = this.#build(
      layer,
      async (dir) => {
        await haveBytes;
        let fd: number | undefined;
        try {
          fd = openForFollow(partialPath);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          // the download already finished and the file moved into blobs/
        }
        if (fd === undefined) {
          await blobReady;
          job = this.#pool.run(spec(dir, { kind: 'file', path: this.#content.blobPath(layer.digest) }), {
            log: this.#log,
            signal,
          });
        } else {
          const f = fd;
          job = this.#pool.run(spec(dir, { kind: 'follow', fd: f }), { log: this.#log, signal });
          job.result.then(
            () => closeFd(f),
            () => closeFd(f),
          );
          job.available(written, ended);
        }
        if (abandoned) job.abort();
        const r = await job.result;
        checkDiffId(layer, r.diffId);
        return r.stats;
      },
      blobReady,
    );
    const result = this.#track(
      hex,
      streamed.catch(async (err: unknown) => {
        await blobReady; // a failed download is the error that counts
        const code = errorCode(err);
        // the same bytes fail the same way: a malicious layer, an image over its limits
        if (!abandoned && (code === 'Invalid' || code === 'RequestEntityTooLarge')) throw err;
        this.#log.debug('Unpacking while downloading did not complete; unpacking from the blob', {
          layer: layer.digest,
          error: err,
        });
        return this.#fromBlob(layer, { signal, budget });
      }),
    );
    return {
      flushed: (bytes) => {
        if (abandoned) return;
        written = bytes;
        if (job) job.available(bytes);
        else firstBytes();
      },
      abandon: () => {
        if (abandoned) return;
        abandoned = true;
        job?.abort();
        noBytes(new Error('the download was interrupted'));
      },
      end: (bytes) => {
        if (abandoned) return;
        written = bytes;
        ended = true;
        if (job) job.available(bytes, true);
        else firstBytes();
      },
      result,
    };
  }

  /**
   * Removes the trees whose diffID hex is not in `live` (and not being built); returns the
   * bytes freed (as their stats counted them).
   */
  async collect(live: ReadonlySet<string>): Promise<number> {
    let freed = 0;
    for (const name of (await bestEffort(this.#log, 'list unpacked layers', readdir(this.dir))) ?? []) {
      if (live.has(name) || this.#building.has(name)) continue;
      const meta = await this.meta(`sha256:${name}`);
      await rm(join(this.dir, name), { recursive: true, force: true, maxRetries: 2 });
      freed += meta?.bytes ?? 0;
    }
    return freed;
  }

  /**
   * Waits until every tree published so far is on disk (layer trees are published first and
   * synced in the background).
   */
  async flush(): Promise<void> {
    if (this.#syncTimer) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = undefined;
      this.#startSync();
    }
    while (this.#syncing) await this.#syncing;
  }

  #track(hex: string, p: Promise<string>): Promise<string> {
    this.#building.set(hex, p);
    p.then(
      () => this.#building.delete(hex),
      () => this.#building.delete(hex),
    );
    return p;
  }

  /**
   * Whether layers/<hex> holds a complete tree that can be trusted: its stats.json is there
   * and the tree is known to be on disk, or was written during this boot (a tree a crash of
   * the machine may have cut short is unpacked again).
   */
  #isReady(hex: string): boolean {
    const path = join(this.dir, hex, 'stats.json');
    let meta: LayerMeta;
    try {
      meta = parseLayerMeta(readFileSync(path, 'utf8'), path);
    } catch {
      return false; // absent or unreadable: unpack it (again)
    }
    return meta.durable !== false || (this.#bootId !== '' && meta.bootId === this.#bootId);
  }

  /** Unpacks the stored blob into layers/<diffhex>/fs unless it is there already. */
  async #fromBlob(layer: StoredLayer, options: UnpackStoredLayerOptions): Promise<string> {
    const hex = digestHex(layer.diffId);
    if (this.#isReady(hex)) return join(this.dir, hex, 'fs');
    return this.#build(layer, (dir) => unpackStoredLayer(this.#deps, layer, dir, 'overlay', options));
  }

  /**
   * Builds a layer directory in tmp/ with `fill`, waits for `gate` (the blob's own
   * verification when the layer was unpacked while downloading), then publishes it by renaming
   * it into place. The temp directory goes in every case.
   */
  async #build(
    layer: StoredLayer,
    fill: (dir: string) => Promise<UnpackStats>,
    gate?: Promise<void>,
  ): Promise<string> {
    const hex = digestHex(layer.diffId);
    const final = join(this.dir, hex);
    const tmp = this.#content.tempPath(`layer-${hex.slice(0, 12)}`);
    await mkdir(join(tmp, 'fs'), { recursive: true, mode: 0o755 });
    try {
      const stats = await fill(join(tmp, 'fs'));
      await gate;
      const meta: LayerMeta = { ...stats, bootId: this.#bootId, durable: false };
      // a new file inside the unpublished temp dir: the rename below publishes both at once
      await writeFile(join(tmp, 'stats.json'), JSON.stringify(meta), { mode: 0o600 });
      for (let attempt = 0; ; attempt++) {
        try {
          await rename(tmp, final);
          this.#scheduleSync(final);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          if (this.#isReady(hex)) break; // another process finished the same layer first: use theirs
          if (attempt > 0) throw err;
          // a tree from an earlier boot that never reached the disk: replace it
          await rm(final, { recursive: true, force: true, maxRetries: 2 });
        }
      }
      return join(final, 'fs');
    } finally {
      await rm(tmp, { recursive: true, force: true, maxRetries: 2 });
    }
  }

  /**
   * Layer trees are published without syncing each file (that would cost a journal commit per
   * file); instead one syncfs for the store's filesystem runs in the background after each
   * batch of publications, and then the trees' stats.json files are marked durable. A tree not
   * marked durable is trusted only within the boot that wrote it: a process crash keeps the
   * page cache, and a machine crash changes the boot id.
   */
  #scheduleSync(dir: string): void {
    if (this.#bootId === '') return; // no boot id to tell boots apart: trees count as durable only once marked
    this.#notDurable.push(dir);
    // One sync for the layers of a pull: wait a moment for the rest of them (and so that
    // spawning `sync` does not hold up the pull's last steps).
    this.#syncTimer ??= setTimeout(() => {
      this.#syncTimer = undefined;
      this.#startSync();
    }, 250);
    this.#syncTimer.unref();
  }

  #startSync(): void {
    if (this.#syncing) return; // the running loop takes what was added meanwhile
    const p = this.#syncLoop();
    this.#syncing = p;
    void p.finally(() => {
      if (this.#syncing === p) this.#syncing = undefined;
    });
  }

  async #syncLoop(): Promise<void> {
    try {
      while (this.#notDurable.length > 0) {
        const batch = this.#notDurable.splice(0);
        // `sync -f`: syncfs(2) of the filesystem holding the store
        const r = await execFile(['sync', '-f', this.dir], { check: false, timeoutMs: 30 * 60_000 });
        if (r.exitCode !== 0) {
          this.#log.warn('Cannot sync unpacked layers to disk; they will be unpacked again after a reboot', {
            error: r.stderr.trim().slice(0, 300),
          });
          continue;
        }
        for (const dir of batch) {
          // a tree removed meanwhile (gc) has nothing to mark
          await bestEffort(this.#log, `mark the unpacked layer "${dir}" durable`, async () => {
            const path = join(dir, 'stats.json');
            const meta = parseLayerMeta(await readFile(path, 'utf8'), path);
            await writeJsonFileAtomic(path, { ...meta, durable: true }, { isDurable: true });
          });
        }
      }
    } catch (err) {
      this.#log.warn('Cannot sync unpacked layers to disk; they will be unpacked again after a reboot', {
        error: err,
      });
    }
  }
}
