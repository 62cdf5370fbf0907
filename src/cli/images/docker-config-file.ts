/**
 * The docker-style credentials file (`config.json`) that `hyperctl login` writes and `pull`
 * reads: `{"auths": {"<registry>": {"auth": base64("user:password")}}}`. Docker Hub's key is
 * `https://index.docker.io/v1/`. Other keys in the file are kept untouched. Written with mode
 * 0600 through a temp file and rename.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { invalid } from '../../lib/index.js';
import type { RegistryAuth } from '../../runtime/index.js';

/** `https://host/v1/` or `host` → `host`; Docker Hub aliases → `docker.io`. */
export function normalizeRegistry(server: string): string {
  let k = server.replace(/^[a-z]+:\/\//, '');
  k = k.split('/')[0] ?? k;
  if (k === 'index.docker.io' || k === 'registry-1.docker.io' || k === 'docker.io' || k === '')
    return 'docker.io';
  return k;
}

/** The key docker writes for a registry. */
export function configKey(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

type ConfigFile = { auths?: Record<string, Record<string, unknown>> } & Record<string, unknown>;

async function readConfig(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw invalid(`Invalid credentials file "${path}": ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalid(`Invalid credentials file "${path}": not a JSON object`);
  const cfg = v as ConfigFile;
  if (
    cfg.auths !== undefined &&
    (typeof cfg.auths !== 'object' || cfg.auths === null || Array.isArray(cfg.auths))
  ) {
    throw invalid(`Invalid credentials file "${path}": "auths" is not an object`);
  }
  return cfg;
}

async function writeConfig(path: string, cfg: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

/** The stored credentials for `registry`, if any. */
export async function findCredentials(path: string, registry: string): Promise<RegistryAuth | undefined> {
  const cfg = await readConfig(path);
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (normalizeRegistry(key) !== registry || typeof entry !== 'object' || entry === null) continue;
    if (typeof entry['identitytoken'] === 'string' && entry['identitytoken'] !== '')
      return { identityToken: entry['identitytoken'] };
    if (typeof entry['auth'] === 'string') {
      const decoded = Buffer.from(entry['auth'], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (typeof entry['username'] === 'string')
      return {
        username: entry['username'],
        password: typeof entry['password'] === 'string' ? entry['password'] : '',
      };
  }
  return undefined;
}

export async function storeCredentials(
  path: string,
  registry: string,
  username: string,
  password: string,
): Promise<void> {
  const cfg = await readConfig(path);
  const auths = { ...(cfg.auths ?? {}) };
  for (const key of Object.keys(auths)) if (normalizeRegistry(key) === registry) delete auths[key];
  auths[configKey(registry)] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  await writeConfig(path, { ...cfg, auths });
}

/** Removes the credentials for `registry`; false when there were none. */
export async function removeCredentials(path: string, registry: string): Promise<boolean> {
  const cfg = await readConfig(path);
  const auths = { ...(cfg.auths ?? {}) };
  let found = false;
  for (const key of Object.keys(auths)) {
    if (normalizeRegistry(key) === registry) {
      delete auths[key];
      found = true;
    }
  }
  if (found) await writeConfig(path, { ...cfg, auths });
  return found;
}
