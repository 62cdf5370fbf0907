/**
 * `h8s hyperctl` (and the `hyperctl` alias): wires hyperctl to this process's terminal,
 * environment (`HYPERCTL_HOST`, `DOCKER_CONFIG`/`HOME` for registry credentials) and signals.
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { hyperctlMain, type HyperctlIO, type HyperctlTerminal } from '../cli/index.js';

function processTerminal(): HyperctlTerminal {
  return {
    // isatty, not process.stdin.isTTY: the stream is created only by a command that reads it
    isTTY: isatty(0),
    setRaw(on) {
      const stdin = process.stdin;
      if (stdin.isTTY) stdin.setRawMode(on);
    },
    size() {
      const out = process.stdout;
      return out.isTTY && out.columns && out.rows ? { width: out.columns, height: out.rows } : undefined;
    },
    onResize(listener) {
      const handler = (): void => {
        const out = process.stdout;
        if (out.columns && out.rows) listener({ width: out.columns, height: out.rows });
      };
      process.stdout.on('resize', handler);
      return () => process.stdout.off('resize', handler);
    },
  };
}

/** `hyperctl ...` */
export async function hyperctlCommandMain(argv: readonly string[]): Promise<number> {
  const ac = new AbortController();
  const interrupt = (): void => ac.abort(new Error('Interrupted'));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let stdinUsed = false;
  const dockerConfig = process.env['DOCKER_CONFIG'] ?? join(process.env['HOME'] ?? homedir(), '.docker');
  const io: HyperctlIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stdout.isTTY === true,
    // A getter: creating process.stdin costs a few milliseconds, and most commands never read it.
    get stdin() {
      stdinUsed = true;
      return process.stdin;
    },
    authConfigPath: join(dockerConfig, 'config.json'),
    tmpDir: process.env['TMPDIR'] ?? tmpdir(),
    terminal: processTerminal(),
    signal: ac.signal,
  };
  try {
    const code = await hyperctlMain(argv, io, {
      ...(process.env['HYPERCTL_HOST'] ? { defaultHost: process.env['HYPERCTL_HOST'] } : {}),
    });
    // stdin may still be open (a pipe nobody closed): do not let it keep the process alive
    if (stdinUsed) {
      process.stdin.pause();
      process.stdin.unref?.();
    }
    return code;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
