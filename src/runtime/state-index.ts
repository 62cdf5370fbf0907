/**
 * The runtime daemon's persisted index of sandboxes and containers (`<root>/state/`): one JSON
 * file per object, each written atomically (temporary file, then rename), so a daemon killed
 * at any instant restarts with every object in either its old or its new state, never half.
 * Writes are not fsynced: containers do not survive a power loss either, and a record lost to
 * one (an empty file) is moved aside as corrupt on the next start.
 * Writes to one object are serialised; reads come from memory.
 *
 * The files hold no secrets (credentials never reach a sandbox or container config).
 * A file that does not parse is moved aside as `<name>.corrupt` and reported, not fatal.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { ImageRecord } from '../images/index.js';
import {
  bestEffort,
  describeError,
  invalid,
  notFound,
  parseJson,
  parseWith,
  unlessMissing,
  type Logger,
} from '../lib/index.js';
import {
  ContainerConfigSchema,
  HandlerNameSchema,
  LinuxContainerResourcesSchema,
  PodSandboxConfigSchema,
} from './api-schemas.js';
import type {
  ContainerConfig,
  ContainerState,
  LinuxContainerResources,
  PodSandboxConfig,
  PodSandboxState,
  RuntimeHandlerName,
} from './runtime-service.js';
import type { ContainerSpec } from './sandbox-handler.js';

export interface SandboxRecord {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly handler: RuntimeHandlerName;
  /** ns since epoch */
  readonly createdAt: number;
  readonly state: PodSandboxState;
  readonly stateDir: string;
  /** Where this sandbox's container logs go. */
  readonly logDirectory: string;
  /** Whether logDirectory is the daemon's own (removed with the sandbox). */
  readonly ownsLogDirectory: boolean;
}

export interface ContainerRecord {
  readonly id: string;
  readonly podSandboxId: string;
  readonly config: ContainerConfig;
  readonly image: ImageRecord;
  readonly rootfs: ContainerSpec['rootfs'];
  readonly logPath: string;
  readonly createdAt: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly exitCode: number;
  readonly reason: string;
  readonly message: string;
  readonly terminationMessage?: string;
  readonly state: ContainerState;
  readonly resources?: LinuxContainerResources;
}

const ImageRecordShape = Type.Unsafe<ImageRecord>(
  Type.Object({
    id: Type.String(),
    repoTags: Type.Array(Type.String()),
    chainId: Type.String(),
    config: Type.Object({ entrypoint: Type.Array(Type.String()), cmd: Type.Array(Type.String()) }),
  }),
);

const RootfsShape = Type.Unsafe<ContainerSpec['rootfs']>(
  Type.Union([
    Type.Object({ kind: Type.Literal('disk'), disk: Type.Object({ path: Type.String() }) }),
    Type.Object({
      kind: Type.Literal('layers'),
      tree: Type.Object({ lowerDirs: Type.Array(Type.String()) }),
    }),
  ]),
);

const SandboxRecordSchema = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  config: PodSandboxConfigSchema,
  handler: HandlerNameSchema,
  createdAt: Type.Number(),
  state: Type.Union([Type.Literal('SANDBOX_READY'), Type.Literal('SANDBOX_NOTREADY')]),
  stateDir: Type.String(),
  logDirectory: Type.String(),
  ownsLogDirectory: Type.Boolean(),
});

const ContainerRecordSchema = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  podSandboxId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  config: ContainerConfigSchema,
  image: ImageRecordShape,
  rootfs: RootfsShape,
  logPath: Type.String(),
  createdAt: Type.Number(),
  startedAt: Type.Number(),
  finishedAt: Type.Number(),
  exitCode: Type.Integer(),
  reason: Type.String(),
  message: Type.String(),
  terminationMessage: Type.Optional(Type.String()),
  state: Type.Union([
    Type.Literal('CONTAINER_CREATED'),
    Type.Literal('CONTAINER_RUNNING'),
    Type.Literal('CONTAINER_EXITED'),
    Type.Literal('CONTAINER_UNKNOWN'),
  ]),
  resources: Type.Optional(LinuxContainerResourcesSchema),
});

/** Ids are 64 hex; their first `shortIdLength` characters are unique and name state dirs. */
export const shortIdLength = 12;
const minPrefixLength = 6;

export class StateIndex {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #sandboxes = new Map<string, SandboxRecord>();
  readonly #containers = new Map<string, ContainerRecord>();
  readonly #reserved = new Set<string>();
  readonly #writes = new Map<string, Promise<void>>();

  constructor(dir: string, log: Logger) {
    this.#dir = dir;
    this.#log = log;
  }

