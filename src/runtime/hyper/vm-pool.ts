/**
 * A pool of pre-booted VMs of the default size (runV's VM factory "cache" policy): a pod of
 * that size takes one and gets its disks and NICs hot-plugged; the pool refills in the
 * background one boot at a time, so refilling never starves the machine. Pooled VMs outlive
 * the daemon like any VM and are re-adopted (or cleaned up) when it starts again.
 */
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bestEffort, systemClock, unlessMissing, type Clock, type Logger } from '../../lib/index.js';
import { VmSession, type BootParams, type VmSessionHandlers } from './vm-session.js';
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
   * The image pooled VMs prepare a container from (pods of this size used it last), or
   * undefined. A prepared VM holds that image's container already created in the guest (its
   * own qcow2 overlay hot-added and mounted, cgroup made, a process waiting inside the
   * container's namespaces and root), so a pod of that image skips all of it (see
   * `PreparedContainer`); other pods release it.
   */
  readonly preparedImage?: () => PreparedImage | undefined;
  /** Makes a container's qcow2 overlay at `file` over the image's read-only disk. */
  readonly makeOverlay?: (image: string, file: string) => Promise<void>;
}

/** What a pooled VM prepares a container from. */
export interface PreparedImage {
  /** The image's read-only root disk and its file system. */
  readonly path: string;
  readonly fsType: string;
  /** Programs the prepared container reads ahead (the last pod's), and the PATH to find them. */
  readonly warm: readonly string[];
  readonly warmPath: string;
}

/** A container prepared in a pooled VM ahead of its pod (`VmPoolOptions.preparedImage`). */
export interface PreparedContainer {
  /** The image's read-only root disk the overlay is backed by. */
  readonly image: string;
  /** The container's id in the guest until a pod claims it. */
  readonly containerId: string;
  /** The QEMU device of its root disk. */
  readonly deviceId: string;
  /** Its qcow2 overlay (in the VM's directory until a pod claims it). */
  readonly overlay: string;
}

