/** Nodes and pods for scheduler tests and benchmarks. */
import type { Node, Pod } from '../../api/index.js';

export interface NodeFixture {
  readonly cpu?: string;
  readonly memory?: string;
  readonly pods?: string;
  readonly labels?: Record<string, string>;
  readonly taints?: { key: string; value?: string; effect: string }[];
  readonly unschedulable?: boolean;
  readonly ready?: 'True' | 'False' | 'Unknown';
  readonly handlers?: string[];
  readonly images?: { names: string[]; sizeBytes: number }[];
}

export function testNode(name: string, f: NodeFixture = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...f.labels } },
    spec: {
      ...(f.taints ? { taints: f.taints } : {}),
      ...(f.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      capacity: { cpu: f.cpu ?? '4', memory: f.memory ?? '8Gi', pods: f.pods ?? '110' },
      allocatable: { cpu: f.cpu ?? '4', memory: f.memory ?? '8Gi', pods: f.pods ?? '110' },
      conditions: [{ type: 'Ready', status: f.ready ?? 'True' }],
      runtimeHandlers: (f.handlers ?? ['hyper', 'runc']).map((h) => ({ name: h })),
      ...(f.images ? { images: f.images } : {}),
    },
  } as Node;
}

export interface PodFixture {
  readonly namespace?: string;
  readonly cpu?: string;
  readonly memory?: string;
  readonly labels?: Record<string, string>;
  readonly nodeName?: string;
  readonly priority?: number;
  readonly spec?: Record<string, unknown>;
  readonly ownerUid?: string;
  readonly hostPort?: number;
  readonly image?: string;
}

export function testPod(name: string, f: PodFixture = {}): Pod {
  const requests: Record<string, string> = {};
  if (f.cpu) requests['cpu'] = f.cpu;
  if (f.memory) requests['memory'] = f.memory;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: f.namespace ?? 'default',
      uid: `uid-${name}`,
      labels: f.labels ?? {},
      ...(f.ownerUid
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: f.ownerUid, controller: true },
            ],
          }
        : {}),
    },
    spec: {
      containers: [
        {
          name: 'c',
          image: f.image ?? 'busybox',
          resources: { requests },
          ...(f.hostPort ? { ports: [{ containerPort: 80, hostPort: f.hostPort, protocol: 'TCP' }] } : {}),
        },
      ],
      ...(f.nodeName ? { nodeName: f.nodeName } : {}),
      ...(f.priority !== undefined ? { priority: f.priority } : {}),
      ...f.spec,
    },
  } as Pod;
}
