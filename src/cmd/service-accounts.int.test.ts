/**
 * Service accounts against a real `h8s server` (controllers on, agent off): token requests,
 * service-account bearer tokens, bound-token and uid invalidation, expiry, TokenReview,
 * SelfSubjectReview, the JWKS, the default account and root CA of a new namespace, the
 * ServiceAccount admission plugin, and `kubectl create token` / `kubectl auth whoami` (1.33).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, sign, verify, type JsonWebKey } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { builtinResources, type ApiClient } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { execFile, waitFor } from '../lib/index.js';

let server: TestServer;
let client: ApiClient;
const ns = 'sa-test';

// Replies are read loosely; the assertions check their shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

interface Reply {
  readonly status: number;
  readonly json: Loose;
}

function call(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown } = {},
): Promise<Reply> {
  const { server: base, caPem, token: adminToken } = server.credentials;
  const token = options.token === undefined ? adminToken : options.token;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      {
        method,
        ...(caPem ? { ca: caPem } : {}),
        headers: {
          Accept: 'application/json',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function requestToken(
  name: string,
  spec: Record<string, unknown> = {},
  namespace = ns,
): Promise<Reply> {
  return call('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec },
  });
}

async function tokenFor(name: string, spec: Record<string, unknown> = {}): Promise<string> {
  const r = await requestToken(name, spec);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json['status'].token as string;
}

function whoami(token: string): Promise<Reply> {
  return call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    token,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
}

function review(token: string, audiences?: string[]): Promise<Reply> {
  return call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } },
  });
}

function claimsOf(token: string): Loose {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** A JWS signed as the server signs (ES256, kid = base64url SHA-256 of the public key DER). */
function signEs256(pem: string, claims: Record<string, unknown>): string {
  const key = createPrivateKey(pem);
  const kid = createHash('sha256')
    .update(createPublicKey(key).export({ type: 'spki', format: 'der' }))
    .digest('base64url');
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ alg: 'ES256', kid })}.${part(claims)}`;
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

function pod(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
  };
}

async function createPod(body: Record<string, unknown>): Promise<Reply> {
  return call('POST', `/api/v1/namespaces/${ns}/pods`, { body });
}

async function kubectl133(): Promise<string> {
  const r = await execFile(['sh', '-c', 'command -v kubectl'], { check: false });
  const dispatcher = r.stdout.trim();
  assert.ok(dispatcher, 'kubectl is not on PATH');
  return join(dirname(await realpath(dispatcher)), 'kubectl.1.33');
}

before(async () => {
  server = await startTestServer();
  client = server.client;
  await client
    .resource(builtinResources.namespaces)
    .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await waitFor(async () => await client.resource(builtinResources.serviceAccounts, ns).find('default'), {
    timeoutMs: 30_000,
    description: `${ns}/default service account`,
  });
});

after(async () => {
  await server?.cleanup();
});

describe('service accounts', () => {
  it('a new namespace gets the default service account and the kube-root-ca.crt ConfigMap', async () => {
    const cm = await waitFor(
      async () => await client.resource(builtinResources.configMaps, ns).find('kube-root-ca.crt'),
      { timeoutMs: 30_000, description: 'kube-root-ca.crt' },
    );
    assert.equal((cm as { data?: Record<string, string> }).data?.['ca.crt'], server.credentials.caPem);
    const configMaps = client.resource(builtinResources.configMaps, ns);
    await configMaps.update({ ...cm, data: { 'ca.crt': 'tampered' } });
    const caOf = async () =>
      ((await configMaps.find('kube-root-ca.crt')) as { data?: Record<string, string> } | undefined)?.data?.[
        'ca.crt'
      ];
    await waitFor(async () => (await caOf()) === server.credentials.caPem, {
      timeoutMs: 20_000,
      description: 'kube-root-ca.crt restored',
    });
    await configMaps.delete('kube-root-ca.crt');
    await waitFor(async () => (await caOf()) === server.credentials.caPem, {
      timeoutMs: 20_000,
      description: 'kube-root-ca.crt recreated',
    });
  });

  it('a requested token authenticates as the service account', async () => {
    const r = await requestToken('default');
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json['kind'], 'TokenRequest');
    const expiresMs = Date.parse(r.json['status'].expirationTimestamp as string);
    assert.ok(Math.abs(expiresMs - Date.now() - 3600_000) < 60_000, 'expires in an hour by default');
    const token = r.json['status'].token as string;
    const me = await whoami(token);
    assert.equal(me.status, 201, JSON.stringify(me.json));
    const sa = await client.resource(builtinResources.serviceAccounts, ns).get('default');
    assert.deepEqual(me.json['status'].userInfo, {
      username: `system:serviceaccount:${ns}:default`,
      uid: sa.metadata.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
      extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${claimsOf(token)['jti'] as string}`] },
    });
    const list = await call('GET', `/api/v1/namespaces/${ns}/serviceaccounts`, { token });
    assert.equal(list.status, 200);
    const claims = claimsOf(token);
    assert.equal(claims['iss'], 'https://kubernetes.default.svc.cluster.local');
    assert.deepEqual(claims['aud'], ['https://kubernetes.default.svc.cluster.local']);
    assert.equal(claims['sub'], `system:serviceaccount:${ns}:default`);
    assert.deepEqual(claims['kubernetes.io'], {
      namespace: ns,
      serviceaccount: { name: 'default', uid: sa.metadata.uid },
    });
    assert.equal(claims['exp'] - claims['iat'], 3600);
    assert.equal(claims['nbf'], claims['iat']);
  });

  it('the JWKS, readable without a credential, verifies the token signature', async () => {
    const token = await tokenFor('default');
    const oidc = await call('GET', '/.well-known/openid-configuration', { token: null });
    assert.equal(oidc.status, 200);
    assert.equal(oidc.json['issuer'], 'https://kubernetes.default.svc.cluster.local');
    assert.equal(oidc.json['jwks_uri'], 'https://kubernetes.default.svc.cluster.local/openid/v1/jwks');
    const jwks = await call('GET', '/openid/v1/jwks', { token: null });
    assert.equal(jwks.status, 200);
    const [h, p, s] = token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg: string; kid: string };
    assert.equal(header.alg, 'ES256');
    const jwk = (jwks.json['keys'] as (JsonWebKey & { kid: string })[]).find((k) => k.kid === header.kid);
    assert.ok(jwk, 'the JWKS has the token kid');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    assert.ok(
      verify(
        'sha256',
        Buffer.from(`${h}.${p}`),
        { key, dsaEncoding: 'ieee-p1363' },
        Buffer.from(s, 'base64url'),
      ),
    );
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claimsOf(token), sub: 'system:serviceaccount:kube-system:default' })).toString('base64url')}.${s}`;
    assert.equal((await whoami(tampered)).status, 401);
  });

  it('TokenReview answers for good, bad and wrong-audience tokens', async () => {
    const token = await tokenFor('default', { audiences: ['vault'] });
    const good = await review(token, ['vault']);
    assert.equal(good.status, 201);
    assert.equal(good.json['status'].authenticated, true);
    assert.equal(good.json['status'].user.username, `system:serviceaccount:${ns}:default`);
    assert.deepEqual(good.json['status'].audiences, ['vault']);
    const wrongAudience = await review(token);
    assert.equal(wrongAudience.json['status'].authenticated, undefined);
    assert.match(wrongAudience.json['status'].error as string, /audiences/);
    // A token for another audience does not authenticate to the API server.
    assert.equal((await whoami(token)).status, 401);
    const bad = await review('not-a-token');
    assert.equal(bad.json['status'].authenticated, undefined);
    assert.match(bad.json['status'].error as string, /invalid bearer token/);
  });

  it('a token bound to a pod stops working once the pod is deleted', async () => {
    const created = await createPod(pod('bound'));
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const token = await tokenFor('default', {
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'bound' },
    });
    const claims = claimsOf(token);
    assert.deepEqual(claims['kubernetes.io'].pod, { name: 'bound', uid: created.json['metadata'].uid });
    const me = await whoami(token);
    assert.equal(me.status, 201);
    assert.deepEqual(me.json['status'].userInfo.extra['authentication.kubernetes.io/pod-name'], ['bound']);
    await client.resource(builtinResources.pods, ns).delete('bound', { gracePeriodSeconds: 0 });
    await waitFor(async () => (await whoami(token)).status === 401, {
      timeoutMs: 10_000,
      description: 'the bound token refused',
    });
    assert.match((await review(token)).json['status'].error as string, /invalidated/);
    // Binding to a pod that does not exist is a 404.
    const missing = await requestToken('default', {
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'bound' },
    });
    assert.equal(missing.status, 404);
  });

  it('a token bound to a node stops working once the node is deleted', async () => {
    const nodes = client.resource(builtinResources.nodes);
    const node = await nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'sa-node' } });
    const token = await tokenFor('default', {
      boundObjectRef: { apiVersion: 'v1', kind: 'Node', name: 'sa-node' },
    });
    assert.deepEqual(claimsOf(token)['kubernetes.io'].node, { name: 'sa-node', uid: node.metadata.uid });
    const me = await whoami(token);
    assert.equal(me.status, 201);
    assert.deepEqual(me.json['status'].userInfo.extra['authentication.kubernetes.io/node-name'], ['sa-node']);
    await nodes.delete('sa-node');
    await waitFor(async () => (await whoami(token)).status === 401, {
      timeoutMs: 10_000,
      description: 'the node-bound token refused',
    });
    const other = await requestToken('default', {
      boundObjectRef: { apiVersion: 'v1', kind: 'ConfigMap', name: 'x' },
    });
    assert.equal(other.status, 400);
  });

  it('a token stops working when its service account is deleted and recreated', async () => {
    const accounts = client.resource(builtinResources.serviceAccounts, ns);
    await accounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
    const token = await tokenFor('robot');
    assert.equal((await whoami(token)).status, 201);
    await accounts.delete('robot');
    await accounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
    await waitFor(async () => (await whoami(token)).status === 401, {
      timeoutMs: 10_000,
      description: 'the old token refused',
    });
    assert.equal((await whoami(await tokenFor('robot'))).status, 201);
  });

  it('an expired token is refused', async () => {
    const pem = await readFile(join(server.dataDir, 'server', 'tls', 'service-account.key'), 'utf8');
    const sa = await client.resource(builtinResources.serviceAccounts, ns).get('default');
    const nowS = Math.floor(Date.now() / 1000);
    const token = signEs256(pem, {
      aud: ['https://kubernetes.default.svc.cluster.local'],
      exp: nowS - 120,
      iat: nowS - 720,
      nbf: nowS - 720,
      iss: 'https://kubernetes.default.svc.cluster.local',
      jti: 'x',
      sub: `system:serviceaccount:${ns}:default`,
      'kubernetes.io': { namespace: ns, serviceaccount: { name: 'default', uid: sa.metadata.uid } },
    });
    const r = await whoami(token);
    assert.equal(r.status, 401);
    assert.equal(r.json['kind'], 'Status');
    assert.equal(r.json['reason'], 'Unauthorized');
    assert.match((await review(token)).json['status'].error as string, /expired/);
  });

  it('token requests: 404 for a missing account, 422 below ten minutes, long ones shortened', async () => {
    const missing = await requestToken('nobody');
    assert.equal(missing.status, 404);
    assert.equal(missing.json['message'], 'serviceaccounts "nobody" not found');
    const short = await requestToken('default', { expirationSeconds: 60 });
    assert.equal(short.status, 422);
    assert.match(short.json['message'] as string, /may not specify a duration less than 10 minutes/);
    const long = await requestToken('default', { expirationSeconds: 365 * 24 * 3600 });
    assert.equal(long.status, 201);
    assert.equal(long.json['spec'].expirationSeconds, 48 * 3600);
  });

  it('pod admission sets the default account and mounts the token volume in every container', async () => {
    const r = await createPod(
      pod('mounted', {
        initContainers: [{ name: 'init', image: 'busybox' }],
        containers: [
          { name: 'a', image: 'busybox' },
          {
            name: 'b',
            image: 'busybox',
            volumeMounts: [{ name: 'own', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
          },
        ],
        volumes: [{ name: 'own', emptyDir: {} }],
      }),
    );
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const spec = r.json['spec'];
    assert.equal(spec.serviceAccountName, 'default');
    const volume = (spec.volumes as { name: string }[]).find((v) => v.name.startsWith('kube-api-access-'));
    assert.ok(volume, 'the token volume');
    assert.match(volume.name, /^kube-api-access-[a-z0-9]{5}$/);
    assert.deepEqual((volume as Record<string, unknown>)['projected'], {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    });
    const mount = {
      name: volume.name,
      readOnly: true,
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
    };
    assert.deepEqual(spec.initContainers[0].volumeMounts, [mount]);
    assert.deepEqual(spec.containers[0].volumeMounts, [mount]);
    // A container with its own mount at the path keeps it.
    assert.deepEqual(spec.containers[1].volumeMounts, [
      { name: 'own', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
    ]);
  });

  it('a pod naming a missing service account is refused', async () => {
    const r = await createPod(pod('orphan', { serviceAccountName: 'ghost' }));
    assert.equal(r.status, 403);
    assert.equal(
      r.json['message'],
      `pods "orphan" is forbidden: error looking up service account ${ns}/ghost: serviceaccount "ghost" not found`,
    );
  });

  it('automountServiceAccountToken false on the pod or the account is honoured', async () => {
    const noVolume = (r: Reply) =>
      !(r.json['spec'].volumes ?? []).some((v: { name: string }) => v.name.startsWith('kube-api-access-'));
    const byPod = await createPod(pod('no-mount', { automountServiceAccountToken: false }));
    assert.equal(byPod.status, 201);
    assert.ok(noVolume(byPod));
    assert.equal(byPod.json['spec'].containers[0].volumeMounts, undefined);
    await client.resource(builtinResources.serviceAccounts, ns).create({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'quiet' },
      automountServiceAccountToken: false,
    });
    const bySa = await createPod(pod('quiet', { serviceAccountName: 'quiet' }));
    assert.equal(bySa.status, 201);
    assert.ok(noVolume(bySa));
    const podWins = await createPod(
      pod('loud', { serviceAccountName: 'quiet', automountServiceAccountToken: true }),
    );
    assert.equal(podWins.status, 201);
    assert.ok(!noVolume(podWins));
  });

  it('discovery lists tokenreviews, selfsubjectreviews and serviceaccounts/token', async () => {
    const group = await call('GET', '/apis/authentication.k8s.io/v1');
    assert.equal(group.status, 200);
    const names = (group.json['resources'] as { name: string }[]).map((r) => r.name).sort();
    assert.deepEqual(names, ['selfsubjectreviews', 'tokenreviews']);
    const core = await call('GET', '/api/v1');
    const token = (core.json['resources'] as { name: string; kind: string; group?: string }[]).find(
      (r) => r.name === 'serviceaccounts/token',
    );
    assert.deepEqual(token && { kind: token.kind, group: token.group }, {
      kind: 'TokenRequest',
      group: 'authentication.k8s.io',
    });
  });

  it('kubectl 1.33 create token and auth whoami work', async () => {
    const kubectl = await kubectl133();
    const base = [kubectl, '--kubeconfig', server.kubeconfigPath, '-n', ns];
    const created = await createPod(pod('kubectl-bound'));
    assert.equal(created.status, 201);
    const out = await execFile([
      ...base,
      'create',
      'token',
      'default',
      '--duration',
      '20m',
      '--audience',
      'api',
      '--audience',
      'https://kubernetes.default.svc.cluster.local',
    ]);
    const token = out.stdout.trim();
    const claims = claimsOf(token);
    assert.equal(claims['exp'] - claims['iat'], 1200);
    assert.deepEqual(claims['aud'], ['api', 'https://kubernetes.default.svc.cluster.local']);
    const who = await execFile([...base, 'auth', 'whoami', '--token', token, '-o', 'json']);
    assert.equal(
      (JSON.parse(who.stdout) as { status: { userInfo: { username: string } } }).status.userInfo.username,
      `system:serviceaccount:${ns}:default`,
    );
    await execFile([...base, 'get', 'pods', '--token', token]);
    const bound = await execFile([
      ...base,
      'create',
      'token',
      'default',
      '--bound-object-kind',
      'Pod',
      '--bound-object-name',
      'kubectl-bound',
    ]);
    assert.deepEqual(claimsOf(bound.stdout.trim())['kubernetes.io'].pod, {
      name: 'kubectl-bound',
      uid: created.json['metadata'].uid,
    });
    const missing = await execFile([...base, 'create', 'token', 'nobody'], { check: false });
    assert.notEqual(missing.exitCode, 0);
    assert.match(missing.stderr, /serviceaccounts "nobody" not found/);
  });
});
