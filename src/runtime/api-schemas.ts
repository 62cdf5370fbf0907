/**
 * Schemas of everything the runtime daemon reads from outside: request bodies and query
 * strings of its API, and its own state files after a restart. One TypeBox definition gives
 * the runtime check (`parseWith`), the static type (checked against runtime-service.ts at the
 * bottom of this file) and a JSON Schema for docs/runtime.md.
 *
 * Limits are part of the schema: a request cannot make the daemon hold unbounded lists.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ContainerConfig, LinuxContainerResources, PodSandboxConfig } from './runtime-service.js';

const Str = (max = 4096) => Type.String({ maxLength: max });
const StrMap = (maxEntries = 256) =>
  Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 64 * 1024 }), {
    maxProperties: maxEntries,
  });

/** Names end up in paths (log files, state dirs): no slashes, no dot-only names. */
export const objectNamePattern = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$';
const Name = Type.String({ pattern: objectNamePattern });

const KeyValue = Type.Object({ key: Str(1024), value: Str(128 * 1024) }, { additionalProperties: false });

export const HandlerNameSchema = Type.Union([Type.Literal('hyper'), Type.Literal('runc')]);

const SandboxInterface = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,15}$' }),
    hostDevice: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,15}$' })),
    mac: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' })),
    addresses: Type.Array(Str(64), { maxItems: 16 }),
    mtu: Type.Optional(Type.Integer({ minimum: 68, maximum: 65535 })),
  },
  { additionalProperties: false },
);

const SandboxRoute = Type.Object(
  { destination: Str(64), gateway: Type.Optional(Str(64)), device: Type.Optional(Str(15)) },
  { additionalProperties: false },
);

const Metadata = Type.Object(
  {
    name: Name,
    uid: Str(128),
    namespace: Str(253),
    attempt: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);

export const PodSandboxConfigSchema = Type.Object(
  {
    metadata: Metadata,
    hostname: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$' })),
    logDirectory: Type.Optional(Type.String({ maxLength: 1024, pattern: '^/' })),
    dnsConfig: Type.Optional(
      Type.Object(
        {
          servers: Type.Array(Str(64), { maxItems: 16 }),
          searches: Type.Array(Str(253), { maxItems: 32 }),
          options: Type.Array(Str(128), { maxItems: 32 }),
        },
        { additionalProperties: false },
      ),
    ),
    portMappings: Type.Optional(
      Type.Array(
        Type.Object(
          {
            protocol: Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')]),
            containerPort: Type.Integer({ minimum: 1, maximum: 65535 }),
            hostPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
            hostIp: Type.Optional(Str(64)),
          },
          { additionalProperties: false },
        ),
        { maxItems: 256 },
      ),
    ),
    labels: Type.Optional(StrMap()),
    annotations: Type.Optional(StrMap()),
    network: Type.Optional(
      Type.Object(
        {
          netnsPath: Type.Optional(Type.String({ maxLength: 1024, pattern: '^/' })),
          interfaces: Type.Array(SandboxInterface, { maxItems: 16 }),
          routes: Type.Array(SandboxRoute, { maxItems: 256 }),
        },
        { additionalProperties: false },
      ),
    ),
    security: Type.Optional(
      Type.Object(
        {
          privileged: Type.Optional(Type.Boolean()),
          hostNetwork: Type.Optional(Type.Boolean()),
          hostPid: Type.Optional(Type.Boolean()),
          hostIpc: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          cpuMillis: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_024_000 })),
          memoryBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 50 })),
        },
        { additionalProperties: false },
      ),
    ),
    sysctls: Type.Optional(StrMap(128)),
  },
  { additionalProperties: false },
);

const MountSchema = Type.Object(
  {
    containerPath: Type.String({ minLength: 1, maxLength: 4096 }),
    hostPath: Type.String({ maxLength: 4096 }),
    readonly: Type.Optional(Type.Boolean()),
    type: Type.Optional(
      Type.Union([
        Type.Literal('bind'),
        Type.Literal('block'),
        Type.Literal('tmpfs'),
        Type.Literal('files'),
        Type.Literal('emptyDir'),
      ]),
    ),
    fsType: Type.Optional(Type.Union([Type.Literal('ext4'), Type.Literal('xfs')])),
    subPath: Type.Optional(Type.String({ minLength: 1, maxLength: 250 })),
    name: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' })),
    medium: Type.Optional(Type.Literal('Memory')),
    sizeLimitBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 50 })),
  },
  { additionalProperties: false },
);

export const SyncPodFilesSchema = Type.Object(
  { hostPath: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);

export const LinuxContainerResourcesSchema = Type.Object(
  {
    cpuPeriod: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    cpuQuota: Type.Optional(Type.Integer({ minimum: -1, maximum: 2 ** 40 })),
    cpuShares: Type.Optional(Type.Integer({ minimum: 0, maximum: 262_144 })),
    memoryLimitInBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 50 })),
    pidsLimit: Type.Optional(Type.Integer({ minimum: -1, maximum: 4_194_304 })),
  },
  { additionalProperties: false },
);

