/**
 * Pod volumes: the sources h8s serves (emptyDir, hostPath, secret, configMap, downwardAPI,
 * projected, persistentVolumeClaim, ephemeral, cinder, nfs, csi, image), their defaults and
 * validation. Cloud-provider sources upstream still carries (awsElasticBlockStore, gcePersistentDisk,
 * azureDisk, ...) are not served: they are rejected as unknown fields (docs/api-types.md).
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { LabelSelectorSchema } from '../../meta/v1/label-selector.js';
import { findQuantity, QUANTITY_INVALID_MESSAGE } from '../../resource/quantity.js';
import { bool, int32, int64, list, object, quantity, str, stringMap } from '../../schema/fields.js';
import {
  checkSupported,
  duplicateCause,
  forbiddenCause,
  invalidCause,
  requiredCause,
} from '../../validation/field-causes.js';
import { checkConfigMapKey, checkDns1123Label, checkDns1123Subdomain } from '../../validation/names.js';
import {
  ObjectFieldSelectorSchema,
  ResourceFieldSelectorSchema,
  validateFieldRef,
  validateResourceFieldRef,
} from './container.js';
import { LocalObjectReferenceSchema } from './object-reference.js';
import {
  applyClaimSpecDefaults,
  PersistentVolumeClaimTemplateSchema,
  validateClaimSpec,
} from './persistent-volume-claim-spec.js';

/** Filesystems h8s formats for block volumes (the value reaches mkfs, so it is a closed set). */
export const SUPPORTED_FS_TYPES = ['ext4', 'ext3', 'ext2', 'xfs', 'btrfs', 'vfat'] as const;

export const KeyToPathSchema = object(
  'io.k8s.api.core.v1.KeyToPath',
  'Maps a string key to a path within a volume.',
  {
    key: str('key is the key to project.'),
    path: str(
      "path is the relative path of the file to map the key to. May not be an absolute path. May not contain the path element '..'. May not start with the string '..'.",
    ),
    mode: int32(
      'mode is Optional: mode bits used to set permissions on this file. Must be an octal value between 0000 and 0777 or a decimal value between 0 and 511.',
    ),
  },
  { required: ['key', 'path'] },
);

export const DownwardAPIVolumeFileSchema = object(
  'io.k8s.api.core.v1.DownwardAPIVolumeFile',
  'DownwardAPIVolumeFile represents information to create the file containing the pod field',
  {
    path: str(
      "Required: Path is the relative path name of the file to be created. Must not be absolute or contain the '..' path.",
    ),
    fieldRef: ObjectFieldSelectorSchema,
    resourceFieldRef: ResourceFieldSelectorSchema,
    mode: int32(
      'Optional: mode bits used to set permissions on this file, must be an octal value between 0000 and 0777 or a decimal value between 0 and 511.',
    ),
  },
  { required: ['path'] },
);

const itemsList = (what: string) =>
  list(
    KeyToPathSchema,
    `items: if unspecified, each key-value pair in the Data field of the referenced ${what} will be projected into the volume as a file whose name is the key and content is the value.`,
    {
      listType: 'atomic',
    },
  );

export const SecretVolumeSourceSchema = object(
  'io.k8s.api.core.v1.SecretVolumeSource',
  "Adapts a Secret into a volume. The contents of the target Secret's Data field will be presented in a volume as files using the keys in the Data field as the file names.",
  {
    secretName: str("secretName is the name of the secret in the pod's namespace to use."),
    items: itemsList('Secret'),
    defaultMode: int32(
      'defaultMode is Optional: mode bits used to set permissions on created files by default. Defaults to 0644.',
    ),
    optional: bool('optional field specify whether the Secret or its keys must be defined'),
  },
);

export const ConfigMapVolumeSourceSchema = object(
  'io.k8s.api.core.v1.ConfigMapVolumeSource',
  "Adapts a ConfigMap into a volume. The contents of the target ConfigMap's Data field will be presented in a volume as files using the keys in the Data field as the file names.",
  {
    name: str('Name of the referent ConfigMap.'),
    items: itemsList('ConfigMap'),
    defaultMode: int32(
      'defaultMode is optional: mode bits used to set permissions on created files by default. Defaults to 0644.',
    ),
    optional: bool('optional specify whether the ConfigMap or its keys must be defined'),
  },
);

