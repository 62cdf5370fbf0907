/**
 * Container (and EphemeralContainer): schema, upstream defaults (`SetDefaults_Container`,
 * ports, env, resources) and validation (`validateContainers`), shared by Pod and every pod
 * template. Probes and lifecycle hooks are in `probe.ts`, the security context in
 * `security-context.ts`, the status the agent reports in `container-status.ts`.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import {
  bool,
  int32,
  list,
  mapOf,
  object,
  quantity,
  str,
  stringEnum,
  stringList,
} from '../../schema/fields.js';
import { findQuantity, QUANTITY_INVALID_MESSAGE } from '../../resource/quantity.js';
import {
  checkIntRange,
  checkSupported,
  duplicateCause,
  forbiddenCause,
  invalidCause,
  notSupportedCause,
  requiredCause,
} from '../../validation/field-causes.js';
import {
  checkConfigMapKey,
  checkDns1123Label,
  checkDns1123Subdomain,
  checkEnvVarName,
  checkPortName,
  checkQualifiedName,
} from '../../validation/names.js';
import { parseIp, IP_INVALID_MESSAGE } from '../../validation/ip-address.js';
import {
  applyHandlerDefaults,
  applyProbeDefaults,
  LifecycleSchema,
  ProbeSchema,
  validateHandler,
  validateProbe,
} from './probe.js';
import { SecurityContextSchema, validateSecurityContext } from './security-context.js';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

export const ContainerPortSchema = object(
  'io.k8s.api.core.v1.ContainerPort',
  'ContainerPort represents a network port in a single container.',
  {
    name: str(
      'If specified, this must be an IANA_SVC_NAME and unique within the pod. Each named port in a pod must have a unique name. Name for the port that can be referred to by services.',
    ),
    hostPort: int32(
      'Number of port to expose on the host. If specified, this must be a valid port number, 0 < x < 65536. If HostNetwork is specified, this must match ContainerPort.',
    ),
    containerPort: int32(
      "Number of port to expose on the pod's IP address. This must be a valid port number, 0 < x < 65536.",
    ),
    protocol: stringEnum('Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP".', PROTOCOLS),
    hostIP: str('What host IP to bind the external port to.'),
  },
  { required: ['containerPort'] },
);

/** ConfigMapKeySelector / SecretKeySelector: one key of the object (`key` required). */
const keyRef = (name: string, what: string, keyDesc: string) =>
  object(
    name,
    `Selects a key of a ${what}.`,
    {
      key: str(keyDesc),
      name: str(`Name of the referent ${what}.`),
      optional: bool(`Specify whether the ${what} or its key must be defined`),
    },
    { required: ['key'], extra: { 'x-kubernetes-map-type': 'atomic' } },
  );

/** ConfigMapEnvSource / SecretEnvSource: the whole object (no `key`). */
const envSourceRef = (name: string, what: string) =>
  object(
    name,
    `Selects a ${what} to populate the environment variables with.`,
    {
      name: str(`Name of the referent ${what}.`),
      optional: bool(`Specify whether the ${what} must be defined`),
    },
    { extra: { 'x-kubernetes-map-type': 'atomic' } },
  );

