/**
 * What the long-running commands (`h8s server`, `h8s runtime`) share: the package version,
 * a logger on stderr, and running until SIGINT/SIGTERM with a clear exit code.
 */
import { readFileSync } from 'node:fs';
import {
  createLogger,
  describeError,
  jsonLineSink,
  textLineSink,
  type Logger,
  type LogLevel,
} from '../lib/index.js';

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
