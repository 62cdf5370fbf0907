/**
 * One hyper pod: a VM session plus the sandbox's containers, their log streams and exec
 * sessions. Implements the `SandboxHandle` contract (runtime/sandbox-handler.ts).
 *
 * Invariants: every stream id, device and exit report is persisted in `hyper.json` before the
 * guest request that depends on it, so a restarted daemon resumes logs from the offsets it
 * recorded and reports each exit exactly once.
 */
import { rename, rm, stat } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import {
  bestEffort,
  conflict,
  createRateLimitedLogger,
  forbidden,
  internal,
  invalid,
  isNotFound,
  notFound,
  systemClock,
  unlessMissing,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import { CriLogWriter } from '../cri-log.js';
import type {
  AttachOptions,
  ContainerStats,
  ExecOptions,
  LinuxContainerResources,
  PodSandboxConfig,
  StreamSession,
} from '../runtime-service.js';
import type { ContainerSpec, HandlerEvents, SandboxHandle } from '../sandbox-handler.js';
import { signalNumber } from '../signals.js';
import type { OutputSink } from './agent-connection.js';
import type { OverlayTemplates } from './overlay-templates.js';
import { podFilesVolumeId, readPodFiles, sendPodFiles } from './pod-files.js';
import { ContainerStreams } from './container-streams.js';
import type { AgentEvent, ExitEvent } from './protocol.js';
import { writeSandboxState, type ContainerRecord, type SandboxState } from './sandbox-state.js';
import type { PreparedContainer, PreparedImage } from './vm-pool.js';
import type { VmSession } from './vm-session.js';

export interface HyperSandboxDeps {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly stateDir: string;
  readonly events: HandlerEvents;
  readonly state: SandboxState;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly allowDebugAnnotations: boolean;
  readonly onDestroyed: () => void;
  /** Makes containers' qcow2 overlays by copying a per-image template. */
  readonly overlays: OverlayTemplates;
  /** Told the root disk of each container created (the pool prepares the last one used). */
  readonly noteImage?: (image: PreparedImage, cpus: number, memoryMiB: number) => void;
  /** Told each time a container claims the one its pooled VM prepared. */
  readonly onClaimed?: () => void;
}

/** A created (not yet started) container's record in the sandbox state. */
function newContainerRecord(spec: ContainerSpec, disk: string, overlay: string): ContainerRecord {
  return {
    id: spec.id,
    disk,
    overlay,
    volumes: [],
    logPath: spec.logPath,
    tty: spec.config.tty ?? false,
    stdout: 0,
    stderr: 0,
    stdin: 0,
    offsets: {},
    ended: [],
    started: false,
    exitReported: false,
  };
}

/** A container's cgroup limits as the guest agent takes them. */
function agentResources(spec: ContainerSpec): Record<string, number> {
  const res = spec.config.resources;
  return {
    ...(res?.memoryLimitInBytes ? { memoryBytes: res.memoryLimitInBytes } : {}),
    ...(res?.pidsLimit ? { pidsLimit: res.pidsLimit } : {}),
    ...(res?.cpuQuota ? { cpuQuota: res.cpuQuota } : {}),
    ...(res?.cpuPeriod ? { cpuPeriod: res.cpuPeriod } : {}),
  };
}

/** The process to run for a container: image config merged with the CRI config. */
export function containerProcess(spec: ContainerSpec): {
  args: string[];
  env: string[];
  cwd: string;
  user: string;
} {
  const c = spec.config;
  const img = spec.image.config;
  const command = c.command && c.command.length > 0 ? [...c.command] : undefined;
  const args = c.args && c.args.length > 0 ? [...c.args] : undefined;
  let argv: string[];
  if (command) argv = [...command, ...(args ?? [])];
  else argv = [...img.entrypoint, ...(args ?? img.cmd)];
  if (argv.length === 0) {
    throw invalid(
      `Container "${c.metadata.name}" has no command: the image has no ENTRYPOINT or CMD and none was given`,
      {
        details: { causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'command' }] },
      },
    );
  }
  const env = new Map<string, string>();
  for (const e of img.env) {
    const i = e.indexOf('=');
    if (i > 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  for (const kv of c.envs ?? []) env.set(kv.key, kv.value);
  const sec = c.security;
  let user = img.user;
  if (sec?.runAsUser !== undefined)
    user = `${sec.runAsUser}${sec.runAsGroup !== undefined ? `:${sec.runAsGroup}` : ''}`;
  else if (sec?.runAsUsername) user = sec.runAsUsername;
  return {
    args: argv,
    env: [...env].map(([k, v]) => `${k}=${v}`),
    cwd: c.workingDir || img.workingDir || '/',
    user,
  };
}

/** The guest's `terminationMessagePath` field of a create or claim request. */
function termPath(spec: ContainerSpec): { terminationMessagePath?: string } {
  const p = spec.config.terminationMessagePath;
  return p ? { terminationMessagePath: p } : {};
}

export class HyperSandbox implements SandboxHandle {
  readonly #d: HyperSandboxDeps;
  readonly #log: Logger;
  readonly #guestLog: Logger;
  readonly #clock: Clock;
  readonly #state: SandboxState;
  #saving: Promise<void> = Promise.resolve();
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #writers = new Map<string, CriLogWriter>();
  /** Per container: resolves when its log streams have ended. */
  readonly #logsDone = new Map<string, Promise<void>>();
  readonly #exitWaiters = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  readonly #streams: ContainerStreams;
  /** Exit codes of containers whose exit was reported (for attach sessions). */
  readonly #exitCodes = new Map<string, number>();
  #stopped = false;
  #dead = false;

  constructor(d: HyperSandboxDeps) {
    this.#d = d;
    this.#state = d.state;
    this.#clock = d.clock ?? systemClock;
    this.#log = d.log.child({ sandbox: d.id, vmId: d.state.vmId });
    this.#guestLog = createRateLimitedLogger(this.#log, { burst: 5, windowMs: 10_000 });
    this.#streams = new ContainerStreams({
      conn: () => this.#conn(),
      nextStreamId: () => this.#streamId(),
      save: () => this.#save(),
      log: this.#log,
    });
    for (const c of Object.values(this.#state.containers)) {
      if (c.started && !c.exitReported) this.#exitWaiter(c.id);
    }
  }

  #sessionRef: VmSession | undefined;

  get session(): VmSession {
    if (!this.#sessionRef) throw internal('Sandbox has no VM session yet');
    return this.#sessionRef;
  }

  /** Guest callbacks of this sandbox (usable before `bindSession`, during adoption's reconnect). */
  readonly handlers = {
    onEvent: (seq: number, ev: AgentEvent) => this.#onEvent(seq, ev),
    onViolation: (reason: string) => this.#onViolation(reason),
    onClose: () => this.#onClose(),
  };

  /** Binds the sandbox to its VM session, with the container a pooled VM prepared, if any. */
  bindSession(session: VmSession, prepared?: PreparedContainer): void {
    this.#sessionRef = session;
    session.handlers = this.handlers;
    this.#prepared = prepared;
  }

  /** A container the pooled VM prepared before this pod took it; the first matching create claims it. */
  #prepared: PreparedContainer | undefined;

  /**
   * Claims the prepared container for `spec` when it fits (same image, a writable root, and
   * only `files` and `emptyDir` mounts, which the guest moves into the waiting process's mount
   * namespace, so a pod with its service-account token keeps the pooled start): its overlay is
   * already attached and mounted and its process waits in the container. 'unfit' when it does
   * not fit, 'failed' (and released) when the guest refused; the caller then creates the
   * container normally.
   */
  async #claimPrepared(
    spec: ContainerSpec,
    pre: PreparedContainer,
    overlay: string,
    mounts: readonly Record<string, unknown>[],
  ): Promise<'claimed' | 'unfit' | 'failed'> {
    if (
      spec.rootfs.kind !== 'disk' ||
      spec.rootfs.disk.path !== pre.image ||
      mounts.some((m) => m.type !== 'files' && m.type !== 'emptyDir') ||
      (spec.config.mounts ?? []).some((m) => m.type === 'block') ||
      spec.config.security?.readonlyRootfs
    )
      return 'unfit';
    const conn = this.#conn();
    // The overlay moves to the sandbox's directory (QEMU keeps its open file); across file
    // systems it stays where it is.
    const file = await rename(pre.overlay, overlay).then(
      () => overlay,
      () => pre.overlay,
    );
    this.#state.containers[spec.id] = newContainerRecord(spec, pre.deviceId, file);
    try {
      await this.#save();
      await conn.request('claimContainer', {
        from: pre.containerId,
        id: spec.id,
        resources: agentResources(spec),
        mounts,
        ...termPath(spec),
      });
    } catch (err) {
      this.#log.warn('Cannot claim the prepared container; creating one', {
        container: spec.id,
        err: err as Error,
      });
      delete this.#state.containers[spec.id];
      await this.#save();
      await this.#releasePrepared({ ...pre, overlay: file });
      return 'failed';
    }
    this.#d.onClaimed?.();
    return 'claimed';
  }

  /** Removes a prepared container nobody claimed (its process, disk and overlay). */
  async #releasePrepared(pre: PreparedContainer): Promise<void> {
    if (!this.#dead)
      await bestEffort(
        this.#log,
        'remove an unclaimed prepared container',
        this.session.conn.request('removeContainer', { id: pre.containerId }),
      );
    await bestEffort(
      this.#log,
      'unplug an unclaimed prepared root disk',
      this.session.vm.removeDevice(pre.deviceId),
    );
    await rm(pre.overlay, { force: true });
  }

  /** Log sinks for resuming after adoption. */
  resumeSinks(): { id: number; acked: number; sink: OutputSink }[] {
    const out: { id: number; acked: number; sink: OutputSink }[] = [];
    for (const c of Object.values(this.#state.containers)) {
      if (!c.started) continue;
      const streams: [number, 'stdout' | 'stderr'][] = [[c.stdout, 'stdout']];
      if (c.stderr) streams.push([c.stderr, 'stderr']);
      const live = streams.filter(([id]) => id && !c.ended.includes(id));
      if (live.length === 0) continue;
      const sinks = live.map(([id, name]) => ({
        id,
        acked: c.offsets[String(id)] ?? 0,
        sink: this.#logSink(c, id, name),
      }));
      this.#trackLogs(
        c.id,
        sinks.map((s) => s.sink),
      );
      out.push(...sinks);
    }
    return out;
  }

  /** Stdin streams to keep across adoption. */
  resumeInputs(): number[] {
    return Object.values(this.#state.containers)
      .filter((c) => c.started && !c.exitReported && c.stdin)
      .map((c) => c.stdin);
  }

  info(): Readonly<Record<string, unknown>> {
    const f = this.session.vm.facts;
    return {
      vmId: f.vmId,
      pid: f.pid,
      accel: f.accel,
      cpus: f.cpus,
      memoryMiB: f.memoryMiB,
      kernelRelease: this.session.conn.hello.kernelRelease,
      agent: this.session.conn.hello.agent,
    };
  }

  ip(): string {
    const first = this.#d.config.network?.interfaces[0]?.addresses[0];
    return first ? (first.split('/')[0] ?? '') : '';
  }

  // ---- persistence ----

  #save(): Promise<void> {
    const snapshot = JSON.parse(JSON.stringify(this.#state)) as SandboxState;
    this.#saving = this.#saving
      .then(() => writeSandboxState(this.#d.stateDir, snapshot))
      .catch((err: unknown) => {
        this.#log.error('Cannot persist sandbox state', { err: err as Error });
      });
    return this.#saving;
  }

  #saveSoon(): void {
    if (this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#save();
    }, 500);
  }

  #streamId(): number {
    return this.#state.nextStreamId++;
  }

  #record(id: string): ContainerRecord {
    const c = this.#state.containers[id];
    if (!c) throw notFound(`Container "${id}" not found in sandbox "${this.#d.id}"`);
    return c;
  }

  #exitWaiter(id: string): { promise: Promise<void>; resolve: () => void } {
    let w = this.#exitWaiters.get(id);
    if (!w) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      w = { promise, resolve };
      this.#exitWaiters.set(id, w);
    }
    return w;
  }

  #conn() {
    if (this.#dead) throw conflict(`Sandbox "${this.#d.id}" is not running`);
    return this.session.conn;
  }

  // ---- guest events ----

  async #onEvent(seq: number, ev: AgentEvent): Promise<void> {
    if (ev.type === 'oom') {
      this.#guestLog.info('Container hit its memory limit', {
        container: ev.container,
        oomKills: ev.oomKills,
      });
    } else if (ev.execId) {
      this.#streams.execExited(ev);
    } else {
      await this.#containerExited(ev);
    }
    this.#state.lastEventSeq = seq;
    await this.#save();
  }

  async #containerExited(ev: ExitEvent): Promise<void> {
    const c = this.#state.containers[ev.container];
    if (!c || c.exitReported) return;
    // The guest sends the exit after the output streams closed; wait until the log has them.
    const logs = this.#logsDone.get(c.id);
    if (logs) await Promise.race([logs, this.#clock.sleep(5000)]);
    const writer = this.#writers.get(c.id);
    if (writer) {
      await bestEffort(this.#log, 'close the log of an exited container', writer.close());
      this.#writers.delete(c.id);
    }
    c.exitReported = true;
    this.#exitCodes.set(c.id, ev.exitCode);
    await this.#save();
    let reason = ev.exitCode === 0 ? 'Completed' : 'Error';
    let message: string | undefined;
    if (ev.oomKilled) reason = 'OOMKilled';
    if (ev.startErrorCode) {
      reason = 'ContainerCannotRun';
      message = ev.startError ?? 'The container process could not be started';
    }
    if (ev.droppedBytes)
      message = `${message ? message + '; ' : ''}${ev.droppedBytes} bytes of output were discarded while nobody read them`;
    this.#d.events.containerExited({
      containerId: c.id,
      exitCode: ev.exitCode,
      finishedAt: ev.finishedAtMs * 1_000_000,
      reason,
      ...(message ? { message } : {}),
      ...(ev.terminationMessage ? { terminationMessage: ev.terminationMessage } : {}),
    });
    this.#exitWaiter(c.id).resolve();
  }

  #onViolation(reason: string): void {
    this.#log.error('Guest agent broke the protocol; stopping the sandbox', { reason });
    void this.#die(`guest agent broke the protocol: ${reason}`, true);
  }

  #onClose(): void {
    if (this.#stopped || !this.#sessionRef) return;
    void this.session.vm.exited.then(() => {
      if (!this.#stopped) void this.#die('the VM exited unexpectedly', false);
    });
    // The connection closed but QEMU lives: the guest dropped the channel. Nothing more can be
    // done with this VM.
    setTimeout(() => {
      if (!this.#stopped && !this.#dead && this.session.vm.isAlive())
        void this.#die('the guest agent connection closed', true);
    }, 2000).unref();
  }

  async #die(reason: string, kill: boolean): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    this.session.conn.close();
    if (kill) await bestEffort(this.#log, 'kill the VM of a failed sandbox', this.session.vm.stop(0));
    await this.#reportAllExited(`Sandbox failed: ${reason}`);
    this.#d.events.sandboxDied(reason);
  }

  async #reportAllExited(message: string): Promise<void> {
    for (const c of Object.values(this.#state.containers)) {
      if (!c.started || c.exitReported) continue;
      c.exitReported = true;
      this.#exitCodes.set(c.id, 137);
      await bestEffort(this.#log, 'close the log of a container of a stopped sandbox', async () =>
        this.#writers.get(c.id)?.close(),
      );
      this.#writers.delete(c.id);
      this.#d.events.containerExited({
        containerId: c.id,
        exitCode: 137,
        finishedAt: this.#clock.now() * 1_000_000,
        reason: 'Error',
        message,
      });
      this.#exitWaiter(c.id).resolve();
    }
    this.#streams.failAllExecs(this.#clock.now());
    await this.#save();
  }

  // ---- logs ----

  #writer(c: ContainerRecord): CriLogWriter {
    let w = this.#writers.get(c.id);
    if (!w) {
      w = new CriLogWriter({ path: c.logPath, clock: this.#clock });
      this.#writers.set(c.id, w);
    }
    return w;
  }

  #logSink(
    c: ContainerRecord,
    streamId: number,
    name: 'stdout' | 'stderr',
  ): OutputSink & { done: Promise<void> } {
    let done!: () => void;
    const promise = new Promise<void>((r) => {
      done = r;
    });
    return {
      done: promise,
      write: async (chunk) => {
        await this.#writer(c).write(name, chunk);
        // Data may arrive while an adopted sandbox is still reconnecting (no session bound yet).
        const off = this.#sessionRef?.conn.outputOffset(streamId);
        c.offsets[String(streamId)] = (off ?? c.offsets[String(streamId)] ?? 0) + chunk.length;
        this.#saveSoon();
        await this.#streams.toAttached(c.id, name, chunk);
      },
      end: () => {
        c.ended.push(streamId);
        this.#saveSoon();
        done();
      },
      fail: () => done(),
    };
  }

  #trackLogs(id: string, sinks: readonly (OutputSink & { done?: Promise<void> })[]): void {
    this.#logsDone.set(
      id,
      Promise.all(sinks.map((s) => s.done ?? Promise.resolve())).then(() => undefined),
    );
  }

  // ---- containers ----

  async createContainer(spec: ContainerSpec): Promise<void> {
    this.#conn(); // the sandbox must be running
    if (this.#state.containers[spec.id])
      throw conflict(`Container "${spec.id}" already exists in this sandbox`);
    if (spec.rootfs.kind !== 'disk')
      throw invalid('The hyper runtime needs the image as a root disk (rootfsKind "disk")');
    if (spec.config.security?.privileged) {
      throw forbidden(
        'Privileged containers are not supported by the hyper runtime (the VM is the isolation boundary); use runc',
      );
    }
    const disk = spec.rootfs.disk;
    const mounts: Record<string, unknown>[] = [];
    const volumeFiles: { file: string; path: string; readonly: boolean; fsType: string }[] = [];
    for (const [i, m] of (spec.config.mounts ?? []).entries()) {
      const field = `mounts[${i}]`;
      if (m.type === 'tmpfs') {
        mounts.push({ type: 'tmpfs', containerPath: m.containerPath, readonly: m.readonly ?? false });
      } else if (m.type === 'files') {
        mounts.push({
          type: 'files',
          containerPath: m.containerPath,
          source: await this.#ensureFiles(m.hostPath),
          readonly: true,
          ...(m.subPath ? { subPath: m.subPath } : {}),
        });
      } else if (m.type === 'emptyDir') {
        mounts.push({
          type: 'emptyDir',
          containerPath: m.containerPath,
          source: m.name ?? '',
          readonly: m.readonly ?? false,
          ...(m.medium ? { medium: m.medium } : {}),
          ...(m.sizeLimitBytes ? { sizeLimitBytes: m.sizeLimitBytes } : {}),
          ...(m.subPath ? { subPath: m.subPath } : {}),
        });
      } else if (m.type === 'block') {
        const st = await unlessMissing(stat(m.hostPath));
        if (!st || !(st.isFile() || st.isBlockDevice())) {
          throw invalid(
            `Volume "${m.hostPath}" for "${m.containerPath}" is not a disk image or block device`,
            {
              details: {
                causes: [
                  {
                    reason: 'FieldValueInvalid',
                    message: 'Not a disk image or block device',
                    field: `${field}.hostPath`,
                  },
                ],
              },
            },
          );
        }
        volumeFiles.push({
          file: m.hostPath,
          path: m.containerPath,
          readonly: m.readonly ?? false,
          fsType: m.fsType ?? 'ext4',
        });
      } else {
        throw invalid(
          `Bind mount of "${m.hostPath}" is not supported by the hyper runtime: the VM shares no host directories; use a block volume, files, emptyDir or tmpfs`,
          {
            details: {
              causes: [
                {
                  reason: 'FieldValueNotSupported',
                  message: 'Supported types: block, tmpfs, files, emptyDir',
                  field: `${field}.type`,
                },
              ],
            },
          },
        );
      }
    }
    const overlay = `${this.#d.stateDir}/c-${spec.id.slice(0, 16)}.qcow2`;
    const vmFacts = this.session.vm.facts;
    if (vmFacts && this.#d.noteImage) {
      // The pool prepares the next VM's container from this image and reads this program ahead.
      const proc = containerProcess(spec);
      const path = proc.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '';
      this.#d.noteImage(
        { path: disk.path, fsType: disk.fsType, warm: proc.args.slice(0, 1), warmPath: path },
        vmFacts.cpus,
        vmFacts.memoryMiB,
      );
    }
    const pre = this.#prepared;
    this.#prepared = undefined;
    let unused: PreparedContainer | undefined;
    if (pre) {
      const claim = await this.#claimPrepared(spec, pre, overlay, mounts);
      if (claim === 'claimed') {
        this.#specs.set(spec.id, spec);
        return;
      }
      if (claim === 'unfit') unused = pre;
    }
    try {
      await this.#createOnDisk(spec, disk, overlay, mounts, volumeFiles);
    } finally {
      // Not for this container: give its memory and disk back once this one is up.
      if (unused) void this.#releasePrepared(unused);
    }
  }

  async #createOnDisk(
    spec: ContainerSpec,
    disk: { path: string; fsType: string },
    overlay: string,
    mounts: Record<string, unknown>[],
    volumeFiles: { file: string; path: string; readonly: boolean; fsType: string }[],
  ): Promise<void> {
    const conn = this.#conn();
    // The container's writable root: a qcow2 overlay whose backing file is the image's
    // shared read-only disk.
    await this.#d.overlays.create(disk.path, overlay);
    const record = newContainerRecord(spec, '', overlay);
    this.#state.containers[spec.id] = record;
    const vm = this.session.vm;
    try {
      const dev = await vm.addDisk({ file: overlay, format: 'qcow2', readonly: false });
      record.disk = dev.id;
      for (const v of volumeFiles) {
        const vd = await vm.addDisk({ file: v.file, format: 'raw', readonly: v.readonly });
        record.volumes.push(vd.id);
        mounts.push({
          type: 'block',
          containerPath: v.path,
          serial: 'serial' in vd ? vd.serial : '',
          fsType: v.fsType,
          readonly: v.readonly,
        });
      }
      await this.#save();
      await conn.request(
        'createContainer',
        {
          id: spec.id,
          root: {
            serial: 'serial' in dev ? dev.serial : '',
            fsType: disk.fsType,
            readonly: spec.config.security?.readonlyRootfs ?? false,
          },
          mounts,
          resources: agentResources(spec),
          ...termPath(spec),
          waitMs: 60_000,
        },
        75_000,
      );
    } catch (err) {
      const tail = await vm.consoleTail(1500);
      if (tail)
        this.#log.warn('Container set-up failed; guest console follows', {
          container: spec.id,
          console: tail,
        });
      await this.#releaseDevices(record);
      delete this.#state.containers[spec.id];
      await this.#save();
      throw err;
    }
    // Kept in memory for start: the process spec (the core keeps the spec too).
    this.#specs.set(spec.id, spec);
  }

  readonly #specs = new Map<string, ContainerSpec>();
  /** One copy at a time per file volume, so generations reach the guest in order. */
  readonly #fileSends = new Map<string, Promise<void>>();

  /** Copies a `files` volume into the guest once (ADR 0008); returns its guest volume id. */
  async #ensureFiles(hostPath: string): Promise<string> {
    const volume = podFilesVolumeId(hostPath);
    if (!(this.#state.files ?? []).includes(hostPath)) await this.#sendFiles(hostPath);
    return volume;
  }

  #sendFiles(hostPath: string): Promise<void> {
    const prev = this.#fileSends.get(hostPath) ?? Promise.resolve();
    const next = prev
      .catch(() => undefined) // the previous send's caller saw its failure
      .then(async () => {
        const conn = this.#conn();
        const gen = await readPodFiles(hostPath);
        await sendPodFiles((op, body) => conn.request(op, body, 30_000), podFilesVolumeId(hostPath), gen);
        if (!(this.#state.files ?? []).includes(hostPath)) {
          this.#state.files = [...(this.#state.files ?? []), hostPath];
          await this.#save();
        }
      });
    this.#fileSends.set(hostPath, next);
    return next;
  }

  async syncFiles(hostPath: string): Promise<void> {
    // a volume no container mounts yet is copied when the first one is created
    if (!(this.#state.files ?? []).includes(hostPath)) return;
    await this.#sendFiles(hostPath);
  }

  async #releaseDevices(c: ContainerRecord): Promise<void> {
    const vm = this.session.vm;
    for (const id of [c.disk, ...c.volumes])
      if (id) await bestEffort(this.#log, "unplug a removed container's disk", vm.removeDevice(id));
    await rm(c.overlay, { force: true });
  }

  /** After adoption the core hands the specs back. */
  rememberSpec(spec: ContainerSpec): void {
    this.#specs.set(spec.id, spec);
  }

  async startContainer(containerId: string): Promise<void> {
    const conn = this.#conn();
    const c = this.#record(containerId);
    const spec = this.#specs.get(containerId);
    if (!spec) throw internal(`Container "${containerId}" has no spec in this daemon`);
    if (c.started) throw conflict(`Container "${containerId}" was already started`);
    const proc = containerProcess(spec);
    c.stdout = this.#streamId();
    c.stderr = c.tty ? 0 : this.#streamId();
    c.stdin = spec.config.stdin ? this.#streamId() : 0;
    c.started = true;
    const sinks = [this.#logSink(c, c.stdout, 'stdout')];
    if (c.stderr) sinks.push(this.#logSink(c, c.stderr, 'stderr'));
    this.#trackLogs(c.id, sinks);
    this.#exitWaiter(c.id);
    await this.#save();
    conn.openOutput(c.stdout, sinks[0] as OutputSink);
    if (c.stderr) conn.openOutput(c.stderr, sinks[1] as OutputSink);
    if (c.stdin) conn.openInput(c.stdin);
    let started: Record<string, unknown>;
    try {
      started = await conn.request('startContainer', {
        id: c.id,
        process: { ...proc, tty: c.tty, stdin: c.stdin, stdout: c.stdout, stderr: c.stderr },
      });
    } catch (err) {
      c.started = false;
      conn.dropOutput(c.stdout);
      if (c.stderr) conn.dropOutput(c.stderr);
      await this.#save();
      throw err;
    }
    if (typeof started['startError'] === 'string') {
      // The executable could not run; the exit event follows. Leave the reason in the log too.
      await bestEffort(
        this.#log,
        'log why a container could not start',
        this.#writer(c).write('stderr', Buffer.from(`${started['startError'].slice(0, 1024)}\n`)),
      );
    }
    this.#d.events.containerStarted(c.id, this.#clock.now() * 1_000_000);
  }

  async stopContainer(containerId: string, timeoutSeconds: number, stopSignal: string): Promise<void> {
    const c = this.#record(containerId);
    if (!c.started || c.exitReported) return;
    const conn = this.#conn();
    const exited = this.#exitWaiter(containerId).promise;
    await conn
      .request('signal', { container: containerId, signal: signalNumber(stopSignal || 'SIGTERM') })
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    const graceful = await Promise.race([
      exited.then(() => true),
      this.#clock.sleep(Math.max(0, timeoutSeconds) * 1000).then(() => false),
    ]);
    if (graceful) return;
    await bestEffort(
      this.#log,
      'kill a removed container',
      conn.request('signal', { container: containerId, signal: 9, all: true }),
    );
    await Promise.race([exited, this.#clock.sleep(10_000)]);
  }

  async removeContainer(containerId: string): Promise<void> {
    const c = this.#state.containers[containerId];
    if (!c) return;
    if (c.started && !c.exitReported) await this.stopContainer(containerId, 0, 'SIGKILL');
    if (!this.#dead)
      await bestEffort(
        this.#log,
        'remove a container in the guest',
        this.session.conn.request('removeContainer', { id: containerId }),
      );
    await this.#releaseDevices(c);
    delete this.#state.containers[containerId];
    this.#specs.delete(containerId);
    await this.#save();
  }

  // ---- streams ----

  #processSpec(
    options: {
      cmd: readonly string[];
      tty: boolean;
      envs?: readonly { key: string; value: string }[];
      workingDir?: string;
      user?: string;
    },
    spec: ContainerSpec | undefined,
  ) {
    const base = spec ? containerProcess(spec) : undefined;
    const env = new Map<string, string>();
    for (const e of base?.env ?? []) {
      const i = e.indexOf('=');
      env.set(e.slice(0, i), e.slice(i + 1));
    }
    for (const kv of options.envs ?? []) env.set(kv.key, kv.value);
    return {
      args: [...options.cmd],
      env: [...env].map(([k, v]) => `${k}=${v}`),
      cwd: options.workingDir || base?.cwd || '/',
      user: options.user ?? base?.user ?? '',
    };
  }

  async exec(containerId: string, options: ExecOptions): Promise<StreamSession> {
    this.#conn();
    const c = this.#record(containerId);
    if (!c.started || c.exitReported) throw conflict(`Container "${containerId}" is not running`);
    if (options.cmd.length === 0)
      throw invalid('Exec command is empty', {
        details: { causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'cmd' }] },
      });
    const proc = this.#processSpec(
      {
        cmd: options.cmd,
        tty: options.tty ?? false,
        ...(options.envs ? { envs: options.envs } : {}),
        ...(options.workingDir ? { workingDir: options.workingDir } : {}),
        ...(options.user !== undefined ? { user: options.user } : {}),
      },
      this.#specs.get(containerId),
    );
    return this.#streams.exec(containerId, proc, options);
  }

  async attach(containerId: string, options: AttachOptions): Promise<StreamSession> {
    this.#conn();
    const c = this.#record(containerId);
    if (!c.started || c.exitReported) throw conflict(`Container "${containerId}" is not running`);
    if (options.stdin && !c.stdin) throw conflict(`Container "${containerId}" was not created with stdin`);
    const exited = this.#exitWaiter(containerId).promise.then(() => this.#exitCodes.get(containerId) ?? 0);
    return this.#streams.attach(containerId, { tty: c.tty, stdinId: c.stdin }, options, exited);
  }

  async updateResources(containerId: string, r: LinuxContainerResources): Promise<void> {
    this.#record(containerId);
    await this.#conn().request('updateResources', {
      id: containerId,
      resources: {
        ...(r.memoryLimitInBytes ? { memoryBytes: r.memoryLimitInBytes } : {}),
        ...(r.pidsLimit ? { pidsLimit: r.pidsLimit } : {}),
        ...(r.cpuQuota ? { cpuQuota: r.cpuQuota } : {}),
        ...(r.cpuPeriod ? { cpuPeriod: r.cpuPeriod } : {}),
      },
    });
  }

  async stats(containerId: string): Promise<ContainerStats> {
    this.#record(containerId);
    const r = await this.#conn().request('stats', { id: containerId });
    const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
    return {
      containerId,
      timestampNs: this.#clock.now() * 1_000_000,
      cpuUsageCoreNanoSeconds: num(r['cpuUsageNs']),
      memoryWorkingSetBytes: num(r['memoryWorkingSetBytes']),
    };
  }

  async portForward(port: number): Promise<Duplex> {
    return this.#streams.portForward(port);
  }

  /** Test mode only (handler option allowDebugAnnotations): make the guest misbehave. */
  async debugMisbehave(mode: string): Promise<void> {
    if (!this.#d.allowDebugAnnotations) throw forbidden('Guest debug modes are disabled');
    await this.#conn().request('debugMisbehave', { mode });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const s = this.session;
    if (!this.#dead && s.vm.isAlive()) {
      // The guest kills everything, syncs its disks and powers off.
      await bestEffort(this.#log, 'shut the guest down', s.conn.request('shutdown', {}, 3000));
      await Promise.race([s.vm.exited, this.#clock.sleep(3000)]);
    }
    this.#dead = true;
    s.conn.close();
    await bestEffort(this.#log, 'stop the VM', s.vm.stop(1000));
    for (const w of this.#writers.values()) await bestEffort(this.#log, 'close a container log', w.close());
    this.#writers.clear();
    await this.#reportAllExited('Sandbox stopped');
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    await this.#saving;
    for (const c of Object.values(this.#state.containers)) await rm(c.overlay, { force: true });
    await rm(this.session.vm.dir, { recursive: true, force: true });
    await rm(`${this.#d.stateDir}/hyper.json`, { force: true });
    this.#d.onDestroyed();
  }

  /** Stops persisting and detaches from the VM (daemon shutdown); the VM keeps running. */
  async detach(): Promise<void> {
    if (this.#saveTimer) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
    }
    await this.#save();
    this.#stopped = true;
    this.session.conn.close();
    this.session.vm.detach();
  }
}
