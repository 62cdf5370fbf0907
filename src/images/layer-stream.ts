/**
 * Opens a stored layer blob as a stream of uncompressed tar bytes: gzip through node:zlib,
 * zstd through Debian's `zstd` binary (Node 20 has no zstd), and "none" as is. Also sniffs
 * the compression of blobs from tarballs whose media type does not say.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import { invalid, spawnProcess } from '../lib/index.js';
import type { LayerCompression } from './oci-schemas.js';

/** Looks at the first bytes of a file: gzip (1f 8b), zstd (28 b5 2f fd) or plain. */
export async function sniffCompression(path: string): Promise<LayerCompression> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

export interface LayerStream {
  /** Uncompressed tar bytes. */
  readonly chunks: AsyncIterable<Buffer>;
  /** After `chunks` is exhausted: the digest of the uncompressed bytes (the layer's diffID). */
  diffId(): string;
  /** Resolves when the decompressor finished cleanly; rejects with its error otherwise. */
  done(): Promise<void>;
  /** Stops early (on error elsewhere). */
  destroy(): void;
}

/** Opens `path` (compressed as `compression`) for reading as a tar stream, hashing what it yields. */
export async function openLayerStream(
  path: string,
  compression: LayerCompression,
  what: string,
): Promise<LayerStream> {
  if (compression === 'zstd') {
    const child = await spawnProcess(['zstd', '-dcq', '--', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const errChunks: Buffer[] = [];
    child.stderr?.on('data', (c: Buffer) => {
      if (errChunks.length < 16) errChunks.push(c);
    });
    const finished = child.exited.then((st) => {
      if (st.code !== 0) {
        const msg = Buffer.concat(errChunks).toString('utf8').trim().slice(0, 300);
        throw invalid(`Cannot decompress ${what} (zstd): ${msg || `exit ${st.code ?? st.signal}`}`);
      }
    });
    // Attach a consumer before anything else awaits: Node resumes (and so discards) the unread
    // stdout of a child that has exited, so a fast zstd could otherwise lose its whole output.
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    child.stdout!.pipe(out);
    return hashed(out, finished, () => {
      out.destroy();
      void child.stop(1000);
    });
  }
  return decompressStream(createReadStream(path, { highWaterMark: 1024 * 1024 }), compression, what);
}

/**
 * Decompresses a stream of layer bytes (gzip or none; zstd needs a file) into hashed tar bytes.
 * Used to unpack a layer while it is still downloading.
 */
export function decompressStream(input: Readable, compression: 'gzip' | 'none', what: string): LayerStream {
  if (compression === 'gzip') {
    const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
    const finished = new Promise<void>((resolve, reject) => {
      pipeline(input, gunzip, (err) =>
        err ? reject(invalid(`Cannot decompress ${what} (gzip): ${err.message}`, { cause: err })) : resolve(),
      );
    });
    return hashed(gunzip, finished, () => {
      input.destroy();
      gunzip.destroy();
    });
  }
  const finished = new Promise<void>((resolve, reject) => {
    input.on('end', resolve);
    input.on('error', reject);
  });
  return hashed(input, finished, () => input.destroy());
}

/** Wraps a stream of tar bytes: hashes what it yields; `finished` settles when its producer is done. */
export function hashed(source: Readable, finished: Promise<void>, destroy: () => void): LayerStream {
  const hash = createHash('sha256');
  finished.catch(() => undefined); // observed through done()
  const chunks = (async function* () {
    try {
      for await (const c of source) {
        const b = c as Buffer;
        hash.update(b);
        yield b;
      }
    } catch (err) {
      await finished; // prefer the decompressor's own error
      throw err;
    }
  })();
  let digest: string | undefined;
  return {
    chunks,
    diffId: () => (digest ??= 'sha256:' + hash.digest('hex')),
    done: () => finished,
    destroy,
  };
}
