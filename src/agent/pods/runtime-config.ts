/**
 * Pod and container specs turned into the runtime API's configs (kubelet's
 * `generatePodSandboxConfig` and `generateContainerConfig`): which handler, how big a VM,
 * which mounts, which user and capabilities, which labels lead back to the pod.
 */
import { createHash } from 'node:crypto';
import {
  parseQuantity,
  podNeedsHostAccess,
  type Container,
  type Pod,
  type RuntimeClass,
} from '../../api/index.js';
import { forbidden, invalid } from '../../lib/index.js';
import type {
  ContainerConfig,
  LinuxContainerResources,
  LinuxContainerSecurity,
  Mount,
  PodSandboxConfig,
  PortMapping,
  RuntimeHandlerName,
  SandboxNetwork,
} from '../../runtime/index.js';
import {
  containerHashAnnotation,
  containerKindAnnotation,
  containerNameLabel,
  podNameLabel,
  podNamespaceLabel,
  podUidLabel,
  type ContainerKind,
} from './runtime-view.js';

/** Whether the pod needs host access only runc gives. */
/** Privileged or host namespaces: the pod must run on runc. */
export const needsHostAccess = podNeedsHostAccess;

/**
 * The runtime handler for `pod`: its RuntimeClass's handler, else `runc` for pods needing host
 * access, else `hyper`.
 * @throws Forbidden when the pod asks `hyper` explicitly for host access (a VM cannot give it).
 */
export function handlerFor(pod: Pod, runtimeClass: RuntimeClass | undefined): RuntimeHandlerName {
  const hostAccess = needsHostAccess(pod);
  if (runtimeClass) {
    const h = runtimeClass.handler;
    if (h !== 'hyper' && h !== 'runc') {
      throw invalid(
        `RuntimeClass "${runtimeClass.metadata?.name ?? ''}" names handler "${h ?? ''}", which this node does not have`,
      );
    }
    if (h === 'hyper' && hostAccess) {
      throw forbidden(
        `Pod asks for privileged mode or host namespaces (hostNetwork, hostPID, hostIPC) on RuntimeClass "${runtimeClass.metadata?.name ?? ''}" (handler hyper): a VM pod has its own kernel and cannot share the host's; use runtimeClassName: runc`,
      );
    }
    return h;
  }
  return hostAccess ? 'runc' : 'hyper';
}

/** The hash of a container's spec: a change restarts the container (kubelet's container hash). */
export function containerHash(spec: Container, kind: ContainerKind): string {
  const { resources: _r, ...rest } = spec;
  return createHash('sha256').update(kind).update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

function limitOf(c: Container, resource: string): number | undefined {
  const v = c.resources?.limits?.[resource];
  return v === undefined ? undefined : parseQuantity(v);
}

function requestOf(c: Container, resource: string): number | undefined {
  const v = c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource];
  return v === undefined ? undefined : parseQuantity(v);
}

/**
 * The VM size of a hyper pod, as Kata sizes its sandbox: the sum of the app containers'
 * limits (or the largest init container's, when bigger), plus the RuntimeClass's fixed
 * overhead; undefined where no container sets a limit (the runtime's default then).
 */
export function sandboxResources(
  pod: Pod,
  runtimeClass: RuntimeClass | undefined,
): { cpuMillis?: number; memoryBytes?: number } {
  const sum = (resource: string): number | undefined => {
    const apps = pod.spec?.containers ?? [];
    const inits = pod.spec?.initContainers ?? [];
    let total = 0;
    let any = false;
    for (const c of [...apps, ...inits.filter((i) => i.restartPolicy === 'Always')]) {
      const l = limitOf(c, resource);
      if (l !== undefined) {
        total += l;
        any = true;
      }
    }
    for (const c of inits) {
      if (c.restartPolicy === 'Always') continue;
      const l = limitOf(c, resource);
      if (l !== undefined && l > total) {
        total = l;
        any = true;
      }
    }
    if (!any) return undefined;
    const overhead = runtimeClass?.overhead?.podFixed?.[resource];
    return total + (overhead === undefined ? 0 : parseQuantity(overhead));
  };
  const cpu = sum('cpu');
  const memory = sum('memory');
  return {
    ...(cpu === undefined ? {} : { cpuMillis: Math.ceil(cpu * 1000) }),
    ...(memory === undefined ? {} : { memoryBytes: Math.ceil(memory) }),
  };
}

