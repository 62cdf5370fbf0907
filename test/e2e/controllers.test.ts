/**
 * Namespace deletion and ownerReference cascades, end to end: a real `h8s server`
 * (control plane only), the real kubectl 1.33, and the server's own controllers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFile, findExecutable, waitFor, type ExecResult } from '../../src/lib/index.js';
import type { KubeObject, OwnerReference } from '../../src/api/index.js';
import { builtinResources, type ApiClient, type ResourceRef } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../../src/client/testing/test-server.js';

let server: TestServer;
let client: ApiClient;
let kubectlBin: string;
let cacheDir: string;

async function kubectl(args: readonly string[], input?: string): Promise<ExecResult> {
  return execFile([kubectlBin, '--kubeconfig', server.kubeconfigPath, '--cache-dir', cacheDir, ...args], {
    check: false,
    timeoutMs: 90_000,
    ...(input !== undefined ? { input } : {}),
  });
}

async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.exitCode, 0, `kubectl ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

before(async () => {
  const dispatcher = await findExecutable('kubectl');
  if (!dispatcher)
    throw new Error('kubectl is not on PATH; the e2e tests need the versioned kubectl binaries');
  kubectlBin = join(dirname(await realpath(dispatcher)), 'kubectl.1.33');
  if (!(await findExecutable(kubectlBin)))
    throw new Error(`${kubectlBin} is missing; the e2e tests need kubectl 1.33`);
  cacheDir = await mkdtemp(join(tmpdir(), 'h8s-e2e-kubectl-'));
  server = await startTestServer();
  client = server.client;
});

after(async () => {
  if (server) {
    if (process.exitCode)
      console.error(`data dir ${server.dataDir}\n--- server output ---\n${server.output().slice(-8000)}`);
    await server.cleanup();
  }
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

const deploymentYaml = (ns: string, name: string): string => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec:
  replicas: 0
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: c, image: busybox}]
`;

function ownerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

interface Tree {
  readonly deployment: KubeObject;
  readonly replicaSet: KubeObject;
  readonly pods: KubeObject[];
}

/**
 * A ReplicaSet owned by the Deployment `name`, owning two Pods, made by hand (no deployment
 * controller exists yet). The references block owner deletion but are not controller
 * references, and the labels match no selector, so workload controllers (when they come) leave
 * these objects alone and the tests keep checking only the garbage collector.
 */
