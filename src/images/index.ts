/**
 * images: the node's OCI image service (DESIGN.md: Images): registry client, content store,
 * unpack, and root filesystems for VMs (disk images) and containers (layer trees).
 *
 * What it is not: anything that knows about pods or the runtime API.
 * Invariants: every blob is verified by digest before it is used; nothing unpacked lands
 * outside its root; a crash mid-pull never leaves a half image visible (records are written
 * atomically after every blob they name is verified; unpacked trees and disks are built in
 * temp paths and renamed into place, after both the blob digest and the diffID checked).
 * Layers unpack in a pool of worker threads (`sharedUnpackPool()`; the runtime daemon may
 * `warm()` it at start so the first pull does not wait for the workers to load).
 *
 * Use: `const images = await createImageService({ root: '/var/lib/h8s/images', log })`, then
 * the `ImageService` methods. Tests: `images/testing/` (a real registry and an image builder).
 */
export type * from './image-service.js';
export {
  createImageService,
  shortId,
  type ImageServiceOptions,
  type LocalImageService,
} from './local-image-service.js';
export { parseReference, familiarName, formatReference, type ImageReference } from './reference.js';
export type { DeviceNodePolicy } from './layer-unpacker.js';
export { UnpackPool, sharedUnpackPool, type UnpackPoolOptions } from './unpack-pool.js';
export { defaultMaxUnpackedBytes, defaultMaxUnpackedEntries } from './unpack-budget.js';
