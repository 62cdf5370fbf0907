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
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createImageService,
  defaultMaxUnpackedBytes,
  defaultMaxUnpackedEntries,
  sharedUnpackPool,
} from '../images/index.js';
import { describeError, systemClock, type Logger, type LogLevel } from '../lib/index.js';
import {
  defaultGuestDir,
  findGuestAssets,
  loadRuntimeDaemon,
  type RuntimeHandlerName,
  type SandboxHandler,
} from '../runtime/index.js';
import { daemonMain, packageVersion } from './daemon.js';
import {
  ConfigError,
  flagUsage,
  layerFlags,
  type FlagSource,
  type FlagSpecs,
  type FlagValues,
  type ParsedArgs,
} from './flags.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const flagSpecs = {
  root: { type: 'required-string', help: 'State directory of the runtime (index, sandboxes, logs, images)' },
  listen: { type: 'required-string', help: 'Socket the runtime API is served on (unix:///path)' },
  handlers: { type: 'list', help: 'Runtime handlers to enable', choices: ['hyper', 'runc'] },
  'default-handler': {
    type: 'choice',
    help: 'Handler for pods that name none and need no host access',
    choices: ['hyper', 'runc'],
  },
  'images-root': { type: 'string', help: 'Image store directory (default <root>/images)' },
  'insecure-registries': { type: 'list', help: 'Registries reached over plain HTTP besides loopback' },
  'auth-config': { type: 'string', help: 'docker-style config.json with registry credentials' },
  'image-max-bytes': { type: 'int', help: 'Largest size one image may unpack to, in bytes', min: 1 },
  'image-max-entries': { type: 'int', help: 'Most files one image may unpack to', min: 1 },
  runc: { type: 'string', help: 'runc binary (default: runc on PATH)' },
  shim: { type: 'string', help: 'runc monitor binary (default: the one npm run build put in dist/libexec)' },
  'cgroup-parent': { type: 'required-string', help: 'Parent cgroup of runc pods' },
  'pids-limit': { type: 'int', help: 'Default pids limit of runc containers (0 = none)', min: 0 },
  'log-max-bytes': { type: 'int', help: 'Rotate a container log file at this size', min: 0 },
  'log-max-files': { type: 'int', help: 'Container log files kept, the live one included', min: 1 },
  'guest-dir': { type: 'required-string', help: 'Guest kernel and initramfs build of the hyper handler' },
  'pool-size': { type: 'int', help: 'Pre-booted VMs kept by the hyper handler (0 = no pool)', min: 0 },
  accel: { type: 'choice', help: 'VM acceleration of the hyper handler', choices: ['auto', 'kvm', 'tcg'] },
  'log-level': { type: 'choice', help: 'Log level', choices: ['debug', 'info', 'warn', 'error'] },
  'log-format': { type: 'choice', help: 'Log line format', choices: ['json', 'text'] },
} as const satisfies FlagSpecs;

const flagSource: FlagSource<typeof flagSpecs> = {
  command: 'h8s runtime',
  specs: flagSpecs,
  envPrefix: 'H8S_RUNTIME_',
};

export interface RuntimeConfig {
  readonly root: string;
  readonly listen: string;
  readonly handlers: readonly RuntimeHandlerName[];
  readonly 'default-handler': RuntimeHandlerName;
  readonly 'images-root': string;
  readonly 'insecure-registries': readonly string[];
  readonly 'auth-config': string;
  readonly 'image-max-bytes': number;
  readonly 'image-max-entries': number;
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

function defaults(): FlagValues<typeof flagSpecs> {
  return {
    root: '/var/lib/h8s/runtime',
    listen: 'unix:///run/h8s/runtime.sock',
    handlers: ['hyper', 'runc'],
    'default-handler': 'hyper',
    'images-root': '',
    'insecure-registries': [],
    'auth-config': '',
    'image-max-bytes': defaultMaxUnpackedBytes,
    'image-max-entries': defaultMaxUnpackedEntries,
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

/** Resolves the configuration (exported for tests). @throws ConfigError */
export function resolveRuntimeConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { config: RuntimeConfig; args: ParsedArgs<typeof flagSpecs> } {
  const { merged, args } = layerFlags(flagSource, defaults(), argv, env);
  const root = resolve(merged.root as string);
  const handlers = [...new Set(merged.handlers as RuntimeHandlerName[])];
  if (handlers.length === 0) throw new ConfigError('Invalid handlers: enable at least one of hyper, runc');
  const str = (v: unknown): string => v as string;
  const config: RuntimeConfig = Object.freeze({
    root,
    listen: str(merged.listen),
    handlers: Object.freeze(handlers),
    'default-handler': merged['default-handler'] as RuntimeHandlerName,
    'images-root': str(merged['images-root']) ? resolve(str(merged['images-root'])) : join(root, 'images'),
    'insecure-registries': Object.freeze([...(merged['insecure-registries'] as string[])]),
    'auth-config': str(merged['auth-config']),
    'image-max-bytes': merged['image-max-bytes'] as number,
    'image-max-entries': merged['image-max-entries'] as number,
    runc: str(merged.runc),
    shim: str(merged.shim) ? resolve(str(merged.shim)) : '',
    'cgroup-parent': str(merged['cgroup-parent']),
    'pids-limit': merged['pids-limit'] as number,
    'log-max-bytes': merged['log-max-bytes'] as number,
    'log-max-files': merged['log-max-files'] as number,
    'guest-dir': resolve(str(merged['guest-dir'])),
    'pool-size': merged['pool-size'] as number,
    accel: merged.accel as 'auto' | 'kvm' | 'tcg',
    'log-level': merged['log-level'] as LogLevel,
    'log-format': merged['log-format'] as 'json' | 'text',
  });
  if (!config.listen.startsWith('unix:///')) {
    throw new ConfigError(`Invalid listen "${config.listen}": expected unix:///absolute/path.sock`);
  }
  if (!config['cgroup-parent'].startsWith('/')) {
    throw new ConfigError(`Invalid cgroup-parent "${config['cgroup-parent']}": it must start with /`);
  }
  return { config, args };
}

function usage(): string {
  return [
    'Usage: h8s runtime [flags]',
    '',
    'Runs the node runtime daemon: pods as VMs (hyper) or Linux containers (runc), images, and',
    'the runtime API on a unix socket (hyperctl talks to it).',
    '',
    'Flags:',
    ...flagUsage(flagSource, 20),
  ].join('\n');
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
          ...(config.shim ? { shimPath: config.shim } : {}),
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
  // Load the unpack workers now, so the first pull does not wait for them.
  sharedUnpackPool().warm(log.child({ component: 'images' }));
  const images = await createImageService({
    root: config['images-root'],
    log: log.child({ component: 'images' }),
    clock,
    insecureRegistries: config['insecure-registries'],
    maxUnpackedBytes: config['image-max-bytes'],
    maxUnpackedEntries: config['image-max-entries'],
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

/** `h8s runtime ...` */
export function runtimeMain(argv: readonly string[]): Promise<number> {
  return daemonMain(
    { command: 'h8s runtime', component: 'runtime', resolve: resolveRuntimeConfig, usage, run: runRuntime },
    argv,
  );
}
