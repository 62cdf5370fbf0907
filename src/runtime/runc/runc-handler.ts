/**
 * The `runc` handler: pods as Linux containers run by Debian's runc, for privileged and
 * host-network pods and for users who choose plain containers (DESIGN.md, Runtimes).
 *
 * A sandbox is a set of pinned namespaces (network, UTS, IPC), a /dev/shm tmpfs and the pod's
 * /etc files (pod-environment.ts); there is no pause process. A container is an OCI bundle
 * (oci-spec.ts) over an overlayfs root made from the image's layer tree, started and watched
 * by its own monitor (the shim's `run` mode) that outlives the daemon, keeps its stdio, writes
 * its CRI log and records its exit in `exit.json`. Execs run through the shim's `exec` mode.
 *
 * State that must survive a daemon restart lives under the sandbox's state directory
 * (`sandbox.json`, `c-<id>/container.json`, the monitor's socket and exit file), so
 * `adoptSandbox` can reconnect to running monitors and report exits that happened meanwhile.
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import {
  bestEffort,
  describeError,
  findExecutable,
  systemClock,
  systemExec,
  unavailable,
  unlessMissing,
  writeJsonFileAtomic,
  type Logger,
  type Clock,
  type Exec,
} from '../../lib/index.js';
import { unmountAll } from '../host-mounts.js';
import type {
  HandlerProbe,
  SandboxAdoptRequest,
  SandboxHandle,
  SandboxHandler,
  SandboxStartRequest,
} from '../sandbox-handler.js';
import { capabilitiesFromMask } from './capabilities.js';
import { detectCgroupVersion } from './cgroups.js';
import { isPodEnvironmentAlive, setupPodEnvironment, teardownPodEnvironment } from './pod-environment.js';
import {
  containerDir,
  newContainer,
  processStartTime,
  RuncSandbox,
  runcArgs,
  type ContainerFile,
  type ContainerPhase,
  type RuncRuntime,
  type RuncSettings,
} from './runc-sandbox.js';
import { findShimBinary } from './shim-binary.js';
import { watchShim } from './shim-client.js';

export interface RuncHandlerOptions {
  /** runc's own state directory (`runc --root`). */
  readonly runcRoot: string;
  /** Default: `runc` on PATH. */
  readonly runcPath?: string;
  /** The shim binary; default the one `npm run build` installed (shim-binary.ts). */
  readonly shimPath?: string;
  /** Parent of every pod's cgroup, e.g. `/h8s`. */
  readonly cgroupParent?: string;
  /** pids.max for containers that do not set one (fork bombs stop here). 0 = unlimited. */
  readonly defaultPidsLimit?: number;
  readonly logMaxBytes?: number;
  readonly logMaxFiles?: number;
  readonly log: Logger;
  readonly clock?: Clock;
  /** How runc and the shim are run; default the real `execFile`/`spawnProcess` (tests inject). */
  readonly exec?: Exec;
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, 'utf8')) as unknown;
}

