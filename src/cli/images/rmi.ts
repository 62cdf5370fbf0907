/**
 * `hyperctl rmi [-f] IMAGE...`: untags and removes images, printing `Untagged:` and `Deleted:`
 * lines as docker does. Each image is handled on its own; the exit code is 1 if any failed.
 */
import type { ImageService } from '../../runtime/index.js';
import { errorLine, parseFlags, type CommandIO } from './command-io.js';

const usage = 'Usage: hyperctl rmi [-f] IMAGE [IMAGE...]\n';

export async function runRmi(images: ImageService, argv: readonly string[], io: CommandIO): Promise<number> {
  let force: boolean;
  let refs: readonly string[];
  try {
    const { flags, args } = parseFlags(argv, { force: { short: 'f' }, 'no-prune': {}, help: { short: 'h' } });
    if (flags.has('help')) {
      io.stdout.write(usage);
      return 0;
    }
    if (args.length === 0) throw new Error('"rmi" requires at least 1 argument');
    force = flags.has('force');
    refs = args;
  } catch (err) {
    io.stderr.write(`hyperctl rmi: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  let code = 0;
  for (const ref of refs) {
    try {
      const before = await images.getImage(ref);
      await images.removeImage(ref, { force });
      const after = await images.findImage(before.id);
      const untagged = before.repoTags.filter((t) => !(after?.repoTags ?? []).includes(t));
      for (const t of untagged) io.stdout.write(`Untagged: ${t}\n`);
      if (!after) {
        for (const d of before.repoDigests) io.stdout.write(`Untagged: ${d}\n`);
        io.stdout.write(`Deleted: ${before.id}\n`);
      }
    } catch (err) {
      io.stderr.write(errorLine('rmi', err));
      code = 1;
    }
  }
  return code;
}
