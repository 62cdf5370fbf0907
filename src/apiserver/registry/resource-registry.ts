/**
 * The generic registry of one kind (upstream `registry/generic/registry.Store`): create, get,
 * list, update, patch and guaranteed updates over the KeyValueStore, driven by the kind's
 * `KindDefinition` and, for the few kinds that need it, a `KindStrategy`. Its other jobs are
 * units of their own: watch (`collection-watch.ts`), delete with finalizers and propagation
 * (`resource-deletion.ts`) and the scale subresource (`scale-registry.ts`, upstream's ScaleREST).
 *
 * Every write runs, in upstream's order: decode (api's `decodeForAdmission`) → mutating
 * admission plugins → system metadata, defaults, validation (api's `completeAdmission`) →
 * managedFields → validating admission plugins → the store write (compare-and-swap for
 * updates). Creates of JSON bodies may have their pure part prepared by a write worker
 * (`prepared-create.ts`), then only admission and the write run here (`createPrepared`).
 *
 * It owns the semantics clients rely on: resourceVersion = store revision, optimistic
 * concurrency, strict/warn/ignore field validation, dry-run, consistent paging at a fixed
 * revision.
 *
 * Errors are H8sErrors with Kubernetes reasons and upstream messages (the endpoints turn them
 * into Status): NotFound, AlreadyExists, Conflict, Invalid (422, causes), BadRequest, Forbidden,
 * Expired (410), Timeout (504), what admission plugins refuse with, plus whatever the store
 * throws (ServiceUnavailable, ...).
 */
import {
  checkObjectFields,
  completeAdmission,
  decodeForAdmission,
  formatTime,
  schemaNodeFor,
  type CreateCompletion,
  type KindDefinition,
  type KubeObject,
  type SchemaNode,
} from '../../api/index.js';
import {
  alreadyExists,
  badRequest,
  bestEffort,
  conflict,
  expired,
  forbidden,
  isGone,
  isRecord,
  notFound,
  timeout,
  type Clock,
  type H8sError,
  type Logger,
  type StatusCause,
} from '../../lib/index.js';
import { invalidObjectError } from '../../api/index.js';
import type { KeyValue, KeyValueStore } from '../../storage/index.js';
import type { AdmissionChain } from '../admission/admission-chain.js';
import type {
  AdmissionAttributes,
  AdmissionOperation,
  AdmissionRequest,
  WriteOutcome,
} from '../admission/admission-plugin.js';
import { applyJsonPatch } from '../patch/json-patch.js';
import { applyMergePatch } from '../patch/merge-patch.js';
import { applyStrategicMergePatch } from '../patch/strategic-merge-patch.js';
import {
  applyConfiguration,
  isNoOpChange,
  trackUpdate,
  type FieldManagerScope,
} from '../patch/field-manager.js';
import { prepareWatch, watchCollection, type ApiWatchEvent, type PreparedWatch } from './collection-watch.js';
import { decodeContinue, encodeContinue } from './continue-token.js';
import type { KindStrategy } from './kind-strategy.js';
import {
  decodeObject,
  encodeObject,
  rawObjectChunks,
  rememberStored,
  TableRowCache,
  type TableRowSource,
} from './object-codec.js';
import type {
  DeleteOptions,
  ListOptions,
  PatchType,
  WatchOptions,
  WriteContext,
} from './operation-options.js';
import { hasGeneratedName, type PreparedCreate } from './prepared-create.js';
import { ResourceDeletion, type DeleteResult } from './resource-deletion.js';
import { ScaleRegistry } from './scale-registry.js';
import { compileSelection } from './selection.js';
import { collectionPrefix, objectKey, type KeySpace } from './storage-key.js';
import { strategyFor } from './strategy-for-kind.js';
import { parseResourceVersion } from './resource-version.js';

export type { ApiWatchEvent, ApiWatchEventType } from './collection-watch.js';
export type { DeleteResult } from './resource-deletion.js';
export type { PreparedCreate } from './prepared-create.js';

