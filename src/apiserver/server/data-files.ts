/** Reading the server's own files under its data dir (credentials, certificates). */
import { readFile } from 'node:fs/promises';

/** The text of `path`, or undefined when it does not exist. @throws other read errors */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
