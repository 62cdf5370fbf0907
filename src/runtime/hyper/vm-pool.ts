/**
 * A pool of pre-booted VMs of the default size (runV's VM factory "cache" policy): a pod of
 * that size takes one and gets its disks and NICs hot-plugged; the pool refills in the
 * background one boot at a time, so refilling never starves the machine. Pooled VMs outlive
 * the daemon like any VM and are re-adopted (or cleaned up) when it starts again.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock, type Logger } from '../../lib/index.js';
import { VmSession, type BootParams } from './vm-session.js';
import { deflate, rebalance, type BalloonPolicy } from './balloon.js';

export interface VmPoolOptions {
  readonly size: number;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly boot: BootParams;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Delay before refilling after a VM was taken. Default 2 s. */
  readonly refillDelayMs?: number;
  /** Balloon idle pooled VMs down to their free-memory headroom (balloon.ts). */
  readonly balloon?: BalloonPolicy;
  /**
   * Makes a qcow2 overlay (in the VM's directory) over a small empty ext4 image: each pooled
   * VM runs one throw-away container from it once
   * (SCSI hot-add, mount, namespaces, exec, removal) so that, under TCG, the guest code of a
   * pod start is translated while the VM idles in the pool rather than when a pod waits.
   */
  readonly warmDisk?: (vmDir: string) => Promise<string>;
}

export class VmPool {
  readonly #o: VmPoolOptions;
  readonly #clock: Clock;
  readonly #ready: VmSession[] = [];
  #filling: Promise<void> | undefined;
  #closed = false;
  readonly #abort = new AbortController();
  #failures = 0;
  /** Balloon passes of pooled VMs still running: a VM taken meanwhile waits for its pass. */
  readonly #passes = new Map<VmSession, Promise<void>>();

  constructor(o: VmPoolOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
  }

