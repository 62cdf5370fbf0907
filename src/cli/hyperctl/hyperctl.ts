/**
 * hyperctl's entry point: global flags (`--host`), the command table and error reporting.
 * Every failure prints one line naming what is wrong: `hyperctl <command>: <message>`.
 */
import { describeError, findH8sError } from '../../lib/index.js';
import { RuntimeClient, defaultRuntimeEndpoint, type NodeRuntime } from '../../runtime/index.js';
import { imageCommands } from '../images/index.js';
import { HyperctlUsageError, type HyperctlIO } from './hyperctl-io.js';
import {
  attachUsage,
  execUsage,
  listUsage,
  logsUsage,
  rmUsage,
  runAttach,
  runExec,
  runInfo,
  runList,
  runLogs,
  runRm,
  runStart,
  runStop,
  startUsage,
  stopUsage,
} from './pod-commands.js';
import { runRun, runUsage } from './run.js';

type PodCommand = (rt: NodeRuntime, argv: readonly string[], io: HyperctlIO) => Promise<number>;

const podCommands: Readonly<Record<string, { summary: string; usage: string; run: PodCommand }>> = {
  attach: { summary: 'Attach to a running container', usage: attachUsage, run: runAttach },
  exec: { summary: 'Run a command in a running container', usage: execUsage, run: runExec },
  info: {
    summary: 'Show the runtime: handlers, acceleration, pool, root',
    usage: 'Usage: hyperctl info\n',
    run: runInfo,
  },
  list: { summary: 'List pods, containers or VMs', usage: listUsage, run: runList },
  logs: { summary: "Print a container's log", usage: logsUsage, run: runLogs },
  rm: { summary: 'Remove pods or containers', usage: rmUsage, run: runRm },
  run: { summary: 'Create and start a pod', usage: runUsage, run: runRun },
  start: { summary: 'Start a pod again', usage: startUsage, run: runStart },
  stop: { summary: 'Stop pods or containers', usage: stopUsage, run: runStop },
};

export function hyperctlUsage(): string {
  const all: [string, string][] = [
    ...Object.entries(podCommands).map(([n, c]): [string, string] => [n, c.summary]),
    ...Object.entries(imageCommands).map(([n, c]): [string, string] => [n, c.summary]),
  ].sort((a, b) => (a[0] < b[0] ? -1 : 1)); // not localeCompare: loading ICU's collator costs ~7 ms
  return [
    'Usage: hyperctl [--host unix:///run/h8s/runtime.sock] COMMAND [ARGS...]',
    '',
    'The h8s runtime CLI: pods as VMs (hyper) or Linux containers (runc), and images.',
    '',
    'Commands:',
    ...all.map(([n, s]) => `  ${n.padEnd(8)} ${s}`),
    '',
    'Global flags:',
    `  -H, --host ENDPOINT   Runtime socket (default ${defaultRuntimeEndpoint}, env HYPERCTL_HOST)`,
    '  -h, --help            Show help (also "hyperctl COMMAND --help")',
  ].join('\n');
}

export interface HyperctlDeps {
  /** Default endpoint when --host is not given (cmd/ passes HYPERCTL_HOST here). */
  readonly defaultHost?: string;
  /** For tests: a runtime to use instead of connecting to `--host`. */
  readonly runtime?: NodeRuntime;
}

/** Runs hyperctl; returns the process exit code. */
export async function hyperctlMain(
  argv: readonly string[],
  io: HyperctlIO,
  deps: HyperctlDeps = {},
): Promise<number> {
  let host = deps.defaultHost ?? defaultRuntimeEndpoint;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--host' || a === '-H') {
      const v = argv[++i];
      if (!v) {
        io.stderr.write('hyperctl: flag --host needs an argument\n');
        return 2;
      }
      host = v;
    } else if (a.startsWith('--host=')) host = a.slice('--host='.length);
    else if (a === '-h' || a === '--help') {
      io.stdout.write(hyperctlUsage() + '\n');
      return 0;
    } else break;
  }
  const [name, ...rest] = argv.slice(i);
  if (!name || name === 'help') {
    io.stdout.write(hyperctlUsage() + '\n');
    return name ? 0 : 2;
  }
  const pod = podCommands[name];
  const image = imageCommands[name];
  if (!pod && !image) {
    io.stderr.write(`hyperctl: unknown command "${name}"; run "hyperctl --help" for the list of commands\n`);
    return 2;
  }
  if (pod && (rest.includes('--help') || rest.includes('-h')) && !(name === 'run' || name === 'exec')) {
    io.stdout.write(pod.usage);
    return 0;
  }
  if (pod && (name === 'run' || name === 'exec') && (rest[0] === '--help' || rest[0] === '-h')) {
    io.stdout.write(pod.usage);
    return 0;
  }
  let client: RuntimeClient | undefined;
  let rt: NodeRuntime;
  try {
    rt = deps.runtime ?? (client = new RuntimeClient({ endpoint: host }));
  } catch (err) {
    io.stderr.write(`hyperctl: ${describeError(err)}\n`);
    return 2;
  }
  try {
    if (image) return await image.run(rt.images, rest, io);
    return await (pod as { run: PodCommand }).run(rt, rest, io);
  } catch (err) {
    if (err instanceof HyperctlUsageError) {
      io.stderr.write(`hyperctl ${name}: ${err.message}\n${pod?.usage ?? ''}`);
      return 2;
    }
    const e = findH8sError(err);
    const causes = e?.details.causes?.length
      ? '\n' + e.details.causes.map((c) => `  ${c.field ? c.field + ': ' : ''}${c.message}`).join('\n')
      : '';
    io.stderr.write(`hyperctl ${name}: ${e ? e.message : describeError(err)}${causes}\n`);
    return 1;
  } finally {
    client?.close();
  }
}
