/**
 * core/v1 Network (Hypernetes): a tenant's isolated L2/L3 segment. Cluster-scoped and served in
 * the core group so the seed's manifests (`apiVersion: v1`, `kind: Network`) apply verbatim.
 * A Namespace joins one through `spec.network`; the network controller drives `status.phase`.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, ensureRecord, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { mapOf, object, str } from '../../schema/fields.js';
import { deepEqual } from '../../validation/deep-equal.js';
import {
  checkSupported,
  forbiddenCause,
  immutableCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import {
  CIDR_INVALID_MESSAGE,
  cidrContains,
  cidrsOverlap,
  IP_INVALID_MESSAGE,
  parseCidr,
  parseIp,
  type ParsedCidr,
} from '../../validation/ip-address.js';
import { checkDns1123Label } from '../../validation/names.js';

/** Network phases (Hypernetes `NetworkPhase`). */
export const NETWORK_PHASES = ['Initializing', 'Pending', 'Active', 'Failed', 'Terminating'] as const;

export const SubnetSchema = object(
  'io.h8s.api.core.v1.Subnet',
  'Subnet is one IP range of a Network, with the gateway address the tenant router holds.',
  {
    cidr: str('CIDR of the subnet, e.g. 192.168.0.0/24. Tenants may reuse ranges other tenants use.'),
    gateway: str('Gateway address of the subnet; must lie inside cidr and not be its network address.'),
  },
  { required: ['cidr'] },
);

export const NetworkSchema = topLevelSchema(
  'io.h8s.api.core.v1.Network',
  "Network is a tenant's isolated network segment (Hypernetes). Pods of every namespace whose spec.network names it join it.",
  {
    spec: object(
      'io.h8s.api.core.v1.NetworkSpec',
      'NetworkSpec is the description of a network.',
      {
        tenantID: str(
          'TenantID is the identity (Keystone project) that owns this network. Cannot be updated.',
        ),
        subnets: mapOf(
          SubnetSchema,
          'Subnets of the network, by subnet name. Existing subnets cannot be changed or removed; new ones may be added.',
        ),
        providerNetworkID: str(
          'ProviderNetworkID adopts an existing provider network instead of creating one from subnets. Mutually exclusive with subnets.',
        ),
      },
      { required: ['tenantID'] },
    ),
    status: object(
      'io.h8s.api.core.v1.NetworkStatus',
      'NetworkStatus is information about the current status of a Network.',
      {
        phase: str(
          'Phase is the current lifecycle phase of the network: Initializing, Pending, Active, Failed, Terminating.',
        ),
      },
    ),
  },
);

export type Network = Static<typeof NetworkSchema>;

function networkOf(obj: KubeObject): Network {
  return obj as unknown as Network;
}

const tenantIdRe = /^[A-Za-z0-9][-A-Za-z0-9_.]{0,63}$/;

/** `subnet1=10.0.0.0/24,subnet2=10.0.1.0/24` (sorted by subnet name). */
export function subnetsCell(net: Network): string {
  const subnets = net.spec?.subnets ?? {};
  const names = Object.keys(subnets).sort();
  if (names.length === 0)
    return net.spec?.providerNetworkID ? `provider:${net.spec.providerNetworkID}` : '<none>';
  return names.map((n) => `${n}=${subnets[n]?.cidr ?? ''}`).join(',');
}