async function makeTree(ns: string, name: string, podFinalizers: readonly string[] = []): Promise<Tree> {
  const deployment = await client.resource(builtinResources.deployments, ns).get(name);
  const replicaSet = await client.resource(builtinResources.replicaSets, ns).create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `${name}-rs`, labels: { tree: name }, ownerReferences: [dependentRef(deployment)] },
    spec: {
      replicas: 0,
      selector: { matchLabels: { tree: name, part: 'rs' } },
      template: {
        metadata: { labels: { tree: name, part: 'rs' } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  });
  const pods: KubeObject[] = [];
  for (const i of [1, 2]) {
    pods.push(
      await client.resource(builtinResources.pods, ns).create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${name}-pod-${i}`,
          labels: { tree: name },
          ownerReferences: [dependentRef(replicaSet)],
          ...(i === 1 && podFinalizers.length > 0 ? { finalizers: [...podFinalizers] } : {}),
        },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      }),
    );
  }
  return { deployment, replicaSet, pods };
}

/** A blocking, non-controller reference (see makeTree). */
function dependentRef(owner: KubeObject): OwnerReference {
  return { ...ownerRef(owner), controller: false };
}

/** Applies the Deployment `name` with kubectl, then builds its tree. */
async function applyTree(ns: string, name: string, podFinalizers: readonly string[] = []): Promise<Tree> {
  await kubectlOk(['apply', '-f', '-'], deploymentYaml(ns, name));
  return makeTree(ns, name, podFinalizers);
}

async function find(ref: ResourceRef, ns: string | undefined, name: string): Promise<KubeObject | undefined> {
  return client.resource(ref, ns).find(name);
}

async function ensureNamespace(name: string): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`);
}

describe('ownerReference cascades with kubectl delete --cascade', () => {
  const ns = 'cascade';
  before(async () => ensureNamespace(ns));

  it('background: the deployment goes at once, then its replicaset and pods', async () => {
    const tree = await applyTree(ns, 'bg');
    await kubectlOk(['delete', 'deployment', 'bg', '-n', ns, '--cascade=background']);
    assert.equal(await find(builtinResources.deployments, ns, 'bg'), undefined);
    await waitFor(
      async () => {
        const left = await Promise.all([
          find(builtinResources.replicaSets, ns, 'bg-rs'),
          ...tree.pods.map((p) => find(builtinResources.pods, ns, p.metadata.name ?? '')),
        ]);
        return left.every((o) => o === undefined);
      },
      { timeoutMs: 30_000, description: 'the replicaset and pods of "bg" to be collected' },
    );
  });

  it('foreground: kubectl returns once the deployment is gone, and by then its dependents are gone', async () => {
    await applyTree(ns, 'fg');
    await kubectlOk(['delete', 'deployment', 'fg', '-n', ns, '--cascade=foreground', '--timeout=60s']);
    assert.equal(await find(builtinResources.deployments, ns, 'fg'), undefined);
    assert.equal(
      await find(builtinResources.replicaSets, ns, 'fg-rs'),
      undefined,
      'the blocking replicaset went first',
    );
    assert.equal(
      await find(builtinResources.pods, ns, 'fg-pod-1'),
      undefined,
      'the blocking pods went first',
    );
    assert.equal(await find(builtinResources.pods, ns, 'fg-pod-2'), undefined);
  });

  it('foreground: the owners wait, marked for deletion, while a dependent is held by a finalizer', async () => {
    await applyTree(ns, 'hold', ['e2e.h8s.io/hold']);
    await kubectlOk(['delete', 'deployment', 'hold', '-n', ns, '--cascade=foreground', '--wait=false']);
    await waitFor(
      async () => {
        const rs = await find(builtinResources.replicaSets, ns, 'hold-rs');
        const pod1 = await find(builtinResources.pods, ns, 'hold-pod-1');
        const pod2 = await find(builtinResources.pods, ns, 'hold-pod-2');
        return (
          rs?.metadata.deletionTimestamp !== undefined &&
          pod1?.metadata.deletionTimestamp !== undefined &&
          pod2 === undefined
        );
      },
      { timeoutMs: 30_000, description: 'the replicaset to be deleted in foreground and the free pod to go' },
    );
    const deployment = await find(builtinResources.deployments, ns, 'hold');
    assert.ok(deployment?.metadata.deletionTimestamp, 'the deployment is still there, being deleted');
    assert.deepEqual(deployment?.metadata.finalizers, ['foregroundDeletion']);
    const rs = await find(builtinResources.replicaSets, ns, 'hold-rs');
    assert.deepEqual(
      rs?.metadata.finalizers,
      ['foregroundDeletion'],
      'the replicaset has dependents, so it is deleted in foreground too',
    );

    await kubectlOk([
      'patch',
      'pod',
      'hold-pod-1',
      '-n',
      ns,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    ]);
    await kubectlOk(['wait', '--for=delete', 'deployment/hold', '-n', ns, '--timeout=60s']);
    assert.equal(await find(builtinResources.replicaSets, ns, 'hold-rs'), undefined);
    assert.equal(await find(builtinResources.pods, ns, 'hold-pod-1'), undefined);
  });

  it('orphan: the deployment goes, its replicaset stays without owner, the pods stay with theirs', async () => {
    const tree = await applyTree(ns, 'orph');
    await kubectlOk(['delete', 'deployment', 'orph', '-n', ns, '--cascade=orphan', '--timeout=60s']);
    assert.equal(await find(builtinResources.deployments, ns, 'orph'), undefined);
    // A sync point: a dependent of an owner that never existed is collected after the orphaning,
    // so by then the collector has had every chance to (wrongly) take the orphans too.
    await client.resource(builtinResources.configMaps, ns).create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'orph-marker',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'never',
            uid: '00000000-0000-0000-0000-000000000001',
          },
        ],
      },
    });
    await waitFor(async () => (await find(builtinResources.configMaps, ns, 'orph-marker')) === undefined, {
      timeoutMs: 30_000,
      description: 'the marker with a dangling owner to be collected',
    });
    const rs = await find(builtinResources.replicaSets, ns, 'orph-rs');
    assert.ok(rs, 'the replicaset survives');
    assert.deepEqual(rs.metadata.ownerReferences ?? [], [], 'and no longer names the deployment');
    assert.equal(rs.metadata.deletionTimestamp, undefined);
    for (const pod of tree.pods) {
      const live = await find(builtinResources.pods, ns, pod.metadata.name ?? '');
      assert.ok(live, `pod ${pod.metadata.name} survives`);
      assert.equal(live.metadata.ownerReferences?.[0]?.uid, tree.replicaSet.metadata.uid);
    }
  });
});

