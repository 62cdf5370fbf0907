/**
 * The pure steps every write of an object goes through, in upstream's order, as one pipeline
 * that the apiserver's registry (inline), its write workers (off the event loop) and every kind
 * test run: the same code, so a test of a kind tests what the server does.
 *
 *   decodeForAdmission   body → object: a JSON object, apiVersion/kind filled in or checked,
 *                        JSON nulls dropped (Go's decoder reads them as absent), unknown and
 *                        repeated fields (400 under Strict, warnings under Warn, silently
 *                        dropped under Ignore), the schema's type check (400), the URL's
 *                        name and namespace
 *   (mutating admission plugins run here, in the apiserver: they see the decoded object)
 *   completeAdmission    create: system metadata (uid, creationTimestamp, generation 1, status
 *                        dropped for kinds with a status subresource, the strategy's
 *                        prepareForCreate, a name from generateName); update: the fields the
 *                        server owns carried over from the old object, status rules per
 *                        subresource, generation; then `def.applyDefaults`, then
 *                        `validateObjectMeta` (+ `validateObjectMetaUpdate`) + `def.validate`
 *                        (422 with causes)
 *   (validating admission plugins, managedFields and the store write follow in the apiserver)
 *
 * `admitObject` runs both halves; the registry calls them apart because admission plugins sit
 * between them. Pure: no I/O and no clock (time, uid and the generateName suffix come in).
 * Errors are H8sErrors with upstream's wording: BadRequest (decode), Invalid (validation).
 */
import { badRequest, isRecord, matchesSchema, schemaCauses, type StatusCause } from '../../lib/index.js';
import type { KindContext, KindDefinition, KubeObject, ObjectMeta } from '../kind-definition.js';
import { apiVersionOf } from '../kinds.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../meta/v1/object-meta.js';
import { formatTime } from '../meta/v1/time.js';
import { schemaNodeFor } from '../schema/schema-node.js';
import { pruneUnknownFields } from '../schema/unknown-fields.js';
import { deepEqual } from '../validation/deep-equal.js';
import { invalidObjectError } from '../validation/field-causes.js';

/** `fieldValidation`: what unknown and repeated fields of a body cause. */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** How a body is read. */
export interface FieldCheckOptions {
  readonly fieldValidation: FieldValidation;
  /** Warnings for the response (`Warning` headers); appended to. */
  readonly warnings: string[];
  /** Keys the JSON body repeated (reported like unknown fields). */
  readonly duplicateFields?: readonly string[] | undefined;
}

export interface DecodeOptions extends FieldCheckOptions {
  /** The request's namespace (namespaced kinds): the object's must match it or be empty. */
  readonly namespace?: string | undefined;
  /** The name on the URL (PUT): the object's must be the same. */
  readonly name?: string | undefined;
}

/** What a create needs from the server: its time and random sources. */
export interface CreateCompletion {
  readonly operation: 'create';
  readonly nowMs: number;
  /** The new object's uid. */
  readonly uid: string;
  /** The random suffix of a name made from `generateName` (5 characters upstream). */
  readonly nameSuffix: () => string;
  /** The kind's create-time bookkeeping in the server (a namespace's `kubernetes` finalizer). */
  readonly prepareForCreate?: ((obj: KubeObject) => void) | undefined;
}

/** What an update needs: the object it replaces. */
export interface UpdateCompletion {
  readonly operation: 'update';
  readonly nowMs: number;
  /** The stored object (not changed). */
  readonly old: Readonly<KubeObject>;
  /**
   * `status`: only the status changes (upstream's status strategy); undefined: the main
   * resource, which keeps the old status when the kind has a status subresource; another
   * name: a write the server makes through that subresource, taken as it is.
   */
  readonly subresource?: string | undefined;
  /**
   * Skip the kind's own update rules for writes the server makes itself through subresources
   * upstream also exempts (pods/binding sets spec.nodeName, namespaces/finalize sets
   * spec.finalizers); the metadata rules still apply.
   */
  readonly skipsKindRules?: boolean | undefined;
}

export type Completion = CreateCompletion | UpdateCompletion;

export type AdmitObjectOptions = DecodeOptions & Completion;

