/** discovery.k8s.io/v1 EndpointSlice: a slice of a Service's endpoints. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { ObjectReferenceSchema } from '../../core/v1/object-reference.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { bool, int32, list, object, str, stringList, stringMap } from '../../schema/fields.js';
import {
  checkIntRange,
  checkSupported,
  immutableCause,
  invalidCause,
  requiredCause,
  tooManyCause,
} from '../../validation/field-causes.js';
import { IP_INVALID_MESSAGE, parseIp } from '../../validation/ip-address.js';
import { checkDns1123Label, checkDns1123Subdomain } from '../../validation/names.js';

export const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'] as const;

export const EndpointSliceSchema = topLevelSchema(
  'io.k8s.api.discovery.v1.EndpointSlice',
  'EndpointSlice represents a set of service endpoints.',
  {
    addressType: str(
      'addressType specifies the type of address carried by this EndpointSlice: IPv4, IPv6 or FQDN. Immutable.',
    ),
    endpoints: list(
      object(
        'io.k8s.api.discovery.v1.Endpoint',
        'Endpoint represents a single logical "backend" implementing a service.',
        {
          addresses: stringList('addresses of this endpoint.', { 'x-kubernetes-list-type': 'set' }),
          conditions: object(
            'io.k8s.api.discovery.v1.EndpointConditions',
            'EndpointConditions represents the current condition of an endpoint.',
            {
              ready: bool('ready indicates that this endpoint is ready to receive traffic.'),
              serving: bool(
                'serving indicates that this endpoint is able to receive traffic, according to whatever system is managing the endpoint.',
              ),
              terminating: bool('terminating indicates that this endpoint is terminating.'),
            },
          ),
          hostname: str('hostname of this endpoint.'),
          targetRef: ObjectReferenceSchema,
          deprecatedTopology: stringMap(
            'deprecatedTopology contains topology information part of the v1beta1 API.',
          ),
          nodeName: str('nodeName represents the name of the Node hosting this endpoint.'),
          zone: str('zone is the name of the Zone this endpoint exists in.'),
          hints: object(
            'io.k8s.api.discovery.v1.EndpointHints',
            'EndpointHints provides hints describing how an endpoint should be consumed.',
            {
              forZones: list(
                object(
                  'io.k8s.api.discovery.v1.ForZone',
                  'ForZone provides information about which zones should consume this endpoint.',
                  { name: str('name represents the name of the zone.') },
                  { required: ['name'] },
                ),
                'forZones indicates the zone(s) this endpoint should be consumed by when using topology aware routing.',
                { listType: 'atomic' },
              ),
              forNodes: list(
                object(
                  'io.k8s.api.discovery.v1.ForNode',
                  'ForNode provides information about which nodes should consume this endpoint.',
                  { name: str('name represents the name of the node.') },
                  { required: ['name'] },
                ),
                'forNodes indicates the node(s) this endpoint should be consumed by when using topology aware routing.',
                { listType: 'atomic' },
              ),
            },
          ),
        },
        { required: ['addresses'] },
      ),
      'endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.',
      { listType: 'atomic' },
    ),
    ports: list(
      object(
        'io.k8s.api.discovery.v1.EndpointPort',
        'EndpointPort represents a Port used by an EndpointSlice',
        {
          name: str('name represents the name of this port.'),
          protocol: str(
            'protocol represents the IP protocol for this port. Must be UDP, TCP, or SCTP. Default is TCP.',
          ),
          port: int32('port represents the port number of the endpoint.'),
          appProtocol: str('The application protocol for this port.'),
        },
        { extra: { 'x-kubernetes-map-type': 'atomic' } },
      ),
      'ports specifies the list of network ports exposed by each endpoint in this slice.',
      { listType: 'atomic' },
    ),
  },
  ['addressType', 'endpoints'],
);

export type EndpointSlice = Static<typeof EndpointSliceSchema>;

function sliceOf(obj: KubeObject): EndpointSlice {
  return obj as unknown as EndpointSlice;
}

export const endpointSliceKind = defineKind({
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  plural: 'endpointslices',
  namespaced: true,
  description: EndpointSliceSchema.description ?? '',
  schema: EndpointSliceSchema,
  applyDefaults(obj) {
    const s = sliceOf(obj);
    for (const p of s.ports ?? []) {
      p.protocol ??= 'TCP';
      p.name ??= '';
    }
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const s = sliceOf(obj);
    if (!s.addressType) causes.push(requiredCause('addressType'));
    else checkSupported(causes, 'addressType', s.addressType, ADDRESS_TYPES);
    const endpoints = s.endpoints ?? [];
    if (endpoints.length > 1000) causes.push(tooManyCause('endpoints', endpoints.length, 1000));
    endpoints.forEach((e, i) => {
      const p = `endpoints[${i}]`;
      const addrs = e.addresses ?? [];
      if (addrs.length === 0) causes.push(requiredCause(`${p}.addresses`, 'must contain at least 1 address'));
      if (addrs.length > 100) causes.push(tooManyCause(`${p}.addresses`, addrs.length, 100));
      addrs.forEach((a, j) => {
        if (s.addressType === 'FQDN') {
          for (const msg of checkDns1123Subdomain(a))
            causes.push(invalidCause(`${p}.addresses[${j}]`, a, msg));
        } else {
          const ip = parseIp(a);
          if (!ip) causes.push(invalidCause(`${p}.addresses[${j}]`, a, IP_INVALID_MESSAGE));
          else if (
            (s.addressType === 'IPv4' && ip.family !== 4) ||
            (s.addressType === 'IPv6' && ip.family !== 6)
          ) {
            causes.push(invalidCause(`${p}.addresses[${j}]`, a, `must be an ${s.addressType} address`));
          }
        }
      });
      if (e.hostname)
        for (const msg of checkDns1123Label(e.hostname))
          causes.push(invalidCause(`${p}.hostname`, e.hostname, msg));
      if (e.nodeName)
        for (const msg of checkDns1123Subdomain(e.nodeName))
          causes.push(invalidCause(`${p}.nodeName`, e.nodeName, msg));
    });
    const names = new Set<string>();
    (s.ports ?? []).forEach((port, i) => {
      const p = `ports[${i}]`;
      const name = port.name ?? '';
      if (name !== '')
        for (const msg of checkDns1123Label(name)) causes.push(invalidCause(`${p}.name`, name, msg));
      if (names.has(name))
        causes.push({
          reason: 'FieldValueDuplicate',
          message: `Duplicate value: ${JSON.stringify(name)}`,
          field: `${p}.name`,
        });
      names.add(name);
      if (port.port !== undefined) checkIntRange(causes, `${p}.port`, port.port, 1, 65535);
      checkSupported(causes, `${p}.protocol`, port.protocol, ['TCP', 'UDP', 'SCTP']);
    });
    if (old && sliceOf(old).addressType !== s.addressType)
      causes.push(immutableCause('addressType', s.addressType ?? ''));
    return causes;
  },
  columns: [
    column('AddressType', 'Type of address carried by this EndpointSlice'),
    column('Ports', 'Ports exposed by each endpoint in this slice'),
    column('Endpoints', 'Endpoints in this slice'),
    AGE_COLUMN,
  ],
  cells: (obj, nowMs) => {
    const s = sliceOf(obj);
    const ports = (s.ports ?? [])
      .map((p) => (p.port === undefined ? '' : String(p.port)))
      .filter((p) => p !== '');
    const addrs = (s.endpoints ?? []).flatMap((e) => e.addresses ?? []);
    const shown = addrs.slice(0, 3).join(',');
    const endpoints =
      addrs.length === 0 ? '<none>' : addrs.length > 3 ? `${shown} + ${addrs.length - 3} more...` : shown;
    return [
      s.addressType ?? '',
      ports.length === 0 ? '<unset>' : ports.join(','),
      endpoints,
      ageCell(obj, nowMs),
    ];
  },
});
