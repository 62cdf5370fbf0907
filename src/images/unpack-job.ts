/**
 * One layer unpack, as run by the unpack pool (unpack-pool.ts) in a worker thread or, when no
 * worker is available, in the calling thread. The same code runs in both places.
 *
 * The source is either a finished file (a verified blob) or a file that is still being
 * downloaded: the job then reads it behind the download, up to the byte count the downloader
 * reports as written (`available`), until it reports the end. Reading the file rather than
 * receiving the socket's chunks means a slow unpack never holds up the download and memory
 * stays bounded (one read buffer), and a download that resumes after an interruption keeps
 * appending to the same file the job reads.
 *
 * The job verifies nothing by itself except that the decompressor finished cleanly: it returns
 * the digest of the uncompressed tar stream (the diffID), which the caller compares with the
 * image config before the unpacked directory may be published.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalid, type Logger } from '../lib/index.js';
import { unpackLayer, type DeviceNodePolicy, type UnpackMode, type UnpackStats } from './layer-unpacker.js';
import { decompressStream, hashed, openLayerStream, type LayerStream } from './layer-stream.js';
import type { LayerCompression } from './oci-schemas.js';
import type { UnpackBudget } from './unpack-budget.js';

/** What to unpack where. Plain data, so it can be posted to a worker. */
export interface UnpackJobSpec {
  /**
   * `file`: a complete file. `follow`: a file still being written, read through `fd` (a
   * descriptor of this process, open for reading) up to what `available` reported.
   */
  readonly source:
    { readonly kind: 'file'; readonly path: string } | { readonly kind: 'follow'; readonly fd: number };
  readonly compression: LayerCompression;
  /** The directory to unpack into (must exist). */
  readonly dir: string;
  readonly mode: UnpackMode;
  readonly deviceNodes: DeviceNodePolicy;
  /** Describes the layer in errors. */
  readonly what: string;
  /**
   * The image's limits on unpacked content; its counters are a SharedArrayBuffer, shared (not
   * copied) with the worker thread the job runs in.
   */
  readonly budget?: UnpackBudget | undefined;
}

export interface UnpackJobResult {
  readonly stats: UnpackStats;
  /** `sha256:…` of the uncompressed tar stream. */
  readonly diffId: string;
}

/** The mutable side of a followed source: how far the file may be read, and whether it is complete. */
export class FollowState {
  available = 0;
  ended = false;
  #wake: (() => void) | undefined;

  /** Records that `bytes` bytes from the start of the file are written (and `end`: that is all). */
  update(bytes: number, end: boolean): void {
    if (bytes > this.available) this.available = bytes;
    if (end) this.ended = true;
    this.wake();
  }

  wake(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }
}

const readChunk = 1024 * 1024;

/** Reads `fd` from offset 0 behind a writer, as `follow` allows. */
async function* followFile(fd: number, follow: FollowState, signal: AbortSignal, what: string) {
  let pos = 0;
  for (;;) {
    signal.throwIfAborted();
    if (pos < follow.available) {
      const n = Math.min(follow.available - pos, readChunk);
      const buf = Buffer.allocUnsafe(n);
      const got = readSync(fd, buf, 0, n, pos);
      if (got === 0) throw invalid(`Cannot unpack ${what}: the download is shorter than reported`);
      pos += got;
      yield got === n ? buf : buf.subarray(0, got);
      continue;
    }
    if (follow.ended) return;
    await follow.wait();
  }
}

/**
 * gzip from a file (followed or complete) into hashed tar bytes, reading into two buffers in
 * turn: a buffer is read into again only after the decompressor has consumed it (the write
 * callback), so a layer costs no allocation per read and the decompressor's back-pressure
 * paces the reads.
 */
