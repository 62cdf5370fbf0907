/**
 * The field manager: keeps `metadata.managedFields` right on every write and implements
 * server-side apply (`application/apply-patch+yaml`), after upstream's structured-merge-diff.
 *
 * - Every create/update/patch records, for its field manager (operation `Update`), the fields
 *   it added or changed; other managers lose ownership of fields that changed or vanished.
 * - Apply merges the configuration into the live object, removes fields the applier owned
 *   before and no longer applies (unless someone else owns them), and fails with a Conflict
 *   whose causes carry `reason: FieldManagerConflict` when it would change a field another
 *   manager owns, unless `force` takes ownership.
 *
 * Server-maintained metadata (name, uid, resourceVersion, ...) is never tracked, as upstream.
 */
import { conflict, type StatusCause } from '../../lib/index.js';
import type { KubeObject, ManagedFieldsEntry } from '../../api/index.js';
import type { SchemaNode } from '../../api/index.js';
import {
  compareObjects,
  fieldSetOf,
  fieldsV1Of,
  FieldSet,
  mergeForApply,
  pathToString,
  removeItems,
} from './field-set.js';
import { jsonEqual } from './json-patch.js';

export interface FieldManagerScope {
  /** Root schema node of the kind. */
  readonly schema: SchemaNode;
  /** `v1`, `apps/v1`, ... */
  readonly apiVersion: string;
  /** `status` or `scale` when writing a subresource. */
  readonly subresource?: string;
  /** The write's time, RFC 3339 in seconds. */
  readonly now: string;
}

interface Manager {
  readonly name: string;
  readonly operation: 'Apply' | 'Update';
  readonly subresource: string;
  apiVersion: string;
  time: string | undefined;
  set: FieldSet;
  changed: boolean;
}

/** Metadata fields the server owns; they never appear in managed field sets. */
const serverMetadata = [
  'name',
  'namespace',
  'creationTimestamp',
  'selfLink',
  'uid',
  'clusterName',
  'generation',
  'managedFields',
  'resourceVersion',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
];

const serverMetadataSet = new Set(serverMetadata);

/** A shallow copy without the fields managed-field tracking ignores. */
function stripped(obj: KubeObject | Record<string, unknown> | undefined): Record<string, unknown> {
  if (!obj) return {};
  // Built key by key: `delete` would turn the copies into slow dictionary-mode objects.
  const out: Record<string, unknown> = {};
  let meta: Record<string, unknown> | undefined;
  for (const k in obj) {
    if (k === 'apiVersion' || k === 'kind') continue;
    const v = (obj as Record<string, unknown>)[k];
    if (k !== 'metadata') {
      out[k] = v;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    for (const mk in v) {
      if (serverMetadataSet.has(mk)) continue;
      (meta ??= {})[mk] = (v as Record<string, unknown>)[mk];
    }
  }
  if (meta) out['metadata'] = meta;
  return out;
}

function managerKey(name: string, operation: string, subresource: string): string {
  return `${name}\u0000${operation}\u0000${subresource}`;
}

function decode(entries: readonly ManagedFieldsEntry[] | undefined): Map<string, Manager> {
  const out = new Map<string, Manager>();
  for (const e of entries ?? []) {
    if (!e || (typeof e.manager !== 'string' && e.manager !== undefined)) continue;
    const operation = e.operation === 'Apply' ? 'Apply' : 'Update';
    const name = e.manager ?? '';
    const subresource = e.subresource ?? '';
    const key = managerKey(name, operation, subresource);
    const set = FieldSet.fromFieldsV1(e.fieldsV1);
    const existing = out.get(key);
    if (existing) {
      existing.set = existing.set.union(set);
      continue;
    }
    out.set(key, {
      name,
      operation,
      subresource,
      apiVersion: e.apiVersion ?? '',
      time: e.time,
      set,
      changed: false,
    });
  }
  return out;
}

function encode(managers: Map<string, Manager>): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const m of managers.values()) {
    if (m.set.isEmpty()) continue;
    const e: ManagedFieldsEntry = {
      manager: m.name,
      operation: m.operation,
      apiVersion: m.apiVersion,
      ...(m.time !== undefined ? { time: m.time } : {}),
      fieldsType: 'FieldsV1',
      fieldsV1: m.set.toFieldsV1(),
      ...(m.subresource ? { subresource: m.subresource } : {}),
    };
    out.push(e);
  }
  return out;
}

