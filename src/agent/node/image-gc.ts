/**
 * Image garbage collection by disk usage (kubelet's image GC manager): when the filesystem of
 * the image store is more than `highPercent` full, images no container uses are removed, least
 * recently used first, until usage is below `lowPercent` (kubelet's defaults: 85 and 80).
 * An image is "used" while any container (running or exited, so `logs --previous` and restarts
 * keep working) refers to it; "recently" is the last time the agent saw it used.
 */
import { statfs } from 'node:fs/promises';
import { describeError, type Clock, type Logger } from '../../lib/index.js';
import type { NodeRuntime } from '../../runtime/index.js';

export interface ImageGcOptions {
  readonly runtime: NodeRuntime;
  readonly clock: Clock;
  readonly log: Logger;
  readonly highPercent?: number;
  readonly lowPercent?: number;
  /** An image is kept at least this long after it was last used; default 2 minutes. */
  readonly minAgeMs?: number;
  /** Test seam: disk usage of the image store (used and total bytes). */
  readonly diskUsage?: () => Promise<{ usedBytes: number; totalBytes: number }>;
}

export class ImageGc {
  readonly #o: ImageGcOptions;
  /** image id → last time seen in use (or first seen) */
  readonly #lastUsed = new Map<string, number>();

  constructor(options: ImageGcOptions) {
    this.#o = options;
  }

  async #usage(): Promise<{ usedBytes: number; totalBytes: number }> {
    if (this.#o.diskUsage) return this.#o.diskUsage();
    const info = await this.#o.runtime.info();
    const fs = await statfs(info.rootDir);
    const total = fs.blocks * fs.bsize;
    return { usedBytes: total - fs.bfree * fs.bsize, totalBytes: total };
  }

  /** One pass: returns the ids of the images removed. */
  async collect(): Promise<string[]> {
    const o = this.#o;
    const now = o.clock.now();
    const [images, containers] = await Promise.all([
      o.runtime.images.listImages(),
      o.runtime.listContainers(),
    ]);
    const inUse = new Set(containers.map((c) => c.imageRef));
    for (const img of images) {
      if (inUse.has(img.id) || !this.#lastUsed.has(img.id)) this.#lastUsed.set(img.id, now);
    }
    for (const id of this.#lastUsed.keys()) if (!images.some((i) => i.id === id)) this.#lastUsed.delete(id);
    const usage = await this.#usage();
    if (usage.totalBytes <= 0) return [];
    const high = o.highPercent ?? 85;
    const low = o.lowPercent ?? 80;
    let used = usage.usedBytes;
    if ((used / usage.totalBytes) * 100 < high) return [];
    const target = (usage.totalBytes * low) / 100;
    const minAge = o.minAgeMs ?? 120_000;
    const candidates = images
      .filter((i) => !inUse.has(i.id) && now - (this.#lastUsed.get(i.id) ?? now) >= minAge)
      .sort((a, b) => (this.#lastUsed.get(a.id) ?? 0) - (this.#lastUsed.get(b.id) ?? 0));
    const removed: string[] = [];
    for (const img of candidates) {
      if (used <= target) break;
      try {
        await o.runtime.images.removeImage(img.id);
        removed.push(img.id);
        used -= img.sizeBytes;
        this.#lastUsed.delete(img.id);
        o.log.info('Removed unused image to free disk space', {
          image: img.repoTags[0] ?? img.id,
          sizeBytes: img.sizeBytes,
        });
      } catch (err) {
        o.log.warn('Cannot remove unused image', { image: img.id, error: describeError(err) });
      }
    }
    if (removed.length > 0) await o.runtime.images.garbageCollect();
    if (used > target) {
      o.log.warn('Disk still above the image GC target after removing unused images', {
        usedPercent: Math.round((used / usage.totalBytes) * 100),
        lowPercent: low,
      });
    }
    return removed;
  }
}
