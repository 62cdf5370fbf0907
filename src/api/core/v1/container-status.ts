/**
 * The status of one container as the node agent reports it (`status.containerStatuses` and
 * friends): its state, last state, restarts, image and resources.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { bool, int32, int64, list, object, str, time } from '../../schema/fields.js';
import { ResourceListSchema, ResourceRequirementsSchema } from './container.js';

/** The state of a container (one of waiting, running, terminated). */
export const ContainerStateSchema = object(
  'io.k8s.api.core.v1.ContainerState',
  'ContainerState holds a possible state of container. Only one of its members may be specified. If none of them is specified, the default one is ContainerStateWaiting.',
  {
    waiting: object(
      'io.k8s.api.core.v1.ContainerStateWaiting',
      'ContainerStateWaiting is a waiting state of a container.',
      {
        reason: str('(brief) reason the container is not yet running.'),
        message: str('Message regarding why the container is not yet running.'),
      },
    ),
    running: object(
      'io.k8s.api.core.v1.ContainerStateRunning',
      'ContainerStateRunning is a running state of a container.',
      {
        startedAt: time('Time at which the container was last (re-)started'),
      },
    ),
    terminated: object(
      'io.k8s.api.core.v1.ContainerStateTerminated',
      'ContainerStateTerminated is a terminated state of a container.',
      {
        exitCode: int32('Exit status from the last termination of the container'),
        signal: int32('Signal from the last termination of the container'),
        reason: str('(brief) reason from the last termination of the container'),
        message: str('Message regarding the last termination of the container'),
        startedAt: time('Time at which previous execution of the container started'),
        finishedAt: time('Time at which the container last terminated'),
        containerID: str("Container's ID in the format '<type>://<container_id>'"),
      },
      { required: ['exitCode'] },
    ),
  },
);

export const ContainerStatusSchema = object(
  'io.k8s.api.core.v1.ContainerStatus',
  'ContainerStatus contains details for the current status of this container.',
  {
    name: str('Name is a DNS_LABEL representing the unique name of the container.'),
    state: ContainerStateSchema,
    lastState: ContainerStateSchema,
    ready: bool('Ready specifies whether the container is currently passing its readiness check.'),
    restartCount: int32('RestartCount holds the number of times the container has been restarted.'),
    image: str('Image is the name of container image that the container is running.'),
    imageID: str("ImageID is the image ID of the container's image."),
    containerID: str("ContainerID is the ID of the container in the format '<type>://<container_id>'."),
    started: bool(
      'Started indicates whether the container has finished its postStart lifecycle hook and passed its startup probe.',
    ),
    allocatedResources: ResourceListSchema,
    resources: ResourceRequirementsSchema,
    volumeMounts: list(
      object(
        'io.k8s.api.core.v1.VolumeMountStatus',
        'VolumeMountStatus shows status of volume mounts.',
        {
          name: str('Name corresponds to the name of the original VolumeMount.'),
          mountPath: str('MountPath corresponds to the original VolumeMount.'),
          readOnly: bool('ReadOnly corresponds to the original VolumeMount.'),
          recursiveReadOnly: str(
            'RecursiveReadOnly must be set to Disabled, Enabled, or unspecified (for non-readonly mounts).',
          ),
        },
        { required: ['name', 'mountPath'] },
      ),
      'Status of volume mounts.',
      { mergeKey: 'mountPath', listType: 'map', mapKeys: ['mountPath'] },
    ),
    user: object('io.k8s.api.core.v1.ContainerUser', 'ContainerUser represents user identity information', {
      linux: object(
        'io.k8s.api.core.v1.LinuxContainerUser',
        'LinuxContainerUser represents user identity information in Linux containers',
        {
          uid: int64('UID is the primary uid initially attached to the first process in the container'),
          gid: int64('GID is the primary gid initially attached to the first process in the container'),
          supplementalGroups: int64List(
            'SupplementalGroups are the supplemental groups initially attached to the first process in the container',
          ),
        },
        { required: ['uid', 'gid'] },
      ),
    }),
    stopSignal: str('StopSignal reports the effective stop signal for this container'),
  },
  { required: ['name', 'ready', 'restartCount', 'image', 'imageID'] },
);

function int64List(description: string): TSchema {
  return list(int64('A group id.'), description, { listType: 'atomic' });
}

export type ContainerStatus = Static<typeof ContainerStatusSchema>;
