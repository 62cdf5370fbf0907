/**
 * Sets of field paths in the `FieldsV1` form of `metadata.managedFields`, and the object
 * walks server-side apply needs (upstream structured-merge-diff): the field set of an object,
 * the comparison of two objects, removal of owned items, and the apply merge.
 *
 * Path elements are written as upstream writes them: `f:<field>` (struct field or map key),
 * `k:{"name":"web"}` (item of an associative list, key fields sorted), `v:"x"` (item of a set),
 * `i:3` (item of a list that has no usable key). A node is a *member* when the path itself is
 * in the set; FieldsV1 marks a member that also has children with `".": {}`.
 */
import { isRecord } from '../../lib/index.js';
import type { SchemaNode } from '../../api/index.js';
import { jsonEqual } from './json-patch.js';

type JsonMap = Record<string, unknown>;

/** A trie of path elements; see the module comment. */
export class FieldSet {
  member = false;
  readonly children = new Map<string, FieldSet>();

  static fromFieldsV1(raw: unknown): FieldSet {
    const set = new FieldSet();
    if (!isRecord(raw)) return set;
    for (const [k, v] of Object.entries(raw)) {
      if (k === '.') {
        set.member = true;
        continue;
      }
      const child = FieldSet.fromFieldsV1(v);
      if (!isRecord(v) || Object.keys(v).length === 0) child.member = true;
      set.children.set(k, child);
    }
    return set;
  }

  toFieldsV1(): JsonMap {
    const out: JsonMap = {};
    if (this.member && this.children.size > 0) out['.'] = {};
    for (const k of [...this.children.keys()].sort()) {
      const child = this.children.get(k) as FieldSet;
      if (child.isEmpty()) continue;
      out[k] = child.toFieldsV1();
    }
    return out;
  }

  isEmpty(): boolean {
    if (this.member) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  insert(path: readonly string[]): void {
    let node = this.#self();
    for (const pe of path) {
      let next = node.children.get(pe);
      if (!next) {
        next = new FieldSet();
        node.children.set(pe, next);
      }
      node = next;
    }
    node.member = true;
  }

  /** Whether `path` itself is a member. */
  has(path: readonly string[]): boolean {
    const n = this.#node(path);
    return n !== undefined && n.member;
  }

  #self(): FieldSet {
    return this;
  }

  #node(path: readonly string[]): FieldSet | undefined {
    let node: FieldSet | undefined = this.#self();
    for (const pe of path) {
      node = node.children.get(pe);
      if (!node) return undefined;
    }
    return node;
  }

  /** Member paths, depth first. */
  paths(prefix: string[] = [], out: string[][] = []): string[][] {
    if (this.member) out.push(prefix);
    for (const [k, c] of this.children) c.paths([...prefix, k], out);
    return out;
  }

  clone(): FieldSet {
    const out = new FieldSet();
    out.member = this.member;
    for (const [k, c] of this.children) out.children.set(k, c.clone());
    return out;
  }

  /** Paths in this set or in `other`. */
  union(other: FieldSet): FieldSet {
    const out = new FieldSet();
    out.member = this.member || other.member;
    for (const [k, c] of this.children) {
      const o = other.children.get(k);
      out.children.set(k, o ? c.union(o) : c.clone());
    }
    for (const [k, o] of other.children) if (!this.children.has(k)) out.children.set(k, o.clone());
    return out;
  }

  /** Paths of this set that are not members of `other`. */
  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    out.member = this.member && !other.member;
    for (const [k, c] of this.children) {
      const o = other.children.get(k);
      const d = o ? c.difference(o) : c.clone();
      if (!d.isEmpty()) out.children.set(k, d);
    }
    return out;
  }

  /** Paths that are members of both sets. */
  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    out.member = this.member && other.member;
    for (const [k, c] of this.children) {
      const o = other.children.get(k);
      if (!o) continue;
      const i = c.intersection(o);
      if (!i.isEmpty()) out.children.set(k, i);
    }
    return out;
  }
}

