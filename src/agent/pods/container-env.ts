/**
 * The environment of a container as kubelet builds it (`makeEnvironmentVariables`): service
 * links first (lowest precedence), then `envFrom` in order, then `env` in order, each later
 * name overriding an earlier one; `$(VAR)` in values expands against everything defined
 * before it. Values come from ConfigMaps, Secrets, the pod's own fields (downward API) and the
 * container's resources.
 *
 * A missing ConfigMap, Secret or key that is not `optional` is a config error: the container
 * is not created (CreateContainerConfigError) and the pod worker retries, so the container
 * starts once the object appears.
 */
import { parseQuantity, type ConfigMap, type Container, type Pod, type Secret } from '../../api/index.js';
import { invalid, notFound } from '../../lib/index.js';
import { expandVars } from './expand-vars.js';

export interface EnvPair {
  readonly key: string;
  readonly value: string;
}

/** Where env values come from; both lookups resolve undefined for a missing object. */
export interface EnvSources {
  findConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  findSecret(namespace: string, name: string): Promise<Secret | undefined>;
  /** Service link variables for the pod's namespace (`serviceLinkEnv`), lowest precedence. */
  readonly serviceEnv: readonly EnvPair[];
  /** The node's allocatable, for resourceFieldRef of a limit the container does not set. */
  readonly nodeAllocatable: Readonly<Record<string, string>>;
}

/** The pod's addresses as the agent knows them (the API's status may not have them yet). */
export interface PodAddresses {
  readonly podIPs: readonly string[];
  readonly hostIPs: readonly string[];
}

/** Resolves `container`'s environment. @throws NotFound / Invalid naming the missing source. */
export async function containerEnv(
  pod: Pod,
  container: Container,
  sources: EnvSources,
  addresses: PodAddresses,
): Promise<EnvPair[]> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env = new Map<string, string>();
  for (const { key, value } of sources.serviceEnv) env.set(key, value);
  const lookup = (name: string): string | undefined => env.get(name);

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const ref = from.configMapRef;
      const cm = await sources.findConfigMap(namespace, ref.name ?? '');
      if (!cm) {
        if (ref.optional) continue;
        throw notFound(`configmap "${ref.name ?? ''}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) setIfValidName(env, prefix + k, v);
    } else if (from.secretRef) {
      const ref = from.secretRef;
      const secret = await sources.findSecret(namespace, ref.name ?? '');
      if (!secret) {
        if (ref.optional) continue;
        throw notFound(`secret "${ref.name ?? ''}" not found`);
      }
      for (const [k, v] of Object.entries(secret.data ?? {}))
        setIfValidName(env, prefix + k, decodeBase64(v));
    }
  }

  for (const e of container.env ?? []) {
    const src = e.valueFrom;
    if (!src) {
      env.set(e.name ?? '', expandVars(e.value ?? '', lookup));
      continue;
    }
    if (src.fieldRef) {
      env.set(e.name ?? '', podFieldValue(pod, src.fieldRef.fieldPath ?? '', addresses));
    } else if (src.resourceFieldRef) {
      const ref = src.resourceFieldRef;
      const target =
        ref.containerName && ref.containerName !== container.name
          ? [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find(
              (c) => c.name === ref.containerName,
            )
          : container;
      if (!target)
        throw invalid(`resourceFieldRef names container "${ref.containerName ?? ''}", which does not exist`);
      env.set(
        e.name ?? '',
        resourceFieldValue(target, ref.resource ?? '', ref.divisor, sources.nodeAllocatable),
      );
    } else if (src.configMapKeyRef) {
      const ref = src.configMapKeyRef;
      const cm = await sources.findConfigMap(namespace, ref.name ?? '');
      const value =
        cm?.data?.[ref.key ?? ''] ??
        (cm?.binaryData?.[ref.key ?? ''] !== undefined
          ? decodeBase64(cm.binaryData[ref.key ?? ''] ?? '')
          : undefined);
      if (value === undefined) {
        if (ref.optional) continue;
        throw notFound(
          cm
            ? `couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name ?? ''}`
            : `configmap "${ref.name ?? ''}" not found`,
        );
      }
      env.set(e.name ?? '', value);
    } else if (src.secretKeyRef) {
      const ref = src.secretKeyRef;
      const secret = await sources.findSecret(namespace, ref.name ?? '');
      const raw = secret?.data?.[ref.key ?? ''];
      if (raw === undefined) {
        if (ref.optional) continue;
        throw notFound(
          secret
            ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name ?? ''}`
            : `secret "${ref.name ?? ''}" not found`,
        );
      }
      env.set(e.name ?? '', decodeBase64(raw));
    }
  }
  return [...env].map(([key, value]) => ({ key, value }));
}

/** The value of a downward-API field path (env vars and downwardAPI volumes). */
export function podFieldValue(pod: Pod, fieldPath: string, addresses: PodAddresses): string {
  const meta = pod.metadata ?? {};
  const subscript = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (subscript) {
    const map = subscript[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[subscript[2] ?? ''] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return addresses.hostIPs[0] ?? '';
    case 'status.hostIPs':
      return addresses.hostIPs.join(',');
    case 'status.podIP':
      return addresses.podIPs[0] ?? '';
    case 'status.podIPs':
      return addresses.podIPs.join(',');
    default:
      throw invalid(`Unsupported fieldPath "${fieldPath}"`);
  }
}

/**
 * A container's resource as `resourceFieldRef` exposes it: divided by the divisor and rounded
 * up (upstream `ExtractContainerResourceValue`); a limit the container does not set is the
 * node's allocatable.
 */
export function resourceFieldValue(
  container: Container,
  resource: string,
  divisor: string | number | undefined,
  nodeAllocatable: Readonly<Record<string, string>>,
): string {
  const [kind, name] = resource.split('.', 2) as [string, string | undefined];
  if (!name || (kind !== 'limits' && kind !== 'requests'))
    throw invalid(`Unsupported resource "${resource}"`);
  const set = kind === 'limits' ? container.resources?.limits : container.resources?.requests;
  let raw = set?.[name];
  // Upstream: an unset request defaults to the limit; an unset limit to the node's allocatable.
  if (raw === undefined && kind === 'requests') raw = container.resources?.limits?.[name];
  if (raw === undefined && kind === 'limits') raw = nodeAllocatable[name];
  if (raw === undefined) return '0';
  const div = divisor === undefined || divisor === '' || divisor === 0 ? 1 : parseQuantity(divisor);
  if (div <= 0) throw invalid(`Invalid divisor "${divisor}" for resource "${resource}"`);
  const value = parseQuantity(raw);
  return String(Math.ceil(roundTo6(value / div)));
}

function roundTo6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** `key="value"` lines, sorted, as the downward API renders label and annotation maps. */
export function formatMap(map: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map?.[k] ?? '')}`)
    .join('\n');
}

function setIfValidName(env: Map<string, string>, name: string, value: string): void {
  // Upstream (RelaxedEnvironmentVariableValidation, GA in 1.34, default since 1.32): any
  // printable ASCII except '='; invalid names are skipped, not fatal.
  if (name === '' || name.includes('=') || !/^[\x20-\x7e]+$/.test(name)) return;
  env.set(name, value);
}

function decodeBase64(v: string): string {
  return Buffer.from(v, 'base64').toString('utf8');
}