export const DownwardAPIVolumeSourceSchema = object(
  'io.k8s.api.core.v1.DownwardAPIVolumeSource',
  'DownwardAPIVolumeSource represents a volume containing downward API info.',
  {
    items: list(DownwardAPIVolumeFileSchema, 'Items is a list of downward API volume file', {
      listType: 'atomic',
    }),
    defaultMode: int32('Optional: mode bits to use on created files by default. Defaults to 0644.'),
  },
);

export const VolumeProjectionSchema = object(
  'io.k8s.api.core.v1.VolumeProjection',
  'Projection that may be projected along with other supported volume types. Exactly one of these fields must be set.',
  {
    secret: object('io.k8s.api.core.v1.SecretProjection', 'Adapts a secret into a projected volume.', {
      name: str('Name of the referent Secret.'),
      items: itemsList('Secret'),
      optional: bool('optional field specify whether the Secret or its key must be defined'),
    }),
    downwardAPI: object(
      'io.k8s.api.core.v1.DownwardAPIProjection',
      'Represents downward API info for projecting into a projected volume.',
      {
        items: list(DownwardAPIVolumeFileSchema, 'Items is a list of DownwardAPIVolume file', {
          listType: 'atomic',
        }),
      },
    ),
    configMap: object(
      'io.k8s.api.core.v1.ConfigMapProjection',
      'Adapts a ConfigMap into a projected volume.',
      {
        name: str('Name of the referent ConfigMap.'),
        items: itemsList('ConfigMap'),
        optional: bool('optional specify whether the ConfigMap or its keys must be defined'),
      },
    ),
    serviceAccountToken: object(
      'io.k8s.api.core.v1.ServiceAccountTokenProjection',
      'ServiceAccountTokenProjection represents a projected service account token volume.',
      {
        audience: str('audience is the intended audience of the token.'),
        expirationSeconds: int64(
          'expirationSeconds is the requested duration of validity of the service account token. Defaults to 1 hour and must be at least 10 minutes.',
        ),
        path: str('path is the path relative to the mount point of the file to project the token into.'),
      },
      { required: ['path'] },
    ),
    clusterTrustBundle: object(
      'io.k8s.api.core.v1.ClusterTrustBundleProjection',
      'ClusterTrustBundleProjection describes how to select a set of ClusterTrustBundle objects and project their contents into the pod filesystem.',
      {
        name: str('Select a single ClusterTrustBundle by object name.'),
        signerName: str('Select all ClusterTrustBundles that match this signer name.'),
        labelSelector: LabelSelectorSchema,
        optional: bool(
          "If true, don't block pod startup if the referenced ClusterTrustBundle(s) aren't available.",
        ),
        path: str('Relative path from the volume root to write the bundle.'),
      },
      { required: ['path'] },
    ),
  },
);

export const HostPathVolumeSourceSchema = object(
  'io.k8s.api.core.v1.HostPathVolumeSource',
  'Represents a host path mapped into a pod.',
  {
    path: str(
      'path of the directory on the host. If the path is a symlink, it will follow the link to the real path.',
    ),
    type: str('type for HostPath Volume. Defaults to ""'),
  },
  { required: ['path'] },
);

export const NFSVolumeSourceSchema = object(
  'io.k8s.api.core.v1.NFSVolumeSource',
  'Represents an NFS mount that lasts the lifetime of a pod.',
  {
    server: str('server is the hostname or IP address of the NFS server.'),
    path: str('path that is exported by the NFS server.'),
    readOnly: bool(
      'readOnly here will force the NFS export to be mounted with read-only permissions. Defaults to false.',
    ),
  },
  { required: ['server', 'path'] },
);

