/**
 * What the runc handler needs from the host's cgroups beyond what runc does itself: which
 * version the host runs (v2 unified, or v1/hybrid as on this build machine), whether a
 * container's memory cgroup OOM-killed something, and removing a pod's cgroup directories.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { unlessMissing } from '../../lib/index.js';

const cgroupRoot = '/sys/fs/cgroup';

export type CgroupVersion = 1 | 2;

export async function detectCgroupVersion(): Promise<CgroupVersion> {
  try {
    await stat(join(cgroupRoot, 'cgroup.controllers'));
    return 2;
  } catch {
    return 1;
  }
}

/** Number of OOM kills recorded for a container's cgroup (0 when unknown). */
export async function readOomKills(cgroupsPath: string, version: CgroupVersion): Promise<number> {
  const file =
    version === 2
      ? join(cgroupRoot, cgroupsPath, 'memory.events')
      : join(cgroupRoot, 'memory', cgroupsPath, 'memory.oom_control');
  try {
    const text = await readFile(file, 'utf8');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The directories that hold `cgroupsPath` in every hierarchy (one on v2). */
async function hierarchyDirs(cgroupsPath: string, version: CgroupVersion): Promise<string[]> {
  if (version === 2) return [join(cgroupRoot, cgroupsPath)];
  const out: string[] = [];
  for (const name of (await unlessMissing(readdir(cgroupRoot))) ?? []) {
    out.push(join(cgroupRoot, name, cgroupsPath));
  }
  return out;
}

async function removeDirTree(dir: string): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeDirTree(join(dir, e.name));
  // PRIVILEGED: removes an (empty) cgroup the runtime created for one of its pods; one that
  // still holds a process (EBUSY) is the caller's to report.
  await unlessMissing(rmdir(dir));
}

/** Removes a cgroup subtree (children first) in every hierarchy; cgroups still in use stay. */
export async function removeCgroupTree(cgroupsPath: string, version: CgroupVersion): Promise<void> {
  if (cgroupsPath === '' || cgroupsPath === '/') return;
  for (const dir of await hierarchyDirs(cgroupsPath, version)) await removeDirTree(dir);
}
