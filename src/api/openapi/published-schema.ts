/**
 * Turns the TypeBox schemas of kinds into the JSON Schema upstream publishes in OpenAPI
 * documents: named definitions (`io.k8s.api.core.v1.Container`) become shared entries referenced
 * by `$ref`, private `x-h8s-*` keys become `required`/`enum` or are replaced by the published
 * form (IntOrString, Quantity, Time), and `additionalProperties: false` is dropped (upstream
 * documents leave it out).
 */
import type { TSchema } from '@sinclair/typebox';
import { ENUM_KEY, isPrivateKey, NAME_KEY, PUBLISHED_KEY, REQUIRED_KEY } from '../schema/fields.js';

export type JsonSchema = Record<string, unknown>;

/** Where converted named schemas go, and how references to them are written. */
export interface DefinitionSet {
  /** `#/components/schemas/` (v3) or `#/definitions/` (v2). */
  readonly refPrefix: string;
  /**
   * How a described reference is written: v3 `{allOf: [{$ref}], description}` (as upstream, so
   * `kubectl explain` shows the field's description), v2 `{$ref, description}`.
   */
  readonly refStyle: 'allOf' | 'sibling';
  readonly definitions: Record<string, JsonSchema>;
}

export function createDefinitionSet(refPrefix: string, refStyle: 'allOf' | 'sibling'): DefinitionSet {
  return { refPrefix, refStyle, definitions: {} };
}

/** The definition name of a schema, if it is a named one. */
export function definitionName(schema: TSchema): string | undefined {
  const name = (schema as Record<string, unknown>)[NAME_KEY];
  return typeof name === 'string' ? name : undefined;
}

/**
 * The published form of `schema`. Named schemas are added to `set` (once) and answered with a
 * `$ref`, unless `inline` is true (used for the definition itself).
 */
export function publishSchema(
  schema: TSchema,
  set: DefinitionSet,
  inline = false,
  describeRef = true,
): JsonSchema {
  const name = definitionName(schema);
  if (name !== undefined && !inline) {
    if (!Object.prototype.hasOwnProperty.call(set.definitions, name)) {
      set.definitions[name] = {}; // placeholder first: guards against recursive schemas
      set.definitions[name] = publishBody(schema as JsonSchema, set);
    }
    const target = { $ref: `${set.refPrefix}${name}` };
    const description = (schema as Record<string, unknown>)['description'];
    // Array items and map values are plain references, as upstream writes them (a description
    // there would be printed twice by `kubectl explain`).
    if (!describeRef || typeof description !== 'string' || description === '') return target;
    return set.refStyle === 'allOf' ? { allOf: [target], description } : { ...target, description };
  }
  return publishBody(schema as JsonSchema, set);
}

function publishBody(s: JsonSchema, set: DefinitionSet): JsonSchema {
  const replacement = s[PUBLISHED_KEY];
  if (replacement && typeof replacement === 'object') {
    return {
      ...(typeof s['description'] === 'string' ? { description: s['description'] } : {}),
      ...(replacement as JsonSchema),
    };
  }
  const out: JsonSchema = {};
  for (const key of Object.keys(s)) {
    const v = s[key];
    if (isPrivateKey(key) || v === undefined) continue;
    switch (key) {
      case 'properties': {
        const props: JsonSchema = {};
        for (const [p, sub] of Object.entries(v as Record<string, TSchema>))
          props[p] = publishSchema(sub, set);
        if (Object.keys(props).length > 0) out['properties'] = props;
        break;
      }
      case 'additionalProperties':
        if (v === true) out[key] = true;
        else if (v && typeof v === 'object') out[key] = publishSchema(v as TSchema, set, false, false);
        break;
      case 'items':
        out[key] = publishSchema(v as TSchema, set, false, false);
        break;
      case 'anyOf':
      case 'oneOf':
      case 'allOf':
        out[key] = (v as TSchema[]).map((x) => publishSchema(x, set, false, false));
        break;
      case 'required':
        // TypeBox's own `required` never appears (all properties are optional); keep others.
        if (Array.isArray(v) && v.length > 0) out[key] = v;
        break;
      default:
        out[key] = v;
    }
  }
  const required = s[REQUIRED_KEY];
  if (Array.isArray(required) && required.length > 0) out['required'] = [...required].sort();
  const enumValues = s[ENUM_KEY];
  if (Array.isArray(enumValues)) out['enum'] = [...enumValues];
  if (
    out['type'] === undefined &&
    out['$ref'] === undefined &&
    !out['anyOf'] &&
    !out['oneOf'] &&
    !out['allOf'] &&
    s['type'] === undefined
  ) {
    // Any JSON value (Type.Unknown): upstream marks these as preserving unknown fields.
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}
