/**
 * hyperd's pod file (`hyperctl run -p pod.json|pod.yaml`, reference/hypervisor-runtime.md
 * §3.3): a pod with several containers and shared volumes. Parsed with a schema, so a
 * malformed file is refused with the field that is wrong; fields hyperd had that h8s does not
 * run (services, interfaces, port mappings, files) are refused by name rather than ignored.
 *
 * Mapping: `entrypoint` is the container's command and `command` its arguments (Docker's
 * ENTRYPOINT/CMD), `resource.vcpu`/`resource.memory` (MiB) size the pod, volume `format`
 * `vfs` (or none) is a host directory bind, `raw`/`qcow2` a block volume formatted with
 * `fstype`; a volume without `source` is a fresh tmpfs.
 */
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { invalid, parseWith } from '../../lib/index.js';
import type { ContainerConfig, Mount, PodSandboxConfig } from '../../runtime/index.js';

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' });

const PodfileContainerSchema = Type.Object(
  {
    name: Type.Optional(Name),
    image: Type.String({ minLength: 1, maxLength: 1024 }),
    command: Type.Optional(Type.Array(Type.String(), { maxItems: 4096 })),
    entrypoint: Type.Optional(Type.Array(Type.String(), { maxItems: 4096 })),
    envs: Type.Optional(
      Type.Array(
        Type.Object(
          { env: Type.String({ minLength: 1 }), value: Type.String() },
          { additionalProperties: false },
        ),
        { maxItems: 4096 },
      ),
    ),
    workdir: Type.Optional(Type.String({ pattern: '^/' })),
    tty: Type.Optional(Type.Boolean()),
    readOnly: Type.Optional(Type.Boolean()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    volumes: Type.Optional(
      Type.Array(
        Type.Object(
          {
            path: Type.String({ pattern: '^/' }),
            volume: Type.String({ minLength: 1 }),
            readOnly: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { maxItems: 128 },
      ),
    ),
  },
  { additionalProperties: false },
);

const PodfileSchema = Type.Object(
  {
    id: Type.Optional(Name),
    hostname: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$' })),
    type: Type.Optional(Type.String()),
    tty: Type.Optional(Type.Boolean()),
    restartPolicy: Type.Optional(Type.Literal('never')),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    resource: Type.Optional(
      Type.Object(
        {
          vcpu: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
          memory: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 * 1024 * 1024 })),
        },
        { additionalProperties: false },
      ),
    ),
    dns: Type.Optional(Type.Array(Type.String(), { maxItems: 16 })),
    dnsSearch: Type.Optional(Type.Array(Type.String(), { maxItems: 32 })),
    dnsOptions: Type.Optional(Type.Array(Type.String(), { maxItems: 32 })),
    containers: Type.Array(PodfileContainerSchema, { minItems: 1, maxItems: 64 }),
    volumes: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1 }),
            source: Type.Optional(Type.String()),
            format: Type.Optional(
              Type.Union([Type.Literal('vfs'), Type.Literal('raw'), Type.Literal('qcow2'), Type.Literal('')]),
            ),
            fstype: Type.Optional(Type.Union([Type.Literal('ext4'), Type.Literal('xfs'), Type.Literal('')])),
          },
          { additionalProperties: false },
        ),
        { maxItems: 128 },
      ),
    ),
  },
  { additionalProperties: false },
);

export type Podfile = Static<typeof PodfileSchema>;

const unsupported = ['services', 'interfaces', 'portmappings', 'files', 'portmappingWhiteLists', 'log'];

