/**
 * The OpenAPI v2 (Swagger 2.0) document at `/openapi/v2`, which kubectl 1.20 uses for
 * `explain` and client-side validation (and kubectl 1.27+ only when v3 is missing).
 *
 * kubectl asks for it as protobuf (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`),
 * so besides the JSON document this module encodes gnostic's `openapi.v2.Document` message
 * (field numbers from gnostic `openapiv2/OpenAPIv2.proto`; vendor extensions travel as YAML
 * text in `Any.yaml`, which is how kube-openapi reads them).
 */
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import type { KindDefinition } from '../kind-definition.js';
import { allKinds, servedGroupVersions } from '../kinds.js';
import { ScaleSchema } from '../autoscaling/v1/scale.js';
import { BindingSchema, EvictionSchema } from '../core/v1/binding.js';
import {
  addKindDefinitions,
  addMetaDefinitions,
  groupVersionPath,
  type OpenApiOptions,
} from './openapi-v3.js';
import { createDefinitionSet, publishSchema, type JsonSchema } from './published-schema.js';

/** The content type upstream answers protobuf v2 documents with (the `@` form breaks Go's mime parser). */
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/**
 * An empty `openapi.v2.Document`: the minimal answer with which kubectl's client-side
 * validation finds no model and passes (reference "minimal recipe").
 */
export const EMPTY_OPENAPI_V2_PROTOBUF: Uint8Array = new Uint8Array(0);

export interface PublishedOpenApiV2 {
  readonly document: JsonSchema;
  readonly json: string;
  readonly protobuf: Uint8Array;
  /** Upper-case hex SHA-512 of the protobuf bytes (an ETag). */
  readonly etag: string;
}

const DEFINITIONS_PREFIX = '#/definitions/';

function bodyParam(schemaName: string): JsonSchema {
  return { name: 'body', in: 'body', required: true, schema: { $ref: `${DEFINITIONS_PREFIX}${schemaName}` } };
}

function v2Operation(
  action: string,
  def: KindDefinition,
  kind: string,
  group: string,
  version: string,
  extra: JsonSchema,
): JsonSchema {
  return {
    consumes: ['*/*'],
    produces: ['application/json', 'application/yaml'],
    schemes: ['https'],
    tags: [`${group || 'core'}_${version}`],
    ...extra,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group, kind, version },
    operationId: `${action}${def.kind}`,
  };
}

function okResponse(schemaName: string): JsonSchema {
  return {
    '200': { description: 'OK', schema: { $ref: `${DEFINITIONS_PREFIX}${schemaName}` } },
    '401': { description: 'Unauthorized' },
  };
}

const queryParameter = (name: string, type = 'string'): JsonSchema => ({
  name,
  in: 'query',
  type,
  uniqueItems: true,
  description: name,
});

function v2Paths(def: KindDefinition, name: string): Record<string, JsonSchema> {
  const base = def.namespaced
    ? `/${groupVersionPath(def.group, def.version)}/namespaces/{namespace}/${def.plural}`
    : `/${groupVersionPath(def.group, def.version)}/${def.plural}`;
  const scope = def.namespaced
    ? [
        {
          name: 'namespace',
          in: 'path',
          required: true,
          type: 'string',
          uniqueItems: true,
          description: 'object name and auth scope',
        },
      ]
    : [];
  const writeParams = [
    queryParameter('dryRun'),
    queryParameter('fieldManager'),
    queryParameter('fieldValidation'),
  ];
  const g = def.group;
  const v = def.version;
  return {
    [base]: {
      parameters: scope,
      get: v2Operation('list', def, def.kind, g, v, {
        parameters: [
          queryParameter('labelSelector'),
          queryParameter('fieldSelector'),
          queryParameter('limit', 'integer'),
          queryParameter('continue'),
          queryParameter('watch', 'boolean'),
        ],
        responses: okResponse(`${name}List`),
      }),
      post: v2Operation('post', def, def.kind, g, v, {
        parameters: [bodyParam(name), ...writeParams],
        responses: okResponse(name),
      }),
    },
    [`${base}/{name}`]: {
      parameters: [
        {
          name: 'name',
          in: 'path',
          required: true,
          type: 'string',
          uniqueItems: true,
          description: `name of the ${def.kind}`,
        },
        ...scope,
      ],
      get: v2Operation('get', def, def.kind, g, v, { responses: okResponse(name) }),
      put: v2Operation('put', def, def.kind, g, v, {
        parameters: [bodyParam(name), ...writeParams],
        responses: okResponse(name),
      }),
      patch: v2Operation('patch', def, def.kind, g, v, {
        consumes: [
          'application/json-patch+json',
          'application/merge-patch+json',
          'application/apply-patch+yaml',
        ],
        parameters: [
          bodyParam('io.k8s.apimachinery.pkg.apis.meta.v1.Patch'),
          ...writeParams,
          queryParameter('force', 'boolean'),
        ],
        responses: okResponse(name),
      }),
      delete: v2Operation('delete', def, def.kind, g, v, {
        parameters: [
          bodyParam('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions'),
          queryParameter('propagationPolicy'),
          queryParameter('gracePeriodSeconds', 'integer'),
        ],
        responses: okResponse('io.k8s.apimachinery.pkg.apis.meta.v1.Status'),
      }),
    },
  };
}

