/**
 * hyperctl's pod and container commands besides `run`: `list`, `exec`, `logs`, `stop`,
 * `start`, `rm` and `info`, over a `NodeRuntime` (the daemon's client).
 *
 * hyperd's vocabulary: pod status pending (nothing started yet), running, succeeded/failed
 * (every container exited, by exit code), stopped (the sandbox was stopped); container status
 * pending, running, succeeded, failed.
 */
import { randomBytes } from 'node:crypto';
import type {
  Container,
  ContainerConfig,
  NodeRuntime,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxStatus,
} from '../../runtime/index.js';
import { conflict, isNotFound } from '../../lib/index.js';
import {
  HyperctlUsageError,
  flagBool,
  flagInt,
  flagValue,
  hyperdTable,
  parseCommandLine,
  type HyperctlIO,
} from './hyperctl-io.js';
import { findContainer, findPod, resolveContainerOrPod, resolvePod } from './resolve.js';
import { pumpSession } from './session-pump.js';

const short = (id: string): string => id.slice(0, 12);

function containerStatusWord(c: { state: string }, exitCode?: number): string {
  switch (c.state) {
    case 'CONTAINER_CREATED':
      return 'pending';
    case 'CONTAINER_RUNNING':
      return 'running';
    case 'CONTAINER_EXITED':
      return exitCode === 0 ? 'succeeded' : 'failed';
    default:
      return 'unknown';
  }
}

async function podStatusWord(rt: NodeRuntime, pod: PodSandbox): Promise<string> {
  if (pod.state === 'SANDBOX_NOTREADY') return 'stopped';
  const containers = await rt.listContainers({ podSandboxId: pod.id });
  if (containers.some((c) => c.state === 'CONTAINER_RUNNING')) return 'running';
  if (containers.length === 0 || containers.some((c) => c.state === 'CONTAINER_CREATED')) return 'pending';
  for (const c of containers) {
    if ((await rt.containerStatus(c.id)).exitCode !== 0) return 'failed';
  }
  return 'succeeded';
}

function vmName(status: PodSandboxStatus): string {
  const v = status.info['vmId'];
  return typeof v === 'string' ? v : '';
}

export const listUsage = `Usage: hyperctl list [pod|container|vm] [-q]

List pods (default), containers or VMs.

Options:
  -q, --quiet   Print only the ids
`;

export async function runList(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(
    argv,
    { quiet: { short: 'q' }, pod: { short: 'p' }, container: { short: 'c' }, vm: { short: 'm' } },
    { stopAtPositional: false },
  );
  const what = p.args[0] ?? (flagBool(p, 'container') ? 'container' : flagBool(p, 'vm') ? 'vm' : 'pod');
  if (p.args.length > 1 || !['pod', 'container', 'vm'].includes(what)) {
    throw new HyperctlUsageError(`cannot list "${p.args.join(' ')}": choose pod, container or vm`);
  }
  const quiet = flagBool(p, 'quiet');
  const pods = await rt.listPodSandbox();
  const rows: string[][] = [];
  if (what === 'pod') {
    rows.push(['POD ID', 'POD Name', 'VM name', 'Status', 'Runtime']);
    for (const pod of pods) {
      const st = await unlessGone(rt.podSandboxStatus(pod.id));
      if (!st) continue;
      rows.push([
        short(pod.id),
        pod.metadata.name,
        vmName(st),
        await podStatusWord(rt, pod),
        pod.runtimeHandler,
      ]);
    }
  } else if (what === 'container') {
    rows.push(['Container ID', 'Name', 'POD ID', 'Status', 'Runtime']);
    const handlerOf = new Map(pods.map((x) => [x.id, x.runtimeHandler]));
    for (const c of await rt.listContainers()) {
      const st = c.state === 'CONTAINER_EXITED' ? await unlessGone(rt.containerStatus(c.id)) : undefined;
      rows.push([
        short(c.id),
        c.metadata.name,
        short(c.podSandboxId),
        containerStatusWord(c, st?.exitCode),
        handlerOf.get(c.podSandboxId) ?? '',
      ]);
    }
  } else {
    rows.push(['VM name', 'Status']);
    for (const pod of pods) {
      if (pod.runtimeHandler !== 'hyper' || pod.state !== 'SANDBOX_READY') continue;
      const st = await unlessGone(rt.podSandboxStatus(pod.id));
      if (st && vmName(st)) rows.push([vmName(st), 'associated']);
    }
  }
  if (quiet) {
    for (const r of rows.slice(1)) io.stdout.write(`${r[0]}\n`);
  } else {
    io.stdout.write(hyperdTable(rows));
  }
  return 0;
}

