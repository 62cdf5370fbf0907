/**
 * The image service through the runtime socket: a runtime daemon (core and API server, no
 * sandbox handlers: only its image half is under test) on a temp socket, and the
 * `RuntimeClient`'s `images` pass the same ImageService conformance suite as the local service.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImageService } from '../images/index.js';
import { runImageServiceConformance } from '../images/testing/index.js';
import { nullLogger } from '../lib/index.js';
import { RuntimeClient } from './runtime-client.js';
import { createRuntimeCore } from './runtime-core.js';
import { createRuntimeServer } from './runtime-server.js';

runImageServiceConformance('runtime client over the daemon socket', async (options) => {
  const root = await mkdtemp(join(tmpdir(), 'h8s-rt-images-'));
  const endpoint = `unix://${join(root, 'rt.sock')}`;
  const local = await createImageService({ root: join(root, 'images'), log: nullLogger, ...options });
  const core = createRuntimeCore({
    root,
    images: local,
    handlers: [],
    defaultHandler: 'runc',
    version: 'test',
    log: nullLogger,
  });
  await core.start();
  const server = createRuntimeServer({ runtime: core, log: nullLogger, tmpDir: join(root, 'tmp') });
  await server.listen(endpoint);
  const client = new RuntimeClient({ endpoint });
  return {
    images: client.images,
    close: async () => {
      client.close();
      await server.close();
      await core.close();
      await local.flush();
      await rm(root, { recursive: true, force: true });
    },
  };
});
