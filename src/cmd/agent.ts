/**
 * `h8s agent`: the node agent (kubelet; DESIGN.md sections 1 and 5). It connects to the API
 * server with the node's credential and to the node's runtime daemon over its socket, then
 * registers the Node and runs the pods bound to it until SIGINT/SIGTERM. Stopping the agent
 * never stops pods; the next agent re-adopts them from the runtime.
 *
 * Credentials: `--kubeconfig FILE`, or `--server URL --token-file FILE`. A token file holding a
 * join token (`K10<CA hash>::<id>.<secret>`) makes the agent join (`agent-join.ts`): it pins
 * the CA, obtains a client certificate for its node and keeps it renewed. Any other token is
 * a bearer token (with `--ca-file` for the CA). `h8s server` starts its own node's agent the
 * joining way, with its `<data-dir>/server/node-token`.
 *
 * Configuration: defaults < config file (`--config`, YAML or JSON, keys = flag names) <
 * environment (`H8S_AGENT_<FLAG>`) < flags. Unknown keys and bad values are errors naming
 * their source. `--print-config` prints the result and exits.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { createAgent, PlumbedPodNetworking, type StreamingTls } from '../agent/index.js';
import { createApiClient, loadKubeconfig, type ApiClientOptions } from '../client/index.js';
import { describeError, type Logger, type LogLevel } from '../lib/index.js';
import { NodeNetwork } from '../network/index.js';
import { RuntimeClient } from '../runtime/index.js';
import { daemonMain } from './daemon.js';
import {
  ConfigError,
  flagUsage,
  layerFlags,
  type FlagSource,
  type FlagSpecs,
  type FlagValues,
  type ParsedArgs,
} from './flags.js';
import { kubernetesMinor } from './version-info.js';
import {
  ensureJoinedCredentials,
  runCredentialRenewal,
  type AgentJoinOptions,
  type NodeCredentials,
} from './agent-join.js';
import { isJoinToken, parseJoinToken } from './join-token.js';

const flagSpecs = {
  'data-dir': { type: 'required-string', help: 'State directory of the agent (pod volumes, logs)' },
  'node-name': { type: 'required-string', help: 'Name of this node (default: the host name)' },
  kubeconfig: { type: 'string', help: 'Kubeconfig with the node credential (instead of --server)' },
  server: { type: 'string', help: 'API server URL (https://host:6443), with --token-file' },
  'token-file': {
    type: 'string',
    help: 'File holding a join token (K10...::id.secret; see h8s token) or a bearer token',
  },
  'ca-file': { type: 'string', help: "PEM file of the cluster CA that signed the server's certificate" },
  'runtime-endpoint': {
    type: 'required-string',
    help: "Socket of this node's runtime daemon (unix:///path)",
  },
  'node-ip': { type: 'list', help: 'InternalIP addresses of the node (default: detected)' },
  'streaming-port': { type: 'port', help: 'Port of the streaming endpoint (exec, logs)' },
  'tls-cert-file': {
    type: 'string',
    help: 'Serving certificate of the streaming endpoint (default <data-dir>/pki/streaming.crt)',
  },
  'tls-private-key-file': {
    type: 'string',
    help: 'Its private key (default <data-dir>/pki/streaming.key)',
  },
  'client-ca-file': {
    type: 'string',
    help: "CA of the API server's client certificate (default <data-dir>/pki/client-ca.crt)",
  },
  'max-pods': { type: 'int', help: 'Pods this node accepts', min: 1 },
  'node-labels': { type: 'list', help: 'Extra node labels, key=value' },
  'pod-network': {
    type: 'choice',
    help: 'Pod network: plumbed (bridges, routers, nftables; needs root) or none (loopback only); default plumbed as root',
    choices: ['plumbed', 'none'],
  },
  'log-level': { type: 'choice', help: 'Log level', choices: ['debug', 'info', 'warn', 'error'] },
  'log-format': { type: 'choice', help: 'Log line format', choices: ['json', 'text'] },
} as const satisfies FlagSpecs;

const flagSource: FlagSource<typeof flagSpecs> = {
  command: 'h8s agent',
  specs: flagSpecs,
  envPrefix: 'H8S_AGENT_',
};

export interface AgentCommandConfig {
  readonly 'data-dir': string;
  readonly 'node-name': string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly 'token-file': string;
  readonly 'ca-file': string;
  readonly 'runtime-endpoint': string;
  readonly 'node-ip': readonly string[];
  readonly 'streaming-port': number;
  readonly 'tls-cert-file': string;
  readonly 'tls-private-key-file': string;
  readonly 'client-ca-file': string;
  readonly 'max-pods': number;
  readonly 'node-labels': Readonly<Record<string, string>>;
  readonly 'pod-network': 'plumbed' | 'none';
  readonly 'log-level': LogLevel;
  readonly 'log-format': 'json' | 'text';
}

function defaults(): FlagValues<typeof flagSpecs> {
  return {
    'data-dir': '/var/lib/h8s/agent',
    'node-name': hostname().toLowerCase(),
    kubeconfig: '',
    server: '',
    'token-file': '',
    'ca-file': '',
    'runtime-endpoint': 'unix:///run/h8s/runtime.sock',
    'node-ip': [],
    'streaming-port': 10250,
    'tls-cert-file': '',
    'tls-private-key-file': '',
    'client-ca-file': '',
    'max-pods': 110,
    'node-labels': [],
    // Plumbing bridges, namespaces and nftables needs root; without it pods get loopback only.
    'pod-network': process.getuid?.() === 0 ? 'plumbed' : 'none',
    'log-level': 'info',
    'log-format': 'json',
  };
}

/** Labels a node may not set on itself (upstream's NodeRestriction reserves these prefixes). */
const reservedLabelPrefixes = ['kubernetes.io/', 'k8s.io/'];
const allowedReserved = new Set(['kubernetes.io/hostname', 'kubernetes.io/os', 'kubernetes.io/arch']);

