/**
 * The runtime API on a unix socket: HTTP/1.1 + JSON, so `curl --unix-socket` works as it does
 * with hyperd and Docker. Routes are listed in docs/runtime.md; streams (exec, attach, logs,
 * port-forward) switch the connection to the framed channel protocol (stream-frames.ts) with
 * `Connection: Upgrade` / `Upgrade: h8s-stream.v1`, answering 101 only once the stream exists,
 * so every refusal is an ordinary JSON error.
 *
 * Every body and query is parsed with a schema and size-limited; a malformed request gets a
 * 4xx and never reaches the runtime. Errors go out as `{ code, message, details }`
 * (wire-errors.ts); an InternalError is logged here and hidden on the wire.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rm, stat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type, type TSchema, type Static } from '@sinclair/typebox';
import {
  badRequest,
  bestEffort,
  describeError,
  findH8sError,
  metricsContentType,
  methodNotAllowed,
  MetricsRegistry,
  notFound,
  parseJson,
  parseWith,
  tooLarge,
  unavailable,
  unlessMissing,
  unsupportedMediaType,
  type Labels,
  type Logger,
} from '../lib/index.js';

type GaugeSample = { readonly labels: Labels; readonly value: number };
import {
  CreateContainerRequestSchema,
  ExecSyncRequestSchema,
  LinuxContainerResourcesSchema,
  SyncPodFilesSchema,
  PullImageRequestSchema,
  RunPodSandboxRequestSchema,
  SaveImagesRequestSchema,
  StopContainerRequestSchema,
} from './api-schemas.js';
import { formatCriLogLine } from './cri-log.js';
import type { ContainerState, NodeRuntime, PodSandboxState, RuntimeHandlerName } from './runtime-service.js';
import { channel, encodeFrame, encodeJsonFrame, FrameDecoder } from './stream-frames.js';
import { serveSession } from './stream-session-frames.js';
import { errorBody } from './wire-errors.js';
import { socketPathOf, streamProtocol } from './endpoint.js';

export { socketPathOf, streamProtocol };

export interface RuntimeServerOptions {
  readonly runtime: NodeRuntime;
  readonly log: Logger;
  /** Where uploaded and saved image tarballs are staged. */
  readonly tmpDir: string;
  /** Largest JSON body. Default 4 MiB. */
  readonly maxBodyBytes?: number;
  /** Largest image tarball upload (`load`). Default 64 GiB. */
  readonly maxUploadBytes?: number;
  /** Where the daemon's metrics live (served as Prometheus text on `GET /metrics`); default its own. */
  readonly metrics?: MetricsRegistry;
}

export interface RuntimeServer {
  /** Listens on `unix:///path` (or a bare path). @throws ServiceUnavailable if a daemon already serves it */
  listen(endpoint: string): Promise<void>;
  close(): Promise<void>;
  readonly server: Server;
}

type Query = URLSearchParams;

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: readonly string[];
  readonly query: Query;
  readonly signal: AbortSignal;
}

interface StreamCtx {
  readonly req: IncomingMessage;
  readonly params: readonly string[];
  readonly query: Query;
}

type Handler = (ctx: Ctx) => Promise<unknown>;
/** Returns a function that takes over the upgraded socket once the 101 has been sent. */
type StreamHandler = (ctx: StreamCtx) => Promise<(sock: Duplex, head: Buffer) => Promise<void>>;

/** A route's path pattern, with the template it was made from (the `route` label of metrics). */
type RoutePattern = RegExp & { readonly template: string };

interface Route {
  readonly method: string;
  readonly pattern: RoutePattern;
  readonly handler?: Handler;
  readonly stream?: StreamHandler;
}

const seg = '([^/]+)';
const re = (path: string): RoutePattern =>
  Object.assign(new RegExp(`^${path.replace(/\{[a-z]+\}/g, seg)}$`), { template: path });

function bool(q: Query, name: string, def = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return def;
  if (['1', 'true', 'yes'].includes(v)) return true;
  if (['0', 'false', 'no'].includes(v)) return false;
  throw badRequest(`Invalid query parameter "${name}": "${v}" is not a boolean`);
}

