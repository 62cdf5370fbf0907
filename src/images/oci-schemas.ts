/**
 * Schemas of the OCI image spec and Docker image formats we read from untrusted sources
 * (registries, tarballs). Parsed with `parseWith`, so a malformed document is an Invalid
 * error with field paths, never a crash. Unknown fields are allowed (the specs say so).
 */
import { Type, type Static } from '@sinclair/typebox';

export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** How a layer media type is compressed, or undefined for a type that is not a layer we know. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case mediaTypes.ociLayer:
    case mediaTypes.ociLayerNondistributable:
    case mediaTypes.dockerLayer:
      return 'none';
    case mediaTypes.ociLayerGzip:
    case mediaTypes.ociLayerNondistributableGzip:
    case mediaTypes.dockerLayerGzip:
    case mediaTypes.dockerForeignLayerGzip:
      return 'gzip';
    case mediaTypes.ociLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

export const manifestMediaTypes: readonly string[] = [mediaTypes.ociManifest, mediaTypes.dockerManifest];
export const indexMediaTypes: readonly string[] = [mediaTypes.ociIndex, mediaTypes.dockerManifestList];
export const configMediaTypes: readonly string[] = [mediaTypes.ociConfig, mediaTypes.dockerConfig];

const Annotations = Type.Record(Type.String({ maxLength: 65536 }), Type.String({ maxLength: 65536 }));

export const PlatformSchema = Type.Object({
  architecture: Type.String({ maxLength: 64 }),
  os: Type.String({ maxLength: 64 }),
  variant: Type.Optional(Type.String({ maxLength: 64 })),
  'os.version': Type.Optional(Type.String({ maxLength: 256 })),
});

export const DescriptorSchema = Type.Object({
  mediaType: Type.String({ maxLength: 256 }),
  digest: Type.String({ pattern: '^sha256:[a-f0-9]{64}$' }),
  size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  urls: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 64 })),
  annotations: Type.Optional(Annotations),
  platform: Type.Optional(PlatformSchema),
});
export type Descriptor = Static<typeof DescriptorSchema>;

export const ManifestSchema = Type.Object({
  schemaVersion: Type.Literal(2),
  mediaType: Type.Optional(Type.String({ maxLength: 256 })),
  config: DescriptorSchema,
  layers: Type.Array(DescriptorSchema, { maxItems: 1024 }),
  annotations: Type.Optional(Annotations),
});
export type Manifest = Static<typeof ManifestSchema>;

export const IndexSchema = Type.Object({
  schemaVersion: Type.Literal(2),
  mediaType: Type.Optional(Type.String({ maxLength: 256 })),
  manifests: Type.Array(DescriptorSchema, { maxItems: 4096 }),
  annotations: Type.Optional(Annotations),
});
export type ImageIndex = Static<typeof IndexSchema>;

const NullableStrings = Type.Union([
  Type.Array(Type.String({ maxLength: 1 << 20 }), { maxItems: 65536 }),
  Type.Null(),
]);
const NullableObject = Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]);

export const ImageConfigSchema = Type.Object({
  architecture: Type.Optional(Type.String({ maxLength: 64 })),
  os: Type.Optional(Type.String({ maxLength: 64 })),
  variant: Type.Optional(Type.String({ maxLength: 64 })),
  created: Type.Optional(Type.String({ maxLength: 64 })),
  config: Type.Optional(
    Type.Union([
      Type.Object({
        Entrypoint: Type.Optional(NullableStrings),
        Cmd: Type.Optional(NullableStrings),
        Env: Type.Optional(NullableStrings),
        WorkingDir: Type.Optional(Type.String({ maxLength: 4096 })),
        User: Type.Optional(Type.String({ maxLength: 256 })),
        ExposedPorts: Type.Optional(NullableObject),
        Labels: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
        StopSignal: Type.Optional(Type.String({ maxLength: 64 })),
      }),
      Type.Null(),
    ]),
  ),
  rootfs: Type.Object({
    type: Type.Literal('layers'),
    diff_ids: Type.Array(Type.String({ pattern: '^sha256:[a-f0-9]{64}$' }), { maxItems: 1024 }),
  }),
});
export type ImageConfig = Static<typeof ImageConfigSchema>;

/** `manifest.json` of a docker-archive tarball (`docker save`). */
export const DockerArchiveManifestSchema = Type.Array(
  Type.Object({
    Config: Type.String({ maxLength: 4096 }),
    RepoTags: Type.Optional(
      Type.Union([Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 4096 }), Type.Null()]),
    ),
    Layers: Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 1024 }),
  }),
  { maxItems: 4096 },
);

/** `oci-layout` marker file. */
export const OciLayoutSchema = Type.Object({ imageLayoutVersion: Type.String({ maxLength: 32 }) });

/** The token endpoint's answer (Docker token authentication spec). */
export const TokenResponseSchema = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 1 << 20 })),
  access_token: Type.Optional(Type.String({ maxLength: 1 << 20 })),
  expires_in: Type.Optional(Type.Number()),
  issued_at: Type.Optional(Type.String({ maxLength: 64 })),
  refresh_token: Type.Optional(Type.String({ maxLength: 1 << 20 })),
});

/** A docker-style `config.json` (`~/.docker/config.json`): only the parts we use. */
export const DockerConfigFileSchema = Type.Object({
  auths: Type.Optional(
    Type.Record(
      Type.String(),
      Type.Object({
        auth: Type.Optional(Type.String({ maxLength: 65536 })),
        username: Type.Optional(Type.String({ maxLength: 4096 })),
        password: Type.Optional(Type.String({ maxLength: 65536 })),
        identitytoken: Type.Optional(Type.String({ maxLength: 65536 })),
      }),
    ),
  ),
});