const preparedId = 'h8s-prepared';
const idleHandlers: VmSessionHandlers = { onEvent: () => {}, onViolation: () => {}, onClose: () => {} };
const isLive = (s: VmSession): boolean => s.vm.isAlive() && !s.conn.isClosed;
const preparedFile = 'prepared.json';

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
  readonly #prepared = new WeakMap<VmSession, PreparedContainer>();

  constructor(o: VmPoolOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
  }

  get size(): number {
    return this.#o.size;
  }

  /** Ready VMs whose QEMU and agent are alive (a VM that died is not ready, even before its discard). */
  get readyCount(): number {
    return this.#ready.filter(isLive).length;
  }

  /** Live ready VMs that hold a prepared container. */
  get preparedCount(): number {
    return this.#ready.filter((s) => isLive(s) && this.#prepared.has(s)).length;
  }

  /** What a pooled VM's guest callbacks do while it waits in the pool: a VM that fails is replaced. */
  #pooledHandlers(s: VmSession): VmSessionHandlers {
    return {
      onEvent: () => {},
      onViolation: (reason) => {
        this.#o.log.error('Pooled VM broke the protocol; discarding it', { vmId: s.vmId, reason });
        this.#discard(s);
      },
      onClose: () => this.#discard(s),
    };
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
      const owner = await unlessMissing(readFile(join(dir, 'owner'), 'utf8'));
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
        s.handlers = this.#pooledHandlers(s);
        this.#ready.push(s);
        const pre = await readFile(join(dir, preparedFile), 'utf8').then(
          (t) => JSON.parse(t) as PreparedContainer,
          () => undefined,
        );
        if (pre && typeof pre.image === 'string' && typeof pre.deviceId === 'string')
          this.#prepared.set(s, pre);
        this.#o.log.info('Re-adopted pooled VM', { vmId: s.vmId, prepared: pre?.image });
        continue;
      }
      if (s) await bestEffort(this.#o.log, 'destroy a pooled VM not kept', s.destroy());
      else {
        // Dead, orphaned or not ours to keep: make sure its QEMU is gone, then remove.
        const { QemuVm } = await import('./qemu-vm.js');
        const vm = await bestEffort(
          this.#o.log,
          `adopt VM ${name} to stop it`,
          QemuVm.adopt(dir, { log: this.#o.log }),
        );
        if (vm) await bestEffort(this.#o.log, 'stop an orphaned VM', vm.stop(0));
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
        s.handlers = this.#pooledHandlers(s);
        await this.#prepare(s);
        if (this.#closed || !s.vm.isAlive() || s.conn.isClosed) {
          await bestEffort(this.#o.log, 'destroy a pooled VM that died while preparing', s.destroy());
          if (this.#closed) return;
          continue;
        }
        this.#ready.push(s);
        this.#failures = 0;
        if (this.#o.balloon) {
          const pass = this.#balloon(s, this.#o.balloon);
          this.#passes.set(s, pass);
          await pass;
          if (this.#passes.get(s) === pass) this.#passes.delete(s);
        }
      } catch (err) {
        if (this.#closed) return;
        this.#failures++;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.#failures, 6));
        this.#o.log.warn('Cannot boot a pooled VM', { err: err as Error, retryInMs: delay });
        // the sleep ends early (rejects) when the pool closes
        await bestEffort(
          this.#o.log,
          'wait before the next pooled boot',
          this.#clock.sleep(delay, this.#abort.signal),
        );
      }
    }
  }

  /** Prepares a container of the pool's image in a pooled VM; failures only cost speed. */
  async #prepare(s: VmSession): Promise<void> {
    const image = this.#o.preparedImage?.();
    if (!image || !this.#o.makeOverlay) return;
    let deviceId = '';
    const overlay = join(s.vm.dir, 'prepared.qcow2');
    try {
      await this.#o.makeOverlay(image.path, overlay);
      const dev = await s.vm.addDisk({ file: overlay, format: 'qcow2', readonly: false });
      deviceId = dev.id;
      await s.conn.request(
        'prepareContainer',
        {
          id: preparedId,
          root: { serial: dev.kind === 'disk' ? dev.serial : '', fsType: image.fsType, readonly: false },
          mounts: [],
          resources: {},
          warm: image.warm.slice(0, 8).filter((w) => w.length > 0 && w.length < 512),
          warmPath: image.warmPath.slice(0, 1000),
          waitMs: 30_000,
        },
        40_000,
      );
      const pre: PreparedContainer = { image: image.path, containerId: preparedId, deviceId, overlay };
      await writeFile(join(s.vm.dir, preparedFile), JSON.stringify(pre));
      this.#prepared.set(s, pre);
    } catch (err) {
      this.#o.log.debug('Cannot prepare a container in a pooled VM', { vmId: s.vmId, err: err as Error });
      await bestEffort(
        this.#o.log,
        'remove a half-prepared container',
        s.conn.request('removeContainer', { id: preparedId }),
      );
      if (deviceId)
        await bestEffort(this.#o.log, 'unplug a half-prepared root disk', s.vm.removeDevice(deviceId));
      await rm(overlay, { force: true });
    }
  }

  #preparing: Promise<void> | undefined;

  /**
   * Prepares the ready VMs that hold no prepared container (call when the pool's image became
   * known or changed: VMs booted before had nothing to prepare). One at a time, in the
   * background; a pod taking such a VM waits for its preparation like for a balloon pass.
   */
  prepareIdle(): void {
    if (this.#closed || this.#preparing || !this.#o.preparedImage?.()) return;
    this.#preparing = (async () => {
      for (const s of [...this.#ready]) {
        if (this.#closed) return;
        if (this.#prepared.has(s) || !this.#ready.includes(s)) continue;
        const pass = (this.#passes.get(s) ?? Promise.resolve()).then(() => this.#prepare(s));
        this.#passes.set(s, pass);
        await pass;
        if (this.#passes.get(s) === pass) this.#passes.delete(s);
      }
    })().finally(() => {
      this.#preparing = undefined;
    });
  }

  /**
   * The container prepared in a VM this pool handed out (once: the taker owns it), or
   * undefined.
   */
  takePrepared(s: VmSession): PreparedContainer | undefined {
    const pre = this.#prepared.get(s);
    this.#prepared.delete(s);
    if (pre) void rm(join(s.vm.dir, preparedFile), { force: true });
    return pre;
  }

  /** An idle pooled VM gives what it does not use back to the host. */
  async #balloon(s: VmSession, policy: BalloonPolicy): Promise<void> {
    try {
      // A prepared container's pages (its root's metadata, the programs read ahead) are page
      // cache: dropping caches would throw away what the pod start needs.
      await rebalance(s, policy, { reclaim: !this.#prepared.has(s) });
    } catch (err) {
      this.#o.log.debug('Balloon of a pooled VM failed', { vmId: s.vmId, err: err as Error });
    }
  }

  #discard(s: VmSession): void {
    // Only a VM still waiting in the pool is the pool's to destroy: once closed, the pool's
    // VMs belong to the next daemon (which re-adopts them), and a taken VM to its sandbox.
    const i = this.#ready.indexOf(s);
    if (this.#closed || i < 0) return;
    this.#ready.splice(i, 1);
    void bestEffort(this.#o.log, 'destroy a failed pooled VM', s.destroy());
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
        void bestEffort(this.#o.log, 'destroy a dead pooled VM', s.destroy());
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
    await bestEffort(this.#o.log, 'finish refilling', async () => this.#filling);
    await bestEffort(this.#o.log, 'finish preparing', async () => this.#preparing);
    for (const s of this.#ready) {
      // Closing our end of the connection fires its close callback: it must not discard (and
      // so destroy) a VM the next daemon is about to re-adopt.
      s.handlers = idleHandlers;
      s.conn.close();
      s.vm.detach();
    }
  }

  /** Stops refilling and destroys every pooled VM. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await bestEffort(this.#o.log, 'finish refilling', async () => this.#filling);
    await bestEffort(this.#o.log, 'finish preparing', async () => this.#preparing);
    const all = this.#ready.splice(0);
    await Promise.all(all.map((s) => bestEffort(this.#o.log, 'destroy a pooled VM', s.destroy())));
  }
}