function gunzipFile(fd: number, follow: FollowState, signal: AbortSignal, what: string): LayerStream {
  const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
  const bufs = [Buffer.allocUnsafe(readChunk), Buffer.allocUnsafe(readChunk)] as const;
  const feeding = (async () => {
    const written: (Promise<void> | undefined)[] = [undefined, undefined];
    let k = 0;
    let pos = 0;
    for (;;) {
      signal.throwIfAborted();
      // stopped (an error elsewhere): never read the descriptor again, its owner may close it
      if (gunzip.destroyed) throw new Error('unpack stopped');
      if (pos < follow.available) {
        await written[k];
        if (gunzip.destroyed) throw new Error('unpack stopped');
        const buf = bufs[k as 0 | 1];
        const n = Math.min(follow.available - pos, readChunk);
        const got = readSync(fd, buf, 0, n, pos);
        if (got === 0) throw invalid(`Cannot unpack ${what}: the download is shorter than reported`);
        pos += got;
        const p = new Promise<void>((resolve, reject) =>
          gunzip.write(buf.subarray(0, got), (err) => (err ? reject(err) : resolve())),
        );
        p.catch(() => undefined); // observed when this buffer is read into again, or at the end
        written[k] = p;
        k ^= 1;
        continue;
      }
      if (follow.ended) break;
      await follow.wait();
    }
    await Promise.all(written);
    gunzip.end();
  })();
  const ended = new Promise<void>((resolve, reject) => {
    gunzip.on('end', resolve);
    gunzip.on('close', () => reject(new Error('unpack stopped'))); // after 'end' this changes nothing
    gunzip.on('error', (err) =>
      reject(invalid(`Cannot decompress ${what} (gzip): ${err.message}`, { cause: err })),
    );
  });
  feeding.catch((err: unknown) => gunzip.destroy(err instanceof Error ? err : new Error(String(err))));
  const finished = Promise.all([ended, feeding]).then(() => undefined);
  return hashed(gunzip, finished, () => {
    follow.wake();
    gunzip.destroy();
  });
}

/**
 * Runs one unpack. `follow` is required for a `follow` source.
 * @throws Invalid for a malformed or malicious layer, a decompression error
 */
export async function runUnpackJob(
  spec: UnpackJobSpec,
  options: { log: Logger; signal: AbortSignal; follow?: FollowState },
): Promise<UnpackJobResult> {
  const { signal } = options;
  let stream: LayerStream;
  let ownFd: number | undefined;
  if (spec.compression === 'gzip') {
    let fd: number;
    let follow: FollowState;
    if (spec.source.kind === 'follow') {
      if (!options.follow) throw new Error('runUnpackJob: a followed source needs its FollowState');
      fd = spec.source.fd;
      follow = options.follow;
    } else {
      fd = ownFd = openSync(spec.source.path, 'r');
      follow = new FollowState();
      follow.update(fstatSync(fd).size, true);
    }
    const onAbort = (): void => follow.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    stream = gunzipFile(fd, follow, signal, spec.what);
    stream.done().then(
      () => signal.removeEventListener('abort', onAbort),
      () => signal.removeEventListener('abort', onAbort),
    );
  } else if (spec.source.kind === 'follow') {
    const follow = options.follow;
    if (!follow) throw new Error('runUnpackJob: a followed source needs its FollowState');
    if (spec.compression === 'zstd')
      throw invalid(`Cannot unpack ${spec.what} while it downloads: zstd layers are unpacked from the blob`);
    const onAbort = (): void => follow.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    const input = Readable.from(followFile(spec.source.fd, follow, signal, spec.what), { objectMode: false });
    stream = decompressStream(input, spec.compression, spec.what);
    stream.done().then(
      () => signal.removeEventListener('abort', onAbort),
      () => signal.removeEventListener('abort', onAbort),
    );
  } else {
    stream = await openLayerStream(spec.source.path, spec.compression, spec.what);
  }
  try {
    const stats = await unpackLayer(stream.chunks, spec.dir, {
      mode: spec.mode,
      deviceNodes: spec.deviceNodes,
      log: options.log,
      signal,
      what: spec.what,
      budget: spec.budget,
    });
    await stream.done();
    return { stats, diffId: stream.diffId() };
  } catch (err) {
    stream.destroy();
    signal.throwIfAborted();
    throw err;
  } finally {
    if (ownFd !== undefined) closeFd(ownFd);
  }
}

/** Opens `path` for reading; the caller closes it with `closeFd`. */
export function openForFollow(path: string): number {
  return openSync(path, 'r');
}

export function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
