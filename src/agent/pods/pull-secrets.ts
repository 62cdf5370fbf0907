/**
 * Registry credentials from a pod's `imagePullSecrets` (kubelet's keyring): Secrets of type
 * `kubernetes.io/dockerconfigjson` (`{"auths": {host: {auth | username, password}}}`) or the
 * older `kubernetes.io/dockercfg` (`{host: {...}}`), matched on the image's registry host.
 */
import type { Secret } from '../../api/index.js';
import { isRecord } from '../../lib/index.js';
import type { RegistryAuth } from '../../runtime/index.js';

/** The registry host of an image reference, as Docker resolves it (`docker.io` by default). */
export function registryHost(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return first;
  return 'docker.io';
}

function normalizeHost(key: string): string {
  // Keys may be URLs (`https://index.docker.io/v1/`) or hosts with paths.
  let h = key.replace(/^[a-z]+:\/\//i, '');
  h = h.split('/')[0] ?? h;
  if (h === 'index.docker.io' || h === 'registry-1.docker.io') return 'docker.io';
  return h;
}

function authOf(entry: unknown): RegistryAuth | undefined {
  if (!isRecord(entry)) return undefined;
  if (typeof entry['auth'] === 'string' && entry['auth'] !== '') {
    const decoded = Buffer.from(entry['auth'], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry['username'] === 'string' && typeof entry['password'] === 'string') {
    return { username: entry['username'], password: entry['password'] };
  }
  if (typeof entry['identitytoken'] === 'string') return { identityToken: entry['identitytoken'] };
  return undefined;
}

/** Credentials for `image` from the first pull secret that has its registry, if any. */
export function authForImage(image: string, secrets: readonly Secret[]): RegistryAuth | undefined {
  const host = registryHost(image);
  for (const s of secrets) {
    let auths: unknown;
    try {
      if (s.type === 'kubernetes.io/dockerconfigjson') {
        const raw = s.data?.['.dockerconfigjson'];
        if (raw === undefined) continue;
        const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
        auths = isRecord(parsed) ? parsed['auths'] : undefined;
      } else if (s.type === 'kubernetes.io/dockercfg') {
        const raw = s.data?.['.dockercfg'];
        if (raw === undefined) continue;
        auths = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
      } else continue;
    } catch {
      // A malformed secret gives no credentials; the pull then fails with the registry's error.
      continue;
    }
    if (!isRecord(auths)) continue;
    for (const [key, entry] of Object.entries(auths)) {
      if (normalizeHost(key) !== host) continue;
      const auth = authOf(entry);
      if (auth) return auth;
    }
  }
  return undefined;
}
