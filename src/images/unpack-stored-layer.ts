/**
 * Unpacks a layer blob of the content store into a directory, in the unpack pool, and checks
 * that its uncompressed stream hashes to the diffID the (digest-verified) image config lists.
 * The layer-tree cache uses it for overlayfs trees and the root-disk builder for the merged
 * tree of a disk.
 */
import { invalid, type Logger } from '../lib/index.js';
import type { ContentStore } from './content-store.js';
import type { StoredLayer } from './image-store.js';
import type { DeviceNodePolicy, UnpackMode, UnpackStats } from './layer-unpacker.js';
import { layerCompression } from './oci-schemas.js';
import type { UnpackBudget } from './unpack-budget.js';
import type { UnpackPool } from './unpack-pool.js';

export interface StoredLayerUnpackDeps {
  readonly content: ContentStore;
  readonly pool: UnpackPool;
  readonly log: Logger;
  readonly deviceNodes: DeviceNodePolicy;
}

export interface UnpackStoredLayerOptions {
  readonly signal?: AbortSignal | undefined;
  /** The image's limits on unpacked content (unpack-budget.ts). */
  readonly budget?: UnpackBudget | undefined;
}

/** How a layer is named in errors. */
export function layerWhat(layer: StoredLayer): string {
  return `layer "${layer.digest}"`;
}

/** @throws Invalid when an unpacked stream's digest `got` is not the layer's diffID */
export function checkDiffId(layer: StoredLayer, got: string): void {
  if (got !== layer.diffId)
    throw invalid(
      `${layerWhat(layer)} does not match the image config: its uncompressed digest is "${got}", want "${layer.diffId}"`,
    );
}

/**
 * Streams the blob of `layer` through its decompressor into `dir` (which must exist).
 * @throws Invalid for a malicious or malformed layer or a diffID mismatch; RequestEntityTooLarge
 *   past the budget's limits. The caller removes `dir` on failure.
 */
export async function unpackStoredLayer(
  deps: StoredLayerUnpackDeps,
  layer: StoredLayer,
  dir: string,
  mode: UnpackMode,
  options: UnpackStoredLayerOptions = {},
): Promise<UnpackStats> {
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined)
    throw invalid(`Layer "${layer.digest}" has unsupported media type "${layer.mediaType}"`);
  const job = deps.pool.run(
    {
      source: { kind: 'file', path: deps.content.blobPath(layer.digest) },
      compression,
      dir,
      mode,
      deviceNodes: deps.deviceNodes,
      what: layerWhat(layer),
      budget: options.budget,
    },
    { log: deps.log, signal: options.signal },
  );
  const r = await job.result;
  checkDiffId(layer, r.diffId);
  return r.stats;
}
