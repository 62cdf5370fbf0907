import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allKinds } from '../kinds.js';
import { buildOpenApiV3, buildOpenApiV3Document, buildOpenApiV3Index } from './openapi-v3.js';

type Json = Record<string, unknown>;
const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((cur, k) => (cur as Json | undefined)?.[k], o);

function refsOf(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => refsOf(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.add(v);
      else refsOf(v, out);
    }
  }
  return out;
}

describe('OpenAPI v3', () => {
  it('indexes one document per served group/version with hash URLs', () => {
    const index = buildOpenApiV3Index();
    assert.deepEqual(Object.keys(index.paths), [
      'api/v1',
      'apis/apps/v1',
      'apis/batch/v1',
      'apis/coordination.k8s.io/v1',
      'apis/discovery.k8s.io/v1',
      'apis/node.k8s.io/v1',
      'apis/scheduling.k8s.io/v1',
      'apis/storage.k8s.io/v1',
      'apis/rbac.authorization.k8s.io/v1',
    ]);
    const doc = buildOpenApiV3Document('api/v1');
    assert.ok(doc);
    assert.equal(index.paths['api/v1']?.serverRelativeURL, `/openapi/v3/api/v1?hash=${doc.hash}`);
    assert.match(doc.hash, /^[0-9A-F]{128}$/);
    assert.equal(buildOpenApiV3Document('apps/v1')?.path, 'apis/apps/v1');
    assert.equal(buildOpenApiV3Document('apis/nope/v1'), undefined);
  });

  it('is deterministic, and the hash follows the content', () => {
    const a = buildOpenApiV3({ serverVersion: 'v1.32.0-a' }).documents.get('api/v1');
    const b = buildOpenApiV3({ serverVersion: 'v1.32.0-a', kinds: [...allKinds()] }).documents.get('api/v1');
    const c = buildOpenApiV3({ serverVersion: 'v1.32.0-b' }).documents.get('api/v1');
    assert.equal(a?.json, b?.json);
    assert.equal(a?.hash, b?.hash);
    assert.notEqual(a?.hash, c?.hash);
  });

  it('gives every PATCH a group-version-kind and a fieldValidation parameter (kubectl trusts server validation)', () => {
    for (const [path, published] of buildOpenApiV3().documents) {
      const paths = get(published.document, 'paths') as Record<string, Json>;
      let patches = 0;
      for (const [p, item] of Object.entries(paths)) {
        const patch = item['patch'] as Json | undefined;
        if (!patch) continue;
        patches++;
        const gvk = patch['x-kubernetes-group-version-kind'] as Json;
        assert.equal(typeof gvk?.['kind'], 'string', `${path} ${p}`);
        const names = (patch['parameters'] as Json[]).map((x) => x['name']);
        assert.ok(names.includes('fieldValidation'), `${path} ${p}`);
        const content = get(patch, 'requestBody', 'content') as Json;
        assert.ok(
          content['application/merge-patch+json'] &&
            content['application/json-patch+json'] &&
            content['application/apply-patch+yaml'],
        );
        assert.equal(content['application/strategic-merge-patch+json'], undefined);
      }
      assert.ok(patches > 0, path);
    }
    const network = get(
      buildOpenApiV3Document('api/v1')?.document,
      'paths',
      '/api/v1/networks/{name}',
      'patch',
      'x-kubernetes-group-version-kind',
    );
    assert.deepEqual(network, { group: '', version: 'v1', kind: 'Network' });
  });

  it('offers strategic merge patch for built-in kinds only when asked', () => {
    const doc = buildOpenApiV3Document('api/v1', { strategicMergePatch: true })?.document;
    assert.ok(
      get(
        doc,
        'paths',
        '/api/v1/namespaces/{namespace}/pods/{name}',
        'patch',
        'requestBody',
        'content',
        'application/strategic-merge-patch+json',
      ),
    );
    assert.equal(
      get(
        doc,
        'paths',
        '/api/v1/networks/{name}',
        'patch',
        'requestBody',
        'content',
        'application/strategic-merge-patch+json',
      ),
      undefined,
    );
  });

  it('publishes kind schemas with group-version-kind and merge keys, and resolves every $ref', () => {
    for (const published of buildOpenApiV3().documents.values()) {
      const schemas = get(published.document, 'components', 'schemas') as Json;
      for (const r of refsOf(published.document)) {
        assert.ok(r.startsWith('#/components/schemas/'), r);
        assert.ok(schemas[r.slice('#/components/schemas/'.length)], `${published.path}: dangling ${r}`);
      }
      assert.ok(!published.json.includes('x-h8s-'), published.path);
    }
    const schemas = get(buildOpenApiV3Document('api/v1')?.document, 'components', 'schemas') as Json;
    assert.deepEqual(get(schemas, 'io.k8s.api.core.v1.Pod', 'x-kubernetes-group-version-kind'), [
      { group: '', kind: 'Pod', version: 'v1' },
    ]);
    assert.deepEqual(get(schemas, 'io.k8s.api.core.v1.PodList', 'x-kubernetes-group-version-kind'), [
      { group: '', kind: 'PodList', version: 'v1' },
    ]);
    assert.deepEqual(get(schemas, 'io.h8s.api.core.v1.Network', 'x-kubernetes-group-version-kind'), [
      { group: '', kind: 'Network', version: 'v1' },
    ]);
    const containers = get(schemas, 'io.k8s.api.core.v1.PodSpec', 'properties', 'containers') as Json;
    assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
    assert.equal(containers['x-kubernetes-patch-strategy'], 'merge');
    assert.deepEqual(get(schemas, 'io.k8s.api.core.v1.PodSpec', 'required'), ['containers']);
    const volumes = get(schemas, 'io.k8s.api.core.v1.PodSpec', 'properties', 'volumes') as Json;
    assert.equal(volumes['x-kubernetes-patch-strategy'], 'merge,retainKeys');
    assert.deepEqual(get(schemas, 'io.k8s.apimachinery.pkg.util.intstr.IntOrString'), {
      description: get(schemas, 'io.k8s.apimachinery.pkg.util.intstr.IntOrString', 'description'),
      type: 'string',
      format: 'int-or-string',
    });
    assert.deepEqual(get(schemas, 'io.k8s.api.core.v1.Container', 'properties', 'imagePullPolicy', 'enum'), [
      'Always',
      'IfNotPresent',
      'Never',
    ]);
    const labels = get(
      schemas,
      'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
      'properties',
      'labels',
    ) as Json;
    assert.deepEqual(labels['additionalProperties'], { type: 'string' });
    assert.equal(labels['properties'], undefined);
    const metadata = get(schemas, 'io.k8s.api.core.v1.Pod', 'properties', 'metadata') as Json;
    assert.deepEqual(metadata['allOf'], [
      { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
    ]);
  });

  it('serves scale and status subresources where kinds have them', () => {
    const apps = get(buildOpenApiV3Document('apps/v1')?.document, 'paths') as Json;
    assert.deepEqual(
      get(
        apps,
        '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale',
        'patch',
        'x-kubernetes-group-version-kind',
      ),
      {
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
      },
    );
    assert.ok(get(apps, '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status', 'put'));
    assert.equal(get(apps, '/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}/scale'), undefined);
    assert.ok(get(apps, '/apis/apps/v1/deployments', 'get'));
    const core = get(buildOpenApiV3Document('api/v1')?.document, 'paths') as Json;
    assert.equal(get(core, '/api/v1/namespaces', 'delete'), undefined, 'namespaces have no deletecollection');
    assert.ok(get(core, '/api/v1/namespaces/{namespace}/pods/{name}/binding', 'post'));
  });
});
