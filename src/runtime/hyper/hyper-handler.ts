/**
 * The `hyper` runtime handler: each pod sandbox is one QEMU VM with its own kernel (the
 * HyperContainer model). See docs/hyper-runtime.md.
 *
 * Start: a pooled VM of the pod's size when there is one, else a cold boot; then NICs are
 * hot-plugged and the pod set up by the guest agent. Containers get a qcow2 overlay over the
 * image's read-only root disk, hot-plugged as virtio-blk.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import {
  bestEffort,
  forbidden,
  invalid,
  systemClock,
  type Clock,
  type Exec,
  type Logger,
  type StatusCause,
  type TimerHandle,
  writeFileAtomic,
} from '../../lib/index.js';
import type { PodSandboxConfig } from '../runtime-service.js';
import type {
  HandlerProbe,
  SandboxAdoptRequest,
  SandboxHandle,
  SandboxHandler,
  SandboxStartRequest,
} from '../sandbox-handler.js';
import { probeAccel, type AccelChoice } from './accel-probe.js';
import { HyperSandbox } from './hyper-sandbox.js';
import type { Accel } from './qemu-vm.js';
import { readSandboxState, writeSandboxState, type SandboxState } from './sandbox-state.js';
import { VmPool, type PreparedImage } from './vm-pool.js';
import { rebalance, type BalloonResult } from './balloon.js';
import { OverlayTemplates } from './overlay-templates.js';
import { VmSession, type BootParams } from './vm-session.js';
import { openVmTemplates } from './vm-template.js';

export interface HyperHandlerOptions {
  /** The handler's own directory (VMs, probe cache), e.g. `<runtime root>/hyper`. Keep it short. */
  readonly root: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** How processes (QEMU, qemu-img, fallocate) are spawned; default the real one (lib's systemExec). */
  readonly exec?: Exec;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelVersion?: string;
  /** Cache key of the KVM probe (the guest build hash); default: kernel and initrd paths. */
  readonly guestBuildId?: string;
  readonly qemuBinary?: string;
  /** Pre-booted VMs of the default size; 0 disables the pool. Default 2. */
  readonly poolSize?: number;
  readonly defaultCpus?: number;
  readonly defaultMemoryMiB?: number;
  /** Smallest VM accepted (the guest does not boot below ~96 MiB on microvm). Default 96. */
  readonly minMemoryMiB?: number;
  /** Largest VM accepted; default the host's total memory. */
  readonly maxMemoryMiB?: number;
  /** Largest vCPU count accepted; default 16. */
  readonly maxCpus?: number;
  /** `auto` probes KVM with a bounded boot and falls back to TCG. */
  readonly accel?: 'auto' | Accel;
  /** TCG translation buffer per VM (MiB). Default 16: it is allocated as it fills and stays. */
  readonly tbSizeMiB?: number;
  /** PCIe slots for hot-plugged NICs per VM (disks are SCSI LUNs). Default 8: each idle port costs guest memory and boot time. */
  readonly rootPorts?: number;
  /** Put each QEMU in a host cgroup with the pod's CPU and a memory cap. Default true. */
  readonly useCgroups?: boolean;
  /** Turn on host KSM (merges identical guest pages across VMs). Default false: it is a cross-tenant side channel. */
  readonly enableKsm?: boolean;
  /**
   * VM templating (vm-template.ts): VMs are restored from a booted template of their size and
   * share its guest kernel memory. Default true; off with KSM.
   */
  readonly vmTemplates?: boolean;
  /** Let tests make the guest agent misbehave on purpose. Default false. */
  readonly allowDebugAnnotations?: boolean;
  /** How long a boot may take until the agent answers. Default 60 s (TCG on a busy host). */
  readonly bootTimeoutMs?: number;
  /** Extra kernel arguments for every VM. */
  readonly extraKernelArgs?: readonly string[];
  /**
   * Idle-memory balloon (balloon.ts): free guest memory the balloon leaves to an idle VM, in
   * MiB; 0 turns the balloon policy off. Default 12.
   */
  readonly balloonHeadroomMiB?: number;
  /** First balloon pass after a pod started (ms). Default 10 s. */
  readonly balloonIdleDelayMs?: number;
  /** Later balloon passes of a running pod (ms). Default 30 s. */
  readonly balloonIntervalMs?: number;
}

