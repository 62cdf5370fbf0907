/**
 * A read-only view of a kind's JSON Schema (TypeBox) shaped for the questions asked while
 * walking an object beside its schema: is this a struct with known fields, a map, a list (and
 * how it merges), or a scalar? Used by unknown-field pruning (here) and by the apiserver's
 * strategic merge patch and server-side apply.
 *
 * Handles what TypeBox and upstream OpenAPI emit: `$ref`/`$id` (recursive types), `anyOf` /
 * `oneOf` / `allOf` (nullable wrappers, int-or-string), `additionalProperties` and
 * `patternProperties` (TypeBox `Record`) as maps, and the Kubernetes extensions
 * `x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
 * `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, `x-kubernetes-preserve-unknown-fields`.
 *
 * Nodes are memoised per schema object, so walking is cheap after the first request.
 */

import { isRecord } from '../../lib/index.js';

type JsonSchema = Readonly<Record<string, unknown>>;

export type SchemaShape = 'struct' | 'map' | 'list' | 'scalar' | 'any';
export type ListType = 'atomic' | 'set' | 'map';

const anyNodeSchema: JsonSchema = {};

/** All `$id`s reachable from `root`, for `$ref` resolution. */
function collectIds(root: JsonSchema): Map<string, JsonSchema> {
  const ids = new Map<string, JsonSchema>();
  const seen = new Set<unknown>();
  const visit = (s: unknown): void => {
    if (typeof s !== 'object' || s === null || seen.has(s)) return;
    seen.add(s);
    if (Array.isArray(s)) {
      for (const x of s) visit(x);
      return;
    }
    const o = s as JsonSchema;
    if (typeof o['$id'] === 'string') ids.set(o['$id'], o);
    for (const v of Object.values(o)) visit(v);
  };
  visit(root);
  return ids;
}

class SchemaContext {
  readonly ids: Map<string, JsonSchema>;
  readonly nodes = new WeakMap<JsonSchema, SchemaNode>();
  constructor(root: JsonSchema) {
    this.ids = collectIds(root);
  }
}

/** One position in a schema. Obtain the root with `schemaNodeFor(schema)`. */
export class SchemaNode {
  readonly shape: SchemaShape;
  /** Known fields of a struct. */
  readonly #properties: Readonly<Record<string, unknown>> | undefined;
  /** Value schema of a map (or of a struct's extra keys). */
  readonly #additional: JsonSchema | undefined;
  /** A struct without `additionalProperties: false` admits fields it does not declare (JSON Schema). */
  readonly #isOpen: boolean = false;
  readonly #items: JsonSchema | undefined;
  readonly #ctx: SchemaContext;
  readonly #children = new Map<string, SchemaNode | null>();
  #itemNode: SchemaNode | undefined;
  #valueNode: SchemaNode | undefined;
  /** `x-kubernetes-patch-strategy` split on commas, e.g. ['merge', 'retainKeys']. */
  readonly patchStrategies: readonly string[];
  readonly patchMergeKey: string | undefined;
  /** How server-side apply treats this list. */
  readonly listType: ListType;
  readonly listMapKeys: readonly string[];
  /** `listMapKeys` sorted, as path elements spell them. */
  readonly sortedListMapKeys: readonly string[];
  /** `atomic` structs and maps are owned and replaced as a whole. */
  readonly isAtomicMap: boolean;
  /** The schema admits unknown fields below this point (no pruning, no merge keys). */
  readonly preservesUnknown: boolean;