export const VolumeSchema = object(
  'io.k8s.api.core.v1.Volume',
  'Volume represents a named volume in a pod that may be accessed by any container in the pod.',
  {
    name: str('name of the volume. Must be a DNS_LABEL and unique within the pod.'),
    hostPath: HostPathVolumeSourceSchema,
    emptyDir: object('io.k8s.api.core.v1.EmptyDirVolumeSource', 'Represents an empty directory for a pod.', {
      medium: str(
        'medium represents what type of storage medium should back this directory. The default is "" which means to use the node\'s default medium. Must be an empty string (default) or Memory.',
      ),
      sizeLimit: quantity(
        'sizeLimit is the total amount of local storage required for this EmptyDir volume.',
      ),
    }),
    secret: SecretVolumeSourceSchema,
    nfs: NFSVolumeSourceSchema,
    persistentVolumeClaim: object(
      'io.k8s.api.core.v1.PersistentVolumeClaimVolumeSource',
      "PersistentVolumeClaimVolumeSource references the user's PVC in the same namespace.",
      {
        claimName: str(
          'claimName is the name of a PersistentVolumeClaim in the same namespace as the pod using this volume.',
        ),
        readOnly: bool('readOnly Will force the ReadOnly setting in VolumeMounts. Default false.'),
      },
      { required: ['claimName'] },
    ),
    cinder: object(
      'io.k8s.api.core.v1.CinderVolumeSource',
      'Represents a cinder volume resource in Openstack. A Cinder volume must exist before mounting to a container. In h8s the volume is attached straight into the pod VM.',
      {
        volumeID: str('volumeID used to identify the volume in cinder.'),
        fsType: str(
          'fsType is the filesystem type to mount. Must be a filesystem type supported by the host operating system. Examples: "ext4", "xfs". Implicitly inferred to be "ext4" if unspecified.',
        ),
        readOnly: bool(
          'readOnly defaults to false (read/write). ReadOnly here will force the ReadOnly setting in VolumeMounts.',
        ),
        secretRef: LocalObjectReferenceSchema,
      },
      { required: ['volumeID'] },
    ),
    downwardAPI: DownwardAPIVolumeSourceSchema,
    configMap: ConfigMapVolumeSourceSchema,
    csi: object(
      'io.k8s.api.core.v1.CSIVolumeSource',
      'Represents a source location of a volume to mount, managed by an external CSI driver',
      {
        driver: str('driver is the name of the CSI driver that handles this volume.'),
        readOnly: bool(
          'readOnly specifies a read-only configuration for the volume. Defaults to false (read/write).',
        ),
        fsType: str('fsType to mount. Ex. "ext4", "xfs", "ntfs".'),
        volumeAttributes: stringMap(
          'volumeAttributes stores driver-specific properties that are passed to the CSI driver.',
        ),
        nodePublishSecretRef: LocalObjectReferenceSchema,
      },
      { required: ['driver'] },
    ),
    projected: object('io.k8s.api.core.v1.ProjectedVolumeSource', 'Represents a projected volume source', {
      sources: list(
        VolumeProjectionSchema,
        'sources is the list of volume projections. Each entry in this list handles one source.',
        { listType: 'atomic' },
      ),
      defaultMode: int32(
        'defaultMode are the mode bits used to set permissions on created files by default.',
      ),
    }),
    ephemeral: object(
      'io.k8s.api.core.v1.EphemeralVolumeSource',
      'Represents an ephemeral volume that is handled by a normal storage driver.',
      {
        volumeClaimTemplate: PersistentVolumeClaimTemplateSchema,
      },
    ),
    image: object(
      'io.k8s.api.core.v1.ImageVolumeSource',
      'ImageVolumeSource represents a image volume resource.',
      {
        reference: str('Required: Image or artifact reference to be used.'),
        pullPolicy: str('Policy for pulling OCI objects. Possible values are: Always, Never, IfNotPresent.'),
      },
    ),
  },
  { required: ['name'] },
);

export type Volume = Static<typeof VolumeSchema>;

/** The volume source keys of a Volume (everything but `name`). */
export const VOLUME_SOURCE_KEYS = [
  'hostPath',
  'emptyDir',
  'secret',
  'nfs',
  'persistentVolumeClaim',
  'cinder',
  'downwardAPI',
  'configMap',
  'csi',
  'projected',
  'ephemeral',
  'image',
] as const;

const DEFAULT_MODE = 0o644;