function parseNodeLabels(items: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`Invalid node-labels entry "${item}": expected key=value`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
    if (!/^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/.test(name)) {
      throw new ConfigError(`Invalid node-labels key "${key}": not a valid label name`);
    }
    if (value !== '' && !/^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/.test(value)) {
      throw new ConfigError(`Invalid node-labels value "${value}" of "${key}": not a valid label value`);
    }
    const prefix = key.includes('/') ? key.slice(0, key.indexOf('/') + 1) : '';
    const isReserved = reservedLabelPrefixes.some((p) => prefix === p || prefix.endsWith(`.${p}`));
    if (isReserved && !allowedReserved.has(key) && !key.startsWith('node-role.kubernetes.io/')) {
      throw new ConfigError(
        `Invalid node-labels key "${key}": the kubernetes.io/ and k8s.io/ prefixes are reserved`,
      );
    }
    labels[key] = value;
  }
  return labels;
}

/** Resolves the configuration (exported for tests). @throws ConfigError */
export function resolveAgentConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { config: AgentCommandConfig; args: ParsedArgs<typeof flagSpecs> } {
  const { merged, args } = layerFlags(flagSource, defaults(), argv, env);
  const str = (v: unknown): string => v as string;
  const path = (v: unknown): string => (str(v) ? resolve(str(v)) : '');
  const config: AgentCommandConfig = Object.freeze({
    'data-dir': resolve(str(merged['data-dir'])),
    'node-name': str(merged['node-name']),
    kubeconfig: path(merged.kubeconfig),
    server: str(merged.server),
    'token-file': path(merged['token-file']),
    'ca-file': path(merged['ca-file']),
    'runtime-endpoint': str(merged['runtime-endpoint']),
    'node-ip': Object.freeze([...(merged['node-ip'] as string[])]),
    'streaming-port': merged['streaming-port'] as number,
    'tls-cert-file': path(merged['tls-cert-file']),
    'tls-private-key-file': path(merged['tls-private-key-file']),
    'client-ca-file': path(merged['client-ca-file']),
    'max-pods': merged['max-pods'] as number,
    'node-labels': Object.freeze(parseNodeLabels(merged['node-labels'] as string[])),
    'pod-network': merged['pod-network'] as 'plumbed' | 'none',
    'log-level': merged['log-level'] as LogLevel,
    'log-format': merged['log-format'] as 'json' | 'text',
  });
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(config['node-name'])) {
    throw new ConfigError(
      `Invalid node-name "${config['node-name']}": it must be a lowercase DNS subdomain (a-z, 0-9, "-", ".")`,
    );
  }
  for (const ip of config['node-ip']) {
    if (isIP(ip) === 0) throw new ConfigError(`Invalid node-ip "${ip}": not an IP address`);
  }
  if (!config['runtime-endpoint'].startsWith('unix:///')) {
    throw new ConfigError(
      `Invalid runtime-endpoint "${config['runtime-endpoint']}": expected unix:///absolute/path.sock`,
    );
  }
  return { config, args };
}

