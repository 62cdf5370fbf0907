/**
 * A minimal image for handler-level tests that run below the image service: one unpacked
 * layer directory holding Debian's static busybox with its applet links, /etc/passwd and
 * /etc/group (root, nobody, and a `app` user 1000 in groups 1000 and `extra` 2000), plus an
 * ImageRecord describing it. Tests through the daemon use real images from the image service.
 */
import { copyFile, mkdir, symlink, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../lib/index.js';
import type { ImageRecord } from '../../images/index.js';

export const busyboxPath = '/usr/bin/busybox';

/** Builds the layer under `dir` (created) and returns its path. */
export async function buildBusyboxLayer(dir: string): Promise<string> {
  for (const d of ['bin', 'etc', 'tmp', 'root', 'home/app', 'var', 'proc', 'sys', 'dev']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  await chmod(join(dir, 'tmp'), 0o1777);
  await copyFile(busyboxPath, join(dir, 'bin', 'busybox'));
  await chmod(join(dir, 'bin', 'busybox'), 0o755);
  const list = await execFile([busyboxPath, '--list'], { timeoutMs: 10_000 });
  for (const applet of list.stdout.split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox')) {
    await symlink('busybox', join(dir, 'bin', applet)).catch(alreadyLinked);
  }
  await writeFile(
    join(dir, 'etc', 'passwd'),
    [
      'root:x:0:0:root:/root:/bin/sh',
      'app:x:1000:1000:app:/home/app:/bin/sh',
      'nobody:x:65534:65534::/:/bin/false',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'etc', 'group'),
    ['root:x:0:', 'app:x:1000:', 'extra:x:2000:app', 'nogroup:x:65534:', ''].join('\n'),
  );
  return dir;
}

/** An ImageRecord for the busybox layer (no registry behind it). */
export function busyboxImageRecord(overrides: Partial<ImageRecord['config']> = {}): ImageRecord {
  return {
    id: 'sha256:' + 'b'.repeat(64),
    repoTags: ['local/busybox:test'],
    repoDigests: [],
    sizeBytes: 2_000_000,
    created: '',
    os: 'linux',
    architecture: 'amd64',
    chainId: 'sha256:' + 'c'.repeat(64),
    config: {
      entrypoint: [],
      cmd: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      workingDir: '',
      user: '',
      exposedPorts: [],
      labels: {},
      stopSignal: '',
      ...overrides,
    },
  };
}

/** Applets listed twice (or a layer built again over itself) find their link there already. */
function alreadyLinked(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}
