/**
 * `h8s server`: the control-plane process (DESIGN.md sections 1 and 5). It opens the store,
 * creates the PKI, the admin credential and the node join token (`<data-dir>/server/node-token`,
 * docs/agent.md "Joining") on first start, and serves the Kubernetes API over
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
import { allKinds, parseIp } from '../api/index.js';
import {
  ApiServer,
  createClientCertificateAuthenticator,
  createTokenAuthenticator,
  defaultNodePortRange,
  defaultServiceCidr,
  defaultServiceAccountIssuer,
  ensureAdminCredentials,
  ensureKubeletClientCredentials,
  ensureNodeStreamingCredentials,
  ensureServiceAccountKey,
  ensureServingCertificates,
  parsePortRange,
  parseServiceCidr,
  serverUrl,
  servingNames,
  unionAuthenticator,
} from '../apiserver/index.js';
import { describeError, systemClock, type Logger, type LogLevel } from '../lib/index.js';
import { openKeyValueStore } from '../storage/index.js';
import { createApiClient, loadKubeconfig, type ApiClient } from '../client/index.js';
import { startControllers, type RunningControllers } from '../controllers/index.js';
import { createLeaderElector, createLeaseLock } from '../reconcile/index.js';
import { createScheduler } from '../scheduler/index.js';
import { ensureBootstrapObjects } from './bootstrap-objects.js';
import { runKubernetesService } from './kubernetes-service.js';
import { parseTtlMs } from './join-token.js';
import { ensureServerNodeToken } from './node-token.js';
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
  'service-account-issuer': {
    type: 'required-string',
    help: 'The iss of service-account tokens (also their default audience)',
  },
  'node-cert-lifetime': {
    type: 'required-string',
    help: 'Lifetime of the certificates issued to nodes (e.g. 8760h; at least 10m)',
  },
  'runtime-endpoint': {
    type: 'string',
    help: "Socket of this node's runtime daemon (unix:///path; default <data-dir>/runtime.sock)",
  },
  'service-cidr': {
    type: 'required-string',
    help: 'IPv4 CIDR Services get cluster IPs from; its first address is the kubernetes Service',
  },
  'service-node-port-range': {
    type: 'required-string',
    help: 'Ports NodePort and LoadBalancer Services get node ports from (FIRST-LAST)',
  },
  'advertise-address': {
    type: 'string',
    help: "Address pods reach the API server on (the kubernetes Service's endpoint; default: the bind address, or the host's first IPv4 address)",
  },
  'cluster-cidr': {
    type: 'required-string',
    help: 'IPv4 subnet of the default Network, created at the first start (each node takes a /24 of it)',
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
  readonly 'service-account-issuer': string;
  readonly 'node-cert-lifetime': string;
  readonly 'runtime-endpoint': string;
  readonly 'service-cidr': string;
  readonly 'service-node-port-range': string;
  readonly 'advertise-address': string;
  readonly 'cluster-cidr': string;
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
    'service-account-issuer': defaultServiceAccountIssuer,
    'node-cert-lifetime': '8760h',
    'runtime-endpoint': '',
    'service-cidr': defaultServiceCidr,
    'service-node-port-range': defaultNodePortRange,
    'advertise-address': '',
    'cluster-cidr': '10.42.0.0/16',
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
    'service-account-issuer': merged['service-account-issuer'] as string,
    'node-cert-lifetime': merged['node-cert-lifetime'] as string,
    'runtime-endpoint': (merged['runtime-endpoint'] as string) || defaultRuntimeEndpointOf(dataDir),
    'service-cidr': configValue(() => parseServiceCidr(merged['service-cidr'] as string).text),
    'service-node-port-range': configValue(
      () => parsePortRange(merged['service-node-port-range'] as string).text,
    ),
    'advertise-address':
      (merged['advertise-address'] as string) || defaultAdvertiseAddress(merged['bind-address'] as string),
    'cluster-cidr': merged['cluster-cidr'] as string,
    'log-level': merged['log-level'] as LogLevel,
    'log-format': merged['log-format'] as 'json' | 'text',
  });
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(config['node-name'])) {
    throw new ConfigError(
      `Invalid node-name "${config['node-name']}": it must be a lowercase DNS subdomain (a-z, 0-9, "-", ".")`,
    );
  }
  const cidr = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(config['cluster-cidr']);
  if (!cidr || cidr.slice(1, 5).some((o) => Number(o) > 255) || Number(cidr[5]) < 8 || Number(cidr[5]) > 24) {
    throw new ConfigError(
      `Invalid cluster-cidr "${config['cluster-cidr']}": expected an IPv4 subnet from /8 to /24, e.g. 10.42.0.0/16`,
    );
  }
  if (!config['runtime-endpoint'].startsWith('unix:///')) {
    throw new ConfigError(
      `Invalid runtime-endpoint "${config['runtime-endpoint']}": expected unix:///absolute/path.sock`,
    );
  }
  if (parseIp(config['advertise-address'])?.family !== 4) {
    throw new ConfigError(
      `Invalid advertise-address "${config['advertise-address']}": expected an IPv4 address`,
    );
  }
  nodeCertLifetimeMs(config);
  return { config, args };
}

/** A range parser's value; its BadRequest message becomes the ConfigError's. */
function configValue<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new ConfigError(describeError(err));
  }
}