/** Parses the text of a pod file (JSON or YAML). @throws Invalid naming the field */
export function parsePodfile(text: string, source: string): Podfile {
  let doc: unknown;
  const trimmed = text.trimStart();
  try {
    doc = trimmed.startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw invalid(`Invalid pod file "${source}": ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalid(`Invalid pod file "${source}": it must be a JSON or YAML object`);
  }
  for (const key of unsupported) {
    if (key in doc) {
      throw invalid(`Invalid pod file "${source}": ${key}: h8s does not support "${key}" in pod files`, {
        details: { causes: [{ reason: 'FieldValueNotSupported', message: 'not supported', field: key }] },
      });
    }
  }
  const pod = parseWith(PodfileSchema, doc, `pod file "${source}"`);
  const names = new Set<string>();
  pod.containers.forEach((c, i) => {
    const n = c.name ?? `${pod.id ?? 'pod'}-${i}`;
    if (names.has(n))
      throw invalid(`Invalid pod file "${source}": containers[${i}].name: "${n}" is used twice`);
    names.add(n);
    for (const [j, v] of (c.volumes ?? []).entries()) {
      if (!(pod.volumes ?? []).some((pv) => pv.name === v.volume)) {
        throw invalid(
          `Invalid pod file "${source}": containers[${i}].volumes[${j}].volume: no pod volume named "${v.volume}"`,
        );
      }
    }
  });
  for (const [i, v] of (pod.volumes ?? []).entries()) {
    if (v.source && !v.source.startsWith('/')) {
      throw invalid(
        `Invalid pod file "${source}": volumes[${i}].source: "${v.source}" is not an absolute path`,
      );
    }
  }
  return pod;
}

export interface PodPlan {
  readonly sandbox: PodSandboxConfig;
  readonly containers: readonly ContainerConfig[];
}

/** The runtime configs for a parsed pod file. */
export function planFromPodfile(
  pod: Podfile,
  defaults: { name: string; uid: string; namespace: string },
): PodPlan {
  const name = pod.id ?? defaults.name;
  const res = pod.resource ?? {};
  const dns = pod.dns || pod.dnsSearch || pod.dnsOptions;
  const sandbox: PodSandboxConfig = {
    metadata: { name, uid: defaults.uid, namespace: defaults.namespace, attempt: 0 },
    ...(pod.hostname ? { hostname: pod.hostname } : {}),
    ...(pod.labels ? { labels: pod.labels } : {}),
    ...(res.vcpu !== undefined || res.memory !== undefined
      ? {
          resources: {
            ...(res.vcpu !== undefined ? { cpuMillis: res.vcpu * 1000 } : {}),
            ...(res.memory !== undefined ? { memoryBytes: res.memory * 1024 * 1024 } : {}),
          },
        }
      : {}),
    ...(dns
      ? {
          dnsConfig: { servers: pod.dns ?? [], searches: pod.dnsSearch ?? [], options: pod.dnsOptions ?? [] },
        }
      : {}),
  };
  const containers = pod.containers.map((c, i): ContainerConfig => {
    const mounts: Mount[] = (c.volumes ?? []).map((v) => {
      const pv = (pod.volumes ?? []).find((x) => x.name === v.volume);
      const readonly = v.readOnly ?? false;
      if (!pv?.source) return { containerPath: v.path, hostPath: '', type: 'tmpfs', readonly };
      if (pv.format === 'raw' || pv.format === 'qcow2') {
        return {
          containerPath: v.path,
          hostPath: pv.source,
          type: 'block',
          fsType: pv.fstype || 'ext4',
          readonly,
        };
      }
      return { containerPath: v.path, hostPath: pv.source, readonly };
    });
    const tty = c.tty ?? pod.tty ?? false;
    return {
      metadata: { name: c.name ?? `${name}-${i}`, attempt: 0 },
      image: c.image,
      ...(c.entrypoint?.length ? { command: c.entrypoint } : {}),
      ...(c.command?.length ? { args: c.command } : {}),
      ...(c.workdir ? { workingDir: c.workdir } : {}),
      ...(c.envs?.length ? { envs: c.envs.map((e) => ({ key: e.env, value: e.value })) } : {}),
      ...(mounts.length ? { mounts } : {}),
      ...(c.labels ? { labels: c.labels } : {}),
      ...(tty ? { tty: true, stdin: true } : {}),
      ...(c.readOnly ? { security: { readonlyRootfs: true } } : {}),
      ...(res.memory !== undefined ? { resources: { memoryLimitInBytes: res.memory * 1024 * 1024 } } : {}),
    };
  });
  return { sandbox, containers };
}
