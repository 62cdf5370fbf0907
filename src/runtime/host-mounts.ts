/**
 * Host mount helpers shared by the daemon core and its handlers: reading the mount table,
 * unmounting everything below a directory before it is removed, and removing a state
 * directory safely.
 *
 * `removeTreeSafely` exists because a recursive delete walks into mount points: a bind-mounted
 * volume left under a sandbox's state directory would lose the user's data. It unmounts first
 * and refuses to delete while anything is still mounted below.
 *
 * Each function that runs `umount` takes the `Exec` to run it with (tests inject a fake).
 */
import { readFile, rm } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { internal, systemExec, type Exec } from '../lib/index.js';

/** Mount points from /proc/self/mountinfo (octal escapes decoded). */
export async function listMountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const mp = f[4];
    if (mp) out.push(mp.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Whether `path` is itself a mount point. */
export async function isMountPoint(path: string): Promise<boolean> {
  const p = resolve(path);
  return (await listMountPoints()).includes(p);
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const base = resolve(dir);
  const all = await listMountPoints();
  const under = [...new Set(all.filter((m) => m === base || m.startsWith(base + sep)))];
  return under.sort((a, b) => b.split(sep).length - a.split(sep).length || b.length - a.length);
}

/** Unmounts `path`; a busy mount is detached lazily. No error when it is not mounted. */
export async function unmount(path: string, exec: Exec = systemExec): Promise<void> {
  // PRIVILEGED: unmounts a mount the runtime made under its own state directory.
  const r = await exec.execFile(['umount', path], { check: false, timeoutMs: 30_000 });
  if (r.exitCode === 0 || !(await isMountPoint(path))) return;
  // PRIVILEGED: lazy unmount of the same mount when a process still holds it busy.
  await exec.execFile(['umount', '-l', path], { check: false, timeoutMs: 30_000 });
}

/** Unmounts everything at or below `dir` (repeated for stacked mounts). */
export async function unmountAll(dir: string, exec: Exec = systemExec): Promise<void> {
  for (let round = 0; round < 8; round++) {
    const mounts = await mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const m of mounts) await unmount(m, exec);
  }
  const left = await mountsUnder(dir);
  if (left.length)
    throw internal(`Cannot unmount ${left.length} mount(s) under "${dir}": ${left.join(', ')}`);
}

/** Unmounts what is below `dir`, then deletes it. @throws InternalError if mounts remain */
export async function removeTreeSafely(dir: string, exec: Exec = systemExec): Promise<void> {
  await unmountAll(dir, exec);
  await rm(dir, { recursive: true, force: true });
}
