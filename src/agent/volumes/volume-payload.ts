/**
 * The files of a pod's ConfigMap, Secret, downward-API and projected volumes, as kubelet's
 * volume plugins build them: every key (or the listed `items`) becomes a file, with the item's
 * mode or the volume's `defaultMode` (0644). A missing object or key fails the volume
 * (FailedMount) unless the source is `optional`, in which case its files are simply absent.
 */
import type { ConfigMap, Pod, Secret, Volume } from '../../api/index.js';
import { invalid, notFound } from '../../lib/index.js';
import { podFieldValue, resourceFieldValue, type PodAddresses } from '../pods/container-env.js';
import type { PayloadFile } from './atomic-writer.js';

export interface ServiceAccountToken {
  readonly token: string;
  /** ms since epoch */
  readonly expiresAtMs: number;
  /** When a new token should be asked for (ms since epoch); default 80 % of the lifetime from now. */
  readonly refreshAtMs?: number;
}

export interface VolumeSources {
  findConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  findSecret(namespace: string, name: string): Promise<Secret | undefined>;
  /** A bound token for the pod's service account (TokenRequest). */
  requestToken(
    pod: Pod,
    audience: string | undefined,
    expirationSeconds: number,
  ): Promise<ServiceAccountToken>;
  readonly nodeAllocatable: Readonly<Record<string, string>>;
}

export interface BuiltPayload {
  readonly files: Map<string, PayloadFile>;
  /** Earliest expiry of a token in it (the volume must be rewritten before), if any. */
  readonly refreshBeforeMs: number | undefined;
}

type KeyToPath = { key?: string; path?: string; mode?: number };

function keyFiles(
  data: Readonly<Record<string, Uint8Array>>,
  items: readonly KeyToPath[] | undefined,
  mode: number,
  what: string,
  optional: boolean,
  out: Map<string, PayloadFile>,
): void {
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(data)) out.set(k, { data: v, mode });
    return;
  }
  for (const item of items) {
    const v = data[item.key ?? ''];
    if (v === undefined) {
      if (optional) continue;
      throw notFound(`configuration key "${item.key ?? ''}" not found in ${what}`);
    }
    out.set(item.path ?? '', { data: v, mode: item.mode ?? mode });
  }
}

function configMapData(cm: ConfigMap): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(v, 'utf8');
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
  return out;
}

function secretData(s: Secret): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64');
  return out;
}

type DownwardItem = {
  path?: string;
  mode?: number;
  fieldRef?: { fieldPath?: string };
  resourceFieldRef?: { containerName?: string; resource?: string; divisor?: string | number };
};

function downwardFiles(
  pod: Pod,
  items: readonly DownwardItem[],
  mode: number,
  addresses: PodAddresses,
  nodeAllocatable: Readonly<Record<string, string>>,
  out: Map<string, PayloadFile>,
): void {
  for (const item of items) {
    let value: string;
    if (item.fieldRef) value = podFieldValue(pod, item.fieldRef.fieldPath ?? '', addresses);
    else if (item.resourceFieldRef) {
      const ref = item.resourceFieldRef;
      const c = (pod.spec?.containers ?? []).find((x) => x.name === ref.containerName);
      if (!c)
        throw invalid(
          `downwardAPI item "${item.path ?? ''}" names container "${ref.containerName ?? ''}", which does not exist`,
        );
      value = resourceFieldValue(c, ref.resource ?? '', ref.divisor, nodeAllocatable);
    } else continue;
    out.set(item.path ?? '', { data: Buffer.from(value, 'utf8'), mode: item.mode ?? mode });
  }
}

/** Whether the agent writes this volume as files (the others are mounts of other kinds). */
export function isFileVolume(v: Volume): boolean {
  return (
    v.configMap !== undefined ||
    v.secret !== undefined ||
    v.downwardAPI !== undefined ||
    v.projected !== undefined
  );
}

/** Builds the files of one file volume. @throws NotFound for a missing non-optional source. */
export async function buildVolumePayload(
  pod: Pod,
  volume: Volume,
  sources: VolumeSources,
  addresses: PodAddresses,
  nowMs: number,
): Promise<BuiltPayload> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const files = new Map<string, PayloadFile>();
  let refreshBeforeMs: number | undefined;

  if (volume.configMap) {
    const src = volume.configMap;
    const cm = await sources.findConfigMap(namespace, src.name ?? '');
    if (!cm) {
      if (!src.optional) throw notFound(`configmap "${src.name ?? ''}" not found`);
    } else
      keyFiles(
        configMapData(cm),
        src.items,
        src.defaultMode ?? 0o644,
        `ConfigMap "${src.name ?? ''}"`,
        src.optional ?? false,
        files,
      );
  } else if (volume.secret) {
    const src = volume.secret;
    const s = await sources.findSecret(namespace, src.secretName ?? '');
    if (!s) {
      if (!src.optional) throw notFound(`secret "${src.secretName ?? ''}" not found`);
    } else
      keyFiles(
        secretData(s),
        src.items,
        src.defaultMode ?? 0o644,
        `Secret "${src.secretName ?? ''}"`,
        src.optional ?? false,
        files,
      );
  } else if (volume.downwardAPI) {
    downwardFiles(
      pod,
      volume.downwardAPI.items ?? [],
      volume.downwardAPI.defaultMode ?? 0o644,
      addresses,
      sources.nodeAllocatable,
      files,
    );
  } else if (volume.projected) {
    const mode = volume.projected.defaultMode ?? 0o644;
    for (const p of volume.projected.sources ?? []) {
      if (p.configMap) {
        const cm = await sources.findConfigMap(namespace, p.configMap.name ?? '');
        if (!cm) {
          if (!p.configMap.optional) throw notFound(`configmap "${p.configMap.name ?? ''}" not found`);
          continue;
        }
        keyFiles(
          configMapData(cm),
          p.configMap.items,
          mode,
          `ConfigMap "${p.configMap.name ?? ''}"`,
          p.configMap.optional ?? false,
          files,
        );
      } else if (p.secret) {
        const s = await sources.findSecret(namespace, p.secret.name ?? '');
        if (!s) {
          if (!p.secret.optional) throw notFound(`secret "${p.secret.name ?? ''}" not found`);
          continue;
        }
        keyFiles(
          secretData(s),
          p.secret.items,
          mode,
          `Secret "${p.secret.name ?? ''}"`,
          p.secret.optional ?? false,
          files,
        );
      } else if (p.downwardAPI) {
        downwardFiles(pod, p.downwardAPI.items ?? [], mode, addresses, sources.nodeAllocatable, files);
      } else if (p.serviceAccountToken) {
        const t = p.serviceAccountToken;
        const expirationSeconds = t.expirationSeconds ?? 3607;
        const token = await sources.requestToken(pod, t.audience || undefined, expirationSeconds);
        // Upstream's token manager renews at 80% of the token's lifetime.
        const refreshAt = token.refreshAtMs ?? nowMs + Math.floor((token.expiresAtMs - nowMs) * 0.8);
        refreshBeforeMs = refreshBeforeMs === undefined ? refreshAt : Math.min(refreshBeforeMs, refreshAt);
        // Token files are private to the pod's user (upstream writes them 0600 unless fsGroup).
        files.set(t.path ?? 'token', {
          data: Buffer.from(token.token, 'utf8'),
          mode: volume.projected.defaultMode ?? 0o644,
        });
      }
    }
  }
  return { files, refreshBeforeMs };
}
