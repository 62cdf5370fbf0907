/**
 * Root disks for VM pods: `<root>/disks/<chainhex>.ext4`, the whole image as one read-only ext4
 * file, built once per chain ID and cached (ADR 0004, "Root disks").
 *
 * The layers are applied in order into one directory under tmp/ (merge mode: whiteouts delete,
 * opaque markers empty), then `mkfs.ext4 -d` copies that tree into a sparse file sized from what
 * the unpack counted, plus `freeBytes` for the container's writes through its qcow2 overlay.
 * The disk is renamed into disks/ only when complete; the work directory goes in every case.
 * Every layer is charged to the image's unpack budget, so a disk is never built from more than
 * the image service's limits allow, and its size follows from the bounded tree.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bestEffort, execFile, internal, type Clock } from '../lib/index.js';
import { digestHex } from './digest.js';
import type { RootDisk } from './image-service.js';
import type { StoredImage } from './image-store.js';
import type { UnpackBudget } from './unpack-budget.js';
import { unpackStoredLayer, type StoredLayerUnpackDeps } from './unpack-stored-layer.js';

export interface RootDiskBuilderOptions extends StoredLayerUnpackDeps {
  /** `<root>/disks`. */
  readonly dir: string;
  readonly clock: Clock;
  /** Free space left in each disk for the container's writes (sparse, costs no host disk). */
  readonly freeBytes: number;
}

export interface EnsureRootDiskOptions {
  readonly signal?: AbortSignal | undefined;
  /** The image's limits on unpacked content; every layer is charged to it. */
  readonly budget: UnpackBudget;
}

const MiB = 1024 * 1024;

export class RootDiskBuilder {
  readonly dir: string;
  readonly #opts: RootDiskBuilderOptions;
  /** Disks being built, by chain ID hex. */
  readonly #building = new Map<string, Promise<RootDisk>>();

  constructor(options: RootDiskBuilderOptions) {
    this.dir = options.dir;
    this.#opts = options;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Whether the disk of chain ID hex `hex` is being built by this process. */
  isBuilding(hex: string): boolean {
    return this.#building.has(hex);
  }

  /**
   * The disk of `img`, built unless it is there; concurrent calls share one build.
   * @throws RequestEntityTooLarge past the budget's limits; Invalid for a bad layer;
   *   InternalError when mkfs fails
   */
  async ensure(img: StoredImage, options: EnsureRootDiskOptions): Promise<RootDisk> {
    const hex = digestHex(img.chainId);
    const pending = this.#building.get(hex);
    if (pending) return pending;
    const p = this.#build(img, options);
    this.#building.set(hex, p);
    try {
      return await p;
    } finally {
      this.#building.delete(hex);
    }
  }

  /** Removes the disks whose chain ID hex is not in `live`; returns the bytes freed. */
  async collect(live: ReadonlySet<string>): Promise<number> {
    const log = this.#opts.log;
    let freed = 0;
    for (const name of (await bestEffort(log, 'list root disks', readdir(this.dir))) ?? []) {
      const hex = name.replace(/\.ext4$/, '');
      if (live.has(hex) || this.#building.has(hex)) continue;
      const path = join(this.dir, name);
      freed += (await bestEffort(log, `size the root disk "${path}"`, stat(path)))?.blocks ?? 0;
      await rm(path, { force: true });
    }
    return freed * 512;
  }

  async #build(img: StoredImage, options: EnsureRootDiskOptions): Promise<RootDisk> {
    const { clock, content, log } = this.#opts;
    const path = join(this.dir, `${digestHex(img.chainId)}.ext4`);
    try {
      const st = await stat(path);
      return { path, fsType: 'ext4', sizeBytes: st.size };
    } catch {
      // not built yet
    }
    const release = content.lease(img.layers.map((l) => l.digest));
    const work = content.tempPath(`disk-${digestHex(img.chainId).slice(0, 12)}`);
    const tree = join(work, 'root');
    const started = clock.monotonicMs();
    try {
      await mkdir(tree, { recursive: true, mode: 0o755 });
      let blocks = 0;
      let entries = 0;
      for (const layer of img.layers) {
        const s = await unpackStoredLayer(this.#opts, layer, tree, 'merge', options);
        blocks += s.blocks4k;
        entries += s.entries;
      }
      const inodes = Math.max(4096, Math.ceil(entries * 1.2) + 1024);
      const need = blocks * 4096 + inodes * 256;
      let sizeBytes = Math.ceil((need * 1.1 + 16 * MiB + this.#opts.freeBytes) / MiB) * MiB;
      const file = join(work, 'disk.ext4');
      // mkfs may still run out of room (directory blocks, xattrs): at most two retries at twice
      // the size, so the disk stays within a small factor of the (bounded) tree
      for (let attempt = 0; ; attempt++) {
        await rm(file, { force: true });
        const r = await execFile(
          [
            'mkfs.ext4',
            '-q',
            '-F',
            '-t',
            'ext4',
            '-b',
            '4096',
            '-I',
            '256',
            '-N',
            String(inodes),
            '-m',
            '0',
            // read-only base under a per-container qcow2 overlay: no journal, no resize reservation
            '-O',
            '^has_journal,^resize_inode',
            '-E',
            'root_owner=0:0',
            '-L',
            'h8s-rootfs',
            '-U',
            'clear',
            '-d',
            tree,
            file,
            `${sizeBytes / 1024}k`,
          ],
          { timeoutMs: 30 * 60_000, check: false, ...(options.signal ? { signal: options.signal } : {}) },
        );
        if (r.exitCode === 0) break;
        if (attempt >= 2 || !/allocate|space|Could not/i.test(r.stderr))
          throw internal(
            `Cannot build the root disk of "${img.id}": mkfs.ext4 failed: ${r.stderr.trim().slice(0, 500)}`,
          );
        sizeBytes *= 2;
      }
      await rename(file, path);
      log.info('Built root disk', {
        image: img.id,
        path,
        sizeBytes,
        durationMs: Math.round(clock.monotonicMs() - started),
      });
      return { path, fsType: 'ext4', sizeBytes };
    } finally {
      release();
      await rm(work, { recursive: true, force: true, maxRetries: 2 });
    }
  }
}
