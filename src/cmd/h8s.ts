/**
 * The multicall `h8s` binary (DESIGN.md section 5): one entry point, one subcommand per
 * component. Each subcommand lives in its own file under src/cmd and is loaded only when
 * used, so `hyperctl list` does not pay for the API server's imports.
 */
import { packageVersion } from './daemon.js';

/** A subcommand: gets its own argv (without the command name), returns the exit code. */
export type CommandMain = (argv: readonly string[]) => Promise<number>;

interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandMain>;
}

// Add new subcommands here (keep alphabetical order).
const commands: Readonly<Record<string, CommandEntry>> = {
  agent: {
    summary: 'Run the node agent (registers the node, runs its pods)',
    load: async () => (await import('./agent.js')).agentMain,
  },
  hyperctl: {
    summary: 'The runtime CLI (pods, containers, images) over the runtime socket',
    load: async () => (await import('./hyperctl.js')).hyperctlCommandMain,
  },
  kubeconfig: {
    summary: 'Print the admin kubeconfig of a server',
    load: async () => (await import('./kubeconfig.js')).kubeconfigMain,
  },
  runtime: {
    summary: 'Run the node runtime daemon (pods as VMs or containers)',
    load: async () => (await import('./runtime.js')).runtimeMain,
  },
  server: {
    summary: 'Run the control plane (API server)',
    load: async () => (await import('./server.js')).serverMain,
  },
  token: {
    summary: 'Create, list and delete node join tokens',
    load: async () => (await import('./token.js')).tokenMain,
  },
  version: { summary: 'Print the h8s version', load: async () => versionMain },
};

async function versionMain(): Promise<number> {
  console.log(`h8s version v${packageVersion()}`);
  return 0;
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'h8s: Hypernetes, a multi-tenant container platform with VM-isolated pods',
    '',
    'Usage: h8s <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    'Flags:',
    '  -h, --help     Show help (also `h8s <command> --help`)',
    '  -v, --version  Print the version',
  ].join('\n');
}

/** Runs the h8s CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '-v' || name === '--version') return versionMain();
  const entry = commands[name];
  if (!entry) {
    console.error(`h8s: unknown command "${name}"; run "h8s --help" for the list of commands`);
    return 2;
  }
  const run = await entry.load();
  return run(rest);
}
