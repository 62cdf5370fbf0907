/**
 * Duplicate keys in a JSON body, for strict field validation (`duplicate field "spec.replicas"`,
 * as upstream's strict decoder reports them). `JSON.parse` silently keeps the last value, so the
 * text is scanned once more; it has already parsed, so the scanner can assume valid JSON.
 */

interface Frame {
  readonly isObject: boolean;
  readonly path: string;
  readonly keys: Set<string> | undefined;
  index: number;
  key: string | undefined;
  expectKey: boolean;
}

function childPath(frame: Frame): string {
  if (!frame.isObject) return `${frame.path}[${frame.index}]`;
  return frame.path === '' ? (frame.key ?? '') : `${frame.path}.${frame.key ?? ''}`;
}

/** Paths of keys that appear twice in the same object (at most `max`). */
export function findDuplicateFields(text: string, max = 20): string[] {
  return scanJsonText(text, Number.MAX_SAFE_INTEGER, max).duplicates;
}

export interface JsonTextScan {
  /** Paths of keys an object repeats (at most the `maxDuplicates` first). */
  readonly duplicates: string[];
  /** True when objects/arrays nest deeper than `maxDepth` (the scan stops there). */
  readonly isTooDeep: boolean;
}

/** One pass over valid JSON text: duplicate keys and whether it nests too deep. */
export function scanJsonText(text: string, maxDepth: number, maxDuplicates = 20): JsonTextScan {
  const out: string[] = [];
  const stack: Frame[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { duplicates: out, isTooDeep: true };
      const parent = stack[stack.length - 1];
      const path = parent ? childPath(parent) : '';
      stack.push({
        isObject: c === 0x7b,
        path,
        keys: c === 0x7b ? new Set() : undefined,
        index: 0,
        key: undefined,
        expectKey: c === 0x7b,
      });
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top) {
        if (top.isObject) top.expectKey = true;
        else top.index++;
      }
      i++;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
          continue;
        }
        if (d === 0x22) break;
        j++;
      }
      const top = stack[stack.length - 1];
      if (top?.isObject && top.expectKey) {
        const raw = text.slice(i, j + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        top.key = key;
        top.expectKey = false;
        if (top.keys?.has(key)) {
          if (out.length < maxDuplicates) out.push(childPath(top));
        } else top.keys?.add(key);
      }
      i = j + 1;
    } else {
      i++;
    }
  }
  return { duplicates: out, isTooDeep: false };
}
