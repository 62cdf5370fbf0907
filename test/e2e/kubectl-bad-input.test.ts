/**
 * Bad input against a real `h8s server`: each case gets a proper Status while the server keeps
 * serving, and a fuzz run of a few thousand random and mutated bodies neither crashes the
 * server, nor gets a 5xx, nor corrupts any stored object.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { allKinds } from '../../src/api/index.js';
import { matchesSchema, schemaCauses, waitFor } from '../../src/lib/index.js';
import { startServerProcess, type ApiResponse, type ServerProcess } from './helpers/api-server.js';

let server: ServerProcess;

let dataDir: string;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'h8s-e2e-bad-input-'));
  // A store that compacts every 200 ms down to its newest revision, so old revisions go fast.
  server = await startServerProcess({
    dataDir,
    extraArgs: [
      '--datastore',
      `sqlite://${join(dataDir, 'state.db')}?compactIntervalMs=200&compactKeepRevisions=1&compactKeepMs=0`,
    ],
  });
});

after(async () => {
  if (server) {
    if (process.exitCode)
      console.error(`data dir ${server.dataDir}\n--- server output ---\n${server.output().slice(-6000)}`);
    await server.cleanup();
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const cms = '/api/v1/namespaces/default/configmaps';

function assertStatus(r: ApiResponse, code: number, reason: string): void {
  assert.equal(r.status, code, r.text);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.json['kind'], 'Status');
  assert.equal(r.json['apiVersion'], 'v1');
  assert.equal(r.json['status'], 'Failure');
  assert.equal(r.json['code'], code);
  assert.equal(r.json['reason'], reason);
  assert.equal(typeof r.json['message'], 'string');
}

async function alive(): Promise<void> {
  const r = await server.request('GET', '/readyz', { token: null });
  assert.equal(r.status, 200, 'the server still serves');
}

describe('bad input gets a Status and the server keeps serving', () => {
  it('malformed JSON and YAML', async () => {
    assertStatus(await server.request('POST', cms, { body: '{"kind": "ConfigMap",' }), 400, 'BadRequest');
    assertStatus(await server.request('POST', cms, { body: 'not json at all' }), 400, 'BadRequest');
    assertStatus(await server.request('POST', cms, { body: '' }), 400, 'BadRequest');
    assertStatus(
      await server.request('POST', cms, {
        body: 'metadata:\n  name: x\n  name: y\n',
        contentType: 'application/yaml',
      }),
      400,
      'BadRequest',
    );
    assertStatus(
      await server.request('POST', cms, { body: 'a: &a [*a, *a]\n', contentType: 'application/yaml' }),
      400,
      'BadRequest',
    );
    const bomb =
      'a: &a ["x","x","x","x","x","x","x","x","x"]\n' +
      Array.from(
        { length: 12 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
      ).join('\n');
    assertStatus(
      await server.request('POST', cms, { body: bomb, contentType: 'application/yaml' }),
      400,
      'BadRequest',
    );
    await alive();
  });

  it('unknown apiVersion or kind', async () => {
    assertStatus(
      await server.request('POST', cms, {
        body: { apiVersion: 'v1', kind: 'Gizmo', metadata: { name: 'g' } },
      }),
      400,
      'BadRequest',
    );
    assertStatus(
      await server.request('POST', cms, {
        body: { apiVersion: 'gizmos.example.com/v9', kind: 'ConfigMap', metadata: { name: 'g' } },
      }),
      400,
      'BadRequest',
    );
    assertStatus(
      await server.request('POST', '/apis/gizmos.example.com/v1/namespaces/default/gizmos', { body: {} }),
      404,
      'NotFound',
    );
    assertStatus(await server.request('GET', '/api/v2/pods'), 404, 'NotFound');
    await alive();
  });

  it('invalid names and labels', async () => {
    const r = await server.request('POST', cms, {
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'UPPER case', labels: { '-bad': 'x'.repeat(70) } },
      },
    });
    assertStatus(r, 422, 'Invalid');
    const causes = (r.json['details'] as { causes: { field: string }[] }).causes;
    assert.ok(causes.some((c) => c.field === 'metadata.name'));
    assert.ok(causes.some((c) => c.field === 'metadata.labels'));
    const ns = await server.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } },
    });
    assertStatus(ns, 422, 'Invalid');
    await alive();
  });

  it('unknown fields: Strict is a 400, Warn a Warning header', async () => {
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'uf', colour: 'red' }, data: {} };
    const strict = await server.request('POST', `${cms}?fieldValidation=Strict`, { body });
    assertStatus(strict, 400, 'BadRequest');
    assert.match(strict.json['message'] as string, /strict decoding error: unknown field "metadata\.colour"/);
    const warn = await server.request('POST', `${cms}?fieldValidation=Warn`, { body });
    assert.equal(warn.status, 201, warn.text);
    assert.equal(warn.headers['warning'], '299 - "unknown field \\"metadata.colour\\""');
    await alive();
  });

  it('a body over 3 MiB is a 413', async () => {
    const body = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'huge' },
      data: { x: 'y'.repeat(3 * 1024 * 1024) },
    };
    assertStatus(await server.request('POST', cms, { body }), 413, 'RequestEntityTooLarge');
    await alive();
    assert.equal((await server.request('GET', `${cms}/huge`)).status, 404);
  });

  it('a stale resourceVersion is a 409', async () => {
    const created = await server.request('POST', cms, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'stale' } },
    });
    const rv = (created.json['metadata'] as { resourceVersion: string }).resourceVersion;
    await server.request('PUT', `${cms}/stale`, { body: { ...created.json, data: { a: '1' } } });
    const stale = await server.request('PUT', `${cms}/stale`, {
      body: {
        ...created.json,
        metadata: { ...(created.json['metadata'] as object), resourceVersion: rv },
        data: { a: '2' },
      },
    });
    assertStatus(stale, 409, 'Conflict');
    await alive();
  });

  it('a watch from a compacted revision gets an ERROR event with 410', async () => {
    const created = await server.request('POST', cms, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'old' } },
    });
    const rv = Number((created.json['metadata'] as { resourceVersion: string }).resourceVersion);
    for (let i = 0; i < 5; i++) {
      await server.request('PATCH', `${cms}/old`, {
        body: { data: { i: String(i) } },
        contentType: 'application/merge-patch+json',
      });
    }
    // The store compacts every 200 ms down to its newest revision.
    await waitFor(
      async () => {
        const r = await server.request('GET', `${cms}?resourceVersion=${rv}&resourceVersionMatch=Exact`);
        return r.status === 410;
      },
      { timeoutMs: 15_000, description: 'the store to compact' },
    );
    const text = await rawWatch(`${cms}?watch=true&resourceVersion=${rv}`);
    const events = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; object: { code: number; reason: string } });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'ERROR');
    assert.equal(events[0]?.object.code, 410);
    assert.equal(events[0]?.object.reason, 'Expired');
    await alive();
  });
});

/** A watch read to its end (the server closes after the ERROR event). */
async function rawWatch(path: string): Promise<string> {
  const kc = parseYaml(await readFile(server.kubeconfigPath, 'utf8')) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const ca = Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${server.url}${path}`,
      { headers: { authorization: `Bearer ${kc.users[0]?.user.token ?? ''}` }, ca, timeout: 20_000 },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// ------------------------------------------------------------------ fuzzing

/** A small deterministic PRNG (mulberry32) so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzzing', () => {
  it('survives a few thousand random and mutated bodies without a 5xx or a corrupted object', async () => {
    const seed = Number(process.env['H8S_FUZZ_SEED'] ?? Date.now() % 1_000_000);
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const int = (n: number): number => Math.floor(rand() * n);

    const seeds: { path: string; body: Record<string, unknown> }[] = [
      {
        path: cms,
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'fz', labels: { a: 'b' } },
          data: { k: 'v' },
        },
      },
      {
        path: '/api/v1/namespaces/default/secrets',
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'fz' },
          type: 'Opaque',
          data: { k: 'dg==' },
        },
      },
      {
        path: '/api/v1/namespaces/default/pods',
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'fz' },
          spec: {
            containers: [
              {
                name: 'c',
                image: 'busybox',
                ports: [{ containerPort: 80 }],
                env: [{ name: 'A', value: '1' }],
              },
            ],
          },
        },
      },
      { path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fz' } } },
      {
        path: '/api/v1/networks',
        body: {
          apiVersion: 'v1',
          kind: 'Network',
          metadata: { name: 'fz' },
          spec: { tenantID: 't', subnets: { s: { cidr: '10.0.0.0/24', gateway: '10.0.0.1' } } },
        },
      },
    ];
    const weird: unknown[] = [
      null,
      true,
      -1,
      1e308,
      0.5,
      '',
      'x'.repeat(300),
      '\u0000\uffff\ud800',
      '../../etc/passwd',
      [],
      {},
      [[[[]]]],
      { $patch: 'delete' },
      { $retainKeys: 5 },
      '<script>',
      '%2F',
    ];

    const mutate = (v: unknown, depth = 0): unknown => {
      if (depth > 6 || rand() < 0.15) return pick(weird);
      if (Array.isArray(v)) {
        const out = v.map((x) => (rand() < 0.3 ? mutate(x, depth + 1) : x));
        if (rand() < 0.2) out.push(mutate(pick(weird), depth + 1));
        if (rand() < 0.1) out.splice(int(out.length + 1), 1);
        return out;
      }
      if (v !== null && typeof v === 'object') {
        const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
        const keys = Object.keys(out);
        for (const k of keys) if (rand() < 0.3) out[k] = mutate(out[k], depth + 1);
        if (rand() < 0.15 && keys.length) delete out[pick(keys)];
        if (rand() < 0.15)
          out[pick(['spec', 'status', 'metadata', 'extra', 'x', '$patch', 'kind', 'apiVersion'])] = mutate(
            pick(weird),
            depth + 1,
          );
        return out;
      }
      return rand() < 0.5 ? pick(weird) : v;
    };

    const textMutations = (text: string): string => {
      switch (int(5)) {
        case 0:
          return text.slice(0, int(text.length));
        case 1: {
          const at = int(text.length);
          return text.slice(0, at) + pick(['{', '}', '"', ',', '\\', '\u0000', ':', '[']) + text.slice(at);
        }
        case 2:
          return text.replace(/"/g, () => (rand() < 0.1 ? "'" : '"'));
        case 3:
          return Buffer.from(Array.from({ length: int(200) }, () => int(256))).toString('latin1');
        default:
          return `${text}${text}`;
      }
    };

    // Objects that must stay intact: created before fuzzing, compared afterwards.
    const sentinel = await server.request('POST', cms, {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sentinel-cm' }, data: { keep: 'me' } },
    });
    assert.equal(sentinel.status, 201, sentinel.text);

    const contentTypes = [
      'application/json',
      'application/yaml',
      'application/merge-patch+json',
      'application/strategic-merge-patch+json',
      'application/json-patch+json',
      'application/apply-patch+yaml',
      'text/plain',
      'application/vnd.kubernetes.protobuf',
    ];
    const total = 2500;
    const statuses = new Map<number, number>();
    let done = 0;
    const worker = async (): Promise<void> => {
      while (done < total) {
        done++;
        const s = pick(seeds);
        const name =
          rand() < 0.7 ? 'fz' : pick(['fz2', 'sentinel-cm', 'a'.repeat(300), 'UP', '..', '%2e%2e']);
        const method = pick(['POST', 'PUT', 'PATCH', 'PATCH', 'POST', 'DELETE']);
        const body = mutate(structuredClone(s.body));
        let text = JSON.stringify(body);
        if (rand() < 0.3) text = textMutations(text);
        if (method === 'PATCH' && rand() < 0.4) {
          text = JSON.stringify(
            Array.from({ length: 1 + int(3) }, () => ({
              op: pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus']),
              path: pick([
                '/data/x',
                '/metadata/name',
                '/metadata',
                '',
                '/spec/containers/0',
                '/spec/containers/-',
                '/kind',
                '/metadata/uid',
              ]),
              from: pick(['/data', '/metadata/labels', '/nope']),
              value: mutate(pick(weird)),
            })),
          );
        }
        const path =
          method === 'POST'
            ? `${s.path}?fieldValidation=${pick(['Strict', 'Warn', 'Ignore', 'Bogus'])}`
            : `${s.path}/${encodeURIComponent(name)}${method === 'PATCH' && rand() < 0.5 ? '?fieldManager=fuzz&force=true' : ''}`;
        const r = await server.request(method, path, {
          body: text,
          contentType: method === 'PATCH' ? pick(contentTypes.slice(2, 6)) : pick(contentTypes),
        });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 500) {
          const id = /request id \\"([^\\]+)\\"/.exec(r.text)?.[1] ?? '';
          const logLine = server
            .output()
            .split('\n')
            .filter((l) => id && l.includes(id))
            .join('\n');
          assert.fail(
            `seed ${seed}: ${method} ${path} answered ${r.status}: ${r.text}\nlog: ${logLine}\nbody: ${text.slice(0, 2000)}`,
          );
        }
        if (r.status >= 400) {
          assert.equal(r.json['kind'], 'Status', `seed ${seed}: ${method} ${path}: ${r.text.slice(0, 500)}`);
          assert.equal(r.json['code'], r.status);
        }
      }
    };
    const startedMs = performance.now();
    await Promise.all(Array.from({ length: 16 }, () => worker()));
    const fuzzMs = performance.now() - startedMs;
    await alive();
    assert.ok(
      (statuses.get(400) ?? 0) > 0 && [...statuses.keys()].some((c) => c < 300),
      `seed ${seed}: ${JSON.stringify([...statuses])}`,
    );
    console.log(
      `fuzz seed ${seed}: ${total} requests in ${Math.round(fuzzMs)} ms, statuses ${JSON.stringify([...statuses].sort())}`,
    );

    // Nothing stored is corrupt: every object of every kind reads back, has its identity and
    // passes its kind's schema.
    for (const def of allKinds()) {
      const base = def.group === '' ? `/api/${def.version}` : `/apis/${def.group}/${def.version}`;
      const list = await server.request('GET', `${base}/${def.plural}`);
      assert.equal(list.status, 200, `${def.plural}: ${list.text.slice(0, 300)}`);
      for (const item of list.json.items ?? []) {
        const meta = item['metadata'] as { name?: string; uid?: string; resourceVersion?: string };
        assert.equal(item['kind'], def.kind);
        assert.ok(meta.name && meta.uid && meta.resourceVersion, `${def.kind} ${JSON.stringify(meta)}`);
        assert.ok(
          matchesSchema(def.schema, item),
          `seed ${seed}: stored ${def.kind} "${meta.name}" breaks its schema: ${JSON.stringify(schemaCauses(def.schema, item))}`,
        );
      }
    }
    const after = await server.request('GET', `${cms}/sentinel-cm`);
    if (after.status === 200)
      assert.equal(
        (after.json['metadata'] as { uid: string }).uid,
        (sentinel.json['metadata'] as { uid: string }).uid,
      );
  });
});
