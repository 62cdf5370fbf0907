/**
 * The REST endpoints of resources (upstream `endpoints/handlers`): maps a resolved request to
 * a registry operation, decodes the body, negotiates the response (JSON, YAML, Table,
 * PartialObjectMetadata) and writes it. Subresources: status, scale, and the few the server
 * implements itself (pods/binding, pods/eviction, namespaces/finalize); the streaming ones
 * (pods/log, exec, attach, portforward) answer 503 until a node agent serves them.
 */
import {
  decodeKubernetesProtobuf,
  formatTime,
  type KindDefinition,
  type KubeObject,
} from '../../api/index.js';
import {
  badRequest,
  methodNotAllowed,
  notAcceptable,
  notFound,
  unavailable,
  type Clock,
} from '../../lib/index.js';
import type { ApiRegistry } from '../registry/api-registry.js';
import type { PatchType, WriteContext } from '../registry/operation-options.js';
import { anonymousUser } from '../filters/user-info.js';
import type { PreparedCreate } from '../registry/prepared-create.js';
import type { ResourceRegistry } from '../registry/resource-registry.js';
import { decodeObject, rawObjectChunks, storedJsonOf } from '../registry/object-codec.js';
import type { ScaleRegistry } from '../registry/scale-registry.js';
import type { FieldValidation } from '../registry/operation-options.js';
import type { KeyValue } from '../../storage/index.js';
import { namespaceSpecFinalizers } from '../registry/namespace-strategy.js';
import { negotiateObjectFormat, type ObjectFormat } from './negotiation.js';
import {
  decodeJson,
  decodeJsonBody,
  decodeYaml,
  objectBodyFormat,
  patchBodyFormat,
  readBody,
  type BodyFormat,
} from './request-body.js';
import type { RequestContext } from './request-context.js';
import type { ResourceRequest } from './request-info.js';
import {
  deleteOptionsFrom,
  dryRunFrom,
  fieldManagerFrom,
  fieldValidationFrom,
  listOptionsFrom,
  watchQueryFrom,
} from './query-options.js';
import { setWarnings, writeJson, writeJsonChunks, writeYaml } from './responses.js';
import { successStatus } from './status.js';
import { parseIncludeObject, partialObjectMetadata, tableJsonChunks, tableOf } from './table-convertor.js';
import { serveWatch } from './watch-stream.js';

/** What a write worker answers for one create (see `server/write-pool.ts`). */
export interface PreparedCreateReply {
  readonly prepared: PreparedCreate;
  /** Warnings of the decode (unknown or duplicate fields under Warn). */
  readonly warnings: readonly string[];
}

/** Runs `prepareCreate` (`registry/prepared-create.ts`) of JSON bodies off the event loop (a write pool). */
export interface CreatePreparer {
  /** True for kinds the preparer knows. */
  handles(def: KindDefinition): boolean;
  /** Undefined when it cannot take the request now (the caller works inline). */
  prepareCreate(input: {
    readonly kind: string;
    readonly namespace: string | undefined;
    readonly body: Uint8Array;
    readonly fieldManager: string;
    readonly fieldValidation: FieldValidation;
    readonly nowMs: number;
    readonly uid: string;
  }): Promise<PreparedCreateReply> | undefined;
}

export interface ResourceHandlerDeps {
  readonly registry: ApiRegistry;
  readonly clock: Clock;
  readonly maxBodyBytes: number;
  readonly bookmarkIntervalMs: number;
  /** Where creates of JSON bodies are decoded, validated and encoded; inline without one. */
  readonly createPreparer?: CreatePreparer;
}

const comma = Buffer.from(',');
const listEnd = Buffer.from(']}');

/** Subresources of pods that stream from the node agent. */
const streamingSubresources = new Set(['log', 'exec', 'attach', 'portforward', 'proxy']);

function notFoundPath(): Error {
  return notFound('the server could not find the requested resource');
}

function notAllowed(): Error {
  return methodNotAllowed('the server does not allow this method on the requested resource');
}

export class ResourceHandler {
  readonly #deps: ResourceHandlerDeps;

  constructor(deps: ResourceHandlerDeps) {
    this.#deps = deps;
  }

