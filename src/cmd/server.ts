/**
 * `h8s server`: the control-plane process (DESIGN.md sections 1 and 5). It opens the store,
 * creates the PKI and the admin credential on first start, and serves the Kubernetes API over
 * HTTPS. The node agent and runtime daemon are started here too once they exist; until then
 * they are reported as not built (or skipped with `--disable agent,runtime`).
 *
 * Configuration: defaults < config file (`--config`, YAML or JSON, keys = flag names) <
 * environment (`H8S_<FLAG>`) < flags. Unknown keys and bad values are errors that name the
 * source. `--print-config` prints the result and exits.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { allKinds } from '../api/index.js';
import {
  ApiServer,
  createTokenAuthenticator,
  ensureAdminCredentials,
  ensureServingCertificates,
  serverUrl,
  servingNames,
  type VersionInfo,
} from '../apiserver/index.js';
import {
  createLogger,
  describeError,
  jsonLineSink,
  systemClock,
  textLineSink,
  type Logger,
  type LogLevel,
} from '../lib/index.js';
import { openKeyValueStore } from '../storage/index.js';
import { createApiClient, loadKubeconfig } from '../client/index.js';
import { startControllers, type RunningControllers } from '../controllers/index.js';

/** The Kubernetes version we serve (kubectl's dispatcher picks its binary by `minor`). */
const kubernetesMinor = 32;

type FlagType = 'string' | 'port' | 'list' | 'choice';

interface FlagSpec {
  readonly type: FlagType;
  readonly help: string;
  readonly choices?: readonly string[];
}

const flagSpecs = {
  'data-dir': { type: 'string', help: 'State directory (store, PKI, kubeconfig)' },
  datastore: {
    type: 'string',
    help: 'Store URL: sqlite:///path/state.db, etcd://host:2379[,host:2379], memory://',
  },
  'bind-address': { type: 'string', help: 'Address the API server listens on' },
  port: { type: 'port', help: 'HTTPS port of the API server' },
  disable: {
    type: 'list',
    help: 'Components not to start: agent, runtime, controllers',
    choices: ['agent', 'runtime', 'controllers'],
  },
  'node-name': { type: 'string', help: 'Name of this node' },
  'tls-san': { type: 'list', help: 'Extra names (IPs or DNS names) for the serving certificate' },
  'log-level': { type: 'choice', help: 'Log level', choices: ['debug', 'info', 'warn', 'error'] },
  'log-format': { type: 'choice', help: 'Log line format', choices: ['json', 'text'] },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof flagSpecs;

export interface ServerConfig {
  readonly 'data-dir': string;
  readonly datastore: string;
  readonly 'bind-address': string;
  readonly port: number;
  readonly disable: readonly string[];
  readonly 'node-name': string;
  readonly 'tls-san': readonly string[];
  readonly 'log-level': LogLevel;
  readonly 'log-format': 'json' | 'text';
}

type PartialConfig = { -readonly [K in FlagName]?: ServerConfig[K] };

class ConfigError extends Error {}

function defaults(): PartialConfig {
  return {
    'data-dir': '/var/lib/h8s',
    'bind-address': '0.0.0.0',
    port: 6443,
    disable: [],
    'node-name': hostname(),
    'tls-san': [],
    'log-level': 'info',
    'log-format': 'json',
  };
}

function isFlagName(name: string): name is FlagName {
  return Object.prototype.hasOwnProperty.call(flagSpecs, name);
}

function parseValue(name: FlagName, raw: unknown, source: string): unknown {
  const spec: FlagSpec = flagSpecs[name];
  const fail = (why: string): never => {
    throw new ConfigError(`Invalid ${name} ${JSON.stringify(raw)} from ${source}: ${why}`);
  };
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') fail('it must be a non-empty string');
      return raw;
    case 'port': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < 0 || n > 65535) fail('it must be a port number from 0 to 65535');
      return n;
    }
    case 'list': {
      const items = Array.isArray(raw)
        ? raw.map(String)
        : typeof raw === 'string'
          ? raw.split(',')
          : fail('it must be a comma-separated list');
      const list = (items as string[]).map((s) => s.trim()).filter((s) => s !== '');
      if (spec.choices) {
        for (const item of list)
          if (!spec.choices.includes(item)) fail(`"${item}" is not one of ${spec.choices.join(', ')}`);
      }
      return list;
    }
    case 'choice':
      if (typeof raw !== 'string' || !spec.choices?.includes(raw))
        fail(`it must be one of ${spec.choices?.join(', ')}`);
      return raw;
  }
}

