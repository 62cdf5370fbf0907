/**
 * Image records: which tags and digests name which image, what it is made of, and who holds
 * it. One JSON document `<root>/state/images.json`, always replaced whole (temp file, fsync,
 * rename), so a crash leaves either the old or the new state, never a mix. Writers take an
 * in-process mutex and a lock directory (so `hyperctl` and the daemon may share a root);
 * a lock left by a dead process is broken.
 */
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import {
  internal,
  isProcessAlive,
  parseJson,
  parseWith,
  systemClock,
  timeout,
  type Clock,
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

export class ImageStore {
  readonly #dir: string;
  readonly #clock: Clock;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(root: string, clock: Clock = systemClock) {
    this.#dir = join(root, 'state');
    this.#clock = clock;
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
    this.#chain = p.catch(() => undefined);
    return p;
  }

  async #write(state: ImageStoreState): Promise<void> {
    const tmp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(state, null, 1), { mode: 0o600 });
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.#file);
    const dir = await open(this.#dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async #lock(): Promise<() => Promise<void>> {
    const lockDir = join(this.#dir, 'lock.d');
    const deadline = this.#clock.monotonicMs() + 30_000;
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
      const holder = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => ''));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && !isProcessAlive(holder)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      // A writer that died between mkdir and writing its pid leaves a lock without an owner.
      if (!(holder > 0)) {
        const st = await stat(lockDir).catch(() => undefined);
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
