/**
 * core/v1 Namespace, with the Hypernetes `spec.network`: the Network every pod of the
 * namespace joins, which also makes the namespace belong to that Network's tenant.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, ensureRecord, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { list, object, str, stringList, time } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import { checkSupported, immutableCause, invalidCause } from '../../validation/field-causes.js';
import { checkDns1123Label, checkQualifiedName } from '../../validation/names.js';

/** Namespace phases: upstream's two plus Hypernetes' `Failed` (its Network does not exist). */
export const NAMESPACE_PHASES = ['Active', 'Terminating', 'Failed'] as const;

export const NamespaceSchema = topLevelSchema(
  'io.k8s.api.core.v1.Namespace',
  'Namespace provides a scope for Names. Use of multiple namespaces is optional. In h8s a namespace may name the Network its pods join (spec.network).',
  {
    spec: object(
      'io.k8s.api.core.v1.NamespaceSpec',
      'NamespaceSpec describes the attributes on a Namespace.',
      {
        finalizers: stringList(
          'Finalizers is an opaque list of values that must be empty to permanently remove object from storage.',
          {
            'x-kubernetes-list-type': 'atomic',
          },
        ),
        network: str(
          "Network is the name of the Network (cluster-scoped) that all pods in this namespace join. It ties the namespace to the Network's tenant. Cannot be updated.",
        ),
      },
    ),
    status: object(
      'io.k8s.api.core.v1.NamespaceStatus',
      'NamespaceStatus is information about the current status of a Namespace.',
      {
        phase: str(
          'Phase is the current lifecycle phase of the namespace: Active, Terminating, or Failed (its Network does not exist).',
        ),
        conditions: list(
          object(
            'io.k8s.api.core.v1.NamespaceCondition',
            'NamespaceCondition contains details about state of namespace.',
            {
              type: str('Type of namespace controller condition.'),
              status: str('Status of the condition, one of True, False, Unknown.'),
              lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
              reason: str("Unique, one-word, CamelCase reason for the condition's last transition."),
              message: str('Human-readable message indicating details about last transition.'),
            },
            { required: ['type', 'status'] },
          ),
          "Represents the latest available observations of a namespace's current state.",
          { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
        ),
      },
    ),
  },
);

export type Namespace = Static<typeof NamespaceSchema>;

function nsOf(obj: KubeObject): Namespace {
  return obj as unknown as Namespace;
}

export const namespaceKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  shortNames: ['ns'],
  namespaced: false,
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  description: NamespaceSchema.description ?? '',
  schema: NamespaceSchema,
  hasStatusSubresource: true,
  nameRule: 'dns1123Label',
  applyDefaults(obj, ctx) {
    if (ctx.operation !== 'create') return;
    const spec = ensureRecord(obj, 'spec') as NonNullable<Namespace['spec']>;
    // Upstream's create strategy: the "kubernetes" finalizer keeps the namespace until the
    // namespace controller has emptied it.
    if (!spec.finalizers || spec.finalizers.length === 0) spec.finalizers = ['kubernetes'];
    const status = ensureRecord(obj, 'status') as NonNullable<Namespace['status']>;
    status.phase ??= 'Active';
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const ns = nsOf(obj);
    const network = ns.spec?.network;
    if (network !== undefined && network !== '') {
      for (const msg of checkDns1123Label(network)) causes.push(invalidCause('spec.network', network, msg));
    }
    (ns.spec?.finalizers ?? []).forEach((f, i) => {
      for (const msg of checkQualifiedName(f)) causes.push(invalidCause(`spec.finalizers[${i}]`, f, msg));
    });
    checkSupported(causes, 'status.phase', ns.status?.phase, NAMESPACE_PHASES);
    if (old) {
      const prev = nsOf(old);
      // The network decides the tenant: moving a namespace would move its pods across tenants.
      if ((prev.spec?.network ?? '') !== (network ?? ''))
        causes.push(immutableCause('spec.network', network ?? ''));
      if (
        prev.status?.phase === 'Terminating' &&
        !deepEqual(prev.spec?.finalizers, ns.spec?.finalizers) &&
        (ns.spec?.finalizers?.length ?? 0) > (prev.spec?.finalizers?.length ?? 0)
      ) {
        causes.push(
          invalidCause(
            'spec.finalizers',
            ns.spec?.finalizers,
            'finalizers may only be removed while the namespace is terminating',
          ),
        );
      }
    }
    return causes;
  },
  columns: [column('Status', 'The status of the namespace'), AGE_COLUMN],
  cells: (obj, nowMs) => [nsOf(obj).status?.phase ?? '', ageCell(obj, nowMs)],
  fieldSelectors: {
    'status.phase': (o) => nsOf(o).status?.phase ?? '',
  },
});
