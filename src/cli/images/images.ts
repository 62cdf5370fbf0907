/**
 * `hyperctl images [-q] [-a] [--no-trunc] [REPOSITORY[:TAG]]`: the local images as
 * `docker images` shows them: REPOSITORY TAG IMAGE ID CREATED SIZE, one row per tag
 * (`<none>` for untagged images), newest first.
 */
import type { ImageRecord, ImageService } from '../../runtime/index.js';
import { errorLine, parseFlags, type CommandIO } from './command-io.js';
import { humanDuration, humanSize, shortImageId, table } from './format.js';

const usage = 'Usage: hyperctl images [-q] [-a] [--no-trunc] [REPOSITORY[:TAG]]\n';

function splitTag(repoTag: string): [string, string] {
  const slash = repoTag.lastIndexOf('/');
  const colon = repoTag.lastIndexOf(':');
  return colon > slash ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)] : [repoTag, 'latest'];
}

function matches(filter: string, repo: string, tag: string): boolean {
  const [frepo, ftag] =
    filter.lastIndexOf(':') > filter.lastIndexOf('/') ? splitTag(filter) : [filter, undefined];
  return (
    (frepo === repo || `docker.io/library/${repo}` === frepo || `library/${repo}` === frepo) &&
    (ftag === undefined || ftag === tag)
  );
}

/** Runs `hyperctl images`; returns the exit code. */
export async function runImages(
  images: ImageService,
  argv: readonly string[],
  io: CommandIO,
): Promise<number> {
  let quiet: boolean;
  let noTrunc: boolean;
  let filter: string | undefined;
  try {
    const { flags, args } = parseFlags(argv, {
      quiet: { short: 'q' },
      all: { short: 'a' },
      'no-trunc': {},
      help: { short: 'h' },
    });
    if (flags.has('help')) {
      io.stdout.write(usage);
      return 0;
    }
    if (args.length > 1) throw new Error('"images" takes at most 1 argument');
    quiet = flags.has('quiet');
    noTrunc = flags.has('no-trunc');
    filter = args[0];
  } catch (err) {
    io.stderr.write(`hyperctl images: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  let list: readonly ImageRecord[];
  try {
    list = await images.listImages();
  } catch (err) {
    io.stderr.write(errorLine('images', err));
    return 1;
  }
  const now = io.now?.() ?? Date.now();
  const rows: string[][] = [];
  for (const img of list) {
    const id = noTrunc ? img.id : shortImageId(img.id);
    const created =
      img.created && !Number.isNaN(Date.parse(img.created))
        ? `${humanDuration(now - Date.parse(img.created))} ago`
        : 'N/A';
    const tags =
      img.repoTags.length > 0
        ? img.repoTags.map(splitTag)
        : [[img.repoDigests[0]?.split('@')[0] ?? '<none>', '<none>'] as [string, string]];
    for (const [repo, tag] of tags) {
      if (filter !== undefined && !matches(filter, repo, tag)) continue;
      rows.push([repo, tag, id, created, humanSize(img.sizeBytes)]);
    }
  }
  if (quiet) {
    io.stdout.write([...new Set(rows.map((r) => r[2]!))].map((id) => id + '\n').join(''));
    return 0;
  }
  io.stdout.write(table([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows]));
  return 0;
}
