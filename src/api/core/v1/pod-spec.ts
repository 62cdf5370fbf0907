/**
 * PodSpec and PodTemplateSpec: schema, upstream defaults (`SetDefaults_PodSpec` plus the
 * ServiceAccount and DefaultTolerationSeconds admission defaults) and validation
 * (`ValidatePodSpec`), shared by Pod and every workload template.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { ObjectMetaSchema, validateAnnotations, validateLabels } from '../../meta/v1/object-meta.js';
import {
  bool,
  int32,
  int64,
  list,
  mapOf,
  object,
  quantity,
  str,
  stringList,
  stringMap,
} from '../../schema/fields.js';
import { findQuantity, QUANTITY_INVALID_MESSAGE } from '../../resource/quantity.js';
import {
  checkSupported,
  duplicateCause,
  forbiddenCause,
  invalidCause,
  requiredCause,
  tooManyCause,
} from '../../validation/field-causes.js';
import { parseIp, IP_INVALID_MESSAGE } from '../../validation/ip-address.js';
import { checkDns1123Label, checkDns1123Subdomain, checkQualifiedName } from '../../validation/names.js';
import {
  applyContainerDefaults,
  ContainerSchema,
  EphemeralContainerSchema,
  ResourceRequirementsSchema,
  validateContainerList,
  validateResources,
  type ContainerValidationContext,
} from './container.js';
import {
  AppArmorProfileSchema,
  SELinuxOptionsSchema,
  SeccompProfileSchema,
  validateProfile,
  WindowsSecurityContextOptionsSchema,
} from './security-context.js';
import { LocalObjectReferenceSchema } from './object-reference.js';
import {
  AffinitySchema,
  TolerationSchema,
  TopologySpreadConstraintSchema,
  validateAffinity,
  validateTolerations,
  validateTopologySpreadConstraints,
  type Toleration,
} from './scheduling-constraints.js';
import { applyVolumeDefaults, validateVolumes, VolumeSchema } from './volume.js';

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
export const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] as const;

export const PodSecurityContextSchema = object(
  'io.k8s.api.core.v1.PodSecurityContext',
  'PodSecurityContext holds pod-level security attributes and common container settings.',
  {
    seLinuxOptions: SELinuxOptionsSchema,
    windowsOptions: WindowsSecurityContextOptionsSchema,
    runAsUser: int64('The UID to run the entrypoint of the container process.'),
    runAsGroup: int64('The GID to run the entrypoint of the container process.'),
    runAsNonRoot: bool('Indicates that the container must run as a non-root user.'),
    supplementalGroups: list(
      int64('A group id.'),
      "A list of groups applied to the first process run in each container, in addition to the container's primary GID.",
      { listType: 'atomic' },
    ),
    supplementalGroupsPolicy: str(
      'Defines how supplemental groups of the first container processes are calculated. Merge or Strict.',
    ),
    fsGroup: int64('A special supplemental group that applies to all containers in a pod.'),
    sysctls: list(
      object(
        'io.k8s.api.core.v1.Sysctl',
        'Sysctl defines a kernel parameter to be set',
        {
          name: str('Name of a property to set'),
          value: str('Value of a property to set'),
        },
        { required: ['name', 'value'] },
      ),
      'Sysctls hold a list of namespaced sysctls used for the pod.',
      { listType: 'atomic' },
    ),
    fsGroupChangePolicy: str(
      'fsGroupChangePolicy defines behavior of changing ownership and permission of the volume before being exposed inside Pod. OnRootMismatch or Always.',
    ),
    seccompProfile: SeccompProfileSchema,
    appArmorProfile: AppArmorProfileSchema,
    seLinuxChangePolicy: str(
      "seLinuxChangePolicy defines how the container's SELinux label is applied to all volumes used by the Pod.",
    ),
  },
);

export const PodDNSConfigSchema = object(
  'io.k8s.api.core.v1.PodDNSConfig',
  'PodDNSConfig defines the DNS parameters of a pod in addition to those generated from DNSPolicy.',
  {
    nameservers: stringList(
      'A list of DNS name server IP addresses. This will be appended to the base nameservers generated from DNSPolicy.',
      { 'x-kubernetes-list-type': 'atomic' },
    ),
    searches: stringList('A list of DNS search domains for host-name lookup.', {
      'x-kubernetes-list-type': 'atomic',
    }),
    options: list(
      object(
        'io.k8s.api.core.v1.PodDNSConfigOption',
        'PodDNSConfigOption defines DNS resolver options of a pod.',
        {
          name: str("Name is this DNS resolver option's name. Required."),
          value: str("Value is this DNS resolver option's value."),
        },
      ),
      'A list of DNS resolver options.',
      { listType: 'atomic' },
    ),
  },
);

export const PodSpecSchema = object(
  'io.k8s.api.core.v1.PodSpec',
  'PodSpec is a description of a pod.',
  {
    volumes: list(VolumeSchema, 'List of volumes that can be mounted by containers belonging to the pod.', {
      mergeKey: 'name',
      strategy: 'merge,retainKeys',
      listType: 'map',
      mapKeys: ['name'],
    }),
    initContainers: list(
      ContainerSchema,
      'List of initialization containers belonging to the pod. Init containers are executed in order prior to containers being started.',
      {
        mergeKey: 'name',
        listType: 'map',
        mapKeys: ['name'],
      },
    ),
    containers: list(
      ContainerSchema,
      'List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.',
      {
        mergeKey: 'name',
        listType: 'map',
        mapKeys: ['name'],
      },
    ),
    ephemeralContainers: list(
      EphemeralContainerSchema,
      'List of ephemeral containers run in this pod. Ephemeral containers may be run in an existing pod to perform user-initiated actions such as debugging.',
      {
        mergeKey: 'name',
        listType: 'map',
        mapKeys: ['name'],
      },
    ),
    restartPolicy: str(
      'Restart policy for all containers within the pod. One of Always, OnFailure, Never. Default to Always.',
    ),
    terminationGracePeriodSeconds: int64(
      'Optional duration in seconds the pod needs to terminate gracefully. Defaults to 30 seconds.',
    ),
    activeDeadlineSeconds: int64(
      'Optional duration in seconds the pod may be active on the node relative to StartTime before the system will actively try to mark it failed and kill associated containers.',
    ),
    dnsPolicy: str(
      "Set DNS policy for the pod. Defaults to \"ClusterFirst\". Valid values are 'ClusterFirstWithHostNet', 'ClusterFirst', 'Default' or 'None'.",
    ),
    nodeSelector: stringMap(
      "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node.",
    ),
    serviceAccountName: str('ServiceAccountName is the name of the ServiceAccount to use to run this pod.'),
    serviceAccount: str(
      'DeprecatedServiceAccount is a deprecated alias for ServiceAccountName. Deprecated: Use serviceAccountName instead.',
    ),
    automountServiceAccountToken: bool(
      'AutomountServiceAccountToken indicates whether a service account token should be automatically mounted.',
    ),
    nodeName: str(
      'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName.',
    ),
    hostNetwork: bool(
      "Host networking requested for this pod. Use the host's network namespace. Default to false.",
    ),
    hostPID: bool("Use the host's pid namespace. Optional: Default to false."),
    hostIPC: bool("Use the host's ipc namespace. Optional: Default to false."),
    shareProcessNamespace: bool(
      'Share a single process namespace between all of the containers in a pod. Optional: Default to false.',
    ),
    securityContext: PodSecurityContextSchema,
    imagePullSecrets: list(
      LocalObjectReferenceSchema,
      'ImagePullSecrets is an optional list of references to secrets in the same namespace to use for pulling any of the images used by this PodSpec.',
      {
        mergeKey: 'name',
        listType: 'map',
        mapKeys: ['name'],
      },
    ),
    hostname: str(
      "Specifies the hostname of the Pod If not specified, the pod's hostname will be set to a system-defined value.",
    ),
    subdomain: str(
      'If specified, the fully qualified Pod hostname will be "<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>".',
    ),
    affinity: AffinitySchema,
    schedulerName: str(
      'If specified, the pod will be dispatched by specified scheduler. If not specified, the pod will be dispatched by default scheduler.',
    ),
    tolerations: list(TolerationSchema, "If specified, the pod's tolerations.", { listType: 'atomic' }),
    hostAliases: list(
      object(
        'io.k8s.api.core.v1.HostAlias',
        "HostAlias holds the mapping between IP and hostnames that will be injected as an entry in the pod's hosts file.",
        {
          ip: str('IP address of the host file entry.'),
          hostnames: stringList('Hostnames for the above IP address.', {
            'x-kubernetes-list-type': 'atomic',
          }),
        },
        { required: ['ip'] },
      ),
      "HostAliases is an optional list of hosts and IPs that will be injected into the pod's hosts file if specified.",
      { mergeKey: 'ip', listType: 'map', mapKeys: ['ip'] },
    ),
    priorityClassName: str("If specified, indicates the pod's priority."),
    priority: int32(
      'The priority value. Various system components use this field to find the priority of the pod.',
    ),
    dnsConfig: PodDNSConfigSchema,
    readinessGates: list(
      object(
        'io.k8s.api.core.v1.PodReadinessGate',
        'PodReadinessGate contains the reference to a pod condition',
        {
          conditionType: str(
            "ConditionType refers to a condition in the pod's condition list with matching type.",
          ),
        },
        { required: ['conditionType'] },
      ),
      'If specified, all readiness gates will be evaluated for pod readiness.',
      { listType: 'atomic' },
    ),
    runtimeClassName: str(
      'RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group, which should be used to run this pod. In h8s the handler picks the runtime: "hyper" (a VM per pod) or "runc".',
    ),
    enableServiceLinks: bool(
      "EnableServiceLinks indicates whether information about services should be injected into pod's environment variables. Optional: Defaults to true.",
    ),
    preemptionPolicy: str(
      'PreemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority.',
    ),
    overhead: mapOf(
      quantity('A quantity of a resource.'),
      'Overhead represents the resource overhead associated with running a pod for a given RuntimeClass.',
    ),
    topologySpreadConstraints: list(
      TopologySpreadConstraintSchema,
      'TopologySpreadConstraints describes how a group of pods ought to spread across topology domains.',
      {
        mergeKey: 'topologyKey',
        listType: 'map',
        mapKeys: ['topologyKey', 'whenUnsatisfiable'],
      },
    ),
    setHostnameAsFQDN: bool(
      "If true the pod's hostname will be configured as the pod's FQDN, rather than the leaf name (the default).",
    ),
    os: object(
      'io.k8s.api.core.v1.PodOS',
      'PodOS defines the OS parameters of a pod.',
      {
        name: str(
          'Name is the name of the operating system. The currently supported values are linux and windows.',
        ),
      },
      { required: ['name'] },
    ),
    hostUsers: bool("Use the host's user namespace. Optional: Default to true."),
    schedulingGates: list(
      object(
        'io.k8s.api.core.v1.PodSchedulingGate',
        'PodSchedulingGate is associated to a Pod to guard its scheduling.',
        {
          name: str('Name of the scheduling gate. Each scheduling gate must have a unique name field.'),
        },
        { required: ['name'] },
      ),
      'SchedulingGates is an opaque list of values that if specified will block scheduling the pod.',
      { mergeKey: 'name', listType: 'map', mapKeys: ['name'] },
    ),
    resourceClaims: list(
      object(
        'io.k8s.api.core.v1.PodResourceClaim',
        'PodResourceClaim references exactly one ResourceClaim.',
        {
          name: str('Name uniquely identifies this resource claim inside the pod.'),
          resourceClaimName: str(
            'ResourceClaimName is the name of a ResourceClaim object in the same namespace as this pod.',
          ),
          resourceClaimTemplateName: str(
            'ResourceClaimTemplateName is the name of a ResourceClaimTemplate object in the same namespace as this pod.',
          ),
        },
        { required: ['name'] },
      ),
      'ResourceClaims defines which ResourceClaims must be allocated and reserved before the Pod is allowed to start.',
      { mergeKey: 'name', strategy: 'merge,retainKeys', listType: 'map', mapKeys: ['name'] },
    ),
    resources: ResourceRequirementsSchema,
  },
  { required: ['containers'] },
);

export type PodSpec = Static<typeof PodSpecSchema>;

export const PodTemplateSpecSchema = object(
  'io.k8s.api.core.v1.PodTemplateSpec',
  'PodTemplateSpec describes the data a pod should have when created from a template',
  {
    metadata: ObjectMetaSchema,
    spec: PodSpecSchema,
  },
);

export type PodTemplateSpec = Static<typeof PodTemplateSpecSchema>;

/** The not-ready/unreachable tolerations the DefaultTolerationSeconds admission plugin adds. */
export const DEFAULT_NOT_READY_TOLERATION_SECONDS = 300;

