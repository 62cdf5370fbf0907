/**
 * Creates through the write workers answer exactly as creates on the event loop: the same
 * objects, the same Status errors with the same causes, the same warnings, for good bodies,
 * bad ones and a few hundred random mutations of a pod; a worker that dies mid-request gives
 * that request a 500 Status and the server keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../lib/index.js';
import {
  startInProcessServer,
  type InProcessServer,
  type TestResponse,
} from '../testing/in-process-server.js';

const pods = (ns: string): string => `/api/v1/namespaces/${ns}/pods`;

function pod(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      containers: [
        {
          name: 'c',
          image: 'busybox',
          ports: [{ containerPort: 80, name: 'http' }],
          resources: { requests: { cpu: '100m', memory: '64Mi' } },
        },
      ],
      ...extra,
    },
  };
}

/** The response without what differs between two servers (uids, times, revisions, random names). */
function normalized(r: TestResponse): unknown {
  const text = r.text
    .replace(/"uid":"[0-9a-f-]{36}"/g, '"uid":"U"')
    .replace(/uid: [0-9a-f-]{36}/g, 'uid: U')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, 'T')
    .replace(/"resourceVersion":"\d+"/g, '"resourceVersion":"R"')
    .replace(/request id [\w-]+/g, 'request id X')
    .replace(/"gen-[a-z0-9]{5}"/g, '"gen-X"')
    .replace(/gen-[a-z0-9]{5}/g, 'gen-X');
  return { status: r.status, warning: r.headers['warning'], body: text };
}

