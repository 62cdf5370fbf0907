/**
 * The content-addressed blob store under `<root>/blobs/sha256/<hex>`.
 *
 * Invariants: a file under blobs/ is complete and matches its name (written to a temp file,
 * verified, then renamed); downloads in progress live under ingest/ and are invisible until
 * verified; two callers asking for the same blob at once share one download. Blobs used by an
 * operation in progress are leased so garbage collection leaves them alone.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bestEffort, internal, invalid, isProcessAlive, writeFileAtomic, type Logger } from '../lib/index.js';

/** A temp file of writeFileAtomic older than this in blobs/ was left by a crash. */
const staleBlobTempMs = 60 * 60_000;
import { digestHex, sha256Digest } from './digest.js';

export class ContentStore {
  readonly root: string;
  readonly #log: Logger;
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #leases = new Map<string, number>();
  #tmpSeq = 0;

  constructor(root: string, log: Logger) {
    this.root = root;
    this.#log = log;
  }

  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }
  get ingestDir(): string {
    return join(this.root, 'ingest');
  }
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  /** Creates the directories and removes temp files left by dead processes. */
  async init(): Promise<void> {
    for (const d of [this.blobsDir, this.ingestDir, this.tmpDir])
      await mkdir(d, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.tmpDir)) {
      const pid = Number(name.split('-')[0]);
      if (!Number.isInteger(pid) || pid <= 0 || (pid !== process.pid && !isProcessAlive(pid))) {
        await rm(join(this.tmpDir, name), { recursive: true, force: true, maxRetries: 2 });
      }
    }
    // `<hex>.<random>.tmp` beside the blobs: a writeBlob cut short by a crash (a live one
    // takes milliseconds, so an old one has no writer)
    for (const name of await readdir(this.blobsDir)) {
      if (!name.endsWith('.tmp')) continue;
      const path = join(this.blobsDir, name);
      const st = await bestEffort(this.#log, `inspect the temp file "${path}"`, stat(path));
      if (st && Date.now() - st.mtimeMs > staleBlobTempMs) await rm(path, { force: true });
    }
  }

  /** A fresh path under tmp/ (same filesystem as the store, so rename is atomic). */
  tempPath(label: string): string {
    return join(
      this.tmpDir,
      `${process.pid}-${Date.now().toString(36)}-${(this.#tmpSeq++).toString(36)}-${label}`,
    );
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async blobSize(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      return undefined;
    }
  }

  /** Reads a small blob, refusing more than `maxBytes`. @throws NotFound-like InternalError when missing */
  async readBlob(digest: string, maxBytes: number): Promise<Buffer> {
    const p = this.blobPath(digest);
    const st = await stat(p).catch((err: unknown) => {
      throw internal(`Blob "${digest}" is missing from the content store`, { cause: err });
    });
    if (st.size > maxBytes)
      throw invalid(`Blob "${digest}" is ${st.size} bytes, larger than the limit of ${maxBytes}`);
    return readFile(p);
  }

  /** Writes bytes as a blob (verified against `expected` when given); returns its digest. */
  async writeBlob(bytes: Buffer, expected?: string): Promise<string> {
    const digest = sha256Digest(bytes);
    if (expected !== undefined && digest !== expected)
      throw invalid(`Blob content has digest "${digest}", want "${expected}"`);
    if (await this.hasBlob(digest)) return digest;
    // fsynced before the rename (and the directory after it): a record naming it may follow
    await writeFileAtomic(this.blobPath(digest), bytes, { isDurable: true });
    return digest;
  }

  /**
   * Moves a file whose content should be `digest` into the store, after hashing it.
   * @throws Invalid (and removes the file) when the content does not match
   */
  async importFile(path: string, digest: string): Promise<void> {
    const got = await hashFile(path);
    if (got !== digest) {
      await rm(path, { force: true });
      throw invalid(`Blob content has digest "${got}", want "${digest}"`);
    }
    await rename(path, this.blobPath(digest));
  }

  /**
   * Makes sure blob `digest` is present, calling `download(partialPath)` to fetch it when it is
   * not. `download` must leave a complete, verified file at `partialPath`; this method renames
   * it into place. Concurrent calls for the same digest share one download.
   */
  async ensureBlob(
    digest: string,
    download: (partialPath: string) => Promise<void>,
  ): Promise<'present' | 'downloaded'> {
    const pending = this.#inflight.get(digest);
    if (pending) {
      await pending;
      return 'downloaded';
    }
    let present = false;
    // Registered before the first await, so a second caller always finds it.
    const p = (async () => {
      if (await this.hasBlob(digest)) {
        present = true;
        return;
      }
      const partial = join(this.ingestDir, `${digestHex(digest)}.partial`);
      await download(partial);
      const fh = await open(partial, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(partial, this.blobPath(digest));
    })();
    this.#inflight.set(digest, p);
    try {
      await p;
    } finally {
      this.#inflight.delete(digest);
    }
    return present ? 'present' : 'downloaded';
  }

  /** Keeps `digests` out of garbage collection until the returned function is called. */
  lease(digests: Iterable<string>): () => void {
    const list = [...digests];
    for (const d of list) this.#leases.set(d, (this.#leases.get(d) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const d of list) {
        const n = (this.#leases.get(d) ?? 1) - 1;
        if (n <= 0) this.#leases.delete(d);
        else this.#leases.set(d, n);
      }
    };
  }

  isLeased(digest: string): boolean {
    return this.#leases.has(digest) || this.#inflight.has(digest);
  }

  async listBlobs(): Promise<string[]> {
    const names = (await bestEffort(this.#log, 'list blobs', readdir(this.blobsDir))) ?? [];
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Deletes a blob; returns the bytes freed. */
  async deleteBlob(digest: string): Promise<number> {
    const p = this.blobPath(digest);
    try {
      const st = await stat(p);
      await unlink(p);
      this.#log.debug('Deleted blob', { digest, sizeBytes: st.size });
      return st.size;
    } catch {
      return 0;
    }
  }

  /** Removes partial downloads nobody is working on; returns bytes freed. */
  async pruneIngest(): Promise<number> {
    let freed = 0;
    for (const name of (await bestEffort(this.#log, 'list partial downloads', readdir(this.ingestDir))) ??
      []) {
      const digest = `sha256:${name.replace(/\.partial$/, '')}`;
      if (this.#inflight.has(digest)) continue;
      const p = join(this.ingestDir, name);
      try {
        freed += (await stat(p)).size;
        await rm(p, { force: true });
      } catch {
        // gone already
      }
    }
    return freed;
  }
}

/** sha256 digest of a file's content, streamed. */
export async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return 'sha256:' + h.digest('hex');
}
