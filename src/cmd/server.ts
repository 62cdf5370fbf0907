/**
 * `h8s server`: the control-plane process (DESIGN.md sections 1 and 5). It opens the store,
 * creates the PKI and the admin credential on first start, and serves the Kubernetes API over
 * HTTPS, runs the controllers and the scheduler, and starts the node's runtime daemon
 * (`h8s runtime`) and node agent (`h8s agent`) as supervised child processes, so one command
 * gives a one-node cluster. `--disable agent,runtime,controllers,scheduler` leaves components
 * out. The node's runtime socket is `<data-dir>/runtime.sock` (`/run/h8s/runtime.sock` for the
 * default data dir), so servers on different data dirs never share a runtime.
 *
 * Configuration: defaults < config file (`--config`, YAML or JSON, keys = flag names) <
 * environment (`H8S_<FLAG>`) < flags. Unknown keys and bad values are errors that name the
 * source. `--print-config` prints the result and exits.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { allKinds } from '../api/index.js';
import {
  ApiServer,
  createTokenAuthenticator,
  ensureAdminCredentials,
  ensureKubeletClientCredentials,
  ensureNodeCredentials,
  ensureNodeStreamingCredentials,
  ensureServingCertificates,
  serverUrl,
  servingNames,
} from '../apiserver/index.js';
import { systemClock, type Logger, type LogLevel } from '../lib/index.js';
import { openKeyValueStore } from '../storage/index.js';
import { createApiClient, loadKubeconfig, type ApiClient } from '../client/index.js';
import { startControllers, type RunningControllers } from '../controllers/index.js';
import { createLeaderElector, createLeaseLock } from '../reconcile/index.js';
import { createScheduler } from '../scheduler/index.js';
import { ensureBootstrapObjects } from './bootstrap-objects.js';
import { superviseAgent, superviseRuntime, type SupervisedChild } from './supervised-child.js';
import { daemonMain } from './daemon.js';
import { versionInfo } from './version-info.js';
import {
  ConfigError,
  flagUsage,
  layerFlags,
  type FlagSource,
  type FlagSpecs,
  type FlagValues,
  type ParsedArgs,
} from './flags.js';

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
    help: 'Components not to start: agent, runtime, controllers, scheduler',
    choices: ['agent', 'runtime', 'controllers', 'scheduler'],
  },
  'node-name': { type: 'required-string', help: 'Name of this node' },
  'tls-san': { type: 'list', help: 'Extra names (IPs or DNS names) for the serving certificate' },
  'runtime-endpoint': {
    type: 'string',
    help: "Socket of this node's runtime daemon (unix:///path; default <data-dir>/runtime.sock)",
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
    'node-name': hostname().toLowerCase(),
    'tls-san': [],
    'runtime-endpoint': '',
    'log-level': 'info',
    'log-format': 'json',
  };
}

/** The node's runtime socket: per data dir, so two servers on one host never share one. */
function defaultRuntimeEndpointOf(dataDir: string): string {
  return dataDir === '/var/lib/h8s'
    ? 'unix:///run/h8s/runtime.sock'
    : `unix://${join(dataDir, 'runtime.sock')}`;
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
    'runtime-endpoint': (merged['runtime-endpoint'] as string) || defaultRuntimeEndpointOf(dataDir),
    'log-level': merged['log-level'] as LogLevel,
    'log-format': merged['log-format'] as 'json' | 'text',
  });
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(config['node-name'])) {
    throw new ConfigError(
      `Invalid node-name "${config['node-name']}": it must be a lowercase DNS subdomain (a-z, 0-9, "-", ".")`,
    );
  }
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
    'Runs the h8s control plane (the Kubernetes-compatible API server over HTTPS, the',
    'controllers and the scheduler) and, unless disabled, this node: the runtime daemon',
    '(`h8s runtime`) and the node agent (`h8s agent`) beside it.',
    '',
    'Flags:',
    ...flagUsage(flagSource, 16),
  ].join('\n');
}

