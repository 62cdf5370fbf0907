/** Reads the facts of this host that the Node reports (see node-status.ts). */
import { readFile, readdir, statfs } from 'node:fs/promises';
import { arch, cpus, freemem, hostname, release, totalmem } from 'node:os';
import type { HostFacts } from './node-status.js';

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** `MemAvailable` from /proc/meminfo (what kubelet's eviction manager uses), in bytes. */
async function availableMemory(): Promise<number> {
  const info = await readText('/proc/meminfo');
  const m = info ? /^MemAvailable:\s+(\d+) kB$/m.exec(info) : null;
  return m ? Number(m[1]) * 1024 : freemem();
}

async function osImage(): Promise<string> {
  const text = (await readText('/etc/os-release')) ?? '';
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m?.[1] ?? 'Linux';
}

/** Facts of the host, with the disk of `dataDir`. */
export async function readHostFacts(dataDir: string): Promise<HostFacts> {
  const [fs, available, image, machineId, bootId, pidMax, procs] = await Promise.all([
    statfs(dataDir),
    availableMemory(),
    osImage(),
    readText('/etc/machine-id'),
    readText('/proc/sys/kernel/random/boot_id'),
    readText('/proc/sys/kernel/pid_max'),
    readdir('/proc').catch(() => [] as string[]),
  ]);
  return {
    cpus: cpus().length,
    memoryBytes: totalmem(),
    availableMemoryBytes: available,
    diskBytes: fs.blocks * fs.bsize,
    diskFreeBytes: fs.bavail * fs.bsize,
    pidMax: Number(pidMax ?? 0) || 0,
    pidsInUse: procs.filter((p) => /^\d+$/.test(p)).length,
    hostname: hostname(),
    kernelVersion: release(),
    osImage: image,
    machineId: machineId ?? '',
    bootId: bootId ?? '',
    architecture: arch(),
  };
}
