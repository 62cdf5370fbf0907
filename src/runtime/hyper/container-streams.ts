/**
 * The byte streams of one hyper sandbox: exec sessions, attach sessions and port forwards,
 * each a set of numbered streams multiplexed over the sandbox's guest agent connection
 * (protocol.ts). HyperSandbox checks the container's state and builds the process; this
 * file opens the streams, ties them to the guest's requests and turns them into the
 * runtime's `StreamSession` and `Duplex` shapes.
 *
 * Invariant: stream ids come from the sandbox's persisted counter and are saved before the
 * guest sees them, so a restarted daemon never reuses the id of a stream the guest may still
 * hold.
 */
import { randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import { bestEffort, conflict, invalid, type Logger } from '../../lib/index.js';
import type { AttachOptions, ExecOptions, StreamSession, TerminalSize } from '../runtime-service.js';
import type { AgentConnection } from './agent-connection.js';
import { OutputQueue } from './output-queue.js';
import type { ExitEvent } from './protocol.js';

/** The process an exec runs, as the guest agent takes it (`HyperSandbox` merges the container's). */
export interface ExecProcess {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: string;
}

export interface ContainerStreamsDeps {
  /** The agent connection; throws Conflict once the sandbox is not running. */
  conn(): AgentConnection;
  /** The next stream id of the sandbox's persisted counter. */
  nextStreamId(): number;
  /** Persists the sandbox state (the stream id counter) before the guest sees new ids. */
  save(): Promise<void>;
  readonly log: Logger;
}

interface ExecWaiter {
  resolve(e: ExitEvent): void;
}

interface AttachedOutput {
  readonly out: OutputQueue;
  readonly err: OutputQueue;
}

/** The chunks of `source`, then `trailer`. */
async function* withTrailer(
  source: AsyncIterable<Uint8Array>,
  trailer: Uint8Array,
): AsyncGenerator<Uint8Array> {
  yield* source;
  yield trailer;
}

export class ContainerStreams {
  readonly #d: ContainerStreamsDeps;
  /** Exec sessions waiting for their exit event, by exec id. */
  readonly #execs = new Map<string, ExecWaiter>();
  /** Attach sessions following a container's output, by container id. */
  readonly #attachers = new Map<string, Set<AttachedOutput>>();

  constructor(d: ContainerStreamsDeps) {
    this.#d = d;
  }

  /** Runs `proc` in a running container and streams its stdio. */
  async exec(containerId: string, proc: ExecProcess, options: ExecOptions): Promise<StreamSession> {
    const conn = this.#d.conn();
    const tty = options.tty ?? false;
    const execId = randomBytes(8).toString('hex');
    const wantOut = options.stdout ?? true;
    const wantErr = !tty && (options.stderr ?? true);
    const stdoutId = wantOut ? this.#d.nextStreamId() : 0;
    const stderrId = wantErr ? this.#d.nextStreamId() : 0;
    const stdinId = options.stdin ? this.#d.nextStreamId() : 0;
    await this.#d.save();
    const out = new OutputQueue();
    const err = new OutputQueue();
    if (!wantOut) out.end();
    if (!wantErr) err.end();
    if (stdoutId) conn.openOutput(stdoutId, out);
    if (stderrId) conn.openOutput(stderrId, err);
    if (stdinId) conn.openInput(stdinId);
    let exitResolve!: (e: ExitEvent) => void;
    const exitEvent = new Promise<ExitEvent>((r) => {
      exitResolve = r;
    });
    this.#execs.set(execId, { resolve: exitResolve });
    const size = options.initialSize;
    let startError = '';
    try {
      const r = await conn.request('exec', {
        container: containerId,
        execId,
        process: {
          args: [...proc.args],
          env: [...proc.env],
          cwd: proc.cwd,
          user: proc.user,
          tty,
          stdin: stdinId,
          stdout: stdoutId,
          stderr: stderrId,
          ...(size ? { rows: size.height, cols: size.width } : {}),
        },
      });
      if (typeof r['startError'] === 'string') startError = r['startError'].slice(0, 1024);
    } catch (e) {
      this.#execs.delete(execId);
      if (stdoutId) conn.dropOutput(stdoutId);
      if (stderrId) conn.dropOutput(stderrId);
      throw e;
    }
    const session = this.#session(conn, containerId, execId, {
      out,
      err,
      stdinId,
      exitEvent,
      kill: true,
    });
    if (!startError) return session;
    // The executable could not run (exit 126/127): say why, as docker exec does.
    const message = Buffer.from(`${startError}\n`);
    if (wantErr) return { ...session, stderr: withTrailer(err, message) };
    if (wantOut) return { ...session, stdout: withTrailer(out, message) };
    return session;
  }

  /** Delivers an exec's exit event; false when no exec of this id waits for it. */
  execExited(ev: ExitEvent): boolean {
    const w = this.#execs.get(ev.execId);
    this.#execs.delete(ev.execId);
    w?.resolve(ev);
    return w !== undefined;
  }

  /** The sandbox died: every exec still running ends with 137. */
  failAllExecs(finishedAtMs: number): void {
    for (const w of this.#execs.values()) {
      w.resolve({
        type: 'exit',
        container: '',
        execId: '',
        exitCode: 137,
        oomKilled: false,
        finishedAtMs,
      });
    }
    this.#execs.clear();
  }

  /**
   * Follows a running container's output (as it is logged) and, with `stdinId`, feeds its
   * stdin. `exited` resolves with the container's exit code when its exit has been reported.
   */
  attach(
    containerId: string,
    c: { readonly tty: boolean; readonly stdinId: number },
    options: AttachOptions,
    exited: Promise<number>,
  ): StreamSession {
    const conn = this.#d.conn();
    const out = new OutputQueue();
    const err = new OutputQueue();
    // With a tty the process has one output stream; attach follows it as it is logged.
    if (c.tty || options.stderr === false) err.end();
    if (options.stdout === false) out.end();
    const pair = { out, err };
    let set = this.#attachers.get(containerId);
    if (!set) this.#attachers.set(containerId, (set = new Set()));
    set.add(pair);
    void exited.then(() => {
      out.end();
      err.end();
      this.#attachers.get(containerId)?.delete(pair);
    });
    const exitEvent = exited.then((exitCode): ExitEvent => ({
      type: 'exit',
      container: containerId,
      execId: '',
      exitCode,
      oomKilled: false,
      finishedAtMs: 0,
    }));
    const session = this.#session(conn, containerId, '', {
      out,
      err,
      stdinId: options.stdin ? c.stdinId : 0,
      exitEvent,
      kill: false,
    });
    const close = session.close;
    return {
      ...session,
      close: async () => {
        this.#attachers.get(containerId)?.delete(pair);
        await close();
      },
    };
  }

  /** Copies a chunk a container logged to the attach sessions following it. */
  async toAttached(containerId: string, name: 'stdout' | 'stderr', chunk: Buffer): Promise<void> {
    for (const a of this.#attachers.get(containerId) ?? [])
      await (name === 'stderr' ? a.err : a.out).write(chunk);
  }

  /** A byte stream to `port` on the pod's loopback, relayed by the guest agent. */
  async portForward(port: number): Promise<Duplex> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`Port ${port} is not valid`);
    const conn = this.#d.conn();
    const outId = this.#d.nextStreamId();
    const inId = this.#d.nextStreamId();
    await this.#d.save();
    const out = new OutputQueue();
    conn.openOutput(outId, out);
    conn.openInput(inId);
    try {
      await conn.request('portForward', { port, stdin: inId, stdout: outId });
    } catch (err) {
      conn.dropOutput(outId);
      throw err;
    }
    const it = out[Symbol.asyncIterator]();
    let reading = false;
    return new Duplex({
      read() {
        if (reading) return;
        reading = true;
        void it.next().then(
          (r) => {
            reading = false;
            this.push(r.done ? null : r.value);
          },
          (e: Error) => this.destroy(e),
        );
      },
      write(chunk: Buffer, _enc, cb) {
        conn.writeInput(inId, chunk).then(() => cb(), cb);
      },
      final(cb) {
        conn.closeInput(inId);
        cb();
      },
      destroy(err, cb) {
        conn.closeInput(inId);
        out.discard();
        cb(err);
      },
    });
  }

  #session(
    conn: AgentConnection,
    containerId: string,
    execId: string,
    s: { out: OutputQueue; err: OutputQueue; stdinId: number; exitEvent: Promise<ExitEvent>; kill: boolean },
  ): StreamSession {
    let closed = false;
    const exit = (async () => {
      const ev = await s.exitEvent;
      await Promise.all([s.out.finished, s.err.finished]);
      return { exitCode: ev.exitCode };
    })();
    // The caller may close the session without awaiting its exit.
    void bestEffort(this.#d.log, 'exec session exit', exit);
    return {
      stdout: s.out,
      stderr: s.err,
      exit,
      writeStdin: async (data: Uint8Array) => {
        if (!s.stdinId) throw conflict('The session was opened without stdin');
        await conn.writeInput(s.stdinId, data);
      },
      closeStdin: async () => {
        if (s.stdinId) conn.closeInput(s.stdinId);
      },
      resize: async (size: TerminalSize) => {
        await conn.request('resize', { container: containerId, execId, rows: size.height, cols: size.width });
      },
      close: async () => {
        if (closed) return;
        closed = true;
        if (s.kill) {
          // The exec may have ended meanwhile; the guest then has nothing to signal.
          await bestEffort(
            this.#d.log,
            'kill a closed exec session',
            conn.request('signal', { container: containerId, execId, signal: 9 }),
          );
        }
        s.out.discard();
        s.err.discard();
      },
    };
  }
}