  constructor(raw: JsonSchema, ctx: SchemaContext) {
    this.#ctx = ctx;
    const s = resolve(raw, ctx);
    const ext = collectExtensions(raw, s);
    this.patchStrategies =
      typeof ext['x-kubernetes-patch-strategy'] === 'string'
        ? ext['x-kubernetes-patch-strategy'].split(',').map((x) => x.trim())
        : [];
    this.patchMergeKey =
      typeof ext['x-kubernetes-patch-merge-key'] === 'string'
        ? ext['x-kubernetes-patch-merge-key']
        : undefined;
    this.preservesUnknown = ext['x-kubernetes-preserve-unknown-fields'] === true;
    this.isAtomicMap = ext['x-kubernetes-map-type'] === 'atomic';

    const type = schemaType(s);
    if (type === 'array') {
      this.shape = 'list';
      this.#items = isRecord(s['items']) ? s['items'] : anyNodeSchema;
    } else if (type === 'object') {
      const props = isRecord(s['properties']) ? s['properties'] : undefined;
      const additional = mapValueSchema(s);
      this.#properties = props;
      this.#additional = additional;
      this.#isOpen = s['additionalProperties'] === undefined && !isRecord(s['patternProperties']);
      if (props && Object.keys(props).length > 0) this.shape = 'struct';
      else if (additional) this.shape = 'map';
      else this.shape = this.preservesUnknown || !props ? 'any' : 'struct';
    } else if (type === 'any') {
      this.shape = 'any';
    } else {
      this.shape = 'scalar';
    }

    this.sortedListMapKeys = [];
    const declared = ext['x-kubernetes-list-type'];
    const keys = ext['x-kubernetes-list-map-keys'];
    if (this.shape !== 'list') {
      this.listType = 'atomic';
      this.listMapKeys = [];
    } else if (declared === 'map' || declared === 'set' || declared === 'atomic') {
      this.listType = declared;
      this.listMapKeys =
        declared === 'map'
          ? Array.isArray(keys)
            ? keys.filter((k): k is string => typeof k === 'string')
            : this.patchMergeKey
              ? [this.patchMergeKey]
              : []
          : [];
    } else if (this.patchStrategies.includes('merge')) {
      // Upstream structured-merge-diff derives list semantics from the patch strategy when
      // the list type is not declared: merge + key = associative list, merge alone = set.
      if (this.patchMergeKey) {
        this.listType = 'map';
        this.listMapKeys = [this.patchMergeKey];
      } else {
        this.listType = 'set';
        this.listMapKeys = [];
      }
    } else {
      this.listType = 'atomic';
      this.listMapKeys = [];
    }
    this.sortedListMapKeys = [...this.listMapKeys].sort();
  }

  /** True when the list merges by key in strategic merge patch. */
  get mergesByKey(): boolean {
    return (
      this.shape === 'list' && this.patchStrategies.includes('merge') && this.patchMergeKey !== undefined
    );
  }

  /** True when a list of primitives merges as a set in strategic merge patch. */
  get mergesAsSet(): boolean {
    return (
      this.shape === 'list' && this.patchStrategies.includes('merge') && this.patchMergeKey === undefined
    );
  }

  get retainsKeys(): boolean {
    return this.patchStrategies.includes('retainKeys');
  }

  /** Names of the known fields of a struct. */
  knownFields(): readonly string[] {
    return this.#properties ? Object.keys(this.#properties) : [];
  }

