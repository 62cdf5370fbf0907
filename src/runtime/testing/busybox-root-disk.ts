/**
 * A busybox root disk (ext4, built with `mkfs.ext4 -d` from runtime/testing's busybox layer)
 * and container specs over it, for the hyper handler's tests and benchmark, which run below
 * the image service. Tests through the daemon use real images from the image service.
 */
import { join } from 'node:path';
import { execFile } from '../../lib/index.js';
import type { ContainerConfig } from '../runtime-service.js';
import type { ContainerSpec } from '../sandbox-handler.js';
import type { RootDisk } from '../../images/index.js';
import { buildBusyboxLayer, busyboxImageRecord } from './busybox-layer.js';

/** Builds `<dir>/busybox.ext4` (64 MiB sparse) and returns it as a RootDisk. */
export async function buildBusyboxRootDisk(dir: string): Promise<RootDisk> {
  const layer = await buildBusyboxLayer(join(dir, 'busybox-layer'));
  const path = join(dir, 'busybox.ext4');
  await execFile(['mkfs.ext4', '-q', '-F', '-d', layer, path, '64M'], { timeoutMs: 60_000 });
  return { path, fsType: 'ext4', sizeBytes: 64 * 1024 * 1024 };
}

/** A container spec running `command` in the busybox image. */
export function busyboxContainer(
  disk: RootDisk,
  id: string,
  logDir: string,
  config: Partial<ContainerConfig> & { command?: readonly string[] },
): ContainerSpec {
  return {
    id,
    config: { metadata: { name: id, attempt: 0 }, image: 'local/busybox:test', ...config },
    image: busyboxImageRecord(),
    logPath: join(logDir, `${id}.log`),
    rootfs: { kind: 'disk', disk },
  };
}
