/**
 * core/v1 Service, with the Hypernetes `type: NetworkProvider` (tenant load balancing with
 * `externalIPs`, driven by the network controller).
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { ageCell, AGE_COLUMN, column, defineKind, ensureRecord, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { ConditionSchema } from '../../meta/v1/condition.js';
import { validateLabels } from '../../meta/v1/object-meta.js';
import { bool, int32, intOrString, list, object, str, stringList, stringMap } from '../../schema/fields.js';
import { formatLabels } from '../../table/format-labels.js';
import {
  checkIntRange,
  checkSupported,
  duplicateCause,
  forbiddenCause,
  immutableCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { CIDR_INVALID_MESSAGE, IP_INVALID_MESSAGE, parseCidr, parseIp } from '../../validation/ip-address.js';
import { checkDns1123Label, checkDns1123Subdomain, checkPortName } from '../../validation/names.js';

export const SERVICE_TYPES = [
  'ClusterIP',
  'NodePort',
  'LoadBalancer',
  'ExternalName',
  'NetworkProvider',
] as const;

export const ServicePortSchema = object(
  'io.k8s.api.core.v1.ServicePort',
  "ServicePort contains information on service's port.",
  {
    name: str(
      'The name of this port within the service. This must be a DNS_LABEL. All ports within a ServiceSpec must have unique names.',
    ),
    protocol: str('The IP protocol for this port. Supports "TCP", "UDP", and "SCTP". Default is TCP.'),
    appProtocol: str('The application protocol for this port.'),
    port: int32('The port that will be exposed by this service.'),
    targetPort: intOrString(
      "Number or name of the port to access on the pods targeted by the service. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME. If this is a string, it will be looked up as a named port in the target Pod's container ports. Defaults to the value of the 'port' field.",
    ),
    nodePort: int32(
      'The port on each node on which this service is exposed when type is NodePort or LoadBalancer.',
    ),
  },
  { required: ['port'] },
);

const ingressSchema = object(
  'io.k8s.api.core.v1.LoadBalancerIngress',
  'LoadBalancerIngress represents the status of a load-balancer ingress point: traffic intended for the service should be sent to an ingress point.',
  {
    ip: str('IP is set for load-balancer ingress points that are IP based.'),
    hostname: str('Hostname is set for load-balancer ingress points that are DNS based.'),
    ipMode: str('IPMode specifies how the load-balancer IP behaves. VIP or Proxy.'),
    ports: list(
      object(
        'io.k8s.api.core.v1.PortStatus',
        'PortStatus represents the error condition of a service port',
        {
          port: int32('Port is the port number of the service port of which status is recorded here'),
          protocol: str('Protocol is the protocol of the service port of which status is recorded here'),
          error: str('Error is to record the problem with the service port'),
        },
        { required: ['port', 'protocol'] },
      ),
      'Ports is a list of records of service ports',
      { listType: 'atomic' },
    ),
  },
);

export const LoadBalancerStatusSchema = object(
  'io.k8s.api.core.v1.LoadBalancerStatus',
  'LoadBalancerStatus represents the status of a load-balancer.',
  {
    ingress: list(ingressSchema, 'Ingress is a list containing ingress points for the load-balancer.', {
      listType: 'atomic',
    }),
  },
);

export const ServiceSchema = topLevelSchema(
  'io.k8s.api.core.v1.Service',
  'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.',
  {
    spec: object(
      'io.k8s.api.core.v1.ServiceSpec',
      'ServiceSpec describes the attributes that a user creates on a service.',
      {
        ports: list(ServicePortSchema, 'The list of ports that are exposed by this service.', {
          mergeKey: 'port',
          listType: 'map',
          mapKeys: ['port', 'protocol'],
        }),
        selector: stringMap(
          'Route service traffic to pods with label keys and values matching this selector.',
        ),
        clusterIP: str(
          'clusterIP is the IP address of the service and is usually assigned randomly. "None" makes a headless service. Cannot be changed once set.',
        ),
        clusterIPs: stringList('ClusterIPs is a list of IP addresses assigned to this service.', {
          'x-kubernetes-list-type': 'atomic',
        }),
        type: str(
          'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, LoadBalancer, and (h8s/Hypernetes) NetworkProvider: a tenant load balancer that also answers on externalIPs.',
        ),
        externalIPs: stringList(
          "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service. With type NetworkProvider they are the tenant's public addresses.",
          {
            'x-kubernetes-list-type': 'atomic',
          },
        ),
        sessionAffinity: str(
          'Supports "ClientIP" and "None". Used to maintain session affinity. Defaults to None.',
        ),
        loadBalancerIP: str('Only applies to Service Type: LoadBalancer. Deprecated.'),
        loadBalancerSourceRanges: stringList(
          'If specified and supported by the platform, traffic through the load-balancer will be restricted to the specified client IPs.',
          {
            'x-kubernetes-list-type': 'atomic',
          },
        ),
        externalName: str(
          'externalName is the external reference that discovery mechanisms will return as an alias for this service (e.g. a DNS CNAME record). Requires type ExternalName.',
        ),
        externalTrafficPolicy: str(
          'externalTrafficPolicy describes how nodes distribute service traffic they receive on one of the Service\'s "externally-facing" addresses. Cluster or Local.',
        ),
        healthCheckNodePort: int32('healthCheckNodePort specifies the healthcheck nodePort for the service.'),
        publishNotReadyAddresses: bool(
          'publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready.',
        ),
        sessionAffinityConfig: object(
          'io.k8s.api.core.v1.SessionAffinityConfig',
          'SessionAffinityConfig represents the configurations of session affinity.',
          {
            clientIP: object(
              'io.k8s.api.core.v1.ClientIPConfig',
              'ClientIPConfig represents the configurations of Client IP based session affinity.',
              {
                timeoutSeconds: int32(
                  'timeoutSeconds specifies the seconds of ClientIP type session sticky time. Default value is 10800 (3 hours).',
                ),
              },
            ),
          },
        ),
        ipFamilies: stringList(
          'IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service.',
          { 'x-kubernetes-list-type': 'atomic' },
        ),
        ipFamilyPolicy: str(
          'IPFamilyPolicy represents the dual-stack-ness requested or required by this Service. SingleStack, PreferDualStack or RequireDualStack.',
        ),
        allocateLoadBalancerNodePorts: bool(
          'allocateLoadBalancerNodePorts defines if NodePorts will be automatically allocated for services with type LoadBalancer.',
        ),
        loadBalancerClass: str(
          'loadBalancerClass is the class of the load balancer implementation this Service belongs to.',
        ),
        internalTrafficPolicy: str(
          'InternalTrafficPolicy describes how nodes distribute service traffic they receive on the ClusterIP. Cluster or Local.',
        ),
        trafficDistribution: str(
          'TrafficDistribution offers a way to express preferences for how traffic is distributed to Service endpoints.',
        ),
      },
    ),
    status: object(
      'io.k8s.api.core.v1.ServiceStatus',
      'ServiceStatus represents the current status of a service.',
      {
        loadBalancer: LoadBalancerStatusSchema,
        conditions: list(ConditionSchema, 'Current service state', {
          mergeKey: 'type',
          listType: 'map',
          mapKeys: ['type'],
        }),
      },
    ),
  },
);

export type Service = Static<typeof ServiceSchema>;
export type ServicePort = Static<typeof ServicePortSchema>;

function svcOf(obj: KubeObject): Service {
  return obj as unknown as Service;
}

/** The EXTERNAL-IP cell (upstream `getServiceExternalIP`, plus NetworkProvider). */
export function serviceExternalIp(svc: Service): string {
  const spec = svc.spec ?? {};
  const external = spec.externalIPs ?? [];
  const lbIps = (svc.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip || i.hostname || '')
    .filter((x) => x !== '');
  switch (spec.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return external.length > 0 ? external.join(',') : '<none>';
    case 'LoadBalancer': {
      const all = [...lbIps, ...external];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'NetworkProvider': {
      const all = [...new Set([...external, ...lbIps])];
      return all.length > 0 ? all.join(',') : '<none>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

/** The PORT(S) cell: `80/TCP,443:30443/TCP` or `<none>`. */
export function servicePortsCell(ports: readonly ServicePort[] | undefined): string {
  if (!ports || ports.length === 0) return '<none>';
  return ports
    .map((p) =>
      p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`,
    )
    .join(',');
}

function validateServiceIp(causes: StatusCause[], ip: string, path: string): void {
  const parsed = parseIp(ip);
  if (!parsed) {
    causes.push(invalidCause(path, ip, IP_INVALID_MESSAGE));
    return;
  }
  if (parsed.family === 4 && (parsed.value >> 24n === 127n || parsed.value === 0n)) {
    causes.push(invalidCause(path, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  }
}

export const serviceKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Service',
  plural: 'services',
  shortNames: ['svc'],
  categories: ['all'],
  namespaced: true,
  // Upstream services have no deletecollection verb.
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  description: ServiceSchema.description ?? '',
  schema: ServiceSchema,
  hasStatusSubresource: true,
  nameRule: 'dns1035Label',
  applyDefaults(obj, ctx) {
    const svc = svcOf(obj);
    const spec = (svc.spec ??= {});
    spec.type ??= 'ClusterIP';
    spec.sessionAffinity ??= 'None';
    if (spec.sessionAffinity === 'ClientIP') {
      const cfg = (spec.sessionAffinityConfig ??= {});
      const client = (cfg.clientIP ??= {});
      client.timeoutSeconds ??= 10800;
    }
    for (const p of spec.ports ?? []) {
      p.protocol ??= 'TCP';
      if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') {
        if (p.port !== undefined) p.targetPort = p.port;
      }
    }
    if (spec.type !== 'ExternalName') {
      spec.internalTrafficPolicy ??= 'Cluster';
      if (spec.clusterIP && spec.clusterIP !== 'None' && !spec.clusterIPs) spec.clusterIPs = [spec.clusterIP];
      if (ctx.operation === 'create') {
        spec.ipFamilyPolicy ??= 'SingleStack';
        spec.ipFamilies ??= [spec.clusterIP && parseIp(spec.clusterIP)?.family === 6 ? 'IPv6' : 'IPv4'];
      }
    }
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
    if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
    if (ctx.operation === 'create') {
      const status = ensureRecord(obj, 'status') as NonNullable<Service['status']>;
      status.loadBalancer ??= {};
    }
  },
  validate(obj, old) {
    const causes: StatusCause[] = [];
    const spec = svcOf(obj).spec ?? {};
    const type = spec.type ?? 'ClusterIP';
    checkSupported(causes, 'spec.type', type, SERVICE_TYPES);
    const headless = spec.clusterIP === 'None';
    const ports = spec.ports ?? [];
    if (type === 'ExternalName') {
      if (!spec.externalName) causes.push(requiredCause('spec.externalName'));
      else {
        const name = spec.externalName.endsWith('.') ? spec.externalName.slice(0, -1) : spec.externalName;
        for (const msg of checkDns1123Subdomain(name))
          causes.push(invalidCause('spec.externalName', spec.externalName, msg));
      }
      if (spec.clusterIP)
        causes.push(forbiddenCause('spec.clusterIP', 'may not be set for ExternalName services'));
    } else if (spec.externalName) {
      causes.push(forbiddenCause('spec.externalName', "may not be set when `type` is not 'ExternalName'"));
    }
    if (ports.length === 0 && type !== 'ExternalName' && !headless) causes.push(requiredCause('spec.ports'));
    const names = new Set<string>();
    const keys = new Set<string>();
    ports.forEach((p, i) => {
      const pp = `spec.ports[${i}]`;
      if (ports.length > 1 && !p.name) causes.push(requiredCause(`${pp}.name`));
      if (p.name) {
        for (const msg of checkDns1123Label(p.name)) causes.push(invalidCause(`${pp}.name`, p.name, msg));
        if (names.has(p.name)) causes.push(duplicateCause(`${pp}.name`, p.name));
        names.add(p.name);
      }
      if (p.port === undefined || p.port === 0) causes.push(requiredCause(`${pp}.port`));
      else checkIntRange(causes, `${pp}.port`, p.port, 1, 65535);
      checkSupported(causes, `${pp}.protocol`, p.protocol, ['TCP', 'UDP', 'SCTP']);
      const key = `${p.port}/${p.protocol ?? 'TCP'}`;
      if (keys.has(key)) causes.push(duplicateCause(pp, `${key}`));
      keys.add(key);
      if (typeof p.targetPort === 'number') {
        if (p.targetPort !== 0) checkIntRange(causes, `${pp}.targetPort`, p.targetPort, 1, 65535);
      } else if (typeof p.targetPort === 'string' && p.targetPort !== '') {
        for (const msg of checkPortName(p.targetPort))
          causes.push(invalidCause(`${pp}.targetPort`, p.targetPort, msg));
      }
      if (p.nodePort !== undefined && p.nodePort !== 0) {
        if (type !== 'NodePort' && type !== 'LoadBalancer') {
          causes.push(forbiddenCause(`${pp}.nodePort`, `may not be used when \`type\` is '${type}'`));
        } else checkIntRange(causes, `${pp}.nodePort`, p.nodePort, 1, 65535);
      }
    });
    if (spec.clusterIP && !headless) validateServiceIp(causes, spec.clusterIP, 'spec.clusterIP');
    (spec.clusterIPs ?? []).forEach((ip, i) => {
      if (ip !== 'None') validateServiceIp(causes, ip, `spec.clusterIPs[${i}]`);
    });
    if (
      spec.clusterIP &&
      spec.clusterIPs &&
      spec.clusterIPs.length > 0 &&
      spec.clusterIPs[0] !== spec.clusterIP
    ) {
      causes.push(invalidCause('spec.clusterIPs', spec.clusterIPs, 'must match `clusterIP` when set'));
    }
    (spec.externalIPs ?? []).forEach((ip, i) => validateServiceIp(causes, ip, `spec.externalIPs[${i}]`));
    (spec.loadBalancerSourceRanges ?? []).forEach((r, i) => {
      if (!parseCidr(r))
        causes.push(invalidCause(`spec.loadBalancerSourceRanges[${i}]`, r, CIDR_INVALID_MESSAGE));
    });
    checkSupported(causes, 'spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']);
    const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (timeout !== undefined)
      checkIntRange(causes, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 1, 86400);
    if (spec.sessionAffinity !== 'ClientIP' && spec.sessionAffinityConfig) {
      causes.push(
        invalidCause(
          'spec.sessionAffinityConfig',
          spec.sessionAffinityConfig,
          'must not be set when session affinity is None',
        ),
      );
    }
    checkSupported(causes, 'spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']);
    if (spec.externalTrafficPolicy && type !== 'NodePort' && type !== 'LoadBalancer') {
      causes.push(
        invalidCause(
          'spec.externalTrafficPolicy',
          spec.externalTrafficPolicy,
          'may only be set for externally-accessible services',
        ),
      );
    }
    checkSupported(causes, 'spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']);
    checkSupported(causes, 'spec.ipFamilyPolicy', spec.ipFamilyPolicy, [
      'SingleStack',
      'PreferDualStack',
      'RequireDualStack',
    ]);
    (spec.ipFamilies ?? []).forEach((f, i) =>
      checkSupported(causes, `spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']),
    );
    causes.push(...validateLabels(spec.selector, 'spec.selector'));
    if (old) {
      const prev = svcOf(old).spec ?? {};
      const wasExternal = prev.type === 'ExternalName';
      if (!wasExternal && type !== 'ExternalName' && prev.clusterIP && spec.clusterIP !== prev.clusterIP) {
        causes.push(immutableCause('spec.clusterIP', spec.clusterIP ?? ''));
      }
    }
    return causes;
  },
  columns: [
    column('Type', 'type determines how the Service is exposed.'),
    column(
      'Cluster-IP',
      'clusterIP is the IP address of the service and is usually assigned randomly by the master.',
    ),
    column(
      'External-IP',
      'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.',
    ),
    column('Port(s)', 'The list of ports that are exposed by this service.'),
    AGE_COLUMN,
    column('Selector', 'Route service traffic to pods with label keys and values matching this selector.', {
      priority: 1,
    }),
  ],
  cells: (obj, nowMs) => {
    const svc = svcOf(obj);
    return [
      svc.spec?.type ?? 'ClusterIP',
      svc.spec?.clusterIP || '<none>',
      serviceExternalIp(svc),
      servicePortsCell(svc.spec?.ports),
      ageCell(obj, nowMs),
      formatLabels(svc.spec?.selector),
    ];
  },
});
