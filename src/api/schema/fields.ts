/**
 * Builders for the TypeBox schemas of API objects, so each kind file reads like upstream's
 * `types.go`: one line per field with its JSON name, type and a short description.
 *
 * Conventions (relied on by the OpenAPI builder, the unknown-field walker and the apiserver's
 * strategic merge patch):
 * - Objects are closed (`additionalProperties: false`); maps are `{ additionalProperties: <value> }`;
 *   free-form JSON is `{ additionalProperties: true }` (or `Type.Unknown()`).
 * - Every property is optional for the runtime check: a missing required field is reported by the
 *   kind's `validate` with upstream wording (`spec.containers: Required value`), not by the schema.
 *   Fields upstream marks required are listed under the private key `x-h8s-required` and published
 *   as `required` in OpenAPI.
 * - Schemas that upstream publishes as named definitions carry `x-h8s-name` (e.g.
 *   `io.k8s.api.core.v1.Container`); the OpenAPI builder turns them into `components.schemas`
 *   entries and `$ref`s. `x-h8s-openapi` replaces a schema in published documents (IntOrString,
 *   Quantity and Time are checked more precisely than upstream publishes them).
 * - List merge keys for strategic merge patch use upstream's extension names
 *   (`x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy`, `x-kubernetes-list-type`,
 *   `x-kubernetes-list-map-keys`), exactly as upstream OpenAPI documents carry them.
 */
import {
  Type,
  type TArray,
  type TBoolean,
  type TInteger,
  type TNumber,
  type TObject,
  type TOptional,
  type TProperties,
  type TSchema,
  type TString,
  type TUnion,
  type TUnknown,
  type TUnsafe,
  type Static,
} from '@sinclair/typebox';

/** Private key: the OpenAPI definition name of a schema. */
export const NAME_KEY = 'x-h8s-name';
/** Private key: properties upstream marks required (published as `required`). */
export const REQUIRED_KEY = 'x-h8s-required';
/** Private key: the schema to publish instead of this one. */
export const PUBLISHED_KEY = 'x-h8s-openapi';

/** Private key: the allowed values of a string, published as `enum`. */
export const ENUM_KEY = 'x-h8s-enum';

/** Private keys never appear in published documents. */
export function isPrivateKey(key: string): boolean {
  return key.startsWith('x-h8s-');
}

export type OptionalProperties<P extends TProperties> = { [K in keyof P]: TOptional<P[K]> };

export interface ObjectOptions {
  /** Properties upstream marks required; checked by `validate`, published in OpenAPI. */
  readonly required?: readonly string[];
  /** Extra schema keywords (e.g. `x-kubernetes-map-type`). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * A closed object schema whose properties are all optional for the runtime check.
 * @param name upstream definition name (`io.k8s.api.core.v1.Container`), or undefined for an
 *   anonymous object.
 */
export function object<P extends TProperties>(
  name: string | undefined,
  description: string,
  properties: P,
  options: ObjectOptions = {},
): TObject<OptionalProperties<P>> {
  const props: Record<string, TSchema> = {};
  for (const key of Object.keys(properties)) props[key] = Type.Optional(properties[key] as TSchema);
  return Type.Object(props as OptionalProperties<P>, {
    additionalProperties: false,
    description,
    ...(name === undefined ? {} : { [NAME_KEY]: name }),
    ...(options.required && options.required.length > 0 ? { [REQUIRED_KEY]: [...options.required] } : {}),
    ...options.extra,
  });
}

export function str(description: string, extra: Record<string, unknown> = {}): TString {
  return Type.String({ description, ...extra });
}

export function int32(description: string): TInteger {
  return Type.Integer({ description, format: 'int32' });
}

export function int64(description: string): TInteger {
  return Type.Integer({ description, format: 'int64' });
}

export function double(description: string): TNumber {
  return Type.Number({ description, format: 'double' });
}

export function bool(description: string): TBoolean {
  return Type.Boolean({ description });
}

/** A list of strings. */
export function stringList(description: string, extra: Record<string, unknown> = {}): TArray<TString> {
  return Type.Array(Type.String(), { description, ...extra });
}

/** A list with upstream's list semantics for merging and server-side apply. */
export function list<T extends TSchema>(
  items: T,
  description: string,
  semantics: ListSemantics = {},
): TArray<T> {
  const extra: Record<string, unknown> = {};
  if (semantics.mergeKey !== undefined) {
    extra['x-kubernetes-patch-merge-key'] = semantics.mergeKey;
    extra['x-kubernetes-patch-strategy'] = semantics.strategy ?? 'merge';
  } else if (semantics.strategy !== undefined) {
    extra['x-kubernetes-patch-strategy'] = semantics.strategy;
  }
  if (semantics.listType !== undefined) extra['x-kubernetes-list-type'] = semantics.listType;
  if (semantics.mapKeys !== undefined) extra['x-kubernetes-list-map-keys'] = [...semantics.mapKeys];
  return Type.Array(items, { description, ...extra });
}

export interface ListSemantics {
  /** Strategic merge patch key (`name`, `containerPort`, ...). */
  readonly mergeKey?: string;
  /** Strategic merge patch strategy: `merge` (default with a key), `merge,retainKeys`, `replace`. */
  readonly strategy?: string;
  /** Server-side apply list type. */
  readonly listType?: 'atomic' | 'set' | 'map';
  readonly mapKeys?: readonly string[];
}

/** `map[string]string` (labels, annotations, data, nodeSelector, ...). */
export function stringMap(description: string): TUnsafe<Record<string, string>> {
  return mapOf(Type.String(), description);
}

/**
 * `map[string]T`: an object whose every property matches `value`. (`Type.Record` would publish
 * `patternProperties`, which OpenAPI 3.0 and kubectl do not understand.)
 */
export function mapOf<T extends TSchema>(value: T, description: string): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>(
    Type.Object({}, { description, additionalProperties: value }),
  );
}

