/**
 * `h8s runtime`: the node's runtime daemon (the hyperd of the seed; DESIGN.md sections 1, 3
 * and 5). It opens the image store, builds the runtime handlers that can work on this host
 * (`hyper`: QEMU VMs, `runc`: Linux containers), re-adopts the pods an earlier daemon left
 * running, and serves the runtime API on a unix socket until SIGINT/SIGTERM. Stopping the
 * daemon never stops pods.
 *
 * Configuration: defaults < config file (`--config`, YAML or JSON, keys = flag names) <
 * environment (`H8S_RUNTIME_<FLAG>`) < flags. Unknown keys and bad values are errors naming
 * their source. `--print-config` prints the result and exits.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createImageService } from '../images/index.js';
import {
  createLogger,
  describeError,
  jsonLineSink,
  systemClock,
  textLineSink,
  type Logger,
  type LogLevel,
} from '../lib/index.js';
import {
  defaultGuestDir,
  findGuestAssets,
  loadRuntimeDaemon,
  type RuntimeHandlerName,
  type SandboxHandler,
} from '../runtime/index.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

type FlagType = 'string' | 'int' | 'list' | 'choice';

interface FlagSpec {
  readonly type: FlagType;
  readonly help: string;
  readonly choices?: readonly string[];
  readonly min?: number;
}

const flagSpecs = {
  root: { type: 'string', help: 'State directory of the runtime (index, sandboxes, logs, images)' },
  listen: { type: 'string', help: 'Socket the runtime API is served on (unix:///path)' },
  handlers: { type: 'list', help: 'Runtime handlers to enable', choices: ['hyper', 'runc'] },
  'default-handler': {
    type: 'choice',
    help: 'Handler for pods that name none and need no host access',
    choices: ['hyper', 'runc'],
  },
  'images-root': { type: 'string', help: 'Image store directory (default <root>/images)' },
  'insecure-registries': { type: 'list', help: 'Registries reached over plain HTTP besides loopback' },
  'auth-config': { type: 'string', help: 'docker-style config.json with registry credentials' },
  runc: { type: 'string', help: 'runc binary (default: runc on PATH)' },
  shim: { type: 'string', help: 'Prebuilt runc monitor (default: built from source into <root>/bin)' },
  'cgroup-parent': { type: 'string', help: 'Parent cgroup of runc pods' },
  'pids-limit': { type: 'int', help: 'Default pids limit of runc containers (0 = none)', min: 0 },
  'log-max-bytes': { type: 'int', help: 'Rotate a container log file at this size', min: 0 },
  'log-max-files': { type: 'int', help: 'Container log files kept, the live one included', min: 1 },
  'guest-dir': { type: 'string', help: 'Guest kernel and initramfs build of the hyper handler' },
  'pool-size': { type: 'int', help: 'Pre-booted VMs kept by the hyper handler (0 = no pool)', min: 0 },
  accel: { type: 'choice', help: 'VM acceleration of the hyper handler', choices: ['auto', 'kvm', 'tcg'] },
  'log-level': { type: 'choice', help: 'Log level', choices: ['debug', 'info', 'warn', 'error'] },
  'log-format': { type: 'choice', help: 'Log line format', choices: ['json', 'text'] },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof flagSpecs;

export interface RuntimeConfig {
  readonly root: string;
  readonly listen: string;
  readonly handlers: readonly RuntimeHandlerName[];
  readonly 'default-handler': RuntimeHandlerName;
  readonly 'images-root': string;
  readonly 'insecure-registries': readonly string[];
  readonly 'auth-config': string;
  readonly runc: string;
  readonly shim: string;
  readonly 'cgroup-parent': string;
  readonly 'pids-limit': number;
  readonly 'log-max-bytes': number;
  readonly 'log-max-files': number;
  readonly 'guest-dir': string;
  readonly 'pool-size': number;
  readonly accel: 'auto' | 'kvm' | 'tcg';
  readonly 'log-level': LogLevel;
  readonly 'log-format': 'json' | 'text';
}

type PartialConfig = { -readonly [K in FlagName]?: RuntimeConfig[K] };

export class RuntimeConfigError extends Error {}

function defaults(): PartialConfig {
  return {
    root: '/var/lib/h8s/runtime',
    listen: 'unix:///run/h8s/runtime.sock',
    handlers: ['hyper', 'runc'],
    'default-handler': 'hyper',
    'insecure-registries': [],
    'auth-config': '',
    runc: '',
    shim: '',
    'cgroup-parent': '/h8s',
    'pids-limit': 4096,
    'log-max-bytes': 10 * 1024 * 1024,
    'log-max-files': 5,
    'guest-dir': defaultGuestDir(repoRoot),
    'pool-size': 2,
    accel: 'auto',
    'log-level': 'info',
    'log-format': 'json',
  };
}

function isFlagName(name: string): name is FlagName {
  return Object.prototype.hasOwnProperty.call(flagSpecs, name);
}

function parseValue(name: FlagName, raw: unknown, source: string): unknown {
  const spec: FlagSpec = flagSpecs[name];
  const fail = (why: string): never => {
    throw new RuntimeConfigError(`Invalid ${name} ${JSON.stringify(raw)} from ${source}: ${why}`);
  };
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string') fail('it must be a string');
      return raw;
    case 'int': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < (spec.min ?? 0))
        fail(`it must be an integer of at least ${spec.min ?? 0}`);
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

function fromFile(path: string): PartialConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RuntimeConfigError(`Cannot read config file "${path}": ${describeError(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new RuntimeConfigError(`Config file "${path}" must be a mapping of flag names to values`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!isFlagName(k)) {
      throw new RuntimeConfigError(
        `Unknown key "${k}" in config file "${path}"; known keys: ${Object.keys(flagSpecs).join(', ')}`,
      );
    }
    out[k] = parseValue(k, v, `config file "${path}"`);
  }
  return out as PartialConfig;
}

export function runtimeEnvName(flag: string): string {
  return `H8S_RUNTIME_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function fromEnv(env: NodeJS.ProcessEnv): PartialConfig {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(flagSpecs) as FlagName[]) {
    const v = env[runtimeEnvName(name)];
    if (v !== undefined && v !== '')
      out[name] = parseValue(name, v, `environment variable ${runtimeEnvName(name)}`);
  }
  return out as PartialConfig;
}

interface ParsedArgs {
  readonly flags: PartialConfig;
  readonly configFile?: string;
  readonly printConfig: boolean;
  readonly help: boolean;
}

function parseArgs(argv: readonly string[]): ParsedArgs {
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
    if (!arg.startsWith('--'))
      throw new RuntimeConfigError(`Unexpected argument "${arg}"; flags start with --`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new RuntimeConfigError(`Flag --${name} needs a value`);
      i++;
    }
    if (name === 'config') {
      configFile = value;
      continue;
    }
    if (!isFlagName(name))
      throw new RuntimeConfigError(`Unknown flag --${name}; run "h8s runtime --help" for the flags`);
    flags[name] = parseValue(name, value, `flag --${name}`);
  }
  return {
    flags: flags as PartialConfig,
    ...(configFile !== undefined ? { configFile } : {}),
    printConfig,
    help,
  };
}

/** Resolves the configuration (exported for tests). @throws RuntimeConfigError */
export function resolveRuntimeConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { config: RuntimeConfig; args: ParsedArgs } {
  const args = parseArgs(argv);
  const configFile = args.configFile ?? env['H8S_RUNTIME_CONFIG'];
  const merged: PartialConfig = {
    ...defaults(),
    ...(configFile ? fromFile(configFile) : {}),
    ...fromEnv(env),
    ...args.flags,
  };
  const root = resolve(merged.root as string);
  const handlers = [...new Set(merged.handlers ?? [])] as RuntimeHandlerName[];
  if (handlers.length === 0)
    throw new RuntimeConfigError('Invalid handlers: enable at least one of hyper, runc');
  const config: RuntimeConfig = Object.freeze({
    root,
    listen: merged.listen as string,
    handlers: Object.freeze(handlers),
    'default-handler': merged['default-handler'] as RuntimeHandlerName,
    'images-root': merged['images-root'] ? resolve(merged['images-root']) : join(root, 'images'),
    'insecure-registries': Object.freeze([...(merged['insecure-registries'] ?? [])]),
    'auth-config': merged['auth-config'] ?? '',
    runc: merged.runc ?? '',
    shim: merged.shim ? resolve(merged.shim) : '',
    'cgroup-parent': merged['cgroup-parent'] as string,
    'pids-limit': merged['pids-limit'] as number,
    'log-max-bytes': merged['log-max-bytes'] as number,
    'log-max-files': merged['log-max-files'] as number,
    'guest-dir': resolve(merged['guest-dir'] as string),
    'pool-size': merged['pool-size'] as number,
    accel: merged.accel as 'auto' | 'kvm' | 'tcg',
    'log-level': merged['log-level'] as LogLevel,
    'log-format': merged['log-format'] as 'json' | 'text',
  });
  if (!config.listen.startsWith('unix:///')) {
    throw new RuntimeConfigError(`Invalid listen "${config.listen}": expected unix:///absolute/path.sock`);
  }
  if (!config['cgroup-parent'].startsWith('/')) {
    throw new RuntimeConfigError(`Invalid cgroup-parent "${config['cgroup-parent']}": it must start with /`);
  }
  return { config, args };
}

