/**
 * Runs one probe or lifecycle hook action against a container (kubelet's prober and
 * `handlers.go`): exec, httpGet, tcpSocket, grpc, and the hooks' sleep.
 *
 * Network actions go through the runtime's port-forward into the pod's network namespace
 * (for a VM, through its guest agent), not from the node to the pod's address: tenant networks
 * may overlap and the node has no route to them (ADR 0007), and this reaches VM and runc pods
 * the same way. `host` in httpGet is sent as the Host header only.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Container } from '../../api/index.js';
import { describeError } from '../../lib/index.js';
import type { RuntimeService } from '../../runtime/index.js';

export type ProbeOutcome =
  { readonly ok: true; readonly message: string } | { readonly ok: false; readonly message: string };

/** The parts of Probe and LifecycleHandler this runner executes. */
export interface ProbeAction {
  readonly exec?: { readonly command?: readonly string[] } | undefined;
  readonly httpGet?:
    | {
        readonly path?: string;
        readonly port?: string | number;
        readonly host?: string;
        readonly scheme?: string;
        readonly httpHeaders?: readonly { readonly name?: string; readonly value?: string }[];
      }
    | undefined;
  readonly tcpSocket?: { readonly port?: string | number; readonly host?: string } | undefined;
  readonly grpc?: { readonly port?: number; readonly service?: string } | undefined;
  readonly sleep?: { readonly seconds?: number } | undefined;
}

export interface ProbeTarget {
  readonly containerId: string;
  readonly sandboxId: string;
  readonly podIP: string;
  readonly container: Container;
}

/** At most this much of a probe's output goes into an event message (upstream: 10 KiB). */
const maxOutputBytes = 10 * 1024;

/** A named port (`http`) of the container, or the number itself. */
export function resolvePort(port: string | number | undefined, container: Container): number {
  if (typeof port === 'number') return port;
  if (port !== undefined && /^\d+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((p) => p.name === port);
  if (!named?.containerPort)
    throw new Error(`port "${port ?? ''}" is not a named port of container "${container.name ?? ''}"`);
  return named.containerPort;
}

function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what} timed out after ${timeoutMs / 1000}s`));
    }, timeoutMs);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export async function runProbeAction(
  runtime: RuntimeService,
  action: ProbeAction,
  target: ProbeTarget,
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<ProbeOutcome> {
  const timeoutMs = Math.max(1, timeoutSeconds) * 1000;
  try {
    if (action.exec) {
      const r = await runtime.execSync(
        target.containerId,
        action.exec.command ?? [],
        Math.max(1, timeoutSeconds),
      );
      const out = Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)])
        .subarray(0, maxOutputBytes)
        .toString('utf8')
        .trim();
      if (r.exitCode === 0) return { ok: true, message: out };
      return {
        ok: false,
        message: out || `command ${JSON.stringify(action.exec.command ?? [])} exited with ${r.exitCode}`,
      };
    }
    if (action.httpGet) return await httpProbe(runtime, action.httpGet, target, timeoutMs);
    if (action.tcpSocket) {
      const port = resolvePort(action.tcpSocket.port, target.container);
      const conn = await withTimeout(
        runtime.portForward(target.sandboxId, port),
        timeoutMs,
        `dial tcp ${target.podIP}:${port}`,
      );
      conn.destroy();
      return { ok: true, message: '' };
    }
    if (action.grpc) return await grpcProbe(runtime, action.grpc, target, timeoutMs);
    if (action.sleep) {
      const ms = Math.max(0, action.sleep.seconds ?? 0) * 1000;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
      return { ok: true, message: '' };
    }
    return { ok: false, message: 'probe has no action' };
  } catch (err) {
    return { ok: false, message: describeError(err) };
  }
}

async function httpProbe(
  runtime: RuntimeService,
  get: NonNullable<ProbeAction['httpGet']>,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const port = resolvePort(get.port, target.container);
  const scheme = (get.scheme ?? 'HTTP').toUpperCase();
  const path = get.path && get.path.startsWith('/') ? get.path : `/${get.path ?? ''}`;
  const url = `${scheme.toLowerCase()}://${get.host ?? target.podIP}:${port}${path}`;
  const raw = await withTimeout(runtime.portForward(target.sandboxId, port), timeoutMs, `Get "${url}"`);
  let conn: Duplex = raw;
  if (scheme === 'HTTPS') {
    // Upstream skips certificate verification for HTTPS probes.
    conn = tlsConnect({ socket: raw as never, rejectUnauthorized: false, servername: get.host ?? '' });
  }
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.33', Accept: '*/*' };
  for (const h of get.httpHeaders ?? []) if (h.name) headers[h.name] = h.value ?? '';
  headers['Host'] ??= get.host ? `${get.host}:${port}` : `${target.podIP}:${port}`;
  const result = new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const req = httpRequest(
        { method: 'GET', path, headers, createConnection: () => conn as never, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < maxOutputBytes) chunks.push(c);
            size += c.length;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
  try {
    const r = await withTimeout(result, timeoutMs, `Get "${url}"`, () => conn.destroy());
    if (r.status >= 200 && r.status < 400) return { ok: true, message: '' };
    return { ok: false, message: `HTTP probe failed with statuscode: ${r.status}` };
  } finally {
    conn.destroy();
  }
}

/** grpc.health.v1.HealthCheckRequest{service} as protobuf: field 1, length-delimited. */
function healthRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  const msg = s.length > 0 ? Buffer.concat([Buffer.from([0x0a, s.length]), s]) : Buffer.alloc(0);
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  return frame;
}

