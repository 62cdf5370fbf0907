/**
 * Service cluster IPs and node ports through the API server, against the memory store, SQLite
 * and a real etcd: distinct addresses under concurrent creates (also across two API servers on
 * one etcd), a full CIDR, refused requests with their causes, release on delete and on type
 * changes, and the repair after a restart or a lost bitmap.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullLogger, systemClock } from '../../lib/index.js';
import { openKeyValueStore, type KeyValueStore } from '../../storage/index.js';
import { startEtcd, type EtcdCluster } from '../../storage/testing/etcd-harness.js';
import { startInProcessServer, type InProcessServer } from '../testing/in-process-server.js';
import { ServiceAllocation, serviceIpsKey, serviceNodePortsKey } from './service-allocation.js';
import { parsePortRange, parseServiceCidr } from './service-ranges.js';

type Backend = 'memory' | 'sqlite' | 'etcd';

let etcd: EtcdCluster | undefined;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

const svcPath = (ns = 'default', name = ''): string =>
  `/api/v1/namespaces/${ns}/services${name ? `/${name}` : ''}`;

function service(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
  };
}

interface ServiceBody {
  spec: {
    clusterIP?: string;
    clusterIPs?: string[];
    type?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    ports: { port: number; nodePort?: number }[];
  };
  metadata: { resourceVersion?: string };
}

const asSvc = (json: unknown): ServiceBody => json as ServiceBody;

function causesOf(json: Record<string, unknown>): { field?: string; message: string }[] {
  return ((json['details'] as { causes?: [] } | undefined)?.causes ?? []) as {
    field?: string;
    message: string;
  }[];
}

/** A fresh place for one test's state: a temp sqlite file, or the shared etcd wiped. */
async function freshStoreUrl(backend: Backend, dir: string, name: string): Promise<string | undefined> {
  if (backend === 'memory') return undefined;
  if (backend === 'sqlite') return `sqlite://${join(dir, `${name}.db`)}`;
  if (!etcd) throw new Error('etcd did not start');
  const store = await openKeyValueStore(`${etcd.url}?compactIntervalMs=0`, { log: nullLogger });
  try {
    for (const kv of (await store.list('/')).items) await store.delete(kv.key, 0);
  } finally {
    await store.close();
  }
  return `${etcd.url}?compactIntervalMs=0`;
}