/** Renders a path as upstream prints it in conflicts: `.spec.containers[name="web"].image`. */
export function pathToString(path: readonly string[]): string {
  let out = '';
  for (const pe of path) {
    const kind = pe.slice(0, 2);
    const body = pe.slice(2);
    if (kind === 'f:') out += `.${body}`;
    else if (kind === 'i:') out += `[${body}]`;
    else if (kind === 'v:') out += `[=${body}]`;
    else if (kind === 'k:') {
      try {
        const keys = JSON.parse(body) as JsonMap;
        out += `[${Object.entries(keys)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',')}]`;
      } catch {
        out += `[${body}]`;
      }
    } else out += `.${pe}`;
  }
  return out;
}

/** Path element of a list item, or `i:<index>` when the list has no usable key. */
export function listItemElement(list: SchemaNode | undefined, item: unknown, index: number): string {
  if (list?.listType === 'map' && list.listMapKeys.length > 0 && isRecord(item)) {
    const keys: JsonMap = {};
    for (const k of list.sortedListMapKeys) {
      if (item[k] === undefined) return `i:${index}`;
      keys[k] = item[k];
    }
    return `k:${JSON.stringify(keys)}`;
  }
  if (list?.listType === 'set' && (item === null || typeof item !== 'object')) {
    return `v:${JSON.stringify(item)}`;
  }
  return `i:${index}`;
}

function isAtomic(node: SchemaNode | undefined, value: unknown): boolean {
  if (value === null || typeof value !== 'object' || !node) return true;
  if (Array.isArray(value)) return node.shape !== 'list' || node.listType === 'atomic';
  // Free-form (`any`) values and atomic structs/maps are owned as a whole.
  return !((node.shape === 'struct' || node.shape === 'map') && !node.isAtomicMap);
}

/**
 * Leaves of `value` keyed by path: scalars and atomic values carry their value, list items
 * carry a marker (they are members whose children hold the data).
 */
const itemMarker = Symbol('list item');

type Flat = Map<string, { path: string[]; value: unknown }>;

function flatten(node: SchemaNode | undefined, value: unknown, path: string[], out: Flat): void {
  if (Array.isArray(value)) {
    if (isAtomic(node, value)) {
      out.set(path.join('\u0000'), { path, value });
      return;
    }
    const items = node?.items();
    value.forEach((item, i) => {
      const pe = listItemElement(node, item, i);
      const p = [...path, pe];
      out.set(p.join('\u0000'), { path: p, value: pe.startsWith('v:') ? item : itemMarker });
      if (!pe.startsWith('v:')) flatten(items, item, p, out);
    });
    return;
  }
  if (isRecord(value) && node && (node.shape === 'struct' || node.shape === 'map') && !node.isAtomicMap) {
    for (const [k, v] of Object.entries(value)) {
      flatten(node.child(k), v, [...path, `f:${k}`], out);
    }
    return;
  }
  if (path.length > 0) out.set(path.join('\u0000'), { path, value });
}

/**
 * `fieldSetOf(node, value).toFieldsV1()` in one walk, without building the set (the create
 * path records the whole object for its creator).
 */
export function fieldsV1Of(node: SchemaNode, value: unknown): JsonMap {
  const out: JsonMap = {};
  walkFieldsV1(node, value, out);
  return out;
}

function walkFieldsV1(node: SchemaNode | undefined, value: unknown, out: JsonMap): void {
  if (Array.isArray(value)) {
    const items = node?.items();
    value.forEach((item, i) => {
      const pe = listItemElement(node, item, i);
      if (pe.startsWith('v:')) {
        out[pe] = {};
        return;
      }
      const child: JsonMap = { '.': {} };
      walkFieldsV1(items, item, child);
      out[pe] = child;
    });
    return;
  }
  if (!isRecord(value)) return;
  for (const key in value) {
    const v = value[key];
    const childNode = node?.child(key);
    if (isAtomic(childNode, v)) {
      out[`f:${key}`] = {};
      continue;
    }
    // Like `flatten`: a granular struct, map or list is only its contents (none when empty).
    const child: JsonMap = {};
    walkFieldsV1(childNode, v, child);
    for (const _ in child) {
      out[`f:${key}`] = child;
      break;
    }
  }
}

/** The field set of an object: every scalar, atomic value and list item it contains. */
export function fieldSetOf(node: SchemaNode, value: unknown): FieldSet {
  const flat: Flat = new Map();
  flatten(node, value, [], flat);
  const set = new FieldSet();
  for (const { path } of flat.values()) set.insert(path);
  return set;
}

