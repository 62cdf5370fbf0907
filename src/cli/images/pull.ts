/**
 * `hyperctl pull [--platform os/arch] IMAGE`: pulls through the image service with credentials
 * from the docker-style config, showing per-layer progress bars on a terminal and one line per
 * layer state change otherwise (as `docker pull` does).
 */
import type { ImageService, PullProgress } from '../../runtime/index.js';
import { errorLine, parseFlags, registryOfReference, UsageError, type CommandIO } from './command-io.js';
import { findCredentials } from './docker-config-file.js';
import { humanSize } from './format.js';

const usage = 'Usage: hyperctl pull [--platform os/arch] [-q] IMAGE[:TAG|@DIGEST]\n';

function bar(current: number, total: number): string {
  const width = 50;
  const filled = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  const arrow = filled < width ? '>' : '';
  return `[${'='.repeat(Math.max(0, filled - (arrow ? 1 : 0)))}${arrow}${' '.repeat(width - Math.max(filled, arrow ? 1 : 0))}]`;
}

/** Renders progress events as docker does: one status per layer. */
export class PullRenderer {
  readonly #io: CommandIO;
  readonly #order: string[] = [];
  readonly #status = new Map<string, string>();
  #drawn = 0;
  #lastDraw = 0;
  #downloaded = false;

  constructor(io: CommandIO) {
    this.#io = io;
  }

  get downloaded(): boolean {
    return this.#downloaded;
  }

  #set(id: string, status: string, force = false): void {
    if (!this.#order.includes(id)) this.#order.push(id);
    const changed = this.#status.get(id) !== status;
    this.#status.set(id, status);
    if (this.#io.isTTY) {
      const now = Date.now();
      if (force || now - this.#lastDraw > 100) {
        this.#lastDraw = now;
        this.redraw();
      }
    } else if (changed && !status.startsWith('Downloading')) {
      this.#io.stdout.write(`${id}: ${status}\n`);
    }
  }

  /** Redraws the block of layer lines in place (cursor up, clear line). */
  redraw(): void {
    let out = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : '';
    for (const id of this.#order) out += `\x1b[2K${id}: ${this.#status.get(id) ?? ''}\n`;
    this.#drawn = this.#order.length;
    this.#io.stdout.write(out);
  }

  onProgress(p: PullProgress): void {
    if (!p.digest || p.phase === 'resolve' || p.phase === 'done') return;
    const id = p.digest.replace(/^sha256:/, '').slice(0, 12);
    switch (p.phase) {
      case 'download':
        this.#downloaded = true;
        if (!this.#status.has(id)) this.#set(id, 'Pulling fs layer', true);
        if ((p.currentBytes ?? 0) > 0)
          this.#set(
            id,
            `Downloading ${bar(p.currentBytes ?? 0, p.totalBytes ?? 0)} ${humanSize(p.currentBytes ?? 0)}/${humanSize(p.totalBytes ?? 0)}`,
          );
        break;
      case 'verify':
        this.#set(id, 'Verifying Checksum', true);
        this.#set(id, 'Download complete', true);
        break;
      case 'exists':
        this.#set(id, 'Already exists', true);
        break;
      case 'unpack':
        this.#set(id, 'Extracting', true);
        break;
    }
  }

  finish(): void {
    for (const id of this.#order) {
      const s = this.#status.get(id) ?? '';
      if (s !== 'Already exists') this.#set(id, 'Pull complete', true);
    }
    if (this.#io.isTTY && this.#order.length > 0) this.redraw();
  }
}

/** Runs `hyperctl pull`; returns the exit code. */
export async function runPull(images: ImageService, argv: readonly string[], io: CommandIO): Promise<number> {
  let ref: string;
  let platform: string | undefined;
  let quiet = false;
  try {
    const { flags, args } = parseFlags(argv, {
      platform: { takesValue: true },
      quiet: { short: 'q' },
      help: { short: 'h' },
    });
    if (flags.has('help')) {
      io.stdout.write(usage);
      return 0;
    }
    if (args.length !== 1) throw new UsageError('"pull" requires exactly 1 argument');
    ref = args[0]!;
    const p = flags.get('platform');
    platform = typeof p === 'string' ? p : undefined;
    quiet = flags.has('quiet');
  } catch (err) {
    io.stderr.write(`hyperctl pull: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const hasTagOrDigest = ref.includes('@') || ref.lastIndexOf(':') > ref.lastIndexOf('/');
  const renderer = new PullRenderer(quiet ? { ...io, stdout: { write: () => undefined } } : io);
  try {
    const registry = registryOfReference(ref);
    const auth = await findCredentials(io.authConfigPath, registry);
    if (!hasTagOrDigest && !quiet) io.stdout.write('Using default tag: latest\n');
    const tagOrDigest = ref.includes('@')
      ? ref.slice(ref.indexOf('@') + 1)
      : hasTagOrDigest
        ? ref.slice(ref.lastIndexOf(':') + 1)
        : 'latest';
    const repo = ref.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
    if (!quiet) io.stdout.write(`${tagOrDigest}: Pulling from ${repo}\n`);
    let topDigest = '';
    const rec = await images.pullImage(ref, {
      ...(platform ? { platform } : {}),
      ...(auth ? { auth } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
      onProgress: (p) => {
        if (p.phase === 'done' && p.digest) topDigest = p.digest;
        renderer.onProgress(p);
      },
    });
    renderer.finish();
    const full = hasTagOrDigest ? ref : `${ref}:latest`;
    if (quiet) {
      io.stdout.write(`${full}\n`);
      return 0;
    }
    const digest = topDigest || (rec.repoDigests[0]?.split('@')[1] ?? '');
    if (digest) io.stdout.write(`Digest: ${digest}\n`);
    io.stdout.write(
      renderer.downloaded
        ? `Status: Downloaded newer image for ${full}\n`
        : `Status: Image is up to date for ${full}\n`,
    );
    io.stdout.write(`${full}\n`);
    return 0;
  } catch (err) {
    io.stderr.write(errorLine('pull', err));
    return 1;
  }
}