/**
 * Upstream pod spec defaults, in place: restartPolicy Always, dnsPolicy ClusterFirst,
 * terminationGracePeriodSeconds 30, schedulerName default-scheduler, securityContext {},
 * enableServiceLinks true, container and volume defaults.
 * @param forPod also applies what admission adds to real pods (service account `default`,
 *   not-ready/unreachable tolerations, priority 0); templates keep those unset as upstream.
 */
export function applyPodSpecDefaults(spec: PodSpec, forPod: boolean): void {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  spec.enableServiceLinks ??= true;
  const hostNetwork = spec.hostNetwork === true;
  for (const c of spec.initContainers ?? []) applyContainerDefaults(c, hostNetwork);
  for (const c of spec.containers ?? []) applyContainerDefaults(c, hostNetwork);
  for (const c of spec.ephemeralContainers ?? []) applyContainerDefaults(c, hostNetwork);
  for (const v of spec.volumes ?? []) applyVolumeDefaults(v);
  // serviceAccount is the deprecated alias; upstream keeps the two in step.
  if (spec.serviceAccountName === undefined && spec.serviceAccount)
    spec.serviceAccountName = spec.serviceAccount;
  if (forPod) {
    spec.serviceAccountName ??= 'default';
    spec.serviceAccount ??= spec.serviceAccountName;
    spec.priority ??= 0;
    spec.preemptionPolicy ??= 'PreemptLowerPriority';
    spec.tolerations = withDefaultTolerations(spec.tolerations);
  }
}

