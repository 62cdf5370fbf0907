/** The local image service passes the ImageService conformance suite. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger } from '../lib/index.js';
import { createImageService } from './index.js';
import { runImageServiceConformance } from './testing/index.js';

runImageServiceConformance('local', async (options) => {
  const root = await mkdtemp(join(tmpdir(), 'h8s-images-local-'));
  const images = await createImageService({ root, log: nullLogger, ...options });
  return {
    images,
    close: async () => {
      await images.flush();
      await rm(root, { recursive: true, force: true });
    },
  };
});
