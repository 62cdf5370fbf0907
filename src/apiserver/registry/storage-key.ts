/**
 * Store keys of objects: `/registry/<group>/<resource>/<namespace>/<name>` for namespaced kinds
 * and `/registry/<group>/<resource>/<name>` for cluster-scoped ones (`core` for the core group).
 * Prefixes always end with `/`, so `pods` never matches `podsecuritypolicies`.
 */
import { notFound } from '../../lib/index.js';

export interface KeySpace {
  readonly group: string;
  readonly resource: string;
  readonly namespaced: boolean;
}

/** Prefix of every object of the resource (all namespaces). */
export function resourcePrefix(r: KeySpace): string {
  return `/registry/${r.group === '' ? 'core' : r.group}/${r.resource}/`;
}

/** Prefix of the objects of one namespace, or of all when `namespace` is undefined. */
export function collectionPrefix(r: KeySpace, namespace: string | undefined): string {
  const base = resourcePrefix(r);
  return r.namespaced && namespace !== undefined ? `${base}${namespace}/` : base;
}

function segmentIsSafe(s: string): boolean {
  return s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\u0000');
}

/**
 * Key of one object. Names that cannot be stored (empty, with `/`) cannot exist, so they are
 * NotFound here; create validates names before it builds a key.
 */
export function objectKey(r: KeySpace, namespace: string | undefined, name: string, what: string): string {
  if (!segmentIsSafe(name) || (r.namespaced && !segmentIsSafe(namespace ?? ''))) {
    throw notFound(`${what} "${name}" not found`, { details: { name, group: r.group, kind: r.resource } });
  }
  return r.namespaced ? `${resourcePrefix(r)}${namespace}/${name}` : `${resourcePrefix(r)}${name}`;
}
