/**
 * kubelet's atomic writer: a volume's files as one generation that readers see whole or not
 * at all. Layout of a volume directory:
 *
 *   ..2026_12_07_06_30_00.123456789/   one generation (the files, nested paths included)
 *   ..data -> ..2026_12_07_...         the current generation (swapped with a rename)
 *   key -> ..data/key                  one symlink per top-level name
 *
 * An update writes a new generation, points `..data_tmp` at it and renames that over `..data`
 * (atomic), then adds the symlinks of new names, removes those of names gone, and deletes the
 * old generation. A payload equal to the current one changes nothing. VM pods get the same
 * layout rebuilt inside the guest from the current generation (ADR 0008).
 *
 * Paths in a payload come from users (ConfigMap keys, `items[].path`): each must be relative,
 * without `..` segments and not start with `..`, or the write is refused with Invalid.
 */
import {
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
  chmod,
  chown,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { invalid } from '../../lib/index.js';

export interface PayloadFile {
  readonly data: Uint8Array;
  /** File mode, e.g. 0o644. */
  readonly mode: number;
}

/** Relative path → file. */
export type Payload = ReadonlyMap<string, PayloadFile>;

export interface WriteOptions {
  /** Group of every file and directory (the pod's fsGroup), or undefined to leave root's. */
  readonly gid?: number | undefined;
  /** Generation names come from this clock (tests inject it). */
  readonly nowMs?: number | undefined;
}

const dataLink = '..data';

/** Refuses a path a user could use to escape the volume. */
export function checkPayloadPath(path: string): void {
  if (path === '' || path.startsWith('/'))
    throw invalid(`Invalid path "${path}": must be relative and not empty`);
  if (path.startsWith('..')) throw invalid(`Invalid path "${path}": must not start with ".."`);
  for (const seg of path.split('/')) {
    if (seg === '..') throw invalid(`Invalid path "${path}": must not contain ".."`);
    if (seg === '') throw invalid(`Invalid path "${path}": must not contain empty segments`);
  }
  if (path.length > 4096) throw invalid(`Invalid path: longer than 4096 characters`);
}

function generationName(nowMs: number): string {
  const d = new Date(nowMs);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const base = `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
  // A random suffix keeps two writes within one millisecond apart.
  return `${base}.${p(d.getUTCMilliseconds(), 3)}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
}

/** The target of a symlink; undefined when `path` is missing or not a symlink. */
async function findLink(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EINVAL') return undefined;
    throw err;
  }
}

/** The files of the current generation, or undefined when there is none. */
export async function readCurrentPayload(dir: string): Promise<Map<string, PayloadFile> | undefined> {
  const target = await findLink(join(dir, dataLink));
  if (target === undefined) return undefined;
  const out = new Map<string, PayloadFile>();
  const walk = async (rel: string): Promise<void> => {
    const abs = join(dir, target, rel);
    for (const ent of await readdir(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) await walk(r);
      else if (ent.isFile()) {
        const st = await lstat(join(abs, ent.name));
        out.set(r, { data: await readFile(join(abs, ent.name)), mode: st.mode & 0o7777 });
      }
    }
  };
  await walk('');
  return out;
}

function samePayload(a: Payload, b: Payload): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.mode !== v.mode || Buffer.compare(Buffer.from(w.data), Buffer.from(v.data)) !== 0)
      return false;
  }
  return true;
}

/**
 * Makes `dir` hold `payload` as its current generation. Returns whether anything changed.
 * @throws Invalid for a path that could escape the volume.
 */
export async function writeAtomically(
  dir: string,
  payload: Payload,
  options: WriteOptions = {},
): Promise<boolean> {
  for (const path of payload.keys()) checkPayloadPath(path);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const current = await readCurrentPayload(dir);
  if (current && samePayload(current, payload)) return false;

  const gen = generationName(options.nowMs ?? Date.now());
  const genDir = join(dir, gen);
  await mkdir(genDir, { mode: 0o755 });
  for (const [path, file] of payload) {
    const abs = join(genDir, path);
    await mkdir(dirname(abs), { recursive: true, mode: 0o755 });
    await writeFile(abs, file.data, { mode: file.mode });
    // writeFile's mode is masked by the umask; the volume's mode is exact.
    await chmod(abs, file.mode);
    if (options.gid !== undefined) await chown(abs, 0, options.gid);
  }
  if (options.gid !== undefined) await chown(genDir, 0, options.gid);

  const tmpLink = join(dir, '..data_tmp');
  await rm(tmpLink, { force: true });
  await symlink(gen, tmpLink);
  await rename(tmpLink, join(dir, dataLink));

  // Visible names: one symlink per top-level name of the new payload.
  const top = new Set([...payload.keys()].map((p) => p.split('/')[0] ?? p));
  for (const name of top) {
    const link = join(dir, name);
    const existing = await findLink(link);
    if (existing === `${dataLink}/${name}`) continue;
    await rm(link, { force: true, recursive: true });
    await symlink(`${dataLink}/${name}`, link);
  }
  for (const ent of await readdir(dir)) {
    if (ent.startsWith('..')) {
      // Old generations, and any a crash left half-written.
      if (ent !== dataLink && ent !== gen) await rm(join(dir, ent), { recursive: true, force: true });
      continue;
    }
    if (!top.has(ent)) await rm(join(dir, ent), { force: true, recursive: true });
  }
  return true;
}
