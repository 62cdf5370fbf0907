/**
 * One QEMU process running a hyper VM: command line, detached start, the facts persisted in
 * its directory (so a restarted daemon can re-adopt it), QMP hot-plug of disks and NICs,
 * console capture with a bounded size, and stopping.
 *
 * Machine: `microvm` with a PCIe host bridge (`pcie=on`): no firmware, direct kernel boot,
 * and PCIe root ports for hot-plug (virtio-mmio devices cannot be hot-plugged, and pooled VMs
 * get their disks and NICs after boot). The guest is told `pcie_ports=native` so its pciehp
 * driver handles the slots.
 *
 * Invariants: `vm.json` is written before `launch` returns and after every device change;
 * a VM is identified by pid + process start time, so a reused pid is never mistaken for it.
 */
import { createConnection, type Socket } from 'node:net';
import { open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import {
  bestEffort,
  describeError,
  internal,
  invalid,
  isProcessAlive,
  parseJson,
  parseWith,
  systemClock,
  systemExec,
  unavailable,
  unlessMissing,
  type Clock,
  type Exec,
  type Logger,
} from '../../lib/index.js';
import { QmpClient } from './qmp-client.js';
import { placeVmInCgroup, removeVmCgroup } from './vm-cgroup.js';

export type Accel = 'kvm' | 'tcg';

/** The machine every VM of a handler shares: binary, guest, kernel flags, accelerator, devices. */
export interface GuestMachine {
  readonly qemuBinary: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelArgs: readonly string[];
  readonly accel: Accel;
  readonly tbSizeMiB: number;
  readonly rootPorts: number;
}

export interface VmSpec {
  readonly vmId: string;
  /** Directory of this VM (sockets, logs, vm.json). Short: unix socket paths are limited to 107 bytes. */
  readonly dir: string;
  readonly qemuBinary: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly accel: Accel;
  /** TCG translation buffer size (MiB). */
  readonly tbSizeMiB: number;
  /** PCIe root ports for hot-plug (one device each). */
  readonly rootPorts: number;
  readonly kernelArgs: readonly string[];
  /** Put QEMU in its own host cgroup with CPU and memory limits. */
  readonly useCgroup: boolean;
  /**
   * Guest RAM: `memfd` (default) is shared memory the host never backs with transparent huge
   * pages, so what free page reporting and the balloon return stays returned (with anonymous
   * RAM, which QEMU asks THP for, khugepaged refills whole 2 MiB pages around a single used
   * one); `anon` is needed for KSM, which merges only private anonymous pages.
   */
  readonly ramBackend?: 'memfd' | 'anon';
  /**
   * VM templating (vm-template.ts): `template` maps guest RAM from `file` shared (the guest's
   * boot writes land in the file); `clone` maps the same file private (copy-on-write: every
   * page the clone does not write stays shared with the template's other clones) and starts
   * QEMU with `-incoming defer` to restore the device state from `stateFile`. Both leave out
   * the balloon device: QEMU 7.2 discards a file-backed page by punching a hole in the file
   * even when the mapping is private, which would zero that page under every other clone.
   */
  readonly ram?: { readonly mode: 'template'; readonly file: string } | VmCloneRam;
}

export interface VmCloneRam {
  readonly mode: 'clone';
  readonly file: string;
  /** Device state saved by the template (QMP `migrate` with `x-ignore-shared`). */
  readonly stateFile: string;
  /** Template directory name, recorded in vm.json. */
  readonly template: string;
  /**
   * The kernel's boot sectors only (vm-template.ts): a clone never boots, but QEMU keeps a copy
   * of the whole `-kernel` image in its memory for resets (14 MiB of every clone's PSS).
   */
  readonly kernelStub?: string;
}

/** Paths handed to QEMU's `exec:` migration URI (run by /bin/sh): no shell metacharacters. */
const safeExecPath = /^[A-Za-z0-9_./-]{1,4000}$/;

const DeviceSchema = Type.Union([
  Type.Object({
    id: Type.String({ maxLength: 32 }),
    kind: Type.Literal('disk'),
    port: Type.String({ maxLength: 16 }),
    file: Type.String({ maxLength: 4096 }),
    serial: Type.String({ maxLength: 20 }),
  }),
  Type.Object({
    id: Type.String({ maxLength: 32 }),
    kind: Type.Literal('nic'),
    port: Type.String({ maxLength: 16 }),
    hostDevice: Type.String({ maxLength: 15 }),
    mac: Type.String({ maxLength: 17 }),
  }),
]);
export type VmDevice = Static<typeof DeviceSchema>;

const VmFactsSchema = Type.Object({
  schema: Type.Literal(1),
  vmId: Type.String({ maxLength: 64 }),
  pid: Type.Integer({ minimum: 1 }),
  pidStartTime: Type.String({ maxLength: 32 }),
  accel: Type.Union([Type.Literal('kvm'), Type.Literal('tcg')]),
  cpus: Type.Integer({ minimum: 1 }),
  memoryMiB: Type.Integer({ minimum: 1 }),
  kernel: Type.String(),
  initrd: Type.String(),
  rootPorts: Type.Integer({ minimum: 0, maximum: 64 }),
  createdAtMs: Type.Number(),
  nextDeviceSeq: Type.Integer({ minimum: 1 }),
  devices: Type.Array(DeviceSchema, { maxItems: 64 }),
  cgroup: Type.Optional(Type.String()),
  /** The VM has the virtio-scsi controller `scsi0` (VMs of older daemons do not). */
  scsi: Type.Optional(Type.Boolean()),
  /** False when the VM has no balloon device (templates and their clones). */
  balloon: Type.Optional(Type.Boolean()),
  /** The template directory a clone was restored from. */
  template: Type.Optional(Type.String({ maxLength: 200 })),
});
export type VmFacts = Static<typeof VmFactsSchema>;

export interface VmDeps {
  readonly log: Logger;
  readonly clock?: Clock;
  /** How QEMU is spawned; default the real one (lib's systemExec). */
  readonly exec?: Exec;
}

const consoleMaxBytes = 1024 * 1024;

/** The start time of a process (field 22 of /proc/PID/stat), '' when it is gone. */
export async function processStartTime(pid: number): Promise<string> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const afterComm = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return afterComm[19] ?? '';
  } catch {
    return '';
  }
}

