/**
 * Quantities given as JSON numbers (`cpu: 1`, `cpu: 0.5`) become the strings upstream stores
 * (`"1"`, `"500m"`), so every reader sees one representation.
 */
import type { TSchema } from '@sinclair/typebox';
import { quantityFromNumber } from '../resource/quantity.js';
import { NAME_KEY } from './fields.js';

const QUANTITY_NAME = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

interface Node {
  readonly [NAME_KEY]?: string;
  readonly properties?: Readonly<Record<string, Node>>;
  readonly additionalProperties?: boolean | Node;
  readonly items?: Node;
}

function isQuantitySchema(s: Node | undefined): boolean {
  return s !== undefined && s[NAME_KEY] === QUANTITY_NAME;
}

function walk(schema: Node, value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (isQuantitySchema(items) && typeof v === 'number') value[i] = quantityFromNumber(v);
      else walk(items, v);
    }
    return;
  }
  const rec = value as Record<string, unknown>;
  const props = schema.properties ?? {};
  const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  for (const key of Object.keys(rec)) {
    const sub = Object.prototype.hasOwnProperty.call(props, key) ? props[key] : extra;
    if (!sub) continue;
    const v = rec[key];
    if (isQuantitySchema(sub) && typeof v === 'number') rec[key] = quantityFromNumber(v);
    else if (typeof v === 'object' && v !== null) walk(sub, v);
  }
}

/** Rewrites, in place, every quantity of `value` given as a number into its string form. */
export function stringifyQuantities(schema: TSchema, value: unknown): void {
  walk(schema as Node, value);
}
