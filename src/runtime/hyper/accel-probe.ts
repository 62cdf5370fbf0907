/**
 * Chooses KVM or TCG with a bounded probe boot: boot the real guest kernel and initramfs with
 * `-accel kvm`, wait a few seconds for the agent's HELLO, kill the VM. Some hosts expose a
 * /dev/kvm that cannot run a stock kernel (e.g. PVM-only hosts, where the guest hangs), so
 * the mere presence of /dev/kvm proves nothing. The result is cached per guest build.
 */
import { access, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bestEffort, describeError, type Logger } from '../../lib/index.js';
import { AgentConnection } from './agent-connection.js';
import { QemuVm, type Accel } from './qemu-vm.js';

export interface AccelChoice {
  readonly accel: Accel;
  /** Why this accelerator (shown by `hyperctl info`). */
  readonly reason: string;
}

export interface AccelProbeOptions {
  readonly cacheFile: string;
  /** Scratch directory for the probe VM (short path: unix sockets). */
  readonly workDir: string;
  readonly cacheKey: string;
  readonly qemuBinary: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelArgs: readonly string[];
  readonly timeoutMs: number;
  readonly log: Logger;
}

export async function probeAccel(o: AccelProbeOptions): Promise<AccelChoice> {
  try {
    const cached = JSON.parse(await readFile(o.cacheFile, 'utf8')) as {
      key?: string;
      accel?: string;
      reason?: string;
    };
    if (cached.key === o.cacheKey && (cached.accel === 'kvm' || cached.accel === 'tcg')) {
      return { accel: cached.accel, reason: String(cached.reason ?? 'cached probe result') };
    }
  } catch {
    // no cache yet
  }
  const choice = await runProbe(o);
  await writeFile(
    o.cacheFile,
    JSON.stringify({ key: o.cacheKey, ...choice, probedAt: new Date().toISOString() }),
  );
  o.log.info('Chose VM accelerator', { accel: choice.accel, reason: choice.reason });
  return choice;
}

async function runProbe(o: AccelProbeOptions): Promise<AccelChoice> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is not available' };
  }
  await mkdir(o.workDir, { recursive: true });
  const dir = await mkdtemp(join(o.workDir, 'p'));
  let vm: QemuVm | undefined;
  try {
    vm = await QemuVm.launch(
      {
        vmId: 'kvm-probe',
        dir,
        qemuBinary: o.qemuBinary,
        kernel: o.kernel,
        initrd: o.initrd,
        cpus: 1,
        memoryMiB: 128,
        accel: 'kvm',
        tbSizeMiB: 0,
        rootPorts: 0,
        kernelArgs: o.kernelArgs,
        useCgroup: false,
      },
      { log: o.log },
    );
    const conn = await AgentConnection.connect(
      { socketPath: vm.ctlSocket, log: o.log, lastEventSeq: 0, onEvent: () => {}, onViolation: () => {} },
      { timeoutMs: o.timeoutMs },
    );
    conn.close();
    return { accel: 'kvm', reason: 'KVM probe boot reached the guest agent' };
  } catch (err) {
    return { accel: 'tcg', reason: `KVM probe boot failed: ${describeError(err).slice(0, 300)}` };
  } finally {
    if (vm) await bestEffort(o.log, 'stop the KVM probe VM', vm.stop(0));
    await rm(dir, { recursive: true, force: true });
  }
}