/** The Swagger 2.0 document of every served kind (JSON form). */
export function buildOpenApiV2Document(options: OpenApiOptions = {}): JsonSchema {
  const kinds = options.kinds ?? allKinds();
  const set = createDefinitionSet(DEFINITIONS_PREFIX, 'sibling');
  addMetaDefinitions(
    set,
    options.kinds
      ? [
          ...new Map(
            kinds.map((k) => [`${k.group}/${k.version}`, { group: k.group, version: k.version }]),
          ).values(),
        ]
      : servedGroupVersions(),
  );
  const paths: Record<string, JsonSchema> = {};
  for (const def of kinds) {
    const name = addKindDefinitions(def, set);
    Object.assign(paths, v2Paths(def, name));
    if (def.scale) publishSchema(ScaleSchema, set);
    if (def.group === '' && def.kind === 'Pod') {
      publishSchema(BindingSchema, set);
      publishSchema(EvictionSchema, set);
    }
  }
  return {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: options.serverVersion ?? 'v1.32.0-h8s' },
    paths,
    definitions: set.definitions,
    securityDefinitions: {
      BearerToken: {
        type: 'apiKey',
        name: 'authorization',
        in: 'header',
        description: 'Bearer Token authentication',
      },
    },
    security: [{ BearerToken: [] }],
  };
}

// ---------------------------------------------------------------------------------------------
// gnostic protobuf encoding

type W = protobuf.Writer;
const LEN = 2;
const VARINT = 0;
const FIXED64 = 1;

function tag(w: W, field: number, wire: number): W {
  return w.uint32((field << 3) | wire);
}

function str(w: W, field: number, value: unknown): void {
  if (typeof value === 'string' && value !== '') tag(w, field, LEN).string(value);
}

function boolField(w: W, field: number, value: unknown): void {
  if (value === true) tag(w, field, VARINT).bool(true);
}

function int64Field(w: W, field: number, value: unknown): void {
  if (typeof value === 'number' && Number.isInteger(value) && value !== 0) tag(w, field, VARINT).int64(value);
}

function doubleField(w: W, field: number, value: unknown): void {
  if (typeof value === 'number' && value !== 0) tag(w, field, FIXED64).double(value);
}

function msg(w: W, field: number, write: (w: W) => void): void {
  tag(w, field, LEN).fork();
  write(w);
  w.ldelim();
}

/** `Any{yaml}`: JSON text is valid YAML, which is what kube-openapi parses. */
function anyYaml(w: W, field: number, value: unknown): void {
  msg(w, field, (a) => str(a, 2, `${JSON.stringify(value)}\n`));
}

function vendorExtensions(w: W, field: number, obj: JsonSchema): void {
  for (const key of Object.keys(obj).sort()) {
    if (!key.startsWith('x-')) continue;
    msg(w, field, (n) => {
      str(n, 1, key);
      anyYaml(n, 2, obj[key]);
    });
  }
}

