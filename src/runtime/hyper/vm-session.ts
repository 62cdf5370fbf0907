/**
 * A booted VM with its guest agent connected: the unit the pool hands out and a sandbox owns.
 * Its event and failure callbacks can be re-pointed when a pooled VM is given to a sandbox.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bestEffort, type Clock, type Exec, type Logger } from '../../lib/index.js';
import { AgentConnection, type OutputSink } from './agent-connection.js';
import type { AgentEvent } from './protocol.js';
import { QemuVm, type GuestMachine, type VmSpec } from './qemu-vm.js';
import type { VmTemplates } from './vm-template.js';

export interface VmSessionHandlers {
  onEvent(seq: number, event: AgentEvent): void | Promise<void>;
  onViolation(reason: string): void;
  onClose(): void;
}

export interface BootParams extends GuestMachine {
  /** `<handler root>/vms`: one directory per VM. */
  readonly vmsDir: string;
  readonly useCgroup: boolean;
  readonly ramBackend?: 'memfd' | 'anon';
  readonly bootTimeoutMs: number;
  /** VM templating (vm-template.ts): VMs are restored from a template of their size when set. */
  readonly templates?: VmTemplates;
  readonly log: Logger;
  readonly clock?: Clock;
  /** How processes (QEMU) are spawned; default the real one. */
  readonly exec?: Exec;
}

const idleHandlers = (log: Logger): VmSessionHandlers => ({
  onEvent: () => {},
  onViolation: (reason) => log.error('Guest agent of an idle VM broke the protocol', { reason }),
  onClose: () => {},
});

export class VmSession {
  readonly vm: QemuVm;
  readonly conn: AgentConnection;
  handlers: VmSessionHandlers;

  private constructor(vm: QemuVm, conn: AgentConnection, handlers: VmSessionHandlers) {
    this.vm = vm;
    this.conn = conn;
    this.handlers = handlers;
  }

  get vmId(): string {
    return this.vm.facts.vmId;
  }

  /**
   * Boots a VM and waits for its agent's HELLO. With templating, the VM is a clone of the
   * template of its size (built first when missing); a clone that fails to restore deletes
   * its template and the VM boots cold. Cleans up everything on failure.
   */
  static async boot(
    p: BootParams,
    size: { cpus: number; memoryMiB: number },
    signal?: AbortSignal,
  ): Promise<VmSession> {
    const templates = p.templates;
    if (templates) {
      const t = await templates.get(size, signal);
      if (t) {
        try {
          return await VmSession.#start(p, size, signal, { ram: t.ram, kernelArgs: templates.kernelArgs });
        } catch (err) {
          signal?.throwIfAborted();
          await templates.invalidate(t.name, (err as Error).message);
        }
      }
    }
    return VmSession.#start(p, size, signal, undefined);
  }

  static async #start(
    p: BootParams,
    size: { cpus: number; memoryMiB: number },
    signal: AbortSignal | undefined,
    clone: { ram: NonNullable<VmSpec['ram']>; kernelArgs: readonly string[] } | undefined,
  ): Promise<VmSession> {
    const vmId = randomBytes(6).toString('hex');
    const dir = join(p.vmsDir, vmId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let vm: QemuVm | undefined;
    const holder: { s?: VmSession } = {};
    const fallback = idleHandlers(p.log);
    try {
      vm = await QemuVm.launch(
        {
          vmId,
          dir,
          qemuBinary: p.qemuBinary,
          kernel: p.kernel,
          initrd: p.initrd,
          cpus: size.cpus,
          memoryMiB: size.memoryMiB,
          accel: p.accel,
          tbSizeMiB: p.tbSizeMiB,
          rootPorts: p.rootPorts,
          kernelArgs: clone ? clone.kernelArgs : p.kernelArgs,
          useCgroup: p.useCgroup,
          ...(p.ramBackend ? { ramBackend: p.ramBackend } : {}),
          ...(clone ? { ram: clone.ram } : {}),
        },
        {
          log: p.log,
          ...(p.clock ? { clock: p.clock } : {}),
          ...(p.exec ? { exec: p.exec } : {}),
          ...(signal ? { signal } : {}),
        },
      );
      const conn = await AgentConnection.connect(
        {
          socketPath: vm.ctlSocket,
          log: p.log,
          ...(p.clock ? { clock: p.clock } : {}),
          lastEventSeq: 0,
          onEvent: (seq, ev) => (holder.s?.handlers ?? fallback).onEvent(seq, ev),
          onViolation: (r) => (holder.s?.handlers ?? fallback).onViolation(r),
          onClose: () => (holder.s?.handlers ?? fallback).onClose(),
        },
        { timeoutMs: p.bootTimeoutMs, ...(signal ? { signal } : {}) },
      );
      const s = new VmSession(vm, conn, fallback);
      holder.s = s;
      return s;
    } catch (err) {
      if (vm) await bestEffort(p.log, `stop VM ${dir} that did not boot`, vm.stop(0));
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Re-attaches to a running VM of an earlier daemon. Undefined when QEMU is gone or its
   * agent does not answer.
   */
  static async adopt(
    dir: string,
    p: {
      log: Logger;
      clock?: Clock;
      lastEventSeq: number;
      resumeStreams?: readonly { id: number; acked: number; sink: OutputSink }[];
      resumeInputs?: readonly number[];
    },
    handlers: VmSessionHandlers,
  ): Promise<VmSession | undefined> {
    const vm = await QemuVm.adopt(dir, { log: p.log, ...(p.clock ? { clock: p.clock } : {}) });
    if (!vm) return undefined;
    const holder: { s?: VmSession } = {};
    try {
      const conn = await AgentConnection.connect(
        {
          socketPath: vm.ctlSocket,
          log: p.log,
          ...(p.clock ? { clock: p.clock } : {}),
          lastEventSeq: p.lastEventSeq,
          ...(p.resumeStreams ? { resumeStreams: p.resumeStreams } : {}),
          ...(p.resumeInputs ? { resumeInputs: p.resumeInputs } : {}),
          onEvent: (seq, ev) => (holder.s?.handlers ?? handlers).onEvent(seq, ev),
          onViolation: (r) => (holder.s?.handlers ?? handlers).onViolation(r),
          onClose: () => (holder.s?.handlers ?? handlers).onClose(),
        },
        { timeoutMs: 10_000 },
      );
      const s = new VmSession(vm, conn, handlers);
      holder.s = s;
      return s;
    } catch (err) {
      p.log.warn('Adopted VM does not answer; stopping it', { dir, err: err as Error });
      await bestEffort(p.log, `stop adopted VM ${dir}`, vm.stop(0));
      return undefined;
    }
  }

  /** Marks the VM's directory as owned by a sandbox (state dir), or as pooled. */
  async setOwner(owner: string | undefined): Promise<void> {
    await writeFile(join(this.vm.dir, 'owner'), owner ?? '');
  }

  /** Powers the guest off (it syncs disks), then stops QEMU, then removes the VM's directory. */
  async destroy(): Promise<void> {
    if (this.vm.isAlive() && !this.conn.isClosed) {
      // a guest that does not answer is stopped below all the same
      await bestEffort(this.vm.log, 'ask the guest to power off', this.conn.request('shutdown', {}, 3000));
      await Promise.race([this.vm.exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    this.conn.close();
    await this.vm.stop(1000);
    await rm(this.vm.dir, { recursive: true, force: true });
  }
}
