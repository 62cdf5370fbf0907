/**
 * ServiceAccount, a mutating admission plugin on pod creates (upstream
 * `plugin/pkg/admission/serviceaccount`):
 *
 * - an empty `spec.serviceAccountName` becomes `default`;
 * - the account must exist, else 403 `error looking up service account ns/name: serviceaccount
 *   "name" not found` (for `default`, which the service-account controller creates with the
 *   namespace, it is looked up a few times first, as upstream does);
 * - unless `automountServiceAccountToken` is false on the pod (or, when the pod does not say,
 *   on the account), a projected volume `kube-api-access-<5 random>` (a bound token expiring in
 *   3607 s at `token`, `ca.crt` from the ConfigMap `kube-root-ca.crt`, and the `namespace`) is
 *   added and mounted read-only at `/var/run/secrets/kubernetes.io/serviceaccount` in every
 *   container and init container that has nothing mounted there yet;
 * - a pod without `imagePullSecrets` gets the account's.
 */
import type { KubeObject } from '../../api/index.js';
import { isRecord, type Clock } from '../../lib/index.js';
import { randomNameSuffix } from '../registry/api-registry.js';
import type { StoredObjects } from '../serviceaccount/stored-objects.js';
import { admissionForbidden } from './admission-forbidden.js';
import type { AdmissionAttributes, AdmissionRequest, MutatingAdmissionPlugin } from './admission-plugin.js';

export const serviceAccountTokenMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';
export const serviceAccountVolumePrefix = 'kube-api-access-';
/** Upstream's `WarnOnlyBoundTokenExpirationSeconds`. */
export const serviceAccountTokenExpirationSeconds = 3607;
export const rootCaConfigMapName = 'kube-root-ca.crt';

/** How often `default` is looked up before a pod is refused (upstream: 10 tries, 100–200 ms apart). */
const defaultAccountAttempts = 10;
const retryIntervalMs = 150;

type Container = { volumeMounts?: { name?: string; mountPath?: string; readOnly?: boolean }[] };
type PodSpec = {
  serviceAccountName?: string;
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  imagePullSecrets?: unknown[];
  volumes?: { name?: string }[];
  containers?: Container[];
  initContainers?: Container[];
};

export function serviceAccountTokenVolume(name: string): Record<string, unknown> {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: serviceAccountTokenExpirationSeconds, path: 'token' } },
        { configMap: { name: rootCaConfigMapName, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
}

export class ServiceAccountAdmission implements MutatingAdmissionPlugin {
  readonly name = 'ServiceAccount';
  readonly readsObject = true;
  readonly #objects: StoredObjects;
  readonly #clock: Clock;
  readonly #suffix: () => string;

  constructor(deps: { objects: StoredObjects; clock: Clock; nameSuffix?: () => string }) {
    this.#objects = deps.objects;
    this.#clock = deps.clock;
    this.#suffix = deps.nameSuffix ?? randomNameSuffix;
  }

  handles(request: AdmissionRequest): boolean {
    return (
      request.operation === 'CREATE' &&
      request.group === '' &&
      request.resource === 'pods' &&
      request.subresource === undefined
    );
  }

  /** @throws Forbidden when the pod's service account does not exist */
  async admit(attributes: AdmissionAttributes): Promise<void> {
    const pod = attributes.object;
    if (!pod || attributes.namespace === undefined) return;
    if (!isRecord(pod['spec'])) pod['spec'] = {};
    const spec = pod['spec'] as PodSpec;
    // Mirror pods (static pods of a node) have no account; h8s has none, but keep upstream's rule.
    if (pod.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined) return;
    if (!spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount || 'default';
    const name = spec.serviceAccountName;
    const sa = await this.#findAccount(attributes.namespace, name);
    if (!sa) {
      throw admissionForbidden(
        attributes,
        `error looking up service account ${attributes.namespace}/${name}: serviceaccount "${name}" not found`,
      );
    }
    const automount =
      spec.automountServiceAccountToken ??
      (sa['automountServiceAccountToken'] as boolean | undefined) ??
      true;
    if (automount) this.#mountToken(spec);
    const pullSecrets = sa['imagePullSecrets'];
    if ((spec.imagePullSecrets?.length ?? 0) === 0 && Array.isArray(pullSecrets) && pullSecrets.length > 0) {
      spec.imagePullSecrets = structuredClone(pullSecrets);
    }
  }

  async #findAccount(namespace: string, name: string): Promise<KubeObject | undefined> {
    const attempts = name === 'default' ? defaultAccountAttempts : 1;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await this.#clock.sleep(retryIntervalMs);
      const sa = await this.#objects.find('ServiceAccount', namespace, name);
      if (sa) return sa;
    }
    return undefined;
  }

  #mountToken(spec: PodSpec): void {
    const existing = spec.volumes?.find((v) => v.name?.startsWith(serviceAccountVolumePrefix));
    const volumeName = existing?.name ?? `${serviceAccountVolumePrefix}${this.#suffix()}`;
    const mount = { name: volumeName, readOnly: true, mountPath: serviceAccountTokenMountPath };
    let isNeeded = false;
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      // A container that mounts something at the path already keeps it.
      if (c.volumeMounts?.some((m) => m.mountPath === serviceAccountTokenMountPath)) continue;
      (c.volumeMounts ??= []).push({ ...mount });
      isNeeded = true;
    }
    if (!existing && isNeeded) (spec.volumes ??= []).push(serviceAccountTokenVolume(volumeName));
  }
}
