/**
 * Stored registry credentials in a docker-style `config.json` (`{"auths": {"host": {"auth":
 * base64("user:pass")}}}`), as `docker login` and `hyperctl login` write it. Credential helpers
 * (`credsStore`, `credHelpers`) are not supported.
 */
import { readFile } from 'node:fs/promises';
import { parseJson, parseWith } from '../lib/index.js';
import type { RegistryAuth } from './image-service.js';
import { DockerConfigFileSchema } from './oci-schemas.js';
import { dockerHubRegistry } from './reference.js';

/** The key docker uses for a registry: Docker Hub is `https://index.docker.io/v1/`. */
export function dockerConfigKey(registry: string): string {
  return registry === dockerHubRegistry ? 'https://index.docker.io/v1/' : registry;
}

/** `https://host:port/v1/` → `host:port`; `index.docker.io` → `docker.io`. */
export function normalizeConfigKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//, '');
  k = k.split('/')[0] ?? k;
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') return dockerHubRegistry;
  return k;
}

/** Reads the credentials for `registry` from a config.json; undefined when none (or no file). */
export async function readDockerConfigAuth(
  path: string,
  registry: string,
): Promise<RegistryAuth | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const cfg = parseWith(
    DockerConfigFileSchema,
    parseJson(text, `registry credentials file "${path}"`),
    `registry credentials file "${path}"`,
  );
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (normalizeConfigKey(key) !== registry) continue;
    if (entry.identitytoken) return { identityToken: entry.identitytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username !== undefined) return { username: entry.username, password: entry.password ?? '' };
  }
  return undefined;
}
