/**
 * `h8s server`: the control-plane process (DESIGN.md sections 1 and 5). It opens the store,
 * creates the PKI and the admin credential on first start, and serves the Kubernetes API over
 * HTTPS, runs the controllers, and starts the node's runtime daemon (`h8s runtime`) as a
 * supervised child process. The node agent is reported as not built yet. `--disable
 * agent,runtime,controllers` leaves components out.
 *
 * Configuration: defaults < config file (`--config`, YAML or JSON, keys = flag names) <
 * environment (`H8S_<FLAG>`) < flags. Unknown keys and bad values are errors that name the
 * source. `--print-config` prints the result and exits.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
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
import { systemClock, type Logger, type LogLevel } from '../lib/index.js';
import { openKeyValueStore } from '../storage/index.js';
import { createApiClient, loadKubeconfig } from '../client/index.js';
import { startControllers, type RunningControllers } from '../controllers/index.js';
import { superviseRuntime, type RuntimeChild } from './runtime-child.js';
import { createDaemonLogger, packageVersion, runUntilSignalled } from './daemon.js';
import {
  ConfigError,
  flagUsage,
  layerFlags,
  type FlagSource,
  type FlagSpecs,
  type FlagValues,
  type ParsedArgs,
} from './flags.js';

/** The Kubernetes version we serve (kubectl's dispatcher picks its binary by `minor`). */
const kubernetesMinor = 32;

const flagSpecs = {
  'data-dir': { type: 'required-string', help: 'State directory (store, PKI, kubeconfig, runtime)' },
  datastore: {
    type: 'required-string',
    help: 'Store URL: sqlite:///path/state.db, etcd://host:2379[,host:2379], memory://',
  },
  'bind-address': { type: 'required-string', help: 'Address the API server listens on' },
  port: { type: 'port', help: 'HTTPS port of the API server' },
  disable: {
    type: 'list',
    help: 'Components not to start: agent, runtime, controllers',
    choices: ['agent', 'runtime', 'controllers'],
  },
  'node-name': { type: 'required-string', help: 'Name of this node' },
  'tls-san': { type: 'list', help: 'Extra names (IPs or DNS names) for the serving certificate' },
  'runtime-endpoint': {
    type: 'required-string',
    help: 'Socket of the runtime daemon this server starts (unix:///path)',
  },
  'log-level': { type: 'choice', help: 'Log level', choices: ['debug', 'info', 'warn', 'error'] },
  'log-format': { type: 'choice', help: 'Log line format', choices: ['json', 'text'] },
} as const satisfies FlagSpecs;

const flagSource: FlagSource<typeof flagSpecs> = {
  command: 'h8s server',
  specs: flagSpecs,
  envPrefix: 'H8S_',
};

export interface ServerConfig {
  readonly 'data-dir': string;
  readonly datastore: string;
  readonly 'bind-address': string;
  readonly port: number;
  readonly disable: readonly string[];
  readonly 'node-name': string;
  readonly 'tls-san': readonly string[];
  readonly 'runtime-endpoint': string;
  readonly 'log-level': LogLevel;
  readonly 'log-format': 'json' | 'text';
}

function defaults(): FlagValues<typeof flagSpecs> {
  return {
    'data-dir': '/var/lib/h8s',
    'bind-address': '0.0.0.0',
    port: 6443,
    disable: [],
    'node-name': hostname(),
    'tls-san': [],
    'runtime-endpoint': 'unix:///run/h8s/runtime.sock',
    'log-level': 'info',
    'log-format': 'json',
  };
}

/** Resolves the configuration (exported for tests). @throws ConfigError */
export function resolveServerConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { config: ServerConfig; args: ParsedArgs<typeof flagSpecs> } {
  const { merged, args } = layerFlags(flagSource, defaults(), argv, env);
  const dataDir = resolve(merged['data-dir'] as string);
  const config: ServerConfig = Object.freeze({
    'data-dir': dataDir,
    datastore:
      (merged.datastore as string | undefined) ?? `sqlite://${join(dataDir, 'server', 'db', 'state.db')}`,
    'bind-address': merged['bind-address'] as string,
    port: merged.port as number,
    disable: Object.freeze([...new Set(merged.disable as string[])]),
    'node-name': merged['node-name'] as string,
    'tls-san': Object.freeze([...(merged['tls-san'] as string[])]),
    'runtime-endpoint': merged['runtime-endpoint'] as string,
    'log-level': merged['log-level'] as LogLevel,
    'log-format': merged['log-format'] as 'json' | 'text',
  });
  if (!config['runtime-endpoint'].startsWith('unix:///')) {
    throw new ConfigError(
      `Invalid runtime-endpoint "${config['runtime-endpoint']}": expected unix:///absolute/path.sock`,
    );
  }
  return { config, args };
}

function usage(): string {
  return [
    'Usage: h8s server [flags]',
    '',
    'Runs the h8s control plane (the Kubernetes-compatible API server over HTTPS and the',
    'controllers) and, unless disabled, the node runtime daemon (`h8s runtime`) beside it.',
    '',
    'Flags:',
    ...flagUsage(flagSource, 16),
  ].join('\n');
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

/** Runs the server until SIGINT/SIGTERM (or `signal`). */
export async function runServer(config: ServerConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const dataDir = config['data-dir'];
  await mkdir(join(dataDir, 'server'), { recursive: true, mode: 0o700 });
  const clock = systemClock;
  if (!config.disable.includes('agent')) {
    log.warn('The node agent is not built yet; pods created through the API are not run', {
      component: 'agent',
      hint: '--disable agent',
    });
  }
  // Stops the runtime child when the server stops or fails.
  const stopRuntime = new AbortController();
  const onAbort = (): void => stopRuntime.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let runtime: RuntimeChild | undefined;
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
    if (!config.disable.includes('runtime')) {
      runtime = superviseRuntime({
        dataDir,
        endpoint: config['runtime-endpoint'],
        extraEnv: runtimeChildEnv(config),
        log: log.child({ component: 'runtime-supervisor' }),
        signal: stopRuntime.signal,
      });
    }
    const controllers = config.disable.includes('controllers')
      ? undefined
      : await startServerControllers(creds.kubeconfigPath, config, log, signal);
    await server.run(signal);
    await controllers?.done;
    log.info('h8s server stopped');
  } finally {
    signal.removeEventListener('abort', onAbort);
    stopRuntime.abort();
    await runtime?.done;
    await store.close();
  }
}

/**
 * The runtime daemon logs like the server unless `H8S_RUNTIME_LOG_*` says otherwise (those
 * variables, like every `H8S_RUNTIME_*`, reach the child unchanged).
 */
function runtimeChildEnv(config: ServerConfig): Record<string, string> {
  const env: Record<string, string> = {};
  if (!process.env['H8S_RUNTIME_LOG_LEVEL']) env['H8S_RUNTIME_LOG_LEVEL'] = config['log-level'];
  if (!process.env['H8S_RUNTIME_LOG_FORMAT']) env['H8S_RUNTIME_LOG_FORMAT'] = config['log-format'];
  return env;
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
  const log = createDaemonLogger({
    level: config['log-level'],
    format: config['log-format'],
    component: 'server',
  });
  return runUntilSignalled('h8s server', log, (signal) => runServer(config, log, signal));
}
