/**
 * The streaming subresources of pods (`log`, `exec`, `attach`, `portforward`), proxied to the
 * node agent that runs the pod (upstream's pod `ResourceLocation` + `UpgradeAwareHandler`):
 * the pod's node is looked up (`spec.nodeName`, then the Node's first InternalIP and
 * `daemonEndpoints.kubeletEndpoint.Port`), the API server dials the agent with its kubelet
 * client certificate, checks the agent's certificate against the cluster CA and the node's
 * name, and pipes the log response or the upgraded connection (WebSocket or SPDY; the agent
 * speaks them, the server relays bytes) through.
 *
 * Errors are Status: pod not found 404, no node 400 "pod X does not have a host assigned",
 * an unknown container 400 naming the pod's containers, an agent out of reach 503; an agent's
 * own refusal (container not running, ...) is relayed as it answered.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ServerResponse as HttpServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { badRequest, describeError, unavailable, type Logger } from '../../lib/index.js';
import type { RequestContext } from '../endpoints/request-context.js';
import type { ResourceRequest } from '../endpoints/request-info.js';
import type { ApiRegistry } from '../registry/api-registry.js';
import type { KubeletClientCredentials } from './streaming-credentials.js';

const streamingSubresources = new Set(['log', 'exec', 'attach', 'portforward']);
/** Headers of an upgrade request the agent needs; credentials and the rest stay here. */
const upgradeHeaders = [
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'x-stream-protocol-version',
];
const logParams = [
  'follow',
  'previous',
  'sinceSeconds',
  'sinceTime',
  'tailLines',
  'timestamps',
  'limitBytes',
];
const commandParams = ['command', 'stdin', 'stdout', 'stderr', 'tty', 'input', 'output', 'error'];

/** The socket and first bytes of each request that arrived as an HTTP upgrade. */
const upgrades = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer; isTaken: boolean }>();

/**
 * Routes the server's upgrade requests through the ordinary request handler: each gets a
 * ServerResponse on its socket (so refusals are ordinary Status replies, logged once), and the
 * pod stream proxy takes the socket over when the agent accepts the upgrade.
 */
export function routeUpgradeRequests(
  server: Server,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const entry = { socket, head, isTaken: false };
    upgrades.set(req, entry);
    socket.on('error', () => socket.destroy());
    const res = new HttpServerResponse(req);
    res.assignSocket(socket as Socket);
    // A refusal ends the connection: the client asked for another protocol on it.
    res.on('finish', () => {
      if (!entry.isTaken) socket.end();
    });
    handler(req, res);
  });
}

interface PodJson {
  readonly metadata?: { readonly name?: string };
  readonly spec?: {
    readonly nodeName?: string;
    readonly containers?: readonly { readonly name: string }[];
    readonly initContainers?: readonly { readonly name: string }[];
    readonly ephemeralContainers?: readonly { readonly name: string }[];
  };
}
interface NodeJson {
  readonly status?: {
    readonly addresses?: readonly { readonly type?: string; readonly address?: string }[];
    readonly daemonEndpoints?: { readonly kubeletEndpoint?: { readonly Port?: number } };
  };
}

export interface PodStreamProxyDeps {
  readonly registry: ApiRegistry;
  readonly kubeletClient: KubeletClientCredentials;
  readonly log: Logger;
  /** How long dialling the agent may take; default 10 s. */
  readonly connectTimeoutMs?: number;
}

export class PodStreamProxy {
  readonly #deps: PodStreamProxyDeps;

  constructor(deps: PodStreamProxyDeps) {
    this.#deps = deps;
  }

  /** Whether `info` names a streaming subresource of a pod. */
  handles(info: ResourceRequest): boolean {
    return (
      info.group === '' &&
      info.resource === 'pods' &&
      info.name !== undefined &&
      info.namespace !== undefined &&
      streamingSubresources.has(info.subresource ?? '')
    );
  }

