/**
 * Applies a layer (a tar stream) to a directory, safely.
 *
 * Two modes:
 * - `overlay`: the layer alone into an empty directory, whiteouts converted to overlayfs form
 *   (a 0/0 character device for `.wh.<name>`, the `trusted.overlay.opaque=y` xattr for
 *   `.wh..wh..opq`), so the directory can be an overlayfs lowerdir as is.
 * - `merge`: on top of the layers below, in one tree: a whiteout deletes what it names and an
 *   opaque marker empties its directory of everything the lower layers put there.
 *
 * Safety (the layer is hostile): entry names are cleaned; absolute names and `..` are refused;
 * parent directories are walked component by component with lstat, following only symlinks
 * that stay inside the root (an absolute target is taken relative to the root, as inside the
 * container) and refusing any that climb out; the final component is never followed (an
 * existing entry is removed and the new one created with O_EXCL/O_NOFOLLOW semantics); hard
 * links must name an existing non-directory inside the root. Device nodes other than whiteouts
 * are skipped by default (a node on the host filesystem would reach host devices);
 * `trusted.*` and `*.overlay.*` xattrs from the layer are dropped so a layer cannot steer
 * overlayfs. Work that needs a program (mknod, mkfifo, setfattr) is batched per layer and
 * re-validated just before it runs.
 *
 * Size (the layer may inflate without end): with a `budget`, every entry is charged from its
 * header before anything of it is written, and the unpack stops with RequestEntityTooLarge once
 * the image passes its limits (unpack-budget.ts); the caller removes the partial tree.
 *
 * Speed: metadata calls and small files use synchronous fs calls (microseconds each, no
 * thread-pool round trip per call, which dominated unpacking many small files on a loaded
 * host); the event loop still turns between tar chunks (the pool runs this in a worker
 * thread). A new file is created with its final permission bits and gets no chown or chmod
 * when creation already left it right (owner is ours and no setgid parent, no setuid/setgid/
 * sticky bits, nothing masked by the umask): a small file costs open, write, futimes, close.
 * Nothing is fsynced here: the caller publishes the tree by a rename and syncs the
 * filesystem once (see layer-tree-cache.ts).
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { execFile, invalid, type Logger } from '../lib/index.js';
import { BudgetAccount, type UnpackBudget } from './unpack-budget.js';
import {
  readTar,
  type TarEntry,
  type TarHeader,
  type TarReaderLimits,
  type TarSource,
} from './tar-format.js';

export type UnpackMode = 'overlay' | 'merge';
export type DeviceNodePolicy = 'skip' | 'create';

export interface UnpackOptions {
  readonly mode: UnpackMode;
  readonly deviceNodes?: DeviceNodePolicy;
  readonly log: Logger;
  readonly signal?: AbortSignal | undefined;
  readonly limits?: TarReaderLimits;
  /** Describes the layer in errors, e.g. `layer "sha256:…" of "busybox"`. */
  readonly what?: string;
  /**
   * The image's limits on unpacked content (unpack-budget.ts): every entry is charged before
   * it is written; past a limit the unpack stops with RequestEntityTooLarge.
   */
  readonly budget?: UnpackBudget | undefined;
}

export interface UnpackStats {
  readonly entries: number;
  readonly files: number;
  readonly dirs: number;
  readonly symlinks: number;
  readonly hardlinks: number;
  readonly whiteouts: number;
  readonly skippedDevices: number;
  /** Sum of regular file sizes. */
  readonly bytes: number;
  /** Estimate of filesystem blocks (4 KiB) the tree needs, for sizing disk images. */
  readonly blocks4k: number;
}

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';
const smallFileBytes = 256 * 1024;
const maxSymlinkHops = 40;

/** Cleans a tar name into path components, refusing absolute names and `..`. */
export function cleanEntryName(name: string, what: string): string[] {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  if (n.startsWith('/'))
    throw invalid(`Refusing ${what}: entry "${name.slice(0, 300)}" has an absolute path`);
  const parts = n.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`Refusing ${what}: entry "${name.slice(0, 300)}" contains ".."`);
  for (const p of parts)
    if (p.includes('\0')) throw invalid(`Refusing ${what}: entry name contains a NUL byte`);
  return parts;
}

