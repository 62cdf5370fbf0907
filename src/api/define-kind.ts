/**
 * `defineKind` fills in what most kinds share (verbs, list kind, NAME/AGE columns) so each
 * kind file states only what is particular to it; `topLevelSchema` builds the object schema
 * with `apiVersion`, `kind` and `metadata`.
 */
import { Type, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { isRecord, type StatusCause } from '../lib/index.js';
import type {
  KindContext,
  KindDefinition,
  KubeObject,
  NameRule,
  ScaleSubresource,
  TableColumn,
  Verb,
} from './kind-definition.js';
import { ObjectMetaSchema } from './meta/v1/object-meta.js';
import { NAME_KEY, REQUIRED_KEY, type OptionalProperties, typeMetaProperties } from './schema/fields.js';
import { stringifyQuantities } from './schema/quantity-strings.js';
import { ageSince } from './table/format-age.js';

export const ALL_VERBS: readonly Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

/** The NAME column every table starts with. */
export const NAME_COLUMN: TableColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description:
    'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.',
  priority: 0,
};

/** The AGE column (rendered by the server as kubectl does, e.g. `5m`). */
export const AGE_COLUMN: TableColumn = {
  name: 'Age',
  type: 'string',
  format: '',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  priority: 0,
};

export function column(
  name: string,
  description: string,
  options: { type?: TableColumn['type']; priority?: 0 | 1 } = {},
): TableColumn {
  return { name, type: options.type ?? 'string', format: '', description, priority: options.priority ?? 0 };
}

/** The object's age cell. */
export function ageCell(obj: KubeObject, nowMs: number): string {
  return ageSince(obj.metadata.creationTimestamp, nowMs);
}

export interface KindSpec {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular?: string;
  readonly listKind?: string;
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  readonly namespaced: boolean;
  readonly verbs?: readonly Verb[];
  readonly description: string;
  readonly schema: TSchema;
  readonly hasStatusSubresource?: boolean;
  readonly scale?: ScaleSubresource;
  readonly tracksGeneration?: boolean;
  readonly nameRule?: NameRule;
  readonly applyDefaults?: (obj: KubeObject, ctx: KindContext) => void;
  readonly validate?: (obj: KubeObject, old: KubeObject | undefined, ctx: KindContext) => StatusCause[];
  /** Columns after NAME (NAME is added first); AGE must be listed where upstream shows it. */
  readonly columns?: readonly TableColumn[];
  /** Cells after the name cell, matching `columns`. */
  readonly cells?: (obj: KubeObject, nowMs: number) => readonly (string | number | boolean | null)[];
  /**
   * For the few kinds whose upstream table does not start with NAME (Event): the full column
   * list and row, used instead of `columns`/`cells`.
   */
  readonly customTable?: {
    readonly columns: readonly TableColumn[];
    readonly row: (obj: KubeObject, nowMs: number) => readonly (string | number | boolean | null)[];
  };
  readonly fieldSelectors?: Readonly<Record<string, (obj: KubeObject) => string>>;
}

/** Builds a frozen KindDefinition with upstream's usual defaults. */
export function defineKind(spec: KindSpec): KindDefinition {
  const cells = spec.cells ?? ((obj: KubeObject, nowMs: number) => [ageCell(obj, nowMs)]);
  const def: KindDefinition = {
    group: spec.group,
    version: spec.version,
    kind: spec.kind,
    listKind: spec.listKind ?? `${spec.kind}List`,
    plural: spec.plural,
    singular: spec.singular ?? spec.kind.toLowerCase(),
    shortNames: Object.freeze([...(spec.shortNames ?? [])]),
    categories: Object.freeze([...(spec.categories ?? [])]),
    namespaced: spec.namespaced,
    verbs: Object.freeze([...(spec.verbs ?? ALL_VERBS)]),
    description: spec.description,
    hasStatusSubresource: spec.hasStatusSubresource ?? false,
    ...(spec.scale ? { scale: spec.scale } : {}),
    tracksGeneration: spec.tracksGeneration ?? false,
    schema: spec.schema,
    applyDefaults: (obj, ctx) => {
      stringifyQuantities(spec.schema, obj);
      spec.applyDefaults?.(obj, ctx);
    },
    validate: spec.validate ?? (() => []),
    columns: Object.freeze(
      spec.customTable ? [...spec.customTable.columns] : [NAME_COLUMN, ...(spec.columns ?? [AGE_COLUMN])],
    ),
    row: spec.customTable?.row ?? ((obj, nowMs) => [obj.metadata.name ?? '', ...cells(obj, nowMs)]),
    fieldSelectors: Object.freeze({ ...(spec.fieldSelectors ?? {}) }),
    nameRule: spec.nameRule ?? 'dns1123Subdomain',
  };
  return Object.freeze(def);
}

const typeMeta = typeMetaProperties();

type TopLevelProperties<P extends TProperties> = OptionalProperties<
  {
    apiVersion: typeof typeMeta.apiVersion;
    kind: typeof typeMeta.kind;
    metadata: typeof ObjectMetaSchema;
  } & P
>;

/**
 * The schema of a whole object: `apiVersion`, `kind`, `metadata` and the kind's own fields
 * (`spec`, `status`, `data`, ...), closed like every object schema.
 */
export function topLevelSchema<P extends TProperties>(
  name: string,
  description: string,
  properties: P,
  required: readonly string[] = [],
): TObject<TopLevelProperties<P>> {
  const props: Record<string, TSchema> = {};
  const all: TProperties = { ...typeMeta, metadata: ObjectMetaSchema, ...properties };
  for (const key of Object.keys(all)) props[key] = Type.Optional(all[key] as TSchema);
  return Type.Object(props as TopLevelProperties<P>, {
    additionalProperties: false,
    description,
    [NAME_KEY]: name,
    ...(required.length > 0 ? { [REQUIRED_KEY]: [...required] } : {}),
  });
}

/** A read-only view of a nested record field, or undefined (for objects that passed the schema). */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

/** The record at `obj[key]`, created when absent (for defaulting in place). */
export function ensureRecord(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const cur = obj[key];
  if (isRecord(cur)) return cur;
  const fresh: Record<string, unknown> = {};
  obj[key] = fresh;
  return fresh;
}
