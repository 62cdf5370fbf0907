/**
 * The runc handler's helper program (shim/h8s-runc-shim.c) is built from source on first use
 * with the host's C compiler and cached by content hash, so a changed source never runs a
 * stale binary and two daemons building at once do not clash (build to a temporary name, then
 * rename).
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile, findExecutable, unavailable } from '../../lib/index.js';

export const shimSourcePath = fileURLToPath(new URL('./shim/h8s-runc-shim.c', import.meta.url));

/** Returns the path of a shim binary built from the current source, building it if needed. */
export async function ensureShimBinary(cacheDir: string): Promise<string> {
  const source = await readFile(shimSourcePath);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const out = join(cacheDir, `h8s-runc-shim-${hash}`);
  try {
    await access(out);
    return out;
  } catch {
    // build it
  }
  const cc = (await findExecutable('cc')) ?? (await findExecutable('gcc'));
  if (!cc) {
    throw unavailable('Cannot build the runc shim: no C compiler on PATH (install gcc and libc6-dev)');
  }
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await execFile([cc, '-O2', '-Wall', '-o', tmp, shimSourcePath], { timeoutMs: 120_000 });
    await rename(tmp, out);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw unavailable('Cannot build the runc shim', { cause: err });
  }
  return out;
}