  /** Serves the request until the stream ends. @throws NotFound, BadRequest, ServiceUnavailable */
  async handle(ctx: RequestContext, info: ResourceRequest): Promise<void> {
    const namespace = info.namespace as string;
    const name = info.name as string;
    const sub = info.subresource as string;
    ctx.logFields['resource'] = `pods/${sub}`;
    ctx.logFields['namespace'] = namespace;
    ctx.logFields['name'] = name;
    // Authorization is authentication today; these are the verbs an authorizer will check.
    ctx.logFields['verb'] = sub === 'log' ? 'get' : 'create';
    const pods = this.#deps.registry.find('', 'v1', 'pods');
    const nodes = this.#deps.registry.find('', 'v1', 'nodes');
    if (!pods || !nodes) throw unavailable('Pods are not served by this server');
    const pod = (await pods.get(namespace, name)) as PodJson;
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);

    const query = new URLSearchParams();
    let path: string;
    const enc = encodeURIComponent;
    if (sub === 'portforward') {
      for (const p of ctx.query.getAll('ports')) query.append('port', p);
      path = `/portForward/${enc(namespace)}/${enc(name)}`;
    } else {
      const container = this.#container(pod, name, ctx.query.get('container') ?? '');
      const op = sub === 'log' ? 'containerLogs' : sub;
      path = `/${op}/${enc(namespace)}/${enc(name)}/${enc(container)}`;
      for (const p of sub === 'log' ? logParams : commandParams) {
        for (const v of ctx.query.getAll(p)) query.append(p, v);
      }
      ctx.logFields['container'] = container;
    }
    const node = (await nodes.get(undefined, nodeName).catch((err: unknown) => {
      throw unavailable(`Cannot reach the node "${nodeName}" of pod "${name}": the node is not registered`, {
        cause: err,
      });
    })) as NodeJson;
    const addresses = node.status?.addresses ?? [];
    const address =
      addresses.find((a) => a.type === 'InternalIP')?.address ??
      addresses.find((a) => a.type === 'ExternalIP')?.address ??
      addresses.find((a) => a.type === 'Hostname')?.address;
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
    if (!address || !port) {
      throw unavailable(
        `Cannot reach the node "${nodeName}" of pod "${name}": it reports no address or port`,
      );
    }
    const target = `${path}${query.size ? `?${query}` : ''}`;
    const upgrade = upgrades.get(ctx.req);
    if (upgrade && ctx.req.headers.upgrade) {
      return this.#proxyUpgrade(ctx, upgrade, { host: address, port, nodeName, path: target });
    }
    return this.#proxyPlain(ctx, { host: address, port, nodeName, path: target });
  }

  #container(pod: PodJson, podName: string, requested: string): string {
    const names = [
      ...(pod.spec?.containers ?? []),
      ...(pod.spec?.initContainers ?? []),
      ...(pod.spec?.ephemeralContainers ?? []),
    ].map((c) => c.name);
    const main = (pod.spec?.containers ?? []).map((c) => c.name);
    if (requested === '') {
      if (main.length === 1) return main[0] as string;
      throw badRequest(
        `a container name must be specified for pod ${podName}, choose one of: [${main.join(' ')}]`,
      );
    }
    if (!names.includes(requested)) {
      throw badRequest(`container ${requested} is not valid for pod ${podName}`);
    }
    return requested;
  }

  #requestOptions(
    ctx: RequestContext,
    to: { host: string; port: number; nodeName: string; path: string },
    headers: Record<string, string>,
  ): RequestOptions {
    const { kubeletClient } = this.#deps;
    return {
      host: to.host,
      port: to.port,
      method: ctx.method === 'HEAD' ? 'GET' : ctx.method,
      path: to.path,
      headers,
      cert: kubeletClient.cert,
      key: kubeletClient.key,
      ca: kubeletClient.caCert,
      // The agent's certificate names its node; the address it is dialled at may be any.
      servername: to.nodeName,
      agent: false,
      timeout: this.#deps.connectTimeoutMs ?? 10_000,
    };
  }

  #unreachable(nodeName: string, err: unknown): Error {
    return unavailable(`Cannot reach the node agent of "${nodeName}": ${describeError(err)}`, { cause: err });
  }

  /** A log stream: the agent's response, status and body, relayed as it comes. */
  #proxyPlain(
    ctx: RequestContext,
    to: { host: string; port: number; nodeName: string; path: string },
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const up = httpsRequest(this.#requestOptions(ctx, to, { accept: '*/*' }));
      up.on('timeout', () => up.destroy(new Error('timed out connecting')));
      up.on('error', (err) => {
        if (ctx.res.headersSent) {
          ctx.res.destroy();
          resolve();
        } else reject(this.#unreachable(to.nodeName, err));
      });
      up.on('response', (res) => {
        up.setTimeout(0);
        ctx.res.writeHead(res.statusCode ?? 502, {
          'Content-Type': res.headers['content-type'] ?? 'text/plain',
          'Cache-Control': 'no-cache',
        });
        ctx.res.flushHeaders();
        res.on('data', (chunk: Buffer) => {
          if (!ctx.res.write(chunk)) res.pause();
        });
        ctx.res.on('drain', () => res.resume());
        res.on('end', () => {
          ctx.res.end();
          resolve();
        });
        res.on('error', () => {
          ctx.res.destroy();
          resolve();
        });
        ctx.res.on('close', () => {
          up.destroy();
          resolve();
        });
      });
      up.end();
    });
  }

  /** An upgrade: the agent's 101 goes back to the client, then both sockets are piped. */
  #proxyUpgrade(
    ctx: RequestContext,
    client: { socket: Duplex; head: Buffer; isTaken: boolean },
    to: { host: string; port: number; nodeName: string; path: string },
  ): Promise<void> {
    const headers: Record<string, string> = {};
    for (const h of upgradeHeaders) {
      const v = ctx.req.headers[h];
      if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(', ') : v;
    }
    return new Promise<void>((resolve, reject) => {
      const up = httpsRequest(this.#requestOptions(ctx, to, headers));
      up.on('timeout', () => up.destroy(new Error('timed out connecting')));
      up.on('error', (err) => reject(this.#unreachable(to.nodeName, err)));
      up.on('response', (res) => {
        // The agent refused (a Status): relay it; the connection then ends.
        up.setTimeout(0);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const extra: Record<string, string> = {};
          const accepted = res.headers['x-accepted-stream-protocol-versions'];
          if (typeof accepted === 'string') extra['X-Accepted-Stream-Protocol-Versions'] = accepted;
          ctx.res.writeHead(res.statusCode ?? 502, {
            'Content-Type': res.headers['content-type'] ?? 'application/json',
            'Content-Length': body.length,
            ...extra,
          });
          ctx.res.end(body);
          resolve();
        });
        res.on('error', (err) => reject(this.#unreachable(to.nodeName, err)));
      });
      up.on('upgrade', (res, upSocket: Duplex, upHead: Buffer) => {
        up.setTimeout(0);
        client.isTaken = true;
        ctx.res.detachSocket(client.socket as Socket);
        ctx.res.statusCode = 101;
        const lines = ['HTTP/1.1 101 Switching Protocols'];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        const sock = client.socket;
        sock.write(lines.join('\r\n') + '\r\n\r\n');
        if (upHead.length) sock.write(upHead);
        if (client.head.length) upSocket.write(client.head);
        upSocket.on('error', () => sock.destroy());
        sock.on('error', () => upSocket.destroy());
        sock.pipe(upSocket);
        upSocket.pipe(sock);
        let open = 2;
        const done = (): void => {
          if (--open === 0) resolve();
        };
        upSocket.on('close', () => {
          sock.destroy();
          done();
        });
        sock.on('close', () => {
          upSocket.destroy();
          done();
        });
      });
      up.end();
    });
  }
}