/** The bind address when it is one, else the host's first non-internal IPv4 address. */
function defaultAdvertiseAddress(bindAddress: string): string {
  if (bindAddress !== '0.0.0.0' && parseIp(bindAddress)?.family === 4) return bindAddress;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** The `node-cert-lifetime` in ms. @throws ConfigError */
function nodeCertLifetimeMs(config: ServerConfig): number {
  let ms: number;
  try {
    ms = parseTtlMs(config['node-cert-lifetime']);
  } catch (err) {
    throw new ConfigError(`Invalid node-cert-lifetime: ${(err as Error).message}`);
  }
  if (ms < 600_000) {
    throw new ConfigError(`Invalid node-cert-lifetime "${config['node-cert-lifetime']}": at least 10m`);
  }
  return ms;
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
      return { admin: await ensureAdminCredentials(dataDir, urls, { log }) };
    };
    const serviceAccountKey = await ensureServiceAccountKey(join(dataDir, 'server', 'tls'), { log });
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
        // Nodes authenticate with client certificates the CA signed (docs/agent.md "Joining").
        authenticator: unionAuthenticator([
          createClientCertificateAuthenticator(),
          createTokenAuthenticator([
            {
              tokenSha256: creds.admin.tokenSha256,
              user: { name: 'admin', groups: ['system:masters', 'system:authenticated'] },
            },
          ]),
        ]),
      },
      {
        bindAddress: config['bind-address'],
        port: config.port,
        tls: { key: certs.key, cert: certs.cert, clientCaPem: certs.caCert },
        serviceCidr: config['service-cidr'],
        nodePortRange: config['service-node-port-range'],
        nodeCredentials: {
          ca: { caCertPem: certs.caCert, caKeyPem: certs.caKey },
          maxLifetimeMs: nodeCertLifetimeMs(config),
        },
        version: versionInfo(),
        serviceAccounts: {
          signingKey: serviceAccountKey,
          issuer: config['service-account-issuer'],
          // Without the controllers nothing creates the `default` accounts pods need.
          isAdmissionEnabled: isEnabled('controllers'),
        },
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
    await ensureBootstrapObjects(admin, log.child({ component: 'bootstrap' }), signal, {
      clusterCidr: config['cluster-cidr'],
    });
    const kubernetesService = runKubernetesService(
      { client: admin, clock, log },
      {
        clusterIp: server.serviceAllocation.kubernetesServiceIp,
        port,
        advertiseAddress: config['advertise-address'],
      },
      // Ends with the server, also when start-up fails after this point.
      stopChildren.signal,
    );
    const nodeToken = await ensureServerNodeToken(dataDir, certs.caCert, admin, log);
    const childOptions = {
      dataDir,
      runtimeEndpoint: config['runtime-endpoint'],
      log: log.child({ component: 'supervisor' }),
      signal: stopChildren.signal,
    };
    if (isEnabled('runtime')) {
      children.push(superviseRuntime({ ...childOptions, extraEnv: childEnv(config, 'H8S_RUNTIME_') }));
    }
    if (isEnabled('agent')) {
      // The node's agent joins with the node token like any other (a client certificate it
      // keeps renewed in <data-dir>/agent).
      children.push(
        superviseAgent({
          ...childOptions,
          extraEnv: childEnv(config, 'H8S_AGENT_'),
          nodeName,
          server: serverUrl(config['bind-address'], port),
          tokenFile: nodeToken.path,
        }),
      );
    }
    const controllers = isEnabled('controllers')
      ? await startServerControllers(creds.admin.kubeconfigPath, certs.caCert, config, log, signal)
      : undefined;
    const scheduler = isEnabled('scheduler') ? runScheduler(admin, config, log, signal) : undefined;
    await server.run(signal);
    await controllers?.done;
    await scheduler;
    await kubernetesService;
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
  caCertPem: string,
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
    rootCaCertPem: caCertPem,
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
