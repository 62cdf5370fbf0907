import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeTableScript, routerTableScript, type ServiceRule } from './nft-ruleset.js';

const base = {
  table: 'h8s-default',
  subnet: '10.42.0.0/16',
  gatewayDevice: 'gw0',
  uplinkDevice: 'up0',
  nodePortAddress: '198.18.0.2',
};

const web = (over: Partial<ServiceRule> = {}, endpoints = 2): ServiceRule => {
  const eps = Array.from({ length: endpoints }, (_, i) => ({ ip: `10.42.1.${i + 2}`, port: 8080 }));
  return {
    namespace: 'default',
    name: 'web',
    clusterIPs: ['10.43.0.10', 'fd00::10'],
    externalIPs: [],
    affinitySeconds: undefined,
    ports: [
      {
        name: 'http',
        protocol: 'TCP',
        port: 80,
        nodePort: undefined,
        clusterEndpoints: eps,
        externalEndpoints: eps,
      },
    ],
    ...over,
  };
};

describe('routerTableScript', () => {
  it('replaces the table in one transaction: create, flush, declare', () => {
    const s = routerTableScript({ ...base, services: [] });
    const lines = s.split('\n');
    assert.equal(lines[0], 'table ip h8s-default {}');
    assert.equal(lines[1], 'flush table ip h8s-default');
    assert.equal(lines[2], 'table ip h8s-default {');
    assert.match(s, /ct status dnat ip saddr 10\.42\.0\.0\/16 oifname "gw0" masquerade/);
    assert.match(s, /oifname "up0" ip saddr 10\.42\.0\.0\/16 masquerade/);
  });

  it('balances a ClusterIP over its endpoints with numgen and a verdict map', () => {
    const s = routerTableScript({ ...base, services: [web()] });
    assert.match(s, /ip daddr 10\.43\.0\.10 tcp dport 80 jump svc_[0-9a-f]{12}/);
    assert.match(s, /numgen random mod 2 vmap \{ 0 : jump ep_[0-9a-f]{12}, 1 : jump ep_[0-9a-f]{12} \}/);
    assert.match(s, /meta l4proto tcp dnat to 10\.42\.1\.2:8080/);
    assert.match(s, /meta l4proto tcp dnat to 10\.42\.1\.3:8080/);
    assert.doesNotMatch(s, /fd00/, 'IPv6 cluster IPs are skipped');
  });

  it('jumps straight to a single endpoint', () => {
    const s = routerTableScript({ ...base, services: [web({}, 1)] });
    assert.doesNotMatch(s, /numgen/);
    assert.match(s, /\n {4}jump ep_/);
  });

  it('remembers ClientIP affinity in a timeout set per endpoint', () => {
    const s = routerTableScript({ ...base, services: [web({ affinitySeconds: 600 })] });
    const sets =
      s.match(/set aff_[0-9a-f]{12} \{ type ipv4_addr; flags dynamic,timeout; timeout 600s; \}/g) ?? [];
    assert.equal(sets.length, 2);
    assert.match(s, /ip saddr @aff_[0-9a-f]{12} meta l4proto tcp dnat to 10\.42\.1\.2:8080/);
    assert.match(s, /update @aff_[0-9a-f]{12} \{ ip saddr \}/);
  });

  it('keeps set and chain names stable across syncs and deletes stale ones', () => {
    const first = routerTableScript({ ...base, services: [web({ affinitySeconds: 600 })] });
    const again = routerTableScript({ ...base, services: [web({ affinitySeconds: 600 })] });
    assert.equal(first, again);
    const sets = [...first.matchAll(/set (aff_[0-9a-f]{12})/g)].map((m) => m[1] ?? '');
    const chains = [...first.matchAll(/chain ((?:svc|ep)_[0-9a-f]{12})/g)].map((m) => m[1] ?? '');
    const next = routerTableScript({
      ...base,
      services: [],
      existing: { chains: ['services', ...chains], sets },
    });
    for (const c of chains) assert.match(next, new RegExp(`delete chain ip h8s-default ${c}\\n`));
    for (const set of sets) assert.match(next, new RegExp(`delete set ip h8s-default ${set}\\n`));
    assert.doesNotMatch(next, /delete chain ip h8s-default services/);
    // Deletes come after the flush (the chains are empty then) and before the declaration.
    assert.ok(next.indexOf('flush table') < next.indexOf('delete chain'));
    assert.ok(next.indexOf('delete set') < next.indexOf('table ip h8s-default {\n'));
  });

  it('sends NodePort and external IP traffic to the external endpoints', () => {
    const local = [{ ip: '10.42.1.9', port: 8080 }];
    const s = routerTableScript({
      ...base,
      services: [
        web({
          externalIPs: ['192.168.5.5'],
          ports: [
            {
              name: 'http',
              protocol: 'UDP',
              port: 53,
              nodePort: 30053,
              clusterEndpoints: [{ ip: '10.42.1.2', port: 5353 }],
              externalEndpoints: local,
            },
          ],
        }),
      ],
    });
    const ext = /ip daddr 198\.18\.0\.2 udp dport 30053 jump (svc_[0-9a-f]{12})/.exec(s)?.[1];
    assert.ok(ext);
    assert.match(s, new RegExp(`ip daddr 192\\.168\\.5\\.5 udp dport 53 jump ${ext}`));
    assert.match(s, /meta l4proto udp dnat to 10\.42\.1\.9:8080/);
  });

  it('rejects Service ports without endpoints instead of dropping them', () => {
    const s = routerTableScript({ ...base, services: [web({}, 0)] });
    assert.match(s, /ip daddr 10\.43\.0\.10 tcp dport 80 reject with tcp reset/);
    assert.doesNotMatch(s, /dnat to/);
  });
});

describe('nodeTableScript', () => {
  it('DNATs host ports to pods and node ports to the router', () => {
    const s = nodeTableScript({
      table: 'h8s-default',
      uplink: 'h8uabc',
      transitCidr: '198.18.0.0/30',
      routerAddress: '198.18.0.2',
      hostPorts: [
        { protocol: 'TCP', hostPort: 8080, podIp: '10.42.1.2', containerPort: 80 },
        { protocol: 'UDP', hostPort: 5353, hostIp: '192.168.1.10', podIp: '10.42.1.3', containerPort: 53 },
      ],
      nodePorts: [{ protocol: 'TCP', port: 30080 }],
    });
    assert.match(s, /^table ip h8s-default \{\}\nflush table ip h8s-default\n/);
    assert.match(s, /fib daddr type local jump node_ports/);
    assert.match(s, /\n {4}tcp dport 8080 meta l4proto tcp dnat to 10\.42\.1\.2:80\n/);
    assert.match(s, /ip daddr 192\.168\.1\.10 udp dport 5353 meta l4proto udp dnat to 10\.42\.1\.3:53/);
    assert.match(s, /tcp dport 30080 meta l4proto tcp dnat to 198\.18\.0\.2:30080/);
    assert.match(s, /ip saddr 198\.18\.0\.0\/30 oifname != "h8uabc" masquerade/);
  });
});