function ownManager(
  managers: Map<string, Manager>,
  name: string,
  operation: 'Apply' | 'Update',
  scope: FieldManagerScope,
): Manager {
  const key = managerKey(name, operation, scope.subresource ?? '');
  let m = managers.get(key);
  if (!m) {
    m = {
      name,
      operation,
      subresource: scope.subresource ?? '',
      apiVersion: scope.apiVersion,
      time: scope.now,
      set: new FieldSet(),
      changed: true,
    };
    managers.set(key, m);
  }
  return m;
}

/**
 * The managed fields the live object starts from: those of `next` when the writer sent
 * different ones (a reset, upstream semantics: `[]` keeps the live ones, `[{}]` clears them).
 */
function baseline(live: KubeObject | undefined, next: KubeObject): Map<string, Manager> {
  const sent = next.metadata.managedFields;
  const liveEntries = live?.metadata.managedFields;
  if (sent === undefined || sent.length === 0 || jsonEqual(sent, liveEntries ?? []))
    return decode(liveEntries);
  if (sent.length === 1 && Object.keys(sent[0] ?? {}).length === 0) return new Map();
  return decode(sent);
}

/**
 * Records a create/update/patch by `manager` (operation Update): sets
 * `next.metadata.managedFields`. `live` is undefined for a create.
 */
export function trackUpdate(
  live: KubeObject | undefined,
  next: KubeObject,
  manager: string,
  scope: FieldManagerScope,
): void {
  const managers = baseline(live, next);
  if (live === undefined && managers.size === 0) {
    // A create with no managed fields sent: the creator owns everything it wrote.
    const fieldsV1 = fieldsV1Of(scope.schema, stripped(next));
    next.metadata.managedFields =
      Object.keys(fieldsV1).length === 0
        ? []
        : [
            {
              manager,
              operation: 'Update',
              apiVersion: scope.apiVersion,
              time: scope.now,
              fieldsType: 'FieldsV1',
              fieldsV1,
              ...(scope.subresource ? { subresource: scope.subresource } : {}),
            },
          ];
    return;
  }
  const cmp = compareObjects(scope.schema, stripped(live), stripped(next));
  const touched = cmp.added.union(cmp.modified);
  const own = ownManager(managers, manager, 'Update', scope);
  for (const m of managers.values()) {
    if (m === own) continue;
    const lost = m.set.intersection(touched).union(m.set.intersection(cmp.removed));
    if (!lost.isEmpty()) {
      m.set = m.set.difference(lost);
    }
  }
  const nextSet = own.set.difference(cmp.removed).union(touched);
  if (!touched.isEmpty() || !cmp.removed.isEmpty()) {
    own.time = scope.now;
    own.apiVersion = scope.apiVersion;
  }
  own.set = nextSet;
  next.metadata.managedFields = encode(managers);
}

export interface ApplyOptions {
  readonly force: boolean;
}

function printManager(m: Manager): string {
  let s = JSON.stringify(m.name);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === 'Update') {
    s += ` using ${m.apiVersion}`;
    if (m.time) s += ` at ${m.time}`;
  }
  return s;
}

/**
 * Server-side apply of `config` by `manager` onto `live` (undefined when creating).
 * Returns the merged object with its managed fields; the caller defaults, validates and
 * stores it like any update.
 * @throws Conflict (409) with FieldManagerConflict causes when another manager owns a field
 *   the configuration changes and `force` is false.
 */
