/**
 * `hyperctl run [OPTIONS] IMAGE [COMMAND [ARG...]]` and `hyperctl run -p POD_FILE`: creates a
 * pod (pulling missing images first), starts its containers and either prints its id with
 * hyperd's `Time to run a POD is N ms` (`-d`, client-side wall time from create to started) or
 * stays with it: output follows the container's log (nothing is lost before an attach could
 * connect), `-t` attaches a terminal, and hyperctl exits with the container's exit code.
 *
 * Without `--runtime` the daemon routes the pod: runc when it asks for `--privileged` or
 * `--net host`, else its default handler (hyper).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describeError, isConflict, isNotFound } from '../../lib/index.js';
import type {
  ContainerConfig,
  Mount,
  NodeRuntime,
  PodSandboxConfig,
  RuntimeHandlerName,
} from '../../runtime/index.js';
import { findCredentials, PullRenderer } from '../images/index.js';
import { registryOfReference } from '../images/command-io.js';
import {
  HyperctlUsageError,
  flagBool,
  flagInt,
  flagValue,
  flagValues,
  parseCommandLine,
  type HyperctlIO,
} from './hyperctl-io.js';
import type { PodPlan } from './podfile.js';
import { pumpSession } from './session-pump.js';

export const runUsage = `Usage: hyperctl run [OPTIONS] IMAGE [COMMAND] [ARG...]
       hyperctl run [OPTIONS] -p POD_FILE

Create a pod, start it, and (unless -d) stay attached until its container exits.

Options:
  -d, --detach            Run in the background and print the pod id
  -t, --tty               Allocate a terminal (and attach stdin)
  -i, --interactive       Keep stdin open (with -t)
      --name NAME         Name of the pod and its container
      --cpu N             vCPUs of the pod
      --memory MiB        Memory of the pod in MiB
  -e, --env K=V           Set an environment variable (repeatable)
      --entrypoint CMD    Override the image's ENTRYPOINT
  -w, --workdir DIR       Working directory in the container
  -v, --volume [HOST:]CTR[:ro]  Bind a host directory (or a fresh tmpfs) (repeatable)
  -l, --label K=V         Label the pod (repeatable)
      --read-only         Mount the container's root read-only
      --privileged        Privileged pod (runs on runc)
      --net MODE          "host" shares the host network (runs on runc)
      --runtime NAME      hyper or runc (default: the daemon's choice, hyper)
  -p, --podfile FILE      Run a pod described by a hyperd pod file (JSON or YAML)
  -y, --yaml              The pod file is YAML (detected anyway)
      --rm                Remove the pod when it exits
`;

const spec = {
  detach: { short: 'd' },
  tty: { short: 't' },
  interactive: { short: 'i' },
  name: { value: true },
  cpu: { value: true },
  memory: { value: true },
  env: { short: 'e', value: true, repeat: true },
  entrypoint: { value: true },
  workdir: { short: 'w', value: true },
  volume: { short: 'v', value: true, repeat: true },
  label: { short: 'l', value: true, repeat: true },
  'read-only': {},
  privileged: {},
  net: { value: true },
  runtime: { value: true },
  podfile: { short: 'p', value: true },
  yaml: { short: 'y' },
  rm: {},
} as const;

function keyValue(s: string, flag: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new HyperctlUsageError(`invalid ${flag} "${s}": expected KEY=VALUE`);
  return [s.slice(0, i), s.slice(i + 1)];
}

function parseVolume(v: string): Mount {
  const parts = v.split(':');
  let ro = false;
  if (parts.length > 1 && (parts[parts.length - 1] === 'ro' || parts[parts.length - 1] === 'rw')) {
    ro = parts.pop() === 'ro';
  }
  if (parts.length === 1 && parts[0]?.startsWith('/')) {
    return { containerPath: parts[0], hostPath: '', type: 'tmpfs', readonly: ro };
  }
  if (parts.length !== 2 || !parts[0]?.startsWith('/') || !parts[1]?.startsWith('/')) {
    throw new HyperctlUsageError(`invalid volume "${v}": expected /host/path:/container/path[:ro]`);
  }
  return { containerPath: parts[1], hostPath: parts[0], readonly: ro };
}

/** `127.0.0.1:5000/team/app:v1` → `app`. */
function imageBaseName(ref: string): string {
  const noDigest = ref.split('@')[0] ?? ref;
  const last = noDigest.slice(noDigest.lastIndexOf('/') + 1);
  const base = last.split(':')[0] ?? 'pod';
  return (
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '') || 'pod'
  );
}

