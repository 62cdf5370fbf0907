/**
 * A loopback HTTP server that answers what kubectl asks before and during `explain` and
 * `create`: `/version`, legacy discovery built from the kinds, the OpenAPI documents, and POSTs
 * (recorded, answered 201 with the JSON body or the decoded protobuf body). For tests of the
 * api module against the real kubectl; the real server is the apiserver's.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allKinds, apiVersionOf, servedGroupVersions } from '../kinds.js';
import { buildOpenApiV2, OPENAPI_V2_PROTOBUF_CONTENT_TYPE } from '../openapi/openapi-v2.js';
import { buildOpenApiV3, groupVersionPath } from '../openapi/openapi-v3.js';
import {
  decodeKubernetesProtobuf,
  KUBERNETES_PROTOBUF_CONTENT_TYPE,
} from '../protobuf/kubernetes-protobuf.js';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
  /** The body as JSON (decoded from protobuf when it was protobuf). */
  readonly object?: unknown;
}

export interface KubectlTestServer {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

function discovery(path: string): unknown {
  if (path === '/version') {
    return {
      major: '1',
      minor: '32',
      gitVersion: 'v1.32.0-h8s',
      gitCommit: 'test',
      gitTreeState: 'clean',
      buildDate: '2025-01-01T00:00:00Z',
      goVersion: 'go1.23',
      compiler: 'gc',
      platform: 'linux/amd64',
    };
  }
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (path === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: servedGroupVersions()
        .filter((gv) => gv.group !== '')
        .map((gv) => ({
          name: gv.group,
          versions: [{ groupVersion: `${gv.group}/${gv.version}`, version: gv.version }],
          preferredVersion: { groupVersion: `${gv.group}/${gv.version}`, version: gv.version },
        })),
    };
  }
  for (const gv of servedGroupVersions()) {
    if (path !== `/${groupVersionPath(gv.group, gv.version)}`) continue;
    const resources = allKinds()
      .filter((k) => k.group === gv.group && k.version === gv.version)
      .flatMap((k) => [
        {
          name: k.plural,
          singularName: k.singular,
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: k.verbs,
          shortNames: k.shortNames,
          categories: k.categories,
        },
        ...(k.hasStatusSubresource
          ? [
              {
                name: `${k.plural}/status`,
                singularName: '',
                namespaced: k.namespaced,
                kind: k.kind,
                verbs: ['get', 'patch', 'update'],
              },
            ]
          : []),
      ]);
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(gv), resources };
  }
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Starts the server on a loopback port and writes a kubeconfig for it into a temp dir. */
export async function startKubectlTestServer(): Promise<KubectlTestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'h8s-api-kubectl-'));
  const v3 = buildOpenApiV3();
  const v2 = buildOpenApiV2();
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = await readBody(req);
      const contentType = String(req.headers['content-type'] ?? '');
      const send = (code: number, value: unknown, type = 'application/json'): void => {
        res.writeHead(code, { 'Content-Type': type });
        res.end(typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value));
      };
      if (req.method === 'POST') {
        let object: unknown;
        try {
          object = contentType.startsWith(KUBERNETES_PROTOBUF_CONTENT_TYPE)
            ? decodeKubernetesProtobuf(body)
            : JSON.parse(body.toString('utf8'));
        } catch (err) {
          requests.push({ method: 'POST', path: url.pathname, contentType, body });
          send(400, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            reason: 'BadRequest',
            code: 400,
            message: (err as Error).message,
          });
          return;
        }
        requests.push({ method: 'POST', path: url.pathname, contentType, body, object });
        send(201, object);
        return;
      }
      requests.push({ method: req.method ?? 'GET', path: url.pathname, contentType, body });
      if (url.pathname === '/openapi/v2')
        return send(200, Buffer.from(v2.protobuf), OPENAPI_V2_PROTOBUF_CONTENT_TYPE);
      if (url.pathname === '/openapi/v3') return send(200, v3.index);
      const doc = url.pathname.startsWith('/openapi/v3/')
        ? v3.documents.get(url.pathname.slice('/openapi/v3/'.length))
        : undefined;
      if (doc) return send(200, doc.json);
      const answer = discovery(url.pathname);
      if (answer !== undefined) return send(200, answer);
      send(404, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        reason: 'NotFound',
        code: 404,
        message: 'the server could not find the requested resource',
      });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: http://127.0.0.1:${port}\ncontexts:\n- name: t\n  context: {cluster: t, user: u, namespace: default}\ncurrent-context: t\nusers:\n- name: u\n  user: {token: test}\n`,
  );
  return {
    dir,
    kubeconfig,
    requests,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
