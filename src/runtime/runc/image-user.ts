/**
 * Resolves the user a container process runs as (uid, gid, supplementary groups, home) from a
 * CRI security context and the image's `USER`, reading the image's /etc/passwd and /etc/group
 * the way Docker does.
 *
 * The files are read on the host, from the image's layers (before the container's root is
 * mounted) or from its mounted root (for an exec), so a hostile image must not be able to
 * point them elsewhere: /etc must be a real directory and the files are opened with
 * O_NOFOLLOW (a symlinked passwd file counts as absent). Reads are capped at 1 MiB.
 */
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid, unlessMissing } from '../../lib/index.js';

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
  readonly home: string;
}

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

const maxFileBytes = 1024 * 1024;

/** Where the image's files are: a mounted root, or its layer directories (lowest first). */
export type ImageFiles = { readonly rootfs: string } | { readonly layers: readonly string[] };

async function readRegularFile(path: string): Promise<string | undefined> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(st.size, maxFileBytes));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** A whiteout in an unpacked overlayfs layer: a character device 0:0. */
const isWhiteout = (st: { isCharacterDevice(): boolean; rdev: number }): boolean =>
  st.isCharacterDevice() && st.rdev === 0;

async function readImageFile(files: ImageFiles, name: 'passwd' | 'group'): Promise<string | undefined> {
  try {
    if ('rootfs' in files) {
      const etc = await lstat(join(files.rootfs, 'etc'));
      if (!etc.isDirectory()) return undefined;
      return await readRegularFile(join(files.rootfs, 'etc', name));
    }
    // the topmost layer that has /etc/<name> (or deletes it) decides, as overlayfs would
    for (const layer of [...files.layers].reverse()) {
      const etc = await unlessMissing(lstat(join(layer, 'etc')));
      if (!etc) continue;
      if (!etc.isDirectory()) return undefined; // deleted or replaced by a non-directory
      const st = await unlessMissing(lstat(join(layer, 'etc', name)));
      if (!st) continue;
      if (isWhiteout(st) || !st.isFile()) return undefined;
      return await readRegularFile(join(layer, 'etc', name));
    }
    return undefined;
  } catch {
    return undefined;
  }
}

const isId = (s: string): boolean => /^\d{1,10}$/.test(s) && Number(s) <= 4_294_967_294;

function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !f[0] || !isId(f[2] ?? '') || !isId(f[3] ?? '')) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !f[0] || !isId(f[2] ?? '')) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter((m) => m !== '') });
  }
  return out;
}

export interface UserRequest {
  /** CRI runAsUser: wins over everything else. */
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  /** CRI runAsUsername (or an exec's `user`), used when runAsUser is absent. */
  readonly username?: string;
  readonly supplementalGroups?: readonly number[];
  /** The image config's USER (`name`, `uid`, `name:group`, `uid:gid`); '' = root. */
  readonly imageUser: string;
}

/**
 * The user to run as.
 * @throws Invalid when a user or group name is not in the image's files.
 */
export async function resolveUser(files: ImageFiles, req: UserRequest): Promise<ResolvedUser> {
  const passwd = parsePasswd(await readImageFile(files, 'passwd'));
  const groups = parseGroup(await readImageFile(files, 'group'));
  let spec: string;
  if (req.runAsUser !== undefined) spec = String(req.runAsUser);
  else if (req.username !== undefined && req.username !== '') spec = req.username;
  else spec = req.imageUser;
  const [userPart = '', groupPart] = spec.split(':', 2);

  let uid = 0;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  if (userPart === '') {
    const root = passwd.find((p) => p.uid === 0);
    home = root?.home ?? '/root';
    name = root?.name;
  } else if (isId(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    if (entry) {
      gid = entry.gid;
      home = entry.home;
      name = entry.name;
    }
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) {
      throw invalid(`Cannot run as user "${userPart}": no such user in the image's /etc/passwd`, {
        details: {
          causes: [
            {
              reason: 'FieldValueInvalid',
              message: `User "${userPart}" not found`,
              field: 'security.runAsUsername',
            },
          ],
        },
      });
    }
    uid = entry.uid;
    gid = entry.gid;
    home = entry.home;
    name = entry.name;
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (isId(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw invalid(`Cannot run as group "${groupPart}": no such group in the image's /etc/group`);
      gid = g.gid;
    }
  }
  if (req.runAsGroup !== undefined) gid = req.runAsGroup;
  const extra = new Set<number>();
  if (name !== undefined) {
    for (const g of groups) if (g.members.includes(name) && g.gid !== gid) extra.add(g.gid);
  }
  for (const g of req.supplementalGroups ?? []) if (g !== gid) extra.add(g);
  return { uid, gid, additionalGids: [...extra].sort((a, b) => a - b), home };
}
