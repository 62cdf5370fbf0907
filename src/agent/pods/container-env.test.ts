import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap, Pod, Secret } from '../../api/index.js';
import { isNotFound } from '../../lib/index.js';
import { containerEnv, resourceFieldValue, type EnvSources } from './container-env.js';
import { expandVars } from './expand-vars.js';
import { serviceLinkEnv } from './service-env.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function sources(over: Partial<EnvSources> = {}): EnvSources {
  const cms: Record<string, ConfigMap> = {
    app: { metadata: { name: 'app' }, data: { MODE: 'fast', 'bad=key': 'x' } },
  };
  const secrets: Record<string, Secret> = {
    db: { metadata: { name: 'db' }, data: { PASSWORD: b64('s3cret') } },
  };
  return {
    findConfigMap: (_ns, n) => Promise.resolve(cms[n]),
    findSecret: (_ns, n) => Promise.resolve(secrets[n]),
    serviceEnv: [{ key: 'KUBERNETES_SERVICE_HOST', value: '10.96.0.1' }],
    nodeAllocatable: { cpu: '2', memory: '8Gi' },
    ...over,
  };
}

const pod: Pod = {
  metadata: { name: 'web', namespace: 'shop', uid: 'u-1', labels: { app: 'web' } },
  spec: { nodeName: 'n1', serviceAccountName: 'sa', containers: [] },
};

describe('container env', () => {
  it('orders service links, envFrom, then env, and expands $(VAR) against what came before', async () => {
    const env = await containerEnv(
      pod,
      {
        name: 'c',
        // The API's static type wrongly asks for `key` on envFrom refs (schema is right).
        envFrom: [{ configMapRef: { name: 'app' } }, { prefix: 'DB_', secretRef: { name: 'db' } }],
        env: [
          { name: 'URL', value: 'http://$(KUBERNETES_SERVICE_HOST)/$(MODE)/$(NOPE)/$$(MODE)' },
          { name: 'MODE', value: 'slow' },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'PASSWORD' } } },
          { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k', optional: true } } },
          { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        ],
      },
      sources(),
      { podIPs: ['10.0.0.7'], hostIPs: ['192.0.2.1'] },
    );
    const map = Object.fromEntries(env.map((e) => [e.key, e.value]));
    assert.equal(map['URL'], 'http://10.96.0.1/fast/$(NOPE)/$(MODE)');
    assert.equal(map['MODE'], 'slow');
    assert.equal(map['DB_PASSWORD'], 's3cret');
    assert.equal(map['POD'], 'web');
    assert.equal(map['APP'], 'web');
    assert.equal(map['IP'], '10.0.0.7');
    assert.equal(map['PW'], 's3cret');
    assert.equal(map['MEM'], '8192', 'an unset limit is the node allocatable');
    assert.equal('OPT' in map, false);
    assert.equal('bad=key' in map, false, 'invalid names from envFrom are skipped');
    assert.equal(env[0]?.key, 'KUBERNETES_SERVICE_HOST');
  });

  it('fails with NotFound naming a missing ConfigMap or key that is not optional', async () => {
    const c = {
      name: 'c',
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'app', key: 'missing' } } }],
    };
    await assert.rejects(containerEnv(pod, c, sources(), { podIPs: [], hostIPs: [] }), (e: unknown) => {
      assert.ok(isNotFound(e));
      assert.match(String(e), /couldn't find key missing in ConfigMap shop\/app/);
      return true;
    });
    const d = { name: 'c', envFrom: [{ secretRef: { name: 'nope' } }] };
    await assert.rejects(
      containerEnv(pod, d, sources(), { podIPs: [], hostIPs: [] }),
      /secret "nope" not found/,
    );
  });

  it('exposes CPU in millicores with a divisor and rounds up', () => {
    const c = { name: 'c', resources: { limits: { cpu: '250m' }, requests: { cpu: '100m' } } };
    assert.equal(resourceFieldValue(c, 'limits.cpu', '1m', {}), '250');
    assert.equal(resourceFieldValue(c, 'limits.cpu', undefined, {}), '1');
    assert.equal(resourceFieldValue(c, 'requests.cpu', '1m', {}), '100');
  });

  it('expandVars leaves unterminated references and lone dollars alone', () => {
    const lookup = (n: string) => (n === 'A' ? '1' : undefined);
    assert.equal(expandVars('$(A)$(A', lookup), '1$(A');
    assert.equal(expandVars('cost $5 and $', lookup), 'cost $5 and $');
    assert.equal(expandVars('$()', lookup), '$()');
  });

  it('builds service link variables as kubelet does', () => {
    const env = serviceLinkEnv([
      {
        metadata: { name: 'redis-primary' },
        spec: { clusterIP: '10.0.0.11', ports: [{ name: 'redis', port: 6379, protocol: 'TCP' }] },
      },
      { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } },
    ]);
    const map = Object.fromEntries(env.map((e) => [e.key, e.value]));
    assert.equal(map['REDIS_PRIMARY_SERVICE_HOST'], '10.0.0.11');
    assert.equal(map['REDIS_PRIMARY_SERVICE_PORT'], '6379');
    assert.equal(map['REDIS_PRIMARY_SERVICE_PORT_REDIS'], '6379');
    assert.equal(map['REDIS_PRIMARY_PORT'], 'tcp://10.0.0.11:6379');
    assert.equal(map['REDIS_PRIMARY_PORT_6379_TCP_ADDR'], '10.0.0.11');
    assert.equal(
      Object.keys(map).some((k) => k.startsWith('HEADLESS')),
      false,
    );
  });
});
