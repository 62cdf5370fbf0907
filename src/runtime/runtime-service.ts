/**
 * The runtime API (DESIGN.md section 3): the contract between the node agent / hyperctl and
 * the `h8s runtime` daemon, shaped after the Kubernetes CRI (v1) with JSON field names as
 * crictl prints them. A sandbox names its runtime handler: `hyper` (one QEMU VM per pod)
 * or `runc` (Linux containers). Both handlers pass the same conformance suite
 * (`runtime/testing/`) with the same semantics.
 *
 * The daemon serves this over HTTP/1.1 + JSON on a unix socket; `RuntimeClient` implements
 * this same interface over that socket, so the agent and hyperctl cannot tell the difference
 * between an in-process service and the daemon.
 *
 * Lifecycles:
 *   sandbox:   (run) → ready → (stop) → notready → (remove) → gone
 *   container: (create) → created → (start) → running → exited → (remove) → gone
 * Stopping a sandbox stops its containers. Removing a running container or a ready sandbox
 * stops it first (as CRI does). All ids are opaque 64-hex strings; any unique prefix of at
 * least 6 characters is accepted where an id is expected, and names are accepted by hyperctl.
 *
 * Error codes: NotFound (unknown id), AlreadyExists (name taken by a live sandbox/container
 * in the same pod), Invalid (bad config, with field causes), Conflict (wrong state: start of
 * a running container, exec in an exited one), Forbidden (the handler refuses a feature,
 * e.g. privileged or host network on `hyper`), ServiceUnavailable, Timeout, InternalError.
 */
import type { Duplex } from 'node:stream';
import type { ImageService } from '../images/index.js';

export type RuntimeHandlerName = 'hyper' | 'runc';

export interface KeyValuePair {
  readonly key: string;
  readonly value: string;
}

