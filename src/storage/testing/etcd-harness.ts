/**
 * Real etcd for tests and benchmarks: starts a single member or a 3-member cluster from
 * Debian's `etcd-server` (/usr/bin/etcd) on free loopback ports, each member in its own temp
 * directory, and stops or kills members on demand.
 *
 *   const cluster = await startEtcd({ members: 3 });
 *   const store = await openKeyValueStore(cluster.url, { log });
 *   await cluster.members[0].kill();           // SIGKILL one member
 *   await cluster.stop();                      // every member, and the temp directory
 *
 * Nothing here is shared with other tests: ports come from the kernel (bind 0, read, close) and
 * the processes are killed by pid when `stop()` runs or the owner's signal aborts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChildHandle, findExecutable, internal, spawnProcess, waitFor } from '../../lib/index.js';

export interface StartEtcdOptions {
  /** 1 (default) or 3. */
  readonly members?: 1 | 3;
  /** Parent of the members' data directories; a new temp directory by default (removed on stop). */
  readonly dir?: string;
  /** Aborting it kills every member. */
  readonly signal?: AbortSignal;
  /** Extra command-line flags for every member. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for the cluster to become healthy. Default 30 s. */
  readonly startTimeoutMs?: number;
}

export interface EtcdMember {
  readonly name: string;
  /** `127.0.0.1:port` of the client listener. */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly isRunning: boolean;
  /** SIGKILL, as in a crash; resolves when it has exited. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** Starts the member again with its data directory (after kill or stop). */
  restart(): Promise<void>;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** `etcd://127.0.0.1:p1,127.0.0.1:p2,...` for openKeyValueStore. */
  readonly url: string;
  readonly endpoints: readonly string[];
  /** The member that is the Raft leader now, if a running member knows one. */
  leader(): Promise<EtcdMember | undefined>;
  /** Kills every member and removes the temp directory (if the harness made it). */
  stop(): Promise<void>;
}

/** Flags that make every member behave as we need in tests and benchmarks. */
export const etcdTestFlags: readonly string[] = [
  // Values of 1.5 MiB plus key and framing must fit in one request (etcd's default is 1.5 MiB).
  '--max-request-bytes=10485760',
  // Fast leader election so the member-kill test does not wait seconds for a new leader.
  '--heartbeat-interval=50',
  '--election-timeout=500',
  '--logger=zap',
  '--log-outputs=stderr',
  '--log-level=warn',
];

/** A free TCP port on 127.0.0.1 (bind 0, read it, close). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * Starts etcd and waits until every member reports healthy.
 * @throws InternalError when the etcd binary is missing or a member does not come up (with
 *   the tail of its stderr).
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const binary = await findExecutable('etcd');
  if (!binary) {
    throw internal('Cannot start etcd: no "etcd" binary on PATH; install the Debian package etcd-server');
  }
  const count = options.members ?? 1;
  const ownsDir = options.dir === undefined;
  const root = options.dir ?? mkdtempSync(join(tmpdir(), 'h8s-etcd-'));
  const token = `h8s-test-${process.pid}-${Date.now()}`;
  const specs: { name: string; clientPort: number; peerPort: number; dataDir: string }[] = [];
  for (let i = 0; i < count; i++) {
    specs.push({
      name: `m${i}`,
      clientPort: await freeLoopbackPort(),
      peerPort: await freeLoopbackPort(),
      dataDir: join(root, `m${i}`),
    });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');

  const members = specs.map((s) => {
    let child: ChildHandle | undefined;
    let stderr = '';
    const argv = [
      binary,
      `--name=${s.name}`,
      `--data-dir=${s.dataDir}`,
      `--listen-client-urls=http://127.0.0.1:${s.clientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${s.clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${s.peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${s.peerPort}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${token}`,
      ...etcdTestFlags,
      ...(options.extraArgs ?? []),
    ];
    const start = async (): Promise<void> => {
      stderr = '';
      const c = await spawnProcess(argv, {
        killGraceMs: 5000,
        stdio: ['ignore', 'ignore', 'pipe'],
        ...(options.signal ? { signal: options.signal } : {}),
      });
      c.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-8000);
      });
      child = c;
    };
    const member: EtcdMember & { start(): Promise<void>; stderrTail(): string; exitedEarly(): boolean } = {
      name: s.name,
      endpoint: `127.0.0.1:${s.clientPort}`,
      dataDir: s.dataDir,
      get isRunning() {
        return child !== undefined;
      },
      start,
      stderrTail: () => stderr,
      exitedEarly: () => child !== undefined && child.raw.exitCode !== null,
      async kill() {
        const c = child;
        child = undefined;
        if (!c) return;
        c.kill('SIGKILL');
        await c.exited;
      },
      async stop() {
        const c = child;
        child = undefined;
        if (!c) return;
        await c.stop(5000);
      },
      async restart() {
        if (child) throw internal(`etcd member "${s.name}" is already running`);
        await start();
        await waitHealthy([member], 30_000);
      },
    };
    return member;
  });

  const stopAll = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.kill()));
    if (ownsDir) rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(members.map((m) => m.start()));
    await waitHealthy(members, options.startTimeoutMs ?? 30_000);
  } catch (err) {
    const tails = members.map((m) => `${m.name}: ${m.stderrTail().slice(-1500)}`).join('\n');
    await stopAll();
    throw internal(`Cannot start etcd (${count} member(s)) in "${root}": ${String(err)}\n${tails}`, {
      cause: err,
    });
  }
  const endpoints = members.map((m) => m.endpoint);
  const leader = async (): Promise<EtcdMember | undefined> => {
    const { Etcd3 } = await import('etcd3');
    for (const m of members) {
      if (!m.isRunning) continue;
      const client = new Etcd3({ hosts: `http://${m.endpoint}` });
      try {
        const status = await client.maintenance.status();
        const leaderId = status.leader;
        if (leaderId === '0') continue;
        for (const other of members) {
          if (!other.isRunning) continue;
          const c = new Etcd3({ hosts: `http://${other.endpoint}` });
          try {
            if ((await c.maintenance.status()).header.member_id === leaderId) return other;
          } finally {
            c.close();
          }
        }
      } catch {
        // this member cannot answer; ask the next one
      } finally {
        client.close();
      }
    }
    return undefined;
  };
  return { members, url: `etcd://${endpoints.join(',')}`, endpoints, leader, stop: stopAll };
}

async function waitHealthy(
  members: readonly (EtcdMember & { exitedEarly(): boolean; stderrTail(): string })[],
  timeoutMs: number,
): Promise<void> {
  await Promise.all(
    members.map((m) =>
      waitFor(
        async () => {
          if (m.exitedEarly())
            throw internal(`etcd member "${m.name}" exited: ${m.stderrTail().slice(-1500)}`);
          const res = await fetch(`http://${m.endpoint}/health`, { signal: AbortSignal.timeout(2000) });
          const body = (await res.json()) as { health?: unknown };
          return res.ok && (body.health === 'true' || body.health === true);
        },
        { timeoutMs, intervalMs: 25, description: `etcd member "${m.name}" at ${m.endpoint} to be healthy` },
      ),
    ),
  );
}
