import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  errorCode,
  findH8sError,
  isAlreadyExists,
  isBadRequest,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  isTimeout,
  isUnavailable,
} from '../lib/index.js';
import type { KubeObject } from '../api/index.js';
import { builtinResources, createApiClient, type ApiClient, type WatchEvent } from './index.js';
import { sendJson, startWireFake, statusBody, type WireFake } from './testing/wire-fake.js';

const cm = (name: string, rv = '5', extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns1', uid: `uid-${name}`, resourceVersion: rv, ...extra },
});

describe('API client on the wire', () => {
  let fake: WireFake;
  let client: ApiClient;
  const warnings: string[] = [];

  before(async () => {
    fake = await startWireFake();
    client = createApiClient({
      server: fake.url,
      token: 'sekret-token',
      userAgent: 'h8s-test/1',
      timeoutMs: 2_000,
      onWarning: (w) => warnings.push(w),
    });
  });
  after(async () => {
    client.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    warnings.length = 0;
  });

  it('gets an object with the bearer token and user agent', async () => {
    fake.handle((_req, res) => sendJson(res, 200, cm('a')));
    const obj = await client.resource(builtinResources.configMaps, 'ns1').get('a');
    assert.equal(obj.metadata.name, 'a');
    const req = fake.requests[0];
    assert.equal(req?.method, 'GET');
    assert.equal(req?.path, '/api/v1/namespaces/ns1/configmaps/a');
    assert.equal(req?.headers['authorization'], 'Bearer sekret-token');
    assert.equal(req?.headers['user-agent'], 'h8s-test/1');
    assert.equal(req?.headers['accept'], 'application/json');
  });

  it('maps 404, 409, 410 and 422 Status answers back to their codes with details', async () => {
    const cases: [number, string, (e: unknown) => boolean, Record<string, unknown>][] = [
      [404, 'NotFound', isNotFound, { name: 'a', kind: 'configmaps' }],
      [409, 'AlreadyExists', isAlreadyExists, { name: 'a', kind: 'configmaps' }],
      [409, 'Conflict', isConflict, { name: 'a', kind: 'configmaps' }],
      [410, 'Expired', isGone, {}],
      [
        422,
        'Invalid',
        isInvalid,
        {
          name: 'a',
          kind: 'ConfigMap',
          causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "x"', field: 'data' }],
        },
      ],
    ];
    for (const [status, reason, predicate, details] of cases) {
      fake.handle((_req, res) =>
        sendJson(res, status, statusBody(status, reason, `message for ${reason}`, details)),
      );
      const err = await client
        .resource(builtinResources.configMaps, 'ns1')
        .get('a')
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(predicate(err), `${status} ${reason} maps to its code, got ${String(err)}`);
      const h = findH8sError(err);
      assert.equal(h?.code, reason);
      assert.equal(h?.message, `message for ${reason}`);
      assert.equal(h?.httpStatus, status);
      if (details['name']) assert.equal(h?.details.name, 'a');
      if (reason === 'Invalid') assert.deepEqual(h?.details.causes?.[0]?.field, 'data');
    }
  });

  it('maps a non-Status error body by its HTTP status and keeps a snippet', async () => {
    fake.handle((_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<html>bad gateway</html>');
    });
    const err = await client
      .resource(builtinResources.pods, 'ns1')
      .get('p')
      .catch((e: unknown) => e);
    assert.equal(errorCode(err), 'InternalError');
    assert.match(String((err as Error).message), /502: <html>bad gateway/);
  });

  it('maps an unknown Status reason by its code', async () => {
    fake.handle((_req, res) => sendJson(res, 500, statusBody(500, 'ServerTimeout', 'took too long')));
    const err = await client
      .resource(builtinResources.pods, 'ns1')
      .get('p')
      .catch((e: unknown) => e);
    assert.ok(isTimeout(err));
  });

  it('lists with selectors and paging and follows continue tokens in listAll', async () => {
    fake.handle((req, res) => {
      const cont = req.query.get('continue');
      if (!cont) {
        sendJson(res, 200, {
          kind: 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '10', continue: 'tok1' },
          items: [{ metadata: { name: 'a', namespace: 'ns1' } }],
        });
      } else {
        sendJson(res, 200, {
          kind: 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '10' },
          items: [{ metadata: { name: 'b', namespace: 'ns1' } }],
        });
      }
    });
    const list = await client
      .resource(builtinResources.configMaps, 'ns1')
      .listAll({ labelSelector: 'app in (a,b),!x', fieldSelector: 'metadata.name!=c', limit: 1 });
    assert.deepEqual(
      list.items.map((i) => i.metadata.name),
      ['a', 'b'],
    );
    assert.equal(list.metadata.resourceVersion, '10');
    // list items lacking kind/apiVersion are filled in from the resource
    assert.equal(list.items[0]?.kind, 'ConfigMap');
    assert.equal(list.items[0]?.apiVersion, 'v1');
    const [first, second] = fake.requests;
    assert.equal(first?.query.get('labelSelector'), 'app in (a,b),!x');
    assert.equal(first?.query.get('fieldSelector'), 'metadata.name!=c');
    assert.equal(first?.query.get('limit'), '1');
    assert.equal(second?.query.get('continue'), 'tok1');
  });

  it('lists across all namespaces when no namespace is given', async () => {
    fake.handle((_req, res) =>
      sendJson(res, 200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '3' },
        items: [],
      }),
    );
    await client.resource(builtinResources.pods).list();
    assert.equal(fake.requests[0]?.path, '/api/v1/pods');
    await client.resource(builtinResources.deployments).list();
    assert.equal(fake.requests[1]?.path, '/apis/apps/v1/deployments');
  });

  it('creates in the object namespace and refuses a mismatch', async () => {
    fake.handle((req, res) => sendJson(res, 201, JSON.parse(req.body) as unknown));
    const created = await client
      .resource(builtinResources.configMaps)
      .create(cm('x'), { dryRun: true, fieldManager: 'me', fieldValidation: 'Strict' });
    assert.equal(created.metadata.name, 'x');
    const req = fake.requests[0];
    assert.equal(req?.path, '/api/v1/namespaces/ns1/configmaps');
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.query.get('dryRun'), 'All');
    assert.equal(req?.query.get('fieldManager'), 'me');
    assert.equal(req?.query.get('fieldValidation'), 'Strict');
    await assert.rejects(client.resource(builtinResources.configMaps, 'other').create(cm('x')), isBadRequest);
  });

  it('refuses a namespace on a cluster-scoped resource and names that are not path segments', async () => {
    assert.throws(() => client.resource(builtinResources.namespaces, 'ns1'), isBadRequest);
    await assert.rejects(
      client.resource(builtinResources.configMaps, 'ns1').get('../secrets/x'),
      isBadRequest,
    );
    await assert.rejects(client.resource(builtinResources.configMaps, 'ns1').get(''), isBadRequest);
    await assert.rejects(client.resource(builtinResources.configMaps).get('a'), isBadRequest);
    assert.equal(fake.requests.length, 0);
  });

  it('updates and updates status with PUT', async () => {
    fake.handle((req, res) => sendJson(res, 200, JSON.parse(req.body) as unknown));
    const rc = client.resource(builtinResources.configMaps, 'ns1');
    await rc.update(cm('a', '7'));
    await rc.updateStatus(cm('a', '8'));
    assert.equal(fake.requests[0]?.method, 'PUT');
    assert.equal(fake.requests[0]?.path, '/api/v1/namespaces/ns1/configmaps/a');
    assert.equal((JSON.parse(fake.requests[0]?.body ?? '{}') as KubeObject).metadata.resourceVersion, '7');
    assert.equal(fake.requests[1]?.path, '/api/v1/namespaces/ns1/configmaps/a/status');
  });

  it('sends each patch type with its content type', async () => {
    fake.handle((_req, res) => sendJson(res, 200, cm('a')));
    const rc = client.resource(builtinResources.configMaps, 'ns1');
    await rc.patch('a', [{ op: 'add', path: '/data/x', value: '1' }], { type: 'json' });
    await rc.patch('a', { data: { x: '1' } }, { type: 'merge' });
    await rc.patch('a', { data: { x: '1' } }, { type: 'strategic', subresource: 'status' });
    await rc.patch(
      'a',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } },
      { type: 'apply', fieldManager: 'gc', force: true },
    );
    assert.deepEqual(
      fake.requests.map((r) => r.headers['content-type']),
      [
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/strategic-merge-patch+json',
        'application/apply-patch+yaml',
      ],
    );
    assert.equal(fake.requests[2]?.path, '/api/v1/namespaces/ns1/configmaps/a/status');
    assert.equal(fake.requests[3]?.query.get('force'), 'true');
    assert.equal(fake.requests[3]?.query.get('fieldManager'), 'gc');
    await assert.rejects(rc.patch('a', {}, { type: 'apply' }), isBadRequest);
    await assert.rejects(rc.patch('a', {}, { type: 'json' }), isBadRequest);
  });

  it('deletes with DeleteOptions and tells pending from gone', async () => {
    let answer: unknown = { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: 'a' } };
    fake.handle((_req, res) => sendJson(res, 200, answer));
    const rc = client.resource(builtinResources.deployments, 'ns1');
    const gone = await rc.delete('a', {
      propagationPolicy: 'Foreground',
      preconditions: { uid: 'u1', resourceVersion: '9' },
      gracePeriodSeconds: 0,
      dryRun: true,
    });
    assert.equal(gone, undefined);
    assert.deepEqual(JSON.parse(fake.requests[0]?.body ?? ''), {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: 'Foreground',
      gracePeriodSeconds: 0,
      preconditions: { uid: 'u1', resourceVersion: '9' },
      dryRun: ['All'],
    });
    answer = {
      ...cm('a'),
      metadata: {
        name: 'a',
        namespace: 'ns1',
        deletionTimestamp: '2026-01-01T00:00:00Z',
        finalizers: ['foregroundDeletion'],
      },
    };
    const pending = await rc.delete('a');
    assert.equal(pending?.metadata.finalizers?.[0], 'foregroundDeletion');
    answer = cm('a');
    assert.equal(
      await rc.delete('a'),
      undefined,
      'an object without deletionTimestamp or finalizers is gone',
    );
  });

  it('deletes a collection with selectors and options', async () => {
    fake.handle((_req, res) => sendJson(res, 200, { kind: 'Status', status: 'Success' }));
    await client
      .resource(builtinResources.configMaps, 'ns1')
      .deleteCollection({ labelSelector: 'a=b', propagationPolicy: 'Background' });
    const req = fake.requests[0];
    assert.equal(req?.method, 'DELETE');
    assert.equal(req?.path, '/api/v1/namespaces/ns1/configmaps');
    assert.equal(req?.query.get('labelSelector'), 'a=b');
    assert.equal(
      (JSON.parse(req?.body ?? '{}') as { propagationPolicy: string }).propagationPolicy,
      'Background',
    );
  });

  it('calls subresources', async () => {
    fake.handle((req, res) =>
      sendJson(
        res,
        200,
        req.body
          ? (JSON.parse(req.body) as unknown)
          : { kind: 'Scale', metadata: { name: 'd' }, spec: { replicas: 2 } },
      ),
    );
    const rc = client.resource(builtinResources.deployments, 'ns1');
    const scale = await rc.getSubresource<{ spec: { replicas: number } }>('d', 'scale');
    assert.equal(scale.spec.replicas, 2);
    await rc.updateSubresource('d', 'scale', {
      kind: 'Scale',
      metadata: { name: 'd', namespace: 'ns1' },
      spec: { replicas: 3 },
    });
    await client
      .resource(builtinResources.pods, 'ns1')
      .createSubresource('p', 'binding', { kind: 'Binding' });
    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.path}`),
      [
        'GET /apis/apps/v1/namespaces/ns1/deployments/d/scale',
        'PUT /apis/apps/v1/namespaces/ns1/deployments/d/scale',
        'POST /api/v1/namespaces/ns1/pods/p/binding',
      ],
    );
  });

  it('hands Warning headers to onWarning', async () => {
    fake.handle((_req, res) =>
      sendJson(res, 200, cm('a'), { Warning: '299 - "unknown field \\"spec.foo\\""' }),
    );
    await client.resource(builtinResources.configMaps, 'ns1').get('a');
    assert.deepEqual(warnings, ['unknown field "spec.foo"']);
  });

  it('reads a watch stream split across chunks, with bookmarks, and ends when the server ends', async () => {
    fake.handle((req, res) => {
      assert.equal(req.query.get('watch'), 'true');
      assert.equal(req.query.get('resourceVersion'), '10');
      assert.equal(req.query.get('allowWatchBookmarks'), 'true');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const lines =
        JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '11' } } }) +
        '\n' +
        JSON.stringify({
          type: 'BOOKMARK',
          object: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '12' } },
        }) +
        '\n' +
        JSON.stringify({ type: 'DELETED', object: cm('a', '13') }) +
        '\n';
      // split mid-line to check the line assembly
      res.write(lines.slice(0, 17));
      setImmediate(() => {
        res.write(lines.slice(17));
        res.end();
      });
    });
    const events: WatchEvent[] = [];
    for await (const ev of client
      .resource(builtinResources.configMaps, 'ns1')
      .watch({ resourceVersion: '10', allowWatchBookmarks: true, timeoutSeconds: 30 })) {
      events.push(ev);
    }
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.resourceVersion}`),
      ['ADDED 11', 'BOOKMARK 12', 'DELETED 13'],
    );
    assert.equal(events[0]?.object.kind, 'ConfigMap', 'kind filled in');
    assert.equal(fake.requests[0]?.query.get('timeoutSeconds'), '30');
  });

  it('parses replies: a malformed object, list or watch event is an InternalError naming the field', async () => {
    const configMaps = client.resource(builtinResources.configMaps, 'ns1');
    const rejects = async (call: () => Promise<unknown>, field: RegExp) =>
      assert.rejects(call, (e: unknown) => errorCode(e) === 'InternalError' && field.test(String(e)));
    fake.handle((_req, res) => sendJson(res, 200, { kind: 'ConfigMap', metadata: { name: 7 } }));
    await rejects(() => configMaps.get('a'), /metadata\.name/);
    fake.handle((_req, res) => sendJson(res, 200, { metadata: { labels: { app: 1 } } }));
    await rejects(() => configMaps.get('a'), /metadata\.labels/);
    fake.handle((_req, res) => sendJson(res, 200, { kind: 'ConfigMapList', metadata: {}, items: {} }));
    await rejects(() => configMaps.list(), /items/);
    fake.handle((_req, res) => sendJson(res, 200, { metadata: { remainingItemCount: 'many' }, items: [] }));
    await rejects(() => configMaps.list(), /remainingItemCount/);
    fake.handle((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ type: 'ADDED', object: { metadata: { resourceVersion: 12 } } }) + '\n');
    });
    await rejects(async () => {
      for await (const _ev of configMaps.watch({ resourceVersion: '10' })) {
        // the first event fails
      }
    }, /resourceVersion/);
  });

  it('throws Expired for a watch ERROR event with 410', async () => {
    fake.handle((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'ERROR',
          object: statusBody(410, 'Expired', 'too old resource version: 1 (5)'),
        }) + '\n',
      );
    });
    const iterate = async (): Promise<void> => {
      for await (const _ of client
        .resource(builtinResources.configMaps, 'ns1')
        .watch({ resourceVersion: '1' })) {
        // nothing
      }
    };
    await assert.rejects(
      iterate(),
      (err: unknown) => isGone(err) && /too old resource version/.test(String((err as Error).message)),
    );
  });

  it('stops a watch when its signal aborts', async () => {
    fake.handle((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: cm('a') }) + '\n');
    });
    const ac = new AbortController();
    const seen: string[] = [];
    const iterate = async (): Promise<void> => {
      for await (const ev of client
        .resource(builtinResources.configMaps, 'ns1')
        .watch({ signal: ac.signal })) {
        seen.push(ev.type);
        ac.abort(new Error('test stop'));
      }
    };
    await assert.rejects(iterate(), /test stop/);
    assert.deepEqual(seen, ['ADDED']);
  });

  it('reports a watch cut off mid-stream as ServiceUnavailable', async () => {
    fake.handle((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: cm('a') }) + '\n');
      setImmediate(() => res.socket?.destroy());
    });
    const iterate = async (): Promise<number> => {
      let n = 0;
      for await (const _ of client.resource(builtinResources.configMaps, 'ns1').watch()) n++;
      return n;
    };
    await assert.rejects(iterate(), isUnavailable);
  });

  it('answers a refused connection with ServiceUnavailable and a dead line with Timeout', async () => {
    const port = await freePort();
    const c = createApiClient({ server: `http://127.0.0.1:${port}`, timeoutMs: 500 });
    await assert.rejects(
      c.resource(builtinResources.pods, 'ns1').get('p'),
      (err: unknown) => isUnavailable(err) && !String((err as Error).message).includes('token'),
    );
    c.close();
    fake.handle(() => {
      // never answer
    });
    await assert.rejects(
      client.resource(builtinResources.pods, 'ns1').get('p', { timeoutMs: 100 }),
      isTimeout,
    );
  });

  it('never puts the token into error messages', async () => {
    fake.handle((_req, res) => sendJson(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized')));
    const err = await client
      .resource(builtinResources.pods, 'ns1')
      .get('p')
      .catch((e: unknown) => e);
    assert.equal(errorCode(err), 'Unauthorized');
    assert.ok(!JSON.stringify(err).includes('sekret') && !String(err).includes('sekret'));
  });

  it('discovers resources and maps kinds to resources', async () => {
    fake.handle((req, res) => {
      switch (req.path) {
        case '/api':
          return sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'] });
        case '/apis':
          return sendJson(res, 200, {
            kind: 'APIGroupList',
            groups: [
              {
                name: 'apps',
                versions: [{ groupVersion: 'apps/v1', version: 'v1' }],
                preferredVersion: { groupVersion: 'apps/v1', version: 'v1' },
              },
              { name: 'broken.io', versions: [{ groupVersion: 'broken.io/v1', version: 'v1' }] },
            ],
          });
        case '/api/v1':
          return sendJson(res, 200, {
            kind: 'APIResourceList',
            groupVersion: 'v1',
            resources: [
              {
                name: 'pods',
                singularName: 'pod',
                namespaced: true,
                kind: 'Pod',
                verbs: ['get', 'list', 'watch', 'delete'],
              },
              { name: 'pods/status', namespaced: true, kind: 'Pod', verbs: ['get', 'update'] },
              { name: 'namespaces', namespaced: false, kind: 'Namespace', verbs: ['list'] },
              { name: 'namespaces/finalize', namespaced: false, kind: 'Namespace', verbs: ['update'] },
            ],
          });
        case '/apis/apps/v1':
          return sendJson(res, 200, {
            kind: 'APIResourceList',
            groupVersion: 'apps/v1',
            resources: [
              {
                name: 'deployments',
                namespaced: true,
                kind: 'Deployment',
                verbs: ['list'],
                shortNames: ['deploy'],
              },
            ],
          });
        default:
          return sendJson(res, 503, statusBody(503, 'ServiceUnavailable', 'group is down'));
      }
    });
    const result = await client.discovery.listServerResources({ refresh: true });
    assert.deepEqual(result.resources.map((r) => `${r.group}/${r.version}/${r.plural}`).sort(), [
      '/v1/namespaces',
      '/v1/pods',
      'apps/v1/deployments',
    ]);
    assert.deepEqual(result.resources.find((r) => r.plural === 'namespaces')?.subresources, ['finalize']);
    assert.equal(result.failures.length, 1);
    assert.equal(result.failures[0]?.groupVersion, 'broken.io/v1');
    assert.ok(isUnavailable(result.failures[0]?.error));
    const deploy = await client.discovery.findResourceFor('apps/v1', 'Deployment');
    assert.equal(deploy?.plural, 'deployments');
    assert.equal(deploy?.namespaced, true);
    const before = fake.requests.length;
    await client.discovery.findResourceFor('v1', 'Pod');
    assert.equal(fake.requests.length, before, 'answered from the cache');
    await assert.rejects(client.discovery.getResourceFor('v1', 'Nope'), isNotFound);
  });
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