describe('garbage collection edge cases', () => {
  const ns = 'gc-edges';
  before(async () => {
    await ensureNamespace(ns);
    await ensureNamespace(`${ns}-other`);
  });

  const cm = (name: string, refs: OwnerReference[], namespace = ns): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, ownerReferences: refs },
  });

  it('drops the reference to a gone owner but keeps a dependent that still has another owner', async () => {
    const cms = client.resource(builtinResources.configMaps, ns);
    const a = await cms.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner-a' } });
    const b = await cms.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner-b' } });
    await cms.create(cm('two-owners', [ownerRef(a), { ...ownerRef(b), controller: false }]));
    await cms.delete('owner-a');
    await waitFor(async () => (await cms.get('two-owners')).metadata.ownerReferences?.length === 1, {
      timeoutMs: 30_000,
      description: 'the reference to the deleted owner to be removed',
    });
    const left = await cms.get('two-owners');
    assert.equal(left.metadata.ownerReferences?.[0]?.uid, b.metadata.uid);
    assert.equal(left.metadata.deletionTimestamp, undefined);
  });

  it('collects dependents of a cluster-scoped owner', async () => {
    await ensureNamespace('gc-owner-ns');
    const owner = await client.resource(builtinResources.namespaces).get('gc-owner-ns');
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create(cm('owned-by-namespace', [{ ...ownerRef(owner), blockOwnerDeletion: false }]));
    // Still owned: nothing happens while the owner lives.
    await cms.create(
      cm('gc-sync-1', [
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'never', uid: '00000000-0000-0000-0000-000000000002' },
      ]),
    );
    await waitFor(async () => (await cms.find('gc-sync-1')) === undefined, {
      timeoutMs: 30_000,
      description: 'a sync marker to go',
    });
    assert.ok(await cms.find('owned-by-namespace'));
    await kubectlOk(['delete', 'namespace', 'gc-owner-ns', '--timeout=60s']);
    await waitFor(async () => (await cms.find('owned-by-namespace')) === undefined, {
      timeoutMs: 30_000,
      description: 'the dependent of the deleted namespace to be collected',
    });
  });

  it('treats an owner in another namespace as absent and reports it', async () => {
    const otherNs = `${ns}-other`;
    const foreign = await client
      .resource(builtinResources.configMaps, otherNs)
      .create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'foreign-owner' } });
    const cms = client.resource(builtinResources.configMaps, ns);
    await cms.create(cm('cross-ns', [ownerRef(foreign)]));
    await waitFor(async () => (await cms.find('cross-ns')) === undefined, {
      timeoutMs: 30_000,
      description: 'the dependent naming an owner in another namespace to be collected',
    });
    assert.ok(
      await client.resource(builtinResources.configMaps, otherNs).find('foreign-owner'),
      'the other namespace is untouched',
    );
    await waitFor(
      async () => {
        const events = await client.resource(builtinResources.events, ns).list();
        return events.items.some((e) => e['reason'] === 'OwnerRefInvalidNamespace');
      },
      { timeoutMs: 30_000, description: 'an OwnerRefInvalidNamespace event' },
    );
  });

  it('leaves alone a cluster-scoped object that names a namespaced owner', async () => {
    const owner = await client
      .resource(builtinResources.configMaps, ns)
      .create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ns-owner' } });
    await client.resource(builtinResources.namespaces).create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'gc-cluster-dependent',
        ownerReferences: [{ ...ownerRef(owner), blockOwnerDeletion: false }],
      },
    });
    await waitFor(
      async () => {
        const events = await client.resource(builtinResources.events, 'default').list();
        return events.items.some(
          (e) =>
            e['reason'] === 'OwnerRefInvalidNamespace' &&
            (e['involvedObject'] as { name?: string }).name === 'gc-cluster-dependent',
        );
      },
      { timeoutMs: 30_000, description: 'the invalid reference to be reported' },
    );
    const live = await client.resource(builtinResources.namespaces).get('gc-cluster-dependent');
    assert.equal(live.metadata.deletionTimestamp, undefined, 'not collected');
  });
});

