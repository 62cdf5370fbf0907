/**
 * `RuntimeClient`: the `NodeRuntime` contract over the runtime daemon's unix socket, so the
 * agent and hyperctl cannot tell it from an in-process runtime. Errors come back as the same
 * H8sError codes the daemon threw (wire-errors.ts); a daemon that is not there is
 * ServiceUnavailable with a message naming the socket.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Agent, request, type IncomingMessage, type RequestOptions } from 'node:http';
import { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { H8sError, abortReason, describeError, internal, invalid, unavailable } from '../lib/index.js';
import type {
  ImageRecord,
  ImageService,
  LayerTree,
  PullOptions,
  PullProgress,
  RootDisk,
} from '../images/index.js';
import { parseCriLogLine } from './cri-log.js';
import type {
  AttachOptions,
  Container,
  ContainerFilter,
  ContainerStats,
  ContainerStatus,
  ExecOptions,
  ExecSyncResult,
  LinuxContainerResources,
  LogLine,
  LogOptions,
  NodeRuntime,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
  RuntimeHandlerName,
  RuntimeInfo,
  StreamSession,
  ContainerConfig,
} from './runtime-service.js';
import { socketPathOf, streamProtocol } from './endpoint.js';
import { FrameDecoder, channel, encodeFrame } from './stream-frames.js';
import { clientSession, parseStatusFrame } from './stream-session-client.js';
import { errorFromBody } from './wire-errors.js';

export interface RuntimeClientOptions {
  /** `unix:///run/h8s/runtime.sock` */
  readonly endpoint: string;
  /** Per-request timeout for ordinary calls (not streams, pulls or uploads). Default 5 min. */
  readonly timeoutMs?: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

const maxResponseBytes = 64 * 1024 * 1024;

export class RuntimeClient implements NodeRuntime {
  readonly endpoint: string;
  readonly images: ImageService;
  readonly #socketPath: string;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 16 });
  readonly #timeoutMs: number;

  constructor(options: RuntimeClientOptions) {
    this.endpoint = options.endpoint;
    this.#socketPath = socketPathOf(options.endpoint);
    this.#timeoutMs = options.timeoutMs ?? 300_000;
    this.images = this.#imageService();
  }

  /** Closes idle connections (the client can still be used afterwards). */
  close(): void {
    this.#agent.destroy();
  }