/** The credential flags: a kubeconfig, or a server URL with a token file. @throws ConfigError */
export function checkAgentCredentials(config: AgentCommandConfig): void {
  if (config.kubeconfig === '' && config.server === '') {
    throw new ConfigError(
      'Missing credentials: give --kubeconfig FILE, or --server URL with --token-file FILE',
    );
  }
  if (config.kubeconfig !== '' && config.server !== '') {
    throw new ConfigError('Conflicting credentials: give either --kubeconfig or --server, not both');
  }
  if (config.server !== '') {
    if (!/^https:\/\/[^/\s]+\/?$/.test(config.server)) {
      throw new ConfigError(`Invalid server "${config.server}": expected https://host:port`);
    }
    if (config['token-file'] === '')
      throw new ConfigError('Missing token-file: --server needs --token-file FILE');
  }
}

function usage(): string {
  return [
    'Usage: h8s agent [flags]',
    '',
    'Runs the node agent: registers this node with the API server and runs the pods bound to it',
    "through this node's runtime daemon (`h8s runtime`).",
    '',
    'Flags:',
    ...flagUsage(flagSource, 18),
  ].join('\n');
}

/** The host's first non-internal IPv4 address, else loopback. */
function detectNodeIps(): string[] {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return [a.address];
  }
  return ['127.0.0.1'];
}

/** The client's credentials, and the join options when the agent holds a node certificate. */
async function clientOptions(
  config: AgentCommandConfig,
  addresses: readonly string[],
  log: Logger,
): Promise<{ options: ApiClientOptions; join?: { options: AgentJoinOptions; creds: NodeCredentials } }> {
  if (config.kubeconfig !== '') return { options: await loadKubeconfig(config.kubeconfig) };
  const readNamed = async (file: string, what: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`Cannot read the ${what} ${file}: ${describeError(err)}`);
    }
  };
  const token = (await readNamed(config['token-file'], 'token-file')).trim();
  if (token === '') throw new ConfigError(`The token-file ${config['token-file']} is empty`);
  const server = config.server.replace(/\/$/, '');
  if (isJoinToken(token)) {
    let parsed;
    try {
      parsed = parseJoinToken(token);
    } catch (err) {
      throw new ConfigError(`The token-file ${config['token-file']}: ${(err as Error).message}`);
    }
    const join: AgentJoinOptions = {
      server,
      token: parsed,
      nodeName: config['node-name'],
      dataDir: config['data-dir'],
      servingNames: [...new Set([...addresses, config['node-name'], hostname().toLowerCase()])],
      log,
    };
    const creds = await ensureJoinedCredentials(join);
    return {
      options: { server, caPem: creds.caPem, clientCertPem: creds.certPem, clientKeyPem: creds.keyPem },
      join: { options: join, creds },
    };
  }
  return {
    options: {
      server,
      token,
      ...(config['ca-file'] !== '' ? { caPem: await readNamed(config['ca-file'], 'ca-file') } : {}),
    },
  };
}

/**
 * The streaming endpoint's certificates (`h8s server` writes them for its own node), or
 * undefined when the serving certificate is not there (the agent then serves no streams).
 */