/** The QEMU command line of a VM (exported for tests and the benchmark's bare boot). */
export function qemuArgv(spec: VmSpec, sockets: { qmp: string; ctl: string; console: string }): string[] {
  const accelArgs =
    spec.accel === 'kvm'
      ? ['-accel', 'kvm', '-cpu', 'host']
      : ['-accel', `tcg,tb-size=${spec.tbSizeMiB}`, '-cpu', 'max'];
  const ports: string[] = [];
  // Eight root ports per slot (multifunction), from slot 0x10 on: one hot-plugged device each.
  for (let i = 0; i < spec.rootPorts; i++) {
    const addr = `${(0x10 + Math.floor(i / 8)).toString(16)}.${i % 8}`;
    const mf = i % 8 === 0 ? ',multifunction=on' : '';
    ports.push('-device', `pcie-root-port,id=rp${i},chassis=${i + 1},bus=pcie.0,addr=${addr}${mf}`);
  }
  const ram = spec.ram;
  if (ram && !safeExecPath.test(ram.file)) throw invalid(`Template RAM path "${ram.file}" is not valid`);
  const memfd = !ram && (spec.ramBackend ?? 'memfd') === 'memfd';
  const ramObject = ram
    ? [
        '-object',
        `memory-backend-file,id=ram,size=${spec.memoryMiB}M,mem-path=${ram.file},share=${ram.mode === 'template' ? 'on' : 'off'}`,
      ]
    : memfd
      ? ['-object', `memory-backend-memfd,id=ram,size=${spec.memoryMiB}M`]
      : [];
  return [
    spec.qemuBinary,
    '-name',
    `h8s-${spec.vmId}`,
    '-M',
    `microvm,pcie=on,rtc=on,mem-merge=on${ramObject.length ? ',memory-backend=ram' : ''}`,
    ...ramObject,
    ...accelArgs,
    '-smp',
    String(spec.cpus),
    '-m',
    `${spec.memoryMiB}M`,
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-kernel',
    ram?.mode === 'clone' && ram.kernelStub ? ram.kernelStub : spec.kernel,
    '-initrd',
    spec.initrd,
    '-append',
    spec.kernelArgs.join(' '),
    '-chardev',
    `socket,id=con,path=${sockets.console},server=on,wait=off`,
    '-serial',
    'chardev:con',
    '-qmp',
    `unix:${sockets.qmp},server=on,wait=off`,
    '-device',
    'virtio-serial-pci,id=vser',
    // Disks are hot-added as SCSI LUNs on this controller: no PCIe slot power-up and link
    // training in the guest (pciehp waits >= 100 ms per device), and unplug is immediate.
    '-device',
    'virtio-scsi-pci,id=scsi0',
    '-chardev',
    `socket,id=ctl,path=${sockets.ctl},server=on,wait=off`,
    '-device',
    'virtserialport,bus=vser.0,chardev=ctl,name=h8s.ctl',
    // Free page reporting hands freed guest memory back; the balloon takes what an idle guest
    // does not use (balloon.ts), and deflate-on-oom gives it back under memory pressure.
    ...(ram ? [] : ['-device', 'virtio-balloon-pci,id=balloon,free-page-reporting=on,deflate-on-oom=on']),
    ...ports,
    // A clone waits for `migrate-incoming` (its device state from the template).
    ...(ram?.mode === 'clone' ? ['-incoming', 'defer'] : []),
  ];
}