function fromFile(path: string): PartialConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`Cannot read config file "${path}": ${describeError(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`Config file "${path}" must be a mapping of flag names to values`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!isFlagName(k)) {
      throw new ConfigError(
        `Unknown key "${k}" in config file "${path}"; known keys: ${Object.keys(flagSpecs).join(', ')}`,
      );
    }
    out[k] = parseValue(k, v, `config file "${path}"`);
  }
  return out as PartialConfig;
}

function envName(flag: string): string {
  return `H8S_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function fromEnv(env: NodeJS.ProcessEnv): PartialConfig {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(flagSpecs) as FlagName[]) {
    const v = env[envName(name)];
    if (v !== undefined && v !== '') out[name] = parseValue(name, v, `environment variable ${envName(name)}`);
  }
  return out as PartialConfig;
}

interface ParsedArgs {
  readonly flags: PartialConfig;
  readonly configFile?: string;
  readonly printConfig: boolean;
  readonly help: boolean;
}

function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags: Record<string, unknown> = {};
  let configFile: string | undefined;
  let printConfig = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--print-config') {
      printConfig = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`Unexpected argument "${arg}"; flags start with --`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new ConfigError(`Flag --${name} needs a value`);
      i++;
    }
    if (name === 'config') {
      configFile = value;
      continue;
    }
    if (!isFlagName(name))
      throw new ConfigError(`Unknown flag --${name}; run "h8s server --help" for the flags`);
    const parsed = parseValue(name, value, `flag --${name}`);
    const spec: FlagSpec = flagSpecs[name];
    flags[name] =
      spec.type === 'list' && Array.isArray(flags[name])
        ? [...(flags[name] as string[]), ...(parsed as string[])]
        : parsed;
  }
  return {
    flags: flags as PartialConfig,
    ...(configFile !== undefined ? { configFile } : {}),
    printConfig,
    help,
  };
}

/** Resolves the configuration (exported for tests). @throws ConfigError */
export function resolveServerConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { config: ServerConfig; args: ParsedArgs } {
  const args = parseArgs(argv);
  const configFile = args.configFile ?? env['H8S_CONFIG'];
  const merged: PartialConfig = {
    ...defaults(),
    ...(configFile ? fromFile(configFile) : {}),
    ...fromEnv(env),
    ...args.flags,
  };
  const dataDir = resolve(merged['data-dir'] as string);
  const config: ServerConfig = Object.freeze({
    'data-dir': dataDir,
    datastore: merged.datastore ?? `sqlite://${join(dataDir, 'server', 'db', 'state.db')}`,
    'bind-address': merged['bind-address'] as string,
    port: merged.port as number,
    disable: Object.freeze([...new Set(merged.disable ?? [])]),
    'node-name': merged['node-name'] as string,
    'tls-san': Object.freeze([...(merged['tls-san'] ?? [])]),
    'log-level': merged['log-level'] as LogLevel,
    'log-format': merged['log-format'] as 'json' | 'text',
  });
  return { config, args };
}