export const ContainerConfigSchema = Type.Object(
  {
    metadata: Type.Object(
      { name: Name, attempt: Type.Integer({ minimum: 0, maximum: 1_000_000 }) },
      { additionalProperties: false },
    ),
    image: Type.String({ minLength: 1, maxLength: 1024 }),
    command: Type.Optional(Type.Array(Str(128 * 1024), { maxItems: 4096 })),
    args: Type.Optional(Type.Array(Str(128 * 1024), { maxItems: 4096 })),
    workingDir: Type.Optional(Str(4096)),
    envs: Type.Optional(Type.Array(KeyValue, { maxItems: 4096 })),
    mounts: Type.Optional(Type.Array(MountSchema, { maxItems: 128 })),
    labels: Type.Optional(StrMap()),
    annotations: Type.Optional(StrMap()),
    logPath: Type.Optional(Str(1024)),
    stdin: Type.Optional(Type.Boolean()),
    stdinOnce: Type.Optional(Type.Boolean()),
    tty: Type.Optional(Type.Boolean()),
    terminationMessagePath: Type.Optional(Type.String({ minLength: 2, maxLength: 250, pattern: '^/' })),
    terminationMessageFallbackToLogs: Type.Optional(Type.Boolean()),
    resources: Type.Optional(LinuxContainerResourcesSchema),
    security: Type.Optional(
      Type.Object(
        {
          privileged: Type.Optional(Type.Boolean()),
          capabilities: Type.Optional(
            Type.Object(
              {
                addCapabilities: Type.Optional(Type.Array(Str(64), { maxItems: 64 })),
                dropCapabilities: Type.Optional(Type.Array(Str(64), { maxItems: 64 })),
              },
              { additionalProperties: false },
            ),
          ),
          runAsUser: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_294 })),
          runAsGroup: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_294 })),
          runAsUsername: Type.Optional(Str(256)),
          supplementalGroups: Type.Optional(
            Type.Array(Type.Integer({ minimum: 0, maximum: 4_294_967_294 }), { maxItems: 64 }),
          ),
          readonlyRootfs: Type.Optional(Type.Boolean()),
          noNewPrivs: Type.Optional(Type.Boolean()),
          seccompProfile: Type.Optional(
            Type.Union([Type.Literal('runtime/default'), Type.Literal('unconfined')]),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    stopSignal: Type.Optional(Type.String({ pattern: '^(SIG)?[A-Z0-9+-]{1,16}$|^[0-9]{1,2}$' })),
  },
  { additionalProperties: false },
);

export const RunPodSandboxRequestSchema = Type.Object(
  {
    config: PodSandboxConfigSchema,
    runtimeHandler: Type.Optional(Type.Union([HandlerNameSchema, Type.Literal('')])),
  },
  { additionalProperties: false },
);

export const CreateContainerRequestSchema = Type.Object(
  { podSandboxId: Type.String({ minLength: 1, maxLength: 64 }), config: ContainerConfigSchema },
  { additionalProperties: false },
);

export const StopContainerRequestSchema = Type.Object(
  { timeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })) },
  { additionalProperties: false },
);

export const ExecSyncRequestSchema = Type.Object(
  {
    cmd: Type.Array(Str(128 * 1024), { minItems: 1, maxItems: 4096 }),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
  },
  { additionalProperties: false },
);

export const PullImageRequestSchema = Type.Object(
  {
    ref: Type.String({ minLength: 1, maxLength: 1024 }),
    platform: Type.Optional(Str(64)),
    auth: Type.Optional(
      Type.Object(
        {
          username: Type.Optional(Str(1024)),
          password: Type.Optional(Str(16 * 1024)),
          identityToken: Type.Optional(Str(16 * 1024)),
        },
        { additionalProperties: false },
      ),
    ),
    /** PullOptions.unpack: also prepare the root filesystem as part of the pull. */
    unpack: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('layers'), Type.Literal('disk')])),
  },
  { additionalProperties: false },
);

export const SaveImagesRequestSchema = Type.Object(
  { refs: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { minItems: 1, maxItems: 256 }) },
  { additionalProperties: false },
);

export const TerminalSizeSchema = Type.Object(
  {
    width: Type.Integer({ minimum: 0, maximum: 65535 }),
    height: Type.Integer({ minimum: 0, maximum: 65535 }),
  },
  { additionalProperties: false },
);

/** The JSON error body of the API: `{ code, message, details }`. */
export const ErrorBodySchema = Type.Object({
  code: Type.String({ maxLength: 64 }),
  message: Type.String({ maxLength: 64 * 1024 }),
  details: Type.Optional(Type.Unknown()),
});

/** Compile-time proof that the schemas produce the contract's types. */
type Assert<T, _U extends T> = true;
export type SchemaChecks = [
  Assert<PodSandboxConfig, Static<typeof PodSandboxConfigSchema>>,
  Assert<ContainerConfig, Static<typeof ContainerConfigSchema>>,
  Assert<LinuxContainerResources, Static<typeof LinuxContainerResourcesSchema>>,
];