export class QemuVm {
  readonly dir: string;
  #facts: VmFacts;
  #qmp: QmpClient;
  readonly #log: Logger;
  readonly #clock: Clock;

  /** The logger this VM's own steps report to (its sessions' clean-up too). */
  get log(): Logger {
    return this.#log;
  }
  #console: Socket | undefined;
  #exited: Promise<void>;
  #stopping = false;
  #consoleClosed = false;

  private constructor(dir: string, facts: VmFacts, qmp: QmpClient, exited: Promise<void>, deps: VmDeps) {
    this.dir = dir;
    this.#facts = facts;
    this.#qmp = qmp;
    this.#exited = exited;
    this.#log = deps.log;
    this.#clock = deps.clock ?? systemClock;
  }

  static sockets(dir: string): { qmp: string; ctl: string; console: string } {
    const s = { qmp: join(dir, 'qmp.sock'), ctl: join(dir, 'ctl.sock'), console: join(dir, 'con.sock') };
    if (Buffer.byteLength(s.console) > 107) {
      throw invalid(`VM directory "${dir}" is too long for unix socket paths (at most 96 bytes)`);
    }
    return s;
  }

  /**
   * Starts QEMU detached (it survives the daemon), records its facts and connects QMP.
   * @throws InternalError with QEMU's own message when it fails to start
   */
  static async launch(spec: VmSpec, deps: VmDeps & { signal?: AbortSignal }): Promise<QemuVm> {
    const sockets = QemuVm.sockets(spec.dir);
    const argv = qemuArgv(spec, sockets);
    const errLog = await open(join(spec.dir, 'qemu.log'), 'a');
    let child;
    try {
      child = await (deps.exec ?? systemExec).spawnProcess(argv, {
        detached: true,
        stdio: ['ignore', errLog.fd, errLog.fd],
        // One malloc arena: QEMU's threads otherwise each get a 64 MiB arena of which a few
        // MiB stay touched per VM (measured −2.4 MiB PSS per idle pod, docs/benchmarks.md).
        extraEnv: { MALLOC_ARENA_MAX: '1' },
      });
    } finally {
      await errLog.close();
    }
    const startTime = await processStartTime(child.pid);
    let cgroup: string | undefined;
    if (spec.useCgroup) {
      // Guest RAM + TCG buffer + QEMU's own ~100 MiB; above it something is wrong.
      const memoryBytes = (spec.memoryMiB + spec.tbSizeMiB + 256) * 1024 * 1024;
      cgroup = await placeVmInCgroup(spec.vmId, child.pid, { cpus: spec.cpus, memoryBytes }, deps.log);
    }
    const facts: VmFacts = {
      schema: 1,
      vmId: spec.vmId,
      pid: child.pid,
      pidStartTime: startTime,
      accel: spec.accel,
      cpus: spec.cpus,
      memoryMiB: spec.memoryMiB,
      kernel: spec.kernel,
      initrd: spec.initrd,
      rootPorts: spec.rootPorts,
      createdAtMs: (deps.clock ?? systemClock).now(),
      nextDeviceSeq: 1,
      devices: [],
      ...(cgroup ? { cgroup } : {}),
      scsi: true,
      ...(spec.ram ? { balloon: false } : {}),
      ...(spec.ram?.mode === 'clone' ? { template: spec.ram.template } : {}),
    };
    await writeFacts(spec.dir, facts);
    const exited = child.exited.then(() => undefined);
    let qmp: QmpClient;
    try {
      qmp = await Promise.race([
        QmpClient.connect(sockets.qmp, {
          timeoutMs: 10_000,
          log: deps.log,
          ...(deps.clock ? { clock: deps.clock } : {}),
        }),
        exited.then(async () => {
          const text = (await unlessMissing(readFile(join(spec.dir, 'qemu.log'), 'utf8'))) ?? '';
          throw internal(`QEMU exited at start: ${text.trim().slice(-1000) || 'no message'}`);
        }),
      ]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    const vm = new QemuVm(spec.dir, facts, qmp, exited, deps);
    vm.#captureConsole(sockets.console);
    if (spec.ram?.mode === 'clone') {
      try {
        await vm.#restore(spec.ram.stateFile);
      } catch (err) {
        await bestEffort(deps.log, `stop VM ${spec.vmId} whose restore failed`, vm.stop(0));
        throw err;
      }
    }
    return vm;
  }

  /** Waits until the current migration (outgoing or incoming) ends. @throws InternalError when it failed */
  async #waitMigration(what: string, timeoutMs: number): Promise<void> {
    const deadline = this.#clock.monotonicMs() + timeoutMs;
    let delay = 5;
    for (;;) {
      const r = (await this.#qmp.execute('query-migrate', undefined, 5000)) as {
        status?: unknown;
        'error-desc'?: unknown;
      };
      if (r?.status === 'completed') return;
      if (r?.status === 'failed' || r?.status === 'cancelled') {
        throw internal(`${what} failed: ${String(r['error-desc'] ?? r.status)}`);
      }
      if (this.#clock.monotonicMs() > deadline)
        throw internal(`${what} did not finish within ${timeoutMs} ms`);
      await this.#clock.sleep(delay);
      delay = Math.min(50, delay * 2);
    }
  }

  /** Restores a clone's device state from its template's state file and runs it. */
  async #restore(stateFile: string): Promise<void> {
    if (!safeExecPath.test(stateFile)) throw invalid(`Template state path "${stateFile}" is not valid`);
    await this.#qmp.execute('migrate-set-capabilities', {
      capabilities: [{ capability: 'x-ignore-shared', state: true }],
    });
    await this.#qmp.execute('migrate-incoming', { uri: `exec:cat ${stateFile}` });
    await this.#waitMigration('Restoring the VM from its template', 30_000);
    // The template was paused when it was saved, so the clone comes up paused.
    await this.#qmp.execute('cont');
    const st = (await this.#qmp.execute('query-status')) as { status?: unknown };
    if (st?.status !== 'running')
      throw internal(`Clone is not running after restore (${String(st?.status)})`);
  }

