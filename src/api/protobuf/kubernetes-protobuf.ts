/**
 * Decoding of `application/vnd.kubernetes.protobuf` request bodies (kubectl 1.32+ generator
 * commands send them, with no JSON fallback): the 4-byte magic `k8s\0`, a `runtime.Unknown`
 * envelope naming apiVersion/kind, and the kind's own message, turned into the JSON object
 * kubectl would have sent (JSON field names, int-or-string as number or string, quantities as
 * strings, timestamps as RFC 3339, `[]byte` as base64, zero values of non-pointer fields left
 * out as `omitempty` leaves them out).
 *
 * Encoding is not needed: the server always answers JSON.
 */
import protobuf from 'protobufjs';
import { badRequest, unsupportedMediaType } from '../../lib/index.js';
import type { KubeObject } from '../kind-definition.js';
import {
  APPS_V1_PROTO,
  AUTHENTICATION_V1_PROTO,
  BATCH_V1_PROTO,
  CORE_V1_PROTO,
  INTSTR_PROTO,
  META_PROTO,
  POLICY_V1_PROTO,
  PROTOBUF_KINDS,
  RBAC_V1_PROTO,
  RESOURCE_PROTO,
  RUNTIME_PROTO,
} from './kubernetes-messages.js';

/** The content type of Kubernetes protobuf bodies. */
export const KUBERNETES_PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

/** `k8s\0`, the prefix of every Kubernetes protobuf body. */
export const KUBERNETES_PROTOBUF_MAGIC: readonly number[] = Object.freeze([0x6b, 0x38, 0x73, 0x00]);

const TIME = 'k8s.io.apimachinery.pkg.apis.meta.v1.Time';
const MICRO_TIME = 'k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime';
const FIELDS_V1 = 'k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1';
const INT_OR_STRING = 'k8s.io.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'k8s.io.apimachinery.pkg.api.resource.Quantity';
const RAW_EXTENSION = 'k8s.io.apimachinery.pkg.runtime.RawExtension';

/** Go's zero time (0001-01-01T00:00:00Z) in Unix seconds. */
const GO_ZERO_TIME_SECONDS = -62135596800;

let cachedRoot: protobuf.Root | undefined;

/** The protobufjs root holding every message h8s decodes (built once, on first use). */
export function kubernetesProtobufRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const root = new protobuf.Root();
  for (const text of [
    META_PROTO,
    RUNTIME_PROTO,
    INTSTR_PROTO,
    RESOURCE_PROTO,
    CORE_V1_PROTO,
    APPS_V1_PROTO,
    BATCH_V1_PROTO,
    RBAC_V1_PROTO,
    POLICY_V1_PROTO,
    AUTHENTICATION_V1_PROTO,
  ]) {
    protobuf.parse(text, root, { keepCase: true });
  }
  root.resolveAll();
  cachedRoot = root;
  return root;
}

/** The message type of `apiVersion`/`kind`, or undefined when h8s does not decode that kind. */
export function protobufTypeFor(apiVersion: string, kind: string): protobuf.Type | undefined {
  const name = PROTOBUF_KINDS[`${apiVersion}/${kind}`];
  return name === undefined ? undefined : kubernetesProtobufRoot().lookupType(name);
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    return protobuf.util.LongBits.from(v as protobuf.Long).toNumber(false);
  }
  return Number(v);
}

function isZeroScalar(v: unknown): boolean {
  if (v === '' || v === false || v === 0) return true;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) return toNumber(v) === 0;
  if (v instanceof Uint8Array) return v.length === 0;
  return false;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `metav1.Time` as JSON: RFC 3339 in UTC with seconds precision. */
function formatTime(seconds: number, nanos: number, micro: boolean): string {
  const d = new Date(seconds * 1000);
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  return micro ? `${base}.${pad(Math.floor(nanos / 1000), 6)}Z` : `${base}Z`;
}

function bytesToBase64(v: unknown): string {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : '';
}

function parseRawJson(v: unknown, what: string): unknown {
  if (!(v instanceof Uint8Array) || v.length === 0) return undefined;
  const text = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest(`The protobuf body carries ${what} that is not JSON`);
  }
}

type Message = Record<string, unknown>;

/** Converts a message-typed value; undefined means "leave the field out". */
function convertMessage(type: protobuf.Type, value: Message, isPointer: boolean): unknown {
  switch (type.fullName.slice(1)) {
    case TIME:
    case MICRO_TIME: {
      const seconds = toNumber(value['seconds'] ?? 0);
      const nanos = toNumber(value['nanos'] ?? 0);
      if ((seconds === 0 && nanos === 0) || seconds === GO_ZERO_TIME_SECONDS) return undefined;
      return formatTime(seconds, nanos, type.fullName.endsWith('MicroTime'));
    }
    case INT_OR_STRING: {
      const isString = toNumber(value['type'] ?? 0) === 1;
      const out = isString ? String(value['strVal'] ?? '') : toNumber(value['intVal'] ?? 0);
      if (!isPointer && (out === 0 || out === '')) return undefined;
      return out;
    }
    case QUANTITY:
      return String(value['string'] ?? '0');
    case FIELDS_V1:
      return parseRawJson(value['Raw'], 'managedFields') ?? {};
    case RAW_EXTENSION:
      return parseRawJson(value['raw'], 'an embedded object');
    default:
      return messageToJson(type, value);
  }
}

