/**
 * What an image command needs from its surroundings, injected so the commands are unit-testable:
 * output streams, whether stdout is a terminal, stdin (for `--password-stdin`), where the
 * docker-style credentials file lives, and a clock for "CREATED 2 hours ago".
 */

export interface CommandIO {
  readonly stdout: { write(chunk: string | Uint8Array): unknown };
  readonly stderr: { write(chunk: string): unknown };
  /** Whether stdout is a terminal (progress bars, refusing binary output). */
  readonly isTTY: boolean;
  /** Standard input, for `login --password-stdin` and `load` without `-i`. */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
  /** The docker-style `config.json` holding registry credentials, e.g. `~/.docker/config.json`. */
  readonly authConfigPath: string;
  /** A directory for temporary files (`save` to stdout, `load` from stdin). Default the OS temp dir. */
  readonly tmpDir?: string;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
}

export interface FlagSpec {
  readonly short?: string;
  readonly takesValue?: boolean;
}

export interface ParsedFlags {
  readonly flags: ReadonlyMap<string, string | true>;
  readonly args: readonly string[];
}

/** A usage error: the command prints it with its usage line and exits 2. */
export class UsageError extends Error {}

/** Parses `--name`, `--name=value`, `--name value`, `-x`, `-xvalue`, `-x value`, `--`. */
export function parseFlags(argv: readonly string[], spec: Readonly<Record<string, FlagSpec>>): ParsedFlags {
  const flags = new Map<string, string | true>();
  const args: string[] = [];
  const byShort = new Map(
    Object.entries(spec).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])),
  );
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (!spec[name]) throw new UsageError(`unknown flag: --${name}`);
    } else if (a.startsWith('-') && a.length > 1) {
      name = byShort.get(a[1]!);
      if (!name) throw new UsageError(`unknown shorthand flag: '${a[1]}' in ${a}`);
      if (a.length > 2) inline = a.slice(2).replace(/^=/, '');
    } else {
      args.push(a);
      continue;
    }
    if (spec[name]!.takesValue) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`flag needs an argument: --${name}`);
      flags.set(name, v);
    } else {
      if (inline !== undefined) throw new UsageError(`flag --${name} takes no value`);
      flags.set(name, true);
    }
  }
  return { flags, args };
}

/** `docker.io`-style registry of a reference, without importing the image module. */
export function registryOfReference(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash < 0) return 'docker.io';
  const head = ref.slice(0, slash);
  if (head.includes('.') || head.includes(':') || head === 'localhost') {
    return head === 'index.docker.io' || head === 'registry-1.docker.io' ? 'docker.io' : head;
  }
  return 'docker.io';
}

/** Formats a failure as the CLI prints it. */
export function errorLine(command: string, err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let d = 0; d < 4 && cur !== undefined && cur !== null; d++) {
    const m = cur instanceof Error ? cur.message : String(cur);
    if (m && !parts.some((p) => p.includes(m))) parts.push(m);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return `hyperctl ${command}: ${parts.join(': ')}\n`;
}
