/**
 * The agent's streaming server (kubelet's port 10250 endpoints the API server proxies to):
 * HTTPS that only the API server may call, proven by a client certificate from the cluster CA
 * with the kubelet-client identity.
 *
 *   GET  /containerLogs/{ns}/{pod}/{container}    text (container-logs.ts)
 *   GET|POST /exec/{ns}/{pod}/{container}?command=..&stdin&stdout&stderr&tty
 *   GET|POST /attach/{ns}/{pod}/{container}?stdin&stdout&stderr&tty
 *   GET|POST /portForward/{ns}/{pod}
 *
 * exec and attach upgrade to WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`) or SPDY/3.1
 * (`v4.channel.k8s.io`); port-forward to SPDY/3.1 (`portforward.k8s.io`) or WebSocket carrying
 * SPDY (`SPDY/3.1+portforward.k8s.io`). Refusals are Kubernetes Status JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import {
  badRequest,
  describeError,
  forbidden,
  notFound,
  systemClock,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import type { RuntimeService } from '../../runtime/index.js';
import type { RuntimeSnapshotReader } from '../pods/runtime-snapshot.js';
import { isTrue, parseLogQuery, serveContainerLogs } from './container-logs.js';
import { PodLookup, type PodRef } from './pod-lookup.js';
import { servePortForward, serveWebSocketPortForward } from './port-forward.js';
import { runRemoteCommand, type CommandRequest } from './remote-command.js';
import { spdyCommandStreams } from './spdy-command.js';
import { errorStatus } from './streaming-status.js';
import { channelProtocols, webSocketCommandStreams } from './websocket-command.js';

/** The identity (certificate CN) of the API server's kubelet client certificate. */
export const kubeletClientName = 'kube-apiserver-kubelet-client';
const clientAuthOid = '1.3.6.1.5.5.7.3.2';
const spdyExecProtocol = 'v4.channel.k8s.io';
const spdyPortForwardProtocol = 'portforward.k8s.io';
const wsPortForwardProtocol = 'SPDY/3.1+portforward.k8s.io';

export interface StreamingTls {
  readonly cert: string;
  readonly key: string;
  /** The cluster CA: client certificates must chain to it. */
  readonly clientCa: string;
}

export interface StreamingServerOptions {
  readonly runtime: RuntimeService;
  readonly snapshot: RuntimeSnapshotReader;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly tls: StreamingTls;
  readonly bindAddress?: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
}

type Route =
  | { readonly kind: 'logs' | 'exec' | 'attach'; readonly pod: PodRef; readonly container: string }
  | { readonly kind: 'portForward'; readonly pod: PodRef };

function parseRoute(path: string): Route | undefined {
  const parts = path.split('/').slice(1).map(decodeURIComponent);
  const [op, ns, name, container] = parts;
  if (!ns || !name) return undefined;
  const pod = { namespace: ns, name };
  if (op === 'portForward' && parts.length === 3) return { kind: 'portForward', pod };
  if (!container || parts.length !== 4) return undefined;
  if (op === 'containerLogs') return { kind: 'logs', pod, container };
  if (op === 'exec' || op === 'attach') return { kind: op, pod, container };
  return undefined;
}