for (const backend of ['memory', 'sqlite', 'etcd'] as const) {
  describe(`service allocation (${backend} store)`, () => {
    let dir = '';
    const servers: InProcessServer[] = [];
    const start = async (
      url: string | undefined,
      ranges: { serviceCidr?: string; nodePortRange?: string } = {},
    ): Promise<InProcessServer> => {
      const srv = await startInProcessServer({
        ...(url !== undefined ? { storeUrl: url } : { store: 'memory' }),
        ...ranges,
      });
      servers.push(srv);
      return srv;
    };
    const stop = async (srv: InProcessServer): Promise<void> => {
      servers.splice(servers.indexOf(srv), 1);
      await srv.close();
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `h8s-svc-alloc-${backend}-`));
    });
    after(async () => {
      for (const s of [...servers]) await stop(s);
      await rm(dir, { recursive: true, force: true });
    });

    it('gives 20 concurrent creates 20 distinct cluster IPs in the CIDR, never the first', async () => {
      const url = await freshStoreUrl(backend, dir, 'concurrent');
      const a = await start(url);
      // On etcd, half the creates go through a second API server on the same store.
      const b = backend === 'etcd' ? await start(url) : a;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).request('POST', svcPath(), { body: service(`web-${i}`) }),
        ),
      );
      for (const r of results) assert.equal(r.status, 201, r.text);
      const ips = results.map((r) => asSvc(r.json).spec.clusterIP ?? '');
      assert.equal(new Set(ips).size, 20, ips.join(' '));
      for (const r of results) {
        const spec = asSvc(r.json).spec;
        assert.match(spec.clusterIP ?? '', /^10\.43\.\d+\.\d+$/);
        assert.notEqual(spec.clusterIP, '10.43.0.1', 'the kubernetes Service address is not handed out');
        assert.deepEqual(spec.clusterIPs, [spec.clusterIP]);
        assert.deepEqual(spec.ipFamilies, ['IPv4']);
        assert.equal(spec.ipFamilyPolicy, 'SingleStack');
      }
      assert.equal((await a.server.serviceAllocation.usage()).ips, 20);
      if (b !== a) await stop(b);
      await stop(a);
    });

    it('refuses a create when the CIDR is full, with a clear error, and takes nothing', async () => {
      const url = await freshStoreUrl(backend, dir, 'full');
      const srv = await start(url, {
        serviceCidr: '10.96.0.0/29',
      });
      // /29: .0 network, .7 broadcast, .1 for the kubernetes Service: five to hand out.
      for (let i = 0; i < 5; i++) {
        const r = await srv.request('POST', svcPath(), { body: service(`s${i}`) });
        assert.equal(r.status, 201, r.text);
      }
      const full = await srv.request('POST', svcPath(), { body: service('s5') });
      assert.equal(full.status, 503, full.text);
      assert.match(String(full.json['message']), /service CIDR 10\.96\.0\.0\/29 is full/);
      // The first address is still there for the kubernetes Service, asked for by name.
      const k = await srv.request('POST', svcPath(), {
        body: service('kubernetes', { clusterIP: '10.96.0.1' }),
      });
      assert.equal(k.status, 201, k.text);
      assert.equal((await srv.request('DELETE', svcPath('default', 's2'))).status, 200);
      const again = await srv.request('POST', svcPath(), { body: service('s5') });
      assert.equal(again.status, 201, again.text);
      await stop(srv);
    });

    it('refuses requested addresses and node ports outside the ranges or taken, with causes', async () => {
      const url = await freshStoreUrl(backend, dir, 'bad');
      const srv = await start(url);
      const outside = await srv.request('POST', svcPath(), {
        body: service('outside', { clusterIP: '10.99.0.5' }),
      });
      assert.equal(outside.status, 422, outside.text);
      assert.equal(outside.json['reason'], 'Invalid');
      const [c] = causesOf(outside.json);
      assert.equal(c?.field, 'spec.clusterIP');
      assert.match(
        c?.message ?? '',
        /provided IP is not in the valid range\. The range of valid IPs is 10\.43\.0\.0\/16/,
      );
      for (const ip of ['10.43.0.0', '10.43.255.255']) {
        const r = await srv.request('POST', svcPath(), { body: service('edge', { clusterIP: ip }) });
        assert.equal(r.status, 422, `${ip}: network and broadcast addresses are not in the range`);
      }

      const first = await srv.request('POST', svcPath(), {
        body: service('first', {
          clusterIP: '10.43.7.7',
          type: 'NodePort',
          ports: [{ port: 80, nodePort: 30080 }],
        }),
      });
      assert.equal(first.status, 201, first.text);
      assert.equal(asSvc(first.json).spec.clusterIP, '10.43.7.7');
      const usage = await srv.server.serviceAllocation.usage();

      const takenIp = await srv.request('POST', svcPath(), {
        body: service('second', { clusterIP: '10.43.7.7' }),
      });
      assert.equal(takenIp.status, 422, takenIp.text);
      assert.deepEqual(
        causesOf(takenIp.json).map((x) => [x.field, /provided IP is already allocated/.test(x.message)]),
        [['spec.clusterIP', true]],
      );
      const takenPort = await srv.request('POST', svcPath(), {
        body: service('third', {
          type: 'NodePort',
          ports: [
            { name: 'a', port: 80, nodePort: 30080 },
            { name: 'b', port: 81, nodePort: 40000 },
          ],
        }),
      });
      assert.equal(takenPort.status, 422, takenPort.text);
      assert.deepEqual(
        causesOf(takenPort.json).map((x) => x.field),
        ['spec.ports[1].nodePort'],
        'the range is checked before anything is taken',
      );
      assert.match(causesOf(takenPort.json)[0]?.message ?? '', /The range of valid ports is 30000-32767/);
      const takenOnly = await srv.request('POST', svcPath(), {
        body: service('fourth', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
      });
      assert.equal(takenOnly.status, 422, takenOnly.text);
      assert.deepEqual(
        causesOf(takenOnly.json).map((x) => [x.field, /provided port is already allocated/.test(x.message)]),
        [['spec.ports[0].nodePort', true]],
      );
      // A refusal after allocation (validation: a bad port name) gives back what it took.
      const refusedLater = await srv.request('POST', svcPath(), {
        body: service('fifth', { type: 'NodePort', ports: [{ port: 80, name: 'Not_A_Name' }] }),
      });
      assert.equal(refusedLater.status, 422, refusedLater.text);
      const dry = await srv.request('POST', `${svcPath()}?dryRun=All`, { body: service('sixth') });
      assert.equal(dry.status, 201, dry.text);
      assert.match(asSvc(dry.json).spec.clusterIP ?? '', /^10\.43\./, 'a dry run shows an address');
      assert.deepEqual(await srv.server.serviceAllocation.usage(), usage, 'refused writes took nothing');
      await stop(srv);
    });

    it('releases on delete and on type changes, and keeps what an update omits', async () => {
      const url = await freshStoreUrl(backend, dir, 'release');
      const srv = await start(url);
      const created = await srv.request('POST', svcPath(), {
        body: service('np', {
          type: 'NodePort',
          ports: [
            { name: 'http', port: 80 },
            { name: 'https', port: 443, nodePort: 31443 },
          ],
        }),
      });
      assert.equal(created.status, 201, created.text);
      const spec = asSvc(created.json).spec;
      const auto = spec.ports[0]?.nodePort ?? 0;
      assert.ok(auto >= 30000 && auto <= 32767, String(auto));
      assert.equal(spec.ports[1]?.nodePort, 31443);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 1, ports: 2 });

      // A PUT that leaves out clusterIP and nodePorts keeps them.
      const put = await srv.request('PUT', svcPath('default', 'np'), {
        body: {
          ...service('np', {
            type: 'NodePort',
            ports: [
              { name: 'http', port: 80 },
              { name: 'https', port: 443 },
            ],
          }),
        },
      });
      assert.equal(put.status, 200, put.text);
      assert.equal(asSvc(put.json).spec.clusterIP, spec.clusterIP);
      assert.deepEqual(
        asSvc(put.json).spec.ports.map((p) => p.nodePort),
        [auto, 31443],
      );
      // An address that changes is immutable.
      const moved = await srv.request('PATCH', svcPath('default', 'np'), {
        body: { spec: { clusterIP: '10.43.9.9' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(moved.status, 422, moved.text);
      assert.match(moved.text, /field is immutable/);

      // NodePort → ClusterIP gives back the node ports.
      const toClusterIp = await srv.request('PATCH', svcPath('default', 'np'), {
        body: { spec: { type: 'ClusterIP' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(toClusterIp.status, 200, toClusterIp.text);
      assert.deepEqual(
        asSvc(toClusterIp.json).spec.ports.map((p) => p.nodePort),
        [undefined, undefined],
      );
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 1, ports: 0 });
      // ClusterIP → ExternalName gives back the address; and back again takes a new one.
      const toExternal = await srv.request('PATCH', svcPath('default', 'np'), {
        body: { spec: { type: 'ExternalName', externalName: 'example.com' } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(toExternal.status, 200, toExternal.text);
      assert.equal(asSvc(toExternal.json).spec.clusterIP, undefined);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 0, ports: 0 });
      const back = await srv.request('PATCH', svcPath('default', 'np'), {
        body: { spec: { type: 'ClusterIP', externalName: null } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(back.status, 200, back.text);
      assert.match(asSvc(back.json).spec.clusterIP ?? '', /^10\.43\./);

      // Headless: no address.
      const headless = await srv.request('POST', svcPath(), {
        body: service('headless', { clusterIP: 'None' }),
      });
      assert.equal(headless.status, 201, headless.text);
      assert.deepEqual(asSvc(headless.json).spec.clusterIPs, ['None']);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 1, ports: 0 });

      // A LoadBalancer may do without node ports.
      const bare = await srv.request('POST', svcPath(), {
        body: service('bare-lb', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false }),
      });
      assert.equal(bare.status, 201, bare.text);
      assert.equal(asSvc(bare.json).spec.ports[0]?.nodePort, undefined);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 2, ports: 0 });
      assert.equal((await srv.request('DELETE', svcPath('default', 'bare-lb'))).status, 200);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 1, ports: 0 });

      // Deletion through a finalizer releases when the object goes, not before.
      const lb = await srv.request('POST', svcPath(), {
        body: {
          ...service('lb', { type: 'LoadBalancer' }),
          metadata: { name: 'lb', finalizers: ['example.com/hold'] },
        },
      });
      assert.equal(lb.status, 201, lb.text);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 2, ports: 1 });
      assert.equal((await srv.request('DELETE', svcPath('default', 'lb'))).status, 200);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 2, ports: 1 });
      const unhold = await srv.request('PATCH', svcPath('default', 'lb'), {
        body: { metadata: { finalizers: null } },
        contentType: 'application/merge-patch+json',
      });
      assert.equal(unhold.status, 200, unhold.text);
      assert.equal((await srv.request('GET', svcPath('default', 'lb'))).status, 404);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 1, ports: 0 });
      assert.equal((await srv.request('DELETE', svcPath('default', 'np'))).status, 200);
      assert.deepEqual(await srv.server.serviceAllocation.usage(), { ips: 0, ports: 0 });
      await stop(srv);
    });

    it('repairs lost bitmaps and leaks: after a restart, addresses in use are not handed out again', async () => {
      const storeUrl = await freshStoreUrl(backend, dir, 'repair');
      let srv = await start(storeUrl);
      const held: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await srv.request('POST', svcPath(), {
          body: service(`keep-${i}`, { type: 'NodePort', clusterIP: `10.43.0.${10 + i}` }),
        });
        assert.equal(r.status, 201, r.text);
        held.push(asSvc(r.json).spec.clusterIP ?? '');
      }
      const leaked = await srv.request('POST', svcPath(), {
        body: service('leaked', { clusterIP: '10.43.0.20' }),
      });
      assert.equal(leaked.status, 201, leaked.text);
      // A crash after the store lost the bitmaps; another after the allocation but before the
      // Service was written (the Service key goes, its bit stays).
      await srv.store.delete(serviceIpsKey, 0);
      await srv.store.delete(serviceNodePortsKey, 0);
      assert.ok((await srv.store.find('/registry/core/services/default/leaked')) !== undefined);
      await srv.store.delete('/registry/core/services/default/leaked', 0);
      if (backend !== 'memory') {
        await stop(srv);
        srv = await start(storeUrl);
      } else {
        await srv.server.serviceAllocation.repair();
      }
      assert.deepEqual(
        await srv.server.serviceAllocation.usage(),
        { ips: 3, ports: 3 },
        'rebuilt from Services',
      );
      for (const ip of held) {
        const r = await srv.request('POST', svcPath(), {
          body: service(`dup-${ip.replaceAll('.', '-')}`, { clusterIP: ip }),
        });
        assert.equal(r.status, 422, `${ip} is still taken after the repair`);
      }

      // A leaked bit is freed only by the second of two repairs.
      await withAllocation(srv.store, async (allocation) => {
        const taken = await srv.request('POST', svcPath(), {
          body: service('leak2', { clusterIP: '10.43.0.30' }),
        });
        assert.equal(taken.status, 201, taken.text);
        await srv.store.delete('/registry/core/services/default/leak2', 0);
        const first = await allocation.repair();
        assert.equal(first.freed.ips, 0, 'the first repair only suspects');
        assert.equal(first.suspected.ips, 1);
        const second = await allocation.repair();
        assert.equal(second.freed.ips, 1);
      });
      const reuse = await srv.request('POST', svcPath(), {
        body: service('reuse', { clusterIP: '10.43.0.30' }),
      });
      assert.equal(reuse.status, 201, reuse.text);
      await stop(srv);
    });
  });
}

/** A second allocator on the same store with no leak grace (what another server's repair does). */
async function withAllocation(
  store: KeyValueStore,
  body: (allocation: ServiceAllocation) => Promise<void>,
): Promise<void> {
  const allocation = new ServiceAllocation(
    { store, clock: systemClock, log: nullLogger },
    {
      serviceCidr: parseServiceCidr('10.43.0.0/16'),
      nodePortRange: parsePortRange('30000-32767'),
      leakGraceMs: 0,
    },
  );
  await body(allocation);
}
