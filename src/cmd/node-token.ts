/**
 * The server's own join token, `<data-dir>/server/node-token` (0600, as k3s's), for agents to
 * join with (`h8s agent --token-file`), the server's own agent included. Created on first start
 * and kept across restarts: its bootstrap token never expires, and its Secret is recreated
 * when missing (delete both the file and the Secret to replace it). The CA hash in the file is
 * refreshed when the CA changes.
 */
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ApiClient } from '../client/index.js';
import { builtinResources } from '../client/index.js';
import { writeFileAtomic, type Logger } from '../lib/index.js';
import {
  bootstrapTokenSecret,
  caCertificateHash,
  formatJoinToken,
  generateBootstrapToken,
  parseJoinToken,
  type JoinToken,
} from './join-token.js';

export const nodeTokenDescription = 'The node join token of h8s server (<data-dir>/server/node-token)';

function secretField(secret: unknown, key: string): string | undefined {
  const data = (secret as { data?: Record<string, unknown> } | undefined)?.data;
  const v = data?.[key];
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined;
}

/**
 * Loads or creates the server's join token and makes sure its Secret exists.
 * @returns the path of the token file and the token
 */
export async function ensureServerNodeToken(
  dataDir: string,
  caPem: string,
  client: ApiClient,
  log: Logger,
): Promise<{ readonly path: string; readonly token: JoinToken }> {
  const path = join(dataDir, 'server', 'node-token');
  const caHash = caCertificateHash(caPem);
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  let token: JoinToken;
  try {
    if (text === undefined) throw new Error('missing');
    token = { ...parseJoinToken(text), caHash };
  } catch {
    token = { ...generateBootstrapToken(), caHash };
  }
  const secrets = client.resource(builtinResources.secrets, 'kube-system');
  const name = `bootstrap-token-${token.id}`;
  const wanted = bootstrapTokenSecret({ ...token, description: nodeTokenDescription });
  const existing = await secrets.find(name);
  if (!existing) {
    await secrets.create(wanted);
    log.info('Created the node join token', { path, tokenId: token.id });
  } else if (
    secretField(existing, 'token-secret') !== token.secret ||
    secretField(existing, 'expiration') !== undefined
  ) {
    // Someone changed it: the file is what agents were given, so the Secret follows the file.
    await secrets.update({ ...wanted, metadata: { ...existing.metadata } });
    log.warn('Restored the node join token Secret from the token file', { path, tokenId: token.id });
  }
  const formatted = formatJoinToken(token) + '\n';
  if (formatted !== text) {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, formatted, { mode: 0o600, isDurable: true });
    await chmod(path, 0o600);
  }
  return { path, token };
}
