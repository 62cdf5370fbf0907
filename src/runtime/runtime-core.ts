/**
 * The runtime daemon's core (the hyperd of the seed, minus its socket): implements
 * `NodeRuntime` over a set of `SandboxHandler`s. It owns ids, names, the persisted index
 * (`<root>/state/`), routing between handlers, container log paths and reading, image
 * retention, and re-adoption after a restart; handlers own everything that actually runs.
 *
 * Layout under `root`:
 *   state/sandboxes/<id>.json, state/containers/<id>.json   the index (state-index.ts)
 *   sandboxes/<id12>/                                       each sandbox's handler state dir
 *   logs/<id12>/<container>/<attempt>.log                    CRI logs (unless a logDirectory is given)
 *
 * Routing (frakti's rule): a sandbox that does not name a handler goes to `runc` when it asks
 * for privileged mode or host namespaces, else to the default handler (`hyper`). Asking `hyper`
 * for those is Forbidden: a VM cannot share the host's namespaces and must not pretend to.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { isAbsolute, join, normalize } from 'node:path';
import type { ImageService } from '../images/index.js';
import {
  alreadyExists,
  bestEffort,
  conflict,
  describeError,
  invalid,
  isNotFound,
  isProcessAlive,
  notFound,
  parseWith,
  systemClock,
  timeout as timeoutError,
  unavailable,
  type Clock,
  systemExec,
  unlessMissing,
  type Exec,
  type Logger,
} from '../lib/index.js';
import {
  ContainerConfigSchema,
  LinuxContainerResourcesSchema,
  PodSandboxConfigSchema,
} from './api-schemas.js';
import { collectBytes } from './byte-channel.js';
import { readCriLog } from './cri-log.js';
import { removeTreeSafely } from './host-mounts.js';
import { KeyedMutex } from './keyed-mutex.js';
import type {
  AttachOptions,
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerStats,
  ContainerStatus,
  ExecOptions,
  ExecSyncResult,
  LinuxContainerResources,
  LogLine,
  LogOptions,
  NodeRuntime,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
  RuntimeHandlerName,
  RuntimeInfo,
  StreamSession,
} from './runtime-service.js';
import type {
  ContainerExit,
  ContainerSpec,
  HandlerEvents,
  HandlerProbe,
  SandboxHandle,
  SandboxHandler,
} from './sandbox-handler.js';
import { StateIndex, shortIdLength, type ContainerRecord, type SandboxRecord } from './state-index.js';
import { chooseHandler } from './handler-routing.js';

export { chooseHandler, hostAccessRequests } from './handler-routing.js';

export interface RuntimeCoreOptions {
  readonly root: string;
  readonly images: ImageService;
  readonly handlers: readonly SandboxHandler[];
  /** Handlers configured but not built, with the reason (shown by `info`). */
  readonly missingHandlers?: readonly { readonly name: RuntimeHandlerName; readonly reason: string }[];
  /** Where sandboxes go that name no handler and need no host namespaces. Default `hyper`. */
  readonly defaultHandler?: RuntimeHandlerName;
  readonly version?: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Cap of execSync output kept per stream. Default 16 MiB. */
  readonly execSyncMaxBytes?: number;
  /** Runs `umount` when a state directory is removed. Default `systemExec`. */
  readonly exec?: Exec;
}

export interface RuntimeCore extends NodeRuntime {
  /** Loads the index, probes the handlers and re-adopts sandboxes left by an earlier daemon. */
  start(): Promise<void>;
  /** Stops background work; sandboxes and containers keep running. */
  close(): Promise<void>;
}

interface LiveSandbox {
  handler: SandboxHandler | undefined;
  handle: SandboxHandle | undefined;
}

const probeTtlMs = 30_000;

