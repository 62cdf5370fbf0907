/**
 * File volumes of VM pods (ADR 0008): the agent keeps each ConfigMap, Secret, downward-API or
 * projected volume on the node in kubelet's atomic-writer layout (`..data` → a generation
 * directory, visible names → `..data/<name>`); a VM shares no host directory, so the current
 * generation is read here and copied into the guest, which recreates the layout and swaps its
 * own `..data` (guest/agent/podfiles.c). Containers bind the guest copy read-only and see every
 * later generation.
 *
 * Bounds, because the files are a tenant's: regular files and directories only (a symlink in a
 * generation is refused, none is followed out of the volume), at most 4,096 files and 16 MiB per
 * volume, each name at most 250 bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid, unlessMissing } from '../../lib/index.js';

export const podFilesLimits = { maxFiles: 4096, maxBytes: 16 * 1024 * 1024, maxPath: 250 } as const;

/** Bytes of file data per guest message: the base64 of it stays under the 256 KiB frame. */
const chunkBytes = 160 * 1024;

export interface PodFile {
  /** Relative to the generation directory. */
  readonly path: string;
  readonly mode: number;
  readonly data: Buffer;
}

export interface PodFilesGeneration {
  /** The generation directory `..data` points at, or '' for a plain directory. */
  readonly generation: string;
  readonly files: readonly PodFile[];
  /** The visible top-level names. */
  readonly names: readonly string[];
}

/** The guest's id of a host volume directory: stable for one path. */
export function podFilesVolumeId(hostPath: string): string {
  return 'f' + createHash('sha256').update(hostPath).digest('hex').slice(0, 24);
}

function tooMuch(hostPath: string, what: string): Error {
  return invalid(`File volume "${hostPath}" is too large for a VM pod: ${what}`, {
    details: { causes: [{ reason: 'FieldValueTooLong', message: what, field: 'mounts.hostPath' }] },
  });
}

/**
 * Reads the current generation of a volume directory. A directory without `..data` is read as
 * it is (the same bounds apply). @throws Invalid beyond the bounds or for a symlink inside
 */
export async function readPodFiles(hostPath: string): Promise<PodFilesGeneration> {
  let generation = '';
  let root = hostPath;
  const data = await unlessMissing(lstat(join(hostPath, '..data')));
  if (data?.isSymbolicLink()) {
    generation = await readlink(join(hostPath, '..data'));
    if (generation.includes('/') || !generation.startsWith('..')) {
      throw invalid(`File volume "${hostPath}": "..data" must name a generation directory beside it`);
    }
    root = join(hostPath, generation);
  }
  const files: PodFile[] = [];
  let bytes = 0;
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      // the layout's own entries at the top of a plain directory
      if (!rel && e.name.startsWith('..')) continue;
      if (path.length > podFilesLimits.maxPath)
        throw tooMuch(hostPath, `the name "${path.slice(0, 60)}..." is too long`);
      const st = await lstat(join(root, path));
      if (st.isDirectory()) {
        await walk(path);
      } else if (st.isFile()) {
        if (files.length >= podFilesLimits.maxFiles)
          throw tooMuch(hostPath, `more than ${podFilesLimits.maxFiles} files`);
        bytes += st.size;
        if (bytes > podFilesLimits.maxBytes)
          throw tooMuch(hostPath, `more than ${podFilesLimits.maxBytes / 1024 / 1024} MiB`);
        files.push({ path, mode: st.mode & 0o777, data: await readFile(join(root, path)) });
      } else if (generation || !st.isSymbolicLink()) {
        // a plain directory may hold the layout's visible links; a generation holds files only
        throw invalid(`File volume "${hostPath}": "${path}" is not a regular file or directory`);
      }
    }
  };
  await walk('');
  const names = [...new Set(files.map((f) => f.path.split('/')[0] as string))];
  return { generation, files, names };
}

/** The guest side: a request on the agent connection. */
export type GuestRequest = (op: string, body: Record<string, unknown>) => Promise<unknown>;

/**
 * Copies one generation into the guest as a new guest generation and makes it current there.
 * Each send gets a fresh generation id, so a repeated send never rewrites the live copy.
 */
export async function sendPodFiles(
  request: GuestRequest,
  volume: string,
  gen: PodFilesGeneration,
): Promise<void> {
  const generation = randomBytes(6).toString('hex');
  for (const f of gen.files) {
    let offset = 0;
    do {
      const part = f.data.subarray(offset, offset + chunkBytes);
      await request('writeFiles', {
        volume,
        generation,
        path: f.path,
        mode: f.mode,
        data: part.toString('base64'),
        append: offset > 0,
      });
      offset += part.length;
    } while (offset < f.data.length);
  }
  await request('commitFiles', { volume, generation, names: gen.names });
}
