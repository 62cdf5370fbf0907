/**
 * JSON Merge Patch (RFC 7386), `application/merge-patch+json`: what `kubectl label`,
 * `annotate`, `patch --type merge` and client-side apply of kinds unknown to kubectl send.
 * Objects merge recursively, `null` deletes a key, anything else (lists included) replaces.
 */
import { isRecord } from '../../lib/index.js';

/** Returns `target` merged with `patch`; neither input is modified and nothing is shared. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  return mergeInto(target === undefined ? undefined : structuredClone(target), patch);
}

function mergeInto(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isRecord(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergeInto(out[key], value);
  }
  return out;
}
