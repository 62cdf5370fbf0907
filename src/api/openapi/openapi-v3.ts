/**
 * OpenAPI v3 documents as upstream serves them (`/openapi/v3` and `/openapi/v3/{gv}?hash=`),
 * built from the kind definitions:
 * - one document per group/version with the REST paths of its kinds; every PATCH operation
 *   carries `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter, which is
 *   how kubectl 1.27+ decides to trust server-side field validation;
 * - `components.schemas` with each kind's schema (and its List) tagged with
 *   `x-kubernetes-group-version-kind`, so `kubectl explain` finds them;
 * - a content hash per document for the `?hash=` URLs (cacheable as immutable by clients).
 *
 * Pure and deterministic: the same kinds give byte-identical documents and hashes.
 */
import { createHash } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import type { KindDefinition, Verb } from '../kind-definition.js';
import { allKinds, apiVersionOf } from '../kinds.js';
import { ListMetaSchema } from '../meta/v1/object-meta.js';
import { DeleteOptionsSchema, StatusSchema, WatchEventSchema } from '../meta/v1/status.js';
import { ScaleSchema } from '../autoscaling/v1/scale.js';
import { BindingSchema, EvictionSchema } from '../core/v1/binding.js';
import {
  createDefinitionSet,
  definitionName,
  publishSchema,
  type DefinitionSet,
  type JsonSchema,
} from './published-schema.js';

export interface OpenApiOptions {
  /** The kinds to describe (default: every served kind). */
  readonly kinds?: readonly KindDefinition[];
  /** `info.version` (the server's gitVersion), e.g. `v1.32.0-h8s`. */
  readonly serverVersion?: string;
  /**
   * Offer `application/strategic-merge-patch+json` in PATCH request bodies of built-in kinds.
   * Off by default: kubectl then computes strategic merge patches from its compiled-in types
   * (and merge patches for Network), which is what upstream servers are verified against.
   */
  readonly strategicMergePatch?: boolean;
}

export interface OpenApiV3Index {
  readonly paths: Readonly<Record<string, { readonly serverRelativeURL: string }>>;
}

/** One group/version document, ready to serve. */
export interface PublishedOpenApiDocument {
  /** The index key and URL path below `/openapi/v3/`: `api/v1`, `apis/apps/v1`. */
  readonly path: string;
  readonly document: JsonSchema;
  /** `JSON.stringify(document)`: serve these bytes. */
  readonly json: string;
  /** Upper-case hex SHA-512 of `json`, as upstream's `?hash=` values. */
  readonly hash: string;
}

export interface OpenApiV3Set {
  readonly index: OpenApiV3Index;
  /** By document path (`api/v1`, `apis/apps/v1`). */
  readonly documents: ReadonlyMap<string, PublishedOpenApiDocument>;
}

export const OPENAPI_V3_COMPONENT_PREFIX = '#/components/schemas/';
const DEFAULT_SERVER_VERSION = 'v1.32.0-h8s';