/** Free-form JSON object (FieldsV1, RawExtension payloads): any content is accepted. */
export function freeObject(description: string): TUnsafe<Record<string, unknown>> {
  return Type.Unsafe<Record<string, unknown>>(Type.Object({}, { description, additionalProperties: true }));
}

/** Any JSON value. */
export function anyValue(description: string): TUnknown {
  return Type.Unknown({ description });
}

/** One of a fixed set of strings, checked in `validate` (so errors say "Unsupported value"). */
export function stringEnum(description: string, values: readonly string[]): TString {
  return Type.String({ description, [ENUM_KEY]: [...values] });
}

/**
 * `intstr.IntOrString`: an integer or a string (`8080`, `http`, `25%`). Published as upstream
 * publishes it.
 */
export function intOrString(description: string): TUnion<[TInteger, TString]> {
  return Type.Union([Type.Integer(), Type.String()], {
    description,
    'x-kubernetes-int-or-string': true,
    [NAME_KEY]: 'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    [PUBLISHED_KEY]: { type: 'string', format: 'int-or-string' },
  });
}

/**
 * `resource.Quantity`: `"100m"`, `"128Mi"`, `"1.5"`, or a JSON number (upstream accepts both).
 * The grammar is checked by `parseQuantity` in `validate`.
 */
export function quantity(description: string): TUnion<[TString, TNumber]> {
  return Type.Union([Type.String(), Type.Number()], {
    description,
    [NAME_KEY]: 'io.k8s.apimachinery.pkg.api.resource.Quantity',
    [PUBLISHED_KEY]: { type: 'string' },
  });
}

/** RFC 3339 timestamp with seconds precision (`metav1.Time`), e.g. `2024-05-01T10:00:00Z`. */
export const RFC3339_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

export function time(description: string): TString {
  return Type.String({
    description,
    pattern: RFC3339_PATTERN,
    [NAME_KEY]: 'io.k8s.apimachinery.pkg.apis.meta.v1.Time',
    [PUBLISHED_KEY]: { type: 'string', format: 'date-time' },
  });
}

/** `metav1.MicroTime` (RFC 3339 with microseconds). */
export function microTime(description: string): TString {
  return Type.String({
    description,
    pattern: RFC3339_PATTERN,
    [NAME_KEY]: 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime',
    [PUBLISHED_KEY]: { type: 'string', format: 'date-time' },
  });
}

/** `[]byte` in JSON: a base64 string (checked by the kind's `validate`). */
export function bytes(description: string): TString {
  return Type.String({ description, [PUBLISHED_KEY]: { type: 'string', format: 'byte' } });
}

/** The properties every top-level object has before its own (`apiVersion`, `kind`). */
export function typeMetaProperties(): { apiVersion: TString; kind: TString } {
  return {
    apiVersion: str(
      'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
    ),
    kind: str(
      'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
    ),
  };
}