function int(q: Query, name: string, min: number, max: number): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw badRequest(`Invalid query parameter "${name}": "${v}" is not an integer in [${min}, ${max}]`);
  }
  return Number(v);
}

function labelSelector(q: Query): Record<string, string> | undefined {
  const all = q.getAll('label');
  if (all.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const l of all.slice(0, 64)) {
    const i = l.indexOf('=');
    if (i <= 0) throw badRequest(`Invalid label selector "${l}": expected key=value`);
    out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

function oneOf<T extends string>(q: Query, name: string, values: readonly T[]): T | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!values.includes(v as T))
    throw badRequest(`Invalid query parameter "${name}": "${v}" is not one of ${values.join(', ')}`);
  return v as T;
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > max) throw tooLarge(`Request body of ${declared} bytes is over the limit of ${max} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) throw tooLarge(`Request body is over the limit of ${max} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function writeJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Writes an HTTP error on a raw socket (an upgrade we refuse). */
function refuseUpgrade(sock: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  sock.end(
    `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

export function createRuntimeServer(options: RuntimeServerOptions): RuntimeServer {
  const rt = options.runtime;
  const log = options.log.child({ component: 'runtime-api' });
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const maxUpload = options.maxUploadBytes ?? 64 * 1024 * 1024 * 1024;
  let socketPath: string | undefined;

  // Prometheus metrics (GET /metrics): requests, sandbox start latency, objects by state.
  const metrics = options.metrics ?? new MetricsRegistry();
  const requestsTotal = metrics.counter(
    'h8s_runtime_requests_total',
    'Runtime API requests by method, route and HTTP status code.',
  );
  const requestSeconds = metrics.histogram(
    'h8s_runtime_request_duration_seconds',
    'Runtime API request latency by method and route (streams excluded).',
  );
  const sandboxStartSeconds = metrics.histogram(
    'h8s_runtime_sandbox_start_duration_seconds',
    'Time to run a pod sandbox (a VM for hyper, namespaces for runc), by runtime handler.',
    [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  );
  let objects: { sandboxes: GaugeSample[]; containers: GaugeSample[] } = { sandboxes: [], containers: [] };
  metrics
    .gauge('h8s_runtime_sandboxes', 'Pod sandboxes by runtime handler and state.')
    .collectWith(() => objects.sandboxes);
  metrics
    .gauge('h8s_runtime_containers', 'Containers by runtime handler and state.')
    .collectWith(() => objects.containers);
  /** Counts the runtime's sandboxes and containers for the scrape being answered. */
  async function countObjects(): Promise<void> {
    const sandboxes = await rt.listPodSandbox();
    const handlerOf = new Map(sandboxes.map((x) => [x.id, x.runtimeHandler]));
    const count = (keys: string[][]): GaugeSample[] => {
      const by = new Map<string, number>();
      for (const k of keys) by.set(JSON.stringify(k), (by.get(JSON.stringify(k)) ?? 0) + 1);
      return [...by].map(([k, value]) => {
        const [handler, state] = JSON.parse(k) as [string, string];
        return { labels: { handler, state }, value };
      });
    };
    objects = {
      sandboxes: count(sandboxes.map((x) => [x.runtimeHandler, x.state])),
      containers: count(
        (await rt.listContainers()).map((c) => [handlerOf.get(c.podSandboxId) ?? '', c.state]),
      ),
    };
  }

  async function json<T extends TSchema>(ctx: Ctx, schema: T, what: string): Promise<Static<T>> {
    const type = ctx.req.headers['content-type'];
    if (type && !type.startsWith('application/json')) {
      throw unsupportedMediaType(`Expected an application/json body, got "${type}"`);
    }
    const raw = await readBody(ctx.req, maxBody);
    const value = raw.length === 0 ? {} : parseJson(raw.toString('utf8'), what);
    return parseWith(schema, value, what);
  }

  const id = (ctx: { params: readonly string[] }, i = 0): string => decodeURIComponent(ctx.params[i] ?? '');

  const routes: Route[] = [
    { method: 'GET', pattern: re('/_ping'), handler: async () => 'OK' },
    {
      method: 'GET',
      pattern: re('/metrics'),
      handler: async (ctx) => {
        await countObjects();
        ctx.res.writeHead(200, { 'Content-Type': metricsContentType });
        ctx.res.end(metrics.render());
        return streamedResponse;
      },
    },
    { method: 'GET', pattern: re('/v1/info'), handler: () => rt.info() },
    {
      method: 'GET',
      pattern: re('/v1/version'),
      handler: async () => ({ version: (await rt.info()).version }),
    },

    // sandboxes
    {
      method: 'POST',
      pattern: re('/v1/sandboxes'),
      handler: async (ctx) => {
        const body = await json(ctx, RunPodSandboxRequestSchema, 'run pod sandbox request');
        const t0 = performance.now();
        const sid = await rt.runPodSandbox(body.config, body.runtimeHandler);
        sandboxStartSeconds.observe(
          { handler: body.runtimeHandler || 'default' },
          (performance.now() - t0) / 1000,
        );
        ctx.res.statusCode = 201;
        return { id: sid };
      },
    },
    {
      method: 'GET',
      pattern: re('/v1/sandboxes'),
      handler: async (ctx) => {
        const q = ctx.query;
        const state = oneOf<PodSandboxState>(q, 'state', ['SANDBOX_READY', 'SANDBOX_NOTREADY']);
        const handler = oneOf<RuntimeHandlerName>(q, 'runtimeHandler', ['hyper', 'runc']);
        const sel = labelSelector(q);
        const items = await rt.listPodSandbox({
          ...(q.get('id') ? { id: q.get('id') as string } : {}),
          ...(state ? { state } : {}),
          ...(handler ? { runtimeHandler: handler } : {}),
          ...(sel ? { labelSelector: sel } : {}),
        });
        return { items };
      },
    },
    { method: 'GET', pattern: re('/v1/sandboxes/{id}'), handler: (ctx) => rt.podSandboxStatus(id(ctx)) },
    {
      method: 'POST',
      pattern: re('/v1/sandboxes/{id}/files'),
      handler: async (ctx) => {
        const body = await json(ctx, SyncPodFilesSchema, 'pod files sync');
        await rt.syncPodFiles?.(id(ctx), body.hostPath);
        return {};
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/sandboxes/{id}/stop'),
      handler: async (ctx) => {
        await rt.stopPodSandbox(id(ctx));
        return {};
      },
    },
    {
      method: 'DELETE',
      pattern: re('/v1/sandboxes/{id}'),
      handler: async (ctx) => {
        await rt.removePodSandbox(id(ctx));
        return {};
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/sandboxes/{id}/port-forward'),
      stream: async (ctx) => {
        const port = int(ctx.query, 'port', 1, 65535);
        if (port === undefined) throw badRequest('Missing query parameter "port"');
        const conn = await rt.portForward(id(ctx), port);
        return (sock, head) => servePortForward(sock, head, conn);
      },
    },

    // containers
    {
      method: 'POST',
      pattern: re('/v1/containers'),
      handler: async (ctx) => {
        const body = await json(ctx, CreateContainerRequestSchema, 'create container request');
        const cid = await rt.createContainer(body.podSandboxId, body.config);
        ctx.res.statusCode = 201;
        return { id: cid };
      },
    },
    {
      method: 'GET',
      pattern: re('/v1/containers'),
      handler: async (ctx) => {
        const q = ctx.query;
        const state = oneOf<ContainerState>(q, 'state', [
          'CONTAINER_CREATED',
          'CONTAINER_RUNNING',
          'CONTAINER_EXITED',
          'CONTAINER_UNKNOWN',
        ]);
        const sel = labelSelector(q);
        const items = await rt.listContainers({
          ...(q.get('id') ? { id: q.get('id') as string } : {}),
          ...(q.get('podSandboxId') ? { podSandboxId: q.get('podSandboxId') as string } : {}),
          ...(state ? { state } : {}),
          ...(sel ? { labelSelector: sel } : {}),
        });
        return { items };
      },
    },
    { method: 'GET', pattern: re('/v1/containers/{id}'), handler: (ctx) => rt.containerStatus(id(ctx)) },
    {
      method: 'POST',
      pattern: re('/v1/containers/{id}/start'),
      handler: async (ctx) => {
        await rt.startContainer(id(ctx));
        return {};
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/containers/{id}/stop'),
      handler: async (ctx) => {
        const body = await json(ctx, StopContainerRequestSchema, 'stop container request');
        await rt.stopContainer(id(ctx), body.timeoutSeconds ?? 10);
        return {};
      },
    },
    {
      method: 'DELETE',
      pattern: re('/v1/containers/{id}'),
      handler: async (ctx) => {
        await rt.removeContainer(id(ctx));
        return {};
      },
    },
    {
      method: 'PUT',
      pattern: re('/v1/containers/{id}/resources'),
      handler: async (ctx) => {
        const body = await json(ctx, LinuxContainerResourcesSchema, 'container resources');
        await rt.updateContainerResources(id(ctx), body);
        return {};
      },
    },
    { method: 'GET', pattern: re('/v1/containers/{id}/stats'), handler: (ctx) => rt.containerStats(id(ctx)) },
    {
      method: 'POST',
      pattern: re('/v1/containers/{id}/exec-sync'),
      handler: async (ctx) => {
        const body = await json(ctx, ExecSyncRequestSchema, 'exec request');
        const r = await rt.execSync(id(ctx), body.cmd, body.timeoutSeconds ?? 0);
        return {
          stdout: Buffer.from(r.stdout).toString('base64'),
          stderr: Buffer.from(r.stderr).toString('base64'),
          exitCode: r.exitCode,
        };
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/containers/{id}/exec'),
      stream: async (ctx) => {
        const q = ctx.query;
        const cmd = q.getAll('cmd');
        if (cmd.length === 0) throw badRequest('Missing query parameter "cmd" (repeat it for each argument)');
        if (cmd.length > 4096) throw badRequest('Too many "cmd" arguments');
        const width = int(q, 'width', 0, 65535);
        const height = int(q, 'height', 0, 65535);
        const envs = q
          .getAll('env')
          .slice(0, 4096)
          .map((e) => {
            const i = e.indexOf('=');
            if (i <= 0) throw badRequest(`Invalid query parameter "env": "${e}" is not KEY=VALUE`);
            return { key: e.slice(0, i), value: e.slice(i + 1) };
          });
        const tty = bool(q, 'tty');
        const session = await rt.exec(id(ctx), {
          cmd,
          tty,
          stdin: bool(q, 'stdin'),
          stdout: bool(q, 'stdout', true),
          stderr: bool(q, 'stderr', true),
          ...(width !== undefined && height !== undefined ? { initialSize: { width, height } } : {}),
          ...(envs.length ? { envs } : {}),
          ...(q.get('workingDir') ? { workingDir: q.get('workingDir') as string } : {}),
          ...(q.get('user') ? { user: q.get('user') as string } : {}),
        });
        return (sock, head) => serveSession(sock, session, head, log);
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/containers/{id}/attach'),
      stream: async (ctx) => {
        const q = ctx.query;
        const session = await rt.attach(id(ctx), {
          stdin: bool(q, 'stdin'),
          stdout: bool(q, 'stdout', true),
          stderr: bool(q, 'stderr', true),
          tty: bool(q, 'tty'),
        });
        return (sock, head) => serveSession(sock, session, head, log);
      },
    },
    {
      method: 'GET',
      pattern: re('/v1/containers/{id}/logs'),
      stream: async (ctx) => {
        const q = ctx.query;
        const cid = id(ctx);
        await rt.containerStatus(cid); // NotFound before the upgrade
        const tail = int(q, 'tailLines', -1, 1_000_000_000);
        const since = q.get('sinceNs');
        if (since !== null && !/^\d{1,20}$/.test(since))
          throw badRequest(`Invalid query parameter "sinceNs": "${since}"`);
        const limit = int(q, 'limitBytes', 1, Number.MAX_SAFE_INTEGER);
        const follow = bool(q, 'follow');
        return async (sock) => {
          const ac = new AbortController();
          sock.on('close', () => ac.abort());
          sock.on('error', () => {});
          sock.resume(); // nothing is read from the client; do not let its bytes pile up
          try {
            for await (const line of rt.containerLogs(cid, {
              follow,
              ...(tail !== undefined && tail >= 0 ? { tailLines: tail } : {}),
              ...(since !== null ? { sinceNs: Number(since) } : {}),
              ...(limit !== undefined ? { limitBytes: limit } : {}),
              signal: ac.signal,
            })) {
              const rec = formatCriLogLine(line);
              if (!sock.write(encodeFrame(channel.logLine, rec.subarray(0, rec.length - 1)))) {
                await new Promise<void>((r) => {
                  sock.once('drain', r);
                  sock.once('close', r);
                });
              }
              if (ac.signal.aborted) break;
            }
            if (!ac.signal.aborted) sock.write(encodeJsonFrame(channel.status, { exitCode: 0 }));
          } catch (err) {
            if (!ac.signal.aborted)
              sock.write(encodeJsonFrame(channel.status, { error: errorBody(err).body }));
          } finally {
            sock.end();
          }
        };
      },
    },

    // images
    {
      method: 'GET',
      pattern: re('/v1/images'),
      handler: async () => ({ items: await rt.images.listImages() }),
    },
    {
      method: 'POST',
      pattern: re('/v1/images/pull'),
      handler: async (ctx) => {
        const body = await json(ctx, PullImageRequestSchema, 'pull request');
        const res = ctx.res;
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        const line = (v: unknown): void => {
          if (!res.destroyed) res.write(JSON.stringify(v) + '\n');
        };
        try {
          const image = await rt.images.pullImage(body.ref, {
            ...(body.platform ? { platform: body.platform } : {}),
            ...(body.auth ? { auth: body.auth } : {}),
            ...(body.unpack ? { unpack: body.unpack } : {}),
            onProgress: (p) => line({ progress: p }),
            signal: ctx.signal,
          });
          line({ image });
        } catch (err) {
          logFailure(err, 'POST', ctx.req.url ?? '');
          line({ error: errorBody(err).body });
        }
        res.end();
        return streamedResponse;
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/images/load'),
      handler: async (ctx) => {
        const tmp = join(options.tmpDir, `load-${randomBytes(6).toString('hex')}.tar`);
        await mkdir(options.tmpDir, { recursive: true, mode: 0o700 });
        try {
          await receiveFile(ctx.req, tmp, maxUpload);
          const loaded = await rt.images.loadImage(tmp, { signal: ctx.signal });
          return { items: loaded };
        } finally {
          await bestEffort(log, 'remove an uploaded image tarball', unlessMissing(unlink(tmp)));
        }
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/images/save'),
      handler: async (ctx) => {
        const body = await json(ctx, SaveImagesRequestSchema, 'save request');
        const tmp = join(options.tmpDir, `save-${randomBytes(6).toString('hex')}.tar`);
        await mkdir(options.tmpDir, { recursive: true, mode: 0o700 });
        try {
          await rt.images.saveImage(body.refs, tmp, { signal: ctx.signal });
          const size = (await stat(tmp)).size;
          ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Length': size });
          await pipeline(createReadStream(tmp), ctx.res);
        } finally {
          await rm(tmp, { force: true });
        }
        return streamedResponse;
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/images/gc'),
      handler: async () => ({ freedBytes: await rt.images.garbageCollect() }),
    },
    {
      method: 'GET',
      pattern: re('/v1/images/{ref}'),
      handler: (ctx) => rt.images.getImage(id(ctx)),
    },
    {
      method: 'DELETE',
      pattern: re('/v1/images/{ref}'),
      handler: async (ctx) => {
        await rt.images.removeImage(id(ctx), { force: bool(ctx.query, 'force') });
        return {};
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/images/{ref}/root-disk'),
      handler: (ctx) => rt.images.ensureRootDisk(id(ctx), { signal: ctx.signal }),
    },
    {
      method: 'POST',
      pattern: re('/v1/images/{ref}/layer-tree'),
      handler: (ctx) => rt.images.ensureLayerTree(id(ctx), { signal: ctx.signal }),
    },
    {
      method: 'POST',
      pattern: re('/v1/images/{ref}/retain'),
      handler: async (ctx) => {
        const body = await json(
          ctx,
          Type.Object({ holder: Type.String({ minLength: 1, maxLength: 256 }) }),
          'retain request',
        );
        await rt.images.retain(id(ctx), body.holder);
        return {};
      },
    },
    {
      method: 'POST',
      pattern: re('/v1/image-holders/{holder}/release'),
      handler: async (ctx) => {
        await rt.images.release(id(ctx));
        return {};
      },
    },
  ];

  const streamedResponse = Symbol('streamed');

  function logFailure(err: unknown, method: string, url: string): void {
    const e = findH8sError(err);
    if (!e || e.code === 'InternalError') {
      log.error('Runtime API request failed', { method, url, error: describeError(err) });
    } else {
      log.info('Runtime API request refused', { method, url, code: e.code, error: e.message });
    }
  }

  function match(method: string, path: string): { route: Route; params: string[] } {
    let pathMatched = false;
    for (const r of routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method === method) return { route: r, params: m.slice(1) };
    }
    if (pathMatched) throw methodNotAllowed(`Method ${method} is not allowed on "${path}"`);
    throw notFound(`No such API route: ${method} ${path}`);
  }

  const server = createServer(async (req, res) => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://runtime');
    const ac = new AbortController();
    let routeLabel = 'unmatched';
    res.on('close', () => {
      ac.abort();
      const labels = { method, route: routeLabel };
      requestsTotal.inc({ ...labels, code: String(res.statusCode) });
      requestSeconds.observe(labels, (performance.now() - started) / 1000);
    });
    try {
      const { route, params } = match(method, url.pathname);
      routeLabel = route.pattern.template;
      if (!route.handler)
        throw badRequest(`"${url.pathname}" is a stream: connect with "Connection: Upgrade"`);
      const result = await route.handler({ req, res, params, query: url.searchParams, signal: ac.signal });
      if (result !== streamedResponse && !res.headersSent) {
        if (typeof result === 'string') {
          res.writeHead(res.statusCode || 200, { 'Content-Type': 'text/plain' });
          res.end(result);
        } else writeJson(res, res.statusCode || 200, result ?? {});
      }
      const fields = {
        method,
        path: url.pathname,
        status: res.statusCode,
        durationMs: Math.round(performance.now() - started),
      };
      if (method === 'GET') log.debug('Runtime API request', fields);
      else log.info('Runtime API request', fields);
    } catch (err) {
      logFailure(err, method, url.pathname);
      if (!res.headersSent) {
        const { status, body } = errorBody(err);
        writeJson(res, status, body);
      } else {
        res.destroy();
      }
      // drain what the client still sends so the connection can be reused
      req.resume();
    }
  });
  server.requestTimeout = 0; // image uploads may take long; idle connections are bounded below
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;

  server.on('upgrade', (req: IncomingMessage, sock: Socket, head: Buffer) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://runtime');
    sock.on('error', () => {});
    void (async () => {
      let takeOver: (s: Duplex, h: Buffer) => Promise<void>;
      try {
        if ((req.headers['upgrade'] ?? '').toLowerCase() !== streamProtocol) {
          throw badRequest(
            `Unsupported upgrade "${req.headers['upgrade'] ?? ''}": expected "${streamProtocol}"`,
          );
        }
        const { route, params } = match(method, url.pathname);
        if (!route.stream) throw badRequest(`"${url.pathname}" is not a stream route`);
        takeOver = await route.stream({ req, params, query: url.searchParams });
      } catch (err) {
        logFailure(err, method, url.pathname);
        const { status, body } = errorBody(err);
        refuseUpgrade(sock, status, body);
        return;
      }
      log.info('Runtime API stream', { method, path: url.pathname });
      sock.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${streamProtocol}\r\nConnection: Upgrade\r\n\r\n`,
      );
      sock.setNoDelay?.(true);
      try {
        await takeOver(sock, head);
      } catch (err) {
        logFailure(err, method, url.pathname);
        sock.destroy();
      }
    })();
  });
  server.on('clientError', (_err, sock) => {
    if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else sock.destroy();
  });

  return {
    server,
    async listen(endpoint: string) {
      const path = socketPathOf(endpoint);
      await mkdir(join(path, '..'), { recursive: true, mode: 0o755 });
      if (await isSocketServed(path)) {
        throw unavailable(`Another runtime daemon already serves "${endpoint}"`);
      }
      // a stale socket of a daemon that died (nobody answers on it, checked above)
      await unlessMissing(unlink(path));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // only root (and members of the socket's group) may drive the runtime
      await chmod(path, 0o660);
      socketPath = path;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (socketPath) await bestEffort(log, 'remove the runtime socket', unlessMissing(unlink(socketPath)));
    },
  };
}

