/**
 * The admin credential: a random bearer token, written (with the server URL and CA) into
 * `<data-dir>/kubeconfig.yaml` (0600) for kubectl. The server keeps only the token's SHA-256
 * digest (`<data-dir>/server/cred/admin-token.sha256`, 0600); the token is never logged.
 *
 * The token survives restarts: on start the kubeconfig's token is reused when its digest
 * matches the stored one (the server URL and CA in the file are refreshed). When either file
 * is missing or they disagree, a new token is issued and the old one stops working.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { writeFileAtomic, type Logger } from '../../lib/index.js';
import { sha256 } from '../filters/authentication.js';
import { readTextIfExists } from './data-files.js';

export interface AdminCredentials {
  readonly tokenSha256: Buffer;
  readonly kubeconfigPath: string;
}

/** A kubeconfig for `server` with the CA and a bearer token (client-go's format). */
export function renderKubeconfig(options: {
  readonly server: string;
  readonly caCertPem: string;
  readonly token: string;
  readonly clusterName?: string;
  readonly userName?: string;
}): string {
  const cluster = options.clusterName ?? 'h8s';
  const user = options.userName ?? 'admin';
  return stringifyYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: {
          server: options.server,
          'certificate-authority-data': Buffer.from(options.caCertPem).toString('base64'),
        },
      },
    ],
    contexts: [{ name: cluster, context: { cluster, user } }],
    'current-context': cluster,
    preferences: {},
    users: [{ name: user, user: { token: options.token } }],
  });
}

/** The token of the first user in a kubeconfig text, if any. */
export function tokenFromKubeconfig(text: string): string | undefined {
  try {
    const doc = parseYaml(text) as { users?: { user?: { token?: unknown } }[] } | null;
    const token = doc?.users?.[0]?.user?.token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a file only the server may read; durable, since a lost token locks the admin out. */
async function writeSecret(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, text, { mode: 0o600, isDurable: true });
}

/** The https URL clients use for a bind address (wildcards become loopback). */
export function serverUrl(bindAddress: string, port: number): string {
  let host = bindAddress;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  if (host.includes(':')) host = `[${host}]`;
  return `https://${host}:${port}`;
}

/**
 * A bearer-token credential kept as a kubeconfig (`kubeconfigPath`, 0600) whose token's
 * digest the server stores (`digestPath`, 0600). The token is reused across restarts while
 * both files agree; otherwise a new one is issued and the old one stops working.
 */
async function ensureTokenCredential(
  paths: { readonly kubeconfigPath: string; readonly digestPath: string },
  options: { readonly server: string; readonly caCertPem: string; readonly userName: string },
  deps: { readonly log: Logger },
): Promise<AdminCredentials> {
  const { kubeconfigPath, digestPath } = paths;
  const storedHex = (await readTextIfExists(digestPath))?.trim();
  const existing = await readTextIfExists(kubeconfigPath);
  let token = existing ? tokenFromKubeconfig(existing) : undefined;
  if (token !== undefined && storedHex !== undefined && /^[0-9a-f]{64}$/.test(storedHex)) {
    if (!timingSafeEqual(sha256(token), Buffer.from(storedHex, 'hex'))) token = undefined;
  } else {
    token = undefined;
  }
  if (token === undefined) {
    token = randomBytes(32).toString('hex');
    await writeSecret(digestPath, sha256(token).toString('hex') + '\n');
    deps.log.info('Issued a new token', { user: options.userName, kubeconfig: kubeconfigPath });
  }
  const text = renderKubeconfig({
    server: options.server,
    caCertPem: options.caCertPem,
    token,
    userName: options.userName,
  });
  if (text !== existing) await writeSecret(kubeconfigPath, text);
  return { tokenSha256: sha256(token), kubeconfigPath };
}

/** Loads or creates the admin token and (re)writes the admin kubeconfig. */
export function ensureAdminCredentials(
  dataDir: string,
  options: { readonly server: string; readonly caCertPem: string },
  deps: { readonly log: Logger },
): Promise<AdminCredentials> {
  return ensureTokenCredential(
    {
      kubeconfigPath: join(dataDir, 'kubeconfig.yaml'),
      digestPath: join(dataDir, 'server', 'cred', 'admin-token.sha256'),
    },
    { ...options, userName: 'admin' },
    deps,
  );
}