/** Runs the server until SIGINT/SIGTERM (or `signal`). */
export async function runServer(config: ServerConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const dataDir = config['data-dir'];
  await mkdir(join(dataDir, 'server'), { recursive: true, mode: 0o700 });
  const clock = systemClock;
  const isEnabled = (component: string): boolean => !config.disable.includes(component);
  // Stops the node's children when the server stops or fails.
  const stopChildren = new AbortController();
  const onAbort = (): void => stopChildren.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const children: SupervisedChild[] = [];
  const store = await openKeyValueStore(config.datastore, { log, clock });
  let admin: ApiClient | undefined;
  try {
    const certs = await ensureServingCertificates(
      join(dataDir, 'server', 'tls'),
      servingNames(config['bind-address'], hostname(), config['tls-san']),
      { clock, log },
    );
    const writeCredentials = async (port: number) => {
      const urls = { server: serverUrl(config['bind-address'], port), caCertPem: certs.caCert };
      return {
        admin: await ensureAdminCredentials(dataDir, urls, { log }),
        node: isEnabled('agent')
          ? await ensureNodeCredentials(dataDir, config['node-name'], urls, { log })
          : undefined,
      };
    };
    let creds = await writeCredentials(config.port);
    const nodeName = config['node-name'];
    // Streaming (logs, exec, port-forward): the server's client certificate for agents, and
    // the serving certificate of its own node's agent.
    const tlsDir = join(dataDir, 'server', 'tls');
    const kubeletClient = await ensureKubeletClientCredentials(tlsDir, { clock, log });
    if (isEnabled('agent')) {
      const hostAddresses = Object.values(networkInterfaces()).flatMap((a) =>
        (a ?? []).map((i) => i.address),
      );
      await ensureNodeStreamingCredentials(
        tlsDir,
        join(dataDir, 'agent'),
        nodeName,
        [hostname(), ...hostAddresses],
        {
          clock,
          log,
        },
      );
    }
    const server = new ApiServer(
      {
        store,
        clock,
        log: log.child({ component: 'apiserver' }),
        kinds: allKinds(),
        kubeletClient,
        authenticator: createTokenAuthenticator([
          {
            tokenSha256: creds.admin.tokenSha256,
            user: { name: 'admin', groups: ['system:masters', 'system:authenticated'] },
          },
          ...(creds.node
            ? [
                {
                  tokenSha256: creds.node.tokenSha256,
                  user: { name: `system:node:${nodeName}`, groups: ['system:nodes', 'system:authenticated'] },
                },
              ]
            : []),
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
    if (port !== config.port) creds = await writeCredentials(port);
    log.info('h8s server is ready', {
      url: serverUrl(config['bind-address'], port),
      kubeconfig: creds.admin.kubeconfigPath,
    });
    admin = createApiClient({
      ...(await loadKubeconfig(creds.admin.kubeconfigPath)),
      log,
      userAgent: 'h8s-server',
    });
    await ensureBootstrapObjects(admin, log.child({ component: 'bootstrap' }), signal);
    const childOptions = {
      dataDir,
      runtimeEndpoint: config['runtime-endpoint'],
      log: log.child({ component: 'supervisor' }),
      signal: stopChildren.signal,
    };
    if (isEnabled('runtime')) {
      children.push(superviseRuntime({ ...childOptions, extraEnv: childEnv(config, 'H8S_RUNTIME_') }));
    }
    if (creds.node) {
      children.push(
        superviseAgent({
          ...childOptions,
          extraEnv: childEnv(config, 'H8S_AGENT_'),
          nodeName,
          kubeconfigPath: creds.node.kubeconfigPath,
        }),
      );
    }
    const controllers = isEnabled('controllers')
      ? await startServerControllers(creds.admin.kubeconfigPath, config, log, signal)
      : undefined;
    const scheduler = isEnabled('scheduler') ? runScheduler(admin, config, log, signal) : undefined;
    await server.run(signal);
    await controllers?.done;
    await scheduler;
    log.info('h8s server stopped');
  } finally {
    signal.removeEventListener('abort', onAbort);
    stopChildren.abort();
    await Promise.all(children.map((c) => c.done));
    admin?.close();
    await store.close();
  }
}

/**
 * The scheduler, as a client of this server. Servers sharing an etcd store elect one
 * scheduler through a Lease (`kube-system/kube-scheduler`, as upstream's).
 */
async function runScheduler(
  client: ApiClient,
  config: ServerConfig,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const slog = log.child({ component: 'scheduler' });
  const schedule = (s: AbortSignal): Promise<void> => createScheduler({ client, log: slog }).run(s);
  if (!config.datastore.startsWith('etcd://')) return schedule(signal);
  const elector = createLeaderElector({
    lock: createLeaseLock({ client, namespace: 'kube-system', name: 'kube-scheduler' }),
    identity: `${config['node-name']}_${randomUUID()}`,
    log: slog,
    onStartedLeading: (s) => schedule(s),
  });
  return elector.run(signal);
}

/**
 * A child daemon logs like the server unless its own `<PREFIX>LOG_*` variables say otherwise
 * (those, like every variable of the child's prefix, reach it unchanged).
 */
function childEnv(config: ServerConfig, prefix: 'H8S_RUNTIME_' | 'H8S_AGENT_'): Record<string, string> {
  const env: Record<string, string> = {};
  if (!process.env[`${prefix}LOG_LEVEL`]) env[`${prefix}LOG_LEVEL`] = config['log-level'];
  if (!process.env[`${prefix}LOG_FORMAT`]) env[`${prefix}LOG_FORMAT`] = config['log-format'];
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

export function serverMain(argv: readonly string[]): Promise<number> {
  return daemonMain(
    {
      command: 'h8s server',
      component: 'server',
      resolve: resolveServerConfig,
      usage,
      // A datastore URL may carry credentials (etcd://user:password@host).
      printable: (config) => ({ ...config, datastore: config.datastore.replace(/\/\/[^/@]*@/, '//***@') }),
      run: runServer,
    },
    argv,
  );
}
