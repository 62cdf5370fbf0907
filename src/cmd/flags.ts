/**
 * Layered configuration for the daemons (`h8s server`, `h8s runtime`): defaults < config file
 * (`--config`, YAML or JSON, keys = flag names) < environment (`<PREFIX><FLAG>`) < flags.
 * Unknown keys and bad values are errors that name their source.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describeError } from '../lib/index.js';

export type FlagType = 'string' | 'required-string' | 'port' | 'int' | 'list' | 'choice';

export interface FlagSpec {
  readonly type: FlagType;
  readonly help: string;
  readonly choices?: readonly string[];
  /** Smallest value of an `int` flag (default 0). */
  readonly min?: number;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** A configuration error; its message names the flag, key or variable and where it came from. */
export class ConfigError extends Error {}

/** How one command reads its flags. */
export interface FlagSource<S extends FlagSpecs> {
  readonly command: string;
  readonly specs: S;
  /** Environment variable prefix, e.g. `H8S_` or `H8S_RUNTIME_`. */
  readonly envPrefix: string;
}

export type FlagValues<S extends FlagSpecs> = { -readonly [K in keyof S]?: unknown };

export interface ParsedArgs<S extends FlagSpecs> {
  readonly flags: FlagValues<S>;
  readonly configFile?: string;
  readonly printConfig: boolean;
  readonly help: boolean;
}

export function flagEnvName(source: FlagSource<FlagSpecs>, flag: string): string {
  return `${source.envPrefix}${flag.toUpperCase().replace(/-/g, '_')}`;
}

function isFlag<S extends FlagSpecs>(specs: S, name: string): name is Extract<keyof S, string> {
  return Object.prototype.hasOwnProperty.call(specs, name);
}

/** Parses one raw value (from a file, the environment or a flag). @throws ConfigError */
export function parseFlagValue(spec: FlagSpec, name: string, raw: unknown, from: string): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(`Invalid ${name} ${JSON.stringify(raw)} from ${from}: ${why}`);
  };
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string') fail('it must be a string');
      return raw;
    case 'required-string':
      if (typeof raw !== 'string' || raw === '') fail('it must be a non-empty string');
      return raw;
    case 'port':
    case 'int': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (spec.type === 'port') {
        if (!Number.isInteger(n) || n < 0 || n > 65535) fail('it must be a port number from 0 to 65535');
      } else if (!Number.isSafeInteger(n) || n < (spec.min ?? 0)) {
        fail(`it must be an integer of at least ${spec.min ?? 0}`);
      }
      return n;
    }
    case 'list': {
      const items = Array.isArray(raw)
        ? raw.map(String)
        : typeof raw === 'string'
          ? raw.split(',')
          : fail('it must be a comma-separated list');
      const list = (items as string[]).map((s) => s.trim()).filter((s) => s !== '');
      for (const item of list) {
        if (spec.choices && !spec.choices.includes(item))
          fail(`"${item}" is not one of ${spec.choices.join(', ')}`);
      }
      return list;
    }
    case 'choice':
      if (typeof raw !== 'string' || !spec.choices?.includes(raw))
        fail(`it must be one of ${spec.choices?.join(', ')}`);
      return raw;
  }
}

/** Reads a YAML or JSON config file whose keys are flag names. @throws ConfigError */
export function readConfigFile<S extends FlagSpecs>(source: FlagSource<S>, path: string): FlagValues<S> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`Cannot read config file "${path}": ${describeError(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`Config file "${path}" must be a mapping of flag names to values`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!isFlag(source.specs, k)) {
      throw new ConfigError(
        `Unknown key "${k}" in config file "${path}"; known keys: ${Object.keys(source.specs).join(', ')}`,
      );
    }
    out[k] = parseFlagValue(source.specs[k] as FlagSpec, k, v, `config file "${path}"`);
  }
  return out as FlagValues<S>;
}

/** Reads `<PREFIX><FLAG>` variables; empty ones count as unset. @throws ConfigError */
export function readFlagEnv<S extends FlagSpecs>(
  source: FlagSource<S>,
  env: NodeJS.ProcessEnv,
): FlagValues<S> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(source.specs)) {
    const variable = flagEnvName(source, name);
    const v = env[variable];
    if (v !== undefined && v !== '')
      out[name] = parseFlagValue(spec, name, v, `environment variable ${variable}`);
  }
  return out as FlagValues<S>;
}

/**
 * Parses `--flag value`, `--flag=value`, `--config FILE`, `--print-config` and `--help`.
 * Repeated list flags add up. @throws ConfigError
 */
export function parseFlagArgs<S extends FlagSpecs>(
  source: FlagSource<S>,
  argv: readonly string[],
): ParsedArgs<S> {
  const flags: Record<string, unknown> = {};
  let configFile: string | undefined;
  let printConfig = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--print-config') {
      printConfig = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`Unexpected argument "${arg}"; flags start with --`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new ConfigError(`Flag --${name} needs a value`);
      i++;
    }
    if (name === 'config') {
      configFile = value;
      continue;
    }
    if (!isFlag(source.specs, name))
      throw new ConfigError(`Unknown flag --${name}; run "${source.command} --help" for the flags`);
    const spec = source.specs[name] as FlagSpec;
    const parsed = parseFlagValue(spec, name, value, `flag --${name}`);
    flags[name] =
      spec.type === 'list' && Array.isArray(flags[name])
        ? [...(flags[name] as string[]), ...(parsed as string[])]
        : parsed;
  }
  return {
    flags: flags as FlagValues<S>,
    ...(configFile !== undefined ? { configFile } : {}),
    printConfig,
    help,
  };
}

/** Merges defaults < file < environment < flags; returns the merged values and the parsed args. */
export function layerFlags<S extends FlagSpecs>(
  source: FlagSource<S>,
  defaults: FlagValues<S>,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { merged: FlagValues<S>; args: ParsedArgs<S> } {
  const args = parseFlagArgs(source, argv);
  const configFile = args.configFile ?? env[flagEnvName(source, 'config')];
  const merged: FlagValues<S> = {
    ...defaults,
    ...(configFile ? readConfigFile(source, configFile) : {}),
    ...readFlagEnv(source, env),
    ...args.flags,
  };
  return { merged, args };
}

/** The `Flags:` lines of a command's usage. */
export function flagUsage(source: FlagSource<FlagSpecs>, width: number): string[] {
  const line = (name: string, help: string, env: string): string =>
    `  --${name.padEnd(width)} ${help} (env ${env})`;
  return [
    ...Object.entries(source.specs).map(([name, spec]) => line(name, spec.help, flagEnvName(source, name))),
    line('config', 'Config file (YAML or JSON; keys are flag names)', flagEnvName(source, 'config')),
    `  --${'print-config'.padEnd(width)} Print the resolved configuration and exit`,
  ];
}