/** `api/v1` for the core group, `apis/{group}/{version}` otherwise. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** `Core`, `Apps`, `RbacAuthorization` (upstream operationId prefixes). */
function groupCamel(group: string): string {
  if (group === '') return 'Core';
  const base = group.replace(/\.k8s\.io$/, '');
  return base
    .split('.')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

function tagFor(group: string, version: string): string {
  const g = groupCamel(group);
  return `${g.charAt(0).toLowerCase()}${g.slice(1)}_${version}`;
}

const ref = (name: string): JsonSchema => ({ $ref: `${OPENAPI_V3_COMPONENT_PREFIX}${name}` });

function queryParam(
  name: string,
  description: string,
  type: 'string' | 'boolean' | 'integer' = 'string',
): JsonSchema {
  return { name, in: 'query', description, schema: { type, uniqueItems: true } };
}

const params = {
  pretty: queryParam('pretty', "If 'true', then the output is pretty printed."),
  dryRun: queryParam(
    'dryRun',
    'When present, indicates that modifications should not be persisted. Valid value: All',
  ),
  fieldManager: queryParam(
    'fieldManager',
    'fieldManager is a name associated with the actor or entity that is making these changes.',
  ),
  fieldValidation: queryParam(
    'fieldValidation',
    'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict.',
  ),
  force: queryParam(
    'force',
    'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people.',
    'boolean',
  ),
  gracePeriodSeconds: queryParam(
    'gracePeriodSeconds',
    'The duration in seconds before the object should be deleted.',
    'integer',
  ),
  propagationPolicy: queryParam(
    'propagationPolicy',
    "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.",
  ),
  orphanDependents: queryParam(
    'orphanDependents',
    'Deprecated: please use the PropagationPolicy.',
    'boolean',
  ),
  allowWatchBookmarks: queryParam(
    'allowWatchBookmarks',
    'allowWatchBookmarks requests watch events with type "BOOKMARK".',
    'boolean',
  ),
  continue: queryParam(
    'continue',
    'The continue option should be set when retrieving more results from the server.',
  ),
  fieldSelector: queryParam(
    'fieldSelector',
    'A selector to restrict the list of returned objects by their fields. Defaults to everything.',
  ),
  labelSelector: queryParam(
    'labelSelector',
    'A selector to restrict the list of returned objects by their labels. Defaults to everything.',
  ),
  limit: queryParam('limit', 'limit is a maximum number of responses to return for a list call.', 'integer'),
  resourceVersion: queryParam(
    'resourceVersion',
    'resourceVersion sets a constraint on what resource versions a request may be served from.',
  ),
  resourceVersionMatch: queryParam(
    'resourceVersionMatch',
    'resourceVersionMatch determines how resourceVersion is applied to list calls.',
  ),
  sendInitialEvents: queryParam(
    'sendInitialEvents',
    'sendInitialEvents=true may be set together with watch=true.',
    'boolean',
  ),
  timeoutSeconds: queryParam('timeoutSeconds', 'Timeout for the list/watch call.', 'integer'),
  watch: queryParam(
    'watch',
    'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.',
    'boolean',
  ),
  name: (kind: string): JsonSchema => ({
    name: 'name',
    in: 'path',
    description: `name of the ${kind}`,
    required: true,
    schema: { type: 'string', uniqueItems: true },
  }),
  namespace: {
    name: 'namespace',
    in: 'path',
    description: 'object name and auth scope, such as for teams and projects',
    required: true,
    schema: { type: 'string', uniqueItems: true },
  },
};

const listParams = [
  params.allowWatchBookmarks,
  params.continue,
  params.fieldSelector,
  params.labelSelector,
  params.limit,
  params.resourceVersion,
  params.resourceVersionMatch,
  params.sendInitialEvents,
  params.timeoutSeconds,
  params.watch,
];

function jsonContent(schema: JsonSchema): JsonSchema {
  return { 'application/json': { schema }, 'application/yaml': { schema } };
}

function responses(codes: Record<string, JsonSchema>): JsonSchema {
  const out: JsonSchema = {};
  for (const [code, schema] of Object.entries(codes)) {
    const description = code === '200' ? 'OK' : code === '201' ? 'Created' : 'Accepted';
    out[code] = { description, content: jsonContent(schema) };
  }
  out['401'] = { description: 'Unauthorized' };
  return out;
}

interface Gvk {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

function operation(
  verb: string,
  action: string,
  gvk: Gvk,
  tag: string,
  description: string,
  extra: JsonSchema,
): JsonSchema {
  return {
    tags: [tag],
    description,
    operationId: verb,
    ...extra,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: gvk.group, version: gvk.version, kind: gvk.kind },
  };
}

function patchBody(strategic: boolean): JsonSchema {
  const patch = { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') };
  return {
    content: {
      'application/apply-patch+yaml': patch,
      'application/json-patch+json': patch,
      'application/merge-patch+json': patch,
      ...(strategic ? { 'application/strategic-merge-patch+json': patch } : {}),
    },
    required: true,
  };
}

function has(def: KindDefinition, verb: Verb): boolean {
  return def.verbs.includes(verb);
}

/** The paths of one kind, in upstream's shape. */
function kindPaths(def: KindDefinition, schemaName: string, strategic: boolean): Record<string, JsonSchema> {
  const prefix = `/${groupVersionPath(def.group, def.version)}`;
  const base = def.namespaced ? `${prefix}/namespaces/{namespace}/${def.plural}` : `${prefix}/${def.plural}`;
  const gvk: Gvk = { group: def.group, version: def.version, kind: def.kind };
  const tag = tagFor(def.group, def.version);
  const scope = def.namespaced ? 'Namespaced' : '';
  const id = (verb: string, suffix = '') =>
    `${verb}${groupCamel(def.group)}${def.version.charAt(0).toUpperCase()}${def.version.slice(1)}${scope}${def.kind}${suffix}`;
  const obj = ref(schemaName);
  const listRef = ref(`${schemaName}List`);
  const scopeParams = def.namespaced ? [params.namespace] : [];
  const writeParams = [params.dryRun, params.fieldManager, params.fieldValidation];
  const paths: Record<string, JsonSchema> = {};

  const collection: JsonSchema = { parameters: [...scopeParams, params.pretty] };
  if (has(def, 'list')) {
    collection['get'] = operation(id('list'), 'list', gvk, tag, `list or watch objects of kind ${def.kind}`, {
      parameters: listParams,
      responses: responses({ '200': listRef }),
    });
  }
  if (has(def, 'create')) {
    collection['post'] = operation(id('create'), 'post', gvk, tag, `create a ${def.kind}`, {
      parameters: writeParams,
      requestBody: { content: { '*/*': { schema: obj } }, required: true },
      responses: responses({ '200': obj, '201': obj, '202': obj }),
    });
  }
  if (has(def, 'deletecollection')) {
    collection['delete'] = operation(
      id('deletecollection'),
      'deletecollection',
      gvk,
      tag,
      `delete collection of ${def.kind}`,
      {
        parameters: [
          ...listParams.filter((p) => p !== params.watch && p !== params.allowWatchBookmarks),
          params.dryRun,
          params.gracePeriodSeconds,
          params.orphanDependents,
          params.propagationPolicy,
        ],
        requestBody: {
          content: { '*/*': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions') } },
        },
        responses: responses({ '200': ref('io.k8s.apimachinery.pkg.apis.meta.v1.Status') }),
      },
    );
  }
  paths[base] = collection;

  const item: JsonSchema = { parameters: [params.name(def.kind), ...scopeParams, params.pretty] };
  if (has(def, 'get')) {
    item['get'] = operation(id('read'), 'get', gvk, tag, `read the specified ${def.kind}`, {
      responses: responses({ '200': obj }),
    });
  }
  if (has(def, 'update')) {
    item['put'] = operation(id('replace'), 'put', gvk, tag, `replace the specified ${def.kind}`, {
      parameters: writeParams,
      requestBody: { content: { '*/*': { schema: obj } }, required: true },
      responses: responses({ '200': obj, '201': obj }),
    });
  }
  if (has(def, 'patch')) {
    item['patch'] = operation(id('patch'), 'patch', gvk, tag, `partially update the specified ${def.kind}`, {
      parameters: [...writeParams, params.force],
      requestBody: patchBody(strategic),
      responses: responses({ '200': obj, '201': obj }),
    });
  }
  if (has(def, 'delete')) {
    item['delete'] = operation(id('delete'), 'delete', gvk, tag, `delete a ${def.kind}`, {
      parameters: [
        params.dryRun,
        params.gracePeriodSeconds,
        params.orphanDependents,
        params.propagationPolicy,
      ],
      requestBody: {
        content: { '*/*': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions') } },
      },
      responses: responses({ '200': obj, '202': obj }),
    });
  }
  paths[`${base}/{name}`] = item;

  if (def.hasStatusSubresource) {
    paths[`${base}/{name}/status`] = {
      parameters: [params.name(def.kind), ...scopeParams, params.pretty],
      get: operation(id('read', 'Status'), 'get', gvk, tag, `read status of the specified ${def.kind}`, {
        responses: responses({ '200': obj }),
      }),
      put: operation(
        id('replace', 'Status'),
        'put',
        gvk,
        tag,
        `replace status of the specified ${def.kind}`,
        {
          parameters: writeParams,
          requestBody: { content: { '*/*': { schema: obj } }, required: true },
          responses: responses({ '200': obj, '201': obj }),
        },
      ),
      patch: operation(
        id('patch', 'Status'),
        'patch',
        gvk,
        tag,
        `partially update status of the specified ${def.kind}`,
        {
          parameters: [...writeParams, params.force],
          requestBody: patchBody(strategic),
          responses: responses({ '200': obj, '201': obj }),
        },
      ),
    };
  }

  if (def.scale) {
    const scaleGvk: Gvk = { group: 'autoscaling', version: 'v1', kind: 'Scale' };
    const scale = ref('io.k8s.api.autoscaling.v1.Scale');
    paths[`${base}/{name}/scale`] = {
      parameters: [params.name('Scale'), ...scopeParams, params.pretty],
      get: operation(id('read', 'Scale'), 'get', scaleGvk, tag, `read scale of the specified ${def.kind}`, {
        responses: responses({ '200': scale }),
      }),
      put: operation(
        id('replace', 'Scale'),
        'put',
        scaleGvk,
        tag,
        `replace scale of the specified ${def.kind}`,
        {
          parameters: writeParams,
          requestBody: { content: { '*/*': { schema: scale } }, required: true },
          responses: responses({ '200': scale, '201': scale }),
        },
      ),
      patch: operation(
        id('patch', 'Scale'),
        'patch',
        scaleGvk,
        tag,
        `partially update scale of the specified ${def.kind}`,
        {
          parameters: [...writeParams, params.force],
          requestBody: patchBody(strategic),
          responses: responses({ '200': scale, '201': scale }),
        },
      ),
    };
  }

  if (def.group === '' && def.kind === 'Pod') {
    paths[`${base}/{name}/binding`] = {
      parameters: [params.name('Binding'), ...scopeParams, params.pretty],
      post: operation(
        'createCoreV1NamespacedPodBinding',
        'post',
        { group: '', version: 'v1', kind: 'Binding' },
        tag,
        'create binding of a Pod',
        {
          parameters: writeParams,
          requestBody: { content: { '*/*': { schema: ref('io.k8s.api.core.v1.Binding') } }, required: true },
          responses: responses({
            '200': ref('io.k8s.api.core.v1.Binding'),
            '201': ref('io.k8s.api.core.v1.Binding'),
          }),
        },
      ),
    };
    paths[`${base}/{name}/eviction`] = {
      parameters: [params.name('Eviction'), ...scopeParams, params.pretty],
      post: operation(
        'createCoreV1NamespacedPodEviction',
        'post',
        { group: 'policy', version: 'v1', kind: 'Eviction' },
        tag,
        'create eviction of a Pod',
        {
          parameters: writeParams,
          requestBody: {
            content: { '*/*': { schema: ref('io.k8s.api.policy.v1.Eviction') } },
            required: true,
          },
          responses: responses({
            '200': ref('io.k8s.api.policy.v1.Eviction'),
            '201': ref('io.k8s.api.policy.v1.Eviction'),
          }),
        },
      ),
    };
    paths[`${base}/{name}/log`] = {
      parameters: [params.name('Pod'), ...scopeParams, params.pretty],
      get: operation('readCoreV1NamespacedPodLog', 'get', gvk, tag, 'read log of the specified Pod', {
        parameters: [
          'container',
          'follow',
          'previous',
          'sinceSeconds',
          'tailLines',
          'timestamps',
          'limitBytes',
        ].map((n) => queryParam(n, `${n} (see kubectl logs)`)),
        responses: {
          '200': { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } },
          '401': { description: 'Unauthorized' },
        },
      }),
    };
  }

  if (def.namespaced && has(def, 'list')) {
    paths[`${prefix}/${def.plural}`] = {
      parameters: [...listParams, params.pretty],
      get: operation(
        id('list', 'ForAllNamespaces').replace('Namespaced', ''),
        'list',
        gvk,
        tag,
        `list or watch objects of kind ${def.kind}`,
        {
          responses: responses({ '200': listRef }),
        },
      ),
    };
  }
  return paths;
}

/** The component of a kind's list (`PodList`). */
function listComponent(def: KindDefinition, itemName: string, set: DefinitionSet): JsonSchema {
  publishSchema(ListMetaSchema, set);
  return {
    description: `${def.listKind} is a list of ${def.kind}.`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: {
        type: 'string',
        description: 'APIVersion defines the versioned schema of this representation of an object.',
      },
      items: {
        type: 'array',
        description: `List of ${def.plural}.`,
        items: { $ref: `${set.refPrefix}${itemName}` },
      },
      kind: {
        type: 'string',
        description: 'Kind is a string value representing the REST resource this object represents.',
      },
      metadata: { $ref: `${set.refPrefix}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta` },
    },
    'x-kubernetes-group-version-kind': [{ group: def.group, kind: def.listKind, version: def.version }],
  };
}

/** The schema name of a kind (`io.k8s.api.core.v1.Pod`). */
export function kindSchemaName(def: KindDefinition): string {
  return definitionName(def.schema) ?? `io.h8s.api.${def.group || 'core'}.${def.version}.${def.kind}`;
}

/**
 * Adds the kind schema (tagged with its group/version/kind) and its list to `set`.
 * Shared with the v2 document builder.
 */
export function addKindDefinitions(def: KindDefinition, set: DefinitionSet): string {
  const name = kindSchemaName(def);
  set.definitions[name] = {
    ...publishSchema(def.schema as TSchema, set, true),
    'x-kubernetes-group-version-kind': [{ group: def.group, kind: def.kind, version: def.version }],
  };
  set.definitions[`${name}List`] = listComponent(def, name, set);
  return name;
}

/** Meta definitions every document references. */
export function addMetaDefinitions(
  set: DefinitionSet,
  groupVersions: readonly { group: string; version: string }[],
): void {
  publishSchema(StatusSchema, set);
  publishSchema(DeleteOptionsSchema, set);
  const deleteOptions = set.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions'];
  if (deleteOptions) {
    deleteOptions['x-kubernetes-group-version-kind'] = groupVersions.map((gv) => ({
      group: gv.group,
      kind: 'DeleteOptions',
      version: gv.version,
    }));
  }
  publishSchema(WatchEventSchema, set);
  set.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.Patch'] = {
    description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
    type: 'object',
  };
}

function stripPrivate(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripPrivate);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!k.startsWith('x-h8s-')) out[k] = stripPrivate(v);
  return out;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
  return out;
}

