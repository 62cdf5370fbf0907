/**
 * The OpenAPI documents against the real kubectl: a loopback server answers discovery (built
 * from the kinds) and the v2/v3 documents; kubectl 1.33 and Debian's 1.20 run `explain` and
 * client-side validated `create --dry-run=client` against it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kubectlBinary, runKubectl } from '../testing/kubectl-binaries.js';
import { startKubectlTestServer, type KubectlTestServer } from '../testing/kubectl-test-server.js';

const seed = `apiVersion: v1
kind: Network
metadata:
  name: net2
spec:
  tenantID: 065f210a2ca9442aad898ab129426350
  subnets:
    subnet2:
      cidr: 192.168.0.0/24
      gateway: 192.168.0.1
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns2
spec:
  network: net2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ns2
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        resources:
          limits: {cpu: 1, memory: 128Mi}
      volumes:
      - name: data
        cinder: {volumeID: 651b2a7b, fsType: ext4}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ns2
spec:
  type: NetworkProvider
  externalIPs: [203.0.113.10]
  selector: {app: web}
  ports: [{port: 8078, targetPort: 80}]
`;

let server: KubectlTestServer;
const kubectl = async (version: '1.33' | '1.20', args: string[], check = true) => {
  const r = await runKubectl(
    await kubectlBinary(version),
    server.kubeconfig,
    join(server.dir, `cache-${version}`),
    args,
  );
  if (check && r.code !== 0)
    assert.fail(
      `kubectl ${version} ${args.join(' ')} failed (${r.code}): ${r.err}\n(temp dir ${server.dir})`,
    );
  return r;
};

describe('OpenAPI documents with the real kubectl', () => {
  before(async () => {
    server = await startKubectlTestServer();
    await writeFile(join(server.dir, 'seed.yaml'), seed);
  });

  after(async () => {
    await server.close();
  });

  it('kubectl 1.33 explains core fields and the Network kind from the v3 documents', async () => {
    const pod = await kubectl('1.33', ['explain', 'pods.spec.containers.imagePullPolicy']);
    assert.match(pod.out, /Image pull policy/);
    const containers = await kubectl('1.33', ['explain', 'pods.spec.containers']);
    assert.match(containers.out, /FIELD: containers <\[\]Container>/);
    assert.equal(containers.out.match(/A single application container/g)?.length ?? 0, 1);
    const net = await kubectl('1.33', ['explain', 'networks.spec']);
    assert.match(net.out, /tenantID/);
    assert.match(net.out, /subnets/);
    assert.ok(server.requests.some((r) => r.path.startsWith('/openapi/v3/api/v1')));
  });

  it('kubectl 1.33 creates the seed manifests with default validation', async () => {
    const r = await kubectl('1.33', [
      'create',
      '--dry-run=client',
      '-o',
      'name',
      '-f',
      join(server.dir, 'seed.yaml'),
    ]);
    assert.deepEqual(r.out.trim().split('\n'), [
      'network/net2',
      'namespace/ns2',
      'deployment.apps/web',
      'service/web',
    ]);
  });

  it('kubectl 1.20 explains from the v2 protobuf document', async () => {
    const r = await kubectl('1.20', ['explain', 'pod.spec.containers']);
    assert.match(r.out, /A single application container/);
    const net = await kubectl('1.20', ['explain', 'network.spec.subnets']);
    assert.match(net.out, /Subnets of the network/);
  });

  it('kubectl 1.20 validates manifests client-side against the v2 document', async () => {
    const ok = await kubectl('1.20', [
      'create',
      '--dry-run=client',
      '-o',
      'name',
      '-f',
      join(server.dir, 'seed.yaml'),
    ]);
    assert.deepEqual(ok.out.trim().split('\n'), [
      'network/net2',
      'namespace/ns2',
      'deployment.apps/web',
      'service/web',
    ]);
    await writeFile(
      join(server.dir, 'bad.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - name: x\n    image: busybox\n    imagePullPolicyy: Always\n',
    );
    const bad = await kubectl(
      '1.20',
      ['create', '--dry-run=client', '-f', join(server.dir, 'bad.yaml')],
      false,
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /unknown field "imagePullPolicyy"/);
  });
});