  get size(): number {
    return this.#o.size;
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  /**
   * Adopts pooled VMs left by an earlier daemon and removes dead or orphaned VM directories.
   * Call once at start-up, before `refill`.
   */
  async recover(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#o.boot.vmsDir);
    } catch {
      return;
    }
    for (const name of names) {
      const dir = join(this.#o.boot.vmsDir, name);
      const owner = await readFile(join(dir, 'owner'), 'utf8').catch(() => undefined);
      if (owner) {
        // Owned by a sandbox: adoptSandbox takes it. Its state dir gone means the core
        // forgot the sandbox: nobody will ever adopt it.
        if (
          await stat(owner).then(
            () => true,
            () => false,
          )
        )
          continue;
        this.#o.log.warn('Removing a VM whose sandbox no longer exists', { dir });
      }
      const s =
        owner === undefined || owner
          ? undefined
          : await VmSession.adopt(
              dir,
              { log: this.#o.log, lastEventSeq: 0 },
              {
                onEvent: () => {},
                onViolation: () => {},
                onClose: () => {},
              },
            );
      const f = s?.vm.facts;
      if (
        s &&
        f &&
        this.#ready.length < this.#o.size &&
        f.cpus === this.#o.cpus &&
        f.memoryMiB === this.#o.memoryMiB &&
        !this.#closed
      ) {
        this.#ready.push(s);
        this.#o.log.info('Re-adopted pooled VM', { vmId: s.vmId });
        continue;
      }
      if (s) await s.destroy().catch(() => {});
      else {
        // Dead, orphaned or not ours to keep: make sure its QEMU is gone, then remove.
        const { QemuVm } = await import('./qemu-vm.js');
        const vm = await QemuVm.adopt(dir, { log: this.#o.log }).catch(() => undefined);
        await vm?.stop(0).catch(() => {});
        await rm(dir, { recursive: true, force: true });
      }
    }
  }

  /** Starts refilling in the background (idempotent). */
  refill(): void {
    if (this.#closed || this.#filling || this.#o.size <= 0) return;
    this.#filling = this.#fill().finally(() => {
      this.#filling = undefined;
    });
  }

  async #fill(): Promise<void> {
    while (!this.#closed && this.#ready.length < this.#o.size) {
      try {
        const s = await VmSession.boot(
          this.#o.boot,
          { cpus: this.#o.cpus, memoryMiB: this.#o.memoryMiB },
          this.#abort.signal,
        );
        await s.setOwner('');
        if (this.#closed) {
          await s.destroy();
          return;
        }
        this.#ready.push(s);
        this.#failures = 0;
        s.handlers = {
          onEvent: () => {},
          onViolation: (reason) => {
            this.#o.log.error('Pooled VM broke the protocol; discarding it', { vmId: s.vmId, reason });
            this.#discard(s);
          },
          onClose: () => this.#discard(s),
        };
        if (this.#o.warmDisk) await this.#warm(s, this.#o.warmDisk);
        if (this.#o.balloon) {
          const pass = this.#balloon(s, this.#o.balloon);
          this.#passes.set(s, pass);
          await pass;
          this.#passes.delete(s);
        }
      } catch (err) {
        if (this.#closed) return;
        this.#failures++;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.#failures, 6));
        this.#o.log.warn('Cannot boot a pooled VM', { err: err as Error, retryInMs: delay });
        await this.#clock.sleep(delay, this.#abort.signal).catch(() => {});
      }
    }
  }

  /** Runs a throw-away container once in a pooled VM (see `warmDisk`); failures only cost speed. */
  async #warm(s: VmSession, makeDisk: (vmDir: string) => Promise<string>): Promise<void> {
    const id = 'h8s-warm-up';
    try {
      const file = await makeDisk(s.vm.dir);
      const dev = await s.vm.addDisk({ file, format: 'qcow2', readonly: false });
      try {
        await s.conn.request(
          'createContainer',
          {
            id,
            root: { serial: dev.kind === 'disk' ? dev.serial : '', fsType: 'ext4', readonly: false },
            mounts: [],
            resources: {},
            waitMs: 30_000,
          },
          40_000,
        );
        // The image holds no program: the start fails with exit 127 after the container's
        // namespaces and mounts were set up, which is all the warm-up needs.
        await s.conn
          .request('startContainer', {
            id,
            process: {
              args: ['/h8s-warm-up'],
              env: [],
              cwd: '/',
              user: '',
              tty: false,
              stdin: 0,
              stdout: 0,
              stderr: 0,
            },
          })
          .catch(() => {});
        for (let i = 0; i < 50; i++) {
          const r = await s.conn.request('removeContainer', { id }).then(
            () => true,
            () => false,
          );
          if (r) break;
          await this.#clock.sleep(100);
        }
      } finally {
        await s.vm.removeDevice(dev.id);
      }
    } catch (err) {
      this.#o.log.debug('Warm-up of a pooled VM failed', { vmId: s.vmId, err: err as Error });
    }
  }

  /** An idle pooled VM gives what it does not use back to the host. */
  async #balloon(s: VmSession, policy: BalloonPolicy): Promise<void> {
    try {
      await rebalance(s, policy, { reclaim: true });
    } catch (err) {
      this.#o.log.debug('Balloon of a pooled VM failed', { vmId: s.vmId, err: err as Error });
    }
  }

  #discard(s: VmSession): void {
    const i = this.#ready.indexOf(s);
    if (i >= 0) this.#ready.splice(i, 1);
    void s.destroy().catch(() => {});
    this.refill();
  }

  /**
   * A ready VM of exactly this size, or undefined (the caller boots one). Its balloon is
   * deflated first (after a balloon pass still running on it), so the pod gets all its memory.
   */
  async take(cpus: number, memoryMiB: number): Promise<VmSession | undefined> {
    if (cpus !== this.#o.cpus || memoryMiB !== this.#o.memoryMiB) return undefined;
    for (;;) {
      const s = this.#ready.shift();
      if (!s) return undefined;
      if (!s.vm.isAlive() || s.conn.isClosed) {
        void s.destroy().catch(() => {});
        continue;
      }
      // Refill a little later: the pod that took this VM is still hot-plugging its disks and
      // a boot under TCG would compete with it for the CPU.
      this.#clock.setTimeout(() => this.refill(), this.#o.refillDelayMs ?? 2000);
      if (this.#o.balloon) {
        await this.#passes.get(s);
        await deflate(s).catch((err: unknown) =>
          this.#o.log.debug('Cannot deflate a pooled VM', { vmId: s.vmId, err: err as Error }),
        );
      }
      return s;
    }
  }

  /** Stops refilling; pooled VMs keep running (re-adopted after a restart). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.#filling?.catch(() => {});
    for (const s of this.#ready) {
      s.conn.close();
      s.vm.detach();
    }
  }

  /** Stops refilling and destroys every pooled VM. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.#filling?.catch(() => {});
    const all = this.#ready.splice(0);
    await Promise.all(all.map((s) => s.destroy().catch(() => {})));
  }
}
