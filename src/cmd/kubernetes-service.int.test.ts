/**
 * A real `h8s server` keeps the `kubernetes` Service, its Endpoints and EndpointSlice, and
 * kubectl sees the cluster IPs Services get (`kubectl create service`, `kubectl expose`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinResources } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/testing/test-server.js';
import { kubectlBinary, runKubectl } from '../api/testing/kubectl-binaries.js';
import { nullLogger, waitFor } from '../lib/index.js';
import type { KubeObject } from '../api/index.js';
import { ensureKubernetesService } from './kubernetes-service.js';

type Obj = KubeObject & Record<string, unknown>;

let server: TestServer | undefined;
let cacheDir = '';
before(async () => {
  server = await startTestServer({
    extraArgs: ['--service-cidr', '10.96.0.0/24', '--advertise-address', '127.0.0.1'],
  });
  cacheDir = await mkdtemp(join(tmpdir(), 'h8s-kubectl-cache-'));
});
after(async () => {
  if (server) {
    if (process.exitCode) console.error(`data dir ${server.dataDir}\n${server.output().slice(-4000)}`);
    await server.cleanup();
  }
  await rm(cacheDir, { recursive: true, force: true });
});

describe('the kubernetes Service', () => {
  it('exists with the first address of the service CIDR, port 443 to the server', async () => {
    if (!server) throw new Error('the server did not start');
    const client = server.client;
    const port = server.port;
    const svc = await waitFor(
      () => client.resource<Obj>(builtinResources.services, 'default').find('kubernetes'),
      { timeoutMs: 15_000, description: 'the kubernetes Service' },
    );
    const spec = svc['spec'] as { clusterIP: string; ports: Record<string, unknown>[] };
    assert.equal(spec.clusterIP, '10.96.0.1');
    assert.deepEqual(spec.ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }]);
    const ep = await waitFor(
      () => client.resource<Obj>(builtinResources.endpoints, 'default').find('kubernetes'),
      { timeoutMs: 15_000, description: 'the kubernetes Endpoints' },
    );
    assert.deepEqual(ep['subsets'], [
      { addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port, protocol: 'TCP' }] },
    ]);
    const slice = await waitFor(
      () => client.resource<Obj>(builtinResources.endpointSlices, 'default').find('kubernetes'),
      { timeoutMs: 15_000, description: 'the kubernetes EndpointSlice' },
    );
    assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'kubernetes');
    assert.equal(slice['addressType'], 'IPv4');
    assert.deepEqual((slice['endpoints'] as { addresses: string[] }[])[0]?.addresses, ['127.0.0.1']);

    // What a user breaks, the next reconcile puts back.
    await client.resource(builtinResources.endpoints, 'default').delete('kubernetes');
    await client.resource(builtinResources.endpointSlices, 'default').delete('kubernetes');
    await ensureKubernetesService(
      client,
      { clusterIp: '10.96.0.1', port, advertiseAddress: '127.0.0.1' },
      nullLogger,
    );
    assert.ok(await client.resource(builtinResources.endpoints, 'default').find('kubernetes'));
    assert.ok(await client.resource(builtinResources.endpointSlices, 'default').find('kubernetes'));
  });

  it('shows kubectl the cluster IPs of created and exposed Services', async () => {
    if (!server) throw new Error('the server did not start');
    const kubectl = await kubectlBinary('1.33');
    const run = (args: string[]) => runKubectl(kubectl, server?.kubeconfigPath ?? '', cacheDir, args);
    const created = await run(['create', 'service', 'clusterip', 'web', '--tcp=80:8080']);
    assert.equal(created.code, 0, created.err);
    const got = await run(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}']);
    assert.equal(got.code, 0, got.err);
    assert.match(got.out.trim(), /^10\.96\.0\.\d+$/);
    assert.notEqual(got.out.trim(), '10.96.0.1');

    const np = await run(['create', 'service', 'nodeport', 'edge', '--tcp=80:8080', '--node-port=30080']);
    assert.equal(np.code, 0, np.err);
    const table = await run(['get', 'service', 'edge']);
    assert.match(table.out, /edge\s+NodePort\s+10\.96\.0\.\d+\s+<none>\s+80:30080\/TCP/);
    const taken = await run(['create', 'service', 'nodeport', 'edge2', '--tcp=80:8080', '--node-port=30080']);
    assert.notEqual(taken.code, 0);
    assert.match(taken.err, /provided port is already allocated/);

    const deploy = await run(['create', 'deployment', 'app', '--image=busybox', '--port=8080']);
    assert.equal(deploy.code, 0, deploy.err);
    const exposed = await run(['expose', 'deployment', 'app', '--port=80', '--target-port=8080']);
    assert.equal(exposed.code, 0, exposed.err);
    const ip = await run(['get', 'service', 'app', '-o', 'jsonpath={.spec.clusterIP}']);
    assert.match(ip.out.trim(), /^10\.96\.0\.\d+$/);
  });
});