  /** Loads every record from disk (once, at start-up). */
  async load(): Promise<void> {
    for (const kind of ['sandboxes', 'containers'] as const) {
      const dir = join(this.#dir, kind);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const name of await readdir(dir)) {
        if (name.endsWith('.tmp')) {
          // a write the daemon did not finish: the .json beside it is the last complete one
          await bestEffort(
            this.#log,
            `remove unfinished state file ${name}`,
            unlessMissing(unlink(join(dir, name))),
          );
          continue;
        }
        if (!name.endsWith('.json')) continue;
        const file = join(dir, name);
        try {
          const value = parseJson(await readFile(file, 'utf8'), `state file "${file}"`);
          if (kind === 'sandboxes') {
            const rec = parseWith(SandboxRecordSchema, value, `state file "${file}"`);
            this.#sandboxes.set(rec.id, rec);
          } else {
            const rec = parseWith(ContainerRecordSchema, value, `state file "${file}"`) as ContainerRecord;
            this.#containers.set(rec.id, rec);
          }
        } catch (err) {
          this.#log.error('Moved aside a state file that does not parse', {
            file,
            error: describeError(err),
          });
          await bestEffort(this.#log, `move aside ${file}`, rename(file, `${file}.corrupt`));
        }
      }
    }
    // containers whose sandbox is gone cannot be managed; keep them visible but note it
    for (const c of this.#containers.values()) {
      if (!this.#sandboxes.has(c.podSandboxId)) {
        this.#log.warn('Container refers to a missing sandbox', {
          containerId: c.id,
          podSandboxId: c.podSandboxId,
        });
      }
    }
  }

  /** A fresh 64-hex id whose short prefix no other object has. */
  allocateId(): string {
    for (;;) {
      const id = randomBytes(32).toString('hex');
      const short = id.slice(0, shortIdLength);
      if (this.#reserved.has(short)) continue;
      let clash = false;
      for (const k of [...this.#sandboxes.keys(), ...this.#containers.keys()]) {
        if (k.startsWith(short)) {
          clash = true;
          break;
        }
      }
      if (clash) continue;
      this.#reserved.add(short);
      return id;
    }
  }

  /** Releases an id allocated but never stored. */
  releaseId(id: string): void {
    this.#reserved.delete(id.slice(0, shortIdLength));
  }

  sandboxes(): SandboxRecord[] {
    return [...this.#sandboxes.values()];
  }

  containers(): ContainerRecord[] {
    return [...this.#containers.values()];
  }

  containersOf(podSandboxId: string): ContainerRecord[] {
    return this.containers().filter((c) => c.podSandboxId === podSandboxId);
  }

  findSandbox(id: string): SandboxRecord | undefined {
    return this.#sandboxes.get(id);
  }

  findContainer(id: string): ContainerRecord | undefined {
    return this.#containers.get(id);
  }

  /** Resolves a full id or a unique prefix (at least 6 characters). @throws NotFound, Invalid */
  resolveSandboxId(ref: string): string {
    return resolve(ref, this.#sandboxes, 'pod sandbox');
  }

  /** @throws NotFound, Invalid */
  resolveContainerId(ref: string): string {
    return resolve(ref, this.#containers, 'container');
  }

  async putSandbox(rec: SandboxRecord): Promise<void> {
    this.#sandboxes.set(rec.id, rec);
    await this.#write('sandboxes', rec.id, rec);
  }

  async putContainer(rec: ContainerRecord): Promise<void> {
    this.#containers.set(rec.id, rec);
    await this.#write('containers', rec.id, rec);
  }

  async deleteSandbox(id: string): Promise<void> {
    this.#sandboxes.delete(id);
    this.#reserved.delete(id.slice(0, shortIdLength));
    await this.#write('sandboxes', id, undefined);
  }

  async deleteContainer(id: string): Promise<void> {
    this.#containers.delete(id);
    this.#reserved.delete(id.slice(0, shortIdLength));
    await this.#write('containers', id, undefined);
  }

  /** Waits for every pending write. */
  async flush(): Promise<void> {
    await Promise.all([...this.#writes.values()]);
  }

  #write(kind: 'sandboxes' | 'containers', id: string, value: unknown): Promise<void> {
    const key = `${kind}/${id}`;
    const prev = this.#writes.get(key) ?? Promise.resolve();
    const next = prev.then(async () => {
      const file = join(this.#dir, kind, `${id}.json`);
      if (value === undefined) {
        await unlink(file).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
        return;
      }
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      // No fsync: rename makes the update atomic against a daemon crash (the page cache
      // survives it), and after a power loss no container survives to be described anyway.
      await writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
      await rename(tmp, file);
    });
    const tracked = next.finally(() => {
      if (this.#writes.get(key) === tracked) this.#writes.delete(key);
    });
    this.#writes.set(key, tracked);
    return next;
  }
}

function resolve<T>(ref: string, map: ReadonlyMap<string, T>, what: string): string {
  if (map.has(ref)) return ref;
  if (!/^[0-9a-f]+$/.test(ref) || ref.length > 64) throw notFound(`No ${what} with id "${ref}"`);
  const matches = [...map.keys()].filter((k) => k.startsWith(ref));
  if (matches.length === 0) throw notFound(`No ${what} with id "${ref}"`);
  if (ref.length < minPrefixLength) {
    throw invalid(`Id prefix "${ref}" is too short: give at least ${minPrefixLength} characters`);
  }
  if (matches.length === 1) return matches[0] as string;
  throw invalid(`Id prefix "${ref}" is ambiguous: it matches ${matches.length} ${what}s`);
}