function planFromFlags(p: ReturnType<typeof parseCommandLine>): PodPlan {
  const [image, ...cmd] = p.args;
  if (!image) throw new HyperctlUsageError('"hyperctl run" needs an IMAGE or -p POD_FILE');
  const name = flagValue(p, 'name') ?? `${imageBaseName(image)}-${randomInt(1_000_000_000, 9_999_999_999)}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) {
    throw new HyperctlUsageError(`invalid --name "${name}": use letters, digits, "-", "_" and "."`);
  }
  const cpu = flagInt(p, 'cpu', 1);
  const memory = flagInt(p, 'memory', 1);
  const tty = flagBool(p, 'tty');
  const net = flagValue(p, 'net');
  if (net !== undefined && net !== 'host' && net !== 'pod') {
    throw new HyperctlUsageError(`invalid --net "${net}": only "host" is supported`);
  }
  const labels = Object.fromEntries(flagValues(p, 'label').map((l) => keyValue(l, '--label')));
  const sandbox: PodSandboxConfig = {
    metadata: { name, uid: randomBytes(8).toString('hex'), namespace: 'hyperctl', attempt: 0 },
    hostname:
      name
        .slice(0, 63)
        .replace(/[^A-Za-z0-9-]/g, '-')
        .replace(/^-+/, '') || 'pod',
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(cpu !== undefined || memory !== undefined
      ? {
          resources: {
            ...(cpu !== undefined ? { cpuMillis: cpu * 1000 } : {}),
            ...(memory !== undefined ? { memoryBytes: memory * 1024 * 1024 } : {}),
          },
        }
      : {}),
    ...(flagBool(p, 'privileged') || net === 'host'
      ? { security: { privileged: flagBool(p, 'privileged'), hostNetwork: net === 'host' } }
      : {}),
  };
  const entrypoint = flagValue(p, 'entrypoint');
  const envs = flagValues(p, 'env').map((e) => {
    const [key, value] = keyValue(e, '--env');
    return { key, value };
  });
  const mounts = flagValues(p, 'volume').map(parseVolume);
  const interactive = tty || flagBool(p, 'interactive');
  const container: ContainerConfig = {
    metadata: { name, attempt: 0 },
    image,
    ...(entrypoint !== undefined ? { command: [entrypoint] } : {}),
    ...(cmd.length ? { args: cmd } : {}),
    ...(flagValue(p, 'workdir') ? { workingDir: flagValue(p, 'workdir') as string } : {}),
    ...(envs.length ? { envs } : {}),
    ...(mounts.length ? { mounts } : {}),
    ...(tty ? { tty: true } : {}),
    ...(interactive ? { stdin: true, stdinOnce: true } : {}),
    ...(memory !== undefined || cpu !== undefined
      ? {
          resources: {
            ...(memory !== undefined ? { memoryLimitInBytes: memory * 1024 * 1024 } : {}),
            ...(cpu !== undefined ? { cpuPeriod: 100_000, cpuQuota: cpu * 100_000 } : {}),
          },
        }
      : {}),
    ...(flagBool(p, 'read-only') || flagBool(p, 'privileged')
      ? {
          security: {
            ...(flagBool(p, 'read-only') ? { readonlyRootfs: true } : {}),
            ...(flagBool(p, 'privileged') ? { privileged: true } : {}),
          },
        }
      : {}),
  };
  return { sandbox, containers: [container] };
}

/** Pulls the images of the plan that are not on the node yet (progress on stderr). */
async function pullMissing(rt: NodeRuntime, images: readonly string[], io: HyperctlIO): Promise<void> {
  for (const image of [...new Set(images)]) {
    if (await rt.images.findImage(image)) continue;
    io.stderr.write(`Unable to find image '${image}' locally; pulling it\n`);
    const auth = await findCredentials(io.authConfigPath, registryOfReference(image)).catch(
      (err: unknown) => {
        // an unreadable credentials file is the user's to fix, but an anonymous pull may still work
        io.stderr.write(`Warning: ignoring the credentials in ${io.authConfigPath}: ${describeError(err)}\n`);
        return undefined;
      },
    );
    const renderer = new PullRenderer({ ...io, stdout: { write: (c) => io.stderr.write(String(c)) } });
    await rt.images.pullImage(image, {
      ...(auth ? { auth } : {}),
      onProgress: (pr) => renderer.onProgress(pr),
      ...(io.signal ? { signal: io.signal } : {}),
    });
  }
}

/** Runs `hyperctl run`; returns the exit code (the container's, when attached). */
export async function runRun(rt: NodeRuntime, argv: readonly string[], io: HyperctlIO): Promise<number> {
  const p = parseCommandLine(argv, spec);
  const runtime = flagValue(p, 'runtime');
  if (runtime !== undefined && runtime !== 'hyper' && runtime !== 'runc') {
    throw new HyperctlUsageError(`invalid --runtime "${runtime}": expected hyper or runc`);
  }
  let plan: PodPlan;
  const podfile = flagValue(p, 'podfile');
  if (podfile !== undefined) {
    if (p.args.length) throw new HyperctlUsageError('give either -p POD_FILE or IMAGE [COMMAND], not both');
    const text = await readFile(podfile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new HyperctlUsageError(
        `cannot read pod file "${podfile}": ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
      );
    });
    // Loaded here: the pod file parser brings YAML and the schema compiler, which every other
    // hyperctl command would otherwise pay for at start (docs/benchmarks.md, CLI start).
    const { parsePodfile, planFromPodfile } = await import('./podfile.js');
    plan = planFromPodfile(parsePodfile(text, podfile), {
      name: flagValue(p, 'name') ?? `pod-${randomInt(1_000_000_000, 9_999_999_999)}`,
      uid: randomBytes(8).toString('hex'),
      namespace: 'hyperctl',
    });
  } else {
    plan = planFromFlags(p);
  }
  const detach = flagBool(p, 'detach');
  const remove = flagBool(p, 'rm');
  await pullMissing(
    rt,
    plan.containers.map((c) => c.image),
    io,
  );

  const now = io.monotonicMs ?? (() => performance.now());
  const t0 = now();
  const podId = await rt.runPodSandbox(plan.sandbox, (runtime ?? '') as RuntimeHandlerName | '');
  const ids: string[] = [];
  try {
    for (const c of plan.containers) ids.push(await rt.createContainer(podId, c));
    for (const id of ids) await rt.startContainer(id);
  } catch (err) {
    await rt.removePodSandbox(podId).catch((cleanup: unknown) => {
      io.stderr.write(`Warning: the failed pod ${podId} was not removed: ${describeError(cleanup)}\n`);
    });
    throw err;
  }
  const elapsedMs = Math.round(now() - t0);

  if (detach) {
    io.stdout.write(`POD id is ${podId}\n`);
    io.stdout.write(`Time to run a POD is ${elapsedMs} ms\n`);
    return 0;
  }

  let code = 0;
  try {
    const first = plan.containers[0] as ContainerConfig;
    const firstId = ids[0] as string;
    if (first.tty) {
      // the runtime keeps what a terminal container printed before this first attach; one that
      // is already gone is shown from its log instead
      const session = await rt
        .attach(firstId, { stdin: first.stdin ?? false, stdout: true, stderr: true, tty: true })
        .catch((err: unknown) => {
          if (isConflict(err)) return undefined;
          throw err;
        });
      if (session) await pumpSession(session, io, { tty: true, stdin: first.stdin ?? false });
      else {
        for await (const line of rt.containerLogs(firstId)) {
          io.stdout.write(
            Buffer.concat([Buffer.from(line.content), line.full ? Buffer.from('\n') : Buffer.alloc(0)]),
          );
        }
      }
    } else {
      await Promise.all(
        ids.map(async (id) => {
          for await (const line of rt.containerLogs(id, {
            follow: true,
            ...(io.signal ? { signal: io.signal } : {}),
          })) {
            const text = Buffer.concat([
              Buffer.from(line.content),
              line.full ? Buffer.from('\n') : Buffer.alloc(0),
            ]);
            if (line.stream === 'stderr') io.stderr.write(text.toString());
            else io.stdout.write(text);
          }
        }),
      );
    }
    for (const id of ids) {
      const st = await waitExited(rt, id, io.signal);
      if (st.reason === 'ContainerCannotRun' && st.message) io.stderr.write(`hyperctl run: ${st.message}\n`);
      if (st.reason === 'OOMKilled') io.stderr.write('hyperctl run: the container ran out of memory\n');
      if (code === 0) code = st.exitCode;
    }
  } finally {
    if (remove) {
      await rt.removePodSandbox(podId).catch((err: unknown) => {
        if (!isNotFound(err)) io.stderr.write(`hyperctl run: cannot remove pod ${podId}: ${String(err)}\n`);
      });
    }
  }
  return code;
}

async function waitExited(
  rt: NodeRuntime,
  id: string,
  signal?: AbortSignal,
): Promise<{ exitCode: number; reason: string; message: string }> {
  for (let delay = 20; ; delay = Math.min(500, delay * 2)) {
    const st = await rt.containerStatus(id);
    if (st.state === 'CONTAINER_EXITED') return st;
    if (signal?.aborted) return { exitCode: 130, reason: 'Interrupted', message: '' };
    await new Promise((r) => setTimeout(r, delay));
  }
}