export const execUsage = `Usage: hyperctl exec [OPTIONS] POD|CONTAINER COMMAND [ARG...]

Run a command in a running container (a pod means its first running container).

Options:
  -t, --tty           Allocate a terminal (interactive)
  -i, --interactive   Attach stdin (implied by -t)
  -e, --env K=V       Set an environment variable (repeatable)
  -w, --workdir DIR   Working directory
  -u, --user USER     User name or uid
`;

export async function runExec(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(argv, {
    tty: { short: 't' },
    interactive: { short: 'i' },
    env: { short: 'e', value: true, repeat: true },
    workdir: { short: 'w', value: true },
    user: { short: 'u', value: true },
    detach: { short: 'd' },
  });
  const [target, ...cmd] = p.args;
  if (!target || cmd.length === 0)
    throw new HyperctlUsageError('"hyperctl exec" needs a POD or CONTAINER and a COMMAND');
  const container = await resolveContainerOrPod(rt, target);
  if (container.state !== 'CONTAINER_RUNNING') {
    throw conflict(`Container "${container.metadata.name}" (${short(container.id)}) is not running`);
  }
  const tty = flagBool(p, 'tty');
  const stdin = tty || flagBool(p, 'interactive');
  const envs = (p.flags.get('env') ?? []).map((e) => {
    const i = e.indexOf('=');
    if (i <= 0) throw new HyperctlUsageError(`invalid --env "${e}": expected KEY=VALUE`);
    return { key: e.slice(0, i), value: e.slice(i + 1) };
  });
  const size = tty ? io.terminal?.size() : undefined;
  const session = await rt.exec(container.id, {
    cmd,
    tty,
    stdin,
    stdout: true,
    stderr: true,
    ...(size ? { initialSize: size } : {}),
    ...(envs.length ? { envs } : {}),
    ...(flagValue(p, 'workdir') ? { workingDir: flagValue(p, 'workdir') as string } : {}),
    ...(flagValue(p, 'user') ? { user: flagValue(p, 'user') as string } : {}),
  });
  return pumpSession(session, io, { tty, stdin });
}

export const attachUsage = `Usage: hyperctl attach [--no-stdin] POD|CONTAINER

Attach to a running container's output (and its stdin and terminal, when it has them) until it
exits; hyperctl exits with its exit code.
`;

export async function runAttach(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(argv, { 'no-stdin': {} }, { stopAtPositional: false });
  const [target] = p.args;
  if (!target || p.args.length > 1)
    throw new HyperctlUsageError('"hyperctl attach" needs one POD or CONTAINER');
  const container = await resolveContainerOrPod(rt, target);
  if (container.state !== 'CONTAINER_RUNNING') {
    throw conflict(`Container "${container.metadata.name}" (${short(container.id)}) is not running`);
  }
  const config = (await rt.containerStatus(container.id)).config;
  const tty = config?.tty ?? false;
  const stdin = (config?.stdin ?? false) && !flagBool(p, 'no-stdin');
  const session = await rt.attach(container.id, { stdin, stdout: true, stderr: true, tty });
  return pumpSession(session, io, { tty, stdin });
}

export const logsUsage = `Usage: hyperctl logs [OPTIONS] POD|CONTAINER

Print a container's log (a pod means its first container).

Options:
  -f, --follow         Keep printing new output until the container exits
      --tail N         Only the last N lines
  -t, --timestamps     Prefix each line with its time
      --since TIME     Only lines since TIME (RFC 3339, or a duration like 10m)
`;