export function applyConfiguration(
  live: KubeObject | undefined,
  config: KubeObject,
  manager: string,
  options: ApplyOptions,
  scope: FieldManagerScope,
): KubeObject {
  const managers = decode(live?.metadata.managedFields);
  const base: Record<string, unknown> = live
    ? (live as unknown as Record<string, unknown>)
    : { apiVersion: config.apiVersion, kind: config.kind, metadata: {} };
  const configWithoutManaged = { ...config, metadata: { ...config.metadata } };
  delete configWithoutManaged.metadata.managedFields;
  const merged = mergeForApply(scope.schema, base, configWithoutManaged) as KubeObject;

  const configSet = fieldSetOf(scope.schema, stripped(configWithoutManaged));
  const own = ownManager(managers, manager, 'Apply', scope);
  const lastSet = own.set;

  // Prune what this manager applied before and no longer applies, unless someone else owns it.
  let othersSet = new FieldSet();
  for (const m of managers.values()) if (m !== own) othersSet = othersSet.union(m.set);
  const toRemove = lastSet.difference(configSet).difference(othersSet);
  if (!toRemove.isEmpty()) removeItems(scope.schema, merged, toRemove);

  const cmp = compareObjects(scope.schema, stripped(live), stripped(merged));
  const touched = cmp.added.union(cmp.modified);
  const conflicts: { manager: Manager; path: string[] }[] = [];
  for (const m of managers.values()) {
    if (m === own) continue;
    for (const path of m.set.intersection(touched).paths()) conflicts.push({ manager: m, path });
  }
  if (conflicts.length > 0 && !options.force) throw conflictError(conflicts);
  for (const m of managers.values()) {
    if (m === own) continue;
    const lost = m.set.intersection(touched).union(m.set.intersection(cmp.removed));
    if (!lost.isEmpty()) m.set = m.set.difference(lost);
  }
  if (
    !jsonEqual(own.set.toFieldsV1(), configSet.toFieldsV1()) ||
    !touched.isEmpty() ||
    !cmp.removed.isEmpty()
  ) {
    own.time = scope.now;
  }
  own.set = configSet;
  own.apiVersion = scope.apiVersion;
  merged.metadata.managedFields = encode(managers);
  return merged;
}

function conflictError(unsorted: readonly { manager: Manager; path: string[] }[]): Error {
  // Upstream reports conflicts in field-path order.
  const conflicts = [...unsorted].sort((a, b) => {
    const pa = pathToString(a.path);
    const pb = pathToString(b.path);
    return pa < pb ? -1 : pa > pb ? 1 : 0;
  });
  const causes: StatusCause[] = conflicts.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${printManager(c.manager)}`,
    field: pathToString(c.path),
  }));
  let message: string;
  const first = conflicts[0];
  if (conflicts.length === 1 && first) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(first.manager)}: ${pathToString(first.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const k = printManager(c.manager);
      byManager.set(k, [...(byManager.get(k) ?? []), pathToString(c.path)]);
    }
    const lines: string[] = [];
    for (const k of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${k}:`);
      for (const p of byManager.get(k) ?? []) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return conflict(message, { details: { causes } });
}

/**
 * Whether `next` differs from `live` only in managed-field timestamps (or not at all), so the
 * write can be skipped as upstream does for no-op updates.
 */
export function isNoOpChange(live: KubeObject, next: KubeObject): boolean {
  const a = { ...live, metadata: { ...live.metadata, managedFields: undefined, resourceVersion: undefined } };
  const b = { ...next, metadata: { ...next.metadata, managedFields: undefined, resourceVersion: undefined } };
  if (!jsonEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)))) return false;
  const strip = (entries: readonly ManagedFieldsEntry[] | undefined) =>
    (entries ?? []).map((e) => ({ ...e, time: undefined }));
  return jsonEqual(
    JSON.parse(JSON.stringify(strip(live.metadata.managedFields))),
    JSON.parse(JSON.stringify(strip(next.metadata.managedFields))),
  );
}