  /**
   * The node of field/key `name` below a struct or map; `undefined` when the struct does
   * not know the field (an unknown field). Below `any` nodes every child is `any`.
   */
  child(name: string): SchemaNode | undefined {
    if (this.shape === 'any') return anyNode(this.#ctx);
    if (this.shape === 'map') {
      this.#valueNode ??= nodeFor(this.#additional ?? anyNodeSchema, this.#ctx);
      return this.#valueNode;
    }
    if (this.shape !== 'struct') return undefined;
    const cached = this.#children.get(name);
    if (cached !== undefined) return cached ?? undefined;
    let node: SchemaNode | null = null;
    const p =
      this.#properties && Object.prototype.hasOwnProperty.call(this.#properties, name)
        ? this.#properties[name]
        : undefined;
    if (isRecord(p)) node = nodeFor(p, this.#ctx);
    else if (this.#additional) node = nodeFor(this.#additional, this.#ctx);
    else if (this.preservesUnknown || this.#isOpen) node = anyNode(this.#ctx);
    this.#children.set(name, node);
    return node ?? undefined;
  }

  /** The node of a list's items. */
  items(): SchemaNode {
    this.#itemNode ??= nodeFor(this.#items ?? anyNodeSchema, this.#ctx);
    return this.#itemNode;
  }
}

function anyNode(ctx: SchemaContext): SchemaNode {
  return nodeFor(anyNodeSchema, ctx);
}

function nodeFor(schema: JsonSchema, ctx: SchemaContext): SchemaNode {
  let n = ctx.nodes.get(schema);
  if (!n) {
    n = new SchemaNode(schema, ctx);
    ctx.nodes.set(schema, n);
  }
  return n;
}

/** Follows `$ref` and unwraps unions/intersections to the schema that says what the value is. */
function resolve(schema: JsonSchema, ctx: SchemaContext, depth = 0): JsonSchema {
  if (depth > 32) return anyNodeSchema;
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const target =
      ctx.ids.get(ref) ?? ctx.ids.get(ref.replace(/^#\/(definitions|components\/schemas)\//, ''));
    return target ? resolve(target, ctx, depth + 1) : anyNodeSchema;
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const alts = schema[key];
    if (Array.isArray(alts)) {
      const real = alts.filter((a): a is JsonSchema => isRecord(a) && a['type'] !== 'null');
      if (real.length === 1 && real[0]) return resolve(real[0], ctx, depth + 1);
      const resolved = real.map((a) => resolve(a, ctx, depth + 1));
      // A union with a structured member (rare) is treated as that member; int-or-string
      // and other unions of scalars are scalars.
      const structured = resolved.find((a) => {
        const t = schemaType(a);
        return t === 'object' || t === 'array';
      });
      if (structured) return structured;
      return { type: 'string' }; // int-or-string and friends: a scalar
    }
  }
  const all = schema['allOf'];
  if (Array.isArray(all)) {
    const parts = all.filter(isRecord).map((a) => resolve(a, ctx, depth + 1));
    if (parts.length === 1 && parts[0]) return parts[0];
    const properties: Record<string, unknown> = {};
    for (const p of parts) if (isRecord(p['properties'])) Object.assign(properties, p['properties']);
    return { ...schema, allOf: undefined, type: 'object', properties };
  }
  return schema;
}

/** Extensions may sit on the wrapper (a `$ref` sibling, a nullable union) or on the target. */
function collectExtensions(raw: JsonSchema, resolved: JsonSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of [resolved, raw]) {
    for (const [k, v] of Object.entries(s)) if (k.startsWith('x-kubernetes-')) out[k] = v;
  }
  return out;
}

function schemaType(s: JsonSchema): 'object' | 'array' | 'scalar' | 'any' {
  const t = s['type'];
  const types = Array.isArray(t) ? t.filter((x) => x !== 'null') : [t];
  const first = types[0];
  if (first === 'object') return 'object';
  if (first === 'array') return 'array';
  if (typeof first === 'string') return 'scalar';
  if (
    isRecord(s['properties']) ||
    s['additionalProperties'] !== undefined ||
    isRecord(s['patternProperties'])
  ) {
    return 'object';
  }
  if (s['items'] !== undefined) return 'array';
  if (s['x-kubernetes-int-or-string'] === true || s['const'] !== undefined || Array.isArray(s['enum'])) {
    return 'scalar';
  }
  return 'any';
}

function mapValueSchema(s: JsonSchema): JsonSchema | undefined {
  const ap = s['additionalProperties'];
  if (isRecord(ap)) return ap;
  if (ap === true) return anyNodeSchema;
  const pp = s['patternProperties'];
  if (isRecord(pp)) {
    const first = Object.values(pp)[0];
    if (isRecord(first)) return first;
  }
  return undefined;
}

const roots = new WeakMap<object, SchemaNode>();

/** The root node of a kind's schema (memoised). */
export function schemaNodeFor(schema: object): SchemaNode {
  let n = roots.get(schema);
  if (!n) {
    const s = schema as JsonSchema;
    n = nodeFor(s, new SchemaContext(s));
    roots.set(schema, n);
  }
  return n;
}
