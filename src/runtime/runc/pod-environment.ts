/**
 * What a runc pod shares between its containers, set up once per sandbox:
 *
 * - network, UTS and IPC namespaces, created by the shim's `netns` mode and pinned by
 *   bind-mounting their nsfs files under the sandbox state directory (no pause process:
 *   nothing to crash, nothing to reap; see docs/adr/0003-runc-monitor.md). A given
 *   `netnsPath` (plumbed by the agent) is joined instead of a new network namespace;
 *   host networking shares the host's network and UTS namespaces, as Kubernetes does;
 * - a tmpfs for the pod's /dev/shm (IPC objects are per pod, so shared memory is too);
 * - /etc/hosts, /etc/resolv.conf and /etc/hostname, bind-mounted into every container.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { internal, invalid, systemExec, unlessMissing, type Exec } from '../../lib/index.js';
import { isMountPoint, unmount } from '../host-mounts.js';
import type { PodSandboxConfig } from '../runtime-service.js';
import type { NamespaceRef, PodFiles, PodNamespaces } from './oci-spec.js';

export interface PodEnvironment {
  readonly namespaces: PodNamespaces;
  readonly files: PodFiles;
  readonly hostname: string;
  /** The pod's primary IP (from the agent's interfaces), '' without one. */
  readonly ip: string;
}

const shmSizeBytes = 64 * 1024 * 1024;

/** The hostname a pod's containers see: the config's, else the pod name cut to a valid label. */
export function podHostname(config: PodSandboxConfig): string {
  if (config.hostname) return config.hostname;
  const h = config.metadata.name
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
  return h || 'pod';
}

function primaryIp(config: PodSandboxConfig): string {
  for (const i of config.network?.interfaces ?? []) {
    const a = i.addresses[0];
    if (a) return a.split('/')[0] ?? '';
  }
  return '';
}

export function describePodEnvironment(dir: string, config: PodSandboxConfig): PodEnvironment {
  const sec = config.security ?? {};
  const hostNetwork = sec.hostNetwork ?? false;
  const ns = (name: string): NamespaceRef => ({ path: join(dir, 'ns', name) });
  let network: NamespaceRef;
  if (hostNetwork) network = 'host';
  else if (config.network?.netnsPath) network = { path: config.network.netnsPath };
  else network = ns('net');
  return {
    namespaces: {
      network,
      uts: hostNetwork ? 'host' : ns('uts'),
      ipc: sec.hostIpc ? 'host' : ns('ipc'),
      hostPid: sec.hostPid ?? false,
    },
    files: {
      hosts: join(dir, 'hosts'),
      resolvConf: join(dir, 'resolv.conf'),
      hostname: join(dir, 'hostname'),
      shm: sec.hostIpc ? '/dev/shm' : join(dir, 'shm'),
    },
    hostname: hostNetwork ? '' : podHostname(config),
    ip: primaryIp(config),
  };
}

function resolvConf(config: PodSandboxConfig): string | undefined {
  const dns = config.dnsConfig;
  if (!dns) return undefined;
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** Creates the pod's namespaces, shm and files. Undo with `teardownPodEnvironment`. */
export async function setupPodEnvironment(
  dir: string,
  config: PodSandboxConfig,
  shimPath: string,
  hostHostname: string,
  exec: Exec = systemExec,
): Promise<PodEnvironment> {
  const env = describePodEnvironment(dir, config);
  const netnsPath = config.network?.netnsPath;
  if (netnsPath && !(await isMountPoint(netnsPath)) && !netnsPath.startsWith('/proc/')) {
    throw invalid(`Cannot join network namespace "${netnsPath}": it is not a pinned namespace`, {
      details: {
        causes: [{ reason: 'FieldValueInvalid', message: 'not a namespace', field: 'network.netnsPath' }],
      },
    });
  }
  await mkdir(join(dir, 'ns'), { recursive: true });
  const args = [shimPath, 'netns'];
  const { network, uts, ipc } = env.namespaces;
  if (network !== 'host' && !netnsPath) args.push('--net', network.path);
  if (uts !== 'host') args.push('--uts', uts.path, '--hostname', env.hostname);
  if (ipc !== 'host') args.push('--ipc', ipc.path);
  if (env.files.shm !== '/dev/shm') {
    await mkdir(env.files.shm, { recursive: true, mode: 0o1777 });
    // a size-capped tmpfs: shared memory is per pod and bounded
    args.push('--shm', env.files.shm, '--shm-size', String(shmSizeBytes));
  }
  if (args.length > 2) {
    // PRIVILEGED: new namespaces for this pod pinned under its state directory, and its
    // /dev/shm tmpfs (see the shim's netns mode).
    await exec.execFile(args, { timeoutMs: 30_000 });
  }
  const hostname = network === 'host' ? hostHostname : env.hostname;
  const hosts = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  if (network === 'host') {
    await copyFile('/etc/hosts', env.files.hosts).catch(() =>
      writeFile(env.files.hosts, hosts.join('\n') + '\n'),
    );
  } else {
    if (env.ip) hosts.push(`${env.ip}\t${hostname}`);
    else hosts.push(`127.0.1.1\t${hostname}`);
    await writeFile(env.files.hosts, hosts.join('\n') + '\n');
  }
  const resolv = resolvConf(config);
  if (resolv !== undefined && network !== 'host') await writeFile(env.files.resolvConf, resolv);
  else {
    const host = (await unlessMissing(readFile('/etc/resolv.conf', 'utf8'))) ?? '';
    await writeFile(env.files.resolvConf, host);
  }
  await writeFile(env.files.hostname, hostname + '\n');
  return env;
}

/** Whether the namespaces this pod created are still pinned (false after a host reboot). */
export async function isPodEnvironmentAlive(dir: string, config: PodSandboxConfig): Promise<boolean> {
  const env = describePodEnvironment(dir, config);
  for (const ref of [env.namespaces.network, env.namespaces.uts, env.namespaces.ipc]) {
    if (ref === 'host' || ref.path === config.network?.netnsPath) continue;
    if (!(await isMountPoint(ref.path))) return false;
  }
  return true;
}

/** Releases the namespaces and shm (the files go with the state directory). Idempotent. */
export async function teardownPodEnvironment(dir: string, exec: Exec = systemExec): Promise<void> {
  for (const p of [
    join(dir, 'ns', 'net'),
    join(dir, 'ns', 'uts'),
    join(dir, 'ns', 'ipc'),
    join(dir, 'shm'),
  ]) {
    if (await isMountPoint(p)) await unmount(p, exec);
  }
  for (const p of [join(dir, 'ns', 'net'), join(dir, 'shm')]) {
    if (await isMountPoint(p)) throw internal(`Cannot release "${p}": still mounted`);
  }
}