/** Creates the runc handler. Nothing touches the host until `probe` or `startSandbox`. */
export function createRuncHandler(options: RuncHandlerOptions): SandboxHandler {
  const log = options.log.child({ handler: 'runc' });
  /** A state file of an adopted pod: absent is normal (it never got that far); unreadable is logged. */
  const readStateFile = async (path: string): Promise<unknown> => {
    try {
      return await unlessMissing(readJson(path));
    } catch (err) {
      log.warn('Cannot read a runc state file; the object it describes is not adopted', {
        path,
        error: describeError(err),
      });
      return undefined;
    }
  };
  const clock = options.clock ?? systemClock;
  const exec = options.exec ?? systemExec;
  const settings: RuncSettings = {
    cgroupParent: (options.cgroupParent ?? '/h8s').replace(/\/+$/, ''),
    defaultPidsLimit: options.defaultPidsLimit ?? 4096,
    logMaxBytes: options.logMaxBytes ?? 10 * 1024 * 1024,
    logMaxFiles: options.logMaxFiles ?? 5,
  };
  const newSandbox = (rt: RuncRuntime, req: SandboxStartRequest | SandboxAdoptRequest): RuncSandbox =>
    new RuncSandbox({
      id: req.id,
      config: req.config,
      dir: req.stateDir,
      rt,
      events: req.events,
      settings,
      log,
      clock,
      exec,
    });
  let runtime: Promise<RuncRuntime> | undefined;

  const prepare = (): Promise<RuncRuntime> => {
    runtime ??= (async () => {
      if (process.getuid?.() !== 0) throw unavailable('The runc handler needs root');
      const runc = options.runcPath ?? (await findExecutable('runc'));
      if (!runc) throw unavailable('runc is not installed (Debian package "runc")');
      await access(runc, constants.X_OK).catch(() => {
        throw unavailable(`runc at "${runc}" is not executable`);
      });
      const fs = await readFile('/proc/filesystems', 'utf8');
      if (!/\boverlay\b/.test(fs)) throw unavailable('The kernel has no overlayfs');
      const shim = options.shimPath ?? (await findShimBinary());
      await mkdir(options.runcRoot, { recursive: true, mode: 0o700 });
      const status = await readFile('/proc/self/status', 'utf8');
      const capabilities = capabilitiesFromMask(/^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '');
      return {
        runc,
        runcRoot: options.runcRoot,
        shim,
        cgroupVersion: await detectCgroupVersion(),
        nofile: await nofileLimit(),
        capabilities,
      };
    })();
    runtime.catch(() => {
      runtime = undefined; // let a later probe try again (e.g. after installing runc)
    });
    return runtime;
  };

  return {
    name: 'runc',
    rootfsKind: 'layers',

    async probe(): Promise<HandlerProbe> {
      try {
        const rt = await prepare();
        const v = await exec.execFile([rt.runc, '--version'], { timeoutMs: 10_000 });
        const version = /runc version (\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
        return {
          available: true,
          details: {
            runc: rt.runc,
            runcVersion: version,
            cgroupVersion: rt.cgroupVersion,
            shim: rt.shim,
            cgroupParent: settings.cgroupParent,
          },
        };
      } catch (err) {
        return { available: false, reason: describeError(err), details: {} };
      }
    },

    async startSandbox(req: SandboxStartRequest): Promise<SandboxHandle> {
      const rt = await prepare();
      req.signal?.throwIfAborted();
      const sb = newSandbox(rt, req);
      await writeJsonFileAtomic(join(req.stateDir, 'sandbox.json'), { id: req.id, stopped: false });
      try {
        await setupPodEnvironment(req.stateDir, req.config, rt.shim, osHostname(), exec);
      } catch (err) {
        await bestEffort(
          log,
          'tear down a sandbox that failed to start',
          teardownPodEnvironment(req.stateDir, exec),
        );
        throw err;
      }
      return sb;
    },

    async adoptSandbox(req: SandboxAdoptRequest): Promise<SandboxHandle | undefined> {
      const rt = await prepare();
      const state = (await readStateFile(join(req.stateDir, 'sandbox.json'))) as
        { stopped?: boolean } | undefined;
      if (!state) return undefined;
      const sb = newSandbox(rt, req);
      sb.stopped = state.stopped ?? false;
      const alive = !sb.stopped && (await isPodEnvironmentAlive(req.stateDir, req.config));
      for (const known of req.containers) {
        const id = known.spec.id;
        const dir = containerDir(req.stateDir, id);
        const file = (await readStateFile(join(dir, 'container.json'))) as ContainerFile | undefined;
        if (!file) continue;
        const phase: ContainerPhase = known.exited ? 'exited' : known.started ? 'running' : 'created';
        const c = newContainer(file, dir, phase);
        sb.containers.set(id, c);
        if (phase === 'running') {
          if (!alive) {
            // the host rebooted (or someone removed our mounts): nothing of it runs any more
            c.phase = 'exited';
            continue;
          }
          // no monitor to reconnect to (it exited with its container): the exit is recorded below
          const watched = await bestEffort(
            log,
            `reconnect to the monitor of ${id}`,
            watchShim(join(dir, 'shim.sock')),
          );
          if (watched) {
            void watched.ended.then((exit) => sb.processExit(c, exit));
          } else {
            await sb.processExit(c, undefined);
          }
        } else if (phase === 'exited') {
          c.resolveExited({ exitCode: 0 });
        } else if (alive) {
          // the daemon died between starting the monitor and hearing back from it: a monitor
          // that is there (or an exit it recorded) means the container did start
          const watched = await bestEffort(
            log,
            `reconnect to the monitor of ${id}`,
            watchShim(join(dir, 'shim.sock')),
          );
          const exitFile = await unlessMissing(readFile(join(dir, 'exit.json'), 'utf8'));
          if (watched || exitFile !== undefined) {
            c.phase = 'running';
            const pid = Number(((await unlessMissing(readFile(join(dir, 'pid'), 'utf8'))) ?? '').trim());
            if (pid > 0) {
              c.file.pid = pid;
              const st = await processStartTime(pid);
              if (st !== undefined) c.file.pidStartTime = st;
              await writeJsonFileAtomic(join(dir, 'container.json'), c.file);
            }
            req.events.containerStarted(id, clock.now() * 1e6);
            if (watched) void watched.ended.then((exit) => sb.processExit(c, exit));
            else await sb.processExit(c, undefined);
          }
        }
      }
      if (!alive && !sb.stopped) {
        for (const c of sb.containers.values()) {
          // PRIVILEGED: removes runc state of containers that no longer run (host rebooted).
          await exec.execFile(runcArgs(rt, 'delete', '--force', c.file.id), { check: false });
        }
        await bestEffort(log, 'unmount a sandbox that no longer runs', unmountAll(req.stateDir, exec));
        return undefined;
      }
      return sb;
    },

    async close(): Promise<void> {
      // nothing runs in the background: monitors belong to their containers
    },
  };
}

/** Containers get up to 1Mi open files, but never more than this process may raise to. */
async function nofileLimit(): Promise<number> {
  const text = (await unlessMissing(readFile('/proc/self/limits', 'utf8'))) ?? '';
  const m = /^Max open files\s+\S+\s+(\S+)/m.exec(text);
  const hard = m?.[1] === 'unlimited' ? Infinity : Number(m?.[1] ?? 1_048_576);
  return Math.min(1_048_576, Number.isFinite(hard) && hard > 0 ? hard : 1_048_576);
}
