/**
 * Image records: which tags and digests name which image, what it is made of, and who holds
 * it. One JSON document `<root>/state/images.json`, always replaced whole (temp file, fsync,
 * rename), so a crash leaves either the old or the new state, never a mix. Writers take an
 * in-process mutex and a lock directory (so `hyperctl` and the daemon may share a root);
 * a lock left by a dead process is broken.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import {
  bestEffort,
  internal,
  isProcessAlive,
  nullLogger,
  parseJson,
  parseWith,
  systemClock,
  timeout,
  writeFileAtomic,
  type Clock,
  type Logger,
} from '../lib/index.js';

const Digest = Type.String({ pattern: '^sha256:[a-f0-9]{64}$' });

const StoredLayerSchema = Type.Object({
  digest: Digest,
  mediaType: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  diffId: Digest,
});

const RuntimeConfigSchema = Type.Object({
  entrypoint: Type.Array(Type.String()),
  cmd: Type.Array(Type.String()),
  env: Type.Array(Type.String()),
  workingDir: Type.String(),
  user: Type.String(),
  exposedPorts: Type.Array(Type.String()),
  labels: Type.Record(Type.String(), Type.String()),
  stopSignal: Type.String(),
});

const StoredImageSchema = Type.Object({
  id: Digest,
  manifestDigest: Digest,
  manifestMediaType: Type.String(),
  indexDigest: Type.Optional(Digest),
  repoTags: Type.Array(Type.String()),
  repoDigests: Type.Array(Type.String()),
  layers: Type.Array(StoredLayerSchema),
  chainId: Digest,
  sizeBytes: Type.Integer({ minimum: 0 }),
  created: Type.String(),
  os: Type.String(),
  architecture: Type.String(),
  config: RuntimeConfigSchema,
  storedAt: Type.String(),
});
export type StoredImage = Static<typeof StoredImageSchema>;
export type StoredLayer = Static<typeof StoredLayerSchema>;

const StateSchema = Type.Object({
  version: Type.Literal(1),
  images: Type.Record(Type.String(), StoredImageSchema),
  holders: Type.Record(Type.String(), Digest),
});
export type ImageStoreState = Static<typeof StateSchema>;

function emptyState(): ImageStoreState {
  return { version: 1, images: {}, holders: {} };
}

export interface ImageStoreOptions {
  readonly clock?: Clock;
  readonly log?: Logger;
  /** How long to wait for another writer's lock before giving up with Timeout. Default 30 s. */
  readonly lockTimeoutMs?: number;
}

export class ImageStore {
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #lockTimeoutMs: number;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(root: string, options: ImageStoreOptions = {}) {
    this.#dir = join(root, 'state');
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? nullLogger;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  get #file(): string {
    return join(this.#dir, 'images.json');
  }

  async init(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
  }

  /** The current state (a fresh copy; changing it changes nothing). */
  async read(): Promise<ImageStoreState> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw internal(`Cannot read the image store state "${this.#file}"`, { cause: err });
    }
    return parseWith(
      StateSchema,
      parseJson(text, `image store state "${this.#file}"`),
      `image store state "${this.#file}"`,
    );
  }

  /**
   * Runs `fn` on the current state under the lock and writes back what it returns (or leaves
   * the state alone when it returns undefined). Returns `fn`'s second value.
   */
  async update<T>(
    fn: (
      state: ImageStoreState,
    ) => { state?: ImageStoreState; result: T } | Promise<{ state?: ImageStoreState; result: T }>,
  ): Promise<T> {
    const run = async (): Promise<T> => {
      const unlock = await this.#lock();
      try {
        const state = await this.read();
        const out = await fn(state);
        if (out.state) await this.#write(out.state);
        return out.result;
      } finally {
        await unlock();
      }
    };
    const p = this.#chain.then(run, run);
    // the next update runs after this one whatever its outcome; the caller sees the outcome
    this.#chain = p.catch(() => undefined);
    return p;
  }

  async #write(state: ImageStoreState): Promise<void> {
    // fsynced, renamed, directory fsynced: an acknowledged change survives a power loss
    await writeFileAtomic(this.#file, JSON.stringify(state, null, 1), { isDurable: true });
  }

  async #lock(): Promise<() => Promise<void>> {
    const lockDir = join(this.#dir, 'lock.d');
    const deadline = this.#clock.monotonicMs() + this.#lockTimeoutMs;
    let wait = 5;
    for (;;) {
      try {
        await mkdir(lockDir);
        await writeFile(join(lockDir, 'pid'), String(process.pid));
        return async () => {
          await rm(lockDir, { recursive: true, force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // no pid file yet: its writer is between mkdir and writing it (or died there)
      const holder = Number(
        (await bestEffort(
          this.#log,
          'read the image store lock owner',
          readFile(join(lockDir, 'pid'), 'utf8'),
        )) ?? '',
      );
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && !isProcessAlive(holder)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      // A writer that died between mkdir and writing its pid leaves a lock without an owner.
      if (!(holder > 0)) {
        const st = await bestEffort(this.#log, 'read the image store lock age', stat(lockDir));
        if (st && this.#clock.now() - st.mtimeMs > 10_000) {
          await rm(lockDir, { recursive: true, force: true });
          continue;
        }
      }
      if (this.#clock.monotonicMs() > deadline) {
        throw timeout(
          `Timed out waiting for the image store lock "${lockDir}" (held by process ${holder || 'unknown'})`,
        );
      }
      await this.#clock.sleep(wait);
      wait = Math.min(200, wait * 2);
    }
  }
}
