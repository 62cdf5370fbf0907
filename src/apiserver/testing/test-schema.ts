/**
 * A small schema shaped like upstream's Deployment/Pod OpenAPI (merge keys, patch strategies,
 * list types, an atomic struct), for unit tests of the patch engines and the field manager
 * that should not depend on how the api module spells its kinds.
 */
import { Type } from '@sinclair/typebox';
import type { KindDefinition } from '../../api/index.js';

const str = Type.Optional(Type.String());
const int = Type.Optional(Type.Integer());
const stringMap = Type.Optional(Type.Record(Type.String(), Type.String()));
const closed = { additionalProperties: false } as const;

const envVar = Type.Object({ name: str, value: str }, closed);

const port = Type.Object({ name: str, containerPort: int, protocol: str }, closed);

const container = Type.Object(
  {
    name: str,
    image: str,
    args: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(
      Type.Array(envVar, { 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' }),
    ),
    ports: Type.Optional(
      Type.Array(port, {
        'x-kubernetes-patch-merge-key': 'containerPort',
        'x-kubernetes-patch-strategy': 'merge',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['containerPort', 'protocol'],
      }),
    ),
  },
  closed,
);

const volume = Type.Object(
  {
    name: str,
    emptyDir: Type.Optional(Type.Object({ medium: str }, closed)),
    hostPath: Type.Optional(Type.Object({ path: str, type: str }, closed)),
  },
  closed,
);

export const testWidgetSchema = Type.Object(
  {
    apiVersion: str,
    kind: str,
    metadata: Type.Optional(
      Type.Object(
        {
          name: str,
          generateName: str,
          namespace: str,
          uid: str,
          resourceVersion: str,
          generation: int,
          creationTimestamp: str,
          deletionTimestamp: str,
          deletionGracePeriodSeconds: int,
          labels: stringMap,
          annotations: stringMap,
          finalizers: Type.Optional(Type.Array(Type.String(), { 'x-kubernetes-patch-strategy': 'merge' })),
          ownerReferences: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
          managedFields: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
        },
        closed,
      ),
    ),
    spec: Type.Optional(
      Type.Object(
        {
          replicas: int,
          paused: Type.Optional(Type.Boolean()),
          selector: Type.Optional(
            Type.Object({ matchLabels: stringMap }, { ...closed, 'x-kubernetes-map-type': 'atomic' }),
          ),
          strategy: Type.Optional(
            Type.Object(
              { type: str, rollingUpdate: Type.Optional(Type.Object({ maxSurge: str }, closed)) },
              { ...closed, 'x-kubernetes-patch-strategy': 'retainKeys' },
            ),
          ),
          containers: Type.Optional(
            Type.Array(container, {
              'x-kubernetes-patch-merge-key': 'name',
              'x-kubernetes-patch-strategy': 'merge',
            }),
          ),
          volumes: Type.Optional(
            Type.Array(volume, {
              'x-kubernetes-patch-merge-key': 'name',
              'x-kubernetes-patch-strategy': 'merge,retainKeys',
            }),
          ),
          tags: Type.Optional(Type.Array(Type.String())),
          extra: Type.Optional(Type.Object({}, { additionalProperties: true })),
        },
        closed,
      ),
    ),
    status: Type.Optional(Type.Object({ replicas: int, phase: str }, closed)),
  },
  closed,
);

/**
 * A test-only kind in its own group (`example.h8s.io/v1`, namespaced) with what the built-in
 * kinds may lack: generation tracking, status and scale subresources, a field selector.
 */
export const testWidgetKind: KindDefinition = {
  group: 'example.h8s.io',
  version: 'v1',
  kind: 'Widget',
  listKind: 'WidgetList',
  plural: 'widgets',
  singular: 'widget',
  shortNames: ['wd'],
  categories: ['all'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  description: 'A test kind.',
  hasStatusSubresource: true,
  scale: {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.spec.selector',
  },
  tracksGeneration: true,
  schema: testWidgetSchema,
  applyDefaults(obj) {
    const spec = (obj['spec'] ??= {}) as Record<string, unknown>;
    if (spec['replicas'] === undefined) spec['replicas'] = 1;
  },
  validate(obj) {
    const replicas = (obj['spec'] as { replicas?: number } | undefined)?.replicas ?? 0;
    return replicas < 0
      ? [
          {
            reason: 'FieldValueInvalid',
            field: 'spec.replicas',
            message: `Invalid value: ${replicas}: must be greater than or equal to 0`,
          },
        ]
      : [];
  },
  columns: [
    { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
    { name: 'Replicas', type: 'integer', format: '', description: 'Desired replicas', priority: 0 },
    { name: 'Paused', type: 'boolean', format: '', description: 'Paused', priority: 1 },
  ],
  row(obj) {
    const spec = (obj['spec'] ?? {}) as { replicas?: number; paused?: boolean };
    return [obj.metadata.name ?? '', spec.replicas ?? 0, spec.paused ?? false];
  },
  fieldSelectors: {
    'spec.paused': (obj) => String((obj['spec'] as { paused?: boolean } | undefined)?.paused ?? false),
  },
};
