/** core/v1 Endpoints: the addresses behind a Service (kept by the endpoints controller). */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { int32, list, object, str } from '../../schema/fields.js';
import { checkIntRange, checkSupported, invalidCause, requiredCause } from '../../validation/field-causes.js';
import { IP_INVALID_MESSAGE, parseIp } from '../../validation/ip-address.js';
import { checkDns1123Label } from '../../validation/names.js';
import { ObjectReferenceSchema } from './object-reference.js';

export const EndpointAddressSchema = object(
  'io.k8s.api.core.v1.EndpointAddress',
  'EndpointAddress is a tuple that describes single IP address.',
  {
    ip: str('The IP of this endpoint.'),
    hostname: str('The Hostname of this endpoint'),
    nodeName: str('Optional: Node hosting this endpoint.'),
    targetRef: ObjectReferenceSchema,
  },
  { required: ['ip'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const EndpointPortSchema = object(
  'io.k8s.api.core.v1.EndpointPort',
  'EndpointPort is a tuple that describes a single port.',
  {
    name: str("The name of this port. This must match the 'name' field in the corresponding ServicePort."),
    port: int32('The port number of the endpoint.'),
    protocol: str('The IP protocol for this port. Must be UDP, TCP, or SCTP. Default is TCP.'),
    appProtocol: str('The application protocol for this port.'),
  },
  { required: ['port'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const EndpointsSchema = topLevelSchema(
  'io.k8s.api.core.v1.Endpoints',
  'Endpoints is a collection of endpoints that implement the actual service.',
  {
    subsets: list(
      object(
        'io.k8s.api.core.v1.EndpointSubset',
        'EndpointSubset is a group of addresses with a common set of ports.',
        {
          addresses: list(
            EndpointAddressSchema,
            'IP addresses which offer the related ports that are marked as ready.',
            { listType: 'atomic' },
          ),
          notReadyAddresses: list(
            EndpointAddressSchema,
            'IP addresses which offer the related ports but are not currently marked as ready.',
            { listType: 'atomic' },
          ),
          ports: list(EndpointPortSchema, 'Port numbers available on the related IP addresses.', {
            listType: 'atomic',
          }),
        },
      ),
      'The set of all endpoints is the union of all subsets.',
      { listType: 'atomic' },
    ),
  },
);

export type Endpoints = Static<typeof EndpointsSchema>;

function epOf(obj: KubeObject): Endpoints {
  return obj as unknown as Endpoints;
}

/** The ENDPOINTS cell: up to three `ip:port` then ` + N more...` (upstream `formatEndpoints`). */
export function endpointsCell(ep: Endpoints): string {
  const subsets = ep.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addrs = ss.addresses ?? [];
    if (!ss.ports || ss.ports.length === 0) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a.ip ?? '');
      }
      continue;
    }
    for (const port of ss.ports) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        const ip = a.ip ?? '';
        list.push(ip.includes(':') ? `[${ip}]:${port.port}` : `${ip}:${port.port}`);
      }
    }
  }
  const joined = list.join(',');
  if (more) return `${joined} + ${count - max} more...`;
  return joined === '' ? '<none>' : joined;
}

export const endpointsKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Endpoints',
  plural: 'endpoints',
  singular: 'endpoints',
  shortNames: ['ep'],
  namespaced: true,
  description: EndpointsSchema.description ?? '',
  schema: EndpointsSchema,
  applyDefaults(obj) {
    for (const ss of epOf(obj).subsets ?? []) for (const p of ss.ports ?? []) p.protocol ??= 'TCP';
  },
  validate(obj) {
    const causes: StatusCause[] = [];
    (epOf(obj).subsets ?? []).forEach((ss, i) => {
      const p = `subsets[${i}]`;
      for (const key of ['addresses', 'notReadyAddresses'] as const) {
        (ss[key] ?? []).forEach((a, j) => {
          if (!a.ip) causes.push(requiredCause(`${p}.${key}[${j}].ip`));
          else if (!parseIp(a.ip))
            causes.push(invalidCause(`${p}.${key}[${j}].ip`, a.ip, IP_INVALID_MESSAGE));
          if (a.hostname)
            for (const msg of checkDns1123Label(a.hostname))
              causes.push(invalidCause(`${p}.${key}[${j}].hostname`, a.hostname, msg));
        });
      }
      (ss.ports ?? []).forEach((port, j) => {
        if (port.port === undefined) causes.push(requiredCause(`${p}.ports[${j}].port`));
        else checkIntRange(causes, `${p}.ports[${j}].port`, port.port, 1, 65535);
        checkSupported(causes, `${p}.ports[${j}].protocol`, port.protocol, ['TCP', 'UDP', 'SCTP']);
        if ((ss.ports?.length ?? 0) > 1 && !port.name) causes.push(requiredCause(`${p}.ports[${j}].name`));
      });
    });
    return causes;
  },
  columns: [column('Endpoints', 'Endpoints is the list of endpoints of the service.'), AGE_COLUMN],
  cells: (obj, nowMs) => [endpointsCell(epOf(obj)), ageCell(obj, nowMs)],
});
