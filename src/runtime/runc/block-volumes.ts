/**
 * Block volumes of runc pods (Mount `type: block`): a block device, or a disk image file
 * attached to a loop device, formatted with the requested filesystem on first use and mounted
 * on the host under the sandbox's state directory; containers get a bind mount of that.
 * One mount per volume per pod, shared by the pod's containers, released when the pod stops.
 * What is attached is recorded in `<stateDir>/volumes.json` so a restarted daemon can release it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  describeError,
  findExecutable,
  invalid,
  systemExec,
  unlessMissing,
  writeJsonFileAtomic,
  type Exec,
  type Logger,
} from '../../lib/index.js';
import { isMountPoint, unmount } from '../host-mounts.js';

interface AttachedVolume {
  readonly hostPath: string;
  readonly device: string;
  /** Whether we made the loop device (and so detach it). */
  readonly isLoop: boolean;
  readonly mountPoint: string;
  readonly fsType: string;
}

export class BlockVolumes {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #exec: Exec;
  #volumes: AttachedVolume[] = [];
  #loaded = false;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(sandboxDir: string, log: Logger, exec: Exec = systemExec) {
    this.#exec = exec;
    this.#dir = sandboxDir;
    this.#log = log;
  }

  get #file(): string {
    return join(this.#dir, 'volumes.json');
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    try {
      const v = JSON.parse(await readFile(this.#file, 'utf8')) as unknown;
      if (Array.isArray(v)) this.#volumes = v as AttachedVolume[];
    } catch {
      this.#volumes = [];
    }
  }

  async #save(): Promise<void> {
    await writeJsonFileAtomic(this.#file, this.#volumes);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => {});
    return next;
  }

  /**
   * Attaches and mounts `hostPath` (once per pod) and returns the host directory to bind.
   * @throws Invalid when the path is neither a block device nor a regular file, or holds a
   *   different filesystem than asked for.
   */
  ensure(hostPath: string, fsType: 'ext4' | 'xfs', field: string): Promise<string> {
    return this.#serial(async () => {
      await this.#load();
      const known = this.#volumes.find((v) => v.hostPath === hostPath);
      if (known && (await isMountPoint(known.mountPoint))) return known.mountPoint;
      const st = await unlessMissing(stat(hostPath));
      const cause = (message: string) => ({
        details: { causes: [{ reason: 'FieldValueInvalid', message, field }] },
      });
      if (!st || (!st.isFile() && !st.isBlockDevice())) {
        throw invalid(
          `Block volume "${hostPath}" is neither a block device nor a disk image file`,
          cause('not found'),
        );
      }
      let device = hostPath;
      let isLoop = false;
      if (st.isFile()) {
        // PRIVILEGED: attaches the pod's disk image file to a free loop device.
        const r = await this.#exec.execFile(['losetup', '--find', '--show', hostPath], { timeoutMs: 30_000 });
        device = r.stdout.trim();
        isLoop = true;
      }
      const mountPoint = join(
        this.#dir,
        'vol',
        createHash('sha256').update(hostPath).digest('hex').slice(0, 16),
      );
      const record: AttachedVolume = { hostPath, device, isLoop, mountPoint, fsType };
      this.#volumes = [...this.#volumes.filter((v) => v.hostPath !== hostPath), record];
      await this.#save();
      try {
        const probe = await this.#exec.execFile(['blkid', '-o', 'value', '-s', 'TYPE', device], {
          check: false,
        });
        const existing = probe.stdout.trim();
        if (existing === '') {
          const mkfs = await findExecutable(`mkfs.${fsType}`);
          if (!mkfs)
            throw invalid(`Cannot format block volume "${hostPath}": mkfs.${fsType} is not installed`);
          // PRIVILEGED: formats the pod's own (empty) volume on first use.
          await this.#exec.execFile(fsType === 'ext4' ? [mkfs, '-q', '-F', device] : [mkfs, '-q', device], {
            timeoutMs: 300_000,
          });
        } else if (existing !== fsType) {
          throw invalid(
            `Block volume "${hostPath}" holds a ${existing} filesystem, not ${fsType}`,
            cause(`filesystem is ${existing}`),
          );
        }
        await mkdir(mountPoint, { recursive: true });
        // PRIVILEGED: mounts the pod's volume under the sandbox's state dir (bound into containers).
        await this.#exec.execFile(['mount', '-t', fsType, '-o', 'nosuid,nodev', device, mountPoint], {
          timeoutMs: 60_000,
        });
      } catch (err) {
        await this.#release(record);
        throw err;
      }
      return mountPoint;
    });
  }

  async #release(v: AttachedVolume): Promise<void> {
    if (await isMountPoint(v.mountPoint)) await unmount(v.mountPoint, this.#exec);
    if (v.isLoop) {
      // PRIVILEGED: detaches the loop device this pod attached.
      await this.#exec.execFile(['losetup', '-d', v.device], { check: false });
    }
    this.#volumes = this.#volumes.filter((x) => x !== v);
    await this.#save().catch((err: unknown) =>
      this.#log.warn('Cannot record a released block volume; the next adoption releases it again', {
        hostPath: v.hostPath,
        error: describeError(err),
      }),
    );
  }

  /** Unmounts and detaches every volume of the pod. Idempotent. */
  releaseAll(): Promise<void> {
    return this.#serial(async () => {
      await this.#load();
      for (const v of [...this.#volumes]) {
        try {
          await this.#release(v);
        } catch (err) {
          this.#log.warn('Cannot release a block volume', { hostPath: v.hostPath, error: err });
        }
      }
    });
  }
}
