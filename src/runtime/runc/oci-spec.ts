/**
 * Builds the OCI runtime spec (`config.json`) runc runs a container from, following Docker's
 * defaults: the pod's network/IPC/UTS namespaces joined by path, private PID and mount
 * namespaces, Docker's capability set and seccomp semantics, masked and read-only /proc and
 * /sys paths, cgroup limits, and the mounts a container expects (/proc, /dev, /dev/pts,
 * /dev/shm shared by the pod, /dev/mqueue, /sys read-only, /etc/hosts, /etc/resolv.conf,
 * /etc/hostname) before the user's own.
 *
 * Pure: everything it needs is passed in, nothing is read from the host.
 */
import type { ContainerConfig, LinuxContainerResources } from '../runtime-service.js';
import type { ResolvedUser } from './image-user.js';
import { buildSeccompProfile, type OciSeccomp } from './seccomp-profile.js';

export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
}

export interface OciDevice {
  readonly path: string;
  readonly type: 'c' | 'b';
  readonly major: number;
  readonly minor: number;
  readonly fileMode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface OciProcess {
  readonly terminal: boolean;
  readonly consoleSize?: { readonly height: number; readonly width: number };
  readonly user: { readonly uid: number; readonly gid: number; readonly additionalGids?: readonly number[] };
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly capabilities: {
    readonly bounding: readonly string[];
    readonly effective: readonly string[];
    readonly permitted: readonly string[];
    readonly inheritable: readonly string[];
  };
  readonly rlimits: readonly { readonly type: string; readonly hard: number; readonly soft: number }[];
  readonly noNewPrivileges: boolean;
}

export interface OciSpec {
  readonly ociVersion: string;
  readonly process: OciProcess;
  readonly root: { readonly path: string; readonly readonly: boolean };
  readonly hostname?: string;
  readonly mounts: readonly OciMount[];
  readonly linux: Readonly<Record<string, unknown>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Where the pod's namespaces are: a pinned nsfs file, or `host` (share the host's). */
export type NamespaceRef = { readonly path: string } | 'host';

export interface PodNamespaces {
  readonly network: NamespaceRef;
  readonly ipc: NamespaceRef;
  readonly uts: NamespaceRef;
  readonly hostPid: boolean;
}

/** Files and directories the pod shares with all its containers. */
export interface PodFiles {
  readonly hosts: string;
  readonly resolvConf: string;
  readonly hostname: string;
  /** The pod's /dev/shm (a tmpfs on the host), or the host's /dev/shm with hostIpc. */
  readonly shm: string;
}

export interface ContainerSpecInputs {
  readonly config: ContainerConfig;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: ResolvedUser;
  readonly capabilities: readonly string[];
  /** What a privileged container gets: every capability the runtime itself holds. */
  readonly hostCapabilities: readonly string[];
  readonly privileged: boolean;
  readonly rootfsPath: string;
  readonly namespaces: PodNamespaces;
  readonly podFiles: PodFiles;
  /** The user's mounts, already resolved to host sources (block volumes mounted). */
  readonly mounts: readonly OciMount[];
  readonly cgroupsPath: string;
  readonly cgroupVersion: 1 | 2;
  readonly resources: LinuxContainerResources;
  readonly defaultPidsLimit: number;
  readonly sysctls: Readonly<Record<string, string>>;
  /** Host device nodes (privileged containers only). */
  readonly hostDevices?: readonly OciDevice[];
  readonly arch?: string;
  readonly nofile: number;
}

export const maskedPaths: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const readonlyPaths: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** The process section, shared by containers and execs. */
export function buildProcess(inputs: {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: ResolvedUser;
  readonly capabilities: readonly string[];
  readonly tty: boolean;
  readonly noNewPrivileges: boolean;
  readonly consoleSize?: { readonly width: number; readonly height: number } | undefined;
  /** RLIMIT_NOFILE for the process; at most the runtime's own hard limit. */
  readonly nofile: number;
}): OciProcess {
  const caps = inputs.capabilities;
  return {
    terminal: inputs.tty,
    ...(inputs.tty && inputs.consoleSize && inputs.consoleSize.width > 0 && inputs.consoleSize.height > 0
      ? { consoleSize: { height: inputs.consoleSize.height, width: inputs.consoleSize.width } }
      : {}),
    user: {
      uid: inputs.user.uid,
      gid: inputs.user.gid,
      ...(inputs.user.additionalGids.length ? { additionalGids: inputs.user.additionalGids } : {}),
    },
    args: inputs.args,
    env: inputs.env,
    cwd: inputs.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: inputs.nofile, soft: inputs.nofile }],
    noNewPrivileges: inputs.noNewPrivileges,
  };
}