/** A small seeded PRNG (mulberry32), so a failure can be reproduced. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, rand: () => number): string {
  const at = Math.floor(rand() * text.length);
  const pieces = [
    '{',
    '}',
    '[',
    ']',
    '"',
    ':',
    ',',
    '0',
    '-1',
    'null',
    'true',
    '"x"',
    '{}',
    '[]',
    '"Bad_Name"',
  ];
  const piece = pieces[Math.floor(rand() * pieces.length)] as string;
  switch (Math.floor(rand() * 3)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + piece + text.slice(at);
    default:
      return text.slice(0, at) + piece + text.slice(at + 1 + Math.floor(rand() * 8));
  }
}

describe('creates through write workers', () => {
  let pooled: InProcessServer;
  let inline: InProcessServer;
  before(async () => {
    pooled = await startInProcessServer({ writeWorkers: 1 });
    inline = await startInProcessServer({ writeWorkers: 0 });
    assert.equal(pooled.server.writePool?.readyWorkers, 1, 'the write worker did not start');
  });
  after(async () => {
    await pooled?.close();
    await inline?.close();
  });

  async function both(
    method: string,
    path: string,
    o: Parameters<InProcessServer['request']>[2] = {},
  ): Promise<[TestResponse, TestResponse]> {
    return [await pooled.request(method, path, o), await inline.request(method, path, o)];
  }

  async function same(
    path: string,
    body: unknown,
    o: Parameters<InProcessServer['request']>[2] = {},
  ): Promise<TestResponse> {
    const [a, b] = await both('POST', path, { ...o, body });
    assert.deepEqual(
      normalized(a),
      normalized(b),
      `POST ${path} ${typeof body === 'string' ? body : JSON.stringify(body)}`,
    );
    return a;
  }

  it('creates the same objects and answers bad bodies with the same Status', async () => {
    const prepared = pooled.server.writePool?.prepared ?? 0;
    const ok = await same(`${pods('default')}?fieldManager=tester`, pod('p1'));
    assert.equal(ok.status, 201, ok.text);
    assert.ok((pooled.server.writePool?.prepared ?? 0) > prepared, 'the worker did not prepare the create');
    const got = await both('GET', `${pods('default')}/p1`);
    assert.deepEqual(normalized(got[0]), normalized(got[1]));
    assert.equal(
      got[0].json['metadata'] && (got[0].json['metadata'] as Record<string, unknown>)['name'],
      'p1',
    );

    const cases: [string, unknown, Parameters<InProcessServer['request']>[2]?][] = [
      [pods('default'), pod('p1')], // AlreadyExists
      [pods('default'), '{"apiVersion":"v1","kind":"Pod",'], // malformed JSON
      [pods('default'), '[]'],
      [pods('default'), '"pod"'],
      [pods('default'), ''],
      [pods('default'), { ...pod('p2'), kind: 'Service' }],
      [pods('default'), { ...pod('p2'), apiVersion: 'apps/v1' }],
      [pods('default'), { ...pod('p2'), spec: { containers: [{ name: 'c', image: 'i', bogus: 1 }] } }],
      [
        `${pods('default')}?fieldValidation=Warn`,
        { ...pod('p3'), spec: { containers: [{ name: 'c', image: 'i', bogus: 1 }] } },
      ],
      [`${pods('default')}?fieldValidation=Ignore`, { ...pod('p4'), extra: true }],
      [
        pods('default'),
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p5","name":"p6"},"spec":{"containers":[{"name":"c","image":"i"}]}}',
      ],
      [pods('default'), { ...pod('Bad_Name') }],
      [pods('default'), { ...pod('p7'), spec: { containers: [] } }],
      [
        pods('default'),
        {
          ...pod('p8'),
          spec: { containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: 'lots' } } }] },
        },
      ],
      [pods('default'), { ...pod('p9'), spec: 'nope' }],
      [pods('default'), { ...pod('p10'), metadata: { name: 'p10', namespace: 'other' } }],
      [pods('missing'), pod('p11')], // NotFound namespace
      [pods('missing'), { ...pod('Bad_Name') }], // admission before validation: NotFound
      [pods('missing'), '{"kind":'], // decode before admission: BadRequest
      [pods('default'), { ...pod(''), metadata: { generateName: 'gen-' } }],
      [pods('default'), `${'['.repeat(150)}${']'.repeat(150)}`], // nested too deep
      [
        pods('default'),
        {
          ...pod('p12'),
          metadata: { name: 'p12', creationTimestamp: null, uid: 'mine', resourceVersion: '5' },
        },
      ],
      [pods('default'), pod('p13'), { accept: 'application/yaml' }],
      [pods('default'), pod('p14'), { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' }],
      [`${pods('default')}?dryRun=All`, pod('p15')],
      ['/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n1' } }],
      [
        '/api/v1/namespaces/default/configmaps',
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1' }, data: { a: 'b' } },
      ],
      [
        '/api/v1/namespaces/default/configmaps',
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c2' }, data: { a: 1 } },
      ],
    ];
    for (const [path, body, o] of cases) await same(path, body, o);
    const gone = await both('GET', `${pods('default')}/p15`);
    assert.equal(gone[0].status, 404, 'a dry-run create was stored');
  });

  it('answers a few hundred random mutations of a pod the same way', async () => {
    const rand = prng(0x5eed);
    const codes = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const text = JSON.stringify(pod(`m${i}`));
      let body = text;
      const n = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < n; k++) body = mutate(body, rand);
      const r = await same(pods('default'), body);
      codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
    }
    // The mutations reach past the JSON parser: some are created, some are refused later.
    assert.ok((codes.get(400) ?? 0) > 0 && (codes.get(201) ?? 0) > 0, JSON.stringify([...codes]));
  });

  it('answers 500 with a Status when the worker dies mid-request, then keeps serving', async () => {
    const pool = pooled.server.writePool;
    assert.ok(pool);
    pool.injectFault(0, 'crash', true);
    const r = await pooled.request('POST', pods('default'), { body: pod('crash1') });
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json['kind'], 'Status');
    assert.equal(r.json['reason'], 'InternalError');
    assert.match(r.json['message'] as string, /the server log has the details under request id/);
    // Nothing was stored, and the next creates work (inline, then through a new worker).
    assert.equal((await pooled.request('GET', `${pods('default')}/crash1`)).status, 404);
    assert.equal((await pooled.request('POST', pods('default'), { body: pod('crash2') })).status, 201);
    await waitFor(() => pool.readyWorkers === 1, { timeoutMs: 60_000, description: 'a new write worker' });
    const prepared = pool.prepared;
    assert.equal((await pooled.request('POST', pods('default'), { body: pod('crash3') })).status, 201);
    assert.equal(pool.prepared, prepared + 1);
  });
});
