/**
 * `npm run bench:api`: the API server through HTTPS, on SQLite and on a 3-member local etcd,
 * in one run. The server is a real `h8s server --disable agent,runtime` child process; this
 * process is the load generator (both share the machine's 2 cores).
 *
 * Figures per backend: pod creates/s with 50 concurrent clients (p50/p99 create latency), get
 * p50/p99, list of 5,000 pods as JSON and as a Table (p50/p99), and watch delivery latency to
 * 100 watchers (p50/p99). Baseline measured in the same run: the store alone, the same number
 * of creates of the same bytes with the same concurrency, in this process (API/store ratio).
 *
 * Targets on the 2-core build machine with SQLite (docs/benchmarks.md): at least 2,000 creates/s,
 * p99 create under 100 ms, a list of 5,000 pods (JSON and Table) under 300 ms.
 *
 *   npm run bench:api [-- --pods 5000 --backends sqlite,etcd --warmup 3000 --creates-only]
 */
import { Agent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { nullLogger, spawnProcess, waitFor, type ChildHandle } from '../src/lib/index.js';
import { openKeyValueStore } from '../src/storage/index.js';
import { startEtcd, type EtcdCluster } from '../src/storage/testing/etcd-harness.js';
import { freePort } from '../test/e2e/helpers/api-server.js';

const args = process.argv.slice(2);
function arg(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
}
const podCount = Number(arg('pods', '5000'));
const backends = arg('backends', 'sqlite,etcd').split(',');
/**
 * Requests before the measured creates, to the API server (into another namespace) and to the
 * HTTPS floor alike: V8 optimises the validation code over the first few thousand creates of
 * a fresh process (`--warmup 200` measures a nearly cold server).
 */
const warmupCreates = Number(arg('warmup', '3000'));
/** `--creates-only` (for profiling the create path) skips every other phase. */
const createsOnly = args.includes('--creates-only');
const clients = 50;
const getCount = 2000;
const listRounds = 10;
const watchers = 100;
const watchWrites = 200;
const repoRoot = new URL('../', import.meta.url).pathname;

interface Server {
  readonly port: number;
  readonly ca: string;
  readonly token: string;
  readonly child: ChildHandle;
  readonly dataDir: string;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function startServer(datastore: string | undefined): Promise<Server> {
  const dataDir = await mkdtemp(join(tmpdir(), 'h8s-bench-api-'));
  const port = await freePort();
  // H8S_BENCH_SERVER_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the server.
  const nodeOptions = (process.env['H8S_BENCH_SERVER_NODE_OPTIONS'] ?? '').split(' ').filter((x) => x !== '');
  const argv = [
    process.execPath,
    ...nodeOptions,
    join(repoRoot, 'bin/h8s.js'),
    'server',
    '--data-dir',
    dataDir,
    '--bind-address',
    '127.0.0.1',
    '--port',
    String(port),
    '--disable',
    'agent,runtime,controllers',
    '--log-level',
    'warn',
    ...(datastore ? ['--datastore', datastore] : []),
  ];
  const child = await spawnProcess(argv, { cwd: repoRoot, killGraceMs: 10_000 });
  let out = '';
  child.stderr?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-8000)));
  child.stdout?.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-8000)));
  const kubeconfig = join(dataDir, 'kubeconfig.yaml');
  const info = await waitFor(
    async () => {
      const doc = parseYaml(await readFile(kubeconfig, 'utf8')) as {
        clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
        users: { user: { token: string } }[];
      };
      const c = doc.clusters[0]?.cluster;
      if (!c || !c.server.endsWith(`:${port}`)) return false;
      const s = {
        port,
        ca: Buffer.from(c['certificate-authority-data'], 'base64').toString(),
        token: doc.users[0]?.user.token ?? '',
        child,
        dataDir,
      };
      const r = await call(s, 'GET', '/readyz');
      return r.status === 200 ? s : false;
    },
    { timeoutMs: 90_000, description: `the server to start (${out.slice(-500)})` },
  );
  return info;
}

let agent: Agent | undefined;

interface Reply {
  readonly status: number;
  readonly body: string;
}

