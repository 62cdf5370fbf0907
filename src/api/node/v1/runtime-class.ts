/**
 * node.k8s.io/v1 RuntimeClass: names a runtime handler. In h8s the handlers are `hyper`
 * (each pod in its own VM) and `runc` (plain containers).
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { TolerationSchema, validateTolerations } from '../../core/v1/scheduling-constraints.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { validateLabels } from '../../meta/v1/object-meta.js';
import { findQuantity, QUANTITY_INVALID_MESSAGE } from '../../resource/quantity.js';
import { list, mapOf, object, quantity, str, stringMap } from '../../schema/fields.js';
import { immutableCause, invalidCause, requiredCause } from '../../validation/field-causes.js';
import { checkDns1123Label } from '../../validation/names.js';

export const RuntimeClassSchema = topLevelSchema(
  'io.k8s.api.node.v1.RuntimeClass',
  'RuntimeClass defines a class of container runtime supported in the cluster. In h8s the handler is "hyper" (a VM per pod) or "runc".',
  {
    handler: str(
      'handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class. h8s handlers: hyper, runc. Immutable.',
    ),
    overhead: object(
      'io.k8s.api.node.v1.Overhead',
      'Overhead structure represents the resource overhead associated with running a pod.',
      {
        podFixed: mapOf(
          quantity('A quantity of a resource.'),
          'podFixed represents the fixed resource overhead associated with running a pod.',
        ),
      },
    ),
    scheduling: object(
      'io.k8s.api.node.v1.Scheduling',
      'Scheduling specifies the scheduling constraints for nodes supporting a RuntimeClass.',
      {
        nodeSelector: stringMap(
          'nodeSelector lists labels that must be present on nodes that support this RuntimeClass.',
        ),
        tolerations: list(
          TolerationSchema,
          'tolerations are appended (excluding duplicates) to pods running with this RuntimeClass during admission.',
          { listType: 'atomic' },
        ),
      },
    ),
  },
  ['handler'],
);

export type RuntimeClass = Static<typeof RuntimeClassSchema>;

function rcOf(obj: KubeObject): RuntimeClass {
  return obj as unknown as RuntimeClass;
}

export const runtimeClassKind = defineKind({
  group: 'node.k8s.io',
  version: 'v1',
  kind: 'RuntimeClass',
  plural: 'runtimeclasses',
  namespaced: false,
  description: RuntimeClassSchema.description ?? '',
  schema: RuntimeClassSchema,
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const rc = rcOf(obj);
    if (!rc.handler) causes.push(requiredCause('handler'));
    else
      for (const msg of checkDns1123Label(rc.handler)) causes.push(invalidCause('handler', rc.handler, msg));
    for (const [k, q] of Object.entries(rc.overhead?.podFixed ?? {})) {
      const v = findQuantity(q);
      if (v === undefined) causes.push(invalidCause(`overhead.podFixed[${k}]`, q, QUANTITY_INVALID_MESSAGE));
      else if (v < 0)
        causes.push(invalidCause(`overhead.podFixed[${k}]`, q, 'must be greater than or equal to 0'));
    }
    causes.push(...validateLabels(rc.scheduling?.nodeSelector, 'scheduling.nodeSelector'));
    validateTolerations(causes, rc.scheduling?.tolerations, 'scheduling.tolerations');
    if (old && rcOf(old).handler !== rc.handler) causes.push(immutableCause('handler', rc.handler ?? ''));
    return causes;
  },
  columns: [
    column(
      'Handler',
      'handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.',
    ),
    AGE_COLUMN,
  ],
  cells: (obj, nowMs) => [rcOf(obj).handler ?? '', ageCell(obj, nowMs)],
});