export const ObjectFieldSelectorSchema = object(
  'io.k8s.api.core.v1.ObjectFieldSelector',
  'ObjectFieldSelector selects an APIVersioned field of an object.',
  {
    apiVersion: str('Version of the schema the FieldPath is written in terms of, defaults to "v1".'),
    fieldPath: str('Path of the field to select in the specified API version.'),
  },
  { required: ['fieldPath'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const ResourceFieldSelectorSchema = object(
  'io.k8s.api.core.v1.ResourceFieldSelector',
  'ResourceFieldSelector represents container resources (cpu, memory) and their output format',
  {
    containerName: str('Container name: required for volumes, optional for env vars'),
    resource: str('Required: resource to select'),
    divisor: quantity('Specifies the output format of the exposed resources, defaults to "1"'),
  },
  { required: ['resource'], extra: { 'x-kubernetes-map-type': 'atomic' } },
);

export const EnvVarSourceSchema = object(
  'io.k8s.api.core.v1.EnvVarSource',
  'EnvVarSource represents a source for the value of an EnvVar.',
  {
    fieldRef: ObjectFieldSelectorSchema,
    resourceFieldRef: ResourceFieldSelectorSchema,
    configMapKeyRef: keyRef('io.k8s.api.core.v1.ConfigMapKeySelector', 'ConfigMap', 'The key to select.'),
    secretKeyRef: keyRef(
      'io.k8s.api.core.v1.SecretKeySelector',
      'Secret',
      'The key of the secret to select from.  Must be a valid secret key.',
    ),
  },
);

export const EnvVarSchema = object(
  'io.k8s.api.core.v1.EnvVar',
  'EnvVar represents an environment variable present in a Container.',
  {
    name: str('Name of the environment variable.'),
    value: str(
      'Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container and any service environment variables. Defaults to "".',
    ),
    valueFrom: EnvVarSourceSchema,
  },
  { required: ['name'] },
);

export const EnvFromSourceSchema = object(
  'io.k8s.api.core.v1.EnvFromSource',
  'EnvFromSource represents the source of a set of ConfigMaps or Secrets',
  {
    prefix: str('Optional text to prepend to the name of each environment variable.'),
    configMapRef: envSourceRef('io.k8s.api.core.v1.ConfigMapEnvSource', 'ConfigMap'),
    secretRef: envSourceRef('io.k8s.api.core.v1.SecretEnvSource', 'Secret'),
  },
);

export const ResourceListSchema = mapOf(
  quantity('A quantity of a resource.'),
  'ResourceList is a set of (resource name, quantity) pairs.',
);

export const ResourceRequirementsSchema = object(
  'io.k8s.api.core.v1.ResourceRequirements',
  'ResourceRequirements describes the compute resource requirements.',
  {
    limits: mapOf(
      quantity('A quantity of a resource.'),
      'Limits describes the maximum amount of compute resources allowed.',
    ),
    requests: mapOf(
      quantity('A quantity of a resource.'),
      'Requests describes the minimum amount of compute resources required. If Requests is omitted for a container, it defaults to Limits if that is explicitly specified.',
    ),
    claims: list(
      object(
        'io.k8s.api.core.v1.ResourceClaim',
        'ResourceClaim references one entry in PodSpec.ResourceClaims.',
        {
          name: str(
            'Name must match the name of one entry in pod.spec.resourceClaims of the Pod where this field is used.',
          ),
          request: str('Request is the name chosen for a request in the referenced claim.'),
        },
        { required: ['name'] },
      ),
      'Claims lists the names of resources, defined in spec.resourceClaims, that are used by this container.',
      { listType: 'map', mapKeys: ['name'] },
    ),
  },
);

export const VolumeMountSchema = object(
  'io.k8s.api.core.v1.VolumeMount',
  'VolumeMount describes a mounting of a Volume within a container.',
  {
    name: str('This must match the Name of a Volume.'),
    readOnly: bool(
      'Mounted read-only if true, read-write otherwise (false or unspecified). Defaults to false.',
    ),
    recursiveReadOnly: str(
      'RecursiveReadOnly specifies whether read-only mounts should be handled recursively.',
    ),
    mountPath: str("Path within the container at which the volume should be mounted.  Must not contain ':'."),
    subPath: str(
      'Path within the volume from which the container\'s volume should be mounted. Defaults to "" (volume\'s root).',
    ),
    mountPropagation: str(
      'mountPropagation determines how mounts are propagated from the host to container and the other way around.',
    ),
    subPathExpr: str("Expanded path within the volume from which the container's volume should be mounted."),
  },
  { required: ['name', 'mountPath'] },
);

export const VolumeDeviceSchema = object(
  'io.k8s.api.core.v1.VolumeDevice',
  'volumeDevice describes a mapping of a raw block device within a container.',
  {
    name: str('name must match the name of a persistentVolumeClaim in the pod'),
    devicePath: str('devicePath is the path inside of the container that the device will be mapped to.'),
  },
  { required: ['name', 'devicePath'] },
);

export const ContainerResizePolicySchema = object(
  'io.k8s.api.core.v1.ContainerResizePolicy',
  'ContainerResizePolicy represents resource resize policy for the container.',
  {
    resourceName: str(
      'Name of the resource to which this resource resize policy applies. Supported values: cpu, memory.',
    ),
    restartPolicy: str(
      'Restart policy to apply when specified resource is resized. If not specified, it defaults to NotRequired.',
    ),
  },
  { required: ['resourceName', 'restartPolicy'] },
);

/** Fields shared by Container and EphemeralContainer (upstream `EphemeralContainerCommon`). */
function containerProperties() {
  return {
    name: str(
      'Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated.',
    ),
    image: str(
      'Container image name. This field is optional to allow higher level config management to default or override container images in workload controllers like Deployments and StatefulSets.',
    ),
    command: stringList(
      "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided. Cannot be updated.",
      {
        'x-kubernetes-list-type': 'atomic',
      },
    ),
    args: stringList(
      "Arguments to the entrypoint. The container image's CMD is used if this is not provided. Cannot be updated.",
      {
        'x-kubernetes-list-type': 'atomic',
      },
    ),
    workingDir: str(
      "Container's working directory. If not specified, the container runtime's default will be used. Cannot be updated.",
    ),
    ports: list(ContainerPortSchema, 'List of ports to expose from the container. Cannot be updated.', {
      mergeKey: 'containerPort',
      listType: 'map',
      mapKeys: ['containerPort', 'protocol'],
    }),
    envFrom: list(
      EnvFromSourceSchema,
      'List of sources to populate environment variables in the container.',
      { listType: 'atomic' },
    ),
    env: list(EnvVarSchema, 'List of environment variables to set in the container. Cannot be updated.', {
      mergeKey: 'name',
      listType: 'map',
      mapKeys: ['name'],
    }),
    resources: ResourceRequirementsSchema,
    resizePolicy: list(ContainerResizePolicySchema, 'Resources resize policy for the container.', {
      listType: 'atomic',
    }),
    restartPolicy: str(
      'RestartPolicy defines the restart behavior of individual containers in a pod. This field may only be set for init containers, and the only allowed value is "Always".',
    ),
    volumeMounts: list(
      VolumeMountSchema,
      "Pod volumes to mount into the container's filesystem. Cannot be updated.",
      {
        mergeKey: 'mountPath',
        listType: 'map',
        mapKeys: ['mountPath'],
      },
    ),
    volumeDevices: list(
      VolumeDeviceSchema,
      'volumeDevices is the list of block devices to be used by the container.',
      {
        mergeKey: 'devicePath',
        listType: 'map',
        mapKeys: ['devicePath'],
      },
    ),
    livenessProbe: ProbeSchema,
    readinessProbe: ProbeSchema,
    startupProbe: ProbeSchema,
    lifecycle: LifecycleSchema,
    terminationMessagePath: str(
      "Optional: Path at which the file to which the container's termination message will be written is mounted into the container's filesystem. Defaults to /dev/termination-log.",
    ),
    terminationMessagePolicy: stringEnum(
      'Indicate how the termination message should be populated. File will use the contents of terminationMessagePath to populate the container status message on both success and failure. Defaults to File.',
      ['File', 'FallbackToLogsOnError'],
    ),
    imagePullPolicy: stringEnum(
      'Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if :latest tag is specified, or IfNotPresent otherwise.',
      PULL_POLICIES,
    ),
    securityContext: SecurityContextSchema,
    stdin: bool(
      'Whether this container should allocate a buffer for stdin in the container runtime. Default is false.',
    ),
    stdinOnce: bool(
      'Whether the container runtime should close the stdin channel after it has been opened by a single attach.',
    ),
    tty: bool(
      "Whether this container should allocate a TTY for itself, also requires 'stdin' to be true. Default is false.",
    ),
  };
}

export const ContainerSchema = object(
  'io.k8s.api.core.v1.Container',
  'A single application container that you want to run within a pod.',
  containerProperties(),
  { required: ['name'] },
);

export const EphemeralContainerSchema = object(
  'io.k8s.api.core.v1.EphemeralContainer',
  'An EphemeralContainer is a temporary container that you may add to an existing Pod for user-initiated activities such as debugging.',
  {
    ...containerProperties(),
    targetContainerName: str(
      'If set, the name of the container from PodSpec that this ephemeral container targets.',
    ),
  },
  { required: ['name'] },
);

export type Container = Static<typeof ContainerSchema>;
export type EphemeralContainer = Static<typeof EphemeralContainerSchema>;
export type ContainerPort = Static<typeof ContainerPortSchema>;
export type ResourceRequirements = Static<typeof ResourceRequirementsSchema>;

// ---------------------------------------------------------------------------------------------
// Defaults

/** Upstream: `:latest` or no tag (and no digest) pulls Always, anything else IfNotPresent. */
export function defaultPullPolicy(image: string | undefined): 'Always' | 'IfNotPresent' {
  if (!image) return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const tagSep = image.indexOf(':', lastSlash + 1);
  if (tagSep < 0) return 'Always';
  return image.slice(tagSep + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

/**
 * Upstream `SetDefaults_Container` and friends: pull policy, termination message, port
 * protocol, probe timings, fieldRef apiVersion, requests defaulted from limits.
 * @param hostNetwork when true, hostPort defaults to containerPort (upstream PodSpec default).
 */
export function applyContainerDefaults(c: Container | EphemeralContainer, hostNetwork: boolean): void {
  c.imagePullPolicy ??= defaultPullPolicy(c.image);
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  // Upstream always serializes this struct, so clients see `resources: {}`.
  c.resources ??= {};
  for (const p of c.ports ?? []) {
    p.protocol ??= 'TCP';
    if (hostNetwork && (p.hostPort === undefined || p.hostPort === 0) && p.containerPort !== undefined) {
      p.hostPort = p.containerPort;
    }
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  }
  applyProbeDefaults(c.livenessProbe);
  applyProbeDefaults(c.readinessProbe);
  applyProbeDefaults(c.startupProbe);
  applyHandlerDefaults(c.lifecycle?.postStart);
  applyHandlerDefaults(c.lifecycle?.preStop);
  // Requests default to limits for every resource that has a limit but no request.
  const limits = c.resources?.limits;
  if (limits && Object.keys(limits).length > 0) {
    const res = c.resources as NonNullable<typeof c.resources>;
    const requests = (res.requests ??= {});
    for (const [k, v] of Object.entries(limits)) if (!(k in requests)) requests[k] = v;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Fields a downward API `fieldRef` may select from env vars. */
const envFieldPaths = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const resourceFieldRefs = [
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
];

export function validateFieldRef(
  causes: StatusCause[],
  ref: Static<typeof ObjectFieldSelectorSchema>,
  path: string,
  allowedPaths: readonly string[] = envFieldPaths,
): void {
  if (ref.apiVersion !== undefined && ref.apiVersion !== 'v1') {
    causes.push(notSupportedCause(`${path}.apiVersion`, ref.apiVersion, ['v1']));
  }
  if (!ref.fieldPath) {
    causes.push(requiredCause(`${path}.fieldPath`));
    return;
  }
  const m = /^metadata\.(labels|annotations)\['([^']*)'\]$/.exec(ref.fieldPath);
  if (m) {
    for (const msg of checkQualifiedName((m[2] as string).toLowerCase()))
      causes.push(invalidCause(`${path}.fieldPath`, ref.fieldPath, msg));
    return;
  }
  if (!allowedPaths.includes(ref.fieldPath)) {
    causes.push(notSupportedCause(`${path}.fieldPath`, ref.fieldPath, allowedPaths));
  }
}

export function validateResourceFieldRef(
  causes: StatusCause[],
  ref: Static<typeof ResourceFieldSelectorSchema>,
  path: string,
): void {
  if (!ref.resource) causes.push(requiredCause(`${path}.resource`));
  else if (
    !resourceFieldRefs.includes(ref.resource) &&
    !/^(limits|requests)\.hugepages-/.test(ref.resource)
  ) {
    causes.push(notSupportedCause(`${path}.resource`, ref.resource, resourceFieldRefs));
  }
  if (ref.divisor !== undefined && findQuantity(ref.divisor) === undefined) {
    causes.push(invalidCause(`${path}.divisor`, ref.divisor, QUANTITY_INVALID_MESSAGE));
  }
}

function validateEnv(causes: StatusCause[], env: Container['env'], path: string): void {
  (env ?? []).forEach((e, i) => {
    const p = `${path}[${i}]`;
    if (!e.name) causes.push(requiredCause(`${p}.name`));
    else for (const msg of checkEnvVarName(e.name)) causes.push(invalidCause(`${p}.name`, e.name, msg));
    const from = e.valueFrom;
    if (!from) return;
    const n = [from.fieldRef, from.resourceFieldRef, from.configMapKeyRef, from.secretKeyRef].filter(
      (x) => x !== undefined,
    ).length;
    if (e.value !== undefined && e.value !== '' && n > 0) {
      causes.push(invalidCause(`${p}.valueFrom`, '', 'may not be specified when `value` is not empty'));
    }
    if (n === 0)
      causes.push(
        invalidCause(
          `${p}.valueFrom`,
          '',
          'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
        ),
      );
    else if (n > 1)
      causes.push(invalidCause(`${p}.valueFrom`, '', 'may not have more than one field specified at a time'));
    if (from.fieldRef) validateFieldRef(causes, from.fieldRef, `${p}.valueFrom.fieldRef`);
    if (from.resourceFieldRef)
      validateResourceFieldRef(causes, from.resourceFieldRef, `${p}.valueFrom.resourceFieldRef`);
    for (const [key, ref] of [
      ['configMapKeyRef', from.configMapKeyRef],
      ['secretKeyRef', from.secretKeyRef],
    ] as const) {
      if (!ref) continue;
      if (!ref.key) causes.push(requiredCause(`${p}.valueFrom.${key}.key`));
      else
        for (const msg of checkConfigMapKey(ref.key))
          causes.push(invalidCause(`${p}.valueFrom.${key}.key`, ref.key, msg));
      if (!ref.name) causes.push(requiredCause(`${p}.valueFrom.${key}.name`));
    }
  });
}

function validateEnvFrom(causes: StatusCause[], envFrom: Container['envFrom'], path: string): void {
  (envFrom ?? []).forEach((e, i) => {
    const p = `${path}[${i}]`;
    const n = (e.configMapRef ? 1 : 0) + (e.secretRef ? 1 : 0);
    if (n === 0) causes.push(invalidCause(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    if (n > 1) causes.push(invalidCause(p, '', 'may not have more than one field specified at a time'));
    if (e.configMapRef && !e.configMapRef.name) causes.push(requiredCause(`${p}.configMapRef.name`));
    if (e.secretRef && !e.secretRef.name) causes.push(requiredCause(`${p}.secretRef.name`));
  });
}

const standardContainerResources = ['cpu', 'memory', 'ephemeral-storage'];

/** Upstream `ValidateResourceRequirements`: names, quantities, requests <= limits. */
export function validateResources(
  causes: StatusCause[],
  res: ResourceRequirements | undefined,
  path: string,
): void {
  if (!res) return;
  const limits = new Map<string, number>();
  for (const [which, map] of [
    ['limits', res.limits],
    ['requests', res.requests],
  ] as const) {
    for (const [name, q] of Object.entries(map ?? {})) {
      const p = `${path}.${which}[${name}]`;
      const nameErrs = checkQualifiedName(name);
      for (const msg of nameErrs) causes.push(invalidCause(p, name, msg));
      if (
        nameErrs.length === 0 &&
        !name.includes('/') &&
        !standardContainerResources.includes(name) &&
        !name.startsWith('hugepages-')
      ) {
        causes.push(invalidCause(p, name, 'must be a standard resource for containers'));
      }
      const v = findQuantity(q as string | number);
      if (v === undefined) {
        causes.push(invalidCause(p, q, QUANTITY_INVALID_MESSAGE));
        continue;
      }
      if (v < 0) causes.push(invalidCause(p, q, 'must be greater than or equal to 0'));
      if (which === 'limits') limits.set(name, v);
      else {
        const lim = limits.get(name);
        if (lim !== undefined && v > lim) {
          causes.push(
            invalidCause(
              p,
              q,
              `must be less than or equal to ${name} limit of ${String(res.limits?.[name])}`,
            ),
          );
        }
      }
    }
  }
}

export interface ContainerValidationContext {
  /** Volume names of the pod (mounts must name one). */
  readonly volumeNames: ReadonlySet<string>;
  /** Names of volumes that are PVC-backed (block devices may map only those). */
  readonly claimVolumeNames: ReadonlySet<string>;
  /** Container names already seen in the pod (for uniqueness across all container lists). */
  readonly seenNames: Set<string>;
  readonly hostNetwork: boolean;
  /** Port names already used in the pod. */
  readonly seenPortNames: Set<string>;
}

export type ContainerKind = 'container' | 'init' | 'ephemeral';

/** Upstream `validateContainers` / `validateInitContainers` / `validateEphemeralContainers`. */
export function validateContainerList(
  causes: StatusCause[],
  containers: readonly (Container | EphemeralContainer)[] | undefined,
  path: string,
  kind: ContainerKind,
  ctx: ContainerValidationContext,
): void {
  (containers ?? []).forEach((c, i) => {
    const p = `${path}[${i}]`;
    if (!c.name) causes.push(requiredCause(`${p}.name`));
    else {
      for (const msg of checkDns1123Label(c.name)) causes.push(invalidCause(`${p}.name`, c.name, msg));
      if (ctx.seenNames.has(c.name)) causes.push(duplicateCause(`${p}.name`, c.name));
      ctx.seenNames.add(c.name);
    }
    if (!c.image || c.image.trim() === '') causes.push(requiredCause(`${p}.image`));
    else if (c.image !== c.image.trim())
      causes.push(invalidCause(`${p}.image`, c.image, 'must not have leading or trailing whitespace'));
    checkSupported(causes, `${p}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES);
    checkSupported(causes, `${p}.terminationMessagePolicy`, c.terminationMessagePolicy, [
      'File',
      'FallbackToLogsOnError',
    ]);
    if (c.restartPolicy !== undefined) {
      if (kind !== 'init')
        causes.push(forbiddenCause(`${p}.restartPolicy`, 'may not be set for non-init containers'));
      else checkSupported(causes, `${p}.restartPolicy`, c.restartPolicy, ['Always']);
    }
    (c.ports ?? []).forEach((port, j) => {
      const pp = `${p}.ports[${j}]`;
      if (kind === 'ephemeral') {
        causes.push(forbiddenCause(`${p}.ports`, 'cannot be set on ephemeral containers'));
        return;
      }
      if (port.name !== undefined && port.name !== '') {
        for (const msg of checkPortName(port.name)) causes.push(invalidCause(`${pp}.name`, port.name, msg));
        if (ctx.seenPortNames.has(port.name)) causes.push(duplicateCause(`${pp}.name`, port.name));
        ctx.seenPortNames.add(port.name);
      }
      if (port.containerPort === undefined || port.containerPort === 0)
        causes.push(requiredCause(`${pp}.containerPort`));
      else checkIntRange(causes, `${pp}.containerPort`, port.containerPort, 1, 65535);
      if (port.hostPort !== undefined && port.hostPort !== 0) {
        checkIntRange(causes, `${pp}.hostPort`, port.hostPort, 1, 65535);
        if (ctx.hostNetwork && port.hostPort !== port.containerPort) {
          causes.push(
            invalidCause(
              `${pp}.hostPort`,
              port.hostPort,
              'must match `containerPort` when `hostNetwork` is true',
            ),
          );
        }
      }
      checkSupported(causes, `${pp}.protocol`, port.protocol, PROTOCOLS);
      if (port.hostIP !== undefined && port.hostIP !== '' && !parseIp(port.hostIP)) {
        causes.push(invalidCause(`${pp}.hostIP`, port.hostIP, IP_INVALID_MESSAGE));
      }
    });
    validateEnv(causes, c.env, `${p}.env`);
    validateEnvFrom(causes, c.envFrom, `${p}.envFrom`);
    validateResources(causes, c.resources, `${p}.resources`);
    const mountPaths = new Set<string>();
    (c.volumeMounts ?? []).forEach((m, j) => {
      const mp = `${p}.volumeMounts[${j}]`;
      if (!m.name) causes.push(requiredCause(`${mp}.name`));
      else if (!ctx.volumeNames.has(m.name))
        causes.push({
          reason: 'FieldValueNotFound',
          message: `Not found: ${JSON.stringify(m.name)}`,
          field: `${mp}.name`,
        });
      if (!m.mountPath) causes.push(requiredCause(`${mp}.mountPath`));
      else {
        if (mountPaths.has(m.mountPath))
          causes.push(invalidCause(`${mp}.mountPath`, m.mountPath, 'must be unique'));
        mountPaths.add(m.mountPath);
      }
      for (const [key, sub] of [
        ['subPath', m.subPath],
        ['subPathExpr', m.subPathExpr],
      ] as const) {
        if (sub === undefined || sub === '') continue;
        if (sub.startsWith('/')) causes.push(invalidCause(`${mp}.${key}`, sub, 'must be a relative path'));
        if (sub.split('/').includes('..'))
          causes.push(invalidCause(`${mp}.${key}`, sub, "must not contain '..'"));
      }
      if (m.subPath && m.subPathExpr)
        causes.push(
          invalidCause(`${mp}.subPathExpr`, m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'),
        );
      checkSupported(causes, `${mp}.mountPropagation`, m.mountPropagation, [
        'None',
        'HostToContainer',
        'Bidirectional',
      ]);
      checkSupported(causes, `${mp}.recursiveReadOnly`, m.recursiveReadOnly, [
        'Disabled',
        'IfPossible',
        'Enabled',
      ]);
    });
    (c.volumeDevices ?? []).forEach((d, j) => {
      const dp = `${p}.volumeDevices[${j}]`;
      if (!d.name) causes.push(requiredCause(`${dp}.name`));
      else if (!ctx.claimVolumeNames.has(d.name))
        causes.push(
          invalidCause(
            `${dp}.name`,
            d.name,
            'can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode',
          ),
        );
      if (!d.devicePath) causes.push(requiredCause(`${dp}.devicePath`));
      else if (mountPaths.has(d.devicePath))
        causes.push(invalidCause(`${dp}.devicePath`, d.devicePath, 'conflicts with volumeMount path'));
    });
    if (kind === 'ephemeral') {
      for (const f of [
        'livenessProbe',
        'readinessProbe',
        'startupProbe',
        'lifecycle',
        'resources',
      ] as const) {
        if (c[f] !== undefined && !(f === 'resources' && Object.keys(c.resources ?? {}).length === 0)) {
          causes.push(forbiddenCause(`${p}.${f}`, 'cannot be set for an Ephemeral Container'));
        }
      }
    } else if (kind === 'init' && c.restartPolicy !== 'Always') {
      for (const f of ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle'] as const) {
        if (c[f] !== undefined)
          causes.push(
            forbiddenCause(`${p}.${f}`, `may not be set for init containers without restartPolicy=Always`),
          );
      }
    } else {
      validateProbe(causes, c.livenessProbe, `${p}.livenessProbe`, true);
      validateProbe(causes, c.readinessProbe, `${p}.readinessProbe`, false);
      validateProbe(causes, c.startupProbe, `${p}.startupProbe`, true);
      if (c.lifecycle?.postStart) validateHandler(causes, c.lifecycle.postStart, `${p}.lifecycle.postStart`);
      if (c.lifecycle?.preStop) validateHandler(causes, c.lifecycle.preStop, `${p}.lifecycle.preStop`);
    }
    if (c.securityContext) validateSecurityContext(causes, c.securityContext, `${p}.securityContext`);
    if (c.stdinOnce && !c.stdin)
      causes.push(invalidCause(`${p}.stdinOnce`, true, '`stdinOnce` requires `stdin` to be true'));
    if (c.workingDir !== undefined && c.workingDir !== '' && c.workingDir.length > 4096) {
      causes.push(invalidCause(`${p}.workingDir`, c.workingDir, 'must be no more than 4096 characters'));
    }
  });
}

/** Names used by downward-API volume items (resourceFieldRef needs a container name there). */
export function validateDns1123SubdomainField(
  causes: StatusCause[],
  value: string | undefined,
  path: string,
): void {
  if (value === undefined || value === '') return;
  for (const msg of checkDns1123Subdomain(value)) causes.push(invalidCause(path, value, msg));
}
