/**
 * `h8s token create|list|delete`: node join tokens (kubeadm's `kubeadm token`). A token is a
 * bootstrap-token Secret in kube-system; `create` prints the whole join token
 * (`K10<CA hash>::<id>.<secret>`) for `h8s agent --token-file`. It talks to the API with the
 * admin kubeconfig (`<data-dir>/kubeconfig.yaml`) or `--kubeconfig FILE`. Expired tokens are
 * refused by the server; `list` deletes the ones it finds (upstream's token cleaner).
 */
import { join, resolve } from 'node:path';
import type { KubeObject } from '../api/index.js';
import { builtinResources, createApiClient, loadKubeconfig, type ApiClient } from '../client/index.js';
import { describeError, isNotFound } from '../lib/index.js';
import {
  bootstrapTokenSecret,
  caCertificateHash,
  formatJoinToken,
  generateBootstrapToken,
  parseJoinToken,
  parseTtlMs,
} from './join-token.js';

function usage(): string {
  return [
    'Usage: h8s token <command> [flags]',
    '',
    'Manages node join tokens (bootstrap tokens in kube-system) for `h8s agent --token-file`.',
    '',
    'Commands:',
    '  create [--ttl 24h] [--description TEXT]  Create a token and print it (K10...::id.secret);',
    '                                           --ttl 0 never expires',
    '  list                                     List tokens: ID, TTL, EXPIRES, DESCRIPTION',
    '  delete ID                                Delete a token (its id, or the whole token)',
    '',
    'Flags:',
    '  --kubeconfig FILE  Kubeconfig to use (default <data-dir>/kubeconfig.yaml)',
    '  --data-dir DIR     The server data directory (default /var/lib/h8s, env H8S_DATA_DIR)',
  ].join('\n');
}

class UsageError extends Error {}

interface TokenArgs {
  readonly command: string;
  readonly positional: readonly string[];
  readonly kubeconfig: string;
  readonly ttl: string;
  readonly description: string;
}

function parseArgs(argv: readonly string[]): TokenArgs | 'help' {
  const positional: string[] = [];
  let dataDir = process.env['H8S_DATA_DIR'] || '/var/lib/h8s';
  let kubeconfig = '';
  let ttl = '24h';
  let description = '';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return 'help';
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`flag ${name} needs a value`);
    if (name === '--data-dir') dataDir = value;
    else if (name === '--kubeconfig') kubeconfig = value;
    else if (name === '--ttl') ttl = value;
    else if (name === '--description') description = value;
    else throw new UsageError(`unknown flag "${name}"; run "h8s token --help"`);
  }
  const [command, ...rest] = positional;
  if (command === undefined) throw new UsageError('missing command: create, list or delete');
  return {
    command,
    positional: rest,
    kubeconfig: kubeconfig !== '' ? resolve(kubeconfig) : join(resolve(dataDir), 'kubeconfig.yaml'),
    ttl,
    description,
  };
}

function field(secret: KubeObject, key: string): string | undefined {
  const data = (secret as { data?: Record<string, unknown> }).data;
  const v = data?.[key];
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined;
}

/** `23h`, `59m`, `2d` (rounded down, as kubeadm's table), or `<forever>`. */
function formatTtl(expiresMs: number | undefined, nowMs: number): string {
  if (expiresMs === undefined) return '<forever>';
  const s = Math.max(0, Math.floor((expiresMs - nowMs) / 1000));
  if (s >= 2 * 86400) return `${Math.floor(s / 86400)}d`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

async function create(client: ApiClient, caPem: string | undefined, args: TokenArgs): Promise<number> {
  if (caPem === undefined) {
    console.error('h8s token: the kubeconfig has no certificate-authority, which the join token pins');
    return 1;
  }
  let ttlMs: number;
  try {
    ttlMs = parseTtlMs(args.ttl);
  } catch (err) {
    console.error(`h8s token: ${(err as Error).message}`);
    return 2;
  }
  const { id, secret } = generateBootstrapToken();
  await client.resource(builtinResources.secrets, 'kube-system').create(
    bootstrapTokenSecret({
      id,
      secret,
      description: args.description,
      ...(ttlMs > 0 ? { expiresMs: Date.now() + ttlMs } : {}),
    }),
  );
  console.log(formatJoinToken({ caHash: caCertificateHash(caPem), id, secret }));
  return 0;
}

async function list(client: ApiClient): Promise<number> {
  const secrets = client.resource(builtinResources.secrets, 'kube-system');
  const all = await secrets.listAll();
  const now = Date.now();
  const rows: string[][] = [['ID', 'TTL', 'EXPIRES', 'DESCRIPTION']];
  for (const s of all.items) {
    if ((s as { type?: unknown }).type !== 'bootstrap.kubernetes.io/token') continue;
    const id = field(s, 'token-id') ?? s.metadata.name?.replace(/^bootstrap-token-/, '') ?? '';
    const exp = field(s, 'expiration');
    const expiresMs = exp !== undefined && exp !== '' ? Date.parse(exp) : undefined;
    if (expiresMs !== undefined && !(expiresMs > now)) {
      // Expired (or unreadable, which the server treats as expired): clean it up.
      try {
        await secrets.delete(s.metadata.name ?? '');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      continue;
    }
    rows.push([
      id,
      formatTtl(expiresMs, now),
      expiresMs !== undefined ? new Date(expiresMs).toISOString().replace(/\.\d{3}Z$/, 'Z') : '<never>',
      field(s, 'description') ?? '',
    ]);
  }
  console.log(table(rows));
  return 0;
}

async function remove(client: ApiClient, args: TokenArgs): Promise<number> {
  if (args.positional.length === 0) {
    console.error('h8s token delete: give the id of the token to delete (see h8s token list)');
    return 2;
  }
  let status = 0;
  for (const arg of args.positional) {
    let id = arg;
    if (arg.startsWith('K10')) {
      try {
        id = parseJoinToken(arg).id;
      } catch (err) {
        console.error(`h8s token delete: ${(err as Error).message}`);
        status = 2;
        continue;
      }
    } else if (/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(arg)) {
      id = arg.slice(0, 6);
    }
    if (!/^[a-z0-9]{6}$/.test(id)) {
      console.error(`h8s token delete: invalid token id "${id}": expected 6 characters of a-z and 0-9`);
      status = 2;
      continue;
    }
    try {
      await client.resource(builtinResources.secrets, 'kube-system').delete(`bootstrap-token-${id}`);
      console.log(`bootstrap token "${id}" deleted`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      console.error(`h8s token delete: no token with id "${id}"`);
      status = 1;
    }
  }
  return status;
}

export async function tokenMain(argv: readonly string[]): Promise<number> {
  let args: TokenArgs | 'help';
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`h8s token: ${err.message}`);
    return 2;
  }
  if (args === 'help') {
    console.log(usage());
    return 0;
  }
  if (!['create', 'list', 'delete'].includes(args.command)) {
    console.error(`h8s token: unknown command "${args.command}"; expected create, list or delete`);
    return 2;
  }
  let client: ApiClient | undefined;
  try {
    const credentials = await loadKubeconfig(args.kubeconfig);
    client = createApiClient({ ...credentials, userAgent: 'h8s-token' });
    if (args.command === 'create') return await create(client, credentials.caPem, args);
    if (args.command === 'list') return await list(client);
    return await remove(client, args);
  } catch (err) {
    console.error(`h8s token ${args.command}: ${describeError(err)}`);
    return 1;
  } finally {
    client?.close();
  }
}
