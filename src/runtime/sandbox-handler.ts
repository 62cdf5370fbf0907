/**
 * The contract between the runtime daemon's core (ids, names, state index, logs routing,
 * the socket API) and one runtime handler (`hyper` in runtime/hyper, `runc` in runtime/runc).
 *
 * The core owns: id allocation, name uniqueness, the persisted index of sandboxes and
 * containers (`<root>/state/`), image pulls and retention, filtering and listing, the HTTP API.
 * A handler owns: everything that actually runs (QEMU, runc, monitors, guest agent),
 * the per-sandbox state directory it is given, and re-adoption after a daemon restart.
 *
 * Invariants:
 * - A handler never keeps state only in memory that it needs after a daemon restart: all of
 *   it is written under `stateDir` before the call that created it returns.
 * - Exits are reported through `events.containerExited` exactly once per container start
 *   (also for exits that happened while the daemon was down, on adoption).
 * - Handlers refuse what they cannot isolate (privileged / host namespaces on `hyper`) with
 *   Forbidden, and report bad configs as Invalid with field causes.
 */
import type { ImageRecord, LayerTree, RootDisk } from '../images/index.js';
import type {
  AttachOptions,
  ContainerConfig,
  ContainerStats,
  ExecOptions,
  LinuxContainerResources,
  PodSandboxConfig,
  RuntimeHandlerName,
  StreamSession,
} from './runtime-service.js';
import type { Duplex } from 'node:stream';

export interface HandlerProbe {
  readonly available: boolean;
  readonly reason?: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** What the core hands a handler about one container it should create. */
export interface ContainerSpec {
  readonly id: string;
  readonly config: ContainerConfig;
  readonly image: ImageRecord;
  /** Absolute path of the CRI log file the handler (or its monitor) must append to. */
  readonly logPath: string;
  /** The image's root filesystem in the form the handler asked for (see `rootfsKind`). */
  readonly rootfs:
    | { readonly kind: 'disk'; readonly disk: RootDisk }
    | { readonly kind: 'layers'; readonly tree: LayerTree };
}

export interface ContainerExit {
  readonly containerId: string;
  readonly exitCode: number;
  /** ns since epoch */
  readonly finishedAt: number;
  /** `Completed`, `Error`, `OOMKilled`, `ContainerCannotRun` */
  readonly reason: string;
  readonly message?: string;
  /** The content of the container's `terminationMessagePath` (at most 4,096 bytes). */
  readonly terminationMessage?: string;
}

export interface HandlerEvents {
  containerStarted(containerId: string, startedAtNs: number): void;
  containerExited(exit: ContainerExit): void;
  /** The sandbox died on its own (VM crashed, QEMU killed). */
  sandboxDied(reason: string): void;
}

export interface SandboxStartRequest {
  readonly id: string;
  readonly config: PodSandboxConfig;
  /** A directory owned by this sandbox (sockets, overlays, state JSON). Exists and is empty. */
  readonly stateDir: string;
  readonly events: HandlerEvents;
  readonly signal?: AbortSignal;
}

export interface SandboxAdoptRequest {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly stateDir: string;
  readonly events: HandlerEvents;
  /** Containers the core knows for this sandbox, with their last known state. */
  readonly containers: readonly {
    readonly spec: ContainerSpec;
    readonly started: boolean;
    readonly exited: boolean;
  }[];
}

/** A running sandbox as its handler manages it. */
export interface SandboxHandle {
  /** Facts for PodSandboxStatus.info (vmId, pid, accel, cpus, memoryMiB, ...). */
  info(): Readonly<Record<string, unknown>>;
  /** Primary IP of the sandbox, '' when it has no network. */
  ip(): string;
  createContainer(spec: ContainerSpec): Promise<void>;
  startContainer(containerId: string): Promise<void>;
  /** Stop signal, wait `timeoutSeconds`, then SIGKILL; resolves once exited. */
  stopContainer(containerId: string, timeoutSeconds: number, stopSignal: string): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  exec(containerId: string, options: ExecOptions): Promise<StreamSession>;
  attach(containerId: string, options: AttachOptions): Promise<StreamSession>;
  updateResources(containerId: string, resources: LinuxContainerResources): Promise<void>;
  stats(containerId: string): Promise<ContainerStats>;
  portForward(port: number): Promise<Duplex>;
  /**
   * The `files` volume at `hostPath` has a new generation (ADR 0008): make the containers that
   * mount it see it. Absent where a bind mount shows the host directory (runc). Idempotent.
   */
  syncFiles?(hostPath: string): Promise<void>;
  /** Stops all containers and the sandbox itself (VM powered off). Idempotent. */
  stop(): Promise<void>;
  /** Releases everything under stateDir that is not the core's (after stop). */
  destroy(): Promise<void>;
}

export interface SandboxHandler {
  readonly name: RuntimeHandlerName;
  /** Which rootfs form the core should prepare for containers of this handler. */
  readonly rootfsKind: 'disk' | 'layers';
  probe(): Promise<HandlerProbe>;
  startSandbox(request: SandboxStartRequest): Promise<SandboxHandle>;
  /**
   * Re-attaches to a sandbox started by an earlier daemon process. Returns undefined when it
   * is gone (the core then marks it not ready and reports its containers exited).
   */
  adoptSandbox(request: SandboxAdoptRequest): Promise<SandboxHandle | undefined>;
  /** Stops background work (VM pool refill); running sandboxes keep running. */
  close(): Promise<void>;
}