/** Creates the core; call `start()` before using it. */
export function createRuntimeCore(options: RuntimeCoreOptions): RuntimeCore {
  const log = options.log.child({ component: 'runtime' });
  const clock = options.clock ?? systemClock;
  const images = options.images;
  const root = options.root;
  const index = new StateIndex(join(root, 'state'), log);
  const handlers = new Map<RuntimeHandlerName, SandboxHandler>(options.handlers.map((h) => [h.name, h]));
  const defaultHandler = options.defaultHandler ?? 'hyper';
  const live = new Map<string, LiveSandbox>();
  const locks = new KeyedMutex();
  const probes = new Map<RuntimeHandlerName, { at: number; probe: HandlerProbe }>();
  const exitWaiters = new Map<string, (() => void)[]>();
  const execSyncMax = options.execSyncMaxBytes ?? 16 * 1024 * 1024;
  const exec = options.exec ?? systemExec;
  let started = false;

  const nowNs = (): number => clock.now() * 1e6;

  async function probeHandler(name: RuntimeHandlerName, fresh = false): Promise<HandlerProbe> {
    const h = handlers.get(name);
    if (!h) {
      const missing = options.missingHandlers?.find((m) => m.name === name);
      return {
        available: false,
        reason: missing?.reason ?? `handler "${name}" is not configured`,
        details: {},
      };
    }
    const cached = probes.get(name);
    const run = async (): Promise<HandlerProbe> => {
      const probe = await h.probe().catch((err: unknown): HandlerProbe => ({
        available: false,
        reason: describeError(err),
        details: {},
      }));
      probes.set(name, { at: clock.monotonicMs(), probe });
      return probe;
    };
    if (cached && !fresh) {
      // a stale answer is refreshed in the background: a pod start never waits for a probe
      if (clock.monotonicMs() - cached.at >= probeTtlMs) {
        probes.set(name, { ...cached, at: clock.monotonicMs() });
        void run();
      }
      return cached.probe;
    }
    return run();
  }

  function requireStarted(): void {
    if (!started) throw unavailable('The runtime is starting');
  }

  function sandboxRecord(ref: string): SandboxRecord {
    const id = index.resolveSandboxId(ref);
    const rec = index.findSandbox(id);
    if (!rec) throw notFound(`No pod sandbox with id "${ref}"`);
    return rec;
  }

  function containerRecord(ref: string): ContainerRecord {
    const id = index.resolveContainerId(ref);
    const rec = index.findContainer(id);
    if (!rec) throw notFound(`No container with id "${ref}"`);
    return rec;
  }

  function handleOf(rec: SandboxRecord): SandboxHandle {
    const l = live.get(rec.id);
    if (!l?.handle) {
      if (!l?.handler) {
        throw unavailable(
          `Pod sandbox "${rec.id}" belongs to runtime handler "${rec.handler}", which is not available`,
        );
      }
      throw conflict(`Pod sandbox "${rec.id}" is not ready`);
    }
    return l.handle;
  }

  function notifyExit(containerId: string): void {
    const ws = exitWaiters.get(containerId);
    exitWaiters.delete(containerId);
    ws?.forEach((w) => w());
  }

  function persistContainer(rec: ContainerRecord): void {
    index.putContainer(rec).catch((err: unknown) => {
      log.error('Cannot persist a container record', { containerId: rec.id, error: describeError(err) });
    });
  }

  function eventsFor(sandboxId: string): HandlerEvents {
    return {
      containerStarted(containerId, startedAtNs) {
        const rec = index.findContainer(containerId);
        if (!rec || rec.podSandboxId !== sandboxId || rec.state !== 'CONTAINER_CREATED') return;
        persistContainer({ ...rec, state: 'CONTAINER_RUNNING', startedAt: startedAtNs });
        log.info('Started container', { containerId, podSandboxId: sandboxId });
      },
      containerExited(exit: ContainerExit) {
        const rec = index.findContainer(exit.containerId);
        if (!rec || rec.podSandboxId !== sandboxId || rec.state === 'CONTAINER_EXITED') return;
        persistContainer({
          ...rec,
          state: 'CONTAINER_EXITED',
          exitCode: exit.exitCode,
          // a process that exits at once may finish before its start was recorded
          finishedAt: Math.max(exit.finishedAt, rec.startedAt),
          reason: exit.reason,
          message: exit.message ?? '',
          ...(exit.terminationMessage ? { terminationMessage: exit.terminationMessage } : {}),
        });
        log.info('Container exited', {
          containerId: exit.containerId,
          exitCode: exit.exitCode,
          reason: exit.reason,
        });
        if (exit.exitCode !== 0 && !exit.terminationMessage && rec.config.terminationMessageFallbackToLogs) {
          // kubelet's FallbackToLogsOnError: the tail of the log stands in for the message
          void logTail(rec.logPath).then(
            (tail) => {
              const cur = index.findContainer(exit.containerId);
              if (tail && cur?.state === 'CONTAINER_EXITED')
                persistContainer({ ...cur, terminationMessage: tail });
              notifyExit(exit.containerId);
            },
            (err: unknown) => {
              log.warn('Cannot read the log tail for a termination message', {
                containerId: exit.containerId,
                error: describeError(err),
              });
              notifyExit(exit.containerId);
            },
          );
          return;
        }
        notifyExit(exit.containerId);
      },
      sandboxDied(reason) {
        const rec = index.findSandbox(sandboxId);
        if (!rec || rec.state === 'SANDBOX_NOTREADY') return;
        log.warn('Pod sandbox died', { podSandboxId: sandboxId, reason });
        void index.putSandbox({ ...rec, state: 'SANDBOX_NOTREADY' }).catch((e: unknown) =>
          log.warn('Cannot record a dead pod sandbox as not ready', {
            podSandboxId: sandboxId,
            error: describeError(e),
          }),
        );
        markContainersExited(sandboxId, `The pod sandbox died: ${reason}`);
      },
    };
  }

  function markContainersExited(sandboxId: string, message: string): void {
    for (const c of index.containersOf(sandboxId)) {
      if (c.state === 'CONTAINER_EXITED') continue;
      const wasRunning = c.state === 'CONTAINER_RUNNING';
      persistContainer({
        ...c,
        state: 'CONTAINER_EXITED',
        exitCode: wasRunning ? 137 : 0,
        finishedAt: nowNs(),
        reason: wasRunning ? 'Error' : 'ContainerCannotRun',
        message,
      });
      notifyExit(c.id);
    }
  }

  function specOf(rec: ContainerRecord): ContainerSpec {
    return { id: rec.id, config: rec.config, image: rec.image, logPath: rec.logPath, rootfs: rec.rootfs };
  }

  function toSandbox(rec: SandboxRecord): PodSandbox {
    return {
      id: rec.id,
      metadata: rec.config.metadata,
      state: rec.state,
      createdAt: rec.createdAt,
      labels: rec.config.labels ?? {},
      annotations: rec.config.annotations ?? {},
      runtimeHandler: rec.handler,
    };
  }

  function toContainer(rec: ContainerRecord): Container {
    return {
      id: rec.id,
      podSandboxId: rec.podSandboxId,
      metadata: rec.config.metadata,
      image: rec.config.image,
      imageRef: rec.image.id,
      state: rec.state,
      createdAt: rec.createdAt,
      labels: rec.config.labels ?? {},
      annotations: rec.config.annotations ?? {},
    };
  }

  function labelsMatch(
    labels: Readonly<Record<string, string>>,
    selector?: Readonly<Record<string, string>>,
  ): boolean {
    if (!selector) return true;
    return Object.entries(selector).every(([k, v]) => labels[k] === v);
  }

  async function stopSandboxLocked(rec: SandboxRecord): Promise<void> {
    const l = live.get(rec.id);
    if (l?.handle) {
      await l.handle.stop();
    }
    markContainersExited(rec.id, 'The pod sandbox was stopped');
    const cur = index.findSandbox(rec.id);
    if (cur && cur.state !== 'SANDBOX_NOTREADY')
      await index.putSandbox({ ...cur, state: 'SANDBOX_NOTREADY' });
  }

  async function removeContainerLocked(rec: ContainerRecord): Promise<void> {
    const sb = index.findSandbox(rec.podSandboxId);
    const handle = sb ? live.get(sb.id)?.handle : undefined;
    if (handle) {
      if (rec.state === 'CONTAINER_RUNNING') {
        await handle.stopContainer(rec.id, 0, 'SIGKILL');
      }
      await handle.removeContainer(rec.id);
    }
    await bestEffort(log, `release the image of container ${rec.id}`, images.release(rec.id));
    if (sb?.ownsLogDirectory) {
      await bestEffort(log, `remove the log of container ${rec.id}`, rm(rec.logPath, { force: true }));
    }
    await index.deleteContainer(rec.id);
    notifyExit(rec.id);
  }

  function waitForExit(containerId: string, signal?: AbortSignal): Promise<void> {
    const rec = index.findContainer(containerId);
    if (!rec || rec.state === 'CONTAINER_EXITED') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const list = exitWaiters.get(containerId) ?? [];
      list.push(resolve);
      exitWaiters.set(containerId, list);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  const core: RuntimeCore = {
    images,

    async start() {
      await mkdir(join(root, 'sandboxes'), { recursive: true, mode: 0o700 });
      await mkdir(join(root, 'logs'), { recursive: true, mode: 0o700 });
      await claimRoot(root);
      await index.load();
      await Promise.all(
        [...new Set<RuntimeHandlerName>(['hyper', 'runc'])].map((n) => probeHandler(n, true)),
      );
      for (const rec of index.sandboxes()) {
        const handler = handlers.get(rec.handler);
        live.set(rec.id, { handler, handle: undefined });
        if (!handler) {
          log.warn('Pod sandbox belongs to a handler that is not available', {
            podSandboxId: rec.id,
            handler: rec.handler,
          });
          continue;
        }
        const containers = index.containersOf(rec.id).map((c) => ({
          spec: specOf(c),
          started: c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_EXITED',
          exited: c.state === 'CONTAINER_EXITED',
        }));
        try {
          const handle = await handler.adoptSandbox({
            id: rec.id,
            config: rec.config,
            stateDir: rec.stateDir,
            events: eventsFor(rec.id),
            containers,
          });
          live.set(rec.id, { handler, handle });
          if (!handle && rec.state === 'SANDBOX_READY') {
            await index.putSandbox({ ...rec, state: 'SANDBOX_NOTREADY' });
            markContainersExited(rec.id, 'The pod sandbox was gone when the runtime restarted');
          }
          log.info('Adopted pod sandbox', {
            podSandboxId: rec.id,
            handler: rec.handler,
            alive: handle !== undefined,
          });
        } catch (err) {
          log.error('Cannot adopt a pod sandbox', { podSandboxId: rec.id, error: describeError(err) });
        }
      }
      for (const c of index.containers()) {
        await images.retain(c.image.id, c.id).catch((err: unknown) => {
          log.warn('Cannot mark an image in use', {
            containerId: c.id,
            image: c.image.id,
            error: describeError(err),
          });
        });
      }
      started = true;
    },

    async close() {
      started = false;
      await index.flush();
      for (const [name, h] of handlers) await bestEffort(log, `close the ${name} handler`, h.close());
      await releaseRoot(root);
    },

    async info(): Promise<RuntimeInfo> {
      const names: RuntimeHandlerName[] = ['hyper', 'runc'];
      const list = await Promise.all(
        names.map(async (name) => {
          const p = await probeHandler(name);
          return {
            name,
            available: p.available,
            ...(p.reason ? { reason: p.reason } : {}),
            details: p.details,
          };
        }),
      );
      // the answer names the handlers even when the image store cannot be read; the log says why
      const imgs =
        (await bestEffort(log, 'count the images for the runtime info', images.listImages())) ?? [];
      return {
        version: options.version ?? 'unknown',
        handlers: list,
        rootDir: root,
        sandboxes: index.sandboxes().length,
        containers: index.containers().length,
        images: imgs.length,
      };
    },

    async runPodSandbox(rawConfig, requested) {
      requireStarted();
      const config = parseWith(PodSandboxConfigSchema, rawConfig, 'pod sandbox config') as PodSandboxConfig;
      const name = chooseHandler(config, requested, defaultHandler);
      const handler = handlers.get(name);
      const probe = await probeHandler(name);
      if (!handler || !probe.available) {
        throw unavailable(
          `Runtime handler "${name}" is not available on this node: ${probe.reason ?? 'unknown'}`,
        );
      }
      const m = config.metadata;
      const clash = index
        .sandboxes()
        .find(
          (s) =>
            s.config.metadata.name === m.name &&
            s.config.metadata.namespace === m.namespace &&
            s.config.metadata.uid === m.uid &&
            s.config.metadata.attempt === m.attempt,
        );
      if (clash) {
        throw alreadyExists(
          `Pod sandbox name "${m.name}" (attempt ${m.attempt}) is already used by "${clash.id}"`,
          {
            details: { name: m.name, kind: 'podsandboxes' },
          },
        );
      }
      const id = index.allocateId();
      const short = id.slice(0, shortIdLength);
      const stateDir = join(root, 'sandboxes', short);
      const ownsLogDirectory = !config.logDirectory;
      const logDirectory = config.logDirectory ?? join(root, 'logs', short);
      const rec: SandboxRecord = {
        id,
        config,
        handler: name,
        createdAt: nowNs(),
        state: 'SANDBOX_NOTREADY',
        stateDir,
        logDirectory,
        ownsLogDirectory,
      };
      return locks.run(id, async () => {
        await mkdir(stateDir, { recursive: true, mode: 0o700 });
        await mkdir(logDirectory, { recursive: true, mode: 0o750 });
        await index.putSandbox(rec);
        live.set(id, { handler, handle: undefined });
        try {
          const handle = await handler.startSandbox({ id, config, stateDir, events: eventsFor(id) });
          live.set(id, { handler, handle });
        } catch (err) {
          live.delete(id);
          await index.deleteSandbox(id);
          await removeTreeSafely(stateDir, exec).catch((e: unknown) =>
            log.error('Cannot clean up a failed pod sandbox', { podSandboxId: id, error: describeError(e) }),
          );
          if (ownsLogDirectory) {
            await bestEffort(
              log,
              `remove the log directory of failed pod sandbox ${id}`,
              rm(logDirectory, { recursive: true, force: true }),
            );
          }
          throw err;
        }
        await index.putSandbox({ ...rec, state: 'SANDBOX_READY' });
        log.info('Started pod sandbox', { podSandboxId: id, name: m.name, handler: name });
        return id;
      });
    },

    async stopPodSandbox(ref) {
      requireStarted();
      let rec: SandboxRecord;
      try {
        rec = sandboxRecord(ref);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      await locks.run(rec.id, () => stopSandboxLocked(rec));
    },

    async removePodSandbox(ref) {
      requireStarted();
      let rec: SandboxRecord;
      try {
        rec = sandboxRecord(ref);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      await locks.run(rec.id, async () => {
        const l = live.get(rec.id);
        if (!l?.handler) {
          throw unavailable(
            `Cannot remove pod sandbox "${rec.id}": its runtime handler "${rec.handler}" is not available`,
          );
        }
        await stopSandboxLocked(rec);
        for (const c of index.containersOf(rec.id)) {
          await locks.run(c.id, () => removeContainerLocked(c));
        }
        await l.handle?.destroy();
        await removeTreeSafely(rec.stateDir, exec);
        if (rec.ownsLogDirectory) await rm(rec.logDirectory, { recursive: true, force: true });
        live.delete(rec.id);
        await index.deleteSandbox(rec.id);
        log.info('Removed pod sandbox', { podSandboxId: rec.id });
      });
    },

    async podSandboxStatus(ref): Promise<PodSandboxStatus> {
      const rec = sandboxRecord(ref);
      const handle = live.get(rec.id)?.handle;
      const ip = rec.state === 'SANDBOX_READY' ? (handle?.ip() ?? '') : '';
      return {
        ...toSandbox(rec),
        network: { ip, additionalIps: [] },
        info: handle ? handle.info() : {},
        config: rec.config,
      };
    },

    async listPodSandbox(filter: PodSandboxFilter = {}) {
      return index
        .sandboxes()
        .filter((s) => !filter.id || s.id.startsWith(filter.id))
        .filter((s) => !filter.state || s.state === filter.state)
        .filter((s) => !filter.runtimeHandler || s.handler === filter.runtimeHandler)
        .filter((s) => labelsMatch(s.config.labels ?? {}, filter.labelSelector))
        .sort((a, b) => a.createdAt - b.createdAt)
        .map(toSandbox);
    },

    async createContainer(sandboxRef, rawConfig) {
      requireStarted();
      const config = parseWith(ContainerConfigSchema, rawConfig, 'container config') as ContainerConfig;
      const sb = sandboxRecord(sandboxRef);
      const logRel = normalize(
        config.logPath ?? join(config.metadata.name, `${config.metadata.attempt}.log`),
      );
      if (isAbsolute(logRel) || logRel.startsWith('..')) {
        throw invalid(
          `Invalid log path "${config.logPath}": it must stay inside the sandbox's log directory`,
          {
            details: {
              causes: [
                { reason: 'FieldValueInvalid', message: 'escapes the log directory', field: 'logPath' },
              ],
            },
          },
        );
      }
      return locks.run(sb.id, async () => {
        const cur = index.findSandbox(sb.id);
        if (!cur || cur.state !== 'SANDBOX_READY') throw conflict(`Pod sandbox "${sb.id}" is not ready`);
        const handle = handleOf(cur);
        const l = live.get(sb.id);
        const clash = index
          .containersOf(sb.id)
          .find(
            (c) =>
              c.config.metadata.name === config.metadata.name &&
              c.config.metadata.attempt === config.metadata.attempt,
          );
        if (clash) {
          throw alreadyExists(
            `Container name "${config.metadata.name}" (attempt ${config.metadata.attempt}) is already used in pod sandbox "${sb.id}" by "${clash.id}"`,
            { details: { name: config.metadata.name, kind: 'containers' } },
          );
        }
        const image = await images.getImage(config.image).catch((err: unknown) => {
          if (isNotFound(err)) {
            throw notFound(`Image "${config.image}" is not present on this node: pull it first`, {
              cause: err,
            });
          }
          throw err;
        });
        const rootfs: ContainerSpec['rootfs'] =
          l?.handler?.rootfsKind === 'disk'
            ? { kind: 'disk', disk: await images.ensureRootDisk(image.id) }
            : { kind: 'layers', tree: await images.ensureLayerTree(image.id) };
        const id = index.allocateId();
        const logPath = join(cur.logDirectory, logRel);
        await mkdir(join(logPath, '..'), { recursive: true });
        const rec: ContainerRecord = {
          id,
          podSandboxId: sb.id,
          config,
          image,
          rootfs,
          logPath,
          createdAt: nowNs(),
          startedAt: 0,
          finishedAt: 0,
          exitCode: 0,
          reason: '',
          message: '',
          state: 'CONTAINER_CREATED',
          ...(config.resources ? { resources: config.resources } : {}),
        };
        await images.retain(image.id, id);
        await index.putContainer(rec);
        try {
          await handle.createContainer(specOf(rec));
        } catch (err) {
          await index.deleteContainer(id);
          await bestEffort(log, `release the image of container ${id}`, images.release(id));
          throw err;
        }
        log.info('Created container', { containerId: id, podSandboxId: sb.id, name: config.metadata.name });
        return id;
      });
    },

    async startContainer(ref) {
      requireStarted();
      const rec = containerRecord(ref);
      await locks.run(rec.id, async () => {
        const cur = index.findContainer(rec.id);
        if (!cur) throw notFound(`No container with id "${ref}"`);
        if (cur.state !== 'CONTAINER_CREATED') {
          throw conflict(
            `Cannot start container "${cur.id}": it is ${cur.state.replace('CONTAINER_', '').toLowerCase()}`,
          );
        }
        const sb = index.findSandbox(cur.podSandboxId);
        if (!sb || sb.state !== 'SANDBOX_READY')
          throw conflict(`Pod sandbox "${cur.podSandboxId}" is not ready`);
        await handleOf(sb).startContainer(cur.id);
      });
    },

    async stopContainer(ref, timeoutSeconds) {
      requireStarted();
      const rec = containerRecord(ref);
      await locks.run(rec.id, async () => {
        const cur = index.findContainer(rec.id);
        if (!cur || cur.state !== 'CONTAINER_RUNNING') return;
        const sb = index.findSandbox(cur.podSandboxId);
        if (!sb) return;
        const signal = cur.config.stopSignal || cur.image.config.stopSignal || 'SIGTERM';
        await handleOf(sb).stopContainer(cur.id, Math.max(0, timeoutSeconds), signal);
        // the handler reports the exit as an event; do not hang the caller if it never comes
        const ac = new AbortController();
        const timer = clock.setTimeout(() => ac.abort(), 30_000);
        await waitForExit(cur.id, ac.signal);
        timer.cancel();
        if (ac.signal.aborted)
          log.warn('Handler did not report a stopped container', { containerId: cur.id });
      });
    },

    async removeContainer(ref) {
      requireStarted();
      let rec: ContainerRecord;
      try {
        rec = containerRecord(ref);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      await locks.run(rec.id, async () => {
        const cur = index.findContainer(rec.id);
        if (cur) await removeContainerLocked(cur);
      });
    },

    async containerStatus(ref): Promise<ContainerStatus> {
      const rec = containerRecord(ref);
      return {
        ...toContainer(rec),
        startedAt: rec.startedAt,
        finishedAt: rec.finishedAt,
        exitCode: rec.exitCode,
        reason: rec.reason,
        message: rec.message,
        ...(rec.terminationMessage ? { terminationMessage: rec.terminationMessage } : {}),
        mounts: rec.config.mounts ?? [],
        logPath: rec.logPath,
        ...(rec.resources ? { resources: rec.resources } : {}),
        config: rec.config,
      };
    },

    async listContainers(filter: ContainerFilter = {}) {
      let sandboxId: string | undefined;
      if (filter.podSandboxId) {
        try {
          sandboxId = index.resolveSandboxId(filter.podSandboxId);
        } catch {
          return [];
        }
      }
      return index
        .containers()
        .filter((c) => !filter.id || c.id.startsWith(filter.id))
        .filter((c) => !sandboxId || c.podSandboxId === sandboxId)
        .filter((c) => !filter.state || c.state === filter.state)
        .filter((c) => labelsMatch(c.config.labels ?? {}, filter.labelSelector))
        .sort((a, b) => a.createdAt - b.createdAt)
        .map(toContainer);
    },

    async updateContainerResources(ref, raw: LinuxContainerResources) {
      requireStarted();
      const resources = parseWith(LinuxContainerResourcesSchema, raw, 'container resources');
      const rec = containerRecord(ref);
      await locks.run(rec.id, async () => {
        const cur = index.findContainer(rec.id);
        if (!cur) throw notFound(`No container with id "${ref}"`);
        const sb = index.findSandbox(cur.podSandboxId);
        if (!sb) throw notFound(`No pod sandbox with id "${cur.podSandboxId}"`);
        await handleOf(sb).updateResources(cur.id, resources);
        await index.putContainer({ ...cur, resources: { ...(cur.resources ?? {}), ...resources } });
      });
    },

    async execSync(ref, cmd, timeoutSeconds): Promise<ExecSyncResult> {
      const session = await core.exec(ref, { cmd, stdout: true, stderr: true });
      const work = Promise.all([
        collectBytes(session.stdout, execSyncMax),
        collectBytes(session.stderr, execSyncMax),
        session.exit,
      ]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit =
        timeoutSeconds > 0
          ? new Promise<never>((_, reject) => {
              timer = setTimeout(
                () =>
                  reject(
                    timeoutError(
                      `Command "${cmd.join(' ').slice(0, 200)}" timed out after ${timeoutSeconds} s`,
                    ),
                  ),
                timeoutSeconds * 1000,
              );
            })
          : undefined;
      try {
        const [stdout, stderr, exit] = await (limit ? Promise.race([work, limit]) : work);
        return { stdout, stderr, exitCode: exit.exitCode };
      } catch (err) {
        await bestEffort(log, 'close a failed exec session', session.close());
        throw err;
      } finally {
        if (timer) clearTimeout(timer);
      }
    },

    async exec(ref, opts: ExecOptions): Promise<StreamSession> {
      requireStarted();
      if (opts.cmd.length === 0) throw invalid('Cannot exec: the command is empty');
      const rec = containerRecord(ref);
      if (rec.state !== 'CONTAINER_RUNNING') {
        throw conflict(`Cannot exec in container "${rec.id}": it is not running`);
      }
      const sb = index.findSandbox(rec.podSandboxId);
      if (!sb) throw notFound(`No pod sandbox with id "${rec.podSandboxId}"`);
      return handleOf(sb).exec(rec.id, opts);
    },

    async attach(ref, opts: AttachOptions): Promise<StreamSession> {
      requireStarted();
      const rec = containerRecord(ref);
      if (rec.state !== 'CONTAINER_RUNNING') {
        throw conflict(`Cannot attach to container "${rec.id}": it is not running`);
      }
      const sb = index.findSandbox(rec.podSandboxId);
      if (!sb) throw notFound(`No pod sandbox with id "${rec.podSandboxId}"`);
      return handleOf(sb).attach(rec.id, opts);
    },

    containerLogs(ref, opts: LogOptions = {}): AsyncIterable<LogLine> {
      const rec = containerRecord(ref);
      const id = rec.id;
      return readCriLog(rec.logPath, {
        ...opts,
        clock,
        isLive: () => {
          const cur = index.findContainer(id);
          return cur !== undefined && cur.state !== 'CONTAINER_EXITED';
        },
      });
    },

    async portForward(sandboxRef, port): Promise<Duplex> {
      requireStarted();
      const sb = sandboxRecord(sandboxRef);
      if (sb.state !== 'SANDBOX_READY') throw conflict(`Pod sandbox "${sb.id}" is not ready`);
      return handleOf(sb).portForward(port);
    },

    async syncPodFiles(sandboxRef, hostPath): Promise<void> {
      requireStarted();
      if (!isAbsolute(hostPath) || hostPath.split('/').includes('..')) {
        throw invalid(`File volume path "${hostPath}" must be absolute, without ".."`, {
          details: {
            causes: [{ reason: 'FieldValueInvalid', message: 'not an absolute path', field: 'hostPath' }],
          },
        });
      }
      const sb = sandboxRecord(sandboxRef);
      if (sb.state !== 'SANDBOX_READY') throw conflict(`Pod sandbox "${sb.id}" is not ready`);
      await handleOf(sb).syncFiles?.(hostPath);
    },

    async containerStats(ref): Promise<ContainerStats> {
      const rec = containerRecord(ref);
      const sb = index.findSandbox(rec.podSandboxId);
      if (!sb) throw notFound(`No pod sandbox with id "${rec.podSandboxId}"`);
      const handle = live.get(sb.id)?.handle;
      if (!handle || rec.state !== 'CONTAINER_RUNNING') {
        return {
          containerId: rec.id,
          timestampNs: nowNs(),
          cpuUsageCoreNanoSeconds: 0,
          memoryWorkingSetBytes: 0,
        };
      }
      return handle.stats(rec.id);
    },
  };
  return core;
}

/** kubelet's bounds on a termination message taken from the log. */
const fallbackLogLines = 80;
const fallbackLogBytes = 2048;

/** The last 80 lines of a container's log, at most 2,048 bytes (the newest kept). */
async function logTail(path: string): Promise<string> {
  const lines: string[] = [];
  let partial = '';
  for await (const l of readCriLog(path, { tailLines: fallbackLogLines })) {
    partial += Buffer.from(l.content).toString('utf8');
    if (l.full) {
      lines.push(partial);
      partial = '';
    }
  }
  if (partial) lines.push(partial);
  const text = Buffer.from(lines.join('\n'));
  return text.subarray(Math.max(0, text.length - fallbackLogBytes)).toString('utf8');
}

/**
 * One daemon per root: `<root>/daemon.pid` names the owner. A file left by a daemon that was
 * killed (its pid no longer runs) is taken over. @throws ServiceUnavailable
 */
export async function claimRoot(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const file = join(root, 'daemon.pid');
  const other = Number(((await unlessMissing(readFile(file, 'utf8'))) ?? '').trim());
  if (Number.isInteger(other) && other > 0 && other !== process.pid && isProcessAlive(other)) {
    throw unavailable(`Another runtime daemon (pid ${other}) already uses the root "${root}"`);
  }
  await writeFile(file, `${process.pid}\n`, { mode: 0o600 });
}

async function releaseRoot(root: string): Promise<void> {
  const file = join(root, 'daemon.pid');
  if (Number(((await unlessMissing(readFile(file, 'utf8'))) ?? '').trim()) === process.pid) {
    await rm(file, { force: true });
  }
}
