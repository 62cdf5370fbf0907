/**
 * Unknown-field detection for field validation (`fieldValidation=Strict|Warn|Ignore`), and the
 * null handling of Go's JSON decoder.
 *
 * Upstream decodes into typed structs, which silently drops fields the type does not know;
 * strict decoding reports them first. We do the same in one walk beside the kind's schema
 * (`schema-node.ts`): every field the schema does not know is removed from the object (always)
 * and its path is returned (for the 400 in Strict mode and the Warning headers in Warn mode).
 */
import type { SchemaNode } from './schema-node.js';

/** Paths are rendered as upstream does: `spec.containers[0].foo`. */
function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Removes, in place, every field of `value` its schema does not know, and returns their paths
 * (at most `maxReported`; pruning continues past it). Object properties that are `null` are
 * removed too, without a report, as Go's decoder treats them as absent.
 */
export function pruneUnknownFields(node: SchemaNode, value: unknown, maxReported = 100): string[] {
  const found: string[] = [];
  walk(node, value, '', found, maxReported);
  return found;
}

function walk(node: SchemaNode, value: unknown, path: string, found: string[], max: number): void {
  if (value === null || typeof value !== 'object') return;
  switch (node.shape) {
    case 'any':
    case 'scalar':
      dropNullFields(value);
      return;
    case 'list': {
      if (!Array.isArray(value)) return;
      const items = node.items();
      for (let i = 0; i < value.length; i++) walk(items, value[i], `${path}[${i}]`, found, max);
      return;
    }
    case 'map':
    case 'struct': {
      if (Array.isArray(value)) return;
      const obj = value as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        // Go's decoder reads a JSON null as "absent": drop it (clients send creationTimestamp: null).
        if (obj[key] === null) {
          delete obj[key];
          continue;
        }
        const child = node.child(key);
        if (!child) {
          if (found.length < max) found.push(join(path, key));
          delete obj[key];
          continue;
        }
        walk(child, obj[key], join(path, key), found, max);
      }
      return;
    }
  }
}

/**
 * Removes object properties whose value is `null`, recursively and in place, as Go's JSON
 * decoder treats them (kubectl 1.20 sends `"creationTimestamp": null`). Array elements are
 * left, as upstream leaves them.
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