export const networkKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Network',
  plural: 'networks',
  shortNames: ['net'],
  namespaced: false,
  description: NetworkSchema.description ?? '',
  schema: NetworkSchema,
  hasStatusSubresource: true,
  nameRule: 'dns1123Label',
  applyDefaults(obj, ctx) {
    if (ctx.operation !== 'create') return;
    const status = ensureRecord(obj, 'status') as NonNullable<Network['status']>;
    status.phase ??= 'Initializing';
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const net = networkOf(obj);
    const spec = net.spec;
    if (!spec) {
      causes.push(requiredCause('spec'));
      return causes;
    }
    if (!spec.tenantID) causes.push(requiredCause('spec.tenantID'));
    else if (!tenantIdRe.test(spec.tenantID)) {
      causes.push(
        invalidCause(
          'spec.tenantID',
          spec.tenantID,
          "must be at most 64 characters of alphanumerics, '-', '_' or '.', starting with an alphanumeric",
        ),
      );
    }
    const subnets = Object.entries(spec.subnets ?? {});
    if (spec.providerNetworkID && subnets.length > 0) {
      causes.push(forbiddenCause('spec.providerNetworkID', 'may not be set together with subnets'));
    }
    if (!spec.providerNetworkID && subnets.length === 0) {
      causes.push(requiredCause('spec.subnets', 'must specify at least one subnet, or providerNetworkID'));
    }
    const parsed: { name: string; cidr: ParsedCidr }[] = [];
    for (const [name, subnet] of subnets) {
      const p = `spec.subnets[${name}]`;
      for (const msg of checkDns1123Label(name)) causes.push(invalidCause('spec.subnets', name, msg));
      if (!subnet.cidr) {
        causes.push(requiredCause(`${p}.cidr`));
        continue;
      }
      const cidr = parseCidr(subnet.cidr);
      if (!cidr) {
        causes.push(invalidCause(`${p}.cidr`, subnet.cidr, CIDR_INVALID_MESSAGE));
        continue;
      }
      if (cidr.address !== cidr.network) {
        causes.push(
          invalidCause(`${p}.cidr`, subnet.cidr, 'must be a network address (host bits must be zero)'),
        );
      }
      const bits = cidr.family === 4 ? 32 : 128;
      if (bits - cidr.prefixLength < 2)
        causes.push(
          invalidCause(`${p}.cidr`, subnet.cidr, 'must leave room for a gateway and at least one pod'),
        );
      if (subnet.gateway !== undefined && subnet.gateway !== '') {
        const gw = parseIp(subnet.gateway);
        if (!gw) causes.push(invalidCause(`${p}.gateway`, subnet.gateway, IP_INVALID_MESSAGE));
        else if (!cidrContains(cidr, gw))
          causes.push(
            invalidCause(`${p}.gateway`, subnet.gateway, `must be inside the subnet's cidr ${subnet.cidr}`),
          );
        else if (gw.value === cidr.network)
          causes.push(
            invalidCause(`${p}.gateway`, subnet.gateway, 'must not be the network address of the subnet'),
          );
      }
      for (const other of parsed) {
        if (cidrsOverlap(other.cidr, cidr))
          causes.push(
            invalidCause(`${p}.cidr`, subnet.cidr, `overlaps subnet "${other.name}" of this network`),
          );
      }
      parsed.push({ name, cidr });
    }
    checkSupported(causes, 'status.phase', net.status?.phase, NETWORK_PHASES);
    if (old) {
      const prev = networkOf(old);
      if ((prev.spec?.tenantID ?? '') !== (spec.tenantID ?? ''))
        causes.push(immutableCause('spec.tenantID', spec.tenantID ?? ''));
      if ((prev.spec?.providerNetworkID ?? '') !== (spec.providerNetworkID ?? '')) {
        causes.push(immutableCause('spec.providerNetworkID', spec.providerNetworkID ?? ''));
      }
      for (const [name, before] of Object.entries(prev.spec?.subnets ?? {})) {
        const now = spec.subnets?.[name];
        if (!now) causes.push(forbiddenCause(`spec.subnets[${name}]`, 'existing subnets may not be removed'));
        else if (!deepEqual(now, before)) causes.push(immutableCause(`spec.subnets[${name}]`, now));
      }
    }
    return causes;
  },
  columns: [
    column('Tenant', 'The tenant (Keystone project) that owns the network.'),
    column('Subnets', 'Subnets of the network (name=cidr).'),
    column('Phase', 'The lifecycle phase of the network.'),
    AGE_COLUMN,
  ],
  cells: (obj, nowMs) => {
    const net = networkOf(obj);
    return [net.spec?.tenantID ?? '', subnetsCell(net), net.status?.phase ?? '', ageCell(obj, nowMs)];
  },
  fieldSelectors: {
    'spec.tenantID': (o) => networkOf(o).spec?.tenantID ?? '',
    'status.phase': (o) => networkOf(o).status?.phase ?? '',
  },
});