export interface ResourceRegistryDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly log: Logger;
  /** A new object uid (a UUID). */
  readonly newUid: () => string;
  /** The random suffix of `generateName` (5 characters upstream). */
  readonly nameSuffix: () => string;
  /** The admission plugins every write runs. */
  readonly admission: AdmissionChain;
}

export interface ListResult {
  /** The objects; empty when `rawItems` carries them instead. */
  readonly items: KubeObject[];
  /** With `raw: true` and no selector: each object's JSON as chunks of the stored bytes. */
  readonly rawItems?: Uint8Array[][];
  /**
   * With `forTable: true`: what each Table row needs, in the order of `items` (which are then
   * shared, read-only objects without managedFields), and each item's stored key-value.
   */
  readonly rows?: { readonly sources: TableRowSource[]; readonly stored: KeyValue[] };
  readonly resourceVersion: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

export interface WriteResult {
  readonly object: KubeObject;
  /** True when the write created the object (201). */
  readonly created: boolean;
}

/**
 * Writes that lose a compare-and-swap are retried this often before answering Conflict
 * (upstream's GuaranteedUpdate retries without a limit). The SQLite store commits one batch
 * while the next one queues, so under contention on one key only every other batch has a
 * winner: 30 concurrent patches of one object need up to ~30 attempts.
 */
const maxWriteAttempts = 64;
/** generateName collisions are retried this often. */
const maxGenerateNameAttempts = 8;

export class ResourceRegistry {
  readonly def: KindDefinition;
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Plural resource name, e.g. `deployments`. */
  readonly resource: string;
  readonly namespaced: boolean;
  /** `v1` or `apps/v1`. */
  readonly apiVersion: string;
  /** `pods` or `deployments.apps`, as upstream names a resource in messages. */
  readonly qualifiedResource: string;
  readonly schema: SchemaNode;
  readonly strategy: KindStrategy;
  readonly keys: KeySpace;
  /** The scale subresource, for kinds that declare scale paths. */
  readonly scale: ScaleRegistry | undefined;
  readonly maxWriteAttempts = maxWriteAttempts;
  readonly #deps: ResourceRegistryDeps;
  readonly #log: Logger;
  readonly #admission: AdmissionChain;
  readonly #deletion: ResourceDeletion;
  readonly #tableRows = new TableRowCache();