/** Debug annotation (test mode only): `malformed-frames` makes the guest agent send garbage. */
export const guestDebugAnnotation = 'h8s.io/guest-debug';

export interface HyperHandler extends SandboxHandler {
  /** Stops refilling and destroys pooled VMs (tests, uninstall). Running pods are untouched. */
  shutdownPool(): Promise<void>;
  /** Number of pooled VMs ready now. */
  poolReady(): number;
  /** Waits until the pool is full (benchmarks, tests). */
  waitPoolFull(timeoutMs: number): Promise<void>;
  /** Runs a balloon pass of a sandbox now (tests, benchmarks); undefined when off. */
  balloonNow(sandbox: SandboxHandle): Promise<BalloonResult | undefined>;
}

async function hostTscKhz(): Promise<number | undefined> {
  try {
    const text = await readFile('/proc/cpuinfo', 'utf8');
    const flags = /^flags\s*:(.*)$/m.exec(text)?.[1] ?? '';
    if (!/\bconstant_tsc\b/.test(flags) || !/\bnonstop_tsc\b/.test(flags)) return undefined;
    const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(text)?.[1]);
    return Number.isFinite(mhz) && mhz > 100 ? Math.round(mhz * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** Kernel command line of every VM. */
export function guestKernelArgs(
  accel: Accel,
  tscKhz: number | undefined,
  extra: readonly string[] = [],
): string[] {
  return [
    'console=ttyS0',
    'quiet',
    'loglevel=4',
    'panic=-1',
    // Pages are not zeroed on allocation: an idle guest touches far less of its RAM.
    'init_on_alloc=0',
    // microvm's ACPI does not hand PCIe hot-plug to the OS; the guest drives the slots natively.
    'pcie_ports=native',
    'no_timer_check',
    // Disks are hot-added to the virtio-scsi controller one LUN at a time (the controller
    // reports each); scanning all 256 targets at boot would only cost boot time.
    'scsi_mod.scan=none',
    // The agent sets free page reporting to 128 KiB blocks (the kernel's 2 MiB default never
    // reports in a small VM) so QEMU gives freed guest memory back to the host.
    'h8s.page_reporting_order=5',
    // TCG: the guest cannot calibrate the TSC against a timer on a busy host; TCG's TSC runs
    // at the host's rate, so tell the guest.
    ...(accel === 'tcg' && tscKhz ? [`tsc_early_khz=${tscKhz}`] : []),
    ...extra,
  ];
}

/** vCPUs and memory for a pod. @throws Invalid with field causes */
export function vmSize(
  config: PodSandboxConfig,
  limits: {
    defaultCpus: number;
    defaultMemoryMiB: number;
    minMemoryMiB: number;
    maxMemoryMiB: number;
    maxCpus: number;
  },
): { cpus: number; memoryMiB: number } {
  const causes: StatusCause[] = [];
  const r = config.resources;
  let cpus = limits.defaultCpus;
  let memoryMiB = limits.defaultMemoryMiB;
  if (r?.cpuMillis !== undefined) {
    if (!Number.isFinite(r.cpuMillis) || r.cpuMillis <= 0) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: 'must be a positive number of millicores',
        field: 'resources.cpuMillis',
      });
    } else {
      cpus = Math.ceil(r.cpuMillis / 1000);
      if (cpus > limits.maxCpus) {
        causes.push({
          reason: 'FieldValueInvalid',
          message: `at most ${limits.maxCpus} vCPUs (${limits.maxCpus * 1000} millicores)`,
          field: 'resources.cpuMillis',
        });
      }
    }
  }
  if (r?.memoryBytes !== undefined) {
    if (!Number.isFinite(r.memoryBytes) || r.memoryBytes <= 0) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: 'must be a positive number of bytes',
        field: 'resources.memoryBytes',
      });
    } else {
      memoryMiB = Math.ceil(r.memoryBytes / (1024 * 1024));
      if (memoryMiB < limits.minMemoryMiB) {
        causes.push({
          reason: 'FieldValueInvalid',
          message: `at least ${limits.minMemoryMiB} MiB (the guest kernel does not boot with less)`,
          field: 'resources.memoryBytes',
        });
      } else if (memoryMiB > limits.maxMemoryMiB) {
        causes.push({
          reason: 'FieldValueInvalid',
          message: `at most ${limits.maxMemoryMiB} MiB (this host's memory)`,
          field: 'resources.memoryBytes',
        });
      }
    }
  }
  if (causes.length > 0) {
    const first = causes[0] as StatusCause;
    throw invalid(`Invalid VM size for pod "${config.metadata.name}": ${first.field}: ${first.message}`, {
      details: { causes },
    });
  }
  return { cpus, memoryMiB };
}