interface Deferred {
  /** Path components relative to the root. */
  readonly parts: readonly string[];
  readonly header: TarHeader;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

const createFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** This process's umask, from /proc (reading it through process.umask() is deprecated); 0o777 if unknown. */
const processUmask: number = (() => {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? parseInt(m[1]!, 8) : 0o777;
  } catch {
    return 0o777;
  }
})();
const sIsgid = 0o2000;
const euid = process.geteuid?.() ?? -1;
const egid = process.getegid?.() ?? -1;

function errCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : undefined;
}

/**
 * Unpacks one layer from `source` into `root` (which must exist).
 * @throws Invalid for a malicious or malformed layer, with the entry named
 */
export async function unpackLayer(
  source: TarSource,
  root: string,
  options: UnpackOptions,
): Promise<UnpackStats> {
  const u = new Unpacker(root, options);
  return u.run(source);
}

class Unpacker {
  readonly #root: string;
  readonly #opts: UnpackOptions;
  readonly #what: string;
  /** Absolute paths known to be real directories (not symlinks) right now. */
  readonly #dirs = new Set<string>();
  /** Directories this run created (nothing was in them before it). */
  readonly #fresh = new Set<string>();
  /** Paths (relative, joined) this layer has created, for opaque handling in merge mode. */
  readonly #created = new Set<string>();
  readonly #dirTimes: { abs: string; mtimeMs: number }[] = [];
  readonly #nodes: Deferred[] = [];
  readonly #xattrs: { parts: readonly string[]; name: string; value: Buffer }[] = [];
  readonly #opaques: string[][] = [];
  /** Directories (absolute) with the setgid bit: what is created in them takes their group. */
  readonly #sgid = new Set<string>();
  #canChown = true;
  readonly #account: BudgetAccount | undefined;
  #stats = {
    entries: 0,
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    whiteouts: 0,
    skippedDevices: 0,
    bytes: 0,
    blocks4k: 1,
  };

  constructor(root: string, opts: UnpackOptions) {
    this.#root = root;
    this.#opts = opts;
    this.#what = opts.what ?? 'layer';
    this.#account = opts.budget ? new BudgetAccount(opts.budget, this.#what) : undefined;
    this.#dirs.add(root);
    if ((lstatSync(root).mode & sIsgid) !== 0) this.#sgid.add(root);
    // An overlay layer directory starts empty; a merge target may already hold lower layers.
    if (opts.mode === 'overlay' && readdirSync(root).length === 0) this.#fresh.add(root);
  }

  async run(source: TarSource): Promise<UnpackStats> {
    try {
      for await (const entry of readTar(source, this.#opts.limits)) {
        this.#opts.signal?.throwIfAborted();
        // Charged from the header, before anything of the entry is written: a file that would
        // pass the image's limit is never started.
        this.#account?.charge(entry.header.size);
        this.#stats.entries++;
        await this.#entry(entry);
      }
      await this.#finish();
    } catch (err) {
      // the caller removes the partial tree: what it held no longer counts
      this.#account?.refund();
      throw err;
    }
    return { ...this.#stats };
  }

  #abs(parts: readonly string[]): string {
    return parts.length === 0 ? this.#root : join(this.#root, ...parts);
  }

  /**
   * Resolves directory components inside the root, following in-root symlinks, creating
   * missing directories when `create`. Returns the components of the real directory.
   */
  async #resolveDir(
    parts: readonly string[],
    create: boolean,
    entryName: string,
  ): Promise<string[] | undefined> {
    const cur: string[] = [];
    const queue = [...parts];
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (cur.length === 0) {
          throw invalid(
            `Refusing ${this.#what}: entry "${entryName.slice(0, 300)}" would be written through a symlink that points outside the root`,
          );
        }
        cur.pop();
        continue;
      }
      const abs = join(this.#root, ...cur, c);
      if (this.#dirs.has(abs)) {
        cur.push(c);
        continue;
      }
      const st = lstatOrUndefined(abs);
      if (!st) {
        if (!create) return undefined;
        mkdirSync(abs, { mode: 0o755 });
        if (this.#sgid.has(dirname(abs))) this.#sgid.add(abs); // inherited
        this.#dirs.add(abs);
        this.#fresh.add(abs);
        this.#created.add([...cur, c].join('/'));
        this.#stats.dirs++;
        this.#stats.blocks4k++;
        cur.push(c);
        continue;
      }
      if (st.isDirectory()) {
        this.#dirs.add(abs);
        if ((st.mode & sIsgid) !== 0) this.#sgid.add(abs);
        cur.push(c);
      } else if (st.isSymbolicLink()) {
        if (++hops > maxSymlinkHops)
          throw invalid(
            `Refusing ${this.#what}: too many levels of symlinks under entry "${entryName.slice(0, 300)}"`,
          );
        const target = readlinkSync(abs);
        if (target.startsWith('/')) cur.length = 0; // absolute targets mean the image's root
        queue.unshift(...target.split('/'));
      } else {
        if (!create) return undefined;
        throw invalid(
          `Refusing ${this.#what}: entry "${entryName.slice(0, 300)}" needs "${[...cur, c].join('/')}" to be a directory, but it is a file`,
        );
      }
    }
    return cur;
  }

  /** Forgets cached directories at or under `abs` (it is being replaced). */
  #forget(abs: string): void {
    this.#dirs.delete(abs);
    const prefix = abs + '/';
    for (const d of this.#dirs) if (d.startsWith(prefix)) this.#dirs.delete(d);
  }

  /** Removes whatever is at `abs` unless it is a directory and `keepDir`. Returns true if a dir was kept. */
  #clear(abs: string, keepDir: boolean, knownAbsent = false): boolean {
    if (knownAbsent) return false;
    const st = lstatOrUndefined(abs);
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      this.#forget(abs);
      rmSync(abs, { recursive: true, force: true });
      return false;
    }
    unlinkSync(abs);
    return false;
  }

  async #entry(entry: TarEntry): Promise<void> {
    const h = entry.header;
    const parts = cleanEntryName(h.name, this.#what);
    if (parts.length === 0) {
      // the root itself ("./"): take its attributes
      if (h.type === 'directory') {
        this.#attrs(this.#root, h, false);
        this.#dirTimes.push({ abs: this.#root, mtimeMs: h.mtimeMs });
      }
      return;
    }
    const base = parts[parts.length - 1]!;
    const parentParts = parts.slice(0, -1);

    if (base.startsWith(whiteoutPrefix)) {
      await this.#whiteout(parentParts, base, h);
      return;
    }

    const parent = (await this.#resolveDir(parentParts, true, h.name))!;
    const rel = [...parent, base];
    const abs = this.#abs(rel);
    const key = rel.join('/');
    // Nothing can be there yet if this run created the parent and not this path.
    const absent = this.#fresh.has(dirname(abs)) && !this.#created.has(key);
    this.#created.add(key);

    switch (h.type) {
      case 'directory': {
        const kept = this.#clear(abs, true, absent);
        if (!kept) {
          mkdirSync(abs, { mode: h.mode & 0o777 });
          this.#fresh.add(abs);
          this.#stats.dirs++;
          this.#stats.blocks4k++;
        }
        this.#dirs.add(abs);
        // chown and chmod unless creation left it right; either way its setgid bit is h's now
        if (kept || !this.#createdRight(abs, h)) this.#attrs(abs, h, false);
        if ((h.mode & sIsgid) !== 0) this.#sgid.add(abs);
        else this.#sgid.delete(abs);
        this.#dirTimes.push({ abs, mtimeMs: h.mtimeMs });
        break;
      }
      case 'file': {
        this.#clear(abs, false, absent);
        const right = this.#createdRight(abs, h);
        if (h.size <= smallFileBytes) {
          const data = await entry.readAll();
          const fd = openSync(abs, createFlags, h.mode & 0o777);
          try {
            for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
            this.#fdAttrs(fd, h, right);
          } finally {
            closeSync(fd);
          }
        } else {
          // Synchronous writes into the page cache take microseconds; the loop still turns
          // between chunks of the tar stream.
          const fd = openSync(abs, createFlags, h.mode & 0o777);
          try {
            for await (const c of entry.body) {
              for (let off = 0; off < c.length;) off += writeSync(fd, c, off, c.length - off);
            }
            this.#fdAttrs(fd, h, right);
          } finally {
            closeSync(fd);
          }
        }
        this.#stats.files++;
        this.#stats.bytes += h.size;
        this.#stats.blocks4k += Math.ceil(h.size / 4096);
        break;
      }
      case 'symlink': {
        if (h.linkname === '')
          throw invalid(`Refusing ${this.#what}: symlink "${h.name.slice(0, 300)}" has an empty target`);
        this.#clear(abs, false, absent);
        this.#forget(abs);
        symlinkSync(h.linkname, abs);
        this.#stats.symlinks++;
        if (Buffer.byteLength(h.linkname) > 60) this.#stats.blocks4k++;
        if (!this.#ownedRight(abs, h)) this.#owner(abs, h);
        try {
          lutimesSync(abs, h.mtimeMs / 1000, h.mtimeMs / 1000);
        } catch {
          // times on a symlink are cosmetic
        }
        break;
      }
      case 'hardlink': {
        const targetParts = cleanEntryName(h.linkname, this.#what);
        if (targetParts.length === 0)
          throw invalid(`Refusing ${this.#what}: hard link "${h.name.slice(0, 300)}" points at the root`);
        const tParent = await this.#resolveDir(targetParts.slice(0, -1), false, h.linkname);
        const tAbs =
          tParent === undefined ? undefined : this.#abs([...tParent, targetParts[targetParts.length - 1]!]);
        const tst = tAbs === undefined ? undefined : lstatOrUndefined(tAbs);
        if (!tst || !tAbs) {
          throw invalid(
            `Refusing ${this.#what}: hard link "${h.name.slice(0, 300)}" points at "${h.linkname.slice(0, 300)}", which is not in the layer`,
          );
        }
        if (tst.isDirectory())
          throw invalid(`Refusing ${this.#what}: hard link "${h.name.slice(0, 300)}" points at a directory`);
        if (tAbs === abs) break;
        this.#clear(abs, false, absent);
        linkSync(tAbs, abs);
        this.#stats.hardlinks++;
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        if (h.type !== 'fifo' && (this.#opts.deviceNodes ?? 'skip') === 'skip') {
          this.#stats.skippedDevices++;
          this.#opts.log.debug('Skipped device node in layer', { entry: h.name.slice(0, 300), type: h.type });
          break;
        }
        this.#clear(abs, false, absent);
        this.#nodes.push({ parts: rel, header: h });
        break;
      }
    }
    this.#collectXattrs(rel, h);
  }

  #collectXattrs(rel: readonly string[], h: TarHeader): void {
    for (const [name, value] of h.xattrs) {
      if (
        name.startsWith('trusted.') ||
        name.includes('.overlay.') ||
        !(name.startsWith('user.') || name.startsWith('security.'))
      ) {
        this.#opts.log.debug('Dropped xattr from layer', {
          entry: h.name.slice(0, 300),
          xattr: name.slice(0, 100),
        });
        continue;
      }
      this.#xattrs.push({ parts: rel, name, value });
    }
  }

  async #whiteout(parentParts: readonly string[], base: string, h: TarHeader): Promise<void> {
    this.#stats.whiteouts++;
    if (this.#opts.mode === 'overlay') {
      const parent = (await this.#resolveDir(parentParts, true, h.name))!;
      if (base === opaqueMarker) {
        this.#opaques.push(parent);
        return;
      }
      if (base.startsWith(whiteoutPrefix + whiteoutPrefix)) return; // other AUFS metadata
      const name = base.slice(whiteoutPrefix.length);
      if (name === '' || name === '.' || name === '..')
        throw invalid(`Refusing ${this.#what}: bad whiteout "${h.name.slice(0, 300)}"`);
      const rel = [...parent, name];
      this.#clear(this.#abs(rel), false);
      this.#created.add(rel.join('/'));
      this.#nodes.push({
        parts: rel,
        header: { ...h, type: 'char', devmajor: 0, devminor: 0, mode: 0, uid: 0, gid: 0 },
      });
      return;
    }
    // merge mode: delete from the lower layers
    const parent = await this.#resolveDir(parentParts, false, h.name);
    if (parent === undefined) return; // nothing below to hide
    if (base === opaqueMarker) {
      this.#emptyExceptCreated(parent);
      return;
    }
    if (base.startsWith(whiteoutPrefix + whiteoutPrefix)) return;
    const name = base.slice(whiteoutPrefix.length);
    if (name === '' || name === '.' || name === '..')
      throw invalid(`Refusing ${this.#what}: bad whiteout "${h.name.slice(0, 300)}"`);
    this.#clear(this.#abs([...parent, name]), false);
  }

  /** Opaque directory in merge mode: remove what lower layers put there, keep this layer's. */
  #emptyExceptCreated(dirParts: readonly string[]): void {
    const abs = this.#abs(dirParts);
    for (const name of readdirSync(abs)) {
      const rel = [...dirParts, name];
      const key = rel.join('/');
      if (!this.#created.has(key)) {
        this.#clear(this.#abs(rel), false);
        continue;
      }
      const st = lstatSync(this.#abs(rel));
      if (st.isDirectory()) this.#emptyExceptCreated(rel);
    }
  }

  #owner(abs: string, h: TarHeader): void {
    if (!this.#canChown) return;
    try {
      // PRIVILEGED: sets file ownership inside the layer's own directory under the image store
      // (root-only, mode 0700); the path was resolved without following symlinks out of it.
      lchownSync(abs, h.uid, h.gid);
    } catch (err) {
      this.#chownFailed(err);
    }
  }

  #chownFailed(err: unknown): void {
    if (errCode(err) === 'EPERM') {
      this.#canChown = false;
      this.#opts.log.warn('Cannot preserve file ownership in image layers (not running as root)', {});
      return;
    }
    throw err;
  }

  #attrs(abs: string, h: TarHeader, setTimes: boolean): void {
    this.#owner(abs, h);
    // chmod after chown: chown clears setuid/setgid bits
    chmodSync(abs, h.mode & 0o7777);
    if (setTimes) lutimesSync(abs, h.mtimeMs / 1000, h.mtimeMs / 1000);
  }

  /** Whether a new entry at `abs` gets `h`'s owner by being created (we are that user, no setgid parent). */
  #ownedRight(abs: string, h: TarHeader): boolean {
    return !this.#canChown || (h.uid === euid && h.gid === egid && !this.#sgid.has(dirname(abs)));
  }

  /**
   * Whether creating `abs` with mode `h.mode & 0o777` leaves it exactly as `h` says, so no
   * chown or chmod is needed: owner as above, no setuid/setgid/sticky bits, nothing masked.
   */
  #createdRight(abs: string, h: TarHeader): boolean {
    return (h.mode & 0o7000) === 0 && (h.mode & processUmask) === 0 && this.#ownedRight(abs, h);
  }

  /** Ownership, mode and times of a regular file through its open descriptor (no path lookup). */
  #fdAttrs(fd: number, h: TarHeader, createdRight: boolean): void {
    if (createdRight) {
      futimesSync(fd, h.mtimeMs / 1000, h.mtimeMs / 1000);
      return;
    }
    if (this.#canChown) {
      try {
        // PRIVILEGED: ownership of a file this unpack just created inside the layer directory.
        fchownSync(fd, h.uid, h.gid);
      } catch (err) {
        this.#chownFailed(err);
      }
    }
    fchmodSync(fd, h.mode & 0o7777);
    futimesSync(fd, h.mtimeMs / 1000, h.mtimeMs / 1000);
  }

  /** Whether every ancestor of `parts` is still a real directory (nothing swapped in a symlink). */
  async #stillSafe(parts: readonly string[]): Promise<boolean> {
    for (let i = 1; i < parts.length; i++) {
      const abs = this.#abs(parts.slice(0, i));
      if (this.#dirs.has(abs)) continue;
      const st = lstatOrUndefined(abs);
      if (!st?.isDirectory()) return false;
      this.#dirs.add(abs);
    }
    return true;
  }

  async #finish(): Promise<void> {
    const signal = this.#opts.signal;
    // Device nodes, whiteouts and fifos: one `sh` for many (argv only, never a string built from data).
    const nodes: Deferred[] = [];
    for (const n of this.#nodes) if (await this.#stillSafe(n.parts)) nodes.push(n);
    for (let i = 0; i < nodes.length; i += 500) {
      const batch = nodes.slice(i, i + 500);
      const args: string[] = [];
      for (const n of batch) {
        const t = n.header.type === 'fifo' ? 'p' : n.header.type === 'block' ? 'b' : 'c';
        args.push(n.parts.join('/'), t, String(n.header.devmajor), String(n.header.devminor));
      }
      // PRIVILEGED: creates device nodes (overlayfs whiteouts are 0/0 char devices; real devices only
      // with deviceNodes: 'create') inside the layer directory, which is root-only (0700) on the host.
      await execFile(
        [
          '/bin/sh',
          '-c',
          'set -e; while [ $# -gt 0 ]; do if [ "$2" = p ]; then mkfifo -- "$1"; else mknod -- "$1" "$2" "$3" "$4"; fi; shift 4; done',
          'h8s-mknod',
          ...args,
        ],
        { cwd: this.#root, timeoutMs: 120_000, ...(signal ? { signal } : {}) },
      );
    }
    for (const n of nodes) {
      const abs = this.#abs(n.parts);
      this.#owner(abs, n.header);
      if (
        n.header.type !== 'char' ||
        n.header.devmajor !== 0 ||
        n.header.devminor !== 0 ||
        n.header.mode !== 0
      )
        chmodSync(abs, n.header.mode & 0o7777);
    }
    if (this.#opts.mode === 'overlay')
      for (const o of this.#opaques)
        this.#xattrs.push({ parts: o, name: 'trusted.overlay.opaque', value: Buffer.from('y') });
    if (this.#xattrs.length > 0) {
      const lines: string[] = [];
      for (const x of this.#xattrs) {
        if (x.parts.length > 0 && !(await this.#stillSafe(x.parts))) continue;
        lines.push(
          `# file: ${x.parts.length === 0 ? '.' : escapeAttrPath(x.parts.join('/'))}`,
          `${x.name}=0s${x.value.toString('base64')}`,
          '',
        );
      }
      // setfattr -h never follows a final symlink; --restore reads the getfattr dump format.
      const r = await execFile(['setfattr', '-h', '--restore=-'], {
        cwd: this.#root,
        input: lines.join('\n'),
        check: false,
        timeoutMs: 120_000,
        ...(signal ? { signal } : {}),
      });
      if (r.exitCode !== 0) {
        throw invalid(`Cannot set extended attributes of ${this.#what}: ${r.stderr.trim().slice(0, 500)}`);
      }
    }
    // Directory times last: creating children changed them.
    for (let i = this.#dirTimes.length - 1; i >= 0; i--) {
      const d = this.#dirTimes[i]!;
      try {
        lutimesSync(d.abs, d.mtimeMs / 1000, d.mtimeMs / 1000);
      } catch {
        // removed by a later entry
      }
    }
  }
}

/** Escapes a path the way getfattr does, so `setfattr --restore` reads it back. */
function escapeAttrPath(p: string): string {
  let out = '';
  for (const b of Buffer.from(p)) {
    if (b < 0x21 || b >= 0x7f || b === 0x5c) out += '\\' + b.toString(8).padStart(3, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}
