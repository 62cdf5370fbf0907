/**
 * Server-side printing for `kubectl get` (upstream `TableConvertor`): a `meta.k8s.io` Table with
 * the kind's columns and one row per object; each row carries the object's metadata
 * (PartialObjectMetadata, the default), the whole object, or nothing (`includeObject`).
 */
import type { KubeObject } from '../../api/index.js';
import { badRequest } from '../../lib/index.js';
import type { ResourceRegistry } from '../registry/resource-registry.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** @throws BadRequest for an unknown value. */
export function parseIncludeObject(raw: string | null): IncludeObject {
  if (raw === null || raw === '') return 'Metadata';
  if (raw === 'None' || raw === 'Metadata' || raw === 'Object') return raw;
  throw badRequest(
    `includeObject: Unsupported value: "${raw}": supported values: "None", "Metadata", "Object"`,
  );
}

export interface ListMetaFields {
  readonly resourceVersion?: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

export function partialObjectMetadata(obj: Readonly<KubeObject>, version: string): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}

function cellsOf(registry: ResourceRegistry, obj: Readonly<KubeObject>, nowMs: number): unknown[] {
  try {
    return [...registry.def.row(obj as KubeObject, nowMs)];
  } catch {
    // A row function must not take a request down; show what we know.
    return registry.def.columns.map((c, i) =>
      i === 0 ? (obj.metadata.name ?? '') : c.type === 'string' ? '<unknown>' : null,
    );
  }
}

export function tableOf(
  registry: ResourceRegistry,
  objects: readonly Readonly<KubeObject>[],
  meta: ListMetaFields,
  options: { version: 'v1' | 'v1beta1'; includeObject: IncludeObject; nowMs: number; withColumns?: boolean },
): Record<string, unknown> {
  const rows = objects.map((obj) => {
    const row: Record<string, unknown> = { cells: cellsOf(registry, obj, options.nowMs) };
    if (options.includeObject === 'Metadata') row['object'] = partialObjectMetadata(obj, options.version);
    else if (options.includeObject === 'Object') row['object'] = obj;
    return row;
  });
  const metadata: Record<string, unknown> = {};
  if (meta.resourceVersion !== undefined) metadata['resourceVersion'] = meta.resourceVersion;
  if (meta.continue !== undefined) metadata['continue'] = meta.continue;
  if (meta.remainingItemCount !== undefined) metadata['remainingItemCount'] = meta.remainingItemCount;
  const table: Record<string, unknown> = {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${options.version}`,
    metadata,
  };
  if (options.withColumns ?? true) {
    table['columnDefinitions'] = registry.def.columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format,
      description: c.description,
      priority: c.priority,
    }));
  }
  table['rows'] = rows;
  return table;
}
