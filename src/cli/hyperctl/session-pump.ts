/**
 * Connects a StreamSession (exec or attach) to the user's terminal or pipes: stdin in (with
 * EOF as a half-close), stdout and stderr out, raw mode and window resizes with `-t`, and the
 * exit code back.
 */
import type { StreamSession } from '../../runtime/index.js';
import type { HyperctlIO } from './hyperctl-io.js';

export interface PumpOptions {
  readonly tty: boolean;
  readonly stdin: boolean;
}

/** Runs the session to its end; returns the remote exit code. */
export async function pumpSession(
  session: StreamSession,
  io: HyperctlIO,
  options: PumpOptions,
): Promise<number> {
  const term = io.terminal;
  const raw = options.tty && term?.isTTY === true;
  let unsubscribe: (() => void) | undefined;
  if (raw) {
    term.setRaw(true);
    const size = term.size();
    // A resize races the process's exit; one lost after the exit changes nothing the user sees.
    const resize = (s: { width: number; height: number }): Promise<void> =>
      session.resize(s).catch(ignoreAfterExit);
    if (size) await resize(size);
    unsubscribe = term.onResize((s) => {
      void resize(s);
    });
  }
  let done = false;
  const onAbort = (): void => {
    void session.close();
  };
  io.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.stdin && io.stdin) {
    const source = io.stdin;
    void (async () => {
      try {
        for await (const chunk of source) {
          if (done) break;
          await session.writeStdin(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        }
        if (!done) await session.closeStdin();
      } catch {
        // the process stopped reading: nothing more to send
      }
    })();
  }
  const out = (async () => {
    for await (const c of session.stdout) io.stdout.write(c);
  })();
  const err = (async () => {
    for await (const c of session.stderr) io.stderr.write(Buffer.from(c).toString());
  })();
  try {
    await Promise.all([out, err]);
    return (await session.exit).exitCode;
  } finally {
    done = true;
    io.signal?.removeEventListener('abort', onAbort);
    unsubscribe?.();
    if (raw) term.setRaw(false);
    // the exit code is known: closing a session the daemon already ended is not an error
    await session.close().catch(ignoreAfterExit);
  }
}

/** For calls that may race the end of the session; the session's own outcome reports failures. */
function ignoreAfterExit(): void {}