function offeredVersions(req: IncomingMessage): string[] {
  const v = req.headers['x-stream-protocol-version'];
  return (Array.isArray(v) ? v.join(',') : (v ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function writeStatusResponse(res: ServerResponse, err: unknown): void {
  const status = errorStatus(err);
  const body = JSON.stringify(status);
  res.writeHead(status.code ?? 500, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Answers an upgrade request on a raw socket with a Status (the socket is not HTTP any more). */
function refuseUpgrade(socket: Duplex, err: unknown, extraHeaders: Record<string, string> = {}): void {
  const status = errorStatus(err);
  const body = JSON.stringify(status);
  const code = status.code ?? 500;
  const head = [
    `HTTP/1.1 ${code} ${status.reason ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  if (socket.writable) socket.end(head + body);
  else socket.destroy();
}

export class StreamingServer {
  readonly #options: StreamingServerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #lookup: PodLookup;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Set<Duplex>();

  constructor(options: StreamingServerOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'streaming' });
    this.#clock = options.clock ?? systemClock;
    this.#lookup = new PodLookup(options.runtime, options.snapshot);
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 16 * 1024 * 1024,
      handleProtocols: (offered, req) => {
        // port-forward: kubectl's SPDY tunnel first, else the channel protocol (client-node).
        const order = req.url?.startsWith('/portForward/')
          ? [wsPortForwardProtocol, ...channelProtocols]
          : channelProtocols;
        for (const p of order) if (offered.has(p)) return p;
        return false;
      },
    });
    this.#server = createServer({
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.clientCa,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    });
    this.#server.on('request', (req, res) => {
      void this.#onRequest(req, res);
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.#onUpgrade(req, socket, head);
    });
    this.#server.on('clientError', (err, socket) => {
      this.#log.debug('Rejected a connection', { error: describeError(err) });
      socket.destroy();
    });
  }

  /** Listens; returns the port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.bindAddress ?? '0.0.0.0', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const port = (this.#server.address() as AddressInfo).port;
    this.#log.info('Streaming server listening', { port });
    return port;
  }

  /** Stops listening and ends every open stream. */
  async stop(): Promise<void> {
    for (const s of this.#sessions) s.destroy();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    await this.start();
    if (!signal.aborted)
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    await this.stop();
  }

  /** Only the API server's kubelet-client certificate may call (the TLS layer checked the CA). */
  #authorize(req: IncomingMessage): void {
    const sock = req.socket as TLSSocket;
    const cert = sock.authorized ? sock.getPeerCertificate() : undefined;
    const cn = cert?.subject?.CN;
    const eku = (cert as { ext_key_usage?: string[] } | undefined)?.ext_key_usage ?? [];
    if (cn !== kubeletClientName || !eku.includes(clientAuthOid)) {
      throw forbidden(`Forbidden: "${String(cn ?? 'anonymous')}" may not use the node's streaming endpoint`);
    }
  }

  #route(req: IncomingMessage): { route: Route; query: URLSearchParams } {
    this.#authorize(req);
    const url = new URL(req.url ?? '/', 'https://node');
    const route = parseRoute(url.pathname);
    if (!route) throw notFound(`the server could not find the requested resource "${url.pathname}"`);
    return { route, query: url.searchParams };
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const { route, query } = this.#route(req);
      if (route.kind !== 'logs') {
        throw badRequest(`Upgrade request required: ${route.kind} needs a WebSocket or SPDY/3.1 upgrade`);
      }
      if (req.method !== 'GET') throw notFound('the server could not find the requested resource');
      const logQuery = parseLogQuery(query, this.#clock);
      const c = await this.#lookup.getContainer(route.pod, route.container, logQuery.previous);
      await serveContainerLogs(this.#options.runtime, c.id, logQuery, res, this.#log);
    } catch (err) {
      this.#log.info('Refused a streaming request', {
        path: req.url?.split('?')[0],
        error: describeError(err),
      });
      if (res.headersSent) res.destroy();
      else writeStatusResponse(res, err);
    }
  }

  async #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.#sessions.add(socket);
    socket.on('close', () => this.#sessions.delete(socket));
    socket.on('error', (err) => this.#log.debug('Stream connection error', { error: describeError(err) }));
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    try {
      const { route, query } = this.#route(req);
      if (route.kind === 'logs') throw badRequest('Logs are not served over an upgraded connection');
      const isWebSocket = upgrade === 'websocket';
      if (!isWebSocket && upgrade !== 'spdy/3.1') throw badRequest(`Unsupported upgrade "${upgrade}"`);
      if (route.kind === 'portForward') {
        const sandboxId = await this.#lookup.getReadySandbox(route.pod);
        const target = { sandboxId, podName: `${route.pod.namespace}/${route.pod.name}` };
        let stream: Duplex;
        if (isWebSocket) {
          const isTunnel = String(req.headers['sec-websocket-protocol'] ?? '')
            .split(',')
            .some((p) => p.trim() === wsPortForwardProtocol);
          // Checked before the upgrade: afterwards a refusal can no longer be a Status reply.
          const ports = isTunnel ? [] : this.#ports(query);
          const ws = await this.#acceptWebSocket(
            req,
            socket,
            head,
            isTunnel ? [wsPortForwardProtocol] : channelProtocols,
          );
          if (!isTunnel) {
            this.#log.info('Port-forward started', { pod: target.podName, ports });
            await serveWebSocketPortForward(ws, ports, target, this.#options.runtime, this.#log);
            return;
          }
          stream = createWebSocketStream(ws);
          stream.on('error', () => ws.terminate());
        } else {
          if (!offeredVersions(req).includes(spdyPortForwardProtocol)) {
            return refuseUpgrade(socket, forbidden('No supported port-forward protocol was offered'), {
              'X-Accepted-Stream-Protocol-Versions': spdyPortForwardProtocol,
            });
          }
          stream = this.#acceptSpdy(socket, head, spdyPortForwardProtocol);
        }
        this.#log.info('Port-forward started', { pod: target.podName });
        await servePortForward(stream, target, this.#options.runtime, this.#log);
        return;
      }
      const c = await this.#lookup.getContainer(route.pod, route.container);
      if (c.state.phase !== 'running') {
        throw badRequest(`container "${route.container}" in pod "${route.pod.name}" is not running`);
      }
      const request = this.#commandRequest(route.kind, c.id, query);
      if (isWebSocket) {
        const ws = await this.#acceptWebSocket(req, socket, head, channelProtocols);
        await runRemoteCommand(
          this.#options.runtime,
          request,
          webSocketCommandStreams(ws, request),
          this.#log,
        );
        return;
      }
      if (!offeredVersions(req).includes(spdyExecProtocol)) {
        return refuseUpgrade(socket, forbidden('No supported remote command protocol was offered'), {
          'X-Accepted-Stream-Protocol-Versions': spdyExecProtocol,
        });
      }
      const streams = await spdyCommandStreams(
        this.#acceptSpdy(socket, head, spdyExecProtocol),
        request,
        this.#log,
      );
      if (streams) await runRemoteCommand(this.#options.runtime, request, streams, this.#log);
    } catch (err) {
      this.#log.info('Refused a streaming request', {
        path: req.url?.split('?')[0],
        error: describeError(err),
      });
      refuseUpgrade(socket, err);
    }
  }

  /** The `port` query of a WebSocket port-forward. @throws BadRequest */
  #ports(q: URLSearchParams): number[] {
    const ports = q.getAll('port').flatMap((v) => v.split(','));
    if (ports.length === 0) throw badRequest('query parameter "port" is required');
    return ports.map((v) => {
      const n = Number(v);
      if (!/^\d{1,5}$/.test(v) || n < 1 || n > 65535) throw badRequest(`Invalid port "${v}"`);
      return n;
    });
  }

  #commandRequest(kind: 'exec' | 'attach', containerId: string, q: URLSearchParams): CommandRequest {
    // The API server passes PodExecOptions through (stdin, stdout, ...); kubelet's own names too.
    const flag = (a: string, b: string): boolean => isTrue(q.get(a)) || isTrue(q.get(b));
    const cmd = q.getAll('command');
    if (kind === 'exec' && cmd.length === 0)
      throw badRequest('you must specify at least one command for the container');
    const req: CommandRequest = {
      kind,
      containerId,
      cmd,
      hasStdin: flag('stdin', 'input'),
      hasStdout: flag('stdout', 'output'),
      hasStderr: flag('stderr', 'error'),
      isTty: isTrue(q.get('tty')),
    };
    if (!req.hasStdin && !req.hasStdout && !req.hasStderr) {
      throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
    }
    return req;
  }

  #acceptWebSocket(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    protocols: readonly string[],
  ): Promise<WebSocket> {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    if (!protocols.some((p) => offered.includes(p))) {
      throw badRequest(
        `None of the offered WebSocket subprotocols is supported (supported: ${protocols.join(', ')})`,
      );
    }
    return new Promise<WebSocket>((resolve) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => resolve(ws));
    });
  }

  /** Answers 101 for SPDY/3.1 and returns the socket, now carrying SPDY frames. */
  #acceptSpdy(socket: Duplex, head: Buffer, protocol: string): Duplex {
    socket.write(
      [
        'HTTP/1.1 101 Switching Protocols',
        'Connection: Upgrade',
        'Upgrade: SPDY/3.1',
        `X-Stream-Protocol-Version: ${protocol}`,
        '',
        '',
      ].join('\r\n'),
    );
    if (head.length > 0) socket.unshift(head);
    return socket;
  }
}
