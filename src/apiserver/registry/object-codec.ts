/**
 * How objects become store values and back. The stored bytes are the object's JSON without
 * `metadata.resourceVersion`: the store's modRevision is the resourceVersion (as upstream's
 * etcd3 store does), so it is set on the way out and never stored.
 */
import type { KeyValue } from '../../storage/index.js';
import type { KubeObject } from '../../api/index.js';
import { internal } from '../../lib/index.js';

const decoder = new TextDecoder();

/**
 * The store value of `obj` (its resourceVersion is not stored). The text always starts with
 * `{"apiVersion":…,"kind":…,"metadata":{`, which lets reads splice the resourceVersion in
 * without parsing (see `rawObjectJson`).
 */
export function encodeObject(obj: KubeObject): Uint8Array {
  const { apiVersion, kind, metadata, ...rest } = obj;
  const { resourceVersion: _rv, ...meta } = metadata;
  return Buffer.from(JSON.stringify({ apiVersion, kind, metadata: meta, ...rest }));
}

const canonicalStart = /^\{"apiVersion":"(?:[^"\\]|\\.)*","kind":"(?:[^"\\]|\\.)*","metadata":\{/;

/**
 * The object's JSON with its resourceVersion, straight from the stored bytes when they have
 * the canonical start (no parse, no stringify: this is what makes large lists cheap).
 */
export function rawObjectJson(kv: KeyValue): string {
  const text = decoder.decode(kv.value);
  const m = canonicalStart.exec(text);
  if (!m) return JSON.stringify(decodeObject(kv));
  const at = m[0].length;
  const rv = `"resourceVersion":"${kv.modRevision}"`;
  return `${text.slice(0, at)}${rv}${text[at] === '}' ? '' : ','}${text.slice(at)}`;
}

/**
 * A fresh, mutable object decoded from a store value, with resourceVersion set.
 * @throws InternalError when the stored bytes are not an object (corruption).
 */
export function decodeObject(kv: KeyValue): KubeObject {
  let obj: unknown;
  try {
    obj = JSON.parse(decoder.decode(kv.value));
  } catch (err) {
    throw internal(`Cannot decode the object stored at "${kv.key}"`, { cause: err });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw internal(`Cannot decode the object stored at "${kv.key}": it is not a JSON object`);
  }
  const o = obj as KubeObject;
  if (typeof o.metadata !== 'object' || o.metadata === null) o.metadata = {};
  o.metadata.resourceVersion = String(kv.modRevision);
  return o;
}

/**
 * Watch events share one decoded object per stored value: watches only read it, and one
 * event fans out to many watchers. Keyed by the value's bytes, which the store shares
 * between the watchers of one event.
 */
const shared = new WeakMap<Uint8Array, { revision: number; obj: KubeObject }>();

/** A decoded object that callers must not modify (watch fan-out). */
export function decodeShared(kv: KeyValue, revision = kv.modRevision): Readonly<KubeObject> {
  const hit = shared.get(kv.value);
  if (hit && hit.revision === revision) return hit.obj;
  const obj = decodeObject(kv);
  obj.metadata.resourceVersion = String(revision);
  shared.set(kv.value, { revision, obj });
  return obj;
}

let lastSecond = NaN;
let lastFormatted = '';

/** RFC 3339 with seconds precision, as Kubernetes writes `metav1.Time`. */
export function formatTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastFormatted = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
  }
  return lastFormatted;
}