function buildDocument(
  kinds: readonly KindDefinition[],
  serverVersion: string,
  strategic: boolean,
): JsonSchema {
  const set = createDefinitionSet(OPENAPI_V3_COMPONENT_PREFIX, 'allOf');
  const first = kinds[0] as KindDefinition;
  addMetaDefinitions(set, [{ group: first.group, version: first.version }]);
  const paths: Record<string, JsonSchema> = {};
  for (const def of kinds) {
    const name = addKindDefinitions(def, set);
    // Upstream offers strategic merge patch only for its built-in kinds.
    const isBuiltin = !name.startsWith('io.h8s.');
    Object.assign(paths, kindPaths(def, name, strategic && isBuiltin));
    if (def.scale) publishSchema(ScaleSchema, set);
    if (def.group === '' && def.kind === 'Pod') {
      publishSchema(BindingSchema, set);
      publishSchema(EvictionSchema, set);
    }
  }
  return sortKeys(
    stripPrivate({
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: serverVersion },
      paths,
      components: {
        schemas: set.definitions,
        securitySchemes: {
          BearerToken: {
            type: 'apiKey',
            description: 'Bearer Token authentication',
            name: 'authorization',
            in: 'header',
          },
        },
      },
      security: [{ BearerToken: [] }],
    }),
  ) as JsonSchema;
}

