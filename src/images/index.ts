/**
 * images: the node's OCI image service (DESIGN.md: Images): registry client, content store,
 * unpack, and root filesystems for VMs (disk images) and containers (layer trees).
 *
 * What it is not: anything that knows about pods or the runtime API.
 * Invariants: every blob is verified by digest before it is used; nothing unpacked lands
 * outside its root; a crash mid-pull never leaves a half image visible.
 */
export type * from './image-service.js';
