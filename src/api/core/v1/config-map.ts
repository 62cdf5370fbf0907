/** core/v1 ConfigMap: configuration data for pods to consume. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { bool, bytes, mapOf, stringMap } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import { forbiddenCause, invalidCause, tooLongCause } from '../../validation/field-causes.js';
import { checkConfigMapKey } from '../../validation/names.js';
import { base64DecodedLength } from './base64.js';

/** Upstream `MaxSecretSize` / ConfigMap limit: 1 MiB of data in total. */
export const MAX_DATA_SIZE_BYTES = 1024 * 1024;

export const ConfigMapSchema = topLevelSchema(
  'io.k8s.api.core.v1.ConfigMap',
  'ConfigMap holds configuration data for pods to consume.',
  {
    immutable: bool(
      'Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only object metadata can be modified). If not set to true, the field can be modified at any time.',
    ),
    data: stringMap(
      "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field.",
    ),
    binaryData: mapOf(
      bytes('Base64-encoded bytes.'),
      "BinaryData contains the binary data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
    ),
  },
);

export type ConfigMap = Static<typeof ConfigMapSchema>;

function cmOf(obj: KubeObject): ConfigMap {
  return obj as unknown as ConfigMap;
}

export const configMapKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  shortNames: ['cm'],
  namespaced: true,
  description: ConfigMapSchema.description ?? '',
  schema: ConfigMapSchema,
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const cm = cmOf(obj);
    let total = 0;
    for (const [k, v] of Object.entries(cm.data ?? {})) {
      for (const msg of checkConfigMapKey(k)) causes.push(invalidCause(`data[${k}]`, k, msg));
      total += Buffer.byteLength(v, 'utf8');
    }
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) {
      for (const msg of checkConfigMapKey(k)) causes.push(invalidCause(`binaryData[${k}]`, k, msg));
      if (cm.data && Object.prototype.hasOwnProperty.call(cm.data, k)) {
        causes.push(invalidCause('binaryData', k, 'duplicate of key present in data'));
      }
      const n = base64DecodedLength(v);
      if (n < 0) causes.push(invalidCause(`binaryData[${k}]`, '<binary>', 'must be a valid base64 string'));
      else total += n;
    }
    if (total > MAX_DATA_SIZE_BYTES) causes.push(tooLongCause('', MAX_DATA_SIZE_BYTES));
    if (old) {
      const prev = cmOf(old);
      if (prev.immutable === true) {
        if (cm.immutable !== true)
          causes.push(forbiddenCause('immutable', 'field is immutable when `immutable` is set'));
        if (!deepEqual(cm.data ?? {}, prev.data ?? {}))
          causes.push(forbiddenCause('data', 'field is immutable when `immutable` is set'));
        if (!deepEqual(cm.binaryData ?? {}, prev.binaryData ?? {}))
          causes.push(forbiddenCause('binaryData', 'field is immutable when `immutable` is set'));
      }
    }
    return causes;
  },
  columns: [column('Data', 'Number of data entries (data and binaryData).', { type: 'integer' }), AGE_COLUMN],
  cells: (obj, nowMs) => {
    const cm = cmOf(obj);
    return [Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, ageCell(obj, nowMs)];
  },
});
