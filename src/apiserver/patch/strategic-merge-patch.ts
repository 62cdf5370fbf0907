/**
 * Strategic merge patch, `application/strategic-merge-patch+json`: what kubectl's client-side
 * apply, `kubectl edit`, `scale` (1.20) and `patch --type strategic` send for built-in kinds.
 *
 * Semantics follow upstream `apimachinery/pkg/util/strategicpatch` when a patch is applied to
 * a live object (MergeParallelList and IgnoreUnmatchedNulls on):
 * - maps merge recursively; `null` deletes a key; `$patch: replace` replaces the map,
 *   `$patch: delete` empties it (or, inside a keyed list, deletes the matching element);
 * - lists whose schema says `x-kubernetes-patch-strategy: merge` with a merge key merge
 *   element-wise by that key; with no key (primitives) they merge as a set; other lists are
 *   replaced; `{"$patch": "replace"}` as a list element replaces the whole list;
 * - `$setElementOrder/<field>` orders the merged list, `$deleteFromPrimitiveList/<field>`
 *   removes values from a primitive set, `$retainKeys` drops the keys it does not name.
 *
 * Errors are BadRequest (a malformed directive or an element without its merge key).
 */
import { badRequest, isRecord } from '../../lib/index.js';
import type { SchemaNode } from '../../api/index.js';
import { jsonEqual } from './json-patch.js';

type JsonMap = Record<string, unknown>;

const directiveMarker = '$patch';
const retainKeysDirective = '$retainKeys';
const setElementOrderPrefix = '$setElementOrder/';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList/';

/**
 * Applies a strategic merge `patch` to `original` as described by `schema` (the kind's root
 * node). Inputs are not modified.
 * @throws BadRequest when the patch is not a JSON object or a directive is malformed.
 */
export function applyStrategicMergePatch(original: unknown, patch: unknown, schema: SchemaNode): unknown {
  if (!isRecord(patch)) throw badRequest('The strategic merge patch must be a JSON object');
  const base = isRecord(original) ? (structuredClone(original) as JsonMap) : {};
  return mergeMap(base, structuredClone(patch) as JsonMap, schema);
}

function childOf(schema: SchemaNode | undefined, key: string): SchemaNode | undefined {
  return schema?.child(key);
}

function mergeMap(original: JsonMap, patch: JsonMap, schema: SchemaNode | undefined): JsonMap {
  if (Object.prototype.hasOwnProperty.call(patch, directiveMarker)) {
    const directive = patch[directiveMarker];
    if (directive === 'replace') {
      delete patch[directiveMarker];
      return cleanNew(patch, schema) as JsonMap;
    }
    if (directive === 'delete') return {};
    throw badRequest(`Unknown patch type ${JSON.stringify(directive)} in the strategic merge patch`);
  }

  if (Object.prototype.hasOwnProperty.call(patch, retainKeysDirective)) {
    const keep = patch[retainKeysDirective];
    delete patch[retainKeysDirective];
    if (!Array.isArray(keep) || !keep.every((k) => typeof k === 'string')) {
      throw badRequest('The $retainKeys directive of the strategic merge patch must be a list of strings');
    }
    const allowed = new Set(keep);
    for (const k of Object.keys(original)) if (!allowed.has(k)) delete original[k];
  }

  // $setElementOrder: merge the named list now and order it, so the loop below skips it.
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(setElementOrderPrefix)) continue;
    const field = key.slice(setElementOrderPrefix.length);
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw badRequest(`The ${key} directive must be a list`);
    const fieldSchema = childOf(schema, field);
    const mergeKey = fieldSchema?.patchMergeKey;
    const originalList = Array.isArray(original[field]) ? (original[field] as unknown[]) : [];
    const patchList = patch[field];
    if (patchList === null) continue; // the list is being deleted; order is moot
    let merged: unknown[];
    if (Array.isArray(patchList)) {
      merged = mergeSlice(originalList.slice(), patchList, fieldSchema, mergeKey);
      delete patch[field];
    } else {
      merged = originalList.slice();
    }
    const [patchItems, serverOnly] = partition(merged, order, mergeKey);
    original[field] = normalizeElementOrder(patchItems, serverOnly, order, originalList, mergeKey);
  }

  for (const [rawKey, patchValue] of Object.entries(patch)) {
    let key = rawKey;
    let isDeleteList = false;
    if (rawKey.startsWith(deleteFromPrimitiveListPrefix)) {
      key = rawKey.slice(deleteFromPrimitiveListPrefix.length);
      isDeleteList = true;
      if (!Array.isArray(patchValue)) throw badRequest(`The ${rawKey} directive must be a list`);
      const current = original[key];
      if (Array.isArray(current)) original[key] = deleteFromSlice(current, patchValue);
      continue;
    }
    if (isDeleteList) continue;
    const fieldSchema = childOf(schema, key);
    if (patchValue === null) {
      delete original[key];
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(original, key)) {
      original[key] = cleanNew(patchValue, fieldSchema);
      continue;
    }
    const current = original[key];
    if (isRecord(current) && isRecord(patchValue)) {
      if (fieldSchema?.patchStrategies.includes('replace')) {
        original[key] = cleanNew(patchValue, fieldSchema);
      } else {
        original[key] = mergeMap(current, patchValue, fieldSchema);
      }
      continue;
    }
    if (Array.isArray(current) && Array.isArray(patchValue)) {
      if (fieldSchema?.patchStrategies.includes('merge')) {
        original[key] = mergeSlice(current, patchValue, fieldSchema, fieldSchema.patchMergeKey);
      } else {
        original[key] = cleanNew(patchValue, fieldSchema);
      }
      continue;
    }
    original[key] = cleanNew(patchValue, fieldSchema);
  }
  return original;
}

