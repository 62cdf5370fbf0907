/**
 * Atomic file replacement: write a temporary file beside the target, then rename it over the
 * target, so a process killed at any instant leaves either the old or the new content, never
 * half of either. With `isDurable` the file and its directory are fsynced as well, so the new
 * content also survives a power loss (one extra fsync pair per write; state whose loss on power
 * failure is harmless leaves it off).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { unlessMissing } from './best-effort.js';
import { describeError } from './errors.js';

export interface WriteFileAtomicOptions {
  /** File mode of the new file; default 0o600 (state files are private to the daemon). */
  readonly mode?: number;
  /** fsync the file before the rename and its directory after it. */
  readonly isDurable?: boolean;
}

/** Replaces `path` with `data` atomically (see the module comment). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode: options.mode ?? 0o600 });
    if (options.isDurable) await fsyncPath(tmp);
    await rename(tmp, path);
  } catch (err) {
    // The temporary name is ours alone; a failed write must not leave it behind.
    // (absent when writeFile itself failed; any other failure is reported with the first one)
    await unlessMissing(unlink(tmp)).catch((cleanup: unknown) => {
      throw new AggregateError([err, cleanup], `${describeError(err)}; the temporary file "${tmp}" is left`);
    });
    throw err;
  }
  if (options.isDurable) await fsyncPath(dirname(path));
}

/** `writeFileAtomic` of `JSON.stringify(value)`. */
export async function writeJsonFileAtomic(
  path: string,
  value: unknown,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value), options);
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
