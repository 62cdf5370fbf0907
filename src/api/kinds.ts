/**
 * The registry of served kinds: `allKinds()` in a stable order, and lookups by resource
 * (group, version, plural), by apiVersion + kind, and by any name kubectl accepts (plural,
 * singular, short name). Built once at import; pure.
 */
import type { KindDefinition } from './kind-definition.js';
import { configMapKind } from './core/v1/config-map.js';
import { namespaceKind } from './core/v1/namespace.js';
import { networkKind } from './core/v1/network.js';
import { podKind } from './core/v1/pod.js';
import { secretKind } from './core/v1/secret.js';

const kinds: readonly KindDefinition[] = Object.freeze([
  // core/v1
  namespaceKind,
  podKind,
  configMapKind,
  secretKind,
  networkKind,
]);

/** `v1` for the core group, `apps/v1` otherwise. */
export function apiVersionOf(def: Pick<KindDefinition, 'group' | 'version'>): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

/** Splits an apiVersion into group and version (`v1` → core group). */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

const byResource = new Map<string, KindDefinition>();
const byGvk = new Map<string, KindDefinition>();
const byName = new Map<string, KindDefinition[]>();

function addName(name: string, def: KindDefinition): void {
  const list = byName.get(name) ?? [];
  if (!list.includes(def)) list.push(def);
  byName.set(name, list);
}

for (const def of kinds) {
  byResource.set(`${def.group}/${def.version}/${def.plural}`, def);
  byGvk.set(`${apiVersionOf(def)}/${def.kind}`, def);
  addName(def.plural, def);
  addName(def.singular, def);
  addName(def.kind.toLowerCase(), def);
  for (const s of def.shortNames) addName(s, def);
}

/** Every served kind, in a stable order (core first). */
export function allKinds(): readonly KindDefinition[] {
  return kinds;
}

/** The kind served at `/{group}/{version}/{plural}`, or undefined. */
export function findKindByResource(
  group: string,
  version: string,
  plural: string,
): KindDefinition | undefined {
  return byResource.get(`${group}/${version}/${plural}`);
}

/** The kind for a manifest's `apiVersion` and `kind`, or undefined. */
export function findKindByApiVersionKind(apiVersion: string, kind: string): KindDefinition | undefined {
  return byGvk.get(`${apiVersion}/${kind}`);
}

/** The kind for a short name such as `po`, `deploy`, `net`, or undefined. */
export function findKindByShortName(shortName: string): KindDefinition | undefined {
  const candidates = byName.get(shortName.toLowerCase()) ?? [];
  return candidates.find((d) => d.shortNames.includes(shortName.toLowerCase()));
}

/**
 * Resolves what a user types (`pods`, `pod`, `po`, `deployments.apps`, `Network`) to kinds;
 * several when the name is ambiguous across groups. An optional `.group` suffix narrows it.
 */
export function findKindsByName(name: string): readonly KindDefinition[] {
  const lower = name.toLowerCase();
  const direct = byName.get(lower);
  if (direct) return direct;
  const dot = lower.indexOf('.');
  if (dot < 0) return [];
  const group = lower.slice(dot + 1);
  return (byName.get(lower.slice(0, dot)) ?? []).filter((d) => d.group === group);
}

/** The group/versions served, in discovery order: `[{ group: '', version: 'v1' }, ...]`. */
export function servedGroupVersions(): readonly { group: string; version: string }[] {
  const seen = new Set<string>();
  const out: { group: string; version: string }[] = [];
  for (const def of kinds) {
    const key = apiVersionOf(def);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ group: def.group, version: def.version });
  }
  return out;
}