/** Upstream `SetDefaults_Volume` and the per-source defaults (file modes 0644, emptyDir). */
export function applyVolumeDefaults(v: Volume): void {
  if (!VOLUME_SOURCE_KEYS.some((k) => v[k] !== undefined)) v.emptyDir = {};
  if (v.secret) v.secret.defaultMode ??= DEFAULT_MODE;
  if (v.configMap) v.configMap.defaultMode ??= DEFAULT_MODE;
  if (v.downwardAPI) {
    v.downwardAPI.defaultMode ??= DEFAULT_MODE;
    for (const item of v.downwardAPI.items ?? []) if (item.fieldRef) item.fieldRef.apiVersion ??= 'v1';
  }
  if (v.projected) {
    v.projected.defaultMode ??= DEFAULT_MODE;
    for (const s of v.projected.sources ?? []) {
      if (s.serviceAccountToken) s.serviceAccountToken.expirationSeconds ??= 3600;
      for (const item of s.downwardAPI?.items ?? []) if (item.fieldRef) item.fieldRef.apiVersion ??= 'v1';
    }
  }
  if (v.hostPath) v.hostPath.type ??= '';
  if (v.image) v.image.pullPolicy ??= imagePullPolicyFor(v.image.reference);
  if (v.ephemeral?.volumeClaimTemplate?.spec) applyClaimSpecDefaults(v.ephemeral.volumeClaimTemplate.spec);
}

function imagePullPolicyFor(ref: string | undefined): string {
  if (!ref || ref.includes('@')) return 'IfNotPresent';
  const tag = ref.slice(ref.lastIndexOf('/') + 1);
  return !tag.includes(':') || tag.endsWith(':latest') ? 'Always' : 'IfNotPresent';
}

function validateMode(causes: StatusCause[], mode: number | undefined, path: string): void {
  if (mode === undefined) return;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    causes.push(invalidCause(path, mode, 'must be a number between 0 and 0777 (octal), both inclusive'));
  }
}

/** Upstream `validateLocalDescendingPath`: relative, no '..' element. */
export function validateRelativePath(causes: StatusCause[], p: string | undefined, path: string): void {
  if (p === undefined || p === '') {
    causes.push(requiredCause(path));
    return;
  }
  if (p.startsWith('/')) causes.push(invalidCause(path, p, 'must be a relative path'));
  if (p.split('/').includes('..')) causes.push(invalidCause(path, p, "must not contain '..'"));
  else if (p.startsWith('..')) causes.push(invalidCause(path, p, "must not start with '..'"));
}

function validateItems(
  causes: StatusCause[],
  items: Static<typeof KeyToPathSchema>[] | undefined,
  path: string,
): void {
  (items ?? []).forEach((it, i) => {
    if (!it.key) causes.push(requiredCause(`${path}[${i}].key`));
    else
      for (const msg of checkConfigMapKey(it.key))
        causes.push(invalidCause(`${path}[${i}].key`, it.key, msg));
    validateRelativePath(causes, it.path, `${path}[${i}].path`);
    validateMode(causes, it.mode, `${path}[${i}].mode`);
  });
}

function validateDownwardItems(
  causes: StatusCause[],
  items: Static<typeof DownwardAPIVolumeFileSchema>[] | undefined,
  path: string,
): void {
  (items ?? []).forEach((it, i) => {
    const p = `${path}[${i}]`;
    validateRelativePath(causes, it.path, `${p}.path`);
    validateMode(causes, it.mode, `${p}.mode`);
    const n = (it.fieldRef ? 1 : 0) + (it.resourceFieldRef ? 1 : 0);
    if (n !== 1)
      causes.push(
        invalidCause(p, 'downwardAPI', 'fieldRef and resourceFieldRef can not be specified simultaneously'),
      );
    if (it.fieldRef) {
      validateFieldRef(causes, it.fieldRef, `${p}.fieldRef`, [
        'metadata.name',
        'metadata.namespace',
        'metadata.uid',
        'metadata.labels',
        'metadata.annotations',
      ]);
    }
    if (it.resourceFieldRef) {
      validateResourceFieldRef(causes, it.resourceFieldRef, `${p}.resourceFieldRef`);
      if (!it.resourceFieldRef.containerName)
        causes.push(requiredCause(`${p}.resourceFieldRef.containerName`));
    }
  });
}