function usage(): string {
  const lines = Object.entries(flagSpecs).map(
    ([name, spec]) => `  --${name.padEnd(14)} ${spec.help} (env ${envName(name)})`,
  );
  return [
    'Usage: h8s server [flags]',
    '',
    'Runs the h8s control plane: the Kubernetes-compatible API server over HTTPS.',
    '',
    'Flags:',
    ...lines,
    `  --${'config'.padEnd(14)} Config file (YAML or JSON; keys are flag names) (env H8S_CONFIG)`,
    `  --${'print-config'.padEnd(14)} Print the resolved configuration and exit`,
  ].join('\n');
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function versionInfo(): VersionInfo {
  return {
    major: '1',
    minor: String(kubernetesMinor),
    gitVersion: `v1.${kubernetesMinor}.0+h8s.${packageVersion()}`,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsx',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

function createProcessLogger(config: ServerConfig): Logger {
  const write = (line: string): void => {
    process.stderr.write(line);
  };
  return createLogger({
    level: config['log-level'],
    sink: config['log-format'] === 'json' ? jsonLineSink(write) : textLineSink(write),
    fields: { component: 'server' },
  });
}

/** Runs the server until SIGINT/SIGTERM (or `signal`). */
export async function runServer(config: ServerConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const dataDir = config['data-dir'];
  await mkdir(join(dataDir, 'server'), { recursive: true, mode: 0o700 });
  const clock = systemClock;
  for (const component of ['runtime', 'agent'] as const) {
    if (!config.disable.includes(component)) {
      log.warn('Component is not built yet; running without it', {
        component,
        hint: `--disable ${component}`,
      });
    }
  }
  const store = await openKeyValueStore(config.datastore, { log, clock });
  try {
    const certs = await ensureServingCertificates(
      join(dataDir, 'server', 'tls'),
      servingNames(config['bind-address'], hostname(), config['tls-san']),
      { clock, log },
    );
    const creds = await ensureAdminCredentials(
      dataDir,
      { server: serverUrl(config['bind-address'], config.port), caCertPem: certs.caCert },
      { log },
    );
    const server = new ApiServer(
      {
        store,
        clock,
        log: log.child({ component: 'apiserver' }),
        kinds: allKinds(),
        authenticator: createTokenAuthenticator([
          {
            tokenSha256: creds.tokenSha256,
            user: { name: 'admin', groups: ['system:masters', 'system:authenticated'] },
          },
        ]),
      },
      {
        bindAddress: config['bind-address'],
        port: config.port,
        tls: { key: certs.key, cert: certs.cert },
        version: versionInfo(),
      },
    );
    const port = await server.start();
    if (port !== config.port) {
      await ensureAdminCredentials(
        dataDir,
        { server: serverUrl(config['bind-address'], port), caCertPem: certs.caCert },
        { log },
      );
    }
    log.info('h8s server is ready', {
      url: serverUrl(config['bind-address'], port),
      kubeconfig: creds.kubeconfigPath,
    });
    const controllers = config.disable.includes('controllers')
      ? undefined
      : await startServerControllers(creds.kubeconfigPath, config, log, signal);
    await server.run(signal);
    await controllers?.done;
    log.info('h8s server stopped');
  } finally {
    await store.close();
  }
}

/**
 * The controllers (namespace deletion, garbage collection, ...) talk to this server like any
 * other client, with the admin kubeconfig. Servers sharing an etcd store elect one leader
 * through a Lease; a server on its own sqlite file needs no election.
 */
async function startServerControllers(
  kubeconfigPath: string,
  config: ServerConfig,
  log: Logger,
  signal: AbortSignal,
): Promise<RunningControllers> {
  const client = createApiClient({
    ...(await loadKubeconfig(kubeconfigPath)),
    log,
    userAgent: 'h8s-controllers',
  });
  const running = startControllers({
    client,
    log: log.child({ component: 'controllers' }),
    signal,
    leaderElection: config.datastore.startsWith('etcd://')
      ? { identity: `${config['node-name']}_${randomUUID()}` }
      : undefined,
  });
  return { ...running, done: running.done.finally(() => client.close()) };
}

export async function serverMain(argv: readonly string[]): Promise<number> {
  let resolved: ReturnType<typeof resolveServerConfig>;
  try {
    resolved = resolveServerConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`h8s server: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const { config, args } = resolved;
  if (args.help) {
    console.log(usage());
    return 0;
  }
  if (args.printConfig) {
    process.stdout.write(
      stringifyYaml({ ...config, datastore: config.datastore.replace(/\/\/[^/@]*@/, '//***@') }),
    );
    return 0;
  }
  const log = createProcessLogger(config);
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    log.info('Stopping', { signal: sig });
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await runServer(config, log, stop.signal);
    return 0;
  } catch (err) {
    log.error('h8s server failed', { error: describeError(err) });
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