  constructor(def: KindDefinition, deps: ResourceRegistryDeps) {
    this.def = def;
    this.group = def.group;
    this.version = def.version;
    this.kind = def.kind;
    this.resource = def.plural;
    this.namespaced = def.namespaced;
    this.apiVersion = def.group === '' ? def.version : `${def.group}/${def.version}`;
    this.qualifiedResource = def.group === '' ? def.plural : `${def.plural}.${def.group}`;
    this.schema = schemaNodeFor(def.schema);
    this.strategy = strategyFor(def.group, def.kind);
    this.keys = { group: def.group, resource: def.plural, namespaced: def.namespaced };
    this.#deps = deps;
    this.#log = deps.log;
    this.#admission = deps.admission;
    this.#deletion = new ResourceDeletion(this, {
      store: deps.store,
      clock: deps.clock,
      admission: deps.admission,
      maxWriteAttempts,
    });
    this.scale = def.scale ? new ScaleRegistry(this, def.scale) : undefined;
  }

  // ---------------------------------------------------------------- errors

  notFoundError(name: string): H8sError {
    return notFound(`${this.qualifiedResource} "${name}" not found`, {
      details: { name, group: this.group, kind: this.resource },
    });
  }

  #alreadyExists(name: string): H8sError {
    return alreadyExists(`${this.qualifiedResource} "${name}" already exists`, {
      details: { name, group: this.group, kind: this.resource },
    });
  }

  conflictError(
    name: string,
    why = 'the object has been modified; please apply your changes to the latest version and try again',
  ): H8sError {
    return conflict(`Operation cannot be fulfilled on ${this.qualifiedResource} "${name}": ${why}`, {
      details: { name, group: this.group, kind: this.resource },
    });
  }

  invalidError(name: string, causes: readonly StatusCause[]): H8sError {
    return invalidObjectError(this.kind, name, causes, this.group);
  }

  /** A forbidden error naming this resource. */
  forbiddenError(name: string, why: string, causes: StatusCause[] = []): H8sError {
    return forbidden(`${this.qualifiedResource} "${name}" is forbidden: ${why}`, {
      details: { name, group: this.group, kind: this.resource, causes },
    });
  }

  // ---------------------------------------------------------------- helpers

  key(namespace: string | undefined, name: string): string {
    return objectKey(this.keys, this.namespaced ? namespace : undefined, name, this.qualifiedResource);
  }

  /** The creation time and uid of a new object (for a create prepared elsewhere). */
  systemFieldsForCreate(): { readonly nowMs: number; readonly uid: string } {
    return { nowMs: this.#deps.clock.now(), uid: this.#deps.newUid() };
  }

  /** Where managedFields are computed: this kind's schema, now, and the subresource written. */
  managedFieldsScope(subresource?: string): FieldManagerScope {
    return {
      schema: this.schema,
      apiVersion: this.apiVersion,
      now: formatTime(this.#deps.clock.now()),
      ...(subresource ? { subresource } : {}),
    };
  }

  /** The admission request of a write of this resource (see `admission-plugin.ts`). */
  admissionRequest(
    operation: AdmissionOperation,
    namespace: string | undefined,
    name: string,
    ctx: WriteContext,
    subresource?: string,
  ): AdmissionRequest {
    return {
      operation,
      group: this.group,
      version: this.version,
      resource: this.resource,
      kind: this.kind,
      subresource,
      namespace: this.namespaced ? namespace : undefined,
      name,
      userInfo: ctx.user,
      dryRun: ctx.dryRun,
    };
  }

  admissionAttributes(
    operation: AdmissionOperation,
    namespace: string | undefined,
    name: string,
    ctx: WriteContext,
    object: KubeObject | undefined,
    oldObject: Readonly<KubeObject> | undefined,
    subresource?: string,
  ): AdmissionAttributes {
    return { ...this.admissionRequest(operation, namespace, name, ctx, subresource), object, oldObject };
  }

  /**
   * Whether admission must see the object of a create in `namespace`: then the whole create
   * runs here, not in a write worker.
   */
  createNeedsObject(namespace: string | undefined, ctx: WriteContext): boolean {
    return this.#admission.needsObject(this.admissionRequest('CREATE', namespace, '', ctx));
  }

  /**
   * The decode step of a write (api's `decodeForAdmission`): a typed object of this kind, in
   * `namespace` and, when given, named `name`.
   * @throws BadRequest
   */
  decodeInput(body: unknown, ctx: WriteContext, namespace?: string, name?: string): KubeObject {
    return decodeForAdmission(this.def, body, {
      fieldValidation: ctx.fieldValidation,
      warnings: ctx.warnings,
      duplicateFields: ctx.duplicateFields,
      namespace,
      name,
    });
  }

  /** The stored object `name`. @throws NotFound */
  async getStored(namespace: string | undefined, name: string): Promise<{ key: string; kv: KeyValue }> {
    const key = this.key(namespace, name);
    const kv = await this.#deps.store.find(key);
    if (!kv) throw this.notFoundError(name);
    return { key, kv };
  }

  /** Logs at debug level; the endpoint logs the request line. */
  debug(message: string, fields: Record<string, unknown>): void {
    this.#log.debug(message, { resource: this.qualifiedResource, ...fields });
  }

  // ---------------------------------------------------------------- read

  /**
   * One object. `resourceVersion` "" / "0" / N all read the latest state (which is never
   * older than N; a future N is a 504 as upstream answers).
   * @throws NotFound
   */
  async get(
    namespace: string | undefined,
    name: string,
    options: { resourceVersion?: string } = {},
  ): Promise<KubeObject> {
    const rv = parseResourceVersion(options.resourceVersion);
    const { kv } = await this.getStored(namespace, name);
    if (rv !== undefined && rv > 0) await this.#checkNotTooLarge(rv);
    return decodeObject(kv);
  }

  /** Like `get`, as JSON chunks of the stored bytes (no parse). @throws NotFound */
  async getRaw(
    namespace: string | undefined,
    name: string,
    options: { resourceVersion?: string } = {},
  ): Promise<Uint8Array[]> {
    const rv = parseResourceVersion(options.resourceVersion);
    const { kv } = await this.getStored(namespace, name);
    if (rv !== undefined && rv > 0) await this.#checkNotTooLarge(rv);
    return rawObjectChunks(kv);
  }

  async #checkNotTooLarge(rv: number): Promise<void> {
    const current = await this.#deps.store.currentRevision();
    if (rv > current) {
      throw timeout(`Too large resource version: ${rv}, current: ${current}`, {
        details: {
          retryAfterSeconds: 1,
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        },
      });
    }
  }

  /** A list at one revision, with selectors and paging. See the module comment. */
  async list(
    namespace: string | undefined,
    options: ListOptions = {},
    raw = false,
    forTable = false,
  ): Promise<ListResult> {
    const selection = compileSelection(this.def, options.labelSelector, options.fieldSelector);
    const rawItems: Uint8Array[][] | undefined = raw && selection.isEverything ? [] : undefined;
    const rows =
      forTable && !rawItems ? { sources: [] as TableRowSource[], stored: [] as KeyValue[] } : undefined;
    const prefix = collectionPrefix(this.keys, this.namespaced ? namespace : undefined);
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 0;
    let revision: number | undefined;
    let startKey: string | undefined;
    let fromContinue = false;
    if (options.continueToken) {
      if (options.resourceVersion && options.resourceVersion !== '0') {
        throw badRequest('specifying resource version is not allowed when using continue');
      }
      const token = decodeContinue(options.continueToken);
      revision = token.revision;
      startKey = prefix + token.start;
      fromContinue = true;
    } else {
      const rv = parseResourceVersion(options.resourceVersion);
      const match =
        options.resourceVersionMatch ?? (rv !== undefined && rv > 0 && limit > 0 ? 'Exact' : undefined);
      if (rv !== undefined && rv > 0) {
        if (match === 'Exact') revision = rv;
        else await this.#checkNotTooLarge(rv);
      }
    }

    const items: KubeObject[] = [];
    let readRevision = 0;
    let nextStart: string | undefined;
    let remaining: number | undefined;
    try {
      for (;;) {
        const have = items.length + (rawItems?.length ?? 0);
        const want = limit === 0 ? 0 : selection.isEverything ? limit - have : Math.max(limit, 500);
        const page = await this.#deps.store.list(prefix, {
          ...(revision !== undefined ? { revision } : {}),
          ...(want > 0 ? { limit: want } : {}),
          ...(startKey !== undefined ? { startKey } : {}),
        });
        readRevision = page.revision;
        revision ??= page.revision;
        let stoppedAt = -1;
        for (let i = 0; i < page.items.length; i++) {
          const kv = page.items[i] as KeyValue;
          if (rawItems) rawItems.push(rawObjectChunks(kv));
          else if (rows) {
            const source = this.#tableRows.get(kv);
            if (selection.matches(source.object as KubeObject)) {
              items.push(source.object as KubeObject);
              rows.sources.push(source);
              rows.stored.push(kv);
            }
          } else {
            const obj = decodeObject(kv);
            if (selection.matches(obj)) items.push(obj);
          }
          if (limit > 0 && items.length + (rawItems?.length ?? 0) >= limit) {
            stoppedAt = i;
            break;
          }
        }
        if (stoppedAt >= 0) {
          const lastKey = (page.items[stoppedAt] as KeyValue).key;
          const more = stoppedAt < page.items.length - 1 || page.more;
          if (more) {
            nextStart = lastKey + '\u0000';
            if (selection.isEverything) remaining = page.count - (stoppedAt + 1);
          }
          break;
        }
        if (!page.more || limit === 0) break;
        const last = page.items[page.items.length - 1];
        if (!last) break;
        startKey = last.key + '\u0000';
      }
    } catch (err) {
      if (isGone(err)) {
        if (fromContinue) {
          throw expired(
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
            { cause: err },
          );
        }
        const compacted =
          (await bestEffort(
            this.#log,
            'read the compacted revision',
            this.#deps.store.compactedRevision(),
          )) ?? 0;
        throw expired(`too old resource version: ${revision ?? 0} (${compacted})`, { cause: err });
      }
      throw err;
    }
    return {
      items,
      ...(rawItems ? { rawItems } : {}),
      ...(rows ? { rows } : {}),
      resourceVersion: String(readRevision),
      ...(nextStart !== undefined
        ? { continue: encodeContinue({ revision: readRevision, start: nextStart.slice(prefix.length) }) }
        : {}),
      ...(remaining !== undefined && remaining > 0 ? { remainingItemCount: remaining } : {}),
    };
  }

  // ---------------------------------------------------------------- watch

  /** Checks watch parameters and compiles selectors; throws before any streaming starts. */
  prepareWatch(options: WatchOptions): PreparedWatch {
    return prepareWatch(this.def, options);
  }

  /** Watch events of the collection; see `collection-watch.ts`. */
  watch(namespace: string | undefined, options: WatchOptions): AsyncGenerator<ApiWatchEvent> {
    return watchCollection(this, this.#deps.store, this.#log, namespace, options);
  }

  // ---------------------------------------------------------------- create

  /**
   * Creates the object `body` in `namespace`.
   * @throws BadRequest (malformed, wrong kind, strict unknown fields, namespace mismatch),
   *   Invalid, NotFound (namespace), Forbidden (namespace terminating, other admission
   *   refusals), AlreadyExists.
   */
  async create(namespace: string | undefined, body: unknown, ctx: WriteContext): Promise<KubeObject> {
    const obj = this.decodeInput(body, ctx, namespace);
    return this.createDecoded(namespace, obj, ctx, (o) =>
      trackUpdate(undefined, o, ctx.fieldManager, this.managedFieldsScope()),
    );
  }

  /** Create of an already decoded object; `track` sets its managedFields. */
  async createDecoded(
    namespace: string | undefined,
    obj: KubeObject,
    ctx: WriteContext,
    track: (obj: KubeObject) => void,
  ): Promise<KubeObject> {
    const meta = obj.metadata;
    const generated = hasGeneratedName(obj);
    const attributes = this.admissionAttributes(
      'CREATE',
      namespace,
      meta.name ?? meta.generateName ?? '',
      ctx,
      obj,
      undefined,
    );
    const finish = await this.#admission.admit(attributes);
    let outcome: WriteOutcome = 'refused';
    try {
      const created = await this.#createAdmitted(namespace, obj, ctx, track, attributes, generated);
      if (!ctx.dryRun) outcome = 'stored';
      return created;
    } finally {
      await finish(outcome);
    }
  }

  async #createAdmitted(
    namespace: string | undefined,
    obj: KubeObject,
    ctx: WriteContext,
    track: (obj: KubeObject) => void,
    attributes: AdmissionAttributes,
    generated: boolean,
  ): Promise<KubeObject> {
    const { nowMs, uid } = this.systemFieldsForCreate();
    const completion: CreateCompletion = {
      operation: 'create',
      nowMs,
      uid,
      nameSuffix: this.#deps.nameSuffix,
      prepareForCreate: (o) => this.strategy.prepareForCreate?.(o),
    };
    for (let attempt = 0; ; attempt++) {
      let candidate = obj;
      if (attempt > 0) {
        // A generated name collided: the same object under a new name.
        candidate = structuredClone(obj);
        delete candidate.metadata.name;
      }
      completeAdmission(this.def, candidate, completion);
      track(candidate);
      await this.#admission.validate({ ...attributes, object: candidate });
      if (ctx.dryRun) return candidate;
      const key = this.key(namespace, candidate.metadata.name as string);
      const result = await this.#deps.store.create(key, encodeObject(candidate));
      if (result.ok) {
        candidate.metadata.resourceVersion = String(result.kv.modRevision);
        rememberStored(candidate, result.kv);
        return candidate;
      }
      if (generated && attempt < maxGenerateNameAttempts) continue;
      throw this.#alreadyExists(candidate.metadata.name as string);
    }
  }

  /**
   * The event-loop half of a create prepared by a write worker (`prepareCreate`): admission,
   * the prepared error if any, and the store write. Only for creates whose admission does not
   * need the object (`createNeedsObject`). Returns the stored key-value, or `undefined` when a
   * generated name collided or admission needs the object after all (the caller retries the
   * whole create inline).
   * @throws what `prepareCreate` returned, what admission refuses with, AlreadyExists.
   */
  async createPrepared(
    namespace: string | undefined,
    prepared: PreparedCreate,
    ctx: WriteContext,
  ): Promise<KeyValue | undefined> {
    if (!prepared.ok && prepared.stage === 'decode') throw prepared.error;
    if (
      prepared.ok &&
      (await this.#admission.needsPreparedObject(
        this.admissionRequest('CREATE', namespace, prepared.admissionName, ctx),
        prepared.facts,
      ))
    ) {
      return undefined;
    }
    const attributes = this.admissionAttributes(
      'CREATE',
      namespace,
      prepared.admissionName,
      ctx,
      undefined,
      undefined,
    );
    const finish = await this.#admission.admit(attributes);
    let outcome: WriteOutcome = 'refused';
    try {
      if (!prepared.ok) throw prepared.error;
      await this.#admission.validate(attributes);
      const result = await this.#deps.store.create(this.key(namespace, prepared.name), prepared.value);
      if (result.ok) {
        outcome = 'stored';
        return result.kv;
      }
      if (prepared.generated) return undefined;
      throw this.#alreadyExists(prepared.name);
    } finally {
      await finish(outcome);
    }
  }

  // ---------------------------------------------------------------- update

  /**
   * Replaces the object (PUT) or, with `subresource: 'status'`, only its status.
   * @throws NotFound, Conflict (stale resourceVersion), BadRequest, Invalid, admission refusals.
   */
  async update(
    namespace: string | undefined,
    name: string,
    body: unknown,
    ctx: WriteContext,
    subresource?: 'status',
  ): Promise<WriteResult> {
    const obj = this.decodeInput(body, ctx, namespace, name);
    const wantedRv = this.#bodyResourceVersion(obj);
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await this.getStored(namespace, name);
      const live = decodeObject(kv);
      if (wantedRv !== undefined && wantedRv !== kv.modRevision) throw this.conflictError(name);
      const next = structuredClone(obj);
      const outcome = await this.commitUpdate(key, kv, live, next, ctx, subresource, (n) =>
        trackUpdate(live, n, ctx.fieldManager, this.managedFieldsScope(subresource)),
      );
      if (outcome !== 'conflict') return { object: outcome, created: false };
      if (wantedRv !== undefined || attempt >= maxWriteAttempts) throw this.conflictError(name);
    }
  }

  #bodyResourceVersion(obj: KubeObject): number | undefined {
    const raw = obj.metadata.resourceVersion;
    if (raw === undefined || raw === '') return undefined;
    const rv = parseResourceVersion(raw, 'metadata.resourceVersion');
    return rv === 0 ? undefined : rv;
  }

  /**
   * The common tail of every update (PUT, patch, subresources): mutating admission, the
   * update half of the pure pipeline (what clients may not change carried over, defaults,
   * generation, validation), managed fields, validating admission, no-op detection, finishing
   * a deletion when the last finalizer goes, and the compare-and-swap write. Returns 'conflict'
   * when the CAS lost (the caller reads again and retries).
   * @param operation how admission sees the write (pods/binding is a CREATE upstream).
   */
  async commitUpdate(
    key: string,
    kv: KeyValue,
    live: KubeObject,
    next: KubeObject,
    ctx: WriteContext,
    subresource: string | undefined,
    track: (next: KubeObject) => void,
    operation: AdmissionOperation = 'UPDATE',
  ): Promise<KubeObject | 'conflict'> {
    const name = live.metadata.name as string;
    const attributes = this.admissionAttributes(
      operation,
      live.metadata.namespace,
      name,
      ctx,
      next,
      live,
      subresource,
    );
    const finish = await this.#admission.admit(attributes);
    const done: { outcome: WriteOutcome } = { outcome: 'refused' };
    try {
      return await this.#commitAdmitted(key, kv, live, next, ctx, subresource, track, attributes, done);
    } finally {
      await finish(done.outcome);
    }
  }

  /** `commitUpdate` after mutating admission; sets `done.outcome` when it writes. */
  async #commitAdmitted(
    key: string,
    kv: KeyValue,
    live: KubeObject,
    next: KubeObject,
    ctx: WriteContext,
    subresource: string | undefined,
    track: (next: KubeObject) => void,
    attributes: AdmissionAttributes,
    done: { outcome: WriteOutcome },
  ): Promise<KubeObject | 'conflict'> {
    const name = live.metadata.name as string;
    next = completeAdmission(this.def, next, {
      operation: 'update',
      nowMs: this.#deps.clock.now(),
      old: live,
      subresource,
      skipsKindRules: subresource === 'binding' || subresource === 'finalize',
    });
    track(next);
    await this.#admission.validate({ ...attributes, object: next });

    if (isNoOpChange(live, next)) return live;

    const finishing =
      next.metadata.deletionTimestamp !== undefined &&
      (next.metadata.finalizers ?? []).length === 0 &&
      !(this.strategy.hasPendingFinalization?.(next) ?? false) &&
      (next.metadata.deletionGracePeriodSeconds ?? 0) === 0;
    if (ctx.dryRun) return next;
    if (finishing) {
      const result = await this.#deps.store.delete(key, kv.modRevision);
      if (!result.ok) {
        if (result.reason === 'conflict') return 'conflict';
        throw this.notFoundError(name);
      }
      done.outcome = 'deleted';
      next.metadata.resourceVersion = String(result.revision);
      return next;
    }
    const result = await this.#deps.store.update(key, encodeObject(next), kv.modRevision);
    if (!result.ok) {
      if (result.reason === 'notFound') throw this.notFoundError(name);
      return 'conflict';
    }
    done.outcome = 'stored';
    next.metadata.resourceVersion = String(result.kv.modRevision);
    rememberStored(next, result.kv);
    return next;
  }

  /**
   * A guaranteed update (upstream GuaranteedUpdate): reads the object, lets `mutate` change a
   * copy, and writes it with compare-and-swap, retrying on conflicts. Used by subresources the
   * server implements itself (pods/binding, namespaces/finalize). `mutate` may throw to refuse.
   * @throws NotFound, Conflict, Invalid, admission refusals, or what `mutate` throws.
   */
  async mutate(
    namespace: string | undefined,
    name: string,
    ctx: WriteContext,
    subresource: string,
    mutate: (obj: KubeObject, live: Readonly<KubeObject>) => void,
    operation: AdmissionOperation = 'UPDATE',
  ): Promise<KubeObject> {
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await this.getStored(namespace, name);
      const live = decodeObject(kv);
      const next = structuredClone(live);
      mutate(next, live);
      const outcome = await this.commitUpdate(
        key,
        kv,
        live,
        next,
        ctx,
        subresource,
        (n) => trackUpdate(live, n, ctx.fieldManager, this.managedFieldsScope(subresource)),
        operation,
      );
      if (outcome !== 'conflict') return outcome;
      if (attempt >= maxWriteAttempts) throw this.conflictError(name);
    }
  }

  // ---------------------------------------------------------------- patch

  /**
   * Patches the object (or its status). Apply patches create the object when it is missing.
   * @throws NotFound, Conflict, BadRequest, Invalid, admission refusals; UnsupportedMediaType
   *   is the endpoint's.
   */
  async patch(
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    ctx: WriteContext,
    options: { subresource?: 'status'; force?: boolean } = {},
  ): Promise<WriteResult> {
    const subresource = options.subresource;
    let applyConfig: KubeObject | undefined;
    if (type === 'apply') applyConfig = this.#applyConfig(patch, namespace, name, ctx, subresource);
    for (let attempt = 0; ; attempt++) {
      const key = this.key(namespace, name);
      const kv = await this.#deps.store.find(key);
      if (!kv) {
        if (applyConfig && subresource === undefined) {
          const config = structuredClone(applyConfig);
          const created = await this.createDecoded(namespace, config, ctx, (o) => {
            const merged = applyConfiguration(
              undefined,
              o,
              ctx.fieldManager,
              { force: true },
              this.managedFieldsScope(),
            );
            o.metadata.managedFields = merged.metadata.managedFields ?? [];
          });
          return { object: created, created: true };
        }
        throw this.notFoundError(name);
      }
      const live = decodeObject(kv);
      let next: KubeObject;
      let track: (n: KubeObject) => void;
      if (applyConfig) {
        next = applyConfiguration(
          live,
          structuredClone(applyConfig),
          ctx.fieldManager,
          { force: options.force ?? false },
          this.managedFieldsScope(subresource),
        );
        const managed = next.metadata.managedFields;
        track = (n) => {
          n.metadata.managedFields = managed ?? [];
        };
      } else {
        next = this.#applyPatch(live, type, patch) as KubeObject;
        if (!isRecord(next)) throw badRequest('The patched object is not a JSON object');
        track = (n) => trackUpdate(live, n, ctx.fieldManager, this.managedFieldsScope(subresource));
      }
      if (!isRecord(next.metadata)) next.metadata = {};
      if (next.apiVersion !== this.apiVersion || next.kind !== this.kind) {
        throw badRequest(
          `The patch must not change apiVersion or kind of ${this.qualifiedResource} "${name}"`,
        );
      }
      checkObjectFields(this.def, next, ctx);
      if (next.metadata.name !== name) {
        throw badRequest(
          `the name of the object (${next.metadata.name ?? ''}) does not match the name on the URL (${name})`,
        );
      }
      const patchedRv = next.metadata.resourceVersion;
      const pinned = patchedRv !== undefined && patchedRv !== live.metadata.resourceVersion;
      if (pinned) {
        parseResourceVersion(patchedRv, 'metadata.resourceVersion');
        throw this.conflictError(name);
      }
      const outcome = await this.commitUpdate(key, kv, live, next, ctx, subresource, track);
      if (outcome !== 'conflict') return { object: outcome, created: false };
      if (attempt >= maxWriteAttempts) throw this.conflictError(name);
    }
  }

  #applyPatch(live: KubeObject, type: PatchType, patch: unknown): unknown {
    switch (type) {
      case 'json':
        return applyJsonPatch(live, patch);
      case 'merge':
        if (!isRecord(patch)) throw badRequest('The merge patch must be a JSON object');
        return applyMergePatch(live, patch);
      case 'strategic':
        return applyStrategicMergePatch(live, patch, this.schema);
      case 'apply':
        throw badRequest('Apply patches are handled by server-side apply');
    }
  }

  #applyConfig(
    patch: unknown,
    namespace: string | undefined,
    name: string,
    ctx: WriteContext,
    subresource: 'status' | undefined,
  ): KubeObject {
    if (!isRecord(patch)) throw badRequest('The apply configuration must be an object');
    const cfg = patch;
    if (typeof cfg['apiVersion'] !== 'string' || cfg['apiVersion'] === '') {
      throw badRequest('apiVersion must be set in the apply configuration');
    }
    if (typeof cfg['kind'] !== 'string' || cfg['kind'] === '') {
      throw badRequest('kind must be set in the apply configuration');
    }
    const obj = this.decodeInput(cfg, ctx, namespace);
    const meta = obj.metadata;
    if (meta.name === undefined || meta.name === '') meta.name = name;
    if (meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    if (meta.managedFields !== undefined) {
      throw badRequest('metadata.managedFields must be nil in an apply configuration');
    }
    delete meta.resourceVersion;
    // Upstream resets what the target does not own: status for the main resource.
    if (this.def.hasStatusSubresource && subresource === undefined) delete obj['status'];
    return obj;
  }

  // ---------------------------------------------------------------- delete

  /** Deletes the object or starts its deletion; see `resource-deletion.ts`. */
  delete(
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
    ctx: WriteContext,
  ): Promise<DeleteResult> {
    return this.#deletion.delete(namespace, name, options, ctx);
  }

  /** Deletes every object the list options select; returns what was deleted or is being deleted. */
  deleteCollection(
    namespace: string | undefined,
    listOptions: ListOptions,
    options: DeleteOptions,
    ctx: WriteContext,
  ): Promise<KubeObject[]> {
    return this.#deletion.deleteCollection(namespace, listOptions, options, ctx);
  }
}