function usage(): string {
  const lines = Object.entries(flagSpecs).map(
    ([name, spec]) => `  --${name.padEnd(20)} ${spec.help} (env ${runtimeEnvName(name)})`,
  );
  return [
    'Usage: h8s runtime [flags]',
    '',
    'Runs the node runtime daemon: pods as VMs (hyper) or Linux containers (runc), images, and',
    'the runtime API on a unix socket (hyperctl talks to it).',
    '',
    'Flags:',
    ...lines,
    `  --${'config'.padEnd(20)} Config file (YAML or JSON; keys are flag names) (env H8S_RUNTIME_CONFIG)`,
    `  --${'print-config'.padEnd(20)} Print the resolved configuration and exit`,
  ].join('\n');
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Builds the handlers this host can run; the others are reported with the reason. */
async function buildHandlers(
  config: RuntimeConfig,
  log: Logger,
): Promise<{ handlers: SandboxHandler[]; missing: { name: RuntimeHandlerName; reason: string }[] }> {
  const { createRuncHandler, createHyperHandler } = await loadRuntimeDaemon();
  const handlers: SandboxHandler[] = [];
  const missing: { name: RuntimeHandlerName; reason: string }[] = [];
  for (const name of ['hyper', 'runc'] as const) {
    if (!config.handlers.includes(name)) {
      missing.push({ name, reason: 'disabled by configuration (--handlers)' });
      continue;
    }
    if (name === 'runc') {
      handlers.push(
        createRuncHandler({
          runcRoot: join(config.root, 'runc'),
          ...(config.runc ? { runcPath: config.runc } : {}),
          ...(config.shim ? { shimPath: config.shim } : { shimCacheDir: join(config.root, 'bin') }),
          cgroupParent: config['cgroup-parent'],
          defaultPidsLimit: config['pids-limit'],
          logMaxBytes: config['log-max-bytes'],
          logMaxFiles: config['log-max-files'],
          log,
        }),
      );
      continue;
    }
    try {
      const guest = await findGuestAssets(config['guest-dir']);
      handlers.push(
        createHyperHandler({
          root: join(config.root, 'hyper'),
          log,
          kernel: guest.kernel,
          initrd: guest.initrd,
          kernelVersion: guest.kernelVersion,
          guestBuildId: guest.buildHash,
          poolSize: config['pool-size'],
          accel: config.accel,
        }),
      );
    } catch (err) {
      missing.push({ name, reason: describeError(err) });
      log.warn('Runtime handler is not available', { handler: name, reason: describeError(err) });
    }
  }
  return { handlers, missing };
}

/** Runs the daemon until `signal` aborts. Pods keep running afterwards. */
export async function runRuntime(config: RuntimeConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const clock = systemClock;
  const { claimRoot, createRuntimeCore, createRuntimeServer } = await loadRuntimeDaemon();
  // before anything touches the root (the image store included): one daemon per root
  await claimRoot(config.root);
  const images = await createImageService({
    root: config['images-root'],
    log: log.child({ component: 'images' }),
    clock,
    insecureRegistries: config['insecure-registries'],
    ...(config['auth-config'] ? { authConfigPath: config['auth-config'] } : {}),
  });
  const { handlers, missing } = await buildHandlers(config, log);
  const core = createRuntimeCore({
    root: config.root,
    images,
    handlers,
    missingHandlers: missing,
    defaultHandler: config['default-handler'],
    version: packageVersion(),
    log,
    clock,
  });
  await core.start();
  const server = createRuntimeServer({ runtime: core, log, tmpDir: join(config.root, 'tmp') });
  try {
    await server.listen(config.listen);
    const info = await core.info();
    log.info('Runtime is serving', {
      listen: config.listen,
      root: config.root,
      handlers: info.handlers.map((h) => `${h.name}:${h.available ? 'ok' : 'unavailable'}`).join(','),
      sandboxes: info.sandboxes,
    });
    await new Promise<void>((resolveWait) => {
      if (signal.aborted) resolveWait();
      signal.addEventListener('abort', () => resolveWait(), { once: true });
    });
  } finally {
    log.info('Runtime is stopping; pods keep running');
    await server.close();
    await core.close();
  }
}

function createProcessLogger(config: RuntimeConfig): Logger {
  const write = (line: string): void => {
    process.stderr.write(line);
  };
  return createLogger({
    level: config['log-level'],
    sink: config['log-format'] === 'json' ? jsonLineSink(write) : textLineSink(write),
    fields: { component: 'runtime' },
  });
}

/** `h8s runtime ...` */
export async function runtimeMain(argv: readonly string[]): Promise<number> {
  let config: RuntimeConfig;
  let args: ParsedArgs;
  try {
    ({ config, args } = resolveRuntimeConfig(argv, process.env));
  } catch (err) {
    if (err instanceof RuntimeConfigError) {
      console.error(`h8s runtime: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (args.help) {
    console.log(usage());
    return 0;
  }
  if (args.printConfig) {
    process.stdout.write(stringifyYaml({ ...config }));
    return 0;
  }
  const log = createProcessLogger(config);
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await runRuntime(config, log, ac.signal);
    return 0;
  } catch (err) {
    log.error('Runtime failed', { error: describeError(err) });
    console.error(`h8s runtime: ${describeError(err)}`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
