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
 * without parsing (see `rawObjectChunks`).
 */
export function encodeObject(obj: KubeObject): Uint8Array {
  if (obj.metadata.resourceVersion === undefined && isCanonicalOrder(obj)) {
    return Buffer.from(JSON.stringify(obj));
  }
  const { apiVersion, kind, metadata, ...rest } = obj;
  const { resourceVersion: _rv, ...meta } = metadata;
  return Buffer.from(JSON.stringify({ apiVersion, kind, metadata: meta, ...rest }));
}

/** True when the first keys are apiVersion, kind and metadata (strings and an object). */
function isCanonicalOrder(obj: KubeObject): boolean {
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return false;
  let n = 0;
  for (const k in obj) {
    if (k !== (n === 0 ? 'apiVersion' : n === 1 ? 'kind' : 'metadata')) return false;
    if (++n === 3) return true;
  }
  return false;
}

const canonicalStart = /^\{"apiVersion":"(?:[^"\\]|\\.)*","kind":"(?:[^"\\]|\\.)*","metadata":\{/;

/** Printable ASCII only (the canonical start has no control or multi-byte characters). */
const asciiOnly = /^[\x20-\x7e]*$/;

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
 * The object's JSON with its resourceVersion as byte chunks that share the stored bytes: the
 * stored text up to `"metadata":{`, the resourceVersion, the rest. Lists concatenate these
 * without decoding or re-encoding 10 MiB of text.
 */
export function rawObjectChunks(kv: KeyValue): Uint8Array[] {
  const head = decoder.decode(kv.value.subarray(0, Math.min(kv.value.length, 512)));
  const m = canonicalStart.exec(head);
  if (!m || !asciiOnly.test(m[0])) return [Buffer.from(JSON.stringify(decodeObject(kv)))];
  const at = m[0].length;
  const emptyMeta = kv.value[at] === 0x7d; /* } */
  return [
    kv.value.subarray(0, at),
    Buffer.from(`"resourceVersion":"${kv.modRevision}"${emptyMeta ? '' : ','}`),
    kv.value.subarray(at),
  ];
}

/**
 * The object's `metadata` JSON with its resourceVersion, as byte chunks that share the stored
 * bytes (Table rows carry it as PartialObjectMetadata): found by scanning the stored text for
 * the end of the metadata object instead of decoding and encoding it again.
 */
export function rawMetadataChunks(kv: KeyValue): Uint8Array[] | undefined {
  const value = kv.value;
  const head = decoder.decode(value.subarray(0, Math.min(value.length, 512)));
  const m = canonicalStart.exec(head);
  if (!m || !asciiOnly.test(m[0])) return undefined;
  const at = m[0].length;
  const end = closingBrace(value, at);
  if (end < 0) return undefined;
  const emptyMeta = end === at;
  return [
    Buffer.from(`{"resourceVersion":"${kv.modRevision}"${emptyMeta ? '' : ','}`),
    value.subarray(at, end + 1),
  ];
}

/** The index of the `}` that closes the object whose contents start at `from` (-1: none). */
function closingBrace(text: Uint8Array, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i] as number;
    if (c === 0x22 /* " */) {
      // Skip the string; a backslash escapes the next byte (multi-byte UTF-8 never holds 0x22/0x5c).
      for (i++; i < text.length; i++) {
        const d = text[i] as number;
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (depth === 0) return c === 0x7d ? i : -1;
      depth--;
    }
  }
  return -1;
}

/** What a Table row needs of a stored object: see `TableRowCache`. */
export interface TableRowSource {
  /** The decoded object without managedFields (read-only: shared between requests). */
  readonly object: Readonly<KubeObject>;
  /** Its `metadata` JSON, resourceVersion included, as PartialObjectMetadata carries it. */
  readonly metadataJson: Uint8Array;
}

/**
 * Decoded objects for Table rows, by store key and revision, so that `kubectl get` of a large
 * collection decodes only what changed since the last one (as upstream's watch cache keeps
 * objects decoded). Bounded: the oldest entries go beyond `maxEntries`; managedFields (often
 * half an object, never shown in a row) are not kept.
 */
export class TableRowCache {
  readonly #entries = new Map<string, { revision: number; source: TableRowSource }>();
  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The row source of `kv`, decoded now unless this revision of the key was seen before. */
  get(kv: KeyValue): TableRowSource {
    const hit = this.#entries.get(kv.key);
    if (hit && hit.revision === kv.modRevision) return hit.source;
    const object = decodeObject(kv);
    const raw = rawMetadataChunks(kv);
    const metadataJson = raw ? Buffer.concat(raw) : Buffer.from(JSON.stringify(object.metadata));
    delete object.metadata.managedFields;
    const source: TableRowSource = { object, metadataJson };
    if (hit) this.#entries.delete(kv.key);
    this.#entries.set(kv.key, { revision: kv.modRevision, source });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return source;
  }
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

/** The stored JSON of objects the registry just wrote, so responses need not stringify them again. */
const written = new WeakMap<object, Uint8Array[]>();

/** Remembers that `obj` is exactly what `kv` holds (call right after a successful write). */
export function rememberStored(obj: KubeObject, kv: KeyValue): void {
  written.set(obj, rawObjectChunks(kv));
}

/** The JSON chunks of an object the registry wrote, if it still is unchanged since then. */
export function storedJsonOf(obj: KubeObject): Uint8Array[] | undefined {
  return written.get(obj);
}
