/**
 * Image references as Docker spells them (`busybox`, `busybox:1.36`, `127.0.0.1:5000/team/app:v1`,
 * `registry/app@sha256:…`), normalised the way Docker does: no registry means `docker.io`,
 * and a single-component name on Docker Hub lives under `library/`.
 */
import { invalid } from '../lib/index.js';
import { isDigest } from './digest.js';

export const dockerHubRegistry = 'docker.io';

export interface ImageReference {
  /** Registry host (and port), e.g. `docker.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly repository: string;
  /** Tag; `latest` when neither tag nor digest was given. Undefined for digest-only refs. */
  readonly tag?: string;
  /** `sha256:<hex>` when the reference pins a manifest. */
  readonly digest?: string;
}

const maxReferenceLength = 4096;
// Path components as the distribution reference grammar defines them.
const componentRe = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const hostRe =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;

/**
 * Parses and normalises an image reference.
 * @throws Invalid naming what is wrong with it.
 */
export function parseReference(ref: string): ImageReference {
  const bad = (why: string): never => {
    throw invalid(`Invalid image reference "${ref.slice(0, 200)}": ${why}`);
  };
  if (ref === '') bad('it is empty');
  if (ref.length > maxReferenceLength) bad(`it is longer than ${maxReferenceLength} characters`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) bad(`"${digest.slice(0, 100)}" is not a sha256 digest`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) bad(`tag "${tag.slice(0, 200)}" is not valid`);
  }
  let registry = dockerHubRegistry;
  let path = rest;
  const first = rest.indexOf('/');
  if (first >= 0) {
    const head = rest.slice(0, first);
    if (head.includes('.') || head.includes(':') || head === 'localhost' || head.startsWith('[')) {
      if (!hostRe.test(head)) bad(`registry "${head}" is not a valid host`);
      registry = head;
      path = rest.slice(first + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = dockerHubRegistry;
  if (path === '') bad('the repository name is empty');
  for (const c of path.split('/')) {
    if (!componentRe.test(c))
      bad(`repository component "${c.slice(0, 200)}" must be lower-case letters, digits and separators`);
  }
  if (registry === dockerHubRegistry && !path.includes('/')) path = `library/${path}`;
  if (tag === undefined && digest === undefined) tag = 'latest';
  return {
    registry,
    repository: path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** `docker.io/library/busybox` → `busybox`, as `docker images` shows repository names. */
export function familiarName(registry: string, repository: string): string {
  if (registry === dockerHubRegistry) {
    return repository.startsWith('library/') ? repository.slice('library/'.length) : repository;
  }
  return `${registry}/${repository}`;
}

/** The repository as shown to users, e.g. `127.0.0.1:5000/busybox` or `busybox`. */
export function repositoryName(ref: ImageReference): string {
  return familiarName(ref.registry, ref.repository);
}

/** `repo:tag` (familiar form) of a tagged reference. */
export function taggedName(ref: ImageReference): string | undefined {
  return ref.tag === undefined ? undefined : `${repositoryName(ref)}:${ref.tag}`;
}

/** The full string form: `repo:tag@digest`, `repo@digest` or `repo:tag`. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? ':' + ref.tag : ''}${ref.digest !== undefined ? '@' + ref.digest : ''}`;
}

/** Splits a familiar `repo:tag` back into its parts (used for stored tags). */
export function splitRepoTag(repoTag: string): { repository: string; tag: string } {
  const slash = repoTag.lastIndexOf('/');
  const colon = repoTag.lastIndexOf(':');
  if (colon > slash) return { repository: repoTag.slice(0, colon), tag: repoTag.slice(colon + 1) };
  return { repository: repoTag, tag: 'latest' };
}

/** Whether the registry host is a loopback address (insecure by default, as in Docker). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registryHostname(registry);
  return host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1';
}

/** The host part of `host:port` or `[v6]:port`. */
export function registryHostname(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const c = registry.lastIndexOf(':');
  return c >= 0 ? registry.slice(0, c) : registry;
}