function writeSchema(w: W, s: JsonSchema): void {
  str(w, 1, s['$ref']);
  str(w, 2, s['format']);
  str(w, 3, s['title']);
  str(w, 4, s['description']);
  if (s['default'] !== undefined) anyYaml(w, 5, s['default']);
  doubleField(w, 7, s['maximum']);
  doubleField(w, 9, s['minimum']);
  int64Field(w, 11, s['maxLength']);
  int64Field(w, 12, s['minLength']);
  str(w, 13, s['pattern']);
  int64Field(w, 14, s['maxItems']);
  int64Field(w, 15, s['minItems']);
  boolField(w, 16, s['uniqueItems']);
  for (const r of (s['required'] as string[] | undefined) ?? []) str(w, 19, r);
  for (const e of (s['enum'] as unknown[] | undefined) ?? []) anyYaml(w, 20, e);
  const ap = s['additionalProperties'];
  if (ap === true || ap === false) msg(w, 21, (a) => tag(a, 2, VARINT).bool(ap));
  else if (ap && typeof ap === 'object')
    msg(w, 21, (a) => msg(a, 1, (x) => writeSchema(x, ap as JsonSchema)));
  if (typeof s['type'] === 'string') msg(w, 22, (t) => str(t, 1, s['type']));
  const items = s['items'];
  if (items && typeof items === 'object')
    msg(w, 23, (i) => msg(i, 1, (x) => writeSchema(x, items as JsonSchema)));
  for (const sub of (s['allOf'] as JsonSchema[] | undefined) ?? []) msg(w, 24, (x) => writeSchema(x, sub));
  const props = s['properties'] as Record<string, JsonSchema> | undefined;
  if (props) {
    msg(w, 25, (p) => {
      for (const name of Object.keys(props).sort()) {
        msg(p, 1, (n) => {
          str(n, 1, name);
          msg(n, 2, (x) => writeSchema(x, props[name] as JsonSchema));
        });
      }
    });
  }
  boolField(w, 27, s['readOnly']);
  vendorExtensions(w, 31, s);
}

function writeParameter(w: W, p: JsonSchema): void {
  // ParametersItem{parameter: Parameter{body_parameter | non_body_parameter}}
  msg(w, 1, (param) => {
    if (p['in'] === 'body') {
      msg(param, 1, (b) => {
        str(b, 1, p['description']);
        str(b, 2, p['name']);
        str(b, 3, p['in']);
        boolField(b, 4, p['required']);
        msg(b, 5, (x) => writeSchema(x, p['schema'] as JsonSchema));
      });
      return;
    }
    msg(param, 2, (nb) => {
      const isPath = p['in'] === 'path';
      // NonBodyParameter: query_parameter_sub_schema = 3, path_parameter_sub_schema = 4.
      msg(nb, isPath ? 4 : 3, (q) => {
        boolField(q, 1, p['required']);
        str(q, 2, p['in']);
        str(q, 3, p['description']);
        str(q, 4, p['name']);
        if (isPath) {
          str(q, 5, p['type']);
          boolField(q, 19, p['uniqueItems']);
        } else {
          str(q, 6, p['type']);
          boolField(q, 20, p['uniqueItems']);
        }
      });
    });
  });
}

function writeOperation(w: W, op: JsonSchema): void {
  for (const t of (op['tags'] as string[] | undefined) ?? []) str(w, 1, t);
  str(w, 3, op['description']);
  str(w, 5, op['operationId']);
  for (const p of (op['produces'] as string[] | undefined) ?? []) str(w, 6, p);
  for (const c of (op['consumes'] as string[] | undefined) ?? []) str(w, 7, c);
  for (const p of (op['parameters'] as JsonSchema[] | undefined) ?? [])
    msg(w, 8, (x) => writeParameter(x, p));
  const responses = op['responses'] as Record<string, JsonSchema> | undefined;
  if (responses) {
    msg(w, 9, (r) => {
      for (const code of Object.keys(responses).sort()) {
        const resp = responses[code] as JsonSchema;
        msg(r, 1, (n) => {
          str(n, 1, code);
          msg(n, 2, (rv) =>
            msg(rv, 1, (x) => {
              str(x, 1, resp['description']);
              if (resp['schema'])
                msg(x, 2, (si) => msg(si, 1, (s) => writeSchema(s, resp['schema'] as JsonSchema)));
            }),
          );
        });
      }
    });
  }
  for (const s of (op['schemes'] as string[] | undefined) ?? []) str(w, 10, s);
  vendorExtensions(w, 13, op);
}