  #unreachable(err: unknown): H8sError {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'the socket does not exist'
        : code === 'ECONNREFUSED'
          ? 'nothing listens on it'
          : code === 'EACCES'
            ? 'permission denied (run as root)'
            : describeError(err);
    return unavailable(
      `Cannot reach the h8s runtime at ${this.endpoint}: ${why}; is "h8s runtime" running?`,
      {
        cause: err,
      },
    );
  }

  #send(
    method: Method,
    path: string,
    body?: { json: unknown } | { file: string; size: number },
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      let payload: Buffer | undefined;
      if (body && 'json' in body) {
        payload = Buffer.from(JSON.stringify(body.json));
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      } else if (body && 'file' in body) {
        headers['Content-Type'] = 'application/x-tar';
        headers['Content-Length'] = body.size;
      }
      const req = request({ ...this.#requestBase(), path, method, headers, agent: this.#agent }, resolve);
      const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(
            new H8sError('Timeout', `The runtime did not answer ${method} ${path} within ${timeoutMs} ms`),
          ),
        );
      }
      const onAbort = (): void => {
        req.destroy(abortReason(options.signal));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => options.signal?.removeEventListener('abort', onAbort));
      req.on('error', (err) => {
        if (err instanceof H8sError) reject(err);
        else if (options.signal?.aborted) reject(abortReason(options.signal));
        else reject(this.#unreachable(err));
      });
      if (body && 'file' in body) {
        pipeline(createReadStream(body.file), req).catch((err: unknown) => req.destroy(err as Error));
      } else {
        req.end(payload);
      }
    });
  }

  async #call<T>(
    method: Method,
    path: string,
    json?: unknown,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const res = await this.#send(method, path, json === undefined ? undefined : { json }, options);
    const text = await readAll(res);
    const status = res.statusCode ?? 500;
    let value: unknown;
    try {
      value = text.length ? JSON.parse(text) : {};
    } catch {
      if (status >= 400) throw errorFromBody(status, undefined);
      throw internal(`The runtime answered ${method} ${path} with malformed JSON`);
    }
    if (status >= 400) throw errorFromBody(status, value);
    return value as T;
  }

  /**
   * What every request names: the socket, and an empty TLS server name. Node's HTTP agent
   * otherwise derives one from the host (`localhost`) with `net.isIP`, whose IPv6 pattern costs
   * a CLI about 4 ms to compile on its one request; over a unix socket there is no TLS at all.
   */
  #requestBase(): RequestOptions & { readonly servername: string } {
    return { socketPath: this.#socketPath, servername: '' };
  }

  /** Opens an upgraded stream; a refusal comes back as the daemon's JSON error. */
  #upgrade(method: Method, path: string): Promise<{ sock: Duplex; head: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request({
        ...this.#requestBase(),
        path,
        method,
        headers: { Connection: 'Upgrade', Upgrade: streamProtocol },
      });
      req.on('upgrade', (_res, sock, head) => {
        sock.setNoDelay?.(true);
        resolve({ sock, head });
      });
      req.on('response', (res) => {
        void readAll(res).then((text) => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          reject(errorFromBody(res.statusCode ?? 500, body));
        }, reject);
      });
      req.on('error', (err) => reject(this.#unreachable(err)));
      req.end();
    });
  }

  // ------------------------------------------------------------------ RuntimeService

  info(): Promise<RuntimeInfo> {
    return this.#call('GET', '/v1/info');
  }

  /** Whether the daemon answers at all. */
  async ping(): Promise<void> {
    const res = await this.#send('GET', '/_ping', undefined, { timeoutMs: 10_000 });
    await readAll(res);
  }

  async runPodSandbox(config: PodSandboxConfig, handler?: RuntimeHandlerName | ''): Promise<string> {
    const r = await this.#call<{ id: string }>('POST', '/v1/sandboxes', {
      config,
      ...(handler ? { runtimeHandler: handler } : {}),
    });
    return r.id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.#call('POST', `/v1/sandboxes/${enc(id)}/stop`, {});
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.#call('DELETE', `/v1/sandboxes/${enc(id)}`);
  }

  podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    return this.#call('GET', `/v1/sandboxes/${enc(id)}`);
  }

  async listPodSandbox(filter: PodSandboxFilter = {}): Promise<readonly PodSandbox[]> {
    const q = new URLSearchParams();
    if (filter.id) q.set('id', filter.id);
    if (filter.state) q.set('state', filter.state);
    if (filter.runtimeHandler) q.set('runtimeHandler', filter.runtimeHandler);
    for (const [k, v] of Object.entries(filter.labelSelector ?? {})) q.append('label', `${k}=${v}`);
    return (await this.#call<{ items: PodSandbox[] }>('GET', `/v1/sandboxes?${q}`)).items;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig): Promise<string> {
    return (await this.#call<{ id: string }>('POST', '/v1/containers', { podSandboxId, config })).id;
  }

  async startContainer(id: string): Promise<void> {
    await this.#call('POST', `/v1/containers/${enc(id)}/start`, {});
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.#call(
      'POST',
      `/v1/containers/${enc(id)}/stop`,
      { timeoutSeconds },
      {
        timeoutMs: Math.max(this.#timeoutMs, (timeoutSeconds + 60) * 1000),
      },
    );
  }

  async removeContainer(id: string): Promise<void> {
    await this.#call('DELETE', `/v1/containers/${enc(id)}`);
  }

  containerStatus(id: string): Promise<ContainerStatus> {
    return this.#call('GET', `/v1/containers/${enc(id)}`);
  }

  async listContainers(filter: ContainerFilter = {}): Promise<readonly Container[]> {
    const q = new URLSearchParams();
    if (filter.id) q.set('id', filter.id);
    if (filter.podSandboxId) q.set('podSandboxId', filter.podSandboxId);
    if (filter.state) q.set('state', filter.state);
    for (const [k, v] of Object.entries(filter.labelSelector ?? {})) q.append('label', `${k}=${v}`);
    return (await this.#call<{ items: Container[] }>('GET', `/v1/containers?${q}`)).items;
  }

  async syncPodFiles(podSandboxId: string, hostPath: string): Promise<void> {
    await this.#call('POST', `/v1/sandboxes/${enc(podSandboxId)}/files`, { hostPath });
  }

  async updateContainerResources(id: string, resources: LinuxContainerResources): Promise<void> {
    await this.#call('PUT', `/v1/containers/${enc(id)}/resources`, resources);
  }

  async execSync(id: string, cmd: readonly string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    const r = await this.#call<{ stdout: string; stderr: string; exitCode: number }>(
      'POST',
      `/v1/containers/${enc(id)}/exec-sync`,
      { cmd, timeoutSeconds },
      { timeoutMs: timeoutSeconds > 0 ? (timeoutSeconds + 30) * 1000 : 0 },
    );
    return {
      stdout: Buffer.from(r.stdout, 'base64'),
      stderr: Buffer.from(r.stderr, 'base64'),
      exitCode: r.exitCode,
    };
  }

  async exec(id: string, options: ExecOptions): Promise<StreamSession> {
    const q = new URLSearchParams();
    for (const c of options.cmd) q.append('cmd', c);
    if (options.tty) q.set('tty', '1');
    if (options.stdin) q.set('stdin', '1');
    q.set('stdout', options.stdout === false ? '0' : '1');
    q.set('stderr', options.stderr === false ? '0' : '1');
    if (options.initialSize) {
      q.set('width', String(options.initialSize.width));
      q.set('height', String(options.initialSize.height));
    }
    for (const e of options.envs ?? []) q.append('env', `${e.key}=${e.value}`);
    if (options.workingDir) q.set('workingDir', options.workingDir);
    if (options.user) q.set('user', options.user);
    const { sock, head } = await this.#upgrade('POST', `/v1/containers/${enc(id)}/exec?${q}`);
    return clientSession(sock, head, { tty: options.tty ?? false });
  }

  async attach(id: string, options: AttachOptions): Promise<StreamSession> {
    const q = new URLSearchParams();
    if (options.stdin) q.set('stdin', '1');
    q.set('stdout', options.stdout === false ? '0' : '1');
    q.set('stderr', options.stderr === false ? '0' : '1');
    if (options.tty) q.set('tty', '1');
    const { sock, head } = await this.#upgrade('POST', `/v1/containers/${enc(id)}/attach?${q}`);
    return clientSession(sock, head, { tty: options.tty ?? false });
  }

  async *containerLogs(id: string, options: LogOptions = {}): AsyncIterable<LogLine> {
    const q = new URLSearchParams();
    if (options.follow) q.set('follow', '1');
    if (options.tailLines !== undefined) q.set('tailLines', String(options.tailLines));
    if (options.sinceNs !== undefined) q.set('sinceNs', String(Math.floor(options.sinceNs)));
    if (options.limitBytes !== undefined) q.set('limitBytes', String(options.limitBytes));
    if (options.timestamps) q.set('timestamps', '1');
    const { sock, head } = await this.#upgrade('GET', `/v1/containers/${enc(id)}/logs?${q}`);
    const decoder = new FrameDecoder();
    const onAbort = (): void => {
      sock.destroy();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let pending = head.length ? decoder.push(head) : [];
      const iterator = (sock as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      for (;;) {
        for (const f of pending) {
          if (f.channel === channel.logLine) {
            const line = parseCriLogLine(f.payload);
            if (line) yield line;
          } else if (f.channel === channel.status) {
            parseStatusFrame(f.payload);
            return;
          }
        }
        if (options.signal?.aborted) return;
        const next = await iterator.next().catch((err: unknown) => {
          if (options.signal?.aborted) return { done: true as const, value: undefined };
          throw unavailable('The log stream from the runtime broke', { cause: err });
        });
        if (next.done) {
          if (options.signal?.aborted) return;
          throw unavailable('The log stream from the runtime ended early');
        }
        pending = decoder.push(next.value);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
    }
  }

  async portForward(podSandboxId: string, port: number): Promise<Duplex> {
    const { sock, head } = await this.#upgrade(
      'POST',
      `/v1/sandboxes/${enc(podSandboxId)}/port-forward?port=${port}`,
    );
    const duplex = framedDuplex(sock, head);
    // The daemon may refuse at once (a status frame with the upgrade, e.g. a pod going away):
    // that is this call's failure, not an 'error' event nobody listens to yet.
    const refused = duplex.errored;
    if (refused) {
      duplex.once('error', () => undefined); // the same error, thrown below
      throw refused;
    }
    return duplex;
  }

  containerStats(id: string): Promise<ContainerStats> {
    return this.#call('GET', `/v1/containers/${enc(id)}/stats`);
  }

  // ------------------------------------------------------------------ ImageService

  #imageService(): ImageService {
    return {
      pullImage: (ref, options) => this.#pull(ref, options),
      listImages: async () => (await this.#call<{ items: ImageRecord[] }>('GET', '/v1/images')).items,
      getImage: (ref) => this.#call<ImageRecord>('GET', `/v1/images/${enc(ref)}`),
      findImage: async (ref) => {
        try {
          return await this.#call<ImageRecord>('GET', `/v1/images/${enc(ref)}`);
        } catch (err) {
          if (err instanceof H8sError && err.code === 'NotFound') return undefined;
          throw err;
        }
      },
      removeImage: async (ref, options) => {
        await this.#call('DELETE', `/v1/images/${enc(ref)}${options?.force ? '?force=1' : ''}`);
      },
      loadImage: async (tarPath, options) => {
        let size: number;
        try {
          size = (await stat(tarPath)).size;
        } catch (err) {
          // as the local service says it (the contract's Invalid), not a bare ENOENT
          throw invalid(`Cannot load images: file "${tarPath}" does not exist`, { cause: err });
        }
        const res = await this.#send(
          'POST',
          '/v1/images/load',
          { file: tarPath, size },
          {
            timeoutMs: 0,
            ...(options?.signal ? { signal: options.signal } : {}),
          },
        );
        const text = await readAll(res);
        const body = safeJson(text);
        if ((res.statusCode ?? 500) >= 400) throw errorFromBody(res.statusCode ?? 500, body);
        return (body as { items: ImageRecord[] }).items;
      },
      saveImage: async (refs, tarPath, options) => {
        const res = await this.#send(
          'POST',
          '/v1/images/save',
          { json: { refs } },
          {
            timeoutMs: 0,
            ...(options?.signal ? { signal: options.signal } : {}),
          },
        );
        if ((res.statusCode ?? 500) >= 400)
          throw errorFromBody(res.statusCode ?? 500, safeJson(await readAll(res)));
        try {
          await pipeline(res, createWriteStream(tarPath, { mode: 0o644 }));
        } catch (err) {
          const left = await rm(tarPath, { force: true }).then(
            () => '',
            (e: unknown) => `; the partial file "${tarPath}" is left: ${describeError(e)}`,
          );
          throw unavailable(`The image tarball from the runtime was cut short${left}`, { cause: err });
        }
      },
      ensureRootDisk: (ref, options) =>
        this.#call<RootDisk>(
          'POST',
          `/v1/images/${enc(ref)}/root-disk`,
          {},
          { timeoutMs: 0, ...(options?.signal ? { signal: options.signal } : {}) },
        ),
      ensureLayerTree: (ref, options) =>
        this.#call<LayerTree>(
          'POST',
          `/v1/images/${enc(ref)}/layer-tree`,
          {},
          { timeoutMs: 0, ...(options?.signal ? { signal: options.signal } : {}) },
        ),
      retain: async (ref, holder) => {
        await this.#call('POST', `/v1/images/${enc(ref)}/retain`, { holder });
      },
      release: async (holder) => {
        await this.#call('POST', `/v1/image-holders/${enc(holder)}/release`, {});
      },
      garbageCollect: async () =>
        (await this.#call<{ freedBytes: number }>('POST', '/v1/images/gc', {})).freedBytes,
    };
  }

  async #pull(ref: string, options: PullOptions = {}): Promise<ImageRecord> {
    const res = await this.#send(
      'POST',
      '/v1/images/pull',
      {
        json: {
          ref,
          ...(options.platform ? { platform: options.platform } : {}),
          ...(options.auth ? { auth: options.auth } : {}),
          ...(options.unpack ? { unpack: options.unpack } : {}),
        },
      },
      { timeoutMs: 0, ...(options.signal ? { signal: options.signal } : {}) },
    );
    if ((res.statusCode ?? 500) >= 400)
      throw errorFromBody(res.statusCode ?? 500, safeJson(await readAll(res)));
    let buf = '';
    let image: ImageRecord | undefined;
    res.setEncoding('utf8');
    for await (const chunk of res as AsyncIterable<string>) {
      buf += chunk;
      if (buf.length > maxResponseBytes) throw internal('The pull progress stream is too large');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const v = safeJson(line) as
          { progress?: PullProgress; image?: ImageRecord; error?: unknown } | undefined;
        if (!v) continue;
        if (v.progress) options.onProgress?.(v.progress);
        if (v.image) image = v.image;
        if (v.error) throw errorFromBody(500, v.error);
      }
    }
    if (!image) throw unavailable(`The pull of "${ref}" ended without a result`);
    return image;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > maxResponseBytes) {
      res.destroy();
      throw internal('The runtime sent a response over the size limit');
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A port-forward connection: raw bytes for the caller, frames on the wire. */
function framedDuplex(sock: Duplex, head: Buffer): Duplex {
  const decoder = new FrameDecoder();
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      let ok = true;
      for (let off = 0; off < chunk.length; off += 65536) {
        ok = sock.write(encodeFrame(channel.stdin, chunk.subarray(off, off + 65536)));
      }
      if (ok) cb();
      else sock.once('drain', () => cb());
    },
    final(cb) {
      sock.write(encodeFrame(channel.close, Uint8Array.of(channel.stdin)), () => cb());
    },
    read() {
      sock.resume();
    },
    destroy(err, cb) {
      sock.destroy();
      cb(err);
    },
  });
  const onData = (chunk: Buffer): void => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      duplex.destroy(err as Error);
      return;
    }
    for (const f of frames) {
      if (f.channel === channel.stdout) {
        if (!duplex.push(f.payload)) sock.pause();
      } else if (f.channel === channel.close) duplex.push(null);
      else if (f.channel === channel.status) {
        try {
          parseStatusFrame(f.payload);
        } catch (err) {
          duplex.destroy(err as Error);
        }
      }
    }
  };
  sock.on('data', onData);
  sock.on('end', () => duplex.push(null));
  sock.on('close', () => {
    if (!duplex.readableEnded) duplex.push(null);
  });
  sock.on('error', (err) => duplex.destroy(err));
  if (head.length) onData(head);
  return duplex;
}
