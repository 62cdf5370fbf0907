/**
 * The endpoints controller against a real `h8s server`: Endpoints and EndpointSlices follow the
 * selected pods' addresses and readiness, resolve named target ports per pod, and disappear
 * with their Service.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/index.js';
import { builtinResources, type ApiClient } from '../../client/index.js';
import { startTestServer, type TestServer } from '../../client/testing/test-server.js';
import { createMemoryLogger, waitFor } from '../../lib/index.js';
import { createEndpointsController } from './endpoints-controller.js';

let server: TestServer;
let client: ApiClient;
const stop = new AbortController();
let running: Promise<void>;
const { log, records } = createMemoryLogger('info');
type Obj = KubeObject & Record<string, unknown>;

before(async () => {
  server = await startTestServer({ disable: 'agent,runtime,controllers,scheduler' });
  client = server.client;
  running = createEndpointsController({ client, log }).run(stop.signal);
  await client
    .resource(builtinResources.namespaces)
    .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ep' } });
});

after(async () => {
  stop.abort();
  await running;
  if (process.exitCode) console.error(records.map((r) => JSON.stringify(r)).join('\n'));
  await server?.cleanup();
});

async function pod(name: string, ip: string, ready: boolean, portName = 'http', port = 8080): Promise<void> {
  const pods = client.resource<Obj>(builtinResources.pods, 'ep');
  await pods.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ep', labels: { app: 'web' } },
    spec: {
      nodeName: 'n1',
      containers: [{ name: 'c', image: 'busybox', ports: [{ name: portName, containerPort: port }] }],
    },
  });
  await setReady(name, ip, ready);
}

async function setReady(name: string, ip: string, ready: boolean): Promise<void> {
  await client.resource<Obj>(builtinResources.pods, 'ep').patch(
    name,
    {
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      },
    },
    { type: 'merge', subresource: 'status' },
  );
}

async function endpoints(): Promise<Obj | undefined> {
  return client.resource<Obj>(builtinResources.endpoints, 'ep').find('web');
}

async function slices(): Promise<Obj[]> {
  return (
    await client
      .resource<Obj>(builtinResources.endpointSlices, 'ep')
      .list({ labelSelector: 'kubernetes.io/service-name=web' })
  ).items;
}

describe('endpoints controller', () => {
  it('publishes ready and not-ready pods, with named target ports resolved per pod', async () => {
    await pod('a', '10.1.0.1', true);
    await pod('b', '10.1.0.2', false);
    await pod('c', '10.1.0.3', true, 'http', 9090);
    await client.resource<Obj>(builtinResources.services, 'ep').create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'ep' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] },
    });
    await waitFor(
      async () => {
        const ep = await endpoints();
        const subsets = (ep?.['subsets'] ?? []) as {
          addresses?: { ip: string }[];
          notReadyAddresses?: { ip: string }[];
          ports: { port: number }[];
        }[];
        return subsets.length === 2;
      },
      { timeoutMs: 20_000, description: 'two subsets (ports 8080 and 9090)' },
    );
    const subsets = ((await endpoints())?.['subsets'] ?? []) as {
      addresses?: { ip: string }[];
      notReadyAddresses?: { ip: string }[];
      ports: { port: number }[];
    }[];
    const s8080 = subsets.find((s) => s.ports[0]?.port === 8080);
    assert.deepEqual(
      s8080?.addresses?.map((a) => a.ip),
      ['10.1.0.1'],
    );
    assert.deepEqual(
      s8080?.notReadyAddresses?.map((a) => a.ip),
      ['10.1.0.2'],
    );
    // The slices are written after the Endpoints object: wait for them too.
    let sl: Obj[] = [];
    const endpointsOf = (list: Obj[]): { addresses: string[]; conditions: { ready: boolean } }[] =>
      list.flatMap(
        (s) => (s['endpoints'] as { addresses: string[]; conditions: { ready: boolean } }[]) ?? [],
      );
    await waitFor(
      async () => {
        sl = await slices();
        return endpointsOf(sl).length === 3;
      },
      { timeoutMs: 20_000, description: 'slices with the three endpoints' },
    );
    const all = endpointsOf(sl);
    assert.equal(all.find((e) => e.addresses[0] === '10.1.0.2')?.conditions.ready, false);
    assert.ok(sl.every((s) => s.metadata.ownerReferences?.[0]?.kind === 'Service'));
  });

  it('follows readiness changes and terminating pods', async () => {
    await setReady('b', '10.1.0.2', true);
    await waitFor(
      async () => {
        const subsets = ((await endpoints())?.['subsets'] ?? []) as { addresses?: { ip: string }[] }[];
        return subsets.some((s) => (s.addresses ?? []).some((a) => a.ip === '10.1.0.2'));
      },
      { timeoutMs: 20_000, description: 'b ready in Endpoints' },
    );
    await client.resource(builtinResources.pods, 'ep').delete('a', { gracePeriodSeconds: 30 });
    await waitFor(
      async () => {
        const subsets = ((await endpoints())?.['subsets'] ?? []) as { addresses?: { ip: string }[] }[];
        const inEndpoints = subsets.some((s) => (s.addresses ?? []).some((x) => x.ip === '10.1.0.1'));
        const eps = (await slices()).flatMap(
          (s) =>
            (s['endpoints'] as {
              addresses: string[];
              conditions: { terminating: boolean; ready: boolean; serving: boolean };
            }[]) ?? [],
        );
        const a = eps.find((e) => e.addresses[0] === '10.1.0.1');
        return (
          !inEndpoints &&
          a?.conditions.terminating === true &&
          a.conditions.ready === false &&
          a.conditions.serving === true
        );
      },
      { timeoutMs: 20_000, description: 'a terminating: out of Endpoints, terminating+serving in its slice' },
    );
  });

  it('removes the Endpoints with the Service', async () => {
    await client.resource(builtinResources.services, 'ep').delete('web');
    await waitFor(async () => (await endpoints()) === undefined, {
      timeoutMs: 20_000,
      description: 'Endpoints deleted',
    });
  });
});
