/**
 * Server-side printing for `kubectl get` (upstream `TableConvertor`): a `meta.k8s.io` Table with
 * the kind's columns and one row per object; each row carries the object's metadata
 * (PartialObjectMetadata, the default), the whole object, or nothing (`includeObject`).
 */
import type { KubeObject } from '../../api/index.js';
import { badRequest } from '../../lib/index.js';
import type { KeyValue } from '../../storage/index.js';
import { rawObjectChunks, type TableRowSource } from '../registry/object-codec.js';
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

function columnDefinitions(registry: ResourceRegistry): Record<string, unknown>[] {
  return registry.def.columns.map((c) => ({
    name: c.name,
    type: c.type,
    format: c.format,
    description: c.description,
    priority: c.priority,
  }));
}

const rowEnd = Buffer.from('}');
const objectRowEnd = Buffer.from('}}');
const tableEnd = Buffer.from(']}');

/**
 * The same Table as `tableOf`, as JSON text for a list read from the store: each row's
 * metadata (PartialObjectMetadata) comes from `rows` (encoded once per object revision) and
 * `includeObject=Object` splices the stored bytes, so nothing is encoded twice.
 */
export function tableJsonChunks(
  registry: ResourceRegistry,
  objects: readonly Readonly<KubeObject>[],
  rows: { readonly sources: readonly TableRowSource[]; readonly stored: readonly KeyValue[] },
  meta: ListMetaFields,
  options: { version: 'v1' | 'v1beta1'; includeObject: IncludeObject; nowMs: number },
): Uint8Array[] {
  const metadata: Record<string, unknown> = {};
  if (meta.resourceVersion !== undefined) metadata['resourceVersion'] = meta.resourceVersion;
  if (meta.continue !== undefined) metadata['continue'] = meta.continue;
  if (meta.remainingItemCount !== undefined) metadata['remainingItemCount'] = meta.remainingItemCount;
  const head = JSON.stringify({
    kind: 'Table',
    apiVersion: `meta.k8s.io/${options.version}`,
    metadata,
    columnDefinitions: columnDefinitions(registry),
  });
  const chunks: Uint8Array[] = [Buffer.from(`${head.slice(0, -1)},"rows":[`)];
  const partialHead = Buffer.from(
    `,"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/${options.version}","metadata":`,
  );
  const objectHead = Buffer.from(',"object":');
  // Cells of many rows go into one buffer (small buffers cost more than their bytes).
  let text = '';
  const flush = (): void => {
    if (text !== '') chunks.push(Buffer.from(text));
    text = '';
  };
  for (let i = 0; i < objects.length; i++) {
    const obj = objects[i] as Readonly<KubeObject>;
    text += `${i > 0 ? ',' : ''}{"cells":${JSON.stringify(cellsOf(registry, obj, options.nowMs))}`;
    if (options.includeObject === 'None') {
      text += '}';
      continue;
    }
    flush();
    if (options.includeObject === 'Metadata') {
      const source = rows.sources[i];
      chunks.push(
        partialHead,
        source ? source.metadataJson : Buffer.from(JSON.stringify(obj.metadata)),
        objectRowEnd,
      );
    } else {
      const kv = rows.stored[i];
      chunks.push(objectHead, ...(kv ? rawObjectChunks(kv) : [Buffer.from(JSON.stringify(obj))]), rowEnd);
    }
  }
  flush();
  chunks.push(tableEnd);
  return chunks;
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
  if (options.withColumns ?? true) table['columnDefinitions'] = columnDefinitions(registry);
  table['rows'] = rows;
  return table;
}
