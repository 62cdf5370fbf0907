/**
 * The contract of the node's image service (DESIGN.md: Images). The runtime daemon serves
 * it over its socket (the image half of the runtime API) and the `hyper` and `runc`
 * handlers use it to get root filesystems. It knows nothing about pods.
 *
 * References: `busybox`, `busybox:1.36`, `127.0.0.1:5000/team/app:v1`,
 * `registry/app@sha256:…`. A name without a registry means `docker.io` (library/ for
 * single-component names), as Docker does.
 *
 * Error codes: NotFound (unknown image locally or in the registry), Invalid (malformed
 * reference, manifest or layer), RequestEntityTooLarge (a manifest or config over its limit, an
 * image whose layers unpack past the service's limits), Unauthorized/Forbidden (registry auth),
 * ServiceUnavailable (registry unreachable or 5xx), Conflict (rmi of an image in use),
 * InternalError. The conformance suite is `images/testing/image-service-conformance.ts`.
 */

/** The runnable parts of an image config (OCI image config `config`). */
export interface ImageRuntimeConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: readonly string[];
  readonly workingDir: string;
  /** `user`, `uid`, `user:group` or `uid:gid`, as in the image config; '' = root. */
  readonly user: string;
  readonly exposedPorts: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly stopSignal: string;
}

export interface ImageRecord {
  /** `sha256:<hex>` of the image config (the image ID, as docker shows it). */
  readonly id: string;
  /** Repository tags referring to this image, e.g. `127.0.0.1:5000/busybox:latest`. */
  readonly repoTags: readonly string[];
  /** `repo@sha256:<manifest digest>` for each repository it was pulled from. */
  readonly repoDigests: readonly string[];
  /** Sum of the uncompressed layer sizes. */
  readonly sizeBytes: number;
  /** Image creation time from its config (ISO 8601), or '' when absent. */
  readonly created: string;
  readonly os: string;
  readonly architecture: string;
  /** Chain ID of the top layer (`sha256:<hex>`), the cache key of unpacked outputs. */
  readonly chainId: string;
  readonly config: ImageRuntimeConfig;
}

export interface PullProgress {
  /** `resolve` the manifest, then per-layer `download`/`verify`/`unpack`, then `done`. */
  readonly phase: 'resolve' | 'download' | 'verify' | 'unpack' | 'exists' | 'done';
  /** Digest of the blob this line is about, when it is about one. */
  readonly digest?: string;
  readonly currentBytes?: number;
  readonly totalBytes?: number;
  readonly message?: string;
}

export interface RegistryAuth {
  readonly username?: string;
  readonly password?: string;
  /** A bearer token given directly (identity token). */
  readonly identityToken?: string;
}

export interface PullOptions {
  /** `os/arch[/variant]`; default `linux/amd64`. */
  readonly platform?: string;
  /** Credentials for this pull; otherwise the docker-style config.json is consulted. */
  readonly auth?: RegistryAuth;
  readonly onProgress?: (p: PullProgress) => void;
  readonly signal?: AbortSignal;
  /**
   * Also prepare the image's root filesystem as part of the pull (added by images): `layers`
   * unpacks each layer for overlayfs as soon as it is downloaded (pipelined with the other
   * downloads), `disk` builds the VM root disk after the pull. Default `none`.
   */
  readonly unpack?: 'none' | 'layers' | 'disk';
}

/** The root filesystem of an image, as each handler consumes it. */
export interface RootDisk {
  /** Read-only disk image file (ext4 or erofs) of the whole unpacked image. */
  readonly path: string;
  readonly fsType: 'ext4' | 'erofs';
  readonly sizeBytes: number;
}

export interface LayerTree {
  /** Unpacked layer directories, lowest first; use them as overlayfs lowerdirs (reversed). */
  readonly lowerDirs: readonly string[];
}

export interface ImageService {
  /** Pulls `ref` (no-op for layers already present) and returns its record. */
  pullImage(ref: string, options?: PullOptions): Promise<ImageRecord>;
  listImages(): Promise<readonly ImageRecord[]>;
  /** The image `ref` names (tag, digest, or image ID prefix of at least 12 hex chars). @throws NotFound */
  getImage(ref: string): Promise<ImageRecord>;
  /** Like getImage but undefined when absent. */
  findImage(ref: string): Promise<ImageRecord | undefined>;
  /**
   * Removes the tag `ref` (or every tag of an image ID); the image's blobs go when nothing
   * refers to them. @throws Conflict when a running sandbox uses it, unless `force`.
   */
  removeImage(ref: string, options?: { force?: boolean }): Promise<void>;
  /** Loads a docker-archive or OCI-layout tarball; returns the images it held. */
  loadImage(tarPath: string, options?: { signal?: AbortSignal }): Promise<readonly ImageRecord[]>;
  /** Writes the given images as one docker-archive tarball (also readable as OCI layout). */
  saveImage(refs: readonly string[], tarPath: string, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * The read-only root disk for VM pods, built once per chain ID and cached.
   * @throws NotFound; RequestEntityTooLarge when the image unpacks past the service's limits
   */
  ensureRootDisk(ref: string, options?: { signal?: AbortSignal }): Promise<RootDisk>;
  /**
   * Unpacked layer directories for overlayfs (runc), cached per chain ID.
   * @throws NotFound; RequestEntityTooLarge when the image unpacks past the service's limits
   */
  ensureLayerTree(ref: string, options?: { signal?: AbortSignal }): Promise<LayerTree>;
  /** Marks an image as used by a sandbox/container so `removeImage` refuses (until released). */
  retain(ref: string, holder: string): Promise<void>;
  release(holder: string): Promise<void>;
  /** Deletes blobs and cached outputs no image refers to; returns bytes freed. */
  garbageCollect(): Promise<number>;
  /**
   * Checks credentials against a registry, as `hyperctl login` does before storing them
   * (added by images; the daemon's `/auth`; optional so existing implementations still compile).
   * Stores nothing.
   * @throws Unauthorized when the registry rejects them; ServiceUnavailable when unreachable
   */
  checkLogin?(registry: string, auth: RegistryAuth, options?: { signal?: AbortSignal }): Promise<void>;
}