function parseSince(v: string, nowMs: number): number {
  const d = /^(\d+)(s|m|h)$/.exec(v);
  if (d) return (nowMs - Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[d[2] as 's' | 'm' | 'h']) * 1e6;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new HyperctlUsageError(`invalid --since "${v}": give RFC 3339 time or a duration like 10m`);
  return t * 1e6;
}

export async function runLogs(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(
    argv,
    { follow: { short: 'f' }, tail: { value: true }, timestamps: { short: 't' }, since: { value: true } },
    { stopAtPositional: false },
  );
  const [target] = p.args;
  if (!target || p.args.length > 1)
    throw new HyperctlUsageError('"hyperctl logs" needs one POD or CONTAINER');
  const tailRaw = flagValue(p, 'tail');
  const tail = tailRaw === undefined || tailRaw === 'all' ? undefined : flagInt(p, 'tail');
  const since = flagValue(p, 'since');
  const container = await resolveContainerOrPod(rt, target);
  const timestamps = flagBool(p, 'timestamps');
  for await (const line of rt.containerLogs(container.id, {
    follow: flagBool(p, 'follow'),
    ...(tail !== undefined ? { tailLines: tail } : {}),
    ...(since ? { sinceNs: parseSince(since, (io.now ?? Date.now)()) } : {}),
    timestamps,
    ...(io.signal ? { signal: io.signal } : {}),
  })) {
    const text = Buffer.concat([
      timestamps ? Buffer.from(`${line.time} `) : Buffer.alloc(0),
      Buffer.from(line.content),
      line.full ? Buffer.from('\n') : Buffer.alloc(0),
    ]);
    if (line.stream === 'stderr') io.stderr.write(text.toString());
    else io.stdout.write(text);
  }
  return 0;
}

export const stopUsage = `Usage: hyperctl stop [-c] [-t SECONDS] POD|CONTAINER...

Stop pods (their containers get SIGTERM, then SIGKILL after the grace period, then the pod's
VM or namespaces go). With -c, stop containers only.
`;