export interface SandboxConfigInput {
  readonly pod: Pod;
  readonly attempt: number;
  readonly runtimeClass: RuntimeClass | undefined;
  readonly logDirectory: string;
  readonly network: SandboxNetwork | undefined;
  readonly dns?: PodSandboxConfig['dnsConfig'];
}

export function podSandboxConfig(input: SandboxConfigInput): PodSandboxConfig {
  const { pod } = input;
  const meta = pod.metadata ?? {};
  const spec = pod.spec ?? {};
  const ports: PortMapping[] = [];
  for (const c of spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      const protocol = p.protocol === 'UDP' || p.protocol === 'SCTP' ? p.protocol : 'TCP';
      ports.push({
        protocol,
        containerPort: p.containerPort ?? 0,
        hostPort: p.hostPort,
        ...(p.hostIP ? { hostIp: p.hostIP } : {}),
      });
    }
  }
  const hostname = (spec.hostname ?? meta.name ?? 'pod').slice(0, 63);
  const sysctls: Record<string, string> = {};
  for (const s of spec.securityContext?.sysctls ?? []) sysctls[s.name ?? ''] = s.value ?? '';
  return {
    metadata: {
      name: meta.name ?? '',
      uid: meta.uid ?? '',
      namespace: meta.namespace ?? '',
      attempt: input.attempt,
    },
    hostname,
    logDirectory: input.logDirectory,
    ...(input.dns ? { dnsConfig: input.dns } : {}),
    ...(ports.length > 0 ? { portMappings: ports } : {}),
    labels: {
      ...(meta.labels ?? {}),
      [podUidLabel]: meta.uid ?? '',
      [podNameLabel]: meta.name ?? '',
      [podNamespaceLabel]: meta.namespace ?? '',
    },
    annotations: { ...(meta.annotations ?? {}) },
    ...(input.network ? { network: input.network } : {}),
    security: {
      privileged: [...(spec.containers ?? []), ...(spec.initContainers ?? [])].some(
        (c) => c.securityContext?.privileged === true,
      ),
      hostNetwork: spec.hostNetwork ?? false,
      hostPid: spec.hostPID ?? false,
      hostIpc: spec.hostIPC ?? false,
    },
    resources: sandboxResources(pod, input.runtimeClass),
    ...(Object.keys(sysctls).length > 0 ? { sysctls } : {}),
  };
}

/** cgroup limits of one container from its requests and limits (kubelet's CPU shares/quota). */
export function containerResources(c: Container): LinuxContainerResources {
  const cpuLimit = limitOf(c, 'cpu');
  const cpuRequest = requestOf(c, 'cpu');
  const memLimit = limitOf(c, 'memory');
  const period = 100_000;
  return {
    // Upstream MilliCPUToShares: 2 shares minimum, 1024 per core.
    cpuShares: Math.max(2, Math.floor((cpuRequest ?? 0) * 1024)),
    ...(cpuLimit === undefined
      ? {}
      : { cpuPeriod: period, cpuQuota: Math.max(1000, Math.ceil(cpuLimit * period)) }),
    ...(memLimit === undefined ? {} : { memoryLimitInBytes: Math.ceil(memLimit) }),
  };
}

