/**
 * Per-container qcow2 overlays made by copying a template (docs/hyper-runtime.md "Pod start").
 *
 * A fresh overlay over an image's read-only disk is always the same ~200 KiB file: a qcow2
 * header naming the backing file, an empty L1 table and refcounts. `qemu-img create` costs a
 * process start (tens of ms, far more on a loaded host) on the path of every container start;
 * copying a template made once per backing disk costs a millisecond. The template is keyed by
 * the backing file's path, size, inode and mtime, so a replaced image gets a new template.
 *
 * Invariant: a template is never attached to a VM; it is written to a temporary name and
 * renamed, so a reader never sees half of one. At most `maxTemplates` are kept.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemExec, unlessMissing, type Exec } from '../../lib/index.js';

export class OverlayTemplates {
  readonly #dir: string;
  readonly #maxTemplates: number;
  readonly #making = new Map<string, Promise<string>>();
  readonly #exec: Exec;

  constructor(dir: string, maxTemplates = 64, exec: Exec = systemExec) {
    this.#dir = dir;
    this.#maxTemplates = maxTemplates;
    this.#exec = exec;
  }

  /**
   * Writes a new qcow2 overlay at `overlay` whose backing file is the raw disk `backing`.
   * @throws what qemu-img or the file system throws
   */
  async create(backing: string, overlay: string): Promise<void> {
    const st = await stat(backing);
    const key = createHash('sha256')
      .update(`${backing}\0${st.size}\0${st.ino}\0${st.dev}\0${st.mtimeMs}`)
      .digest('hex')
      .slice(0, 32);
    let made = this.#making.get(key);
    if (!made) {
      made = this.#template(key, backing);
      this.#making.set(key, made);
      made.catch(() => this.#making.delete(key));
    }
    await copyFile(await made, overlay);
  }

  async #template(key: string, backing: string): Promise<string> {
    const path = join(this.#dir, `${key}.qcow2`);
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      return path;
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.#dir, `.${key}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await this.#exec.execFile(
        ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', backing, tmp],
        {
          timeoutMs: 30_000,
        },
      );
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
    await this.#trim(path);
    return path;
  }

  /** Keeps the newest `maxTemplates` templates. */
  async #trim(keep: string): Promise<void> {
    const names = ((await unlessMissing(readdir(this.#dir))) ?? []).filter((n) => n.endsWith('.qcow2'));
    if (names.length <= this.#maxTemplates) return;
    const withTimes = await Promise.all(
      names.map(async (n) => ({
        path: join(this.#dir, n),
        t: (await unlessMissing(stat(join(this.#dir, n))))?.mtimeMs ?? 0,
      })),
    );
    withTimes.sort((a, b) => a.t - b.t);
    for (const f of withTimes.slice(0, withTimes.length - this.#maxTemplates)) {
      if (f.path === keep) continue;
      this.#making.clear();
      await rm(f.path, { force: true });
    }
  }
}