export async function runStop(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(
    argv,
    { container: { short: 'c' }, time: { short: 't', value: true } },
    { stopAtPositional: false },
  );
  if (p.args.length === 0)
    throw new HyperctlUsageError('"hyperctl stop" needs at least one POD or CONTAINER');
  const grace = flagInt(p, 'time') ?? 10;
  let failed = 0;
  for (const ref of p.args) {
    try {
      const c = flagBool(p, 'container') ? await findContainer(rt, ref) : undefined;
      if (c) {
        await rt.stopContainer(c.id, grace);
        io.stdout.write(`${short(c.id)}\n`);
        continue;
      }
      const pod = await resolvePod(rt, ref);
      await Promise.all(
        (await rt.listContainers({ podSandboxId: pod.id }))
          .filter((x) => x.state === 'CONTAINER_RUNNING')
          .map((x) => rt.stopContainer(x.id, grace)),
      );
      await rt.stopPodSandbox(pod.id);
      io.stdout.write(`${short(pod.id)}\n`);
    } catch (err) {
      failed++;
      io.stderr.write(`hyperctl stop: ${ref}: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  return failed ? 1 : 0;
}

export const startUsage = `Usage: hyperctl start POD...

Start a pod again: created containers start; a stopped pod or exited containers are
recreated from the same configuration (new ids, next attempt), as kubelet does.
`;

export async function runStart(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(argv, {}, { stopAtPositional: false });
  if (p.args.length === 0) throw new HyperctlUsageError('"hyperctl start" needs at least one POD');
  let failed = 0;
  for (const ref of p.args) {
    try {
      const pod = await resolvePod(rt, ref);
      io.stdout.write(`${short(await startPod(rt, pod))}\n`);
    } catch (err) {
      failed++;
      io.stderr.write(`hyperctl start: ${ref}: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  return failed ? 1 : 0;
}

async function startPod(rt: NodeRuntime, pod: PodSandbox): Promise<string> {
  const status = await rt.podSandboxStatus(pod.id);
  const containers = [...(await rt.listContainers({ podSandboxId: pod.id }))].sort(
    (a, b) => a.createdAt - b.createdAt,
  );
  const configs: ContainerConfig[] = [];
  for (const c of containers) {
    const st = await rt.containerStatus(c.id);
    if (st.config) configs.push(st.config);
  }
  if (pod.state === 'SANDBOX_READY') {
    for (const c of containers) {
      if (c.state === 'CONTAINER_CREATED') await rt.startContainer(c.id);
      else if (c.state === 'CONTAINER_EXITED') {
        const st = await rt.containerStatus(c.id);
        if (!st.config) continue;
        await rt.removeContainer(c.id);
        const id = await rt.createContainer(pod.id, nextAttempt(st.config));
        await rt.startContainer(id);
      }
    }
    return pod.id;
  }
  const config = status.config;
  if (!config) throw conflict(`Pod "${pod.metadata.name}" is stopped and its configuration is not known`);
  const next: PodSandboxConfig = {
    ...config,
    metadata: {
      ...config.metadata,
      uid: randomBytes(8).toString('hex'),
      attempt: config.metadata.attempt + 1,
    },
  };
  const id = await rt.runPodSandbox(next, pod.runtimeHandler);
  for (const c of configs) {
    const cid = await rt.createContainer(id, nextAttempt(c));
    await rt.startContainer(cid);
  }
  await rt.removePodSandbox(pod.id);
  return id;
}

function nextAttempt(c: ContainerConfig): ContainerConfig {
  return { ...c, metadata: { ...c.metadata, attempt: c.metadata.attempt + 1 } };
}

export const rmUsage = `Usage: hyperctl rm [-f] [-c] POD|CONTAINER...

Remove pods (or containers with -c). A running pod needs -f (it is stopped first).
`;

export async function runRm(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(
    argv,
    { force: { short: 'f' }, container: { short: 'c' } },
    { stopAtPositional: false },
  );
  if (p.args.length === 0) throw new HyperctlUsageError('"hyperctl rm" needs at least one POD or CONTAINER');
  const force = flagBool(p, 'force');
  let failed = 0;
  for (const ref of p.args) {
    try {
      let pod: PodSandbox | undefined;
      let container: Container | undefined;
      if (flagBool(p, 'container')) container = await findContainer(rt, ref);
      else pod = await findPod(rt, ref);
      if (!pod && !container) container = await findContainer(rt, ref);
      if (!pod && !container) throw new Error(`No such pod or container: "${ref}"`);
      if (container) {
        if (container.state === 'CONTAINER_RUNNING' && !force) {
          throw conflict(`container "${container.metadata.name}" is running: stop it first or use rm -f`);
        }
        await rt.removeContainer(container.id);
        io.stdout.write(`${short(container.id)}\n`);
        continue;
      }
      const thePod = pod as PodSandbox;
      const running = (await rt.listContainers({ podSandboxId: thePod.id })).some(
        (c) => c.state === 'CONTAINER_RUNNING',
      );
      if (running && !force) {
        throw conflict(`pod "${thePod.metadata.name}" is running: stop it first or use rm -f`);
      }
      await rt.removePodSandbox(thePod.id);
      io.stdout.write(`${short(thePod.id)}\n`);
    } catch (err) {
      if (isNotFound(err) && force) continue;
      failed++;
      io.stderr.write(`hyperctl rm: ${ref}: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  return failed ? 1 : 0;
}

export async function runInfo(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  if (argv.length) throw new HyperctlUsageError('"hyperctl info" takes no arguments');
  const info = await rt.info();
  const lines = [
    `Images: ${info.images}`,
    `Containers: ${info.containers}`,
    `PODs: ${info.sandboxes}`,
    `Hyper Root Dir: ${info.rootDir}`,
    `Version: ${info.version}`,
    'Runtime handlers:',
  ];
  for (const h of info.handlers) {
    if (!h.available) {
      lines.push(` ${h.name}: unavailable (${h.reason ?? 'unknown reason'})`);
      continue;
    }
    lines.push(` ${h.name}: available`);
    for (const [k, v] of Object.entries(h.details)) {
      lines.push(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
  }
  io.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** A pod or container removed between the list and its status is left out of the table; any other failure is the command's. */
async function unlessGone<T>(status: Promise<T>): Promise<T | undefined> {
  try {
    return await status;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