export interface DnsConfig {
  readonly servers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

/**
 * One network interface the agent has already plumbed on the host for a sandbox.
 * For `hyper`: `hostDevice` is a tap device the VM's NIC is backed by.
 * For `runc`: the sandbox joins `netnsPath`, where the interface already exists.
 */
export interface SandboxInterface {
  /** Interface name inside the pod, e.g. `eth0`. */
  readonly name: string;
  /** Host tap device (hyper) ; unused by runc. */
  readonly hostDevice?: string;
  readonly mac?: string;
  /** Addresses in CIDR form, e.g. `192.168.0.5/24`. */
  readonly addresses: readonly string[];
  readonly mtu?: number;
}

export interface SandboxRoute {
  /** CIDR or `default`. */
  readonly destination: string;
  readonly gateway?: string;
  readonly device?: string;
}

export interface SandboxNetwork {
  /** For runc: an existing network namespace to join (`/var/run/netns/x`). Absent = new empty netns with lo only. */
  readonly netnsPath?: string;
  readonly interfaces: readonly SandboxInterface[];
  readonly routes: readonly SandboxRoute[];
}

export interface PortMapping {
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly containerPort: number;
  readonly hostPort?: number;
  readonly hostIp?: string;
}

export interface PodSandboxMetadata {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt: number;
}

export interface LinuxSandboxSecurity {
  readonly privileged?: boolean;
  /** Share the host's network namespace (runc only). */
  readonly hostNetwork?: boolean;
  readonly hostPid?: boolean;
  readonly hostIpc?: boolean;
}

/** Sandbox-level size; for `hyper` it sizes the VM. */
export interface SandboxResources {
  /** CPU in millicores; the VM gets ceil(cpuMillis/1000) vCPUs (default 1). */
  readonly cpuMillis?: number;
  /** Memory in bytes (default 128 MiB for a VM). */
  readonly memoryBytes?: number;
}

export interface PodSandboxConfig {
  readonly metadata: PodSandboxMetadata;
  readonly hostname?: string;
  /** Directory where container logs go (`<logDirectory>/<container logPath>`); default under the daemon root. */
  readonly logDirectory?: string;
  readonly dnsConfig?: DnsConfig;
  readonly portMappings?: readonly PortMapping[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly network?: SandboxNetwork;
  readonly security?: LinuxSandboxSecurity;
  readonly resources?: SandboxResources;
  /** Kernel parameters for the pod (VM-wide for hyper, namespaced ones only for runc). */
  readonly sysctls?: Readonly<Record<string, string>>;
}

export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface PodSandbox {
  readonly id: string;
  readonly metadata: PodSandboxMetadata;
  readonly state: PodSandboxState;
  /** Nanoseconds since the epoch, as CRI uses. */
  readonly createdAt: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly runtimeHandler: RuntimeHandlerName;
}

export interface PodSandboxStatus extends PodSandbox {
  readonly network: { readonly ip: string; readonly additionalIps: readonly string[] };
  /**
   * Handler-specific facts shown by `hyperctl list`/`info`; for hyper:
   * `{ vmId, pid, accel: 'kvm'|'tcg', cpus, memoryMiB }`; for runc: `{ pid }`.
   */
  readonly info: Readonly<Record<string, unknown>>;
  /** The config the sandbox was created with (CRI's verbose info), e.g. for `hyperctl start`. */
  readonly config?: PodSandboxConfig;
}

export interface PodSandboxFilter {
  readonly id?: string;
  readonly state?: PodSandboxState;
  readonly labelSelector?: Readonly<Record<string, string>>;
  readonly runtimeHandler?: RuntimeHandlerName;
}

export interface Mount {
  readonly containerPath: string;
  /** Host path for a bind mount; for `type: block`, a block device or disk image file. */
  readonly hostPath: string;
  readonly readonly?: boolean;
  /**
   * `bind` (default): a host directory or file (runc only). `block`: a block device/image
   * attached to the pod (virtio-blk for hyper, loop-mounted for runc), formatted with `fsType`
   * on first use. `tmpfs`: a fresh tmpfs (hostPath ignored). `files`: a directory the agent
   * keeps in kubelet's atomic-writer layout (`..data` → a generation); runc binds it, hyper
   * copies the current generation into the guest and re-copies it on `syncPodFiles` (ADR 0008).
   * `emptyDir`: a pod-wide directory named `name`, shared by the containers of the sandbox that
   * mount it, memory-backed with `medium: 'Memory'`, at most `sizeLimitBytes`.
   */
  readonly type?: 'bind' | 'block' | 'tmpfs' | 'files' | 'emptyDir';
  readonly fsType?: 'ext4' | 'xfs';
  /** A path inside the volume to mount instead of its root (relative, no `..`). */
  readonly subPath?: string;
  /** `emptyDir`: the volume's name, unique in the pod. */
  readonly name?: string;
  /** `emptyDir`: `Memory` for a tmpfs; default the node's disk. */
  readonly medium?: 'Memory';
  /** `emptyDir`: the size limit. */
  readonly sizeLimitBytes?: number;
}

export interface LinuxContainerResources {
  readonly cpuPeriod?: number;
  readonly cpuQuota?: number;
  readonly cpuShares?: number;
  readonly memoryLimitInBytes?: number;
  readonly pidsLimit?: number;
}

export interface Capabilities {
  readonly addCapabilities?: readonly string[];
  readonly dropCapabilities?: readonly string[];
}

export interface LinuxContainerSecurity {
  readonly privileged?: boolean;
  readonly capabilities?: Capabilities;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  /** User name to resolve inside the image (/etc/passwd) when runAsUser is absent. */
  readonly runAsUsername?: string;
  readonly supplementalGroups?: readonly number[];
  readonly readonlyRootfs?: boolean;
  readonly noNewPrivs?: boolean;
  /** `runtime/default` (default) or `unconfined`. */
  readonly seccompProfile?: 'runtime/default' | 'unconfined';
}

export interface ContainerMetadata {
  readonly name: string;
  readonly attempt: number;
}

export interface ContainerConfig {
  readonly metadata: ContainerMetadata;
  /** Image reference; the image must have been pulled. */
  readonly image: string;
  /** Replaces the image ENTRYPOINT when non-empty. */
  readonly command?: readonly string[];
  /** Replaces the image CMD when non-empty. */
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly envs?: readonly KeyValuePair[];
  readonly mounts?: readonly Mount[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Relative to the sandbox's logDirectory; default `<name>/<attempt>.log`. */
  readonly logPath?: string;
  readonly stdin?: boolean;
  readonly stdinOnce?: boolean;
  readonly tty?: boolean;
  readonly resources?: LinuxContainerResources;
  readonly security?: LinuxContainerSecurity;
  /** Signal for stopContainer before the grace period ends (default SIGTERM or the image's). */
  readonly stopSignal?: string;
  /**
   * A file inside the container whose content (at most 4,096 bytes) becomes the exited
   * container's `terminationMessage`, as kubelet's `terminationMessagePath`. Absolute.
   */
  readonly terminationMessagePath?: string;
  /** kubelet's `FallbackToLogsOnError`: a failed container with no message gets its log's tail. */
  readonly terminationMessageFallbackToLogs?: boolean;
}

export type ContainerState =
  'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface Container {
  readonly id: string;
  readonly podSandboxId: string;
  readonly metadata: ContainerMetadata;
  readonly image: string;
  /** Image ID (`sha256:…`) the container was created from. */
  readonly imageRef: string;
  readonly state: ContainerState;
  readonly createdAt: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ContainerStatus extends Container {
  /** Nanoseconds since the epoch; 0 when not yet. */
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly exitCode: number;
  /** `Completed`, `Error`, `OOMKilled`, `ContainerCannotRun`, ... */
  readonly reason: string;
  readonly message: string;
  /** What the container wrote to its `terminationMessagePath` (at most 4,096 bytes), or ''. */
  readonly terminationMessage?: string;
  readonly mounts: readonly Mount[];
  /** Absolute path of the CRI-format log file. */
  readonly logPath: string;
  readonly resources?: LinuxContainerResources;
  /** The config the container was created with (CRI's verbose info). */
  readonly config?: ContainerConfig;
}

export interface ContainerFilter {
  readonly id?: string;
  readonly podSandboxId?: string;
  readonly state?: ContainerState;
  readonly labelSelector?: Readonly<Record<string, string>>;
}

export interface ExecSyncResult {
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  readonly exitCode: number;
}

export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/**
 * A bidirectional exec/attach session. Channel semantics follow the Kubernetes remote command
 * protocol (v5.channel.k8s.io): stdin in; stdout, stderr out (stderr merged into stdout with a
 * tty); resize in; one final exit status; explicit stdin half-close.
 */
export interface StreamSession {
  /** Bytes written go to the process's stdin (when stdin was requested). */
  writeStdin(data: Uint8Array): Promise<void>;
  /** Half-closes stdin (EOF for the process). */
  closeStdin(): Promise<void>;
  resize(size: TerminalSize): Promise<void>;
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  /** Resolves with the exit code once the process has exited and both outputs ended. */
  readonly exit: Promise<{ exitCode: number }>;
  /** Detaches (attach) or kills (exec) and releases the session. */
  close(): Promise<void>;
}

export interface ExecOptions {
  readonly cmd: readonly string[];
  readonly tty?: boolean;
  readonly stdin?: boolean;
  readonly stdout?: boolean;
  readonly stderr?: boolean;
  readonly initialSize?: TerminalSize;
  readonly envs?: readonly KeyValuePair[];
  readonly workingDir?: string;
  readonly user?: string;
}

export interface AttachOptions {
  readonly stdin?: boolean;
  readonly stdout?: boolean;
  readonly stderr?: boolean;
  readonly tty?: boolean;
}

export interface LogOptions {
  /** Keep streaming new lines until the container exits or the signal aborts. */
  readonly follow?: boolean;
  /** Only the last N lines. */
  readonly tailLines?: number;
  /** Only lines at or after this time (ns since epoch). */
  readonly sinceNs?: number;
  readonly timestamps?: boolean;
  /** Stop after this many bytes. */
  readonly limitBytes?: number;
  readonly signal?: AbortSignal;
}

/** One CRI log line: `<RFC3339Nano> <stdout|stderr> <F|P> <content>`. */
export interface LogLine {
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  /** True when this is a full line (F); false for a partial (P) line. */
  readonly full: boolean;
  readonly content: Uint8Array;
}

export interface ContainerStats {
  readonly containerId: string;
  readonly timestampNs: number;
  readonly cpuUsageCoreNanoSeconds: number;
  readonly memoryWorkingSetBytes: number;
}

export interface RuntimeInfo {
  readonly version: string;
  readonly handlers: readonly {
    readonly name: RuntimeHandlerName;
    readonly available: boolean;
    /** Why not, when unavailable. */
    readonly reason?: string;
    /** e.g. for hyper `{ accel: 'kvm'|'tcg', kernel, kernelVersion, poolSize, poolReady }`. */
    readonly details: Readonly<Record<string, unknown>>;
  }[];
  readonly rootDir: string;
  readonly sandboxes: number;
  readonly containers: number;
  readonly images: number;
}

/** The runtime service: sandboxes and containers (CRI RuntimeService). */
export interface RuntimeService {
  info(): Promise<RuntimeInfo>;