function call(
  s: Pick<Server, 'port' | 'ca' | 'token'>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  agent ??= new Agent({ keepAlive: true, maxSockets: 256, ca: s.ca });
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: s.port,
        path,
        method,
        agent,
        ca: s.ca,
        headers: {
          authorization: `Bearer ${s.token}`,
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(payload.length) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * The load generator of the create phases (API and HTTPS floor): one keep-alive TLS connection
 * per client speaking just enough HTTP/1.1 (a POST with Content-Length, a response with
 * Content-Length). node:https costs about 0.35 ms of CPU per request here, which on a 2-core
 * machine shared with the server caps any server below ~2,500 requests/s; load generators
 * (wrk, h2load, hey) are lean for that reason. The figures report its CPU per request.
 */
class LeanConnection {
  readonly #socket: TLSSocket;
  #buf: Buffer = Buffer.alloc(0);
  #waiting:
    { resolve: (r: { status: number; body: Buffer }) => void; reject: (e: Error) => void } | undefined;

  private constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      this.#parse();
    });
    const fail = (err: Error): void => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static open(port: number, ca: string): Promise<LeanConnection> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['http/1.1'] }, () => {
        socket.off('error', reject);
        resolve(new LeanConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  request(head: string, body: Buffer): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.cork();
      this.#socket.write(head);
      this.#socket.write(body);
      this.#socket.uncork();
    });
  }

  #parse(): void {
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.#waiting) return;
    const headText = this.#buf.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(headText);
    if (!length) {
      this.#waiting.reject(new Error(`response without Content-Length: ${headText.slice(0, 200)}`));
      this.#waiting = undefined;
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.#buf.length < total) return;
    const status = Number(headText.slice(9, 12));
    const body = this.#buf.subarray(end + 4, total);
    this.#buf = this.#buf.subarray(total);
    const w = this.#waiting;
    this.#waiting = undefined;
    w.resolve({ status, body });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** POSTs `n` pods to `path` over `clients` lean connections; each answer must be `expect`. */
async function leanCreates(
  target: { port: number; ca: string; token: string },
  path: string,
  first: number,
  n: number,
  expect: number,
): Promise<{ latencies: number[]; elapsedMs: number; clientCpuMs: number }> {
  const conns = await Promise.all(
    Array.from({ length: clients }, () => LeanConnection.open(target.port, target.ca)),
  );
  try {
    const prefix = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nAuthorization: Bearer ${target.token}\r\nContent-Type: application/json\r\n`;
    const latencies: number[] = [];
    let next = first;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      conns.map(async (conn) => {
        while (next < first + n) {
          const i = next++;
          const t0 = performance.now();
          const body = Buffer.from(JSON.stringify(pod(i)));
          const r = await conn.request(`${prefix}Content-Length: ${body.length}\r\n\r\n`, body);
          if (r.status !== expect) {
            throw new Error(`create ${i} answered ${r.status}: ${r.body.toString().slice(0, 300)}`);
          }
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { latencies, elapsedMs, clientCpuMs: (used.user + used.system) / 1000 };
  } finally {
    for (const c of conns) c.close();
  }
}

function pod(i: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, labels: { app: 'bench', shard: String(i % 10) } },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.local/bench/app:1.0',
          ports: [{ containerPort: 8080, name: 'http' }],
          env: [{ name: 'MODE', value: 'bench' }],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
        },
      ],
      restartPolicy: 'Always',
    },
  };
}

/** CPU time (user + system) a child process has used so far, ms (Linux /proc). */
async function serverCpuMs(s: { readonly child: ChildHandle }): Promise<number> {
  const stat = await readFile(`/proc/${s.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second here).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time (user + system) of a child process's main (event-loop) thread so far, ms. */
async function serverMainThreadCpuMs(s: { readonly child: ChildHandle }): Promise<number> {
  const stat = await readFile(`/proc/${s.child.pid}/task/${s.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs `n` jobs with `concurrency` workers; returns per-job latencies (ms) and elapsed ms. */
async function load(
  n: number,
  concurrency: number,
  job: (i: number) => Promise<void>,
): Promise<{ latencies: number[]; elapsedMs: number; clientCpuMs: number }> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await job(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { latencies, elapsedMs, clientCpuMs: (used.user + used.system) / 1000 };
}

/**
 * The HTTPS floor: a bare Node HTTPS server (same key, certificate and client) that reads each
 * body and answers 201 with a pod-sized JSON body, in its own process. API creates/s divided by
 * this is the share of the machine's HTTPS request rate the API server keeps.
 */
interface FloorFigures {
  readonly perSec: number;
  readonly serverCpuPerRequestMs: number;
  readonly clientCpuPerRequestMs: number;
}

async function httpsFloor(s: Server): Promise<FloorFigures> {
  const port = await freePort();
  const script = `
    const https = require('node:https');
    const fs = require('node:fs');
    const body = JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'x' }, pad: 'x'.repeat(1800) });
    https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) }, (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString());
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    }).listen(${port}, '127.0.0.1', () => process.stdout.write('listening'));`;
  const tls = join(s.dataDir, 'server', 'tls');
  const child = await spawnProcess([
    process.execPath,
    '-e',
    script,
    join(tls, 'serving.key'),
    join(tls, 'serving.crt'),
  ]);
  try {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes('listening'), {
      timeoutMs: 30_000,
      description: `the HTTPS floor server (${out})`,
    });
    const floor = { port, ca: s.ca, token: s.token };
    // Warm up (JIT) like the API server's warm-up.
    await leanCreates(floor, '/', 100_000, warmupCreates, 201);
    const cpuBefore = await serverCpuMs({ child });
    const { elapsedMs, clientCpuMs } = await leanCreates(floor, '/', 0, podCount, 201);
    const cpuMs = (await serverCpuMs({ child })) - cpuBefore;
    return {
      perSec: (podCount / elapsedMs) * 1000,
      serverCpuPerRequestMs: cpuMs / podCount,
      clientCpuPerRequestMs: clientCpuMs / podCount,
    };
  } finally {
    await child.stop(5_000);
  }
}

interface Figures {
  readonly httpsFloorPerSec: number;
  readonly floorServerCpuMs: number;
  readonly floorClientCpuMs: number;
  /** CPU time of this process (the clients) per create. */
  readonly clientCpuPerCreateMs: number;
  readonly createsPerSec: number;
  /** Server CPU time per create (user + system), independent of what else the machine runs. */
  readonly serverCpuPerCreateMs: number;
  /** The part of it on the server's event-loop thread. */
  readonly serverMainCpuPerCreateMs: number;
  readonly serverCpuPerListMs: number;
  readonly createP50: number;
  readonly createP99: number;
  readonly storeCreatesPerSec: number;
  readonly getP50: number;
  readonly getP99: number;
  readonly listJsonP50: number;
  readonly listJsonP99: number;
  readonly listTableP50: number;
  readonly listTableP99: number;
  readonly listBytes: number;
  readonly watchP50: number;
  readonly watchP99: number;
  readonly watchDelivered: number;
}

async function storeBaseline(url: string): Promise<number> {
  const store = await openKeyValueStore(url, { log: nullLogger });
  try {
    const bytes = Buffer.from(JSON.stringify(pod(0)));
    const { elapsedMs } = await load(podCount, clients, async (i) => {
      const r = await store.create(`/bench/baseline/${i}`, bytes);
      if (!r.ok) throw new Error(`baseline create ${i} failed: ${r.reason}`);
    });
    return (podCount / elapsedMs) * 1000;
  } finally {
    await store.close();
  }
}

async function watchDelivery(s: Server): Promise<{ latencies: number[]; delivered: number }> {
  const ns = '/api/v1/namespaces/bench/pods';
  const list = JSON.parse((await call(s, 'GET', `${ns}?limit=1`)).body) as {
    metadata: { resourceVersion: string };
  };
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let delivered = 0;
  const requests: ReturnType<typeof httpsRequest>[] = [];
  await Promise.all(
    Array.from(
      { length: watchers },
      () =>
        new Promise<void>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: '127.0.0.1',
              port: s.port,
              path: `${ns}?watch=true&resourceVersion=${list.metadata.resourceVersion}&labelSelector=app%3Dbench`,
              agent: new Agent({ keepAlive: false, ca: s.ca }),
              ca: s.ca,
              headers: { authorization: `Bearer ${s.token}` },
            },
            (res) => {
              let buf = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                const now = performance.now();
                buf += chunk;
                let nl: number;
                while ((nl = buf.indexOf('\n')) >= 0) {
                  const line = buf.slice(0, nl);
                  buf = buf.slice(nl + 1);
                  const m = /"bench\/seq":"(\d+)"/.exec(line);
                  const t0 = m ? sentAt.get(m[1] as string) : undefined;
                  if (t0 !== undefined) {
                    latencies.push(now - t0);
                    delivered++;
                  }
                }
              });
              resolve();
            },
          );
          req.on('error', (err) => {
            if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
          });
          req.end();
          requests.push(req);
        }),
    ),
  );
  for (let i = 0; i < watchWrites; i++) {
    sentAt.set(String(i), performance.now());
    await call(
      s,
      'PATCH',
      `${ns}/pod-${i}`,
      { metadata: { annotations: { 'bench/seq': String(i) } } },
      {
        'content-type': 'application/merge-patch+json',
      },
    );
  }
  await waitFor(() => delivered >= watchers * watchWrites, {
    timeoutMs: 60_000,
    description: 'every watcher to see every write',
  }).catch(() => undefined);
  for (const r of requests) r.destroy();
  return { latencies, delivered };
}

async function benchBackend(
  name: string,
  datastore: string | undefined,
  baselineUrl: string,
): Promise<Figures> {
  const s = await startServer(datastore);
  try {
    await call(s, 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'bench' },
    });
    // Warm up code paths (schema compilation, JIT) outside the measurement.
    await leanCreates(s, '/api/v1/namespaces/default/pods', 100_000, warmupCreates, 201);

    // The floor right before the creates, so both see the same machine load.
    const floor = await httpsFloor(s);
    const cpuBefore = await serverCpuMs(s);
    const mainCpuBefore = await serverMainThreadCpuMs(s);
    const creates = await leanCreates(s, '/api/v1/namespaces/bench/pods', 0, podCount, 201);
    const createCpuMs = (await serverCpuMs(s)) - cpuBefore;
    const createMainCpuMs = (await serverMainThreadCpuMs(s)) - mainCpuBefore;
    const floorFigures = {
      httpsFloorPerSec: floor.perSec,
      floorServerCpuMs: floor.serverCpuPerRequestMs,
      floorClientCpuMs: floor.clientCpuPerRequestMs,
      clientCpuPerCreateMs: creates.clientCpuMs / podCount,
    };
    if (createsOnly) {
      return {
        ...floorFigures,
        createsPerSec: (podCount / creates.elapsedMs) * 1000,
        serverCpuPerCreateMs: createCpuMs / podCount,
        serverMainCpuPerCreateMs: createMainCpuMs / podCount,
        serverCpuPerListMs: NaN,
        createP50: percentile(creates.latencies, 50),
        createP99: percentile(creates.latencies, 99),
        storeCreatesPerSec: NaN,
        getP50: NaN,
        getP99: NaN,
        listJsonP50: NaN,
        listJsonP99: NaN,
        listTableP50: NaN,
        listTableP99: NaN,
        listBytes: NaN,
        watchP50: NaN,
        watchP99: NaN,
        watchDelivered: 0,
      };
    }
    const gets = await load(getCount, clients, async (i) => {
      const r = await call(s, 'GET', `/api/v1/namespaces/bench/pods/pod-${(i * 7919) % podCount}`);
      if (r.status !== 200) throw new Error(`get answered ${r.status}`);
    });
    let listBytes = 0;
    const listCpuBefore = await serverCpuMs(s);
    const listJson = await load(listRounds, 1, async () => {
      const r = await call(s, 'GET', '/api/v1/namespaces/bench/pods');
      if (r.status !== 200) throw new Error(`list answered ${r.status}`);
      listBytes = r.body.length;
    });
    const listCpuMs = ((await serverCpuMs(s)) - listCpuBefore) / listRounds;
    const listTable = await load(listRounds, 1, async () => {
      const r = await call(s, 'GET', '/api/v1/namespaces/bench/pods', undefined, {
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
      });
      if (r.status !== 200 || !r.body.startsWith('{"kind":"Table"'))
        throw new Error(`table list answered ${r.status}`);
    });
    const watch = await watchDelivery(s);
    const storeCreatesPerSec = await storeBaseline(baselineUrl);
    console.error(`  ${name}: done`);
    return {
      ...floorFigures,
      createsPerSec: (podCount / creates.elapsedMs) * 1000,
      serverCpuPerCreateMs: createCpuMs / podCount,
      serverMainCpuPerCreateMs: createMainCpuMs / podCount,
      serverCpuPerListMs: listCpuMs,
      createP50: percentile(creates.latencies, 50),
      createP99: percentile(creates.latencies, 99),
      storeCreatesPerSec,
      getP50: percentile(gets.latencies, 50),
      getP99: percentile(gets.latencies, 99),
      listJsonP50: percentile(listJson.latencies, 50),
      listJsonP99: percentile(listJson.latencies, 99),
      listTableP50: percentile(listTable.latencies, 50),
      listTableP99: percentile(listTable.latencies, 99),
      listBytes,
      watchP50: percentile(watch.latencies, 50),
      watchP99: percentile(watch.latencies, 99),
      watchDelivered: watch.delivered,
    };
  } finally {
    await s.child.stop(15_000);
    await rm(s.dataDir, { recursive: true, force: true });
    agent?.destroy();
    agent = undefined;
  }
}

async function main(): Promise<void> {
  console.log(
    `API server benchmark: ${podCount} pods, ${clients} clients, ${warmupCreates} warm-up requests, ${watchers} watchers; ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, Node ${process.version}`,
  );
  const results = new Map<string, Figures>();
  for (const backend of backends) {
    const scratch = await mkdtemp(join(tmpdir(), 'h8s-bench-api-store-'));
    let etcd: EtcdCluster | undefined;
    try {
      if (backend === 'sqlite') {
        results.set(
          'sqlite',
          await benchBackend('sqlite', undefined, `sqlite://${join(scratch, 'baseline.db')}`),
        );
      } else if (backend === 'etcd') {
        etcd = await startEtcd({ members: 3 });
        results.set('etcd (3 members)', await benchBackend('etcd', etcd.url, etcd.url));
      } else {
        throw new Error(`unknown backend "${backend}"; use sqlite and/or etcd`);
      }
    } finally {
      await etcd?.stop();
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const names = [...results.keys()];
  const row = (label: string, f: (x: Figures) => string): string =>
    `| ${label} | ${names.map((n) => f(results.get(n) as Figures)).join(' | ')} |`;
  console.log(`\n| figure | ${names.join(' | ')} |`);
  console.log(`|---|${names.map(() => '---:').join('|')}|`);
  console.log(row('pod creates/s (50 clients)', (x) => fmt(x.createsPerSec, 0)));
  console.log(row('store alone creates/s (same bytes, 50 writers)', (x) => fmt(x.storeCreatesPerSec, 0)));
  console.log(row('API / store', (x) => fmt(x.createsPerSec / x.storeCreatesPerSec, 2)));
  console.log(row('HTTPS floor requests/s (bare server, same client)', (x) => fmt(x.httpsFloorPerSec, 0)));
  console.log(row('API / HTTPS floor', (x) => fmt(x.createsPerSec / x.httpsFloorPerSec, 2)));
  console.log(row('create p50 / p99, ms', (x) => `${fmt(x.createP50)} / ${fmt(x.createP99)}`));
  console.log(row('server CPU per create, ms (all threads)', (x) => fmt(x.serverCpuPerCreateMs, 2)));
  console.log(row('… of it on the event-loop thread, ms', (x) => fmt(x.serverMainCpuPerCreateMs, 2)));
  console.log(row('HTTPS floor server CPU per request, ms', (x) => fmt(x.floorServerCpuMs, 2)));
  console.log(
    row(
      'client CPU per request, ms (creates / floor)',
      (x) => `${fmt(x.clientCpuPerCreateMs, 2)} / ${fmt(x.floorClientCpuMs, 2)}`,
    ),
  );
  console.log(row('get p50 / p99, ms', (x) => `${fmt(x.getP50)} / ${fmt(x.getP99)}`));
  console.log(
    row(`list ${podCount} pods JSON p50 / p99, ms`, (x) => `${fmt(x.listJsonP50)} / ${fmt(x.listJsonP99)}`),
  );
  console.log(
    row(
      `list ${podCount} pods Table p50 / p99, ms`,
      (x) => `${fmt(x.listTableP50)} / ${fmt(x.listTableP99)}`,
    ),
  );
  console.log(row('server CPU per JSON list, ms', (x) => fmt(x.serverCpuPerListMs, 0)));
  console.log(row('list size, MiB', (x) => fmt(x.listBytes / 1024 / 1024, 1)));
  console.log(
    row(
      `watch delivery to ${watchers} watchers p50 / p99, ms`,
      (x) => `${fmt(x.watchP50)} / ${fmt(x.watchP99)}`,
    ),
  );
  console.log(row('watch events delivered', (x) => `${x.watchDelivered} of ${watchers * watchWrites}`));
  const sqlite = results.get('sqlite');
  if (sqlite) {
    const checks = [
      [`creates/s >= 2000`, sqlite.createsPerSec >= 2000],
      [`p99 create < 100 ms`, sqlite.createP99 < 100],
      [`list of ${podCount} pods < 300 ms (p50)`, sqlite.listJsonP50 < 300],
      [`Table list of ${podCount} pods < 300 ms (p50)`, sqlite.listTableP50 < 300],
    ] as const;
    console.log(`\nsqlite targets: ${checks.map(([l, ok]) => `${l}: ${ok ? 'met' : 'MISSED'}`).join('; ')}`);
  }
}

await main();