/** HealthCheckResponse.status (field 1, varint): 1 = SERVING. */
function healthStatus(body: Buffer): number | undefined {
  if (body.length < 5) return undefined;
  const msg = body.subarray(5, 5 + body.readUInt32BE(1));
  for (let i = 0; i < msg.length;) {
    const tag = msg[i++] ?? 0;
    if (tag === 0x08) return msg[i];
    break;
  }
  return 0; // an empty message: UNKNOWN
}

async function grpcProbe(
  runtime: RuntimeService,
  grpc: NonNullable<ProbeAction['grpc']>,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const port = grpc.port ?? 0;
  const raw = await withTimeout(
    runtime.portForward(target.sandboxId, port),
    timeoutMs,
    `grpc ${target.podIP}:${port}`,
  );
  const session = http2Connect(`http://${target.podIP}:${port}`, { createConnection: () => raw as never });
  try {
    const call = new Promise<{ status: number | undefined; grpcStatus: string | undefined }>(
      (resolve, reject) => {
        session.on('error', reject);
        const stream = session.request({
          [h2.HTTP2_HEADER_METHOD]: 'POST',
          [h2.HTTP2_HEADER_PATH]: '/grpc.health.v1.Health/Check',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        const chunks: Buffer[] = [];
        let grpcStatus: string | undefined;
        stream.on('trailers', (t) => {
          grpcStatus = t['grpc-status'] as string | undefined;
        });
        stream.on('response', (h) => {
          grpcStatus ??= h['grpc-status'] as string | undefined;
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status: healthStatus(Buffer.concat(chunks)), grpcStatus }));
        stream.on('error', reject);
        stream.end(healthRequest(grpc.service ?? ''));
      },
    );
    const r = await withTimeout(call, timeoutMs, `grpc health check of ${target.podIP}:${port}`);
    if (r.grpcStatus !== undefined && r.grpcStatus !== '0') {
      return { ok: false, message: `rpc error: code = ${r.grpcStatus}` };
    }
    if (r.status === 1) return { ok: true, message: '' };
    return {
      ok: false,
      message: `service unhealthy (responded with "${['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][r.status ?? 0] ?? 'UNKNOWN'}")`,
    };
  } finally {
    session.destroy();
    raw.destroy();
  }
}
