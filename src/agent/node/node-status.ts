/**
 * The agent's Node object (kubelet's node status): capacity and allocatable, addresses,
 * nodeInfo, labels, the four conditions, the runtime handlers and the images it holds. Built
 * from what the host and the runtime say; pure given those facts, so it is tested without a
 * host.
 */
import type { Node } from '../../api/index.js';
import type { ImageRecord, RuntimeInfo } from '../../runtime/index.js';

export interface HostFacts {
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly availableMemoryBytes: number;
  /** Size and free space of the filesystem holding the agent's data (ephemeral storage). */
  readonly diskBytes: number;
  readonly diskFreeBytes: number;
  readonly pidMax: number;
  readonly pidsInUse: number;
  readonly hostname: string;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly machineId: string;
  readonly bootId: string;
  readonly architecture: string;
}

export interface NodeStatusInput {
  readonly nodeName: string;
  readonly addresses: readonly string[];
  readonly streamingPort: number;
  readonly host: HostFacts;
  /** undefined when the runtime does not answer. */
  readonly runtime: RuntimeInfo | undefined;
  readonly images: readonly ImageRecord[];
  readonly kubeletVersion: string;
  readonly maxPods: number;
  /** Why the node is not ready besides the runtime (e.g. the network is not set up). */
  readonly notReadyReason?: string | undefined;
  readonly nowIso: string;
  /** The Node as the API holds it, for transition times. */
  readonly previous: Node | undefined;
  readonly extraLabels: Readonly<Record<string, string>>;
}

/** Upstream kubelet's default hard eviction thresholds. */
export const evictionThresholds = {
  memoryAvailableBytes: 100 * 1024 * 1024,
  nodefsAvailableFraction: 0.1,
} as const;

function ki(bytes: number): string {
  return `${Math.floor(bytes / 1024)}Ki`;
}

function goArch(arch: string): string {
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch;
}

export function nodeLabels(input: NodeStatusInput): Record<string, string> {
  const hyper = input.runtime?.handlers.find((h) => h.name === 'hyper');
  const accel = hyper?.details['accel'];
  return {
    'kubernetes.io/hostname': input.nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': goArch(input.host.architecture),
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': goArch(input.host.architecture),
    ...(accel === 'kvm' || accel === 'tcg' ? { 'h8s.io/accel': accel } : {}),
    ...input.extraLabels,
  };
}

export function nodeStatus(input: NodeStatusInput): NonNullable<Node['status']> {
  const h = input.host;
  const prev = input.previous?.status?.conditions ?? [];
  const condition = (
    type: string,
    isTrue: boolean,
    reasonTrue: string,
    reasonFalse: string,
    msgTrue: string,
    msgFalse: string,
  ) => {
    const status = isTrue ? 'True' : 'False';
    const old = prev.find((c) => c.type === type);
    return {
      type,
      status,
      lastHeartbeatTime: input.nowIso,
      lastTransitionTime:
        old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : input.nowIso,
      reason: isTrue ? reasonTrue : reasonFalse,
      message: isTrue ? msgTrue : msgFalse,
    };
  };
  const memoryPressure = h.availableMemoryBytes < evictionThresholds.memoryAvailableBytes;
  const diskPressure =
    h.diskBytes > 0 && h.diskFreeBytes / h.diskBytes < evictionThresholds.nodefsAvailableFraction;
  const pidPressure = h.pidMax > 0 && h.pidsInUse / h.pidMax > 0.9;
  const runtimeOk = input.runtime !== undefined;
  const ready = runtimeOk && input.notReadyReason === undefined;
  const notReadyMessage = !runtimeOk ? 'container runtime is down' : (input.notReadyReason ?? '');
  const handlers = (input.runtime?.handlers ?? []).filter((x) => x.available);
  return {
    capacity: {
      cpu: String(h.cpus),
      memory: ki(h.memoryBytes),
      pods: String(input.maxPods),
      'ephemeral-storage': ki(h.diskBytes),
    },
    allocatable: {
      cpu: String(h.cpus),
      memory: ki(Math.max(0, h.memoryBytes - evictionThresholds.memoryAvailableBytes)),
      pods: String(input.maxPods),
      'ephemeral-storage': String(Math.floor(h.diskBytes * (1 - evictionThresholds.nodefsAvailableFraction))),
    },
    conditions: [
      condition(
        'MemoryPressure',
        memoryPressure,
        'KubeletHasInsufficientMemory',
        'KubeletHasSufficientMemory',
        'kubelet has insufficient memory available',
        'kubelet has sufficient memory available',
      ),
      condition(
        'DiskPressure',
        diskPressure,
        'KubeletHasDiskPressure',
        'KubeletHasNoDiskPressure',
        'kubelet has disk pressure',
        'kubelet has no disk pressure',
      ),
      condition(
        'PIDPressure',
        pidPressure,
        'KubeletHasInsufficientPID',
        'KubeletHasSufficientPID',
        'kubelet has insufficient PID available',
        'kubelet has sufficient PID available',
      ),
      condition(
        'Ready',
        ready,
        'KubeletReady',
        'KubeletNotReady',
        'kubelet is posting ready status',
        notReadyMessage,
      ),
    ],
    addresses: [
      ...input.addresses.map((address) => ({ type: 'InternalIP', address })),
      { type: 'Hostname', address: input.nodeName },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: input.streamingPort } },
    nodeInfo: {
      machineID: h.machineId,
      systemUUID: h.machineId,
      bootID: h.bootId,
      kernelVersion: h.kernelVersion,
      osImage: h.osImage,
      containerRuntimeVersion: `h8s://${input.runtime?.version ?? 'unknown'}`,
      kubeletVersion: input.kubeletVersion,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: goArch(h.architecture),
    },
    images: [...input.images]
      .sort((a, b) => b.sizeBytes - a.sizeBytes)
      .slice(0, 50)
      .map((i) => ({ names: [...i.repoDigests, ...i.repoTags], sizeBytes: i.sizeBytes })),
    runtimeHandlers: handlers.map((x) => ({
      name: x.name,
      features: { recursiveReadOnlyMounts: false, userNamespaces: false },
    })),
  };
}