  async handle(ctx: RequestContext, info: ResourceRequest): Promise<void> {
    const reg = this.#deps.registry.find(info.group, info.version, info.resource);
    if (!reg) throw notFoundPath();
    ctx.logFields['resource'] = reg.qualifiedResource;
    if (info.name !== undefined) ctx.logFields['name'] = info.name;
    if (info.namespace !== undefined) ctx.logFields['namespace'] = info.namespace;
    if (!reg.namespaced && info.namespace !== undefined) throw notFoundPath();
    if (reg.namespaced && info.namespace === undefined && info.name !== undefined) throw notFoundPath();
    if (reg.namespaced && info.namespace === undefined && info.verb === 'create') throw notFoundPath();

    if (info.subresource === undefined) return this.#handleMain(ctx, info, reg);
    if (info.name === undefined) throw notFoundPath();
    const name = info.name;
    switch (info.subresource) {
      case 'status':
        if (!reg.def.hasStatusSubresource) break;
        return this.#handleStatus(ctx, info, reg, name);
      case 'scale':
        if (!reg.scale) break;
        return this.#handleScale(ctx, info, reg.scale, name);
      default:
        break;
    }
    if (reg.group === '' && reg.kind === 'Pod') {
      if (info.subresource === 'binding' && info.verb === 'create')
        return this.#bindPod(ctx, reg, info, name);
      if (info.subresource === 'eviction' && info.verb === 'create')
        return this.#evictPod(ctx, reg, info, name);
      if (streamingSubresources.has(info.subresource)) {
        await reg.get(info.namespace, name);
        throw unavailable(
          `Cannot open pods/${info.subresource} for pod "${name}": no node agent serves streaming requests on this server yet`,
        );
      }
    }
    if (reg.group === '' && reg.kind === 'Namespace' && info.subresource === 'finalize') {
      if (info.verb !== 'update') throw notAllowed();
      return this.#finalizeNamespace(ctx, reg, name);
    }
    throw notFoundPath();
  }

  // ------------------------------------------------------------------ helpers