/** A patch value for a field the original lacks: strip directives and nulls by merging into empty. */
function cleanNew(value: unknown, schema: SchemaNode | undefined): unknown {
  if (isRecord(value)) return mergeMap({}, value, schema);
  if (Array.isArray(value)) {
    if (schema?.patchStrategies.includes('merge')) return mergeSlice([], value, schema, schema.patchMergeKey);
    const items = schema?.shape === 'list' ? schema.items() : undefined;
    return value.map((v) => (isRecord(v) ? mergeMap({}, v, items) : v));
  }
  return value;
}

function mergeSlice(
  original: unknown[],
  patch: unknown[],
  schema: SchemaNode | undefined,
  mergeKey: string | undefined,
): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const elementsAreMaps = [...original, ...patch].some(isRecord);
  let merged: unknown[];
  let effectivePatch = patch;
  let effectiveOriginal = original;
  if (!elementsAreMaps) {
    merged = dedupe([...original, ...patch]);
  } else {
    if (mergeKey === undefined) {
      // Without a merge key a list of maps cannot merge element-wise: replace it.
      return patch.map((v) => cleanNew(v, schema?.shape === 'list' ? schema.items() : undefined));
    }
    const items = schema?.shape === 'list' ? schema.items() : undefined;
    [effectiveOriginal, effectivePatch] = withSpecialElements(original.slice(), patch, mergeKey);
    merged = effectiveOriginal.slice();
    for (const element of effectivePatch) {
      if (!isRecord(element))
        throw badRequest(`Cannot merge a non-object element into a list merged by "${mergeKey}"`);
      if (!Object.prototype.hasOwnProperty.call(element, mergeKey)) {
        throw badRequest(`The strategic merge patch has a list element without its merge key "${mergeKey}"`);
      }
      const at = merged.findIndex((m) => isRecord(m) && jsonEqual(m[mergeKey], element[mergeKey]));
      if (at >= 0) merged[at] = mergeMap(merged[at] as JsonMap, element, items);
      else merged.push(mergeMap({}, element, items));
    }
  }
  const [patchItems, serverOnly] = partition(merged, effectivePatch, mergeKey);
  return normalizeElementOrder(patchItems, serverOnly, effectivePatch, effectiveOriginal, mergeKey);
}

/** Handles `$patch: delete|replace` elements; returns the original and patch without them. */
function withSpecialElements(
  original: unknown[],
  patch: unknown[],
  mergeKey: string,
): [unknown[], unknown[]] {
  const plain: unknown[] = [];
  let replace = false;
  for (const v of patch) {
    if (!isRecord(v) || !Object.prototype.hasOwnProperty.call(v, directiveMarker)) {
      plain.push(v);
      continue;
    }
    const directive = v[directiveMarker];
    if (directive === 'delete') {
      if (!Object.prototype.hasOwnProperty.call(v, mergeKey)) {
        throw badRequest(
          `The strategic merge patch deletes a list element without its merge key "${mergeKey}"`,
        );
      }
      original = original.filter((o) => !(isRecord(o) && jsonEqual(o[mergeKey], v[mergeKey])));
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw badRequest('Merging lists cannot yet be specified in the patch');
    } else {
      throw badRequest(`Unknown patch type ${JSON.stringify(directive)} in the strategic merge patch`);
    }
  }
  if (replace) return [plain, []];
  return [original, plain];
}

function dedupe(values: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of values) if (!out.some((o) => jsonEqual(o, v))) out.push(v);
  return out;
}

function deleteFromSlice(current: unknown[], toDelete: unknown[]): unknown[] {
  return current.filter((c) => !toDelete.some((d) => jsonEqual(c, d)));
}

function indexIn(list: readonly unknown[], item: unknown, mergeKey: string | undefined): number {
  if (mergeKey !== undefined && isRecord(item)) {
    const key = item[mergeKey];
    return list.findIndex((x) => isRecord(x) && jsonEqual(x[mergeKey], key));
  }
  return list.findIndex((x) => jsonEqual(x, item));
}

/** Splits `merged` into items present in `list` and the rest (server-only). */
function partition(
  merged: unknown[],
  list: readonly unknown[],
  mergeKey: string | undefined,
): [unknown[], unknown[]] {
  const inList: unknown[] = [];
  const rest: unknown[] = [];
  for (const m of merged) (indexIn(list, m, mergeKey) >= 0 ? inList : rest).push(m);
  return [inList, rest];
}

function sortByOrder(items: unknown[], order: readonly unknown[], mergeKey: string | undefined): unknown[] {
  const toDelete = items.filter((i) => isRecord(i) && i[directiveMarker] === 'delete');
  const keep = items.filter((i) => !toDelete.includes(i));
  const indexed = keep.map((item, pos) => ({ item, pos, at: indexIn(order, item, mergeKey) }));
  indexed.sort((a, b) => (a.at >= 0 && b.at >= 0 ? a.at - b.at : a.pos - b.pos));
  return [...indexed.map((x) => x.item), ...toDelete];
}

/**
 * Upstream `normalizeElementOrder`: patch items in patch order, server-only items in server
 * order, then interleaved so server-only items keep their place relative to the others.
 */
function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: readonly unknown[],
  serverOrder: readonly unknown[],
  mergeKey: string | undefined,
): unknown[] {
  const left = sortByOrder(serverOnly, serverOrder, mergeKey);
  const right = sortByOrder(patchItems, patchOrder, mergeKey);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey);
      const ri = indexIn(serverOrder, right[j], mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}
