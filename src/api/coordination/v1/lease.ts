/** coordination.k8s.io/v1 Lease: node heartbeats and leader election. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { int32, microTime, object, str } from '../../schema/fields.js';
import { checkSupported, invalidCause } from '../../validation/field-causes.js';

export const LeaseSchema = topLevelSchema(
  'io.k8s.api.coordination.v1.Lease',
  'Lease defines a lease concept.',
  {
    spec: object('io.k8s.api.coordination.v1.LeaseSpec', 'LeaseSpec is a specification of a Lease.', {
      holderIdentity: str('holderIdentity contains the identity of the holder of a current lease.'),
      leaseDurationSeconds: int32(
        'leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it. This is measured against the time of last observed renewTime.',
      ),
      acquireTime: microTime('acquireTime is a time when the current lease was acquired.'),
      renewTime: microTime(
        'renewTime is a time when the current holder of a lease has last updated the lease.',
      ),
      leaseTransitions: int32('leaseTransitions is the number of transitions of a lease between holders.'),
      strategy: str(
        'Strategy indicates the strategy for picking the leader for coordinated leader election.',
      ),
      preferredHolder: str(
        'PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up.',
      ),
    }),
  },
);

export type Lease = Static<typeof LeaseSchema>;

function leaseOf(obj: KubeObject): Lease {
  return obj as unknown as Lease;
}

export const leaseKind = defineKind({
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  plural: 'leases',
  namespaced: true,
  description: LeaseSchema.description ?? '',
  schema: LeaseSchema,
  validate(obj) {
    const causes: StatusCause[] = [];
    const spec = leaseOf(obj).spec ?? {};
    if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds <= 0) {
      causes.push(
        invalidCause('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'),
      );
    }
    if (spec.leaseTransitions !== undefined && spec.leaseTransitions < 0) {
      causes.push(
        invalidCause('spec.leaseTransitions', spec.leaseTransitions, 'must be greater than or equal to 0'),
      );
    }
    checkSupported(causes, 'spec.strategy', spec.strategy, ['OldestEmulationVersion']);
    return causes;
  },
  columns: [
    column('Holder', 'holderIdentity contains the identity of the holder of a current lease.'),
    AGE_COLUMN,
  ],
  cells: (obj, nowMs) => [leaseOf(obj).spec?.holderIdentity ?? '', ageCell(obj, nowMs)],
});