  #format(ctx: RequestContext): ObjectFormat {
    const f = negotiateObjectFormat(ctx.req.headers.accept);
    if (!f) {
      throw notAcceptable(
        `only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io`,
      );
    }
    return f;
  }

  #writeContext(ctx: RequestContext, dryRun?: boolean): WriteContext {
    const duplicates = this.#duplicates.get(ctx);
    return {
      ...(duplicates ? { duplicateFields: duplicates } : {}),
      user: ctx.user ?? anonymousUser,
      dryRun: dryRun ?? dryRunFrom(ctx.query.getAll('dryRun')),
      fieldManager: fieldManagerFrom(ctx.query, ctx.req.headers['user-agent']),
      fieldValidation: fieldValidationFrom(ctx.query),
      warnings: ctx.warnings,
    };
  }

  async #readObjectBody(ctx: RequestContext): Promise<unknown> {
    const format = objectBodyFormat(ctx.req.headers['content-type']);
    const bytes = await readBody(ctx.req, this.#deps.maxBodyBytes);
    if (format !== 'json') return this.#decode(bytes, format);
    const { value, duplicates } = decodeJsonBody(bytes);
    if (duplicates.length > 0) this.#duplicates.set(ctx, duplicates);
    return value;
  }

  /** Duplicate keys found in a request's JSON body, for its write context. */
  readonly #duplicates = new WeakMap<RequestContext, string[]>();

  #decode(bytes: Buffer, format: BodyFormat): unknown {
    switch (format) {
      case 'json':
      case 'json-patch':
      case 'merge-patch':
      case 'strategic-merge-patch':
        return decodeJson(bytes);
      case 'yaml':
      case 'apply':
        return decodeYaml(bytes);
      case 'protobuf':
        // kubectl 1.32+ generator commands (create namespace|configmap|secret|deployment|...).
        return decodeKubernetesProtobuf(bytes);
    }
  }

  /** Writes one object in the negotiated format. */
  #respondObject(ctx: RequestContext, code: number, reg: ResourceRegistry, obj: KubeObject): void {
    setWarnings(ctx.res, ctx.warnings);
    const format = this.#format(ctx);
    switch (format.kind) {
      case 'json': {
        // Freshly written objects reuse the bytes the store holds.
        const stored = storedJsonOf(obj);
        return stored ? writeJsonChunks(ctx.res, code, stored) : writeJson(ctx.res, code, obj);
      }
      case 'yaml':
        return writeYaml(ctx.res, code, obj);
      case 'table':
        return writeJson(
          ctx.res,
          code,
          tableOf(
            reg,
            [obj],
            obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {},
            {
              version: format.version,
              includeObject: parseIncludeObject(ctx.query.get('includeObject')),
              nowMs: this.#deps.clock.now(),
            },
          ),
        );
      case 'partial':
        return writeJson(ctx.res, code, partialObjectMetadata(obj, format.version));
    }
  }

  /** Writes a non-kind object (Status, Scale): JSON or YAML only. */
  #respondPlain(ctx: RequestContext, code: number, body: unknown): void {
    setWarnings(ctx.res, ctx.warnings);
    const format = negotiateObjectFormat(ctx.req.headers.accept);
    if (format?.kind === 'yaml') return writeYaml(ctx.res, code, body);
    return writeJson(ctx.res, code, body);
  }

  // ------------------------------------------------------------------ main resource

  async #handleMain(ctx: RequestContext, info: ResourceRequest, reg: ResourceRegistry): Promise<void> {
    const verbs = reg.def.verbs;
    const ns = info.namespace;
    switch (info.verb) {
      case 'get': {
        if (!verbs.includes('get')) throw notAllowed();
        const format = this.#format(ctx);
        const rv = ctx.query.get('resourceVersion');
        const opts = rv !== null ? { resourceVersion: rv } : {};
        if (format.kind === 'json') {
          return writeJsonChunks(ctx.res, 200, await reg.getRaw(ns, info.name as string, opts));
        }
        const obj = await reg.get(ns, info.name as string, opts);
        return this.#respondObject(ctx, 200, reg, obj);
      }
      case 'list': {
        if (!verbs.includes('list')) throw notAllowed();
        const format = this.#format(ctx);
        const includeObject = parseIncludeObject(ctx.query.get('includeObject'));
        const result = await reg.list(
          ns,
          listOptionsFrom(ctx.query),
          format.kind === 'json',
          format.kind === 'table',
        );
        const meta = {
          resourceVersion: result.resourceVersion,
          ...(result.continue !== undefined ? { continue: result.continue } : {}),
          ...(result.remainingItemCount !== undefined
            ? { remainingItemCount: result.remainingItemCount }
            : {}),
        };
        setWarnings(ctx.res, ctx.warnings);
        switch (format.kind) {
          case 'table': {
            const options = { version: format.version, includeObject, nowMs: this.#deps.clock.now() };
            if (result.rows) {
              return writeJsonChunks(
                ctx.res,
                200,
                tableJsonChunks(reg, result.items, result.rows, meta, options),
              );
            }
            return writeJson(ctx.res, 200, tableOf(reg, result.items, meta, options));
          }
          case 'partial':
            return writeJson(ctx.res, 200, {
              kind: 'PartialObjectMetadataList',
              apiVersion: `meta.k8s.io/${format.version}`,
              metadata: meta,
              items: result.items.map((o) => partialObjectMetadata(o, format.version)),
            });
          case 'yaml':
            return writeYaml(ctx.res, 200, {
              kind: reg.def.listKind,
              apiVersion: reg.apiVersion,
              metadata: meta,
              items: result.items,
            });
          case 'json':
            if (result.rawItems) {
              // Splice the stored bytes of the items: no parse, no stringify, no re-encoding.
              const head = JSON.stringify({
                kind: reg.def.listKind,
                apiVersion: reg.apiVersion,
                metadata: meta,
              });
              const chunks: Uint8Array[] = [Buffer.from(`${head.slice(0, -1)},"items":[`)];
              result.rawItems.forEach((item, i) => {
                if (i > 0) chunks.push(comma);
                chunks.push(...item);
              });
              chunks.push(listEnd);
              return writeJsonChunks(ctx.res, 200, chunks);
            }
            return writeJson(ctx.res, 200, {
              kind: reg.def.listKind,
              apiVersion: reg.apiVersion,
              metadata: meta,
              items: result.items,
            });
        }
        return;
      }
      case 'watch': {
        if (!verbs.includes('watch')) throw notAllowed();
        const format = this.#format(ctx);
        let query = watchQueryFrom(ctx.query);
        if (info.name !== undefined) {
          const byName = `metadata.name=${info.name}`;
          query = {
            ...query,
            fieldSelector: query.fieldSelector ? `${query.fieldSelector},${byName}` : byName,
          };
        }
        return serveWatch(ctx, reg, ns, query, format, parseIncludeObject(ctx.query.get('includeObject')), {
          clock: this.#deps.clock,
          bookmarkIntervalMs: this.#deps.bookmarkIntervalMs,
        });
      }
      case 'create': {
        if (!verbs.includes('create')) throw notAllowed();
        if (info.name !== undefined) throw notAllowed();
        this.#format(ctx);
        const preparer = this.#deps.createPreparer;
        if (
          preparer?.handles(reg.def) &&
          objectBodyFormat(ctx.req.headers['content-type']) === 'json' &&
          !dryRunFrom(ctx.query.getAll('dryRun')) &&
          !reg.createNeedsObject(ns, this.#writeContext(ctx))
        ) {
          return this.#createOffThread(ctx, reg, ns, preparer);
        }
        const body = await this.#readObjectBody(ctx);
        const obj = await reg.create(ns, body, this.#writeContext(ctx));
        return this.#respondObject(ctx, 201, reg, obj);
      }
      case 'update': {
        if (!verbs.includes('update') || info.name === undefined) throw notAllowed();
        this.#format(ctx);
        const body = await this.#readObjectBody(ctx);
        const r = await reg.update(ns, info.name, body, this.#writeContext(ctx));
        return this.#respondObject(ctx, r.created ? 201 : 200, reg, r.object);
      }
      case 'patch': {
        if (!verbs.includes('patch') || info.name === undefined) throw notAllowed();
        return this.#patch(ctx, reg, ns, info.name, undefined);
      }
      case 'delete': {
        if (!verbs.includes('delete') || info.name === undefined) throw notAllowed();
        this.#format(ctx);
        const bytes = await readBody(ctx.req, this.#deps.maxBodyBytes);
        const body = bytes.length > 0 ? decodeJson(bytes, 'DeleteOptions body') : undefined;
        const { options, dryRun } = deleteOptionsFrom(ctx.query, body);
        const r = await reg.delete(ns, info.name, options, this.#writeContext(ctx, dryRun));
        if (!r.deleted) {
          const code = options.orphanDependents === false ? 202 : 200;
          return this.#respondObject(ctx, code, reg, r.object);
        }
        if (reg.strategy.returnsDeletedObject) return this.#respondObject(ctx, 200, reg, r.object);
        return this.#respondPlain(
          ctx,
          200,
          successStatus({
            name: info.name,
            group: reg.group,
            kind: reg.resource,
            uid: r.object.metadata.uid,
          }),
        );
      }
      case 'deletecollection': {
        if (!verbs.includes('deletecollection')) throw notAllowed();
        const format = this.#format(ctx);
        const bytes = await readBody(ctx.req, this.#deps.maxBodyBytes);
        const body = bytes.length > 0 ? decodeJson(bytes, 'DeleteOptions body') : undefined;
        const { options, dryRun } = deleteOptionsFrom(ctx.query, body);
        const listOptions = listOptionsFrom(ctx.query);
        const deleted = await reg.deleteCollection(ns, listOptions, options, this.#writeContext(ctx, dryRun));
        const list = { kind: reg.def.listKind, apiVersion: reg.apiVersion, metadata: {}, items: deleted };
        setWarnings(ctx.res, ctx.warnings);
        return format.kind === 'yaml' ? writeYaml(ctx.res, 200, list) : writeJson(ctx.res, 200, list);
      }
      default:
        throw notAllowed();
    }
  }

  /**
   * A create whose body a write worker prepares: the same steps and errors as `reg.create`,
   * with only admission, the store write and the response on the event loop. Falls back to
   * `reg.create` when no worker is ready or a generated name collided.
   */
  async #createOffThread(
    ctx: RequestContext,
    reg: ResourceRegistry,
    ns: string | undefined,
    preparer: CreatePreparer,
  ): Promise<void> {
    const bytes = await readBody(ctx.req, this.#deps.maxBodyBytes);
    const wctx = this.#writeContext(ctx);
    const ids = reg.systemFieldsForCreate();
    const reply = preparer.prepareCreate({
      kind: `${reg.group}/${reg.kind}`,
      namespace: ns,
      body: bytes,
      fieldManager: wctx.fieldManager,
      fieldValidation: wctx.fieldValidation,
      nowMs: ids.nowMs,
      uid: ids.uid,
    });
    if (reply) {
      const { prepared, warnings } = await reply;
      const kv = await reg.createPrepared(ns, prepared, wctx);
      if (kv) {
        for (const w of warnings) ctx.warnings.push(w);
        return this.#respondStored(ctx, 201, reg, kv);
      }
    }
    const { value, duplicates } = decodeJsonBody(bytes);
    const obj = await reg.create(
      ns,
      value,
      duplicates.length > 0 ? { ...wctx, duplicateFields: duplicates } : wctx,
    );
    return this.#respondObject(ctx, 201, reg, obj);
  }

  /** Writes an object just stored as `kv`. */
  #respondStored(ctx: RequestContext, code: number, reg: ResourceRegistry, kv: KeyValue): void {
    if (this.#format(ctx).kind !== 'json') return this.#respondObject(ctx, code, reg, decodeObject(kv));
    setWarnings(ctx.res, ctx.warnings);
    return writeJsonChunks(ctx.res, code, rawObjectChunks(kv));
  }

  async #patch(
    ctx: RequestContext,
    reg: ResourceRegistry,
    ns: string | undefined,
    name: string,
    subresource: 'status' | undefined,
  ): Promise<void> {
    this.#format(ctx);
    const format = patchBodyFormat(ctx.req.headers['content-type']);
    const type: PatchType =
      format === 'json-patch'
        ? 'json'
        : format === 'merge-patch'
          ? 'merge'
          : format === 'strategic-merge-patch'
            ? 'strategic'
            : 'apply';
    const force = ctx.query.get('force');
    if (force !== null && type !== 'apply') {
      throw badRequest('force: Forbidden: may not be specified for non-apply patch');
    }
    if (type === 'apply' && !ctx.query.get('fieldManager')) {
      throw badRequest('fieldManager: Required value: is required for apply patch');
    }
    const bytes = await readBody(ctx.req, this.#deps.maxBodyBytes);
    const patch = this.#decode(bytes, format);
    const r = await reg.patch(ns, name, type, patch, this.#writeContext(ctx), {
      ...(subresource ? { subresource } : {}),
      force: force === 'true' || force === '1',
    });
    return this.#respondObject(ctx, r.created ? 201 : 200, reg, r.object);
  }

  // ------------------------------------------------------------------ subresources

  async #handleStatus(
    ctx: RequestContext,
    info: ResourceRequest,
    reg: ResourceRegistry,
    name: string,
  ): Promise<void> {
    switch (info.verb) {
      case 'get': {
        this.#format(ctx);
        return this.#respondObject(ctx, 200, reg, await reg.get(info.namespace, name));
      }
      case 'update': {
        this.#format(ctx);
        const body = await this.#readObjectBody(ctx);
        const r = await reg.update(info.namespace, name, body, this.#writeContext(ctx), 'status');
        return this.#respondObject(ctx, 200, reg, r.object);
      }
      case 'patch':
        return this.#patch(ctx, reg, info.namespace, name, 'status');
      default:
        throw notAllowed();
    }
  }

  async #handleScale(
    ctx: RequestContext,
    info: ResourceRequest,
    scale: ScaleRegistry,
    name: string,
  ): Promise<void> {
    switch (info.verb) {
      case 'get':
        return this.#respondPlain(ctx, 200, await scale.get(info.namespace, name));
      case 'update': {
        const body = await this.#readObjectBody(ctx);
        const out = await scale.update(info.namespace, name, { scale: body }, this.#writeContext(ctx));
        return this.#respondPlain(ctx, 200, out);
      }
      case 'patch': {
        const format = patchBodyFormat(ctx.req.headers['content-type']);
        const bytes = await readBody(ctx.req, this.#deps.maxBodyBytes);
        const patch = this.#decode(bytes, format);
        const patchType: PatchType =
          format === 'json-patch'
            ? 'json'
            : format === 'merge-patch'
              ? 'merge'
              : format === 'apply'
                ? 'apply'
                : 'strategic';
        const out = await scale.update(info.namespace, name, { patchType, patch }, this.#writeContext(ctx));
        return this.#respondPlain(ctx, 200, out);
      }
      default:
        throw notAllowed();
    }
  }

  /** POST pods/{name}/binding: assigns the pod to a node (the scheduler's write). */
  async #bindPod(
    ctx: RequestContext,
    reg: ResourceRegistry,
    info: ResourceRequest,
    name: string,
  ): Promise<void> {
    const body = await this.#readObjectBody(ctx);
    const b = (typeof body === 'object' && body !== null ? body : {}) as {
      kind?: unknown;
      metadata?: { name?: unknown; annotations?: unknown };
      target?: { name?: unknown; kind?: unknown };
    };
    if (b.kind !== undefined && b.kind !== 'Binding')
      throw badRequest(`The request body must be a Binding, not ${JSON.stringify(b.kind)}`);
    const bindingName =
      typeof b.metadata?.name === 'string' && b.metadata.name !== '' ? b.metadata.name : name;
    if (bindingName !== name) {
      throw badRequest(
        `the name of the object (${bindingName}) does not match the name on the URL (${name})`,
      );
    }
    const node = b.target?.name;
    if (typeof node !== 'string' || node === '') {
      throw reg.invalidError(name, [
        { reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' },
      ]);
    }
    if (b.target?.kind !== undefined && b.target.kind !== '' && b.target.kind !== 'Node') {
      throw reg.invalidError(name, [
        {
          reason: 'FieldValueNotSupported',
          field: 'target.kind',
          message: `Unsupported value: ${JSON.stringify(b.target.kind)}: supported values: "Node"`,
        },
      ]);
    }
    const annotations = b.metadata?.annotations;
    const wctx = this.#writeContext(ctx);
    // Upstream admits a binding as the CREATE of pods/binding.
    await reg.mutate(
      info.namespace,
      name,
      wctx,
      'binding',
      (pod) => {
        const spec = (pod['spec'] ??= {}) as Record<string, unknown>;
        if (pod.metadata.deletionTimestamp !== undefined) {
          throw reg.conflictError(name, `pod ${name} is being deleted, cannot be assigned to a host`);
        }
        if (typeof spec['nodeName'] === 'string' && spec['nodeName'] !== '') {
          throw reg.conflictError(name, `pod ${name} is already assigned to node "${spec['nodeName']}"`);
        }
        spec['nodeName'] = node;
        if (typeof annotations === 'object' && annotations !== null) {
          pod.metadata.annotations = {
            ...(pod.metadata.annotations ?? {}),
            ...(annotations as Record<string, string>),
          };
        }
        const status = (pod['status'] ??= {}) as Record<string, unknown>;
        const conditions = Array.isArray(status['conditions'])
          ? (status['conditions'] as Record<string, unknown>[])
          : [];
        const now = formatTime(this.#deps.clock.now());
        const scheduled = {
          type: 'PodScheduled',
          status: 'True',
          lastProbeTime: null,
          lastTransitionTime: now,
        };
        const at = conditions.findIndex((c) => c['type'] === 'PodScheduled');
        if (at >= 0) conditions[at] = scheduled;
        else conditions.push(scheduled);
        status['conditions'] = conditions;
      },
      'CREATE',
    );
    return this.#respondPlain(ctx, 201, successStatus(undefined, 201));
  }

  /** POST pods/{name}/eviction: deletes the pod with the eviction's DeleteOptions. */
  async #evictPod(
    ctx: RequestContext,
    reg: ResourceRegistry,
    info: ResourceRequest,
    name: string,
  ): Promise<void> {
    const body = await this.#readObjectBody(ctx);
    const b = (typeof body === 'object' && body !== null ? body : {}) as {
      kind?: unknown;
      metadata?: { name?: unknown };
      deleteOptions?: unknown;
    };
    if (b.kind !== undefined && b.kind !== 'Eviction')
      throw badRequest(`The request body must be an Eviction, not ${JSON.stringify(b.kind)}`);
    if (b.metadata?.name !== undefined && b.metadata.name !== name) {
      throw badRequest(`name in URL does not match name in Eviction object`);
    }
    const { options, dryRun } = deleteOptionsFrom(ctx.query, b.deleteOptions ?? undefined);
    await reg.delete(info.namespace, name, options, this.#writeContext(ctx, dryRun || undefined));
    return this.#respondPlain(ctx, 201, successStatus(undefined, 201));
  }

  /** PUT namespaces/{name}/finalize: sets spec.finalizers (the namespace controller's last step). */
  async #finalizeNamespace(ctx: RequestContext, reg: ResourceRegistry, name: string): Promise<void> {
    this.#format(ctx);
    const body = await this.#readObjectBody(ctx);
    const wctx = this.#writeContext(ctx);
    const ns = reg.decodeInput(body, wctx, undefined, name);
    const finalizers = namespaceSpecFinalizers(ns);
    const out = await reg.mutate(undefined, name, wctx, 'finalize', (obj) => {
      const spec = (obj['spec'] ??= {}) as Record<string, unknown>;
      if (finalizers.length > 0) spec['finalizers'] = finalizers;
      else delete spec['finalizers'];
    });
    return this.#respondObject(ctx, 200, reg, out);
  }
}
