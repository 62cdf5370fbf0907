/**
 * Test volumes in kubelet's atomic-writer layout, as the agent writes them for `files` mounts
 * (ADR 0008), for the runtime tests of both handlers.
 */
import { lstat, mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { unlessMissing } from '../../lib/index.js';

/**
 * Writes one generation of an atomic-writer volume (kubelet's layout): `..<gen>/<files>`, then
 * `..data` swapped to it by a rename, the visible top-level names linked to `..data/<name>`,
 * and names the generation no longer has removed.
 */
export async function writeGeneration(
  dir: string,
  gen: string,
  files: Record<string, string>,
): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, `..${gen}`, path)), { recursive: true });
    await writeFile(join(dir, `..${gen}`, path), text);
  }
  const names = new Set(Object.keys(files).map((p) => p.split('/')[0] as string));
  for (const n of names) {
    if (!(await unlessMissing(lstat(join(dir, n))))) await symlink(`..data/${n}`, join(dir, n));
  }
  await symlink(`..${gen}`, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const n of await readdir(dir)) {
    if (!n.startsWith('..') && !names.has(n)) await rm(join(dir, n), { force: true });
  }
}