export function createHyperHandler(o: HyperHandlerOptions): HyperHandler {
  const log = o.log.child({ component: 'hyper' });
  const clock = o.clock ?? systemClock;
  const vmsDir = join(o.root, 'vms');
  const defaultCpus = o.defaultCpus ?? 1;
  const defaultMemoryMiB = o.defaultMemoryMiB ?? 128;
  const limits = {
    defaultCpus,
    defaultMemoryMiB,
    minMemoryMiB: o.minMemoryMiB ?? 96,
    maxMemoryMiB: o.maxMemoryMiB ?? Math.floor(totalmem() / (1024 * 1024)),
    maxCpus: o.maxCpus ?? 16,
  };
  const sandboxes = new Set<HyperSandbox>();
  const overlays = new OverlayTemplates(join(o.root, 'overlay-templates'), undefined, o.exec);
  const balloonHeadroomMiB = o.balloonHeadroomMiB ?? 12;
  const balloon = balloonHeadroomMiB > 0 ? { headroomMiB: balloonHeadroomMiB } : undefined;
  const balloonTimers = new Map<HyperSandbox, TimerHandle>();
  const balloonPass = async (sb: HyperSandbox, reclaim: boolean): Promise<BalloonResult | undefined> => {
    if (!balloon || !sandboxes.has(sb)) return undefined;
    return rebalance(sb.session, balloon, { reclaim });
  };
  /** Balloon passes while the sandbox lives: the first reclaims caches, later ones follow usage. */
  const scheduleBalloon = (sb: HyperSandbox, delayMs: number, reclaim: boolean): void => {
    if (!balloon) return;
    balloonTimers.get(sb)?.cancel();
    balloonTimers.set(
      sb,
      clock.setTimeout(() => {
        balloonTimers.delete(sb);
        if (!sandboxes.has(sb)) return;
        void balloonPass(sb, reclaim)
          .catch((err: unknown) =>
            log.debug('Balloon pass failed', { vmId: sb.session.vmId, err: err as Error }),
          )
          .finally(() => {
            if (sandboxes.has(sb)) scheduleBalloon(sb, o.balloonIntervalMs ?? 30_000, false);
          });
      }, delayMs),
    );
  };
  let prepared: Promise<{ accel: AccelChoice; boot: BootParams; pool: VmPool }> | undefined;
  // The image pooled VMs prepare a container from (vm-pool.ts `preparedImage`): the root disk
  // of the last container created in a VM of the pool's size. Kept across restarts.
  const hotImageFile = join(o.root, 'prepared-image.json');
  let hotImage: PreparedImage | undefined;
  let preparedClaims = 0;
  /** The last write of `hotImageFile`: close waits for it, so a restart finds the image. */
  let hotImageWrite: Promise<unknown> = Promise.resolve();
  const noteImage = (image: PreparedImage, cpus: number, memoryMiB: number): void => {
    if (cpus !== defaultCpus || memoryMiB !== defaultMemoryMiB) return;
    if (hotImage && JSON.stringify(hotImage) === JSON.stringify(image)) return;
    hotImage = image;
    void bestEffort(log, 'prepare idle pooled VMs', async () => (await prepared)?.pool.prepareIdle());
    const value = JSON.stringify(hotImage);
    hotImageWrite = hotImageWrite.then(() =>
      bestEffort(log, 'record the pool image', writeFileAtomic(hotImageFile, value)),
    );
  };

  const prepare = (): Promise<{ accel: AccelChoice; boot: BootParams; pool: VmPool }> => {
    prepared ??= (async () => {
      await mkdir(vmsDir, { recursive: true, mode: 0o700 });
      const tsc = await hostTscKhz();
      const qemuBinary = o.qemuBinary ?? 'qemu-system-x86_64';
      let accel: AccelChoice;
      if (o.accel === 'kvm' || o.accel === 'tcg') accel = { accel: o.accel, reason: 'configured' };
      else {
        accel = await probeAccel({
          cacheFile: join(o.root, 'accel-probe.json'),
          workDir: join(o.root, 'probe'),
          cacheKey: o.guestBuildId ?? `${o.kernel}|${o.initrd}`,
          qemuBinary,
          kernel: o.kernel,
          initrd: o.initrd,
          kernelArgs: guestKernelArgs('kvm', undefined, o.extraKernelArgs),
          timeoutMs: 8000,
          log,
        });
      }
      if (o.enableKsm) await enableKsm(log);
      let boot: BootParams = {
        vmsDir,
        qemuBinary,
        kernel: o.kernel,
        initrd: o.initrd,
        // With KSM, identical guest kernels merge only when they are not relocated differently.
        kernelArgs: guestKernelArgs(accel.accel, tsc, [
          ...(o.enableKsm ? ['nokaslr'] : []),
          ...(o.extraKernelArgs ?? []),
        ]),
        accel: accel.accel,
        tbSizeMiB: o.tbSizeMiB ?? 16,
        rootPorts: o.rootPorts ?? 8,
        useCgroup: o.useCgroups ?? true,
        // KSM merges only private anonymous memory; otherwise memfd RAM (no host THP).
        ramBackend: o.enableKsm ? 'anon' : 'memfd',
        bootTimeoutMs: o.bootTimeoutMs ?? 60_000,
        log,
        ...(o.clock ? { clock: o.clock } : {}),
        ...(o.exec ? { exec: o.exec } : {}),
      };
      if (o.vmTemplates !== false && !o.enableKsm) {
        const keepSizes = [{ cpus: defaultCpus, memoryMiB: defaultMemoryMiB }];
        const buildId = o.guestBuildId ?? `${o.kernel}|${o.initrd}`;
        const root = join(o.root, 'templates');
        boot = { ...boot, templates: await openVmTemplates(boot, { root, buildId, keepSizes }) };
      }
      hotImage = await readHotImage(hotImageFile);
      const pool = new VmPool({
        size: o.poolSize ?? 2,
        preparedImage: () => hotImage,
        makeOverlay: (image, file) => overlays.create(image, file),
        ...(balloon ? { balloon } : {}),
        cpus: defaultCpus,
        memoryMiB: defaultMemoryMiB,
        boot,
        log,
        clock,
      });
      await pool.recover();
      pool.refill();
      // Re-adopted VMs that hold no prepared container (the last daemon stopped before it
      // prepared them, or the image changed since) prepare one now: nothing else would.
      pool.prepareIdle();
      return { accel, boot, pool };
    })();
    return prepared;
  };

  const newSandbox = (
    req: { id: string; config: PodSandboxConfig; stateDir: string; events: SandboxStartRequest['events'] },
    state: SandboxState,
  ): HyperSandbox => {
    const sb: HyperSandbox = new HyperSandbox({
      id: req.id,
      config: req.config,
      stateDir: req.stateDir,
      events: req.events,
      state,
      log,
      clock,
      allowDebugAnnotations: o.allowDebugAnnotations ?? false,
      overlays,
      noteImage,
      onClaimed: () => void preparedClaims++,
      onDestroyed: () => {
        sandboxes.delete(sb);
        balloonTimers.get(sb)?.cancel();
        balloonTimers.delete(sb);
      },
    });
    sandboxes.add(sb);
    return sb;
  };

  return {
    name: 'hyper',
    rootfsKind: 'disk',

    async probe(): Promise<HandlerProbe> {
      try {
        const p = await prepare();
        return {
          available: true,
          details: {
            accel: p.accel.accel,
            accelReason: p.accel.reason,
            kernel: o.kernel,
            ...(o.kernelVersion ? { kernelVersion: o.kernelVersion } : {}),
            poolSize: p.pool.size,
            poolReady: p.pool.readyCount,
            poolPrepared: p.pool.preparedCount,
            // Pods whose container was the one their pooled VM had prepared (vm-pool.ts).
            poolPreparedClaims: preparedClaims,
            defaultCpus,
            defaultMemoryMiB,
          },
        };
      } catch (err) {
        return { available: false, reason: (err as Error).message, details: {} };
      }
    },

    async startSandbox(req: SandboxStartRequest): Promise<SandboxHandle> {
      const sec = req.config.security;
      if (sec?.privileged || sec?.hostNetwork || sec?.hostPid || sec?.hostIpc) {
        throw forbidden(
          `Pod "${req.config.metadata.name}" asks for privileged mode or host namespaces, which the hyper runtime cannot give a VM; use the runc runtime`,
        );
      }
      const size = vmSize(req.config, limits);
      const debug = req.config.annotations?.[guestDebugAnnotation];
      if (debug !== undefined && !o.allowDebugAnnotations) {
        throw forbidden(
          `Annotation "${guestDebugAnnotation}" is only accepted when the runtime runs in test mode`,
        );
      }
      const nets = req.config.network?.interfaces ?? [];
      for (const [i, n] of nets.entries()) {
        if (!n.hostDevice) {
          throw invalid(`Interface "${n.name}" has no host tap device`, {
            details: {
              causes: [
                {
                  reason: 'FieldValueRequired',
                  message: 'Required value',
                  field: `network.interfaces[${i}].hostDevice`,
                },
              ],
            },
          });
        }
      }
      const p = await prepare();
      const started = clock.monotonicMs();
      let session = await p.pool.take(size.cpus, size.memoryMiB);
      const pooled = session !== undefined;
      session ??= await VmSession.boot(p.boot, size, req.signal);
      await session.setOwner(req.stateDir);
      const state: SandboxState = {
        schema: 1,
        vmId: session.vmId,
        vmDir: session.vm.dir,
        nextStreamId: 1,
        lastEventSeq: session.conn.lastEventSeq,
        nics: [],
        containers: {},
      };
      const sb = newSandbox(req, state);
      sb.bindSession(session, pooled ? p.pool.takePrepared(session) : undefined);
      try {
        await writeSandboxState(req.stateDir, state);
        const interfaces: Record<string, unknown>[] = [];
        for (const [i, n] of nets.entries()) {
          const mac = n.mac ?? generatedMac(req.id, i);
          const dev = await session.vm.addNic({ hostDevice: n.hostDevice as string, mac });
          state.nics.push(dev.id);
          interfaces.push({
            mac: mac.toLowerCase(),
            name: n.name,
            addresses: n.addresses,
            ...(n.mtu ? { mtu: n.mtu } : {}),
          });
        }
        await writeSandboxState(req.stateDir, state);
        await session.conn.request(
          'setupPod',
          {
            hostname: req.config.hostname ?? req.config.metadata.name.slice(0, 63),
            ...(req.config.dnsConfig ? { dns: req.config.dnsConfig } : {}),
            interfaces,
            routes: req.config.network?.routes ?? [],
            sysctls: req.config.sysctls ?? {},
            waitMs: 30_000,
          },
          40_000,
        );
        if (debug !== undefined) await sb.debugMisbehave(debug === 'malformed-frames' ? 'garbage' : debug);
      } catch (err) {
        await bestEffort(log, 'destroy a sandbox that failed to start', sb.destroy());
        throw err;
      }
      scheduleBalloon(sb, o.balloonIdleDelayMs ?? 10_000, true);
      log.info('Started sandbox VM', {
        sandbox: req.id,
        vmId: session.vmId,
        pooled,
        durationMs: Math.round(clock.monotonicMs() - started),
        ...size,
      });
      return sb;
    },

    async adoptSandbox(req: SandboxAdoptRequest): Promise<SandboxHandle | undefined> {
      await prepare();
      const state = await readSandboxState(req.stateDir);
      if (!state) return undefined;
      // The sandbox first: its log sinks must exist before the streams are resumed.
      const sb = newSandbox(req, state);
      for (const c of req.containers) sb.rememberSpec(c.spec);
      const session = await VmSession.adopt(
        state.vmDir,
        {
          log,
          clock,
          lastEventSeq: state.lastEventSeq,
          resumeStreams: sb.resumeSinks(),
          resumeInputs: sb.resumeInputs(),
        },
        sb.handlers,
      ).catch((err: unknown) => {
        log.warn('Cannot re-adopt sandbox VM', { sandbox: req.id, err: err as Error });
        return undefined;
      });
      if (!session) {
        sandboxes.delete(sb);
        return undefined;
      }
      sb.bindSession(session);
      scheduleBalloon(sb, o.balloonIdleDelayMs ?? 10_000, true);
      log.info('Re-adopted sandbox VM', { sandbox: req.id, vmId: state.vmId });
      return sb;
    },

    async close(): Promise<void> {
      if (!prepared) return;
      // a handler whose preparation failed has nothing to close (the failure was reported then)
      const p = await bestEffort(log, 'finish preparing the hyper handler', prepared);
      await p?.pool.close();
      await hotImageWrite;
      for (const t of balloonTimers.values()) t.cancel();
      balloonTimers.clear();
      for (const sb of sandboxes) await bestEffort(log, 'detach from a sandbox VM', sb.detach());
      sandboxes.clear();
    },

    async shutdownPool(): Promise<void> {
      if (!prepared) return;
      const p = await bestEffort(log, 'finish preparing the hyper handler', prepared);
      await p?.pool.shutdown();
      await p?.boot.templates?.removeAll();
    },

    poolReady(): number {
      return 0;
    },

    async balloonNow(sandbox: SandboxHandle): Promise<BalloonResult | undefined> {
      const sb = [...sandboxes].find((x) => x === sandbox);
      if (!sb) throw invalid('Not a sandbox of this handler');
      return balloonPass(sb, true);
    },

    async waitPoolFull(timeoutMs: number): Promise<void> {
      const p = await prepare();
      const deadline = clock.monotonicMs() + timeoutMs;
      while (p.pool.readyCount < p.pool.size) {
        if (clock.monotonicMs() > deadline) throw invalid(`Pool did not fill within ${timeoutMs} ms`);
        await clock.sleep(100);
      }
    },
  };
}