function convertValue(field: protobuf.Field, value: unknown, isPointer: boolean): unknown {
  if (field.resolvedType instanceof protobuf.Type)
    return convertMessage(field.resolvedType, value as Message, isPointer);
  if (field.type === 'bytes') return bytesToBase64(value);
  if (
    field.type === 'int64' ||
    field.type === 'uint64' ||
    field.type === 'sint64' ||
    field.type === 'fixed64' ||
    field.type === 'sfixed64'
  ) {
    return toNumber(value);
  }
  return value;
}

/** One decoded message as the JSON object Go's encoder would produce. */
export function messageToJson(type: protobuf.Type, message: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const opts = field.options ?? {};
    const isPointer = opts['(ptr)'] === true;
    const value = message[field.name];
    if (field.map) {
      const entries = Object.entries((value ?? {}) as Record<string, unknown>);
      if (entries.length === 0) continue;
      const map: Record<string, unknown> = {};
      for (const [k, v] of entries) {
        const converted = convertValue(field, v, true);
        map[k] = converted === undefined ? (field.type === 'string' ? '' : {}) : converted;
      }
      out[field.name] = map;
      continue;
    }
    if (field.repeated) {
      const items = (value ?? []) as unknown[];
      if (items.length === 0) continue;
      out[field.name] = items.map((item) => {
        const converted = convertValue(field, item, true);
        return converted === undefined ? {} : converted;
      });
      continue;
    }
    if (value === undefined || value === null || !Object.prototype.hasOwnProperty.call(message, field.name))
      continue;
    const converted = convertValue(field, value, isPointer);
    if (converted === undefined) continue;
    if (opts['(inline)'] === true && converted && typeof converted === 'object') {
      Object.assign(out, converted);
      continue;
    }
    if (!isPointer && !(field.resolvedType instanceof protobuf.Type) && isZeroScalar(converted)) continue;
    out[field.name] = converted;
  }
  return out;
}

/** Whether `body` starts with the Kubernetes protobuf magic. */
export function isKubernetesProtobuf(body: Uint8Array): boolean {
  return body.length >= 4 && body[0] === 0x6b && body[1] === 0x38 && body[2] === 0x73 && body[3] === 0x00;
}

/**
 * Decodes a Kubernetes protobuf request body into the JSON object kubectl would have sent.
 * @throws BadRequest for a body without the magic, a malformed envelope or message;
 *   UnsupportedMediaType for a kind h8s does not decode from protobuf (send JSON instead).
 */
export function decodeKubernetesProtobuf(body: Uint8Array): KubeObject {
  if (!isKubernetesProtobuf(body)) {
    throw badRequest(
      'The request body is not a Kubernetes protobuf message: it does not start with "k8s\\x00"',
    );
  }
  const root = kubernetesProtobufRoot();
  const unknownType = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  let envelope: Message;
  try {
    envelope = unknownType.decode(body.subarray(4)) as unknown as Message;
  } catch (err) {
    throw badRequest(`The protobuf request body is malformed: ${(err as Error).message}`, { cause: err });
  }
  const typeMeta = (envelope['typeMeta'] ?? {}) as Message;
  const apiVersion = String(typeMeta['apiVersion'] ?? '');
  const kind = String(typeMeta['kind'] ?? '');
  const encoding = String(envelope['contentEncoding'] ?? '');
  if (encoding !== '')
    throw unsupportedMediaType(
      `The protobuf request body uses content encoding ${JSON.stringify(encoding)}, which is not supported`,
    );
  const contentType = String(envelope['contentType'] ?? '');
  if (contentType !== '' && contentType !== KUBERNETES_PROTOBUF_CONTENT_TYPE) {
    throw unsupportedMediaType(
      `The protobuf request body carries content type ${JSON.stringify(contentType)}, which is not supported`,
    );
  }
  if (!apiVersion || !kind)
    throw badRequest('The protobuf request body does not name its apiVersion and kind');
  const type = protobufTypeFor(apiVersion, kind);
  if (!type) {
    throw unsupportedMediaType(
      `Protobuf request bodies of kind ${JSON.stringify(kind)} (apiVersion ${JSON.stringify(apiVersion)}) are not supported; send application/json`,
    );
  }
  const raw = envelope['raw'];
  let message: Message;
  try {
    message = type.decode(raw instanceof Uint8Array ? raw : new Uint8Array(0)) as unknown as Message;
  } catch (err) {
    throw badRequest(`The protobuf ${kind} in the request body is malformed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const json = messageToJson(type, message);
  return { kind, apiVersion, metadata: {}, ...json } as KubeObject;
}
