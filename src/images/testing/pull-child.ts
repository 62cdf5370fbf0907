/**
 * A separate process that pulls one image into a store root, for crash tests: the test kills
 * it with SIGKILL in the middle of the pull and then checks the store.
 *
 *   node --import tsx src/images/testing/pull-child.ts <root> <ref>
 *
 * Prints `progress <bytes>` lines while downloading and `done <image id>` at the end.
 */
import { nullLogger } from '../../lib/index.js';
import { createImageService } from '../local-image-service.js';

const [root, ref] = process.argv.slice(2);
if (!root || !ref) {
  process.stderr.write('usage: pull-child.ts ROOT REF\n');
  process.exit(2);
}
const images = await createImageService({ root, log: nullLogger });
const rec = await images.pullImage(ref, {
  unpack: 'layers',
  onProgress: (p) => {
    if (p.phase === 'download' && (p.currentBytes ?? 0) > 0)
      process.stdout.write(`progress ${p.currentBytes}\n`);
  },
});
process.stdout.write(`done ${rec.id}\n`);