function decodeError(def: KindDefinition, detail: string): Error {
  return badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${detail}`);
}

/**
 * The decode half: turns a request body (a parsed JSON or YAML value, changed in place) into an
 * object of `def`'s kind. See the module comment.
 * @throws BadRequest (not an object, another kind, strict unknown or repeated fields, a type
 *   error, a name or namespace that differs from the URL's).
 */
export function decodeForAdmission(def: KindDefinition, body: unknown, options: DecodeOptions): KubeObject {
  if (!isRecord(body)) throw decodeError(def, 'the request body must be a JSON object');
  const apiVersion = apiVersionOf(def);
  if (body['apiVersion'] === undefined || body['apiVersion'] === '') body['apiVersion'] = apiVersion;
  if (body['kind'] === undefined || body['kind'] === '') body['kind'] = def.kind;
  if (body['apiVersion'] !== apiVersion) {
    throw badRequest(
      `the API version in the data (${String(body['apiVersion'])}) does not match the expected API version (${apiVersion})`,
    );
  }
  if (body['kind'] !== def.kind) {
    throw badRequest(
      `the kind in the data (${JSON.stringify(body['kind'])}) does not match the expected kind ("${def.kind}")`,
    );
  }
  if (body['metadata'] === undefined || body['metadata'] === null) body['metadata'] = {};
  checkObjectFields(def, body, options);
  const obj = body as KubeObject;
  if (options.name !== undefined && obj.metadata.name !== options.name) {
    throw badRequest(
      `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${options.name})`,
    );
  }
  placeInNamespace(def, obj.metadata, options.namespace);
  return obj;
}

/**
 * Unknown and repeated fields and the type check of a whole object, in place (also the check of
 * a patched object). JSON nulls are dropped on the way.
 * @throws BadRequest
 */
export function checkObjectFields(
  def: KindDefinition,
  obj: Record<string, unknown>,
  options: FieldCheckOptions,
): void {
  const unknown = pruneUnknownFields(schemaNodeFor(def.schema), obj);
  const duplicates = options.duplicateFields ?? [];
  if (unknown.length > 0 || duplicates.length > 0) {
    const problems = [
      ...unknown.map((f) => `unknown field "${f}"`),
      ...duplicates.map((f) => `duplicate field "${f}"`),
    ];
    if (options.fieldValidation === 'Strict') {
      throw decodeError(def, `strict decoding error: ${problems.join(', ')}`);
    }
    if (options.fieldValidation === 'Warn') options.warnings.push(...problems);
  }
  // The compiled check is cheap; collecting the errors is not, so only do it on failure.
  if (matchesSchema(def.schema, obj)) return;
  const causes = schemaCauses(def.schema, obj, 5);
  const first = causes[0];
  if (first) throw decodeError(def, `${first.field ? first.field + ': ' : ''}${first.message}`);
}

/** The namespace rules of a write (upstream BeforeCreate/BeforeUpdate). @throws BadRequest */
function placeInNamespace(def: KindDefinition, meta: ObjectMeta, namespace: string | undefined): void {
  if (!def.namespaced) {
    delete meta.namespace;
    return;
  }
  if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  if (namespace !== undefined) meta.namespace = namespace;
}

/**
 * The complete half: system metadata, defaults and validation of a decoded object, in place
 * (see the module comment). Returns the object to store: `obj`, except for a status update,
 * which is the old object with `obj`'s status.
 * @throws Invalid with one cause per problem.
 */
export function completeAdmission(def: KindDefinition, obj: KubeObject, completion: Completion): KubeObject {
  const ctx: KindContext = { operation: completion.operation, nowMs: completion.nowMs };
  if (completion.operation === 'create') {
    setCreateMetadata(def, obj, completion);
    def.applyDefaults(obj, ctx);
    validate(def, obj, undefined, ctx, true);
    return obj;
  }
  const next = carryOverForUpdate(def, obj, completion);
  def.applyDefaults(next, ctx);
  const old = completion.old;
  if (def.tracksGeneration) {
    const gen = old.metadata.generation ?? 1;
    next.metadata.generation = deepEqual(specPart(old), specPart(next)) ? gen : gen + 1;
  } else if (old.metadata.generation !== undefined) {
    next.metadata.generation = old.metadata.generation;
  } else delete next.metadata.generation;
  validate(def, next, old, ctx, completion.skipsKindRules !== true);
  return next;
}

/** Both halves: what a write of `body` stores, short of admission plugins and managedFields. */
export function admitObject(def: KindDefinition, body: unknown, options: AdmitObjectOptions): KubeObject {
  return completeAdmission(def, decodeForAdmission(def, body, options), options);
}

/** System metadata (upstream BeforeCreate / FillObjectMetaSystemFields) and a generated name. */
function setCreateMetadata(def: KindDefinition, obj: KubeObject, completion: CreateCompletion): void {
  const meta = obj.metadata;
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete (meta as Record<string, unknown>)['selfLink'];
  meta.uid = completion.uid;
  meta.creationTimestamp = formatTime(completion.nowMs);
  if (def.tracksGeneration) meta.generation = 1;
  else delete meta.generation;
  if (def.hasStatusSubresource) delete obj['status'];
  delete meta.managedFields;
  completion.prepareForCreate?.(obj);
  if (!meta.name && typeof meta.generateName === 'string' && meta.generateName !== '') {
    meta.name = `${meta.generateName}${completion.nameSuffix()}`;
  }
}

/**
 * What an update may not change, taken from the old object (upstream's BeforeUpdate and the
 * strategies' PrepareForUpdate): identity, creation and deletion fields, and the part of the
 * object another subresource owns.
 */
function carryOverForUpdate(def: KindDefinition, next: KubeObject, completion: UpdateCompletion): KubeObject {
  const old = completion.old;
  const meta = next.metadata;
  const oldMeta = old.metadata;
  if (oldMeta.uid !== undefined) meta.uid = oldMeta.uid;
  if (oldMeta.creationTimestamp !== undefined) meta.creationTimestamp = oldMeta.creationTimestamp;
  if (oldMeta.name !== undefined) meta.name = oldMeta.name;
  if (def.namespaced && oldMeta.namespace !== undefined) meta.namespace = oldMeta.namespace;
  if (oldMeta.deletionTimestamp !== undefined) meta.deletionTimestamp = oldMeta.deletionTimestamp;
  else delete meta.deletionTimestamp;
  if (oldMeta.deletionGracePeriodSeconds !== undefined) {
    meta.deletionGracePeriodSeconds = oldMeta.deletionGracePeriodSeconds;
  } else delete meta.deletionGracePeriodSeconds;
  delete (meta as Record<string, unknown>)['selfLink'];
  if (oldMeta.resourceVersion !== undefined) meta.resourceVersion = oldMeta.resourceVersion;
  else delete meta.resourceVersion;

  if (completion.subresource === 'status') {
    // Status writes change only status (upstream ResetObjectMetaForStatus + strategy).
    const status = next['status'];
    const rebuilt = structuredClone(old) as KubeObject;
    if (status === undefined) delete rebuilt['status'];
    else rebuilt['status'] = status;
    rebuilt.metadata.managedFields = meta.managedFields ?? oldMeta.managedFields ?? [];
    return rebuilt;
  }
  if (completion.subresource === undefined && def.hasStatusSubresource) {
    if (old['status'] === undefined) delete next['status'];
    else next['status'] = structuredClone(old['status']);
  }
  return next;
}

/** Everything but metadata and status, for generation tracking. */
function specPart(obj: Readonly<KubeObject>): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

/** The metadata rules plus (unless skipped) the kind's own. @throws Invalid */
function validate(
  def: KindDefinition,
  obj: KubeObject,
  old: Readonly<KubeObject> | undefined,
  ctx: KindContext,
  withKindRules: boolean,
): void {
  const causes: StatusCause[] = [
    ...validateObjectMeta(obj.metadata, {
      namespaced: def.namespaced,
      kind: def.kind,
      ...(def.nameRule ? { nameRule: def.nameRule } : {}),
    }),
    ...(old ? validateObjectMetaUpdate(obj.metadata, old.metadata) : []),
    ...(withKindRules ? def.validate(obj, old as KubeObject | undefined, ctx) : []),
  ];
  if (causes.length > 0) throw invalidObjectError(def.kind, obj.metadata.name ?? '', causes, def.group);
}