  /**
   * Pauses the VM and writes its device state (not its RAM, which is in the shared file) to
   * `file` for clones. The VM stays paused. @throws InternalError when QEMU fails
   */
  async saveTemplateState(file: string): Promise<void> {
    if (!safeExecPath.test(file)) throw invalid(`Template state path "${file}" is not valid`);
    await this.#qmp.execute('stop');
    await this.#qmp.execute('migrate-set-capabilities', {
      capabilities: [{ capability: 'x-ignore-shared', state: true }],
    });
    await this.#qmp.execute('migrate', { uri: `exec:cat > ${file}` });
    await this.#waitMigration('Saving the template state', 60_000);
  }

  /**
   * Re-attaches to a VM started by an earlier daemon. Undefined when its QEMU is gone (or
   * the pid now belongs to another process).
   */
  static async adopt(dir: string, deps: VmDeps): Promise<QemuVm | undefined> {
    const facts = await readFacts(dir);
    if (!facts) return undefined;
    if (!isProcessAlive(facts.pid) || (await processStartTime(facts.pid)) !== facts.pidStartTime)
      return undefined;
    const sockets = QemuVm.sockets(dir);
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(sockets.qmp, {
        timeoutMs: 5_000,
        log: deps.log,
        ...(deps.clock ? { clock: deps.clock } : {}),
      });
    } catch (err) {
      deps.log.warn('Cannot reconnect to QMP of an adopted VM', { dir, err: err as Error });
      return undefined;
    }
    const clock = deps.clock ?? systemClock;
    // Not our child any more: watch the pid.
    const exited = (async () => {
      for (;;) {
        await clock.sleep(1000);
        if (!isProcessAlive(facts.pid) || (await processStartTime(facts.pid)) !== facts.pidStartTime) return;
      }
    })();
    const vm = new QemuVm(dir, facts, qmp, exited, deps);
    vm.#captureConsole(sockets.console);
    return vm;
  }

  get facts(): VmFacts {
    return this.#facts;
  }

  get pid(): number {
    return this.#facts.pid;
  }

  get ctlSocket(): string {
    return QemuVm.sockets(this.dir).ctl;
  }

  /** Resolves when QEMU has exited. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  isAlive(): boolean {
    return isProcessAlive(this.#facts.pid);
  }

  /** Console output goes to console.log (at most 1 MiB, then console.log.1). */
  #captureConsole(path: string): void {
    const file = join(this.dir, 'console.log');
    let size = 0;
    let writing = Promise.resolve();
    const s = createConnection(path);
    this.#console = s;
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      s.pause();
      writing = writing
        .then(async () => {
          if (size + chunk.length > consoleMaxBytes) {
            await unlessMissing(rename(file, file + '.1'));
            size = 0;
          }
          await writeFile(file, chunk, { flag: 'a' });
          size += chunk.length;
        })
        .catch((err: unknown) => {
          // the guest keeps running; only its console trace is incomplete
          this.#log.debug('Cannot write the guest console', { vm: this.dir, error: describeError(err) });
        })
        .finally(() => {
          if (!this.#consoleClosed) s.resume();
        });
    });
    void stat(file).then(
      (st) => {
        size = st.size;
      },
      () => {},
    );
  }

  #persisting: Promise<void> = Promise.resolve();

  /**
   * Writes vm.json. Serialised: a device change and a background unplug completion (SCSI
   * unplugs are immediate) may persist at the same time, and each write must see the facts
   * as they are when it runs.
   */
  #persist(): Promise<void> {
    const next = this.#persisting.catch(() => {}).then(() => writeFacts(this.dir, this.#facts));
    this.#persisting = next;
    return next;
  }

  #freePort(): string {
    const used = new Set(this.#facts.devices.map((d) => d.port));
    for (let i = 0; i < this.#facts.rootPorts; i++) {
      if (!used.has(`rp${i}`)) return `rp${i}`;
    }
    throw unavailable(
      `VM "${this.#facts.vmId}" has no free PCIe slot for another device (${this.#facts.rootPorts} in use)`,
    );
  }

  /** A free SCSI target on `scsi0` (port `scsi:N`, one LUN each). */
  #freeScsiTarget(): string {
    const used = new Set(this.#facts.devices.map((d) => d.port));
    for (let i = 1; i < 256; i++) if (!used.has(`scsi:${i}`)) return `scsi:${i}`;
    throw unavailable(`VM "${this.#facts.vmId}" has no free SCSI target for another disk`);
  }

  /**
   * Hot-adds a disk image whose serial the guest looks up: a SCSI LUN on the VM's virtio-scsi
   * controller, or on VMs without one (started by an older daemon) a virtio-blk PCIe device.
   * @throws ServiceUnavailable when no slot is free; InternalError when QEMU refuses
   */
  async addDisk(options: { file: string; format: 'qcow2' | 'raw'; readonly: boolean }): Promise<VmDevice> {
    const id = `d${this.#facts.nextDeviceSeq++}`;
    const port = this.#facts.scsi ? this.#freeScsiTarget() : this.#freePort();
    const serial = `h8s-${id}`;
    const dev: VmDevice = { id, kind: 'disk', port, file: options.file, serial };
    this.#facts.devices.push(dev);
    await this.#persist();
    try {
      await this.#qmp.execute('blockdev-add', {
        'node-name': `blk-${id}`,
        driver: options.format,
        'read-only': options.readonly,
        file: { driver: 'file', filename: options.file, 'read-only': options.readonly },
      });
      await this.#qmp.execute(
        'device_add',
        port.startsWith('scsi:')
          ? {
              driver: 'scsi-hd',
              id: `dev-${id}`,
              drive: `blk-${id}`,
              bus: 'scsi0.0',
              channel: 0,
              'scsi-id': Number(port.slice(5)),
              lun: 0,
              serial,
            }
          : { driver: 'virtio-blk-pci', id: `dev-${id}`, drive: `blk-${id}`, bus: port, serial },
      );
    } catch (err) {
      await bestEffort(
        this.#log,
        `remove block node blk-${id} after a failed hot-plug`,
        this.#qmp.execute('blockdev-del', { 'node-name': `blk-${id}` }),
      );
      this.#facts.devices = this.#facts.devices.filter((d) => d.id !== id);
      await this.#persist();
      throw err;
    }
    return dev;
  }

  /** Hot-plugs a virtio-net NIC backed by an existing host tap device. */
  async addNic(options: { hostDevice: string; mac: string }): Promise<VmDevice> {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(options.mac))
      throw invalid(`MAC address "${options.mac}" is not valid`);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(options.hostDevice))
      throw invalid(`Tap device name "${options.hostDevice}" is not valid`);
    const id = `n${this.#facts.nextDeviceSeq++}`;
    const port = this.#freePort();
    const dev: VmDevice = {
      id,
      kind: 'nic',
      port,
      hostDevice: options.hostDevice,
      mac: options.mac.toLowerCase(),
    };
    this.#facts.devices.push(dev);
    await this.#persist();
    try {
      // vhost=off: this host has no vhost-net; QEMU's userspace virtio-net backend is used.
      await this.#qmp.execute('netdev_add', {
        type: 'tap',
        id: `net-${id}`,
        ifname: options.hostDevice,
        script: 'no',
        downscript: 'no',
      });
      await this.#qmp.execute('device_add', {
        driver: 'virtio-net-pci',
        id: `dev-${id}`,
        netdev: `net-${id}`,
        mac: dev.mac,
        bus: port,
      });
    } catch (err) {
      await bestEffort(
        this.#log,
        `remove netdev net-${id} after a failed hot-plug`,
        this.#qmp.execute('netdev_del', { id: `net-${id}` }),
      );
      this.#facts.devices = this.#facts.devices.filter((d) => d.id !== id);
      await this.#persist();
      throw err;
    }
    return dev;
  }

  /**
   * Unplugs a device. The guest releases PCIe slots after its hot-plug button delay (SCSI
   * LUNs at once), so the backend is deleted in the background when QEMU reports
   * DEVICE_DELETED.
   */
  async removeDevice(id: string): Promise<void> {
    const dev = this.#facts.devices.find((d) => d.id === id);
    if (!dev) return;
    const deleted = this.#qmp.waitEvent(
      (e) => e.event === 'DEVICE_DELETED' && e.data['device'] === `dev-${id}`,
      30_000,
    );
    try {
      await this.#qmp.execute('device_del', { id: `dev-${id}` });
    } catch (err) {
      this.#log.debug('device_del failed', { id, err: err as Error });
    }
    void deleted
      .then(async () => {
        if (dev.kind === 'disk') await this.#qmp.execute('blockdev-del', { 'node-name': `blk-${id}` });
        else await this.#qmp.execute('netdev_del', { id: `net-${id}` });
        this.#facts.devices = this.#facts.devices.filter((d) => d.id !== id);
        await this.#persist();
      })
      .catch((err: unknown) => this.#log.debug('Device backend not released', { id, err: err as Error }));
  }

  /** Bytes of RAM the guest has now (its size minus the balloon). @throws as QmpClient.execute */
  async balloonActualBytes(): Promise<number> {
    if (this.#facts.balloon === false) return this.#facts.memoryMiB * 1024 * 1024;
    const r = (await this.#qmp.execute('query-balloon', undefined, 5000)) as { actual?: unknown };
    if (typeof r?.actual !== 'number') throw internal('query-balloon returned no size');
    return r.actual;
  }

  /**
   * Asks the guest's balloon driver to leave it `bytes` of RAM (clamped to [64 MiB, guest
   * size]); it inflates or deflates in the background.
   */
  async setBalloonTarget(bytes: number): Promise<void> {
    // Templates and clones have no balloon (see VmSpec.ram).
    if (this.#facts.balloon === false) return;
    const ram = this.#facts.memoryMiB * 1024 * 1024;
    const value = Math.min(ram, Math.max(64 * 1024 * 1024, Math.floor(bytes / 4096) * 4096));
    await this.#qmp.execute('balloon', { value }, 5000);
  }

  /** The last `maxBytes` of the guest console (for error messages). */
  async consoleTail(maxBytes = 2000): Promise<string> {
    const text = (await unlessMissing(readFile(join(this.dir, 'console.log'), 'latin1'))) ?? '';
    return text.slice(-maxBytes);
  }

  /** Proportional set size of QEMU in bytes (from /proc/PID/smaps_rollup). */
  async pssBytes(): Promise<number> {
    const text = await readFile(`/proc/${this.#facts.pid}/smaps_rollup`, 'utf8');
    const m = /^Pss:\s+(\d+) kB/m.exec(text);
    if (!m) throw internal('No Pss line in smaps_rollup');
    return Number(m[1]) * 1024;
  }

  /** Asks QEMU to quit, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stopping = true;
    if (this.isAlive()) {
      // QEMU may already be going (the socket closes under the request): SIGKILL follows anyway
      await bestEffort(this.#log, 'ask QEMU to quit', this.#qmp.execute('quit', undefined, 2000));
      const killed = this.#clock.sleep(graceMs).then(() => {
        if (isProcessAlive(this.#facts.pid)) {
          try {
            process.kill(this.#facts.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      });
      // QEMU is a detached, unref'd child: keep the event loop alive while it exits.
      const keepAlive = setInterval(() => {}, 100);
      try {
        await Promise.race([this.#exited, killed]);
        await this.#exited;
      } finally {
        clearInterval(keepAlive);
      }
    }
    this.detach();
    await bestEffort(
      this.#log,
      `remove the cgroup of VM ${this.#facts.vmId}`,
      removeVmCgroup(this.#facts.vmId),
    );
  }

  /** Closes the host's connections to the VM; QEMU keeps running. */
  detach(): void {
    this.#consoleClosed = true;
    this.#console?.destroy();
    this.#qmp.close();
  }

  get isStopping(): boolean {
    return this.#stopping;
  }
}

async function writeFacts(dir: string, facts: VmFacts): Promise<void> {
  const tmp = join(dir, 'vm.json.tmp');
  await writeFile(tmp, JSON.stringify(facts, null, 2));
  await rename(tmp, join(dir, 'vm.json'));
}

export async function readFacts(dir: string): Promise<VmFacts | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'vm.json'), 'utf8');
  } catch {
    return undefined;
  }
  return parseWith(VmFactsSchema, parseJson(text, 'vm.json'), `VM state "${join(dir, 'vm.json')}"`);
}