function withDefaultTolerations(tolerations: Toleration[] | undefined): Toleration[] {
  const out = [...(tolerations ?? [])];
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    const covered = out.some(
      (t) =>
        (t.key === key || (!t.key && t.operator === 'Exists')) &&
        (t.effect === undefined || t.effect === '' || t.effect === 'NoExecute'),
    );
    if (!covered)
      out.push({
        key,
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: DEFAULT_NOT_READY_TOLERATION_SECONDS,
      });
  }
  return out;
}

export interface PodSpecValidationOptions {
  /** Whether this is a real pod (`spec`) or a template (`spec.template.spec`): affects ephemeral containers. */
  readonly isPod: boolean;
  /** On create, pods may not carry ephemeral containers (they are added through a subresource). */
  readonly isCreate: boolean;
}

/** Upstream `ValidatePodSpec` (the rules that matter for h8s). */
export function validatePodSpec(
  causes: StatusCause[],
  spec: PodSpec | undefined,
  path: string,
  opts: PodSpecValidationOptions,
): void {
  if (!spec) {
    causes.push(requiredCause(path));
    return;
  }
  const { names: volumeNames, claimNames } = validateVolumes(causes, spec.volumes, `${path}.volumes`);
  const ctx: ContainerValidationContext = {
    volumeNames,
    claimVolumeNames: claimNames,
    seenNames: new Set<string>(),
    hostNetwork: spec.hostNetwork === true,
    seenPortNames: new Set<string>(),
  };
  if (!spec.containers || spec.containers.length === 0) causes.push(requiredCause(`${path}.containers`));
  validateContainerList(causes, spec.initContainers, `${path}.initContainers`, 'init', ctx);
  validateContainerList(causes, spec.containers, `${path}.containers`, 'container', ctx);
  if (spec.ephemeralContainers && spec.ephemeralContainers.length > 0) {
    if (!opts.isPod)
      causes.push(forbiddenCause(`${path}.ephemeralContainers`, 'cannot be set in a pod template'));
    else if (opts.isCreate)
      causes.push(forbiddenCause(`${path}.ephemeralContainers`, 'cannot be set on create'));
    else
      validateContainerList(
        causes,
        spec.ephemeralContainers,
        `${path}.ephemeralContainers`,
        'ephemeral',
        ctx,
      );
  }
  checkSupported(causes, `${path}.restartPolicy`, spec.restartPolicy, RESTART_POLICIES);
  checkSupported(causes, `${path}.dnsPolicy`, spec.dnsPolicy, DNS_POLICIES);
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    causes.push(
      invalidCause(
        `${path}.terminationGracePeriodSeconds`,
        spec.terminationGracePeriodSeconds,
        'must be greater than or equal to 0',
      ),
    );
  }
  if (
    spec.activeDeadlineSeconds !== undefined &&
    (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > 2147483647)
  ) {
    causes.push(
      invalidCause(
        `${path}.activeDeadlineSeconds`,
        spec.activeDeadlineSeconds,
        'must be between 1 and 2147483647, inclusive',
      ),
    );
  }
  causes.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`));
  for (const [key, value] of [
    ['serviceAccountName', spec.serviceAccountName],
    ['nodeName', spec.nodeName],
    ['priorityClassName', spec.priorityClassName],
    ['runtimeClassName', spec.runtimeClassName],
  ] as const) {
    if (value)
      for (const msg of checkDns1123Subdomain(value)) causes.push(invalidCause(`${path}.${key}`, value, msg));
  }
  for (const [key, value] of [
    ['hostname', spec.hostname],
    ['subdomain', spec.subdomain],
  ] as const) {
    if (value)
      for (const msg of checkDns1123Label(value)) causes.push(invalidCause(`${path}.${key}`, value, msg));
  }
  if (spec.schedulerName !== undefined && spec.schedulerName !== '') {
    for (const msg of checkDns1123Subdomain(spec.schedulerName))
      causes.push(invalidCause(`${path}.schedulerName`, spec.schedulerName, msg));
  }
  validateAffinity(causes, spec.affinity, `${path}.affinity`);
  validateTolerations(causes, spec.tolerations, `${path}.tolerations`);
  validateTopologySpreadConstraints(
    causes,
    spec.topologySpreadConstraints,
    `${path}.topologySpreadConstraints`,
  );
  (spec.imagePullSecrets ?? []).forEach((s, i) => {
    if (!s.name) causes.push(requiredCause(`${path}.imagePullSecrets[${i}].name`));
  });
  (spec.hostAliases ?? []).forEach((h, i) => {
    if (!h.ip || !parseIp(h.ip))
      causes.push(invalidCause(`${path}.hostAliases[${i}].ip`, h.ip ?? '', IP_INVALID_MESSAGE));
    (h.hostnames ?? []).forEach((n, j) => {
      for (const msg of checkDns1123Subdomain(n))
        causes.push(invalidCause(`${path}.hostAliases[${i}].hostnames[${j}]`, n, msg));
    });
  });
  (spec.readinessGates ?? []).forEach((g, i) => {
    if (!g.conditionType) causes.push(requiredCause(`${path}.readinessGates[${i}].conditionType`));
    else
      for (const msg of checkQualifiedName(g.conditionType))
        causes.push(invalidCause(`${path}.readinessGates[${i}].conditionType`, g.conditionType, msg));
  });
  if (
    spec.dnsPolicy === 'None' &&
    (!spec.dnsConfig?.nameservers || spec.dnsConfig.nameservers.length === 0)
  ) {
    causes.push(
      requiredCause(
        `${path}.dnsConfig.nameservers`,
        'must provide at least one DNS nameserver when dnsPolicy is None',
      ),
    );
  }
  if (spec.dnsConfig) {
    const ns = spec.dnsConfig.nameservers ?? [];
    if (ns.length > 3)
      causes.push(invalidCause(`${path}.dnsConfig.nameservers`, ns, 'must not have more than 3 nameservers'));
    ns.forEach((n, i) => {
      if (!parseIp(n))
        causes.push(invalidCause(`${path}.dnsConfig.nameservers[${i}]`, n, IP_INVALID_MESSAGE));
    });
    const searches = spec.dnsConfig.searches ?? [];
    if (searches.length > 32)
      causes.push(
        invalidCause(`${path}.dnsConfig.searches`, searches, 'must not have more than 32 search paths'),
      );
    searches.forEach((s, i) => {
      const trimmed = s.endsWith('.') ? s.slice(0, -1) : s;
      for (const msg of checkDns1123Subdomain(trimmed))
        causes.push(invalidCause(`${path}.dnsConfig.searches[${i}]`, s, msg));
    });
    (spec.dnsConfig.options ?? []).forEach((o, i) => {
      if (!o.name)
        causes.push(requiredCause(`${path}.dnsConfig.options[${i}].name`, 'Option.Name must not be empty'));
    });
  }
  if (spec.os) checkSupported(causes, `${path}.os.name`, spec.os.name, ['linux', 'windows']);
  checkSupported(causes, `${path}.preemptionPolicy`, spec.preemptionPolicy, [
    'Never',
    'PreemptLowerPriority',
  ]);
  const sc = spec.securityContext;
  if (sc) {
    for (const f of ['runAsUser', 'runAsGroup', 'fsGroup'] as const) {
      const v = sc[f];
      if (v !== undefined && (v < 0 || v > 2147483647))
        causes.push(
          invalidCause(`${path}.securityContext.${f}`, v, 'must be between 0 and 2147483647, inclusive'),
        );
    }
    (sc.supplementalGroups ?? []).forEach((g, i) => {
      if (g < 0 || g > 2147483647)
        causes.push(
          invalidCause(
            `${path}.securityContext.supplementalGroups[${i}]`,
            g,
            'must be between 0 and 2147483647, inclusive',
          ),
        );
    });
    checkSupported(causes, `${path}.securityContext.fsGroupChangePolicy`, sc.fsGroupChangePolicy, [
      'OnRootMismatch',
      'Always',
    ]);
    checkSupported(causes, `${path}.securityContext.supplementalGroupsPolicy`, sc.supplementalGroupsPolicy, [
      'Merge',
      'Strict',
    ]);
    checkSupported(causes, `${path}.securityContext.seLinuxChangePolicy`, sc.seLinuxChangePolicy, [
      'Recursive',
      'MountOption',
    ]);
    if (sc.seccompProfile)
      validateProfile(causes, sc.seccompProfile, `${path}.securityContext.seccompProfile`, [
        'RuntimeDefault',
        'Unconfined',
        'Localhost',
      ]);
    if (sc.appArmorProfile)
      validateProfile(causes, sc.appArmorProfile, `${path}.securityContext.appArmorProfile`, [
        'RuntimeDefault',
        'Unconfined',
        'Localhost',
      ]);
    const sysctlNames = new Set<string>();
    (sc.sysctls ?? []).forEach((s, i) => {
      const p = `${path}.securityContext.sysctls[${i}]`;
      if (!s.name) causes.push(requiredCause(`${p}.name`));
      else if (!/^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/.test(s.name)) {
        causes.push(
          invalidCause(
            `${p}.name`,
            s.name,
            'must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$',
          ),
        );
      } else if (sysctlNames.has(s.name)) causes.push(duplicateCause(`${p}.name`, s.name));
      if (s.name) sysctlNames.add(s.name);
    });
  }
  if (spec.overhead) {
    for (const [k, q] of Object.entries(spec.overhead)) {
      if (findQuantity(q) === undefined)
        causes.push(invalidCause(`${path}.overhead[${k}]`, q, QUANTITY_INVALID_MESSAGE));
    }
  }
  const gateNames = new Set<string>();
  (spec.schedulingGates ?? []).forEach((g, i) => {
    if (!g.name) causes.push(requiredCause(`${path}.schedulingGates[${i}].name`));
    else {
      for (const msg of checkQualifiedName(g.name))
        causes.push(invalidCause(`${path}.schedulingGates[${i}].name`, g.name, msg));
      if (gateNames.has(g.name)) causes.push(duplicateCause(`${path}.schedulingGates[${i}].name`, g.name));
      gateNames.add(g.name);
    }
  });
  if (spec.schedulingGates && spec.schedulingGates.length > 0 && spec.nodeName && opts.isCreate) {
    causes.push(
      forbiddenCause(`${path}.nodeName`, 'cannot be set until all schedulingGates have been cleared'),
    );
  }
  if (spec.resources) validateResources(causes, spec.resources, `${path}.resources`);
  if ((spec.volumes?.length ?? 0) > 1024)
    causes.push(tooManyCause(`${path}.volumes`, spec.volumes?.length ?? 0, 1024));
}

/** Upstream `ValidatePodTemplateSpec`: labels/annotations of the template and its spec. */
export function validatePodTemplateSpec(
  causes: StatusCause[],
  tpl: PodTemplateSpec | undefined,
  path: string,
): void {
  if (!tpl) {
    causes.push(requiredCause(path));
    return;
  }
  causes.push(...validateLabels(tpl.metadata?.labels, `${path}.metadata.labels`));
  causes.push(...validateAnnotations(tpl.metadata?.annotations, `${path}.metadata.annotations`));
  validatePodSpec(causes, tpl.spec, `${path}.spec`, { isPod: false, isCreate: true });
}

/** Template defaults: the pod spec defaults without the admission-time pod fields. */
export function applyPodTemplateDefaults(tpl: PodTemplateSpec | undefined): void {
  if (tpl?.spec) applyPodSpecDefaults(tpl.spec, false);
}
