/**
 * core/v1 Secret: sensitive data (base64 in `data`; `stringData` is write-only and folded into
 * `data` on write, as upstream's conversion does).
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { bool, bytes, mapOf, str, stringMap } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import {
  forbiddenCause,
  immutableCause,
  invalidCause,
  requiredCause,
  tooLongCause,
} from '../../validation/field-causes.js';
import { checkConfigMapKey } from '../../validation/names.js';
import { base64DecodedLength } from './base64.js';
import { MAX_DATA_SIZE_BYTES } from './config-map.js';

export const SECRET_TYPE_OPAQUE = 'Opaque';
export const SECRET_TYPE_SERVICE_ACCOUNT_TOKEN = 'kubernetes.io/service-account-token';

/** Keys each built-in secret type requires in `data`. */
const requiredKeysByType: Readonly<Record<string, readonly string[]>> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

export const SecretSchema = topLevelSchema(
  'io.k8s.api.core.v1.Secret',
  'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.',
  {
    immutable: bool(
      'Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified).',
    ),
    data: mapOf(
      bytes('Base64-encoded bytes.'),
      "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string.",
    ),
    stringData: stringMap(
      'stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience. All keys and values are merged into the data field on write, overwriting any existing values.',
    ),
    type: str('Used to facilitate programmatic handling of secret data. Defaults to "Opaque".'),
  },
);

export type Secret = Static<typeof SecretSchema>;

function secretOf(obj: KubeObject): Secret {
  return obj as unknown as Secret;
}

export const secretKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Secret',
  plural: 'secrets',
  namespaced: true,
  description: SecretSchema.description ?? '',
  schema: SecretSchema,
  applyDefaults(obj) {
    const s = secretOf(obj);
    if (s.stringData) {
      const data = (s.data ??= {});
      for (const [k, v] of Object.entries(s.stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
      delete s.stringData;
    }
    if (!s.type) s.type = SECRET_TYPE_OPAQUE;
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const s = secretOf(obj);
    let total = 0;
    for (const [k, v] of Object.entries(s.data ?? {})) {
      for (const msg of checkConfigMapKey(k)) causes.push(invalidCause(`data[${k}]`, k, msg));
      const n = base64DecodedLength(v);
      // Never echo secret data in an error.
      if (n < 0)
        causes.push(
          invalidCause(`data[${k}]`, '<secret contents redacted>', 'must be a valid base64 string'),
        );
      else total += n;
    }
    for (const k of Object.keys(s.stringData ?? {})) {
      for (const msg of checkConfigMapKey(k)) causes.push(invalidCause(`stringData[${k}]`, k, msg));
    }
    if (total > MAX_DATA_SIZE_BYTES) causes.push(tooLongCause('data', MAX_DATA_SIZE_BYTES));
    const type = s.type ?? SECRET_TYPE_OPAQUE;
    for (const key of requiredKeysByType[type] ?? []) {
      if (s.data?.[key] === undefined) causes.push(requiredCause(`data[${key}]`));
    }
    if (
      type === SECRET_TYPE_SERVICE_ACCOUNT_TOKEN &&
      !s.metadata?.annotations?.['kubernetes.io/service-account.name']
    ) {
      causes.push(requiredCause('metadata.annotations[kubernetes.io/service-account.name]'));
    }
    if (
      type === 'kubernetes.io/basic-auth' &&
      s.data?.['username'] === undefined &&
      s.data?.['password'] === undefined
    ) {
      causes.push(requiredCause('data[username]'));
    }
    if (type === 'kubernetes.io/dockerconfigjson' && s.data?.['.dockerconfigjson'] !== undefined) {
      const raw = s.data['.dockerconfigjson'];
      try {
        JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
      } catch {
        causes.push(
          invalidCause('data[.dockerconfigjson]', '<secret contents redacted>', 'must be valid JSON'),
        );
      }
    }
    if (old) {
      const prev = secretOf(old);
      if ((prev.type ?? SECRET_TYPE_OPAQUE) !== type) causes.push(immutableCause('type', type));
      if (prev.immutable === true) {
        if (s.immutable !== true)
          causes.push(forbiddenCause('immutable', 'field is immutable when `immutable` is set'));
        if (!deepEqual(s.data ?? {}, prev.data ?? {}))
          causes.push(forbiddenCause('data', 'field is immutable when `immutable` is set'));
      }
    }
    return causes;
  },
  columns: [
    column('Type', 'The type of the secret'),
    column('Data', 'The number of entries in the secret data', { type: 'integer' }),
    AGE_COLUMN,
  ],
  cells: (obj, nowMs) => {
    const s = secretOf(obj);
    return [s.type ?? SECRET_TYPE_OPAQUE, Object.keys(s.data ?? {}).length, ageCell(obj, nowMs)];
  },
  fieldSelectors: {
    type: (o) => secretOf(o).type ?? '',
  },
});
