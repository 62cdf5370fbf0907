/**
 * Strict field validation support: finding (and for `fieldValidation=Warn|Ignore`, dropping)
 * fields an object schema does not declare, and dropping JSON `null`s the way Go's decoder
 * treats them (as absent) before the schema check.
 */
import type { TSchema } from '@sinclair/typebox';

interface SchemaNode {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
}

function childPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function walk(
  schema: SchemaNode,
  value: unknown,
  path: string,
  prune: boolean,
  out: string[],
  max: number,
): void {
  if (out.length >= max || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    if (schema.items)
      value.forEach((v, i) => walk(schema.items as SchemaNode, v, `${path}[${i}]`, prune, out, max));
    return;
  }
  if (schema.type !== 'object') return;
  const rec = value as Record<string, unknown>;
  const props = schema.properties ?? {};
  const extra = schema.additionalProperties;
  for (const key of Object.keys(rec)) {
    const sub = Object.prototype.hasOwnProperty.call(props, key) ? props[key] : undefined;
    if (sub) {
      walk(sub, rec[key], childPath(path, key), prune, out, max);
    } else if (extra === true || extra === undefined) {
      // JSON Schema: without additionalProperties false, undeclared fields are allowed.
      continue;
    } else if (typeof extra === 'object') {
      walk(extra, rec[key], `${path}[${key}]`, prune, out, max);
    } else {
      out.push(childPath(path, key));
      if (prune) delete rec[key];
      if (out.length >= max) return;
    }
  }
}

/**
 * The paths of fields `value` carries that `schema` does not declare, in kubectl's notation
 * (`spec.containers[0].imagePullPolicyy`), at most `max` of them.
 */
export function findUnknownFields(schema: TSchema, value: unknown, max = 100): string[] {
  const out: string[] = [];
  walk(schema as SchemaNode, value, '', false, out, max);
  return out;
}

/** Removes undeclared fields from `value` in place; returns their paths (for warnings). */
export function pruneUnknownFields(schema: TSchema, value: unknown): string[] {
  const out: string[] = [];
  walk(schema as SchemaNode, value, '', true, out, Number.MAX_SAFE_INTEGER);
  return out;
}

/**
 * Removes object properties whose value is `null`, recursively and in place, as Go's JSON
 * decoder treats them (kubectl 1.20 sends `"creationTimestamp": null`). Array elements are left.
 */
export function dropNullFields(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) dropNullFields(v);
    return;
  }
  const rec = value as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    const v = rec[key];
    if (v === null) delete rec[key];
    else if (typeof v === 'object') dropNullFields(v);
  }
}