  /**
   * Creates and starts a sandbox with `handler`; returns its id. Without a handler (or ''), a
   * sandbox asking for privileged mode or host namespaces goes to `runc`, any other to the
   * daemon's default handler (`hyper`). Asking `hyper` for host access throws Forbidden.
   */
  runPodSandbox(config: PodSandboxConfig, handler?: RuntimeHandlerName | ''): Promise<string>;
  /** Stops every container and the sandbox (VM shut down / netns processes killed). Idempotent. */
  stopPodSandbox(id: string): Promise<void>;
  /** Removes a sandbox and its containers (stopping them first). Idempotent for unknown ids. */
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter): Promise<readonly PodSandbox[]>;

  createContainer(podSandboxId: string, config: ContainerConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends the stop signal, waits up to `timeoutSeconds`, then SIGKILL. Idempotent. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  containerStatus(id: string): Promise<ContainerStatus>;
  listContainers(filter?: ContainerFilter): Promise<readonly Container[]>;
  updateContainerResources(id: string, resources: LinuxContainerResources): Promise<void>;

  /** Runs a command to completion in a running container. @throws Timeout after timeoutSeconds (0 = none). */
  execSync(id: string, cmd: readonly string[], timeoutSeconds: number): Promise<ExecSyncResult>;
  /** Starts a command in a running container with streams. */
  exec(id: string, options: ExecOptions): Promise<StreamSession>;
  /** Attaches to the main process of a running container. */
  attach(id: string, options: AttachOptions): Promise<StreamSession>;
  /** Reads the container's CRI log; with `follow`, keeps going until exit or abort. */
  containerLogs(id: string, options?: LogOptions): AsyncIterable<LogLine>;
  /** Forwards a TCP connection to `port` inside the sandbox's network namespace. */
  portForward(podSandboxId: string, port: number): Promise<Duplex>;

  containerStats(id: string): Promise<ContainerStats>;

  /**
   * The agent wrote a new generation of the `files` volume at `hostPath` (ADR 0008): make the
   * sandbox's containers see it. hyper copies it into the guest and swaps `..data` there; runc
   * has nothing to do (its bind mount shows the host directory). Idempotent.
   */
  syncPodFiles?(podSandboxId: string, hostPath: string): Promise<void>;
}

/** The whole node runtime: containers and images. */
export interface NodeRuntime extends RuntimeService {
  readonly images: ImageService;
}
