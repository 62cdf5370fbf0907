/**
 * `hyperctl load [-i FILE] [-q]` and `hyperctl save [-o FILE] IMAGE...`: docker-archive / OCI
 * layout tarballs. Without `-i`, load reads the tarball from stdin; without `-o`, save writes it
 * to stdout (and refuses when stdout is a terminal, as docker does).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ImageService } from '../../runtime/index.js';
import { errorLine, parseFlags, type CommandIO } from './command-io.js';

const loadUsage = 'Usage: hyperctl load [-i FILE] [-q]\n';
const saveUsage = 'Usage: hyperctl save [-o FILE] IMAGE [IMAGE...]\n';

export async function runLoad(images: ImageService, argv: readonly string[], io: CommandIO): Promise<number> {
  let input: string | undefined;
  let quiet: boolean;
  try {
    const { flags, args } = parseFlags(argv, {
      input: { short: 'i', takesValue: true },
      quiet: { short: 'q' },
      help: { short: 'h' },
    });
    if (flags.has('help')) {
      io.stdout.write(loadUsage);
      return 0;
    }
    if (args.length > 0) throw new Error('"load" takes no arguments; use -i FILE');
    const i = flags.get('input');
    input = typeof i === 'string' ? resolve(i) : undefined;
    quiet = flags.has('quiet');
  } catch (err) {
    io.stderr.write(`hyperctl load: ${(err as Error).message}\n${loadUsage}`);
    return 2;
  }
  let scratch: string | undefined;
  try {
    if (input === undefined) {
      if (!io.stdin || io.isTTY)
        throw new Error('requested load from stdin, but stdin is empty or a terminal; use -i FILE');
      scratch = await mkdtemp(join(io.tmpDir ?? tmpdir(), 'hyperctl-load-'));
      input = join(scratch, 'input.tar');
      const out = createWriteStream(input, { mode: 0o600 });
      for await (const c of io.stdin) if (!out.write(c)) await once(out, 'drain');
      out.end();
      await once(out, 'finish');
    }
    const loaded = await images.loadImage(input, io.signal ? { signal: io.signal } : {});
    if (!quiet) {
      for (const img of loaded) {
        if (img.repoTags.length === 0) io.stdout.write(`Loaded image ID: ${img.id}\n`);
        for (const t of img.repoTags) io.stdout.write(`Loaded image: ${t}\n`);
      }
    }
    return 0;
  } catch (err) {
    io.stderr.write(errorLine('load', err));
    return 1;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

export async function runSave(images: ImageService, argv: readonly string[], io: CommandIO): Promise<number> {
  let output: string | undefined;
  let refs: readonly string[];
  try {
    const { flags, args } = parseFlags(argv, {
      output: { short: 'o', takesValue: true },
      help: { short: 'h' },
    });
    if (flags.has('help')) {
      io.stdout.write(saveUsage);
      return 0;
    }
    if (args.length === 0) throw new Error('"save" requires at least 1 argument');
    const o = flags.get('output');
    output = typeof o === 'string' ? resolve(o) : undefined;
    refs = args;
  } catch (err) {
    io.stderr.write(`hyperctl save: ${(err as Error).message}\n${saveUsage}`);
    return 2;
  }
  if (output === undefined && io.isTTY) {
    io.stderr.write('hyperctl save: cowardly refusing to save to a terminal; use the -o flag or redirect\n');
    return 1;
  }
  let scratch: string | undefined;
  try {
    let target = output;
    if (target === undefined) {
      scratch = await mkdtemp(join(io.tmpDir ?? tmpdir(), 'hyperctl-save-'));
      target = join(scratch, 'out.tar');
    }
    await images.saveImage(refs, target, io.signal ? { signal: io.signal } : {});
    if (output === undefined) {
      for await (const c of createReadStream(target)) io.stdout.write(c as Buffer);
    }
    return 0;
  } catch (err) {
    io.stderr.write(errorLine('save', err));
    return 1;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