function linuxResources(inputs: ContainerSpecInputs): Record<string, unknown> {
  const r = inputs.resources;
  const out: Record<string, unknown> = {
    devices: inputs.privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }],
  };
  if (r.memoryLimitInBytes !== undefined && r.memoryLimitInBytes > 0) {
    out['memory'] = { limit: r.memoryLimitInBytes };
  }
  const cpu: Record<string, number> = {};
  if (r.cpuShares !== undefined && r.cpuShares > 0) cpu['shares'] = Math.max(2, r.cpuShares);
  if (r.cpuQuota !== undefined && r.cpuQuota > 0) cpu['quota'] = r.cpuQuota;
  if (r.cpuPeriod !== undefined && r.cpuPeriod > 0) cpu['period'] = r.cpuPeriod;
  if (Object.keys(cpu).length) out['cpu'] = cpu;
  const pids = r.pidsLimit !== undefined && r.pidsLimit !== 0 ? r.pidsLimit : inputs.defaultPidsLimit;
  if (pids > 0) out['pids'] = { limit: pids };
  return out;
}

function nsEntry(type: string, ref: NamespaceRef): { type: string; path?: string }[] {
  if (ref === 'host') return [];
  return [{ type, path: ref.path }];
}

/** The whole config.json of one container. */
export function buildContainerSpec(inputs: ContainerSpecInputs): OciSpec {
  const { config, privileged, namespaces } = inputs;
  const sec = config.security ?? {};
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'bind',
      source: inputs.podFiles.shm,
      options: ['rbind', 'nosuid', 'noexec', 'nodev'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'],
    },
  ];
  const userDestinations = new Set(inputs.mounts.map((m) => m.destination));
  const podFile = (destination: string, source: string): void => {
    if (!userDestinations.has(destination)) {
      mounts.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate', 'rw'] });
    }
  };
  podFile('/etc/hosts', inputs.podFiles.hosts);
  podFile('/etc/resolv.conf', inputs.podFiles.resolvConf);
  podFile('/etc/hostname', inputs.podFiles.hostname);
  mounts.push(...inputs.mounts);

  const namespaceList = [
    { type: 'mount' },
    ...(namespaces.hostPid ? [] : [{ type: 'pid' }]),
    ...nsEntry('network', namespaces.network),
    ...nsEntry('ipc', namespaces.ipc),
    ...nsEntry('uts', namespaces.uts),
    ...(inputs.cgroupVersion === 2 ? [{ type: 'cgroup' }] : []),
  ];
  const capabilities = privileged ? inputs.hostCapabilities : inputs.capabilities;
  const seccomp: OciSeccomp | undefined =
    privileged || sec.seccompProfile === 'unconfined'
      ? undefined
      : buildSeccompProfile(capabilities, inputs.arch);

  const linux: Record<string, unknown> = {
    namespaces: namespaceList,
    resources: linuxResources(inputs),
    cgroupsPath: inputs.cgroupsPath,
    ...(Object.keys(inputs.sysctls).length ? { sysctl: inputs.sysctls } : {}),
    ...(seccomp ? { seccomp } : {}),
    ...(privileged ? {} : { maskedPaths, readonlyPaths }),
    ...(privileged && inputs.hostDevices?.length ? { devices: inputs.hostDevices } : {}),
  };
  return {
    ociVersion: '1.0.2',
    process: buildProcess({
      args: inputs.args,
      env: inputs.env,
      cwd: inputs.cwd,
      user: inputs.user,
      capabilities,
      tty: config.tty ?? false,
      noNewPrivileges: sec.noNewPrivs ?? false,
      nofile: inputs.nofile,
    }),
    root: { path: inputs.rootfsPath, readonly: sec.readonlyRootfs ?? false },
    mounts,
    linux,
  };
}

/** The environment of a process: image env, then the config's (later wins), plus defaults. */
export function buildEnv(
  imageEnv: readonly string[],
  configEnvs: readonly { key: string; value: string }[],
  extra: { hostname: string; home: string; tty: boolean },
): string[] {
  const map = new Map<string, string>();
  const put = (k: string, v: string): void => {
    map.delete(k);
    map.set(k, v);
  };
  for (const e of imageEnv) {
    const i = e.indexOf('=');
    if (i > 0) put(e.slice(0, i), e.slice(i + 1));
  }
  for (const { key, value } of configEnvs) put(key, value);
  if (!map.has('PATH')) put('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  if (!map.has('HOSTNAME')) put('HOSTNAME', extra.hostname);
  if (!map.has('HOME')) put('HOME', extra.home);
  if (extra.tty && !map.has('TERM')) put('TERM', 'xterm');
  return [...map.entries()].map(([k, v]) => `${k}=${v}`);
}

/** The argv of a container: CRI command/args over the image's ENTRYPOINT/CMD (Kubernetes rules). */
export function buildArgs(
  config: ContainerConfig,
  image: { entrypoint: readonly string[]; cmd: readonly string[] },
): string[] {
  const command = config.command ?? [];
  const args = config.args ?? [];
  if (command.length > 0) return [...command, ...args];
  return [...image.entrypoint, ...(args.length > 0 ? args : image.cmd)];
}

/** Sysctls a container may set: only namespaced ones, and no net.* with the host's network. */
export function isNamespacedSysctl(name: string, hostNetwork: boolean, hostIpc: boolean): boolean {
  if (name.startsWith('net.')) return !hostNetwork;
  if (
    /^kernel\.(shm(all|max|mni|_rmid_forced)|msg(max|mnb|mni)|sem)$/.test(name) ||
    name.startsWith('fs.mqueue.')
  ) {
    return !hostIpc;
  }
  return false;
}