describe('namespace deletion', () => {
  const ns = 'doomed';

  it('deletes everything in the namespace, reports what holds it, then the namespace itself', async () => {
    await kubectlOk(
      ['apply', '-f', '-'],
      [
        `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}`,
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ${ns}}\ndata: {a: "1"}`,
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: ${ns}, finalizers: [e2e.h8s.io/hold]}`,
        `apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: ${ns}}\nstringData: {password: hunter2}`,
        `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ${ns}}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]`,
        deploymentYaml(ns, 'web'),
      ].join('\n---\n'),
    );
    await makeTree(ns, 'web');
    await kubectlOk(['delete', 'namespace', ns, '--wait=false']);

    // Everything but the held configmap goes; the namespace says why it is still there.
    await waitFor(
      async () => {
        const nsObj = await client.resource(builtinResources.namespaces).get(ns);
        const conditions =
          (
            nsObj['status'] as
              { conditions?: { type: string; status: string; message?: string }[] } | undefined
          )?.conditions ?? [];
        const remaining = conditions.find((c) => c.type === 'NamespaceContentRemaining');
        const finalizers = conditions.find((c) => c.type === 'NamespaceFinalizersRemaining');
        return (
          remaining?.status === 'True' &&
          remaining.message === 'Some resources are remaining: configmaps. has 1 resource instances' &&
          finalizers?.status === 'True' &&
          finalizers.message ===
            'Some content in the namespace has finalizers remaining: e2e.h8s.io/hold in 1 resource instances'
        );
      },
      { timeoutMs: 60_000, description: 'the namespace to report the held configmap' },
    );
    const status = await kubectlOk(['get', 'namespace', ns, '-o', 'jsonpath={.status.phase}']);
    assert.equal(status, 'Terminating');
    for (const [ref, name] of [
      [builtinResources.configMaps, 'settings'],
      [builtinResources.secrets, 'creds'],
      [builtinResources.services, 'web'],
      [builtinResources.deployments, 'web'],
      [builtinResources.replicaSets, 'web-rs'],
      [builtinResources.pods, 'web-pod-1'],
      [builtinResources.pods, 'web-pod-2'],
    ] as const) {
      assert.equal(await find(ref, ns, name), undefined, `${ref.plural}/${name} is gone`);
    }

    await kubectlOk([
      'patch',
      'configmap',
      'held',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
    await kubectlOk(['wait', '--for=delete', `namespace/${ns}`, '--timeout=60s']);
    const gone = await kubectl(['get', 'namespace', ns]);
    assert.equal(gone.exitCode, 1);
    assert.match(gone.stderr, /NotFound/);
    const leftovers = await client
      .resource(builtinResources.configMaps, ns)
      .list()
      .catch(() => ({ items: [] }));
    assert.deepEqual(leftovers.items, []);
  });
});
