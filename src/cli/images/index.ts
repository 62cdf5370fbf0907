/**
 * hyperctl image commands (`pull`, `images`, `rmi`, `load`, `save`, `login`, `logout`) as
 * functions over an `ImageService` (in-process or the runtime daemon's client) and an injected
 * `CommandIO`, so hyperctl wires them and tests call them directly:
 *
 *   const code = await imageCommands.pull.run(images, ['busybox'], io);
 */
import type { ImageService } from '../../runtime/index.js';
import type { CommandIO } from './command-io.js';
import { runImages } from './images.js';
import { runLoad, runSave } from './load-save.js';
import { runLogin, runLogout } from './login.js';
import { runPull } from './pull.js';
import { runRmi } from './rmi.js';

export type { CommandIO } from './command-io.js';
export { runPull, PullRenderer } from './pull.js';
export { runImages } from './images.js';
export { runRmi } from './rmi.js';
export { runLoad, runSave } from './load-save.js';
export { runLogin, runLogout } from './login.js';
export { findCredentials } from './docker-config-file.js';

export type ImageCommand = (images: ImageService, argv: readonly string[], io: CommandIO) => Promise<number>;

/** The image commands with their one-line summaries, for hyperctl's command table and help. */
export const imageCommands: Readonly<
  Record<string, { readonly summary: string; readonly run: ImageCommand }>
> = {
  images: { summary: 'List images', run: runImages },
  load: { summary: 'Load images from a tar archive (docker-archive or OCI layout)', run: runLoad },
  login: { summary: 'Log in to a registry', run: runLogin },
  logout: { summary: 'Log out from a registry', run: runLogout },
  pull: { summary: 'Pull an image from a registry', run: runPull },
  rmi: { summary: 'Remove one or more images', run: runRmi },
  save: { summary: 'Save images to a tar archive', run: runSave },
};
