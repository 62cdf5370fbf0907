/**
 * A pod's volumes on the node (kubelet's volume manager, for the kinds the agent handles
 * itself): file volumes (configMap, secret, downwardAPI, projected) written with the atomic
 * writer under `<podsDir>/<uid>/volumes/<kind>/<name>` and refreshed while the pod runs; emptyDir
 * and hostPath handed to the runtime as mounts (ADR 0008). The runtime attaches them: runc by
 * bind mounts, hyper by copying file volumes into the guest and keeping them current.
 *
 * hostPath is refused for VM pods (a clear event, the pod fails): a VM has its own kernel and a
 * host path would hand a tenant the node's filesystem.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { parseQuantity, type Container, type Pod, type Volume } from '../../api/index.js';
import { forbidden, invalid, type Logger } from '../../lib/index.js';
import type { Mount, RuntimeHandlerName } from '../../runtime/index.js';
import type { PodAddresses } from '../pods/container-env.js';
import { checkPayloadPath, writeAtomically } from './atomic-writer.js';
import { buildVolumePayload, isFileVolume, type VolumeSources } from './volume-payload.js';

export interface PodVolumesOptions {
  readonly podsDir: string;
  readonly sources: VolumeSources;
  readonly log: Logger;
  readonly now: () => number;
}

/** A volume failed to set up: the FailedMount event names it. */
export class VolumeSetupError extends Error {
  constructor(
    readonly volume: string,
    cause: unknown,
  ) {
    super(
      `MountVolume.SetUp failed for volume "${volume}" : ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'VolumeSetupError';
  }
}

function kindDir(v: Volume): string {
  if (v.configMap) return 'configmap';
  if (v.secret) return 'secret';
  if (v.downwardAPI) return 'downward-api';
  return 'projected';
}

/** The volume kinds a pod may use on `handler`; throws Forbidden for the others. */
export function checkVolumesAllowed(pod: Pod, handler: RuntimeHandlerName): void {
  for (const v of pod.spec?.volumes ?? []) {
    if (v.hostPath && handler === 'hyper') {
      throw forbidden(
        `Volume "${v.name ?? ''}" is a hostPath volume, which VM pods (RuntimeClass handler hyper) cannot use: a VM has its own kernel and no access to the node's files; use runtimeClassName: runc`,
      );
    }
  }
}

export class PodVolumes {
  readonly #o: PodVolumesOptions;
  /** uid → earliest time a token in its volumes must be renewed */
  readonly #refreshAt = new Map<string, number>();

  constructor(options: PodVolumesOptions) {
    this.#o = options;
  }

  dirOf(uid: string): string {
    return join(this.#o.podsDir, uid);
  }

  #volumeDir(uid: string, v: Volume): string {
    return join(this.dirOf(uid), 'volumes', kindDir(v), v.name ?? '');
  }

  /**
   * Writes every file volume of the pod (only the changed ones change on disk). Returns the
   * directories whose content changed.
   * @throws VolumeSetupError naming the first volume that failed.
   */
  async writeFileVolumes(pod: Pod, addresses: PodAddresses): Promise<string[]> {
    const uid = pod.metadata?.uid ?? '';
    const changed: string[] = [];
    let refreshAt: number | undefined;
    for (const v of pod.spec?.volumes ?? []) {
      if (!isFileVolume(v)) continue;
      try {
        const built = await buildVolumePayload(pod, v, this.#o.sources, addresses, this.#o.now());
        const dir = this.#volumeDir(uid, v);
        if (await writeAtomically(dir, built.files)) changed.push(dir);
        if (built.refreshBeforeMs !== undefined)
          refreshAt = Math.min(refreshAt ?? Infinity, built.refreshBeforeMs);
      } catch (err) {
        throw new VolumeSetupError(v.name ?? '', err);
      }
    }
    if (refreshAt === undefined) this.#refreshAt.delete(uid);
    else this.#refreshAt.set(uid, refreshAt);
    return changed;
  }

  /** When the pod's tokens must be renewed next, if it has any. */
  tokenRefreshAt(uid: string): number | undefined {
    return this.#refreshAt.get(uid);
  }

  /** The runtime mounts of one container from its volumeMounts. @throws Invalid for a bad mount */
  mountsFor(pod: Pod, container: Container): Mount[] {
    const uid = pod.metadata?.uid ?? '';
    const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name ?? '', v]));
    const mounts: Mount[] = [];
    for (const vm of container.volumeMounts ?? []) {
      const v = volumes.get(vm.name ?? '');
      if (!v)
        throw invalid(
          `volumeMount "${vm.name ?? ''}" of container "${container.name ?? ''}" names no volume of the pod`,
        );
      const subPath = vm.subPath ?? '';
      if (subPath) checkPayloadPath(subPath);
      const containerPath = vm.mountPath ?? '';
      const readonly = vm.readOnly ?? false;
      const sub = subPath ? { subPath } : {};
      if (isFileVolume(v)) {
        mounts.push({
          type: 'files',
          hostPath: this.#volumeDir(uid, v),
          containerPath,
          readonly: true,
          ...sub,
        });
      } else if (v.emptyDir) {
        const limit = v.emptyDir.sizeLimit;
        mounts.push({
          type: 'emptyDir',
          hostPath: '',
          name: v.name ?? '',
          containerPath,
          readonly,
          ...(v.emptyDir.medium === 'Memory' ? { medium: 'Memory' as const } : {}),
          ...(limit === undefined ? {} : { sizeLimitBytes: Math.ceil(parseQuantity(limit)) }),
          ...sub,
        });
      } else if (v.hostPath) {
        mounts.push({ type: 'bind', hostPath: v.hostPath.path ?? '', containerPath, readonly, ...sub });
      } else {
        const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
        throw invalid(`Volume "${v.name ?? ''}" of type "${kind}" is not supported on this node yet`);
      }
    }
    return mounts;
  }

  /** Removes everything of a pod's volumes on the node. */
  async cleanup(uid: string): Promise<void> {
    this.#refreshAt.delete(uid);
    // PRIVILEGED: removes the pod's own directory under the agent's data dir; the uid comes
    // from the runtime's labels or the API, never from a tenant path.
    if (!/^[0-9a-zA-Z-]{1,64}$/.test(uid)) throw invalid(`Invalid pod uid "${uid}"`);
    await rm(this.dirOf(uid), { recursive: true, force: true });
  }
}
