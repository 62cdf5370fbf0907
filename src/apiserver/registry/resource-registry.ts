/**
 * The generic registry of one kind (upstream `registry/generic/registry.Store`): create, get,
 * list, watch, update, patch, delete and deletecollection over the KeyValueStore, driven by the
 * kind's `KindDefinition` and, for the few kinds that need it, a `KindStrategy`.
 *
 * It owns the semantics clients rely on: system metadata (uid, creationTimestamp, generation,
 * resourceVersion = store revision, managedFields), optimistic concurrency, strict/warn/ignore
 * field validation, dry-run, finalizers and deletionTimestamp, garbage-collection finalizers
 * from `propagationPolicy`, consistent paging at a fixed revision, and watch with selector
 * transitions, bookmarks and 410 for compacted revisions.
 *
 * Errors are H8sErrors with Kubernetes reasons and upstream messages (the endpoints turn them
 * into Status): NotFound, AlreadyExists, Conflict, Invalid (422, causes), BadRequest, Forbidden,
 * Expired (410), Timeout (504), plus whatever the store throws (ServiceUnavailable, ...).
 */
import type { KindDefinition, KubeObject } from '../../api/index.js';
import {
  labelSelectorFromObject,
  labelSelectorToString,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from '../../api/index.js';
import {
  alreadyExists,
  badRequest,
  bestEffort,
  conflict,
  expired,
  forbidden,
  invalid,
  isGone,
  isRecord,
  matchesSchema,
  notFound,
  schemaCauses,
  timeout,
  type Clock,
  type H8sError,
  type Logger,
  type StatusCause,
} from '../../lib/index.js';
import type { KeyValue, KeyValueStore } from '../../storage/index.js';
import { applyJsonPatch, jsonEqual } from '../patch/json-patch.js';
import { applyMergePatch } from '../patch/merge-patch.js';
import { applyStrategicMergePatch } from '../patch/strategic-merge-patch.js';
import {
  applyConfiguration,
  isNoOpChange,
  trackUpdate,
  type FieldManagerScope,
} from '../patch/field-manager.js';
import { schemaNodeFor, type SchemaNode } from '../schema/schema-node.js';
import { pruneUnknownFields } from '../schema/unknown-fields.js';
import { decodeContinue, encodeContinue } from './continue-token.js';
import type { KindStrategy } from './kind-strategy.js';
import {
  decodeObject,
  decodeShared,
  encodeObject,
  formatTime,
  rawObjectChunks,
  rememberStored,
  TableRowCache,
  type TableRowSource,
} from './object-codec.js';
import type {
  DeleteOptions,
  ListOptions,
  PatchType,
  PropagationPolicy,
  WatchOptions,
  WriteContext,
} from './operation-options.js';
import { compileSelection, type Selection } from './selection.js';
import { collectionPrefix, objectKey, type KeySpace } from './storage-key.js';
import { strategyFor } from './strategy-for-kind.js';
import { parseResourceVersion } from './resource-version.js';

export interface ResourceRegistryDeps {
  readonly store: KeyValueStore;
  readonly clock: Clock;
  readonly log: Logger;
  /** A new object uid (a UUID). */
  readonly newUid: () => string;
  /** The random suffix of `generateName` (5 characters upstream). */
  readonly nameSuffix: () => string;
  /**
   * Checks that `namespace` exists and accepts new content.
   * @throws NotFound (no such namespace) or Forbidden (Terminating).
   */
  readonly admitNamespace: (namespace: string, registry: ResourceRegistry, name: string) => Promise<void>;
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

export type ApiWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ApiWatchEvent {
  readonly type: ApiWatchEventType;
  /** Read-only: shared between watchers. A Status for ERROR. */
  readonly object: Readonly<KubeObject> | Readonly<Record<string, unknown>>;
}

/** The outcome of `prepareCreate` (it crosses threads: plain data and errors only). */
export type PreparedCreate =
  | {
      readonly ok: true;
      readonly name: string;
      /** The name namespace admission reports (the generateName prefix for generated names). */
      readonly admissionName: string;
      /** True when the name was generated (a collision retries instead of AlreadyExists). */
      readonly generated: boolean;
      /** The bytes to store. */
      readonly value: Uint8Array;
    }
  | {
      readonly ok: false;
      /** `decode` errors come before namespace admission, `validate` errors after it. */
      readonly stage: 'decode' | 'validate';
      readonly error: unknown;
      readonly admissionName: string;
    };

export interface WriteResult {
  readonly object: KubeObject;
  /** True when the write created the object (201). */
  readonly created: boolean;
}

export interface DeleteResult {
  /** The last state (deleted) or the object now pending deletion. */
  readonly object: KubeObject;
  /** True when the object is gone; false when deletion waits for finalizers or grace. */
  readonly deleted: boolean;
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

const gcFinalizers = { orphan: 'orphan', foreground: 'foregroundDeletion' } as const;

/** Everything but metadata and status, for generation tracking. */
function specPart(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

/** Reads `.a.b.c` from an object. */
function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.replace(/^\./, '').split('.')) {
    if (!isRecord(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.replace(/^\./, '').split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (!isRecord(cur[part])) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

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
  readonly #deps: ResourceRegistryDeps;
  readonly #log: Logger;
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
    const texts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const aggregate = texts.length === 1 ? (texts[0] as string) : `[${texts.join(', ')}]`;
    return invalid(`${this.kind} "${name}" is invalid: ${aggregate}`, {
      details: { name, group: this.group, kind: this.kind, causes: [...causes] },
    });
  }

  #decodeError(detail: string): H8sError {
    return badRequest(
      `${this.kind} in version "${this.version}" cannot be handled as a ${this.kind}: ${detail}`,
    );
  }

  // ---------------------------------------------------------------- helpers

  key(namespace: string | undefined, name: string): string {
    return objectKey(this.keys, this.namespaced ? namespace : undefined, name, this.qualifiedResource);
  }

  /** The creation time and uid of a new object (for a create prepared elsewhere). */
  systemFieldsForCreate(): { readonly nowMs: number; readonly uid: string } {
    return { nowMs: this.#deps.clock.now(), uid: this.#deps.newUid() };
  }

  #now(): string {
    return formatTime(this.#deps.clock.now());
  }

  #scope(subresource?: string): FieldManagerScope {
    return {
      schema: this.schema,
      apiVersion: this.apiVersion,
      now: this.#now(),
      ...(subresource ? { subresource } : {}),
    };
  }

  /**
   * Turns a request body into a typed object of this kind: fills a missing apiVersion/kind,
   * rejects another kind, drops unknown fields (400 in Strict mode, warnings in Warn mode) and
   * checks types against the schema.
   */
  decodeInput(body: unknown, ctx: WriteContext): KubeObject {
    if (!isRecord(body)) throw this.#decodeError('the request body must be a JSON object');
    const obj = body as Record<string, unknown>;
    if (obj['apiVersion'] === undefined || obj['apiVersion'] === '') obj['apiVersion'] = this.apiVersion;
    if (obj['kind'] === undefined || obj['kind'] === '') obj['kind'] = this.kind;
    if (obj['apiVersion'] !== this.apiVersion) {
      throw badRequest(
        `the API version in the data (${String(obj['apiVersion'])}) does not match the expected API version (${this.apiVersion})`,
      );
    }
    if (obj['kind'] !== this.kind) {
      throw badRequest(
        `the kind in the data (${JSON.stringify(obj['kind'])}) does not match the expected kind ("${this.kind}")`,
      );
    }
    if (obj['metadata'] === undefined || obj['metadata'] === null) obj['metadata'] = {};
    this.checkFields(obj, ctx);
    return obj as KubeObject;
  }

  /** Unknown-field pruning and the type check of a whole object (also after patches). */
  checkFields(obj: Record<string, unknown>, ctx: WriteContext): void {
    // Also drops JSON nulls: Go's decoder reads them as "absent" (creationTimestamp: null).
    const unknown = pruneUnknownFields(this.schema, obj);
    const problems = [
      ...unknown.map((f) => `unknown field "${f}"`),
      ...(ctx.duplicateFields ?? []).map((f) => `duplicate field "${f}"`),
    ];
    if (problems.length > 0) {
      if (ctx.fieldValidation === 'Strict')
        throw this.#decodeError(`strict decoding error: ${problems.join(', ')}`);
      if (ctx.fieldValidation === 'Warn') ctx.warnings.push(...problems);
    }
    // The compiled check is cheap; collecting the errors is not, so only do it on failure.
    if (matchesSchema(this.def.schema, obj)) return;
    const causes = schemaCauses(this.def.schema, obj, 5);
    if (causes.length > 0) {
      const first = causes[0] as StatusCause;
      throw this.#decodeError(`${first.field ? first.field + ': ' : ''}${first.message}`);
    }
  }

  /**
   * Metadata rules plus the kind's own. `withKindRules: false` is for writes the server makes
   * itself through subresources upstream also exempts from the kind's update rules
   * (pods/binding sets spec.nodeName, namespaces/finalize sets spec.finalizers).
   */
  #validate(obj: KubeObject, old: KubeObject | undefined, withKindRules = true): void {
    const ctx = { operation: old ? ('update' as const) : ('create' as const), nowMs: this.#deps.clock.now() };
    const causes: StatusCause[] = [
      ...validateObjectMeta(obj.metadata, {
        namespaced: this.namespaced,
        kind: this.kind,
        ...(this.def.nameRule ? { nameRule: this.def.nameRule } : {}),
      }),
      ...(old ? validateObjectMetaUpdate(obj.metadata, old.metadata) : []),
      ...(withKindRules ? this.def.validate(obj, old, ctx) : []),
    ];
    if (causes.length > 0) throw this.invalidError(obj.metadata.name ?? '', causes);
  }

  async #find(key: string): Promise<KeyValue | undefined> {
    return this.#deps.store.find(key);
  }

  async #getKv(namespace: string | undefined, name: string): Promise<{ key: string; kv: KeyValue }> {
    const key = this.key(namespace, name);
    const kv = await this.#find(key);
    if (!kv) throw this.notFoundError(name);
    return { key, kv };
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
    const { kv } = await this.#getKv(namespace, name);
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
    const { kv } = await this.#getKv(namespace, name);
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

  /** Checks watch parameters and compiles selectors; throws before any streaming starts. */
  prepareWatch(options: WatchOptions): { selection: Selection; resourceVersion: number | undefined } {
    const selection = compileSelection(this.def, options.labelSelector, options.fieldSelector);
    const rv = parseResourceVersion(options.resourceVersion);
    const causes: StatusCause[] = [];
    if (options.sendInitialEvents !== undefined) {
      if (options.resourceVersionMatch !== 'NotOlderThan') {
        causes.push({
          reason: 'FieldValueForbidden',
          field: 'resourceVersionMatch',
          message: 'Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
        });
      }
      if (options.sendInitialEvents && !options.allowWatchBookmarks) {
        causes.push({
          reason: 'FieldValueForbidden',
          field: 'allowWatchBookmarks',
          message: 'Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true',
        });
      }
    } else if (options.resourceVersionMatch !== undefined) {
      causes.push({
        reason: 'FieldValueForbidden',
        field: 'resourceVersionMatch',
        message:
          'Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
      });
    }
    if (causes.length > 0) {
      const texts = causes.map((c) => `${c.field}: ${c.message}`);
      throw invalid(
        `ListOptions.meta.k8s.io "" is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`,
        {
          details: { group: 'meta.k8s.io', kind: 'ListOptions', causes },
        },
      );
    }
    return { selection, resourceVersion: rv };
  }

  /**
   * Watch events for the collection. Call `prepareWatch` first (it throws the 400s); this
   * generator never throws for expected outcomes: a compacted start revision yields one ERROR
   * event (410 Expired) and ends.
   */
  async *watch(namespace: string | undefined, options: WatchOptions): AsyncGenerator<ApiWatchEvent> {
    const { selection, resourceVersion } = this.prepareWatch(options);
    const prefix = collectionPrefix(this.keys, this.namespaced ? namespace : undefined);
    const store = this.#deps.store;
    let from: number;
    const wantsInitial =
      options.sendInitialEvents === true ||
      (options.sendInitialEvents === undefined && (resourceVersion === undefined || resourceVersion === 0));
    if (wantsInitial) {
      const page = await store.list(prefix);
      for (const kv of page.items) {
        const obj = decodeShared(kv);
        if (selection.matches(obj)) yield { type: 'ADDED', object: obj };
      }
      from = page.revision;
      if (options.sendInitialEvents === true) {
        yield {
          type: 'BOOKMARK',
          object: {
            kind: this.kind,
            apiVersion: this.apiVersion,
            metadata: { resourceVersion: String(from), annotations: { 'k8s.io/initial-events-end': 'true' } },
          },
        };
      }
    } else {
      from = resourceVersion ?? 0;
    }

    try {
      const stream = store.watch(prefix, {
        fromRevision: from,
        signal: options.signal,
        ...(options.allowWatchBookmarks ? { progressIntervalMs: options.bookmarkIntervalMs } : {}),
      });
      for await (const ev of stream) {
        if (ev.type === 'progress') {
          if (options.allowWatchBookmarks) {
            yield {
              type: 'BOOKMARK',
              object: {
                kind: this.kind,
                apiVersion: this.apiVersion,
                metadata: { resourceVersion: String(ev.revision) },
              },
            };
          }
          continue;
        }
        const cur = ev.type === 'put' ? decodeShared(ev.kv) : undefined;
        const prev = ev.prev ? decodeShared(ev.prev) : undefined;
        const curPasses = cur !== undefined && selection.matches(cur);
        const prevPasses = prev !== undefined && selection.matches(prev);
        if (curPasses) {
          yield { type: prevPasses ? 'MODIFIED' : 'ADDED', object: cur };
        } else if (prevPasses && prev) {
          // Gone, or no longer selected: DELETED with the previous content at the event's revision.
          yield {
            type: 'DELETED',
            object: { ...prev, metadata: { ...prev.metadata, resourceVersion: String(ev.revision) } },
          };
        }
      }
    } catch (err) {
      if (options.signal.aborted) return;
      if (isGone(err)) {
        const compacted =
          (await bestEffort(this.#log, 'read the compacted revision', store.compactedRevision())) ?? 0;
        yield {
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: `too old resource version: ${from} (${compacted})`,
            reason: 'Expired',
            code: 410,
          },
        };
        return;
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- create

  /**
   * Creates the object `body` in `namespace`.
   * @throws BadRequest (malformed, wrong kind, strict unknown fields, namespace mismatch),
   *   Invalid, NotFound (namespace), Forbidden (namespace terminating), AlreadyExists.
   */
  async create(namespace: string | undefined, body: unknown, ctx: WriteContext): Promise<KubeObject> {
    const obj = this.decodeInput(body, ctx);
    return this.createDecoded(namespace, obj, ctx, (o) =>
      trackUpdate(undefined, o, ctx.fieldManager, this.#scope()),
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
    this.#placeInNamespace(meta, namespace);
    const generate = !meta.name && typeof meta.generateName === 'string' && meta.generateName !== '';
    if (this.namespaced && namespace !== undefined) {
      await this.#deps.admitNamespace(namespace, this, meta.name ?? meta.generateName ?? '');
    }
    this.#setSystemMetadata(obj);

    for (let attempt = 0; ; attempt++) {
      if (generate) meta.name = `${meta.generateName as string}${this.#deps.nameSuffix()}`;
      const candidate = attempt === 0 ? obj : structuredClone(obj);
      this.#completeCreate(candidate, track);
      if (ctx.dryRun) return candidate;
      const key = this.key(namespace, candidate.metadata.name as string);
      const result = await this.#deps.store.create(key, encodeObject(candidate));
      if (result.ok) {
        candidate.metadata.resourceVersion = String(result.kv.modRevision);
        rememberStored(candidate, result.kv);
        return candidate;
      }
      if (generate && attempt < maxGenerateNameAttempts) continue;
      throw this.#alreadyExists(candidate.metadata.name as string);
    }
  }

  /** The namespace checks of a create (upstream's BeforeCreate). @throws BadRequest */
  #placeInNamespace(meta: KubeObject['metadata'], namespace: string | undefined): void {
    if (this.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      if (namespace !== undefined) meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
  }

  /** System metadata (upstream BeforeCreate / FillObjectMetaSystemFields). */
  #setSystemMetadata(obj: KubeObject): void {
    const meta = obj.metadata;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete (meta as Record<string, unknown>)['selfLink'];
    meta.uid = this.#deps.newUid();
    meta.creationTimestamp = this.#now();
    if (this.def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    if (this.def.hasStatusSubresource) delete obj['status'];
    delete meta.managedFields;
    this.strategy.prepareForCreate?.(obj);
  }

  /** Defaults, validation and managedFields of an object about to be created. @throws Invalid */
  #completeCreate(obj: KubeObject, track: (obj: KubeObject) => void): void {
    this.def.applyDefaults(obj, { operation: 'create', nowMs: this.#deps.clock.now() });
    this.#validate(obj, undefined);
    track(obj);
  }

  /**
   * Everything a create from a request body does that needs no server state (a write worker
   * runs it off the event loop): decode, unknown and duplicate fields, the namespace checks,
   * system metadata (uid and time from `deps`), defaults, validation, managedFields and the
   * stored bytes. `createPrepared` does the rest on the event loop. Never throws: errors are
   * returned with the stage they belong to, so the caller keeps upstream's order (decode
   * errors before namespace admission, validation errors after it).
   */
  prepareCreate(namespace: string | undefined, body: unknown, ctx: WriteContext): PreparedCreate {
    let obj: KubeObject;
    try {
      obj = this.decodeInput(body, ctx);
      this.#placeInNamespace(obj.metadata, namespace);
    } catch (error) {
      return { ok: false, stage: 'decode', error, admissionName: '' };
    }
    const meta = obj.metadata;
    const admissionName = meta.name ?? meta.generateName ?? '';
    const generated = !meta.name && typeof meta.generateName === 'string' && meta.generateName !== '';
    try {
      this.#setSystemMetadata(obj);
      if (generated) meta.name = `${meta.generateName as string}${this.#deps.nameSuffix()}`;
      this.#completeCreate(obj, (o) => trackUpdate(undefined, o, ctx.fieldManager, this.#scope()));
      return { ok: true, name: meta.name as string, admissionName, generated, value: encodeObject(obj) };
    } catch (error) {
      return { ok: false, stage: 'validate', error, admissionName };
    }
  }

  /**
   * The event-loop half of a create prepared by `prepareCreate`: namespace admission, the
   * prepared error if any, and the store write. Returns the stored key-value, or `undefined`
   * when a generated name collided (the caller retries the whole create).
   * @throws what `prepareCreate` returned, NotFound/Forbidden (namespace), AlreadyExists.
   */
  async createPrepared(
    namespace: string | undefined,
    prepared: PreparedCreate,
  ): Promise<KeyValue | undefined> {
    if (!prepared.ok && prepared.stage === 'decode') throw prepared.error;
    if (this.namespaced && namespace !== undefined) {
      await this.#deps.admitNamespace(namespace, this, prepared.admissionName);
    }
    if (!prepared.ok) throw prepared.error;
    const result = await this.#deps.store.create(this.key(namespace, prepared.name), prepared.value);
    if (result.ok) return result.kv;
    if (prepared.generated) return undefined;
    throw this.#alreadyExists(prepared.name);
  }

  // ---------------------------------------------------------------- update

  /**
   * Replaces the object (PUT) or, with `subresource: 'status'`, only its status.
   * @throws NotFound, Conflict (stale resourceVersion), BadRequest, Invalid.
   */
  async update(
    namespace: string | undefined,
    name: string,
    body: unknown,
    ctx: WriteContext,
    subresource?: 'status',
  ): Promise<WriteResult> {
    const obj = this.decodeInput(body, ctx);
    this.#checkIdentity(obj, namespace, name);
    const wantedRv = this.#bodyResourceVersion(obj);
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await this.#getKv(namespace, name);
      const live = decodeObject(kv);
      if (wantedRv !== undefined && wantedRv !== kv.modRevision) throw this.conflictError(name);
      const next = structuredClone(obj);
      const outcome = await this.#commitUpdate(key, kv, live, next, ctx, subresource, (n) =>
        trackUpdate(live, n, ctx.fieldManager, this.#scope(subresource)),
      );
      if (outcome !== 'conflict') return { object: outcome, created: false };
      if (wantedRv !== undefined || attempt >= maxWriteAttempts) throw this.conflictError(name);
    }
  }

  #checkIdentity(obj: KubeObject, namespace: string | undefined, name: string): void {
    const meta = obj.metadata;
    if (meta.name !== name) {
      throw badRequest(
        `the name of the object (${meta.name ?? ''}) does not match the name on the URL (${name})`,
      );
    }
    if (this.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      if (namespace !== undefined) meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
  }

  #bodyResourceVersion(obj: KubeObject): number | undefined {
    const raw = obj.metadata.resourceVersion;
    if (raw === undefined || raw === '') return undefined;
    const rv = parseResourceVersion(raw, 'metadata.resourceVersion');
    return rv === 0 ? undefined : rv;
  }

  /**
   * The common tail of update and patch: carries over what clients may not change, defaults,
   * validates, records managed fields, skips no-ops, finishes deletion when the last finalizer
   * goes, and writes with compare-and-swap. Returns 'conflict' when the CAS lost.
   */
  async #commitUpdate(
    key: string,
    kv: KeyValue,
    live: KubeObject,
    next: KubeObject,
    ctx: WriteContext,
    subresource: string | undefined,
    track: (next: KubeObject) => void,
  ): Promise<KubeObject | 'conflict'> {
    const meta = next.metadata;
    const liveMeta = live.metadata;
    // Fields the server owns.
    meta.uid = liveMeta.uid as string;
    meta.creationTimestamp = liveMeta.creationTimestamp as string;
    meta.name = liveMeta.name as string;
    if (this.namespaced) meta.namespace = liveMeta.namespace as string;
    if (liveMeta.deletionTimestamp !== undefined) meta.deletionTimestamp = liveMeta.deletionTimestamp;
    else delete meta.deletionTimestamp;
    if (liveMeta.deletionGracePeriodSeconds !== undefined) {
      meta.deletionGracePeriodSeconds = liveMeta.deletionGracePeriodSeconds;
    } else delete meta.deletionGracePeriodSeconds;
    delete (meta as Record<string, unknown>)['selfLink'];
    meta.resourceVersion = live.metadata.resourceVersion as string;

    if (subresource === 'status') {
      // Status writes change only status (upstream ResetObjectMetaForStatus + strategy).
      const status = next['status'];
      const rebuilt = structuredClone(live);
      if (status === undefined) delete rebuilt['status'];
      else rebuilt['status'] = status;
      rebuilt.metadata.managedFields = meta.managedFields ?? live.metadata.managedFields ?? [];
      next = rebuilt;
    } else if (subresource === undefined && this.def.hasStatusSubresource) {
      if (live['status'] === undefined) delete next['status'];
      else next['status'] = structuredClone(live['status']);
    }

    this.def.applyDefaults(next, { operation: 'update', nowMs: this.#deps.clock.now() });
    if (this.def.tracksGeneration) {
      const gen = live.metadata.generation ?? 1;
      next.metadata.generation = jsonEqual(specPart(live), specPart(next)) ? gen : gen + 1;
    } else if (live.metadata.generation !== undefined) {
      next.metadata.generation = live.metadata.generation;
    } else delete next.metadata.generation;
    this.#validate(next, live, subresource !== 'binding' && subresource !== 'finalize');
    track(next);

    if (isNoOpChange(live, next)) return live;

    const finishing =
      next.metadata.deletionTimestamp !== undefined &&
      (next.metadata.finalizers ?? []).length === 0 &&
      !(this.strategy.hasPendingFinalization?.(next) ?? false) &&
      (next.metadata.deletionGracePeriodSeconds ?? 0) === 0;
    if (ctx.dryRun) return next;
    if (finishing) {
      const result = await this.#deps.store.delete(key, kv.modRevision);
      if (!result.ok)
        return result.reason === 'conflict'
          ? 'conflict'
          : Promise.reject(this.notFoundError(live.metadata.name as string));
      next.metadata.resourceVersion = String(result.revision);
      return next;
    }
    const result = await this.#deps.store.update(key, encodeObject(next), kv.modRevision);
    if (!result.ok) {
      if (result.reason === 'notFound') throw this.notFoundError(live.metadata.name as string);
      return 'conflict';
    }
    next.metadata.resourceVersion = String(result.kv.modRevision);
    rememberStored(next, result.kv);
    return next;
  }

  // ---------------------------------------------------------------- patch

  /**
   * Patches the object (or its status). Apply patches create the object when it is missing.
   * @throws NotFound, Conflict, BadRequest, Invalid, UnsupportedMediaType is the endpoint's.
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
      const kv = await this.#find(key);
      if (!kv) {
        if (applyConfig && subresource === undefined) {
          const config = structuredClone(applyConfig);
          const created = await this.createDecoded(namespace, config, ctx, (o) => {
            const merged = applyConfiguration(undefined, o, ctx.fieldManager, { force: true }, this.#scope());
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
        const scope = this.#scope(subresource);
        next = applyConfiguration(
          live,
          structuredClone(applyConfig),
          ctx.fieldManager,
          { force: options.force ?? false },
          scope,
        );
        const managed = next.metadata.managedFields;
        track = (n) => {
          n.metadata.managedFields = managed ?? [];
        };
      } else {
        next = this.#applyPatch(live, type, patch) as KubeObject;
        if (!isRecord(next)) throw badRequest('The patched object is not a JSON object');
        track = (n) => trackUpdate(live, n, ctx.fieldManager, this.#scope(subresource));
      }
      if (!isRecord(next.metadata)) next.metadata = {};
      if (next.apiVersion !== this.apiVersion || next.kind !== this.kind) {
        throw badRequest(
          `The patch must not change apiVersion or kind of ${this.qualifiedResource} "${name}"`,
        );
      }
      this.checkFields(next, ctx);
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
      const outcome = await this.#commitUpdate(key, kv, live, next, ctx, subresource, track);
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
    const cfg = patch as Record<string, unknown>;
    if (typeof cfg['apiVersion'] !== 'string' || cfg['apiVersion'] === '') {
      throw badRequest('apiVersion must be set in the apply configuration');
    }
    if (typeof cfg['kind'] !== 'string' || cfg['kind'] === '') {
      throw badRequest('kind must be set in the apply configuration');
    }
    const obj = this.decodeInput(cfg, ctx);
    const meta = obj.metadata;
    if (meta.name === undefined || meta.name === '') meta.name = name;
    if (meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    if (this.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      if (namespace !== undefined) meta.namespace = namespace;
    } else delete meta.namespace;
    if (meta.managedFields !== undefined) {
      throw badRequest('metadata.managedFields must be nil in an apply configuration');
    }
    delete meta.resourceVersion;
    // Upstream resets what the target does not own: status for the main resource.
    if (this.def.hasStatusSubresource && subresource === undefined) delete obj['status'];
    return obj;
  }

  // ---------------------------------------------------------------- delete

  /**
   * Deletes the object, or starts its deletion when finalizers (including the garbage
   * collector's, from `propagationPolicy`) or a grace period must run first.
   * @throws NotFound, Conflict (preconditions), Invalid (bad options).
   */
  async delete(
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
    ctx: WriteContext,
  ): Promise<DeleteResult> {
    const policy = this.#propagationPolicy(options);
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await this.#getKv(namespace, name);
      const live = decodeObject(kv);
      this.#checkPreconditions(live, options);
      const next = structuredClone(live);
      const meta = next.metadata;
      const nowMs = this.#deps.clock.now();

      // Graceful deletion (pods on a node).
      const grace = this.strategy.gracePeriodSeconds?.(next, options.gracePeriodSeconds) ?? 0;
      let pendingGrace = false;
      if (meta.deletionTimestamp !== undefined && (meta.deletionGracePeriodSeconds ?? 0) > 0) {
        const current = meta.deletionGracePeriodSeconds as number;
        if (options.gracePeriodSeconds !== undefined && grace < current) {
          const started = Date.parse(meta.deletionTimestamp) - current * 1000;
          meta.deletionTimestamp = formatTime(started + grace * 1000);
          meta.deletionGracePeriodSeconds = grace;
          pendingGrace = grace > 0;
        } else {
          return { object: live, deleted: false };
        }
      } else if (meta.deletionTimestamp === undefined && grace > 0) {
        meta.deletionTimestamp = formatTime(nowMs + grace * 1000);
        meta.deletionGracePeriodSeconds = grace;
        pendingGrace = true;
      }

      // Garbage-collection finalizers from the propagation policy.
      const finalizers = new Set(meta.finalizers ?? []);
      if (policy === 'Foreground') {
        finalizers.delete(gcFinalizers.orphan);
        finalizers.add(gcFinalizers.foreground);
      } else if (policy === 'Orphan') {
        finalizers.delete(gcFinalizers.foreground);
        finalizers.add(gcFinalizers.orphan);
      } else if (policy === 'Background') {
        finalizers.delete(gcFinalizers.orphan);
        finalizers.delete(gcFinalizers.foreground);
      }
      const blocked = this.strategy.hasPendingFinalization?.(next) ?? false;
      if (
        blocked &&
        live.metadata.deletionTimestamp !== undefined &&
        this.strategy.deleteWhilePendingMessage !== undefined
      ) {
        throw this.conflictError(name, this.strategy.deleteWhilePendingMessage);
      }
      if (finalizers.size > 0 || blocked || pendingGrace) {
        if (finalizers.size > 0) meta.finalizers = [...finalizers];
        else delete meta.finalizers;
        if (meta.deletionTimestamp === undefined) {
          meta.deletionTimestamp = formatTime(nowMs);
          meta.deletionGracePeriodSeconds = 0;
        }
        if (live.metadata.deletionTimestamp === undefined) {
          this.strategy.onDeletionStarted?.(next);
          if (this.def.tracksGeneration && meta.generation !== undefined) meta.generation += 1;
        }
        if (jsonEqual(next, live)) return { object: live, deleted: false };
        if (ctx.dryRun) return { object: next, deleted: false };
        const result = await this.#deps.store.update(key, encodeObject(next), kv.modRevision);
        if (result.ok) {
          next.metadata.resourceVersion = String(result.kv.modRevision);
          return { object: next, deleted: false };
        }
        if (result.reason === 'notFound') throw this.notFoundError(name);
        if (attempt >= maxWriteAttempts) throw this.conflictError(name);
        continue;
      }

      if (ctx.dryRun) return { object: live, deleted: true };
      const result = await this.#deps.store.delete(key, kv.modRevision);
      if (result.ok) return { object: live, deleted: true };
      if (result.reason === 'notFound') throw this.notFoundError(name);
      if (attempt >= maxWriteAttempts) throw this.conflictError(name);
    }
  }

  #propagationPolicy(options: DeleteOptions): PropagationPolicy | undefined {
    if (options.orphanDependents !== undefined && options.propagationPolicy !== undefined) {
      throw invalid(
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: orphanDependents and deletionPropagation cannot be both set',
        {
          details: {
            group: 'meta.k8s.io',
            kind: 'DeleteOptions',
            causes: [
              {
                reason: 'FieldValueInvalid',
                field: 'propagationPolicy',
                message: 'Invalid value: orphanDependents and deletionPropagation cannot be both set',
              },
            ],
          },
        },
      );
    }
    if (options.orphanDependents !== undefined) return options.orphanDependents ? 'Orphan' : 'Background';
    return options.propagationPolicy;
  }

  #checkPreconditions(live: KubeObject, options: DeleteOptions): void {
    const pre = options.preconditions;
    if (!pre) return;
    const name = live.metadata.name as string;
    if (pre.uid !== undefined && pre.uid !== live.metadata.uid) {
      throw this.conflictError(
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${live.metadata.uid ?? ''}`,
      );
    }
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== live.metadata.resourceVersion) {
      throw this.conflictError(
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${live.metadata.resourceVersion ?? ''}`,
      );
    }
  }

  /** Deletes every object the list options select; returns what was deleted or is being deleted. */
  async deleteCollection(
    namespace: string | undefined,
    listOptions: ListOptions,
    options: DeleteOptions,
    ctx: WriteContext,
  ): Promise<KubeObject[]> {
    const { items } = await this.list(namespace, { ...listOptions, limit: 0 });
    const out: KubeObject[] = [];
    for (const item of items) {
      try {
        const r = await this.delete(item.metadata.namespace, item.metadata.name as string, options, ctx);
        out.push(r.object);
      } catch (err) {
        if ((err as H8sError).code === 'NotFound') continue;
        throw err;
      }
    }
    return out;
  }

  /**
   * A guaranteed update (upstream GuaranteedUpdate): reads the object, lets `mutate` change a
   * copy, and writes it with compare-and-swap, retrying on conflicts. Used by subresources the
   * server implements itself (pods/binding, namespaces/finalize). `mutate` may throw to refuse.
   * @throws NotFound, Conflict, Invalid, or what `mutate` throws.
   */
  async mutate(
    namespace: string | undefined,
    name: string,
    ctx: WriteContext,
    subresource: string,
    mutate: (obj: KubeObject, live: Readonly<KubeObject>) => void,
  ): Promise<KubeObject> {
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await this.#getKv(namespace, name);
      const live = decodeObject(kv);
      const next = structuredClone(live);
      mutate(next, live);
      const outcome = await this.#commitUpdate(key, kv, live, next, ctx, subresource, (n) =>
        trackUpdate(live, n, ctx.fieldManager, this.#scope(subresource)),
      );
      if (outcome !== 'conflict') return outcome;
      if (attempt >= maxWriteAttempts) throw this.conflictError(name);
    }
  }

  // ---------------------------------------------------------------- scale

  /** The autoscaling/v1 Scale of the object. @throws NotFound; MethodNotAllowed is the endpoint's. */
  async getScale(namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.toScale(await this.get(namespace, name));
  }

  toScale(obj: KubeObject): KubeObject {
    const scale = this.def.scale;
    if (!scale) throw this.notFoundError(obj.metadata.name ?? '');
    const specReplicas = getPath(obj, scale.specReplicasPath);
    const statusReplicas = getPath(obj, scale.statusReplicasPath);
    let selector = '';
    if (scale.labelSelectorPath) {
      const raw = getPath(obj, scale.labelSelectorPath);
      if (typeof raw === 'string') selector = raw;
      else if (isRecord(raw)) selector = labelSelectorToString(labelSelectorFromObject(raw));
    }
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name as string,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        uid: obj.metadata.uid as string,
        resourceVersion: obj.metadata.resourceVersion as string,
        creationTimestamp: obj.metadata.creationTimestamp as string,
      },
      spec: { replicas: typeof specReplicas === 'number' ? specReplicas : 0 },
      status: {
        replicas: typeof statusReplicas === 'number' ? statusReplicas : 0,
        ...(selector ? { selector } : {}),
      },
    };
  }

  /**
   * Sets the replicas from a Scale (PUT /scale) or from a patch of the Scale (PATCH /scale).
   * @throws NotFound, Conflict, BadRequest, Invalid.
   */
  async updateScale(
    namespace: string | undefined,
    name: string,
    change: { readonly scale: unknown } | { readonly patchType: PatchType; readonly patch: unknown },
    ctx: WriteContext,
  ): Promise<KubeObject> {
    const scaleDef = this.def.scale;
    if (!scaleDef) throw this.notFoundError(name);
    for (let attempt = 0; ; attempt++) {
      const { key, kv } = await this.#getKv(namespace, name);
      const live = decodeObject(kv);
      const current = this.toScale(live);
      let wanted: unknown;
      if ('scale' in change) wanted = change.scale;
      else if (change.patchType === 'json') wanted = applyJsonPatch(current, change.patch);
      else if (change.patchType === 'apply') wanted = applyMergePatch(current, change.patch);
      else {
        if (!isRecord(change.patch)) throw badRequest('The patch must be a JSON object');
        wanted = applyMergePatch(current, change.patch);
      }
      if (!isRecord(wanted) || (!isRecord(wanted['spec']) && wanted['spec'] !== undefined)) {
        throw badRequest('The Scale must be a JSON object with spec.replicas');
      }
      const w = wanted as {
        metadata?: { name?: unknown; resourceVersion?: unknown };
        spec?: { replicas?: unknown };
      };
      if (w.metadata?.name !== undefined && w.metadata.name !== name) {
        throw badRequest(
          `the name of the object (${String(w.metadata.name)}) does not match the name on the URL (${name})`,
        );
      }
      const replicas = w.spec?.replicas ?? 0;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas)) {
        throw badRequest(
          'Scale in version "v1" cannot be handled as a Scale: spec.replicas must be an integer',
        );
      }
      if (replicas < 0) {
        throw invalid(
          `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`,
          {
            details: {
              name,
              group: 'autoscaling',
              kind: 'Scale',
              causes: [
                {
                  reason: 'FieldValueInvalid',
                  field: 'spec.replicas',
                  message: `Invalid value: ${replicas}: must be greater than or equal to 0`,
                },
              ],
            },
          },
        );
      }
      const rv = w.metadata?.resourceVersion;
      if (typeof rv === 'string' && rv !== '' && rv !== live.metadata.resourceVersion)
        throw this.conflictError(name);
      const next = structuredClone(live);
      setPath(next, scaleDef.specReplicasPath, replicas);
      const outcome = await this.#commitUpdate(key, kv, live, next, ctx, 'scale', (n) =>
        trackUpdate(live, n, ctx.fieldManager, this.#scope('scale')),
      );
      if (outcome !== 'conflict') return this.toScale(outcome);
      if ((typeof rv === 'string' && rv !== '') || attempt >= maxWriteAttempts)
        throw this.conflictError(name);
    }
  }

  /** Logs at debug level; the endpoint logs the request line. */
  debug(message: string, fields: Record<string, unknown>): void {
    this.#log.debug(message, { resource: this.qualifiedResource, ...fields });
  }

  /** A forbidden error naming this resource (for admission). */
  forbiddenError(name: string, why: string, causes: StatusCause[] = []): H8sError {
    return forbidden(`${this.qualifiedResource} "${name}" is forbidden: ${why}`, {
      details: { name, group: this.group, kind: this.resource, causes },
    });
  }
}