async function streamingTls(config: AgentCommandConfig): Promise<StreamingTls | undefined> {
  // The flags; else what `h8s server` wrote for its own node's agent (pki/); else the serving
  // certificate a join obtained, with the cluster CA as the client CA.
  const pki = join(config['data-dir'], 'pki');
  const joined = {
    cert: join(config['data-dir'], 'serving.crt'),
    key: join(config['data-dir'], 'serving.key'),
    ca: join(config['data-dir'], 'ca.crt'),
  };
  const useJoined = config['tls-cert-file'] === '' && !existsSync(join(pki, 'streaming.crt'));
  const certFile = config['tls-cert-file'] || (useJoined ? joined.cert : join(pki, 'streaming.crt'));
  const keyFile = config['tls-private-key-file'] || (useJoined ? joined.key : join(pki, 'streaming.key'));
  const caFile = config['client-ca-file'] || (useJoined ? joined.ca : join(pki, 'client-ca.crt'));
  const read = async (file: string): Promise<string | undefined> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file !== config['tls-cert-file'])
        return undefined;
      throw new ConfigError(`Cannot read ${file}: ${describeError(err)}`);
    }
  };
  const cert = await read(certFile);
  if (cert === undefined) return undefined;
  const key = await read(keyFile);
  const clientCa = await read(caFile);
  if (key === undefined || clientCa === undefined) {
    throw new ConfigError(
      `The streaming certificate ${certFile} needs its key ${keyFile} and the client CA ${caFile}`,
    );
  }
  return { cert, key, clientCa };
}

/** Runs the agent until `signal` aborts. Pods keep running afterwards. */
export async function runAgent(config: AgentCommandConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const addresses = config['node-ip'].length > 0 ? config['node-ip'] : detectNodeIps();
  const { options, join: joined } = await clientOptions(config, addresses, log);
  const tls = await streamingTls(config);
  const client = createApiClient({ ...options, log, userAgent: 'h8s-agent' });
  const runtime = new RuntimeClient({ endpoint: config['runtime-endpoint'] });
  const stopRenewal = new AbortController();
  const renewal = joined
    ? runCredentialRenewal(
        joined.options,
        joined.creds,
        (creds) => client.setClientCertificate(creds.certPem, creds.keyPem),
        stopRenewal.signal,
      )
    : undefined;
  try {
    const networkDir = join(config['data-dir'], 'network');
    const pods =
      config['pod-network'] === 'plumbed'
        ? new PlumbedPodNetworking({
            client,
            network: new NodeNetwork({ nodeName: config['node-name'], stateDir: networkDir, log }),
            nodeName: config['node-name'],
            stateDir: networkDir,
            log: log.child({ component: 'pod-network' }),
          })
        : undefined;
    const agent = createAgent({
      client,
      runtime,
      log,
      ...(pods ? { network: pods, services: pods } : {}),
      config: {
        nodeName: config['node-name'],
        dataDir: config['data-dir'],
        addresses,
        streamingPort: config['streaming-port'],
        ...(tls ? { streamingTls: tls } : {}),
        kubeletVersion: `v1.${kubernetesMinor}.0`,
        maxPods: config['max-pods'],
        labels: config['node-labels'],
      },
    });
    log.info('h8s agent starting', {
      node: config['node-name'],
      runtime: config['runtime-endpoint'],
      podNetwork: config['pod-network'],
    });
    await agent.run(signal);
    log.info('h8s agent stopped');
  } finally {
    stopRenewal.abort();
    await renewal;
    runtime.close();
    client.close();
  }
}

export function agentMain(argv: readonly string[]): Promise<number> {
  return daemonMain(
    {
      command: 'h8s agent',
      component: 'agent',
      resolve: resolveAgentConfig,
      usage,
      check: checkAgentCredentials,
      run: async (config, log, signal) => {
        try {
          await runAgent(config, log, signal);
        } catch (err) {
          // An unreadable token or CA file is reported by its message, like a flag error.
          if (err instanceof ConfigError) throw new Error(err.message);
          throw err;
        }
      },
    },
    argv,
  );
}
