/**
 * What hyperctl's commands get from their surroundings (injected so tests drive them without a
 * real terminal): the image commands' `CommandIO` plus the terminal (raw mode, size, resize
 * events) for `run -t` and `exec -t`, and a flag parser that stops at the first positional
 * argument (everything after `IMAGE` or `POD` belongs to the command being run).
 */
import type { TerminalSize } from '../../runtime/index.js';
import type { CommandIO } from '../images/index.js';

export interface HyperctlTerminal {
  /** Whether stdin is a terminal. */
  readonly isTTY: boolean;
  /** Raw mode on (keys go to the remote process as typed) or back off. */
  setRaw(on: boolean): void;
  size(): TerminalSize | undefined;
  /** Calls `listener` on every window size change; returns the unsubscribe function. */
  onResize(listener: (size: TerminalSize) => void): () => void;
}

export interface HyperctlIO extends CommandIO {
  readonly terminal?: HyperctlTerminal;
  /** Client-side clock for `Time to run a POD` (monotonic ms). */
  readonly monotonicMs?: () => number;
}

export class HyperctlUsageError extends Error {}

export interface OptionSpec {
  readonly short?: string;
  /** Takes a value (`--name x`, `--name=x`, `-n x`). */
  readonly value?: boolean;
  /** May be given more than once (values collected in order). */
  readonly repeat?: boolean;
}

export interface ParsedCommandLine {
  readonly flags: ReadonlyMap<string, readonly string[]>;
  readonly args: readonly string[];
}

/**
 * Parses flags up to the first positional argument (or `--`); the rest is returned untouched.
 * @throws HyperctlUsageError naming the bad flag
 */
export function parseCommandLine(
  argv: readonly string[],
  spec: Readonly<Record<string, OptionSpec>>,
  options: { stopAtPositional?: boolean } = {},
): ParsedCommandLine {
  const stop = options.stopAtPositional ?? true;
  const flags = new Map<string, string[]>();
  const args: string[] = [];
  const byShort = new Map(Object.entries(spec).flatMap(([n, s]) => (s.short ? [[s.short, n] as const] : [])));
  const set = (name: string, value: string): void => {
    const s = spec[name] as OptionSpec;
    const list = s.repeat ? (flags.get(name) ?? []) : [];
    list.push(value);
    flags.set(name, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (stop) {
        args.push(...argv.slice(i));
        break;
      }
      args.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const s = spec[name];
      if (!s) throw new HyperctlUsageError(`unknown flag: --${name}`);
      if (s.value) {
        const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw new HyperctlUsageError(`flag needs an argument: --${name}`);
        set(name, v);
      } else {
        if (eq >= 0) throw new HyperctlUsageError(`flag --${name} takes no value`);
        set(name, 'true');
      }
      continue;
    }
    // short flags, possibly combined (-dt) or with a value (-v /a:/b, -v/a:/b)
    for (let j = 1; j < a.length; j++) {
      const name = byShort.get(a[j] as string);
      if (!name) throw new HyperctlUsageError(`unknown shorthand flag: '${a[j]}' in ${a}`);
      const s = spec[name] as OptionSpec;
      if (s.value) {
        const rest = a.slice(j + 1).replace(/^=/, '');
        const v = rest !== '' ? rest : argv[++i];
        if (v === undefined) throw new HyperctlUsageError(`flag needs an argument: '${a[j]}' in ${a}`);
        set(name, v);
        break;
      }
      set(name, 'true');
    }
  }
  return { flags, args };
}

export function flagBool(p: ParsedCommandLine, name: string): boolean {
  return p.flags.has(name);
}

export function flagValue(p: ParsedCommandLine, name: string): string | undefined {
  const v = p.flags.get(name);
  return v ? v[v.length - 1] : undefined;
}

export function flagValues(p: ParsedCommandLine, name: string): readonly string[] {
  return p.flags.get(name) ?? [];
}

/** Parses a non-negative integer flag. @throws HyperctlUsageError */
export function flagInt(p: ParsedCommandLine, name: string, min = 0): number | undefined {
  const v = flagValue(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) {
    throw new HyperctlUsageError(
      `invalid value "${v}" for --${name}: expected an integer of at least ${min}`,
    );
  }
  return Number(v);
}

/** hyperd's table layout: columns at least 20 wide, 3 spaces of padding. */
export function hyperdTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map(
      (r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(20, (widths[i] ?? 0) + 3))))
          .join('')
          .trimEnd() + '\n',
    )
    .join('');
}