export interface Comparison {
  readonly added: FieldSet;
  readonly modified: FieldSet;
  readonly removed: FieldSet;
}

/** What changed from `lhs` to `rhs`, as field sets. */
export function compareObjects(node: SchemaNode, lhs: unknown, rhs: unknown): Comparison {
  const l: Flat = new Map();
  const r: Flat = new Map();
  flatten(node, lhs, [], l);
  flatten(node, rhs, [], r);
  const added = new FieldSet();
  const modified = new FieldSet();
  const removed = new FieldSet();
  for (const [k, rv] of r) {
    const lv = l.get(k);
    if (!lv) added.insert(rv.path);
    else if (rv.value !== itemMarker && !jsonEqual(lv.value, rv.value)) modified.insert(rv.path);
  }
  for (const [k, lv] of l) if (!r.has(k)) removed.insert(lv.path);
  return { added, modified, removed };
}

/** Removes, in place, every member of `set` from `value` (list items as a whole). */
export function removeItems(node: SchemaNode | undefined, value: unknown, set: FieldSet): void {
  if (Array.isArray(value)) {
    const items = node?.items();
    for (let i = value.length - 1; i >= 0; i--) {
      const pe = listItemElement(node, value[i], i);
      const child = set.children.get(pe);
      if (!child) continue;
      if (child.member) value.splice(i, 1);
      else removeItems(items, value[i], child);
    }
    return;
  }
  if (!isRecord(value)) return;
  for (const [pe, child] of set.children) {
    if (!pe.startsWith('f:')) continue;
    const key = pe.slice(2);
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (child.member) delete value[key];
    else removeItems(node?.child(key), value[key], child);
  }
}

/**
 * The apply merge (structured-merge-diff `Merge`): `config` wins for scalars and atomic values,
 * structs and maps merge by field, associative lists by key, sets by value. Returns a new value.
 */
export function mergeForApply(node: SchemaNode | undefined, live: unknown, config: unknown): unknown {
  if (config === undefined) return structuredClone(live);
  if (isRecord(config) && isRecord(live) && node && !isAtomic(node, config)) {
    const out: JsonMap = structuredClone(live);
    for (const [k, v] of Object.entries(config)) out[k] = mergeForApply(node.child(k), out[k], v);
    return out;
  }
  if (Array.isArray(config) && Array.isArray(live) && node && !isAtomic(node, config)) {
    return mergeLists(node, live, config);
  }
  return structuredClone(config);
}

function mergeLists(node: SchemaNode, live: unknown[], config: unknown[]): unknown[] {
  const items = node.items();
  const liveKeys = live.map((x, i) => listItemElement(node, x, i));
  const configKeys = config.map((x, i) => listItemElement(node, x, i));
  // Items without a usable key cannot be matched: the configuration replaces the list.
  if ([...liveKeys, ...configKeys].some((k) => k.startsWith('i:'))) return structuredClone(config);
  const configByKey = new Map(configKeys.map((k, i) => [k, config[i]]));
  const liveSet = new Set(liveKeys);
  const out: unknown[] = [];
  const emitted = new Set<string>();
  let ci = 0;
  const emitConfigUpTo = (key: string): void => {
    // Emit configuration items in their order up to and including `key`.
    while (ci < configKeys.length) {
      const ck = configKeys[ci] as string;
      ci++;
      if (!emitted.has(ck)) {
        emitted.add(ck);
        const liveIndex = liveKeys.indexOf(ck);
        out.push(
          liveIndex >= 0
            ? mergeForApply(items, live[liveIndex], config[ci - 1])
            : structuredClone(config[ci - 1]),
        );
      }
      if (ck === key) return;
    }
  };
  liveKeys.forEach((lk, li) => {
    if (emitted.has(lk)) return;
    if (configByKey.has(lk)) emitConfigUpTo(lk);
    else {
      emitted.add(lk);
      out.push(structuredClone(live[li]));
    }
  });
  while (ci < configKeys.length) {
    const ck = configKeys[ci] as string;
    if (!emitted.has(ck)) {
      emitted.add(ck);
      out.push(
        liveSet.has(ck)
          ? mergeForApply(items, live[liveKeys.indexOf(ck)], config[ci])
          : structuredClone(config[ci]),
      );
    }
    ci++;
  }
  return out;
}
