/**
 * Reading a kubeconfig file (the format kubectl uses) into client options: server URL, CA,
 * bearer token or client certificate. `h8s server` writes `<data-dir>/kubeconfig.yaml` in it.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { badRequest, invalid, notFound, parseWith } from '../lib/index.js';

const NamedCluster = Type.Object({
  name: Type.String(),
  cluster: Type.Object({
    server: Type.String(),
    'certificate-authority': Type.Optional(Type.String()),
    'certificate-authority-data': Type.Optional(Type.String()),
    'insecure-skip-tls-verify': Type.Optional(Type.Boolean()),
    'tls-server-name': Type.Optional(Type.String()),
  }),
});

const NamedUser = Type.Object({
  name: Type.String(),
  user: Type.Object({
    token: Type.Optional(Type.String()),
    tokenFile: Type.Optional(Type.String()),
    'client-certificate': Type.Optional(Type.String()),
    'client-certificate-data': Type.Optional(Type.String()),
    'client-key': Type.Optional(Type.String()),
    'client-key-data': Type.Optional(Type.String()),
    exec: Type.Optional(Type.Unknown()),
  }),
});

const NamedContext = Type.Object({
  name: Type.String(),
  context: Type.Object({
    cluster: Type.String(),
    user: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
  }),
});

const KubeconfigSchema = Type.Object({
  clusters: Type.Optional(Type.Array(NamedCluster)),
  users: Type.Optional(Type.Union([Type.Array(NamedUser), Type.Null()])),
  contexts: Type.Optional(Type.Array(NamedContext)),
  'current-context': Type.Optional(Type.String()),
});

type Kubeconfig = Static<typeof KubeconfigSchema>;

/** What a kubeconfig context resolves to; spread it into `createApiClient`. */
export interface KubeconfigCredentials {
  readonly server: string;
  readonly token?: string;
  readonly caPem?: string;
  readonly insecure?: boolean;
  readonly clientCertPem?: string;
  readonly clientKeyPem?: string;
  readonly tlsServerName?: string;
  /** The context's default namespace, if it names one. */
  readonly namespace?: string;
}

export interface LoadKubeconfigOptions {
  /** Context to use instead of `current-context`. */
  readonly context?: string;
}

function decodeBase64(value: string, field: string): string {
  const cleaned = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(cleaned)) throw invalid(`Invalid kubeconfig: ${field} is not base64`);
  return Buffer.from(cleaned, 'base64').toString('utf8');
}

async function readRelative(base: string, file: string, what: string): Promise<string> {
  const path = isAbsolute(file) ? file : join(base, file);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw notFound(`Cannot read the ${what} "${path}" named in the kubeconfig`, { cause: err });
  }
}

/**
 * Resolves a parsed kubeconfig document (pure but for reading referenced files relative to `baseDir`).
 * @throws Invalid for a malformed document; NotFound when a named context, cluster, user or file is missing;
 *   BadRequest for credentials h8s cannot use (exec plugins).
 */
export async function resolveKubeconfig(
  doc: unknown,
  baseDir: string,
  options: LoadKubeconfigOptions = {},
): Promise<KubeconfigCredentials> {
  const config: Kubeconfig = parseWith(KubeconfigSchema, doc, 'kubeconfig');
  const contextName = options.context ?? config['current-context'];
  if (contextName === undefined || contextName === '') {
    throw notFound('The kubeconfig has no current-context and no context was named');
  }
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw notFound(`The kubeconfig has no context "${contextName}"`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster)
    throw notFound(`The kubeconfig has no cluster "${context.cluster}" (context "${contextName}")`);
  const user =
    context.user !== undefined ? (config.users ?? []).find((u) => u.name === context.user)?.user : undefined;
  if (context.user !== undefined && context.user !== '' && !user) {
    throw notFound(`The kubeconfig has no user "${context.user}" (context "${contextName}")`);
  }
  if (user?.exec !== undefined) {
    throw badRequest(
      `The kubeconfig user "${context.user}" uses an exec credential plugin, which this client does not run`,
    );
  }
  const out: { -readonly [K in keyof KubeconfigCredentials]: KubeconfigCredentials[K] } = {
    server: cluster.server,
  };
  if (cluster['certificate-authority-data'] !== undefined) {
    out.caPem = decodeBase64(cluster['certificate-authority-data'], 'certificate-authority-data');
  } else if (cluster['certificate-authority'] !== undefined) {
    out.caPem = await readRelative(baseDir, cluster['certificate-authority'], 'certificate authority');
  }
  if (cluster['insecure-skip-tls-verify'] === true) out.insecure = true;
  if (cluster['tls-server-name'] !== undefined) out.tlsServerName = cluster['tls-server-name'];
  if (user?.token !== undefined) out.token = user.token;
  else if (user?.tokenFile !== undefined)
    out.token = (await readRelative(baseDir, user.tokenFile, 'token file')).trim();
  if (user?.['client-certificate-data'] !== undefined) {
    out.clientCertPem = decodeBase64(user['client-certificate-data'], 'client-certificate-data');
  } else if (user?.['client-certificate'] !== undefined) {
    out.clientCertPem = await readRelative(baseDir, user['client-certificate'], 'client certificate');
  }
  if (user?.['client-key-data'] !== undefined) {
    out.clientKeyPem = decodeBase64(user['client-key-data'], 'client-key-data');
  } else if (user?.['client-key'] !== undefined) {
    out.clientKeyPem = await readRelative(baseDir, user['client-key'], 'client key');
  }
  if (context.namespace !== undefined) out.namespace = context.namespace;
  return out;
}

/**
 * Reads the kubeconfig at `path` and resolves its current (or the named) context.
 * @throws NotFound when the file is missing; Invalid when it is not a kubeconfig.
 */
export async function loadKubeconfig(
  path: string,
  options: LoadKubeconfigOptions = {},
): Promise<KubeconfigCredentials> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw notFound(`Cannot read kubeconfig "${path}"`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 }) as unknown;
  } catch (err) {
    throw invalid(`Invalid kubeconfig "${path}": ${(err as Error).message}`, { cause: err });
  }
  return resolveKubeconfig(doc, dirname(path), options);
}