/**
 * Upstream `ValidateVolumes`: names (DNS labels, unique), exactly one source, each source's
 * required fields. Returns the names and the names backed by claims (for mounts/devices).
 */
export function validateVolumes(
  causes: StatusCause[],
  volumes: readonly Volume[] | undefined,
  path: string,
): { names: Set<string>; claimNames: Set<string> } {
  const names = new Set<string>();
  const claimNames = new Set<string>();
  (volumes ?? []).forEach((v, i) => {
    const p = `${path}[${i}]`;
    if (!v.name) causes.push(requiredCause(`${p}.name`));
    else {
      for (const msg of checkDns1123Label(v.name)) causes.push(invalidCause(`${p}.name`, v.name, msg));
      if (names.has(v.name)) causes.push(duplicateCause(`${p}.name`, v.name));
      names.add(v.name);
    }
    const sources = VOLUME_SOURCE_KEYS.filter((k) => v[k] !== undefined);
    if (sources.length === 0) causes.push(requiredCause(p, 'must specify a volume type'));
    else if (sources.length > 1)
      causes.push(forbiddenCause(`${p}.${sources[1]}`, 'may not specify more than 1 volume type'));
    if (v.hostPath) {
      if (!v.hostPath.path) causes.push(requiredCause(`${p}.hostPath.path`));
      else if (v.hostPath.path.split('/').includes('..'))
        causes.push(invalidCause(`${p}.hostPath.path`, v.hostPath.path, "must not contain '..'"));
      checkSupported(causes, `${p}.hostPath.type`, v.hostPath.type, [
        '',
        'DirectoryOrCreate',
        'Directory',
        'FileOrCreate',
        'File',
        'Socket',
        'CharDevice',
        'BlockDevice',
      ]);
    }
    if (v.emptyDir) {
      checkSupported(causes, `${p}.emptyDir.medium`, v.emptyDir.medium, ['', 'Memory', 'HugePages']);
      if (v.emptyDir.sizeLimit !== undefined) {
        const q = findQuantity(v.emptyDir.sizeLimit);
        if (q === undefined)
          causes.push(
            invalidCause(`${p}.emptyDir.sizeLimit`, v.emptyDir.sizeLimit, QUANTITY_INVALID_MESSAGE),
          );
        else if (q < 0)
          causes.push(
            invalidCause(
              `${p}.emptyDir.sizeLimit`,
              v.emptyDir.sizeLimit,
              'must be greater than or equal to 0',
            ),
          );
      }
    }
    if (v.secret) {
      if (!v.secret.secretName) causes.push(requiredCause(`${p}.secret.secretName`));
      else
        for (const msg of checkDns1123Subdomain(v.secret.secretName))
          causes.push(invalidCause(`${p}.secret.secretName`, v.secret.secretName, msg));
      validateItems(causes, v.secret.items, `${p}.secret.items`);
      validateMode(causes, v.secret.defaultMode, `${p}.secret.defaultMode`);
    }
    if (v.configMap) {
      if (!v.configMap.name) causes.push(requiredCause(`${p}.configMap.name`));
      else
        for (const msg of checkDns1123Subdomain(v.configMap.name))
          causes.push(invalidCause(`${p}.configMap.name`, v.configMap.name, msg));
      validateItems(causes, v.configMap.items, `${p}.configMap.items`);
      validateMode(causes, v.configMap.defaultMode, `${p}.configMap.defaultMode`);
    }
    if (v.nfs) {
      if (!v.nfs.server) causes.push(requiredCause(`${p}.nfs.server`));
      if (!v.nfs.path) causes.push(requiredCause(`${p}.nfs.path`));
      else if (!v.nfs.path.startsWith('/'))
        causes.push(invalidCause(`${p}.nfs.path`, v.nfs.path, 'must be an absolute path'));
    }
    if (v.persistentVolumeClaim) {
      if (!v.persistentVolumeClaim.claimName)
        causes.push(requiredCause(`${p}.persistentVolumeClaim.claimName`));
      else if (v.name) claimNames.add(v.name);
    }
    if (v.cinder) {
      if (!v.cinder.volumeID) causes.push(requiredCause(`${p}.cinder.volumeID`));
      else if (!/^[A-Za-z0-9][-A-Za-z0-9_.]{0,254}$/.test(v.cinder.volumeID)) {
        causes.push(
          invalidCause(
            `${p}.cinder.volumeID`,
            v.cinder.volumeID,
            "must consist of alphanumeric characters, '-', '_' or '.'",
          ),
        );
      }
      checkSupported(
        causes,
        `${p}.cinder.fsType`,
        v.cinder.fsType === '' ? undefined : v.cinder.fsType,
        SUPPORTED_FS_TYPES,
      );
    }
    if (v.downwardAPI) {
      validateDownwardItems(causes, v.downwardAPI.items, `${p}.downwardAPI.items`);
      validateMode(causes, v.downwardAPI.defaultMode, `${p}.downwardAPI.defaultMode`);
    }
    if (v.csi) {
      if (!v.csi.driver) causes.push(requiredCause(`${p}.csi.driver`));
      else
        for (const msg of checkDns1123Subdomain(v.csi.driver.toLowerCase()))
          causes.push(invalidCause(`${p}.csi.driver`, v.csi.driver, msg));
    }
    if (v.projected) {
      validateMode(causes, v.projected.defaultMode, `${p}.projected.defaultMode`);
      const seenPaths = new Set<string>();
      (v.projected.sources ?? []).forEach((s, j) => {
        const sp = `${p}.projected.sources[${j}]`;
        const kinds = (
          ['secret', 'downwardAPI', 'configMap', 'serviceAccountToken', 'clusterTrustBundle'] as const
        ).filter((k) => s[k] !== undefined);
        if (kinds.length !== 1)
          causes.push(forbiddenCause(sp, 'may not specify more than 1 volume type per source'));
        if (s.secret) validateItems(causes, s.secret.items, `${sp}.secret.items`);
        if (s.configMap) validateItems(causes, s.configMap.items, `${sp}.configMap.items`);
        if (s.downwardAPI) validateDownwardItems(causes, s.downwardAPI.items, `${sp}.downwardAPI.items`);
        if (s.serviceAccountToken) {
          validateRelativePath(causes, s.serviceAccountToken.path, `${sp}.serviceAccountToken.path`);
          const exp = s.serviceAccountToken.expirationSeconds;
          if (exp !== undefined && exp < 600)
            causes.push(
              invalidCause(
                `${sp}.serviceAccountToken.expirationSeconds`,
                exp,
                'may not specify a duration less than 10 minutes',
              ),
            );
          if (exp !== undefined && exp > 2 ** 32)
            causes.push(
              invalidCause(
                `${sp}.serviceAccountToken.expirationSeconds`,
                exp,
                'may not specify a duration larger than 2^32 seconds',
              ),
            );
        }
        if (s.clusterTrustBundle)
          validateRelativePath(causes, s.clusterTrustBundle.path, `${sp}.clusterTrustBundle.path`);
        for (const it of [
          ...(s.secret?.items ?? []),
          ...(s.configMap?.items ?? []),
          ...(s.downwardAPI?.items ?? []),
        ]) {
          if (it.path === undefined) continue;
          if (seenPaths.has(it.path))
            causes.push(invalidCause(`${sp}`, it.path, 'conflicting duplicate paths'));
          seenPaths.add(it.path);
        }
      });
    }
    if (v.ephemeral) {
      if (!v.ephemeral.volumeClaimTemplate) causes.push(requiredCause(`${p}.ephemeral.volumeClaimTemplate`));
      else {
        validateClaimSpec(
          causes,
          v.ephemeral.volumeClaimTemplate.spec,
          `${p}.ephemeral.volumeClaimTemplate.spec`,
        );
        if (v.name) claimNames.add(v.name);
      }
    }
    if (v.image) {
      if (!v.image.reference) causes.push(requiredCause(`${p}.image.reference`));
      checkSupported(causes, `${p}.image.pullPolicy`, v.image.pullPolicy, [
        'Always',
        'IfNotPresent',
        'Never',
      ]);
    }
  });
  return { names, claimNames };
}