/** The runtime's security settings for a container: the container's context over the pod's. */
export function containerSecurity(pod: Pod, c: Container): LinuxContainerSecurity {
  const podCtx = pod.spec?.securityContext ?? {};
  const ctx = c.securityContext ?? {};
  const runAsUser = ctx.runAsUser ?? podCtx.runAsUser;
  const runAsGroup = ctx.runAsGroup ?? podCtx.runAsGroup;
  const groups = [...(podCtx.supplementalGroups ?? [])];
  if (podCtx.fsGroup !== undefined) groups.push(podCtx.fsGroup);
  const seccomp = ctx.seccompProfile ?? podCtx.seccompProfile;
  if (seccomp?.type === 'Localhost') {
    throw invalid(
      'seccompProfile type "Localhost" is not supported on this node; use RuntimeDefault or Unconfined',
    );
  }
  const caps = ctx.capabilities;
  return {
    ...(ctx.privileged ? { privileged: true } : {}),
    ...(caps && (caps.add?.length || caps.drop?.length)
      ? { capabilities: { addCapabilities: caps.add ?? [], dropCapabilities: caps.drop ?? [] } }
      : {}),
    ...(runAsUser === undefined ? {} : { runAsUser }),
    ...(runAsGroup === undefined ? {} : { runAsGroup }),
    ...(groups.length > 0 ? { supplementalGroups: groups } : {}),
    ...(ctx.readOnlyRootFilesystem ? { readonlyRootfs: true } : {}),
    // Upstream: allowPrivilegeEscalation false sets no_new_privs; unset means allowed.
    ...(ctx.allowPrivilegeEscalation === false ? { noNewPrivs: true } : {}),
    seccompProfile: seccomp?.type === 'Unconfined' ? 'unconfined' : 'runtime/default',
  };
}

/**
 * Refuses a container that must not run as root but would (kubelet's `verifyRunAsNonRoot`):
 * with runAsNonRoot, the UID must be known and not 0; an image user that is a name cannot be
 * verified.
 */
export function verifyRunAsNonRoot(pod: Pod, c: Container, imageUser: string): void {
  const nonRoot = c.securityContext?.runAsNonRoot ?? pod.spec?.securityContext?.runAsNonRoot;
  if (!nonRoot) return;
  const uid = c.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
  if (uid !== undefined) {
    if (uid === 0)
      throw invalid(
        'container\'s runAsUser breaks non-root policy (pod: "' +
          (pod.metadata?.name ?? '') +
          '", container: ' +
          (c.name ?? '') +
          ')',
      );
    return;
  }
  const user = imageUser.split(':')[0] ?? '';
  if (user === '' || user === '0' || user === 'root')
    throw invalid(
      'container has runAsNonRoot and image will run as root (pod: "' +
        (pod.metadata?.name ?? '') +
        '", container: ' +
        (c.name ?? '') +
        ')',
    );
  if (!/^\d+$/.test(user))
    throw invalid(
      `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root (pod: "${pod.metadata?.name ?? ''}", container: ${c.name ?? ''})`,
    );
}

export interface ContainerConfigInput {
  readonly pod: Pod;
  readonly spec: Container;
  readonly kind: ContainerKind;
  readonly attempt: number;
  readonly image: string;
  readonly env: readonly { key: string; value: string }[];
  readonly mounts: readonly Mount[];
  /** `$(VAR)` expansion of command and args against the env. */
  readonly expand: (s: string) => string;
}

export function containerConfig(input: ContainerConfigInput): ContainerConfig {
  const { pod, spec } = input;
  const name = spec.name ?? '';
  return {
    metadata: { name, attempt: input.attempt },
    image: input.image,
    ...(spec.command?.length ? { command: spec.command.map(input.expand) } : {}),
    ...(spec.args?.length ? { args: spec.args.map(input.expand) } : {}),
    ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
    envs: input.env,
    mounts: input.mounts,
    labels: {
      [podUidLabel]: pod.metadata?.uid ?? '',
      [podNameLabel]: pod.metadata?.name ?? '',
      [podNamespaceLabel]: pod.metadata?.namespace ?? '',
      [containerNameLabel]: name,
    },
    annotations: {
      [containerHashAnnotation]: containerHash(spec, input.kind),
      [containerKindAnnotation]: input.kind,
    },
    logPath: `${name}/${input.attempt}.log`,
    ...(spec.stdin ? { stdin: true } : {}),
    ...(spec.stdinOnce ? { stdinOnce: true } : {}),
    ...(spec.tty ? { tty: true } : {}),
    resources: containerResources(spec),
    security: containerSecurity(pod, spec),
    // kubelet binds this file into every container; its content becomes terminated.message
    terminationMessagePath: spec.terminationMessagePath || '/dev/termination-log',
    ...(spec.terminationMessagePolicy === 'FallbackToLogsOnError'
      ? { terminationMessageFallbackToLogs: true }
      : {}),
  };
}
