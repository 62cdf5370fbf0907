/**
 * What the long-running commands (`h8s server`, `h8s runtime`) share: the package version,
 * a logger on stderr, and running until SIGINT/SIGTERM with a clear exit code.
 */
import { readFileSync } from 'node:fs';
import { stringify as stringifyYaml } from 'yaml';
import {
  createLogger,
  describeError,
  jsonLineSink,
  textLineSink,
  type Logger,
  type LogLevel,
} from '../lib/index.js';
import { ConfigError } from './flags.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function createDaemonLogger(options: {
  readonly level: LogLevel;
  readonly format: 'json' | 'text';
  readonly component: string;
}): Logger {
  const write = (line: string): void => {
    process.stderr.write(line);
  };
  return createLogger({
    level: options.level,
    sink: options.format === 'json' ? jsonLineSink(write) : textLineSink(write),
    fields: { component: options.component },
  });
}

/**
 * Runs `body` until it returns or the process gets SIGINT/SIGTERM (which aborts its signal).
 * Returns 0, or 1 after logging the failure and printing it on stderr.
 */
export async function runUntilSignalled(
  command: string,
  log: Logger,
  body: (signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    log.info('Stopping', { signal: sig });
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await body(stop.signal);
    return 0;
  } catch (err) {
    log.error(`${command} failed`, { error: describeError(err) });
    console.error(`${command}: ${describeError(err)}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** What `daemonMain` needs from one long-running command. */
export interface DaemonCommand<
  C extends { readonly 'log-level': LogLevel; readonly 'log-format': 'json' | 'text' },
> {
  /** `h8s server`, `h8s runtime`, `h8s agent`. */
  readonly command: string;
  /** The log lines' `component`. */
  readonly component: string;
  /** Resolves the layered configuration. @throws ConfigError */
  resolve(
    argv: readonly string[],
    env: NodeJS.ProcessEnv,
  ): {
    config: C;
    args: { readonly help: boolean; readonly printConfig: boolean };
  };
  usage(): string;
  /** What `--print-config` prints (secrets masked); default the whole config. */
  printable?(config: C): unknown;
  /** Checks that need more than the flags' own syntax, after --help and --print-config. @throws ConfigError */
  check?(config: C): void;
  run(config: C, log: Logger, signal: AbortSignal): Promise<void>;
}

/**
 * The `main` of a daemon command: resolves its configuration (a ConfigError prints
 * `<command>: <message>` and exits 2), answers `--help` and `--print-config`, then runs it
 * with a daemon logger until SIGINT/SIGTERM.
 */
export async function daemonMain<
  C extends { readonly 'log-level': LogLevel; readonly 'log-format': 'json' | 'text' },
>(cmd: DaemonCommand<C>, argv: readonly string[]): Promise<number> {
  let resolved: ReturnType<DaemonCommand<C>['resolve']>;
  try {
    resolved = cmd.resolve(argv, process.env);
    if (!resolved.args.help && !resolved.args.printConfig) cmd.check?.(resolved.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${cmd.command}: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const { config, args } = resolved;
  if (args.help) {
    console.log(cmd.usage());
    return 0;
  }
  if (args.printConfig) {
    process.stdout.write(stringifyYaml(cmd.printable ? cmd.printable(config) : { ...config }));
    return 0;
  }
  const log = createDaemonLogger({
    level: config['log-level'],
    format: config['log-format'],
    component: cmd.component,
  });
  return runUntilSignalled(cmd.command, log, (signal) => cmd.run(config, log, signal));
}