async function isSocketServed(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function receiveFile(req: IncomingMessage, path: string, max: number): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > max) throw tooLarge(`Upload of ${declared} bytes is over the limit of ${max} bytes`);
  let size = 0;
  const out = createWriteStream(path, { mode: 0o600 });
  try {
    await pipeline(
      req,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const c of source) {
          size += c.length;
          if (size > max) throw tooLarge(`Upload is over the limit of ${max} bytes`);
          yield c;
        }
      },
      out,
    );
  } catch (err) {
    if (findH8sError(err)) throw err;
    throw badRequest('The upload was interrupted', { cause: err });
  }
  if (size === 0) throw badRequest('The upload is empty: send the image tarball as the request body');
}

/** Port-forward: data frames both ways; close frames for half-close; errors in a status frame. */
async function servePortForward(sock: Duplex, head: Buffer, conn: Duplex): Promise<void> {
  const decoder = new FrameDecoder();
  const onData = (chunk: Buffer): void => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch {
      sock.destroy();
      conn.destroy();
      return;
    }
    for (const f of frames) {
      if (f.channel === channel.stdin) {
        if (!conn.write(f.payload)) {
          sock.pause();
          conn.once('drain', () => sock.resume());
        }
      } else if (f.channel === channel.close) conn.end();
    }
  };
  sock.on('data', onData);
  if (head.length) onData(head);
  await new Promise<void>((resolve) => {
    conn.on('data', (c: Buffer) => {
      for (let off = 0; off < c.length; off += 65536) {
        if (!sock.write(encodeFrame(channel.stdout, c.subarray(off, off + 65536)))) {
          conn.pause();
          sock.once('drain', () => conn.resume());
        }
      }
    });
    let isEnded = false;
    conn.on('end', () => {
      isEnded = true;
      sock.write(encodeFrame(channel.close, Uint8Array.of(channel.stdout)));
    });
    conn.on('error', (err) => {
      // After its end, a failure (the pod closing while our half-close is in flight, which
      // the shim's socket reports as a premature close) loses no data: not an error then.
      if (!isEnded) {
        sock.write(
          encodeJsonFrame(channel.status, { error: errorBody(unavailable(describeError(err))).body }),
        );
      }
      resolve();
    });
    conn.on('close', () => resolve());
    sock.on('close', () => {
      conn.destroy();
      resolve();
    });
    sock.on('error', () => {});
  });
  if (!sock.destroyed) {
    sock.write(encodeJsonFrame(channel.status, { exitCode: 0 }));
    sock.end();
  }
}
