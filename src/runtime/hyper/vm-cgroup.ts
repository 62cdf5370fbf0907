/**
 * Host cgroup for one VM's QEMU process: its vCPU threads may use at most the pod's CPUs
 * (`cpu.max` / `cpu.cfs_quota_us`), and its memory is capped a little above guest RAM plus
 * QEMU's own overhead, so a fork bomb or a memory hog inside the guest burns only its own
 * share of the host. Works on cgroup v2 and on the v1 cpu/memory hierarchies.
 */
import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bestEffort, unlessMissing, type Logger } from '../../lib/index.js';

const root = '/sys/fs/cgroup';
const groupName = 'h8s-hyper';

export interface VmCgroupLimits {
  readonly cpus: number;
  readonly memoryBytes: number;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function dirsFor(
  vmId: string,
): Promise<{ kind: 'v2' | 'v1'; dirs: { cpu?: string; memory?: string } } | undefined> {
  if (await exists(join(root, 'cgroup.controllers'))) {
    return { kind: 'v2', dirs: { cpu: join(root, groupName, vmId), memory: join(root, groupName, vmId) } };
  }
  const cpu = (await exists(join(root, 'cpu', 'cpu.cfs_quota_us')))
    ? join(root, 'cpu', groupName, vmId)
    : undefined;
  const memory = (await exists(join(root, 'memory', 'memory.limit_in_bytes')))
    ? join(root, 'memory', groupName, vmId)
    : undefined;
  if (!cpu && !memory) return undefined;
  return { kind: 'v1', dirs: { ...(cpu ? { cpu } : {}), ...(memory ? { memory } : {}) } };
}

/**
 * Puts `pid` into a per-VM cgroup with the limits. Best effort: a host without writable
 * cgroups still runs VMs (the guest kernel bounds the workload), with a warning.
 */
export async function placeVmInCgroup(
  vmId: string,
  pid: number,
  limits: VmCgroupLimits,
  log: Logger,
): Promise<string | undefined> {
  const found = await dirsFor(vmId);
  if (!found) {
    log.warn('No writable cgroup hierarchy; VM runs without host CPU and memory limits', { vmId });
    return undefined;
  }
  const periodUs = 100_000;
  const quotaUs = Math.max(1000, Math.round(limits.cpus * periodUs));
  try {
    if (found.kind === 'v2') {
      const parent = join(root, groupName);
      // PRIVILEGED: creates /sys/fs/cgroup/h8s-hyper/<vmId> and enables the cpu and memory
      // controllers for it; only QEMU processes of this runtime are placed there, and the limits
      // only ever restrict them.
      await mkdir(parent, { recursive: true });
      // already enabled, or delegated by whoever runs us: the limits below fail loudly if not
      const enable = (dir: string) =>
        bestEffort(
          log,
          `enable cpu and memory in ${dir}`,
          writeFile(join(dir, 'cgroup.subtree_control'), '+cpu +memory'),
        );
      await enable(root);
      await enable(parent);
      const dir = found.dirs.cpu as string;
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
      await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
      // PRIVILEGED: moves the VM's QEMU process into its own cgroup.
      await writeFile(join(dir, 'cgroup.procs'), String(pid));
      return dir;
    }
    if (found.dirs.cpu) {
      // PRIVILEGED: creates <cpu hierarchy>/h8s-hyper/<vmId>, caps its CPU bandwidth and moves
      // QEMU into it (cgroup v1); restricts only this VM.
      await mkdir(found.dirs.cpu, { recursive: true });
      await writeFile(join(found.dirs.cpu, 'cpu.cfs_period_us'), String(periodUs));
      await writeFile(join(found.dirs.cpu, 'cpu.cfs_quota_us'), String(quotaUs));
      await writeFile(join(found.dirs.cpu, 'cgroup.procs'), String(pid));
    }
    if (found.dirs.memory) {
      // PRIVILEGED: same for the memory hierarchy (cgroup v1): a hard cap above guest RAM.
      await mkdir(found.dirs.memory, { recursive: true });
      await writeFile(join(found.dirs.memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      await writeFile(join(found.dirs.memory, 'cgroup.procs'), String(pid));
    }
    return found.dirs.cpu ?? found.dirs.memory;
  } catch (err) {
    log.warn('Cannot place VM in its cgroup; it runs without host limits', { vmId, err: err as Error });
    return undefined;
  }
}

/** Removes the VM's cgroup directories (after QEMU exited). */
export async function removeVmCgroup(vmId: string): Promise<void> {
  const found = await dirsFor(vmId);
  if (!found) return;
  for (const d of new Set(Object.values(found.dirs))) {
    // PRIVILEGED: removes this VM's (empty) cgroup; EBUSY (a process left) is the caller's to report.
    await unlessMissing(rmdir(d));
  }
}

/** The CPU usage (ns) of the VM's cgroup, when known. */
export async function vmCgroupCpuNs(vmId: string): Promise<number | undefined> {
  const found = await dirsFor(vmId);
  if (!found) return undefined;
  try {
    if (found.kind === 'v2') {
      const t = await readFile(join(found.dirs.cpu as string, 'cpu.stat'), 'utf8');
      const m = /usage_usec (\d+)/.exec(t);
      return m ? Number(m[1]) * 1000 : undefined;
    }
    return undefined;
  } catch {
    return undefined;
  }
}
