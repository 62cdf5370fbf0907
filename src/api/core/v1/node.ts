/** core/v1 Node: a worker machine (registered by `h8s agent`). Cluster-scoped. */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { AGE_COLUMN, ageCell, column, defineKind, topLevelSchema } from '../../define-kind.js';
import type { KubeObject } from '../../kind-definition.js';
import { findQuantity, QUANTITY_INVALID_MESSAGE } from '../../resource/quantity.js';
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
  time,
} from '../../schema/fields.js';
import {
  checkSupported,
  duplicateCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { CIDR_INVALID_MESSAGE, parseCidr } from '../../validation/ip-address.js';
import { checkLabelValue, checkQualifiedName } from '../../validation/names.js';
import { TAINT_EFFECTS } from './scheduling-constraints.js';

export const TaintSchema = object(
  'io.k8s.api.core.v1.Taint',
  'The node this Taint is attached to has the "effect" on any pod that does not tolerate the Taint.',
  {
    key: str('Required. The taint key to be applied to a node.'),
    value: str('The taint value corresponding to the taint key.'),
    effect: str(
      'Required. The effect of the taint on pods that do not tolerate the taint. Valid effects are NoSchedule, PreferNoSchedule and NoExecute.',
    ),
    timeAdded: time('TimeAdded represents the time at which the taint was added.'),
  },
  { required: ['key', 'effect'] },
);

const resourceList = (description: string) => mapOf(quantity('A quantity of a resource.'), description);

export const NodeSchema = topLevelSchema(
  'io.k8s.api.core.v1.Node',
  'Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).',
  {
    spec: object(
      'io.k8s.api.core.v1.NodeSpec',
      'NodeSpec describes the attributes that a node is created with.',
      {
        podCIDR: str('PodCIDR represents the pod IP range assigned to the node.'),
        podCIDRs: stringList(
          'podCIDRs represents the IP ranges assigned to the node for usage by Pods on that node.',
          {
            'x-kubernetes-patch-strategy': 'merge',
            'x-kubernetes-list-type': 'set',
          },
        ),
        providerID: str(
          'ID of the node assigned by the cloud provider in the format: <ProviderName>://<ProviderSpecificNodeID>',
        ),
        unschedulable: bool(
          'Unschedulable controls node schedulability of new pods. By default, node is schedulable.',
        ),
        taints: list(TaintSchema, "If specified, the node's taints.", { listType: 'atomic' }),
        externalID: str('Deprecated. Not all kubelets will set this field.'),
      },
    ),
    status: object(
      'io.k8s.api.core.v1.NodeStatus',
      'NodeStatus is information about the current status of a node.',
      {
        capacity: resourceList('Capacity represents the total resources of a node.'),
        allocatable: resourceList(
          'Allocatable represents the resources of a node that are available for scheduling. Defaults to Capacity.',
        ),
        phase: str('NodePhase is the recently observed lifecycle phase of the node. Deprecated.'),
        conditions: list(
          object(
            'io.k8s.api.core.v1.NodeCondition',
            'NodeCondition contains condition information for a node.',
            {
              type: str(
                'Type of node condition: Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable.',
              ),
              status: str('Status of the condition, one of True, False, Unknown.'),
              lastHeartbeatTime: time('Last time we got an update on a given condition.'),
              lastTransitionTime: time('Last time the condition transit from one status to another.'),
              reason: str("(brief) reason for the condition's last transition."),
              message: str('Human readable message indicating details about last transition.'),
            },
            { required: ['type', 'status'] },
          ),
          'Conditions is an array of current observed node conditions.',
          { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
        ),
        addresses: list(
          object(
            'io.k8s.api.core.v1.NodeAddress',
            "NodeAddress contains information for the node's address.",
            {
              type: str('Node address type, one of Hostname, ExternalIP or InternalIP.'),
              address: str('The node address.'),
            },
            { required: ['type', 'address'] },
          ),
          'List of addresses reachable to the node.',
          { mergeKey: 'type', listType: 'map', mapKeys: ['type'] },
        ),
        daemonEndpoints: object(
          'io.k8s.api.core.v1.NodeDaemonEndpoints',
          'NodeDaemonEndpoints lists ports opened by daemons running on the Node.',
          {
            kubeletEndpoint: object(
              'io.k8s.api.core.v1.DaemonEndpoint',
              'DaemonEndpoint contains information about a single Daemon endpoint.',
              {
                Port: int32('Port number of the given endpoint.'),
              },
              { required: ['Port'] },
            ),
          },
        ),
        nodeInfo: object(
          'io.k8s.api.core.v1.NodeSystemInfo',
          'NodeSystemInfo is a set of ids/uuids to uniquely identify the node.',
          {
            machineID: str('MachineID reported by the node.'),
            systemUUID: str('SystemUUID reported by the node.'),
            bootID: str('Boot ID reported by the node.'),
            kernelVersion: str("Kernel Version reported by the node from 'uname -r'."),
            osImage: str('OS Image reported by the node from /etc/os-release.'),
            containerRuntimeVersion: str(
              'ContainerRuntime Version reported by the node through runtime remote API (e.g. h8s://0.1.0).',
            ),
            kubeletVersion: str('Kubelet Version reported by the node.'),
            kubeProxyVersion: str('Deprecated: KubeProxy Version reported by the node.'),
            operatingSystem: str('The Operating System reported by the node'),
            architecture: str('The Architecture reported by the node'),
            swap: object(
              'io.k8s.api.core.v1.NodeSwapStatus',
              'NodeSwapStatus represents swap memory information.',
              {
                capacity: int64('Total amount of swap memory in bytes.'),
              },
            ),
          },
        ),
        images: list(
          object('io.k8s.api.core.v1.ContainerImage', 'Describe a container image', {
            names: stringList('Names by which this image is known.', { 'x-kubernetes-list-type': 'atomic' }),
            sizeBytes: int64('The size of the image in bytes.'),
          }),
          'List of container images on this node',
          { listType: 'atomic' },
        ),
        volumesInUse: stringList('List of attachable volumes in use (mounted) by the node.', {
          'x-kubernetes-list-type': 'atomic',
        }),
        volumesAttached: list(
          object(
            'io.k8s.api.core.v1.AttachedVolume',
            'AttachedVolume describes a volume attached to a node',
            {
              name: str('Name of the attached volume'),
              devicePath: str('DevicePath represents the device path where the volume should be available'),
            },
            { required: ['name', 'devicePath'] },
          ),
          'List of volumes that are attached to the node.',
          { listType: 'atomic' },
        ),
        runtimeHandlers: list(
          object(
            'io.k8s.api.core.v1.NodeRuntimeHandler',
            'NodeRuntimeHandler is a set of runtime handler information.',
            {
              name: str('Runtime handler name. Empty for the default runtime handler.'),
              features: object(
                'io.k8s.api.core.v1.NodeRuntimeHandlerFeatures',
                'NodeRuntimeHandlerFeatures is a set of features implemented by the runtime handler.',
                {
                  recursiveReadOnlyMounts: bool(
                    'RecursiveReadOnlyMounts is set to true if the runtime handler supports RecursiveReadOnlyMounts.',
                  ),
                  userNamespaces: bool(
                    'UserNamespaces is set to true if the runtime handler supports UserNamespaces, including for volumes.',
                  ),
                },
              ),
            },
          ),
          'The available runtime handlers (h8s: "hyper" for VM pods, "runc" for containers).',
          { listType: 'atomic' },
        ),
        features: object(
          'io.k8s.api.core.v1.NodeFeatures',
          'NodeFeatures describes the set of features implemented by the CRI implementation.',
          {
            supplementalGroupsPolicy: bool(
              'SupplementalGroupsPolicy is set to true if the runtime supports SupplementalGroupsPolicy and ContainerUser.',
            ),
          },
        ),
      },
    ),
  },
);

export type Node = Static<typeof NodeSchema>;

function nodeOf(obj: KubeObject): Node {
  return obj as unknown as Node;
}

/** The STATUS cell: `Ready`, `NotReady`, `Unknown`, plus `,SchedulingDisabled`. */
export function nodeStatusCell(node: Node): string {
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const parts = [ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady'];
  if (node.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

/** The ROLES cell from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels. */
export function nodeRolesCell(node: Node): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

function address(node: Node, type: string): string {
  return (node.status?.addresses ?? []).find((a) => a.type === type)?.address ?? '<none>';
}

export const nodeKind = defineKind({
  group: '',
  version: 'v1',
  kind: 'Node',
  plural: 'nodes',
  shortNames: ['no'],
  namespaced: false,
  description: NodeSchema.description ?? '',
  schema: NodeSchema,
  hasStatusSubresource: true,
  applyDefaults(obj) {
    const status = nodeOf(obj).status;
    if (status?.capacity && !status.allocatable) status.allocatable = { ...status.capacity };
  },
  validate(obj) {
    const causes: StatusCause[] = [];
    const node = nodeOf(obj);
    const spec = node.spec ?? {};
    if (spec.podCIDR && !parseCidr(spec.podCIDR))
      causes.push(invalidCause('spec.podCIDR', spec.podCIDR, CIDR_INVALID_MESSAGE));
    (spec.podCIDRs ?? []).forEach((c, i) => {
      if (!parseCidr(c)) causes.push(invalidCause(`spec.podCIDRs[${i}]`, c, CIDR_INVALID_MESSAGE));
    });
    const seen = new Set<string>();
    (spec.taints ?? []).forEach((t, i) => {
      const p = `spec.taints[${i}]`;
      if (!t.key) causes.push(requiredCause(`${p}.key`));
      else for (const msg of checkQualifiedName(t.key)) causes.push(invalidCause(`${p}.key`, t.key, msg));
      if (t.value)
        for (const msg of checkLabelValue(t.value)) causes.push(invalidCause(`${p}.value`, t.value, msg));
      if (!t.effect) causes.push(requiredCause(`${p}.effect`));
      else checkSupported(causes, `${p}.effect`, t.effect, TAINT_EFFECTS);
      const key = `${t.key}:${t.effect}`;
      if (seen.has(key)) causes.push(duplicateCause(p, `${t.key}=${t.value ?? ''}:${t.effect}`));
      seen.add(key);
    });
    for (const which of ['capacity', 'allocatable'] as const) {
      for (const [k, q] of Object.entries(node.status?.[which] ?? {})) {
        if (findQuantity(q) === undefined)
          causes.push(invalidCause(`status.${which}[${k}]`, q, QUANTITY_INVALID_MESSAGE));
      }
    }
    return causes;
  },
  columns: [
    column('Status', 'The status of the node'),
    column('Roles', 'The roles of the node'),
    AGE_COLUMN,
    column('Version', 'Kubelet Version reported by the node.'),
    column(
      'Internal-IP',
      'List of addresses reachable to the node. Queried from cloud provider, if available.',
      { priority: 1 },
    ),
    column(
      'External-IP',
      'List of addresses reachable to the node. Queried from cloud provider, if available.',
      { priority: 1 },
    ),
    column(
      'OS-Image',
      'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 12 (bookworm)).',
      { priority: 1 },
    ),
    column('Kernel-Version', "Kernel Version reported by the node from 'uname -r'.", { priority: 1 }),
    column('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API.', {
      priority: 1,
    }),
  ],
  cells: (obj, nowMs) => {
    const node = nodeOf(obj);
    const info = node.status?.nodeInfo;
    return [
      nodeStatusCell(node),
      nodeRolesCell(node),
      ageCell(obj, nowMs),
      info?.kubeletVersion ?? '',
      address(node, 'InternalIP'),
      address(node, 'ExternalIP'),
      info?.osImage || '<unknown>',
      info?.kernelVersion || '<unknown>',
      info?.containerRuntimeVersion || '<unknown>',
    ];
  },
  fieldSelectors: {
    'spec.unschedulable': (o) => String(nodeOf(o).spec?.unschedulable === true),
  },
});