const pathItemFields: Readonly<Record<string, number>> = { get: 2, put: 3, post: 4, delete: 5, patch: 8 };

/** Encodes a Swagger 2.0 JSON document as gnostic's `openapi.v2.Document`. */
export function encodeOpenApiV2Protobuf(doc: JsonSchema): Uint8Array {
  const w = protobuf.Writer.create();
  str(w, 1, doc['swagger']);
  const info = doc['info'] as JsonSchema | undefined;
  if (info) {
    msg(w, 2, (i) => {
      str(i, 1, info['title']);
      str(i, 2, info['version']);
    });
  }
  const paths = doc['paths'] as Record<string, JsonSchema> | undefined;
  if (paths) {
    msg(w, 8, (p) => {
      for (const path of Object.keys(paths).sort()) {
        const item = paths[path] as JsonSchema;
        msg(p, 2, (n) => {
          str(n, 1, path);
          msg(n, 2, (pi) => {
            for (const [verb, field] of Object.entries(pathItemFields)) {
              const op = item[verb] as JsonSchema | undefined;
              if (op) msg(pi, field, (o) => writeOperation(o, op));
            }
            for (const param of (item['parameters'] as JsonSchema[] | undefined) ?? [])
              msg(pi, 9, (x) => writeParameter(x, param));
          });
        });
      }
    });
  }
  const definitions = doc['definitions'] as Record<string, JsonSchema> | undefined;
  if (definitions) {
    msg(w, 9, (d) => {
      for (const name of Object.keys(definitions).sort()) {
        msg(d, 1, (n) => {
          str(n, 1, name);
          msg(n, 2, (s) => writeSchema(s, definitions[name] as JsonSchema));
        });
      }
    });
  }
  const security = doc['security'] as Record<string, string[]>[] | undefined;
  for (const req of security ?? []) {
    msg(w, 12, (r) => {
      for (const [name, scopes] of Object.entries(req)) {
        msg(r, 1, (n) => {
          str(n, 1, name);
          msg(n, 2, (a) => {
            for (const scope of scopes) str(a, 1, scope);
          });
        });
      }
    });
  }
  const secDefs = doc['securityDefinitions'] as Record<string, JsonSchema> | undefined;
  if (secDefs) {
    msg(w, 13, (sd) => {
      for (const name of Object.keys(secDefs).sort()) {
        const def = secDefs[name] as JsonSchema;
        msg(sd, 1, (n) => {
          str(n, 1, name);
          // SecurityDefinitionsItem.api_key_security = 2
          msg(n, 2, (item) =>
            msg(item, 2, (k) => {
              str(k, 1, def['type']);
              str(k, 2, def['name']);
              str(k, 3, def['in']);
              str(k, 4, def['description']);
            }),
          );
        });
      }
    });
  }
  return w.finish();
}

const memo = new WeakMap<readonly KindDefinition[], Map<string, PublishedOpenApiV2>>();

/** The v2 document in JSON and protobuf form, memoized like the v3 documents. */
export function buildOpenApiV2(options: OpenApiOptions = {}): PublishedOpenApiV2 {
  const kinds = options.kinds ?? allKinds();
  const key = options.serverVersion ?? '';
  let byOptions = memo.get(kinds);
  const cached = byOptions?.get(key);
  if (cached) return cached;
  const document = buildOpenApiV2Document({ ...options, kinds });
  const bytes = encodeOpenApiV2Protobuf(document);
  const result: PublishedOpenApiV2 = Object.freeze({
    document,
    json: JSON.stringify(document),
    protobuf: bytes,
    etag: createHash('sha512').update(bytes).digest('hex').toUpperCase(),
  });
  if (!byOptions) {
    byOptions = new Map();
    memo.set(kinds, byOptions);
  }
  byOptions.set(key, result);
  return result;
}
