/**
 * The security context of a container: capabilities, users and groups, SELinux, seccomp and
 * AppArmor profiles; schemas (shared with the pod security context) and validation.
 */
import type { Static } from '@sinclair/typebox';
import type { StatusCause } from '../../../lib/index.js';
import { bool, int64, object, str, stringList } from '../../schema/fields.js';
import { checkSupported, invalidCause, requiredCause } from '../../validation/field-causes.js';

export const SELinuxOptionsSchema = object(
  'io.k8s.api.core.v1.SELinuxOptions',
  'SELinuxOptions are the labels to be applied to the container',
  {
    user: str('User is a SELinux user label that applies to the container.'),
    role: str('Role is a SELinux role label that applies to the container.'),
    type: str('Type is a SELinux type label that applies to the container.'),
    level: str('Level is SELinux level label that applies to the container.'),
  },
);

export const WindowsSecurityContextOptionsSchema = object(
  'io.k8s.api.core.v1.WindowsSecurityContextOptions',
  'WindowsSecurityContextOptions contain Windows-specific options and credentials.',
  {
    gmsaCredentialSpecName: str('GMSACredentialSpecName is the name of the GMSA credential spec to use.'),
    gmsaCredentialSpec: str(
      'GMSACredentialSpec is where the GMSA admission webhook inlines the contents of the GMSA credential spec.',
    ),
    runAsUserName: str('The UserName in Windows to run the entrypoint of the container process.'),
    hostProcess: bool("HostProcess determines if a container should be run as a 'Host Process' container."),
  },
);

const profile = (name: string, what: string) =>
  object(
    name,
    `${what} profile settings.`,
    {
      type: str(`type indicates which kind of ${what} profile will be applied.`),
      localhostProfile: str('localhostProfile indicates a profile loaded on the node that should be used.'),
    },
    {
      required: ['type'],
      extra: {
        'x-kubernetes-unions': [
          { discriminator: 'type', 'fields-to-discriminateBy': { localhostProfile: 'LocalhostProfile' } },
        ],
      },
    },
  );

export const SeccompProfileSchema = profile('io.k8s.api.core.v1.SeccompProfile', 'seccomp');
export const AppArmorProfileSchema = profile('io.k8s.api.core.v1.AppArmorProfile', 'AppArmor');

export const SecurityContextSchema = object(
  'io.k8s.api.core.v1.SecurityContext',
  'SecurityContext holds security configuration that will be applied to a container.',
  {
    capabilities: object(
      'io.k8s.api.core.v1.Capabilities',
      'Adds and removes POSIX capabilities from running containers.',
      {
        add: stringList('Added capabilities', { 'x-kubernetes-list-type': 'atomic' }),
        drop: stringList('Removed capabilities', { 'x-kubernetes-list-type': 'atomic' }),
      },
    ),
    privileged: bool(
      'Run container in privileged mode. Processes in privileged containers are essentially equivalent to root on the host. Defaults to false.',
    ),
    seLinuxOptions: SELinuxOptionsSchema,
    windowsOptions: WindowsSecurityContextOptionsSchema,
    runAsUser: int64('The UID to run the entrypoint of the container process.'),
    runAsGroup: int64('The GID to run the entrypoint of the container process.'),
    runAsNonRoot: bool('Indicates that the container must run as a non-root user.'),
    readOnlyRootFilesystem: bool('Whether this container has a read-only root filesystem. Default is false.'),
    allowPrivilegeEscalation: bool(
      'AllowPrivilegeEscalation controls whether a process can gain more privileges than its parent process.',
    ),
    procMount: str(
      'procMount denotes the type of proc mount to use for the containers. The default value is Default.',
    ),
    seccompProfile: SeccompProfileSchema,
    appArmorProfile: AppArmorProfileSchema,
  },
);

export type SecurityContext = Static<typeof SecurityContextSchema>;

/** A container's security context (upstream `ValidateSecurityContext`), at `path`. */
export function validateSecurityContext(causes: StatusCause[], sc: SecurityContext, path: string): void {
  if (sc.runAsUser !== undefined && (sc.runAsUser < 0 || sc.runAsUser > 2147483647)) {
    causes.push(
      invalidCause(`${path}.runAsUser`, sc.runAsUser, 'must be between 0 and 2147483647, inclusive'),
    );
  }
  if (sc.runAsGroup !== undefined && (sc.runAsGroup < 0 || sc.runAsGroup > 2147483647)) {
    causes.push(
      invalidCause(`${path}.runAsGroup`, sc.runAsGroup, 'must be between 0 and 2147483647, inclusive'),
    );
  }
  if (sc.allowPrivilegeEscalation === false && sc.privileged === true) {
    causes.push(
      invalidCause(path, sc, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'),
    );
  }
  checkSupported(causes, `${path}.procMount`, sc.procMount, ['Default', 'Unmasked']);
  if (sc.seccompProfile)
    validateProfile(causes, sc.seccompProfile, `${path}.seccompProfile`, [
      'RuntimeDefault',
      'Unconfined',
      'Localhost',
    ]);
  if (sc.appArmorProfile)
    validateProfile(causes, sc.appArmorProfile, `${path}.appArmorProfile`, [
      'RuntimeDefault',
      'Unconfined',
      'Localhost',
    ]);
}

export function validateProfile(
  causes: StatusCause[],
  prof: { type?: string; localhostProfile?: string },
  path: string,
  types: readonly string[],
): void {
  if (!prof.type) {
    causes.push(requiredCause(`${path}.type`));
    return;
  }
  checkSupported(causes, `${path}.type`, prof.type, types);
  if (prof.type === 'Localhost' && !prof.localhostProfile)
    causes.push(requiredCause(`${path}.localhostProfile`, 'must be set when seccomp type is Localhost'));
  if (prof.type !== 'Localhost' && prof.localhostProfile)
    causes.push(
      invalidCause(
        `${path}.localhostProfile`,
        prof.localhostProfile,
        'can only be set when seccomp type is Localhost',
      ),
    );
}
