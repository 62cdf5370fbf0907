/**
 * One runc pod sandbox: its pinned namespaces and /etc files (pod-environment.ts), its
 * containers (OCI bundles over overlayfs roots, each run and watched by its own monitor, the
 * shim's `run` mode), execs (the shim's `exec` mode), attach and port-forward. Implements the
 * `SandboxHandle` contract (runtime/sandbox-handler.ts); runc-handler.ts creates and adopts it.
 *
 * Invariants: a container's record (`c-<id>/container.json`) is written before its monitor
 * starts and again once its pid is known, so a restarted daemon can reconnect to the monitor
 * or read the exit it recorded; each exit is processed (state, `runc delete`, event) once.
 */
import {
  chmod,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { connect } from 'node:net';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import {
  bestEffort,
  conflict,
  describeError,
  internal,
  invalid,
  timeout as timeoutError,
  unavailable,
  unlessMissing,
  writeJsonFileAtomic,
  type Clock,
  type Exec,
  type Logger,
  type StatusCause,
} from '../../lib/index.js';
import { ByteChannel } from '../byte-channel.js';
import { isMountPoint, unmountAll } from '../host-mounts.js';
import type {
  AttachOptions,
  ContainerStats,
  ExecOptions,
  LinuxContainerResources,
  PodSandboxConfig,
  StreamSession,
} from '../runtime-service.js';
import type { ContainerSpec, HandlerEvents, SandboxHandle } from '../sandbox-handler.js';
import { signalNumber } from '../signals.js';
import { BlockVolumes } from './block-volumes.js';
import { resolveCapabilities } from './capabilities.js';
import { readOomKills, removeCgroupTree, type CgroupVersion } from './cgroups.js';
import { resolveUser, type ResolvedUser } from './image-user.js';
import {
  buildArgs,
  buildContainerSpec,
  buildEnv,
  buildProcess,
  isNamespacedSysctl,
  type OciDevice,
  type OciMount,
} from './oci-spec.js';
import { describePodEnvironment, teardownPodEnvironment, type PodEnvironment } from './pod-environment.js';
import {
  connectShim,
  createAttachSession,
  createExecSession,
  helloSendsStdin,
  helloWantsOutput,
  parseShimExit,
  readExecStatus,
  watchShim,
  type ShimExit,
} from './shim-client.js';

/** What the handler found on the host: the programs and limits every sandbox uses. */
export interface RuncRuntime {
  readonly runc: string;
  /** runc's own state directory (`runc --root`). */
  readonly runcRoot: string;
  readonly shim: string;
  readonly cgroupVersion: CgroupVersion;
  /** RLIMIT_NOFILE given to containers: 1Mi, or less if this process's hard limit is lower. */
  readonly nofile: number;
  /** This process's capability bounding set: the most any container can get. */
  readonly capabilities: readonly string[];
}

/** The handler's settings every sandbox follows. */
export interface RuncSettings {
  /** Parent of every pod's cgroup, e.g. `/h8s`. */
  readonly cgroupParent: string;
  /** pids.max for containers that do not set one (fork bombs stop here). 0 = unlimited. */
  readonly defaultPidsLimit: number;
  readonly logMaxBytes: number;
  readonly logMaxFiles: number;
}

export interface RuncSandboxDeps {
  readonly id: string;
  readonly config: PodSandboxConfig;
  /** The sandbox's state directory. */
  readonly dir: string;
  readonly rt: RuncRuntime;
  readonly events: HandlerEvents;
  readonly settings: RuncSettings;
  readonly log: Logger;
  readonly clock: Clock;
  /** Runs runc, the shim and its helpers. */
  readonly exec: Exec;
}

/** The per-container record kept in `c-<id>/container.json`. */
export interface ContainerFile {
  readonly id: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdinOnce: boolean;
  readonly cgroupsPath: string;
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: ResolvedUser;
  readonly imageUser: string;
  readonly capabilities: readonly string[];
  readonly noNewPrivileges: boolean;
  readonly logPath: string;
  /** The image's layer directories, lowest first (the overlay's lowerdirs). */
  readonly lowerDirs: readonly string[];
  pid?: number;
  pidStartTime?: string;
}

export type ContainerPhase = 'created' | 'running' | 'exited';

export interface RuncContainer {
  readonly file: ContainerFile;
  readonly dir: string;
  phase: ContainerPhase;
  exitCode?: number;
  /** Settles once the exit has been processed (state updated, event sent). */
  readonly exited: Promise<{ exitCode: number }>;
  resolveExited: (v: { exitCode: number }) => void;
  exitHandling?: Promise<void>;
}

export const shortId = (id: string): string => id.slice(0, 12);

/** A container's directory in its sandbox's state directory. */
export const containerDir = (sandboxDir: string, id: string): string => join(sandboxDir, `c-${shortId(id)}`);

/** A container's in-memory state, in `phase`, whose exit has not been seen yet. */
export function newContainer(file: ContainerFile, dir: string, phase: ContainerPhase): RuncContainer {
  let resolveExited!: (v: { exitCode: number }) => void;
  const exited = new Promise<{ exitCode: number }>((r) => (resolveExited = r));
  return { file, dir, phase, exited, resolveExited };
}

/** `runc --root <ours> <args>`. */
export const runcArgs = (rt: RuncRuntime, ...args: string[]): string[] => [
  rt.runc,
  '--root',
  rt.runcRoot,
  ...args,
];

/** Field 22 of /proc/<pid>/stat: guards signals against a recycled pid. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined; // the process is gone
  }
}

function cause(field: string, message: string): StatusCause {
  return { reason: 'FieldValueInvalid', message, field };
}

/**
 * `base/sub` with its symlinks resolved, refused unless it stays inside `base` (a key of an
 * atomic-writer volume resolves through `..data` to a file of the current generation).
 */
async function resolveInside(base: string, sub: string | undefined, field: string): Promise<string> {
  if (!sub) return base;
  const root = await realpath(base);
  const target = await unlessMissing(realpath(join(base, sub)));
  if (target === undefined)
    throw invalid(`subPath "${sub}" does not exist in the volume`, {
      details: { causes: [cause(field, 'no such file or directory')] },
    });
  if (target !== root && !target.startsWith(root + sep)) {
    throw invalid(`subPath "${sub}" leaves the volume`, {
      details: { causes: [cause(field, 'resolves outside the volume')] },
    });
  }
  return target;
}

/** The file bound at a container's terminationMessagePath, in its directory. */
const terminationLogName = 'termination-log';
/** kubelet's bound on a termination message. */
const terminationMessageMaxBytes = 4096;

/** The first 4,096 bytes of a termination log, '' when there is none. */
async function readTerminationLog(file: string): Promise<string> {
  const handle = await unlessMissing(open(file, 'r'));
  if (!handle) return '';
  try {
    const buf = Buffer.alloc(terminationMessageMaxBytes);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

function hasDotDot(p: string): boolean {
  return p.split('/').includes('..');
}

export class RuncSandbox implements SandboxHandle {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly dir: string;
  readonly env: PodEnvironment;
  readonly rt: RuncRuntime;
  readonly volumes: BlockVolumes;
  readonly containers = new Map<string, RuncContainer>();
  events: HandlerEvents;
  stopped = false;
  readonly #settings: RuncSettings;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #exec: Exec;

  constructor(d: RuncSandboxDeps) {
    this.id = d.id;
    this.config = d.config;
    this.dir = d.dir;
    this.rt = d.rt;
    this.events = d.events;
    this.#settings = d.settings;
    this.#log = d.log;
    this.#clock = d.clock;
    this.#exec = d.exec;
    this.env = describePodEnvironment(d.dir, d.config);
    this.volumes = new BlockVolumes(d.dir, d.log, this.#exec);
  }

  get cgroupDir(): string {
    return `${this.#settings.cgroupParent}/${shortId(this.id)}`;
  }

  info(): Readonly<Record<string, unknown>> {
    const net = this.env.namespaces.network;
    return {
      netns: net === 'host' ? 'host' : net.path,
      hostname: this.env.hostname,
      cgroup: this.cgroupDir,
      containers: [...this.containers.values()].filter((c) => c.phase === 'running').length,
    };
  }

  ip(): string {
    return this.env.ip;
  }

  /**
   * The pod's emptyDir `name`: a directory of the sandbox, shared by the containers that mount
   * it; for `medium: Memory` a tmpfs (of `sizeLimitBytes` when given), made once.
   */
  async #emptyDir(name: string, memory: boolean, sizeLimitBytes: number | undefined): Promise<string> {
    const dir = join(this.dir, 'empty', name);
    await mkdir(dir, { recursive: true, mode: 0o777 });
    if (memory && !(await isMountPoint(dir))) {
      const size = sizeLimitBytes ? `,size=${sizeLimitBytes}` : '';
      // PRIVILEGED: a tmpfs for the pod's memory-backed emptyDir, under its own state directory
      // (removed with the sandbox by unmountAll).
      await this.#exec.execFile(
        ['mount', '-t', 'tmpfs', '-o', `nosuid,nodev,mode=0777${size}`, 'tmpfs', dir],
        {
          timeoutMs: 30_000,
        },
      );
    }
    return dir;
  }

  #get(containerId: string): RuncContainer {
    const c = this.containers.get(containerId);
    if (!c) throw internal(`Container "${containerId}" is not known to the runc handler`);
    return c;
  }

  async createContainer(spec: ContainerSpec): Promise<void> {
    if (this.stopped) throw conflict(`Pod sandbox "${this.id}" is stopped`);
    if (spec.rootfs.kind !== 'layers') throw internal('The runc handler needs a layer tree');
    const { config, image } = spec;
    const sec = config.security ?? {};
    const podSec = this.config.security ?? {};
    const causes: StatusCause[] = [];
    if (sec.privileged && !podSec.privileged) {
      causes.push(cause('security.privileged', 'a privileged container needs a privileged pod sandbox'));
    }
    const caps = resolveCapabilities(
      sec.capabilities?.addCapabilities,
      sec.capabilities?.dropCapabilities,
      this.rt.capabilities,
    );
    causes.push(...caps.causes);
    const sysctls = this.config.sysctls ?? {};
    for (const name of Object.keys(sysctls)) {
      if (!isNamespacedSysctl(name, podSec.hostNetwork ?? false, podSec.hostIpc ?? false)) {
        causes.push(cause(`sysctls.${name}`, `sysctl "${name}" is not namespaced: it would change the host`));
      }
    }
    const term = config.terminationMessagePath;
    if (term !== undefined && (!isAbsolute(term) || hasDotDot(term))) {
      causes.push(cause('terminationMessagePath', 'must be an absolute path without ".."'));
    }
    (config.mounts ?? []).forEach((m, i) => {
      if (!isAbsolute(m.containerPath) || hasDotDot(m.containerPath)) {
        causes.push(cause(`mounts[${i}].containerPath`, 'must be an absolute path without ".."'));
      }
      const type = m.type ?? 'bind';
      if (type !== 'tmpfs' && type !== 'emptyDir' && (!isAbsolute(m.hostPath) || hasDotDot(m.hostPath))) {
        causes.push(cause(`mounts[${i}].hostPath`, 'must be an absolute path without ".."'));
      }
      if (type === 'emptyDir' && !m.name)
        causes.push(cause(`mounts[${i}].name`, 'an emptyDir needs its name'));
      if (m.subPath !== undefined && (isAbsolute(m.subPath) || hasDotDot(m.subPath))) {
        causes.push(cause(`mounts[${i}].subPath`, 'must be a relative path without ".."'));
      }
    });
    const args = buildArgs(config, image.config);
    if (args.length === 0) causes.push(cause('command', 'no command given and the image has none'));
    const cwd = config.workingDir || image.config.workingDir || '/';
    if (!isAbsolute(cwd)) causes.push(cause('workingDir', `"${cwd}" is not an absolute path`));
    if (causes.length) {
      throw invalid(
        `Invalid container "${config.metadata.name}": ${causes[0]?.field}: ${causes[0]?.message}`,
        {
          details: { causes },
        },
      );
    }

    const dir = containerDir(this.dir, spec.id);
    const rootfs = join(dir, 'rootfs');
    await mkdir(join(dir, 'upper'), { recursive: true });
    await mkdir(join(dir, 'work'), { recursive: true });
    await mkdir(rootfs, { recursive: true });
    try {
      if (spec.rootfs.tree.lowerDirs.length === 0) throw invalid(`Image "${config.image}" has no layers`);
      // the root is mounted by the monitor when the container starts; until then the image's
      // files are read from its layers
      const user = await resolveUser(
        { layers: spec.rootfs.tree.lowerDirs },
        {
          ...(sec.runAsUser !== undefined ? { runAsUser: sec.runAsUser } : {}),
          ...(sec.runAsGroup !== undefined ? { runAsGroup: sec.runAsGroup } : {}),
          ...(sec.runAsUsername !== undefined ? { username: sec.runAsUsername } : {}),
          ...(sec.supplementalGroups ? { supplementalGroups: sec.supplementalGroups } : {}),
          imageUser: image.config.user,
        },
      );
      const hostname = this.env.hostname || osHostname();
      const env = buildEnv(image.config.env, config.envs ?? [], {
        hostname,
        home: user.home,
        tty: config.tty ?? false,
      });
      const mounts: OciMount[] = [];
      for (const [i, m] of (config.mounts ?? []).entries()) {
        const type = m.type ?? 'bind';
        const ro = m.readonly ? 'ro' : 'rw';
        if (type === 'tmpfs') {
          mounts.push({
            destination: m.containerPath,
            type: 'tmpfs',
            source: 'tmpfs',
            options: ['nosuid', 'nodev', 'mode=1777', ro],
          });
        } else if (type === 'block') {
          const source = await this.volumes.ensure(m.hostPath, m.fsType ?? 'ext4', `mounts[${i}].hostPath`);
          mounts.push({
            destination: m.containerPath,
            type: 'bind',
            source,
            options: ['rbind', 'rprivate', ro],
          });
        } else if (type === 'files') {
          // the agent's atomic-writer directory, read-only; a subPath (one key) is bound as the
          // file it resolves to now and, as upstream, does not follow later updates
          const source = await resolveInside(m.hostPath, m.subPath, `mounts[${i}].subPath`);
          mounts.push({
            destination: m.containerPath,
            type: 'bind',
            source,
            options: ['rbind', 'rprivate', 'ro'],
          });
        } else if (type === 'emptyDir') {
          const dir = await this.#emptyDir(m.name ?? '', m.medium === 'Memory', m.sizeLimitBytes);
          const source = m.subPath ? join(dir, m.subPath) : dir;
          await mkdir(source, { recursive: true, mode: 0o777 });
          mounts.push({
            destination: m.containerPath,
            type: 'bind',
            source,
            options: ['rbind', 'rprivate', ro],
          });
        } else {
          const source = m.subPath ? join(m.hostPath, m.subPath) : m.hostPath;
          // as Docker and containerd do, a missing host directory is created
          if (!(await unlessMissing(stat(source)))) await mkdir(source, { recursive: true });
          mounts.push({
            destination: m.containerPath,
            type: 'bind',
            source,
            options: ['rbind', 'rprivate', ro],
          });
        }
      }
      if (term) {
        // as kubelet does: a host file bound at the path, read when the container exits
        const file = join(dir, terminationLogName);
        await writeFile(file, '', { mode: 0o666 });
        await chmod(file, 0o666);
        mounts.push({ destination: term, type: 'bind', source: file, options: ['bind', 'rprivate', 'rw'] });
      }
      const privileged = sec.privileged ?? false;
      const cgroupsPath = `${this.cgroupDir}/${shortId(spec.id)}`;
      const ociSpec = buildContainerSpec({
        config,
        args,
        env,
        cwd,
        user,
        capabilities: caps.capabilities,
        hostCapabilities: this.rt.capabilities,
        privileged,
        rootfsPath: rootfs,
        namespaces: this.env.namespaces,
        podFiles: this.env.files,
        mounts,
        cgroupsPath,
        cgroupVersion: this.rt.cgroupVersion,
        resources: config.resources ?? {},
        defaultPidsLimit: this.#settings.defaultPidsLimit,
        sysctls,
        ...(privileged ? { hostDevices: await listHostDevices() } : {}),
        arch: process.arch,
        nofile: this.rt.nofile,
      });
      await writeFile(join(dir, 'config.json'), JSON.stringify(ociSpec));
      const file: ContainerFile = {
        id: spec.id,
        tty: config.tty ?? false,
        stdin: config.stdin ?? false,
        stdinOnce: config.stdinOnce ?? false,
        cgroupsPath,
        env,
        cwd,
        user,
        imageUser: image.config.user,
        capabilities: ociSpec.process.capabilities.bounding,
        noNewPrivileges: ociSpec.process.noNewPrivileges,
        logPath: spec.logPath,
        lowerDirs: spec.rootfs.tree.lowerDirs,
      };
      await writeJsonFileAtomic(join(dir, 'container.json'), file);
      this.containers.set(spec.id, newContainer(file, dir, 'created'));
    } catch (err) {
      await bestEffort(this.#log, 'unmount a container that failed to create', unmountAll(dir, this.#exec));
      await bestEffort(
        this.#log,
        'remove a container that failed to create',
        rm(dir, { recursive: true, force: true }),
      );
      throw err;
    }
  }

  async startContainer(containerId: string): Promise<void> {
    const c = this.#get(containerId);
    if (c.phase !== 'created') throw conflict(`Container "${containerId}" was already started`);
    await mkdir(dirname(c.file.logPath), { recursive: true });
    const argv = [
      this.rt.shim,
      'run',
      '--runc',
      this.rt.runc,
      '--root',
      this.rt.runcRoot,
      '--bundle',
      c.dir,
      '--id',
      containerId,
      '--dir',
      c.dir,
      '--log',
      c.file.logPath,
      '--log-max-bytes',
      String(this.#settings.logMaxBytes),
      '--log-max-files',
      String(this.#settings.logMaxFiles),
      ...(c.file.tty ? ['--tty'] : []),
      ...(c.file.stdin ? ['--stdin'] : []),
      ...(c.file.stdinOnce ? ['--stdin-once'] : []),
      ...overlayArgs(c.file.lowerDirs, c.dir),
    ];
    // a restart of the container: the last exit is not this one's
    await bestEffort(this.#log, 'remove an old exit record', rm(join(c.dir, 'exit.json'), { force: true }));
    // The monitor must outlive this daemon: detached, in its own session, owned by no one.
    // PRIVILEGED: the monitor mounts the container's overlay root and runs `runc run -d`: new
    // namespaces, cgroups and mounts for this container only, confined by its OCI spec.
    const shim = await this.#exec.spawnProcess(argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await firstLine(shim.stdout, shim.stderr, shim.exited, 120_000);
    shim.stdout?.destroy();
    shim.stderr?.destroy();
    const [word, a, ...rest] = line.split(' ');
    if (word === 'ok') {
      const pid = Number(a);
      c.file.pid = pid;
      const st = await processStartTime(pid);
      if (st !== undefined) c.file.pidStartTime = st;
      await writeJsonFileAtomic(join(c.dir, 'container.json'), c.file);
      c.phase = 'running';
      this.events.containerStarted(containerId, this.#clock.now() * 1e6);
      this.#watch(c);
      return;
    }
    const code = word === 'error' ? Number(a) : 128;
    const message = word === 'error' ? rest.join(' ') : line || 'the container monitor failed to start';
    // PRIVILEGED: removes what a failed `runc run` left of this container (state, cgroup).
    await this.#exec.execFile(runcArgs(this.rt, 'delete', '--force', containerId), { check: false });
    c.phase = 'exited';
    c.exitCode = code;
    this.events.containerExited({
      containerId,
      exitCode: Number.isFinite(code) ? code : 128,
      finishedAt: this.#clock.now() * 1e6,
      reason: 'ContainerCannotRun',
      message,
    });
    c.resolveExited({ exitCode: code });
  }

  /** Connects to the monitor; when it reports the exit (or vanishes), processes the exit. */
  #watch(c: RuncContainer): void {
    const sock = join(c.dir, 'shim.sock');
    void watchShim(sock)
      .then(({ ended }) => ended)
      .catch((err: unknown) => {
        // no monitor to talk to: the exit file it left (or its absence) tells what happened
        this.#log.debug('Cannot reach the monitor of a container', {
          containerId: c.file.id,
          error: describeError(err),
        });
        return undefined;
      })
      .then((exit) => this.processExit(c, exit));
  }

  /** Records a container's exit once: exit file, OOM check, `runc delete`, event. */
  processExit(c: RuncContainer, fromFrame: ShimExit | undefined): Promise<void> {
    c.exitHandling ??= (async () => {
      let exit = fromFrame;
      const exitFile = join(c.dir, 'exit.json');
      if (!exit) exit = parseShimExit((await unlessMissing(readFile(exitFile, 'utf8'))) ?? '');
      let reason: string;
      let message = '';
      if (!exit) {
        // the monitor died without recording an exit: do not leave an unwatched process behind
        const pid = c.file.pid ?? 0;
        if (pid > 0 && (await processStartTime(pid)) === c.file.pidStartTime) {
          try {
            // PRIVILEGED: kills a container of ours whose monitor died (pid checked by start time).
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        exit = { exitCode: 137, signal: 9, pid, finishedAtNs: this.#clock.now() * 1e6 };
        reason = 'Error';
        message = 'The container monitor died; the container was killed';
        this.#log.warn('Container monitor died', { containerId: c.file.id });
      } else {
        reason = exit.exitCode === 0 ? 'Completed' : 'Error';
      }
      if ((await readOomKills(c.file.cgroupsPath, this.rt.cgroupVersion)) > 0) {
        reason = 'OOMKilled';
        message = message || 'The container ran out of memory';
      }
      // PRIVILEGED: removes the exited container's runc state and cgroup.
      await this.#exec.execFile(runcArgs(this.rt, 'delete', '--force', c.file.id), {
        check: false,
        timeoutMs: 30_000,
      });
      c.phase = 'exited';
      c.exitCode = exit.exitCode;
      const terminationMessage = await readTerminationLog(join(c.dir, terminationLogName));
      this.events.containerExited({
        containerId: c.file.id,
        exitCode: exit.exitCode,
        finishedAt: exit.finishedAtNs,
        reason,
        ...(message ? { message } : {}),
        ...(terminationMessage ? { terminationMessage } : {}),
      });
      c.resolveExited({ exitCode: exit.exitCode });
    })().catch((err: unknown) => {
      this.#log.error('Cannot process a container exit', {
        containerId: c.file.id,
        error: describeError(err),
      });
    });
    return c.exitHandling;
  }

  async #signal(c: RuncContainer, sig: number): Promise<void> {
    const pid = c.file.pid;
    if (!pid || c.phase !== 'running') return;
    if ((await processStartTime(pid)) !== c.file.pidStartTime) return;
    try {
      // PRIVILEGED: signals the container's init (pid checked against its recorded start time).
      process.kill(pid, sig);
    } catch {
      // exited meanwhile
    }
  }

  async stopContainer(containerId: string, timeoutSeconds: number, stopSignal: string): Promise<void> {
    const c = this.#get(containerId);
    if (c.phase !== 'running') return;
    if (timeoutSeconds > 0) {
      await this.#signal(c, signalNumber(stopSignal || 'SIGTERM'));
      const done = await Promise.race([
        c.exited.then(() => true),
        this.#clock.sleep(timeoutSeconds * 1000).then(() => false),
      ]);
      if (done) return;
    }
    await this.#signal(c, signalNumber('SIGKILL'));
    const done = await Promise.race([c.exited.then(() => true), this.#clock.sleep(30_000).then(() => false)]);
    if (!done) throw timeoutError(`Container "${containerId}" did not exit 30 s after SIGKILL`);
  }

  async removeContainer(containerId: string): Promise<void> {
    const c = this.containers.get(containerId);
    if (!c) return;
    if (c.phase === 'running') await this.stopContainer(containerId, 0, 'SIGKILL');
    // PRIVILEGED: removes the container's runc state and cgroup.
    await this.#exec.execFile(runcArgs(this.rt, 'delete', '--force', containerId), { check: false });
    await unmountAll(c.dir, this.#exec);
    await rm(c.dir, { recursive: true, force: true });
    await bestEffort(
      this.#log,
      `remove the cgroup of container ${containerId}`,
      removeCgroupTree(c.file.cgroupsPath, this.rt.cgroupVersion),
    );
    this.containers.delete(containerId);
  }

  #running(containerId: string): RuncContainer {
    const c = this.#get(containerId);
    if (c.phase !== 'running') throw conflict(`Container "${containerId}" is not running`);
    return c;
  }

  async exec(containerId: string, opts: ExecOptions): Promise<StreamSession> {
    const c = this.#running(containerId);
    if (opts.cmd.length === 0) throw invalid('Cannot exec: the command is empty');
    const tty = opts.tty ?? false;
    let user = c.file.user;
    if (opts.user) {
      user = await resolveUser(
        { rootfs: join(c.dir, 'rootfs') },
        { username: opts.user, imageUser: c.file.imageUser },
      );
    }
    const env = [...c.file.env];
    for (const { key, value } of opts.envs ?? []) {
      const i = env.findIndex((e) => e.startsWith(`${key}=`));
      if (i >= 0) env.splice(i, 1);
      env.push(`${key}=${value}`);
    }
    if (tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    const spec = buildProcess({
      args: opts.cmd,
      env,
      cwd: opts.workingDir || c.file.cwd,
      user,
      capabilities: c.file.capabilities,
      tty,
      noNewPrivileges: c.file.noNewPrivileges,
      consoleSize: opts.initialSize,
      nofile: this.rt.nofile,
    });
    const tag = `x-${randomBytes(4).toString('hex')}`;
    const specFile = join(c.dir, `${tag}.json`);
    await writeFile(specFile, JSON.stringify(spec));
    const wantStdin = opts.stdin ?? false;
    // PRIVILEGED: `runc exec` joins the container's namespaces and cgroup with its capabilities
    // and seccomp profile; nothing is granted beyond what the container itself has.
    const child = await this.#exec.spawnProcess(
      [
        this.rt.shim,
        'exec',
        '--runc',
        this.rt.runc,
        '--root',
        this.rt.runcRoot,
        '--id',
        containerId,
        '--process',
        specFile,
        '--tag',
        tag,
        '--dir',
        c.dir,
        ...(tty ? ['--tty'] : []),
        ...(opts.initialSize
          ? ['--cols', String(opts.initialSize.width), '--rows', String(opts.initialSize.height)]
          : []),
      ],
      { stdio: [wantStdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'] },
    );
    const status = readExecStatus(child.raw.stdio[4] as Readable);
    const started = await status.started;
    const cleanup = (): void => {
      void bestEffort(this.#log, 'remove an exec process spec', rm(specFile, { force: true }));
    };
    if (!started.ok) {
      cleanup();
      child.raw.stdio[3]?.destroy();
      child.stdin?.destroy();
      await child.exited;
      return failedSession(started.code, started.message, opts);
    }
    const exitCode = Promise.all([status.exit, child.exited]).then(([fromStatus, st]) => {
      cleanup();
      if (fromStatus !== undefined) return fromStatus;
      return st.code ?? (st.signal ? 128 + signalNumber(st.signal) : 255);
    });
    return createExecSession(
      child,
      { tty, stdout: opts.stdout ?? true, stderr: opts.stderr ?? true },
      exitCode,
      cleanup,
    );
  }

  async attach(containerId: string, opts: AttachOptions): Promise<StreamSession> {
    const c = this.#running(containerId);
    const flags = (opts.stdout || opts.stderr ? helloWantsOutput : 0) | (opts.stdin ? helloSendsStdin : 0);
    if (opts.stdin && !c.file.stdin) {
      throw invalid(`Cannot attach stdin: container "${containerId}" was not created with stdin`);
    }
    const sock = await connectShim(join(c.dir, 'shim.sock'), flags).catch((err: unknown) => {
      throw conflict(`Cannot attach to container "${containerId}": it has exited`, { cause: err });
    });
    return createAttachSession(
      sock,
      { stdout: opts.stdout ?? true, stderr: opts.stderr ?? true, tty: c.file.tty },
      c.exited,
    );
  }

  async updateResources(containerId: string, r: LinuxContainerResources): Promise<void> {
    const c = this.#get(containerId);
    if (c.phase === 'exited') throw conflict(`Container "${containerId}" has exited`);
    if (c.phase === 'created') throw conflict(`Container "${containerId}" is not running yet`);
    const res: Record<string, unknown> = {};
    if (r.memoryLimitInBytes !== undefined) res['memory'] = { limit: r.memoryLimitInBytes || -1 };
    const cpu: Record<string, number> = {};
    if (r.cpuShares) cpu['shares'] = r.cpuShares;
    if (r.cpuQuota !== undefined) cpu['quota'] = r.cpuQuota;
    if (r.cpuPeriod) cpu['period'] = r.cpuPeriod;
    if (Object.keys(cpu).length) res['cpu'] = cpu;
    if (r.pidsLimit !== undefined) res['pids'] = { limit: r.pidsLimit };
    const file = join(c.dir, `update-${randomBytes(3).toString('hex')}.json`);
    await writeFile(file, JSON.stringify(res));
    try {
      // PRIVILEGED: changes the cgroup limits of one of our containers.
      await this.#exec.execFile(runcArgs(this.rt, 'update', '-r', file, containerId));
    } catch (err) {
      throw invalid(`Cannot update the resources of container "${containerId}"`, { cause: err });
    } finally {
      await bestEffort(this.#log, 'remove a resource update file', unlink(file));
    }
  }

  async stats(containerId: string): Promise<ContainerStats> {
    const c = this.#get(containerId);
    const now = this.#clock.now() * 1e6;
    if (c.phase !== 'running') {
      return { containerId, timestampNs: now, cpuUsageCoreNanoSeconds: 0, memoryWorkingSetBytes: 0 };
    }
    const r = await this.#exec.execFile(runcArgs(this.rt, 'events', '--stats', containerId), {
      timeoutMs: 10_000,
    });
    const v = JSON.parse(r.stdout) as {
      data?: {
        cpu?: { usage?: { total?: number } };
        memory?: { usage?: { usage?: number }; stats?: Record<string, number> };
      };
    };
    const usage = v.data?.memory?.usage?.usage ?? 0;
    const stats = v.data?.memory?.stats ?? {};
    const inactive = stats['total_inactive_file'] ?? stats['inactive_file'] ?? 0;
    return {
      containerId,
      timestampNs: now,
      cpuUsageCoreNanoSeconds: v.data?.cpu?.usage?.total ?? 0,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
    };
  }

  async portForward(port: number): Promise<Duplex> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`Invalid port ${port}`);
    if (this.stopped) throw conflict(`Pod sandbox "${this.id}" is stopped`);
    const net = this.env.namespaces.network;
    if (net === 'host') {
      return new Promise<Duplex>((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', (e) =>
          reject(unavailable(`Cannot connect to port ${port} of pod sandbox "${this.id}"`, { cause: e })),
        );
      });
    }
    // PRIVILEGED: the helper enters only the pod's network namespace to connect to one port.
    const child = await this.#exec.spawnProcess(
      [this.rt.shim, 'port-forward', '--netns', net.path, '--port', String(port)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    const readable = new PassThrough();
    child.stdout?.pipe(readable);
    const duplex = Duplex.from({ readable, writable: child.stdin ?? new PassThrough() });
    void child.exited.then((st) => {
      if (st.code !== 0 && stderr) duplex.destroy(unavailable(stderr.trim()));
    });
    duplex.on('close', () => {
      child.kill('SIGKILL');
    });
    return duplex;
  }

  async stop(): Promise<void> {
    for (const c of this.containers.values()) {
      if (c.phase === 'running') {
        await this.stopContainer(c.file.id, 0, 'SIGKILL').catch((err: unknown) =>
          this.#log.warn('Cannot kill a container of a stopping sandbox', {
            containerId: c.file.id,
            error: err,
          }),
        );
      }
    }
    for (const c of this.containers.values()) {
      await c.exitHandling;
      // PRIVILEGED: removes the stopped container's runc state and cgroup.
      await this.#exec.execFile(runcArgs(this.rt, 'delete', '--force', c.file.id), { check: false });
      await unmountAll(join(c.dir, 'rootfs'), this.#exec).catch((err: unknown) =>
        this.#log.warn('Cannot unmount a container root', { containerId: c.file.id, error: err }),
      );
    }
    await this.volumes.releaseAll();
    await teardownPodEnvironment(this.dir, this.#exec);
    await bestEffort(
      this.#log,
      `remove the cgroup of pod sandbox ${this.id}`,
      removeCgroupTree(this.cgroupDir, this.rt.cgroupVersion),
    );
    this.stopped = true;
    await writeJsonFileAtomic(join(this.dir, 'sandbox.json'), { id: this.id, stopped: true });
  }

  async destroy(): Promise<void> {
    await this.stop();
    await unmountAll(this.dir, this.#exec);
  }
}

/** Reads the monitor's first output line (`ok <pid>` or `error <code> <message>`). */
async function firstLine(
  stdout: Readable | null,
  stderr: Readable | null,
  exited: Promise<unknown>,
  timeoutMs: number,
): Promise<string> {
  let out = '';
  let err = '';
  stderr?.setEncoding('utf8');
  stderr?.on('data', (s: string) => {
    if (err.length < 4096) err += s;
  });
  return new Promise<string>((resolve) => {
    const timer = setTimeout(
      () => resolve('error 128 the container monitor did not answer in time'),
      timeoutMs,
    );
    const finish = (line: string): void => {
      clearTimeout(timer);
      resolve(line);
    };
    if (!stdout) {
      finish('error 128 the container monitor has no output');
      return;
    }
    stdout.setEncoding('utf8');
    stdout.on('data', (s: string) => {
      out += s;
      const nl = out.indexOf('\n');
      if (nl >= 0) finish(out.slice(0, nl));
      else if (out.length > 8192) finish(`error 128 ${out.slice(0, 200)}`);
    });
    void exited.then(() => {
      // give buffered output a turn before deciding the monitor said nothing
      setImmediate(() => finish(`error 128 ${err.trim() || 'the container monitor exited without a word'}`));
    });
  });
}

/** A session for an exec whose process could not start (127 not found, 126 not executable). */
function failedSession(code: number, message: string, opts: ExecOptions): StreamSession {
  const stdout = new ByteChannel();
  const stderr = new ByteChannel();
  const text = Buffer.from(`${message}\n`);
  if (opts.tty) stdout.push(text);
  else stderr.push(text);
  stdout.end();
  stderr.end();
  return {
    writeStdin: async () => {},
    closeStdin: async () => {},
    resize: async () => {},
    stdout,
    stderr,
    exit: Promise.resolve({ exitCode: code }),
    close: async () => {},
  };
}

/**
 * The monitor's arguments for mounting the container root: overlayfs over the image's layers
 * (`lowerDirs` lowest first). Long layer lists are given relative to their common parent so the
 * mount options stay within the kernel's page-size limit.
 */
function overlayArgs(lowerDirs: readonly string[], dir: string): string[] {
  const top = [...lowerDirs].reverse();
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  let lower = top.join(':');
  const args: string[] = [];
  if (lower.length + upper.length + work.length > 3000) {
    const cwd = commonDir(top);
    lower = top.map((d) => relative(cwd, d)).join(':');
    args.push('--overlay-cwd', cwd);
  }
  if (lower.length + upper.length + work.length > 4000) {
    throw invalid(`The image has too many layers (${lowerDirs.length}) for overlayfs`);
  }
  return [
    ...args,
    '--overlay-lower',
    lower,
    '--overlay-upper',
    upper,
    '--overlay-work',
    work,
    '--rootfs',
    join(dir, 'rootfs'),
  ];
}

function commonDir(paths: readonly string[]): string {
  const parts = paths.map((p) => p.split(sep));
  const first = parts[0] ?? [];
  let n = first.length;
  for (const p of parts) {
    let i = 0;
    while (i < n && p[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(sep) || '/';
}

/** Host device nodes for privileged containers (/dev and /dev/net, not recursive). */
async function listHostDevices(): Promise<OciDevice[]> {
  const out: OciDevice[] = [];
  for (const dir of ['/dev', '/dev/net']) {
    for (const name of (await unlessMissing(readdir(dir))) ?? []) {
      const p = join(dir, name);
      const st = await unlessMissing(lstat(p));
      if (!st || !(st.isCharacterDevice() || st.isBlockDevice())) continue;
      if (['/dev/console', '/dev/tty', '/dev/ptmx'].includes(p) || /^\/dev\/tty\d/.test(p)) continue;
      const rdev = st.rdev;
      out.push({
        path: p,
        type: st.isBlockDevice() ? 'b' : 'c',
        major: Number((BigInt(rdev) >> 8n) & 0xfffn),
        minor: Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n)),
        fileMode: st.mode & 0o777,
        uid: st.uid,
        gid: st.gid,
      });
    }
  }
  return out;
}