/** The image pooled VMs prepare a container from: the one the last pod of the pool's size used. */
async function readHotImage(file: string): Promise<PreparedImage | undefined> {
  const v = await readFile(file, 'utf8').then(
    (t) => JSON.parse(t) as unknown,
    () => undefined,
  );
  if (typeof v !== 'object' || v === null) return undefined;
  const { path, fsType, warm, warmPath } = v as Record<string, unknown>;
  if (typeof path !== 'string' || !path.startsWith('/') || typeof fsType !== 'string') return undefined;
  return {
    path,
    fsType,
    warm: Array.isArray(warm) ? warm.filter((w): w is string => typeof w === 'string') : [],
    warmPath: typeof warmPath === 'string' ? warmPath : '',
  };
}

/** A locally administered MAC derived from the sandbox id. */
function generatedMac(id: string, index: number): string {
  const hex = (id.replace(/[^0-9a-f]/gi, '') + '000000000000').slice(0, 8);
  return `02:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${(index & 0xff).toString(16).padStart(2, '0')}`;
}

async function enableKsm(log: Logger): Promise<void> {
  try {
    // PRIVILEGED: turns on the host's kernel samepage merging so identical pages of the VMs'
    // RAM (kernel, agent) are shared. A tenant cannot use it to escape, but page merging is a
    // timing side channel between VMs (CVE-2015-2877), which is why it is off by default.
    await writeFile('/sys/kernel/mm/ksm/run', '1');
    log.info('Enabled KSM');
  } catch (err) {
    log.warn('Cannot enable KSM', { err: err as Error });
  }
}