const memo = new WeakMap<readonly KindDefinition[], Map<string, OpenApiV3Set>>();

/**
 * Every group/version document plus the index. Memoized per kinds array and options (the
 * result is immutable), so callers may call it on every request.
 */
export function buildOpenApiV3(options: OpenApiOptions = {}): OpenApiV3Set {
  const kinds = options.kinds ?? allKinds();
  const serverVersion = options.serverVersion ?? DEFAULT_SERVER_VERSION;
  const strategic = options.strategicMergePatch === true;
  const key = `${serverVersion}|${strategic}`;
  let byOptions = memo.get(kinds);
  const cached = byOptions?.get(key);
  if (cached) return cached;
  const groups = new Map<string, KindDefinition[]>();
  for (const def of kinds) {
    const path = groupVersionPath(def.group, def.version);
    const list = groups.get(path) ?? [];
    list.push(def);
    groups.set(path, list);
  }
  const documents = new Map<string, PublishedOpenApiDocument>();
  const index: Record<string, { serverRelativeURL: string }> = {};
  for (const [path, defs] of groups) {
    const document = buildDocument(defs, serverVersion, strategic);
    const json = JSON.stringify(document);
    const hash = createHash('sha512').update(json).digest('hex').toUpperCase();
    documents.set(path, Object.freeze({ path, document, json, hash }));
    index[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
  }
  const result: OpenApiV3Set = Object.freeze({
    index: Object.freeze({ paths: Object.freeze(index) }),
    documents,
  });
  if (!byOptions) {
    byOptions = new Map();
    memo.set(kinds, byOptions);
  }
  byOptions.set(key, result);
  return result;
}

/** The `/openapi/v3` answer: `{paths: {"api/v1": {serverRelativeURL: "/openapi/v3/api/v1?hash=…"}}}`. */
export function buildOpenApiV3Index(options: OpenApiOptions = {}): OpenApiV3Index {
  return buildOpenApiV3(options).index;
}

/**
 * The document for one group/version, addressed as in the index (`api/v1`, `apis/apps/v1`) or
 * as an apiVersion (`v1`, `apps/v1`); undefined when no served kind belongs to it.
 */
export function buildOpenApiV3Document(
  groupVersion: string,
  options: OpenApiOptions = {},
): PublishedOpenApiDocument | undefined {
  const set = buildOpenApiV3(options);
  const trimmed = groupVersion.replace(/^\/+/, '').replace(/^openapi\/v3\//, '');
  const direct = set.documents.get(trimmed);
  if (direct) return direct;
  const kinds = options.kinds ?? allKinds();
  const def = kinds.find((k) => apiVersionOf(k) === trimmed);
  return def ? set.documents.get(groupVersionPath(def.group, def.version)) : undefined;
}
