/**
 * What the client reads from the API server's replies, as schemas: the object envelope
 * (`apiVersion`, `kind`, and the ObjectMeta fields components rely on: name, namespace, uid,
 * resourceVersion, generation, labels, annotations, finalizers, owner references, deletion),
 * lists and watch events. A reply is parsed with these at the boundary instead of cast, so a
 * broken or hostile server gives a clear InternalError naming the field, not a TypeError deep
 * in a controller. The rest of an object (spec, status) is the kind's own and passes through.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { KubeObject } from '../api/index.js';
import { describeError, internal, parseWith } from '../lib/index.js';

const opt = Type.Optional;
const stringMap = Type.Record(Type.String(), Type.String());

const OwnerReferenceSchema = Type.Object({
  apiVersion: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  uid: Type.String(),
  controller: opt(Type.Boolean()),
  blockOwnerDeletion: opt(Type.Boolean()),
});

export const ReplyMetadataSchema = Type.Object({
  name: opt(Type.String()),
  generateName: opt(Type.String()),
  namespace: opt(Type.String()),
  uid: opt(Type.String()),
  resourceVersion: opt(Type.String()),
  generation: opt(Type.Integer()),
  creationTimestamp: opt(Type.Union([Type.String(), Type.Null()])),
  deletionTimestamp: opt(Type.String()),
  deletionGracePeriodSeconds: opt(Type.Integer()),
  labels: opt(stringMap),
  annotations: opt(stringMap),
  finalizers: opt(Type.Array(Type.String())),
  ownerReferences: opt(Type.Array(OwnerReferenceSchema)),
});

export const ObjectReplySchema = Type.Object({
  apiVersion: opt(Type.String()),
  kind: opt(Type.String()),
  metadata: ReplyMetadataSchema,
});

export const ListReplySchema = Type.Object({
  apiVersion: opt(Type.String()),
  kind: opt(Type.String()),
  metadata: Type.Object({
    resourceVersion: opt(Type.String()),
    continue: opt(Type.String()),
    remainingItemCount: opt(Type.Integer()),
  }),
  items: Type.Array(ObjectReplySchema),
});

export const WatchEventReplySchema = Type.Object({
  type: Type.Union([
    Type.Literal('ADDED'),
    Type.Literal('MODIFIED'),
    Type.Literal('DELETED'),
    Type.Literal('BOOKMARK'),
  ]),
  object: ObjectReplySchema,
});

/** Parses a reply with `schema`; a mismatch is the server's fault: InternalError naming `what`. */
export function parseReply<
  S extends typeof ObjectReplySchema | typeof ListReplySchema | typeof WatchEventReplySchema,
>(schema: S, body: unknown, what: string): Static<S> {
  try {
    return parseWith(schema, body, what);
  } catch (err) {
    throw internal(`The API server answered ${what} with something unexpected: ${describeError(err)}`);
  }
}

/**
 * An object reply, with `apiVersion` and `kind` filled in where the server leaves them out
 * (list items and watch objects of some versions).
 */
export function parseObjectReply<T extends KubeObject>(
  body: unknown,
  what: string,
  fill: { readonly apiVersion?: string | undefined; readonly kind?: string | undefined },
): T {
  const obj = parseReply(ObjectReplySchema, body, what);
  if (obj.apiVersion === undefined && fill.apiVersion !== undefined) obj.apiVersion = fill.apiVersion;
  if (obj.kind === undefined && fill.kind !== undefined) obj.kind = fill.kind;
  // The envelope is checked; spec and status are the kind's, typed by the caller's T.
  return obj as unknown as T;
}
