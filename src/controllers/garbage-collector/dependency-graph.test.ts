import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nullLogger } from '../../lib/index.js';
import type { KubeObject, OwnerReference } from '../../api/index.js';
import { DependencyGraph, type ObjectIdentity } from './dependency-graph.js';

function obj(
  kind: string,
  name: string,
  uid: string,
  extra: Partial<KubeObject['metadata']> = {},
  namespace: string | undefined = 'ns',
): KubeObject {
  return {
    apiVersion: kind === 'Pod' ? 'v1' : 'apps/v1',
    kind,
    metadata: { name, uid, ...(namespace !== undefined ? { namespace } : {}), ...extra },
  };
}

function ref(owner: KubeObject, block = false): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    ...(block ? { blockOwnerDeletion: true, controller: true } : {}),
  };
}

function setup() {
  const deletes: string[] = [];
  const orphans: string[] = [];
  const invalid: [ObjectIdentity, ObjectIdentity][] = [];
  const graph = new DependencyGraph({
    log: nullLogger,
    enqueueDelete: (uid) => deletes.push(uid),
    enqueueOrphan: (uid) => orphans.push(uid),
    reportInvalidNamespaceOwnerRef: (d, o) => invalid.push([d, o]),
  });
  return { graph, deletes, orphans, invalid };
}

const deploy = obj('Deployment', 'web', 'd1');
const rs = obj('ReplicaSet', 'web-1', 'r1', { ownerReferences: [ref(deploy, true)] });
const pod = obj('Pod', 'web-1-a', 'p1', { ownerReferences: [ref(rs, true)] });

describe('dependency graph', () => {
  it('links dependents to observed owners without queueing anything', () => {
    const { graph, deletes } = setup();
    graph.observe(deploy);
    graph.observe(rs);
    graph.observe(pod);
    assert.deepEqual(deletes, []);
    assert.deepEqual(
      [...(graph.find('d1')?.dependents ?? [])].map((n) => n.identity.name),
      ['web-1'],
    );
    assert.deepEqual(
      graph
        .find('r1')
        ?.blockingDependents()
        .map((n) => n.identity.uid),
      ['p1'],
    );
  });

  it('adds a virtual owner for an unseen owner and queues it for a live check', () => {
    const { graph, deletes } = setup();
    graph.observe(rs);
    assert.equal(graph.find('d1')?.isVirtual, true);
    assert.deepEqual(deletes, ['d1']);
    graph.observe(deploy);
    assert.equal(graph.find('d1')?.isVirtual, false, 'observed later');
  });

  it('queues the dependents of a deleted owner, and a foreground owner when a dependent goes', () => {
    const { graph, deletes } = setup();
    graph.observe(deploy);
    graph.observe(rs);
    graph.observe(pod);
    graph.observeDeleted(deploy);
    assert.deepEqual(deletes, ['r1']);
    assert.equal(graph.find('d1'), undefined);
    deletes.length = 0;
    const rsDeleting = obj('ReplicaSet', 'web-1', 'r1', {
      ownerReferences: [ref(deploy, true)],
      deletionTimestamp: '2026-01-01T00:00:00Z',
      finalizers: ['foregroundDeletion'],
    });
    graph.observe(rsDeleting, rs);
    assert.deepEqual(deletes, ['p1', 'r1'], 'dependents first, then the owner itself');
    assert.equal(graph.find('r1')?.isDeletingDependents, true);
    deletes.length = 0;
    graph.observeDeleted(pod);
    assert.deepEqual(deletes, ['r1'], 'the waiting owner is looked at again');
    assert.deepEqual(graph.find('r1')?.blockingDependents(), []);
  });

  it('queues orphaning once when the orphan finalizer appears with deletion', () => {
    const { graph, orphans } = setup();
    graph.observe(deploy);
    const deleting = obj('Deployment', 'web', 'd1', {
      deletionTimestamp: '2026-01-01T00:00:00Z',
      finalizers: ['orphan'],
    });
    graph.observe(deleting, deploy);
    graph.observe(deleting, deleting);
    assert.deepEqual(orphans, ['d1']);
  });

  it('queues an owner when a blocking reference to it is removed', () => {
    const { graph, deletes } = setup();
    graph.observe(deploy);
    graph.observe(rs);
    graph.observe(obj('ReplicaSet', 'web-1', 'r1', { ownerReferences: [] }), rs);
    assert.deepEqual(deletes, ['d1']);
    assert.equal(graph.find('d1')?.dependents.size, 0);
  });

  it('forgets a virtual owner once nothing refers to it', () => {
    const { graph } = setup();
    graph.observe(rs);
    assert.ok(graph.find('d1'));
    graph.observeDeleted(rs);
    assert.equal(graph.find('d1'), undefined);
    assert.equal(graph.size, 0);
  });

  it('reports and re-checks a dependent whose owner lives in another namespace', () => {
    const { graph, deletes, invalid } = setup();
    graph.observe(obj('Deployment', 'web', 'd1', {}, 'other'));
    graph.observe(rs);
    assert.deepEqual(deletes, ['r1']);
    assert.equal(invalid.length, 1);
    assert.equal(invalid[0]?.[0].name, 'web-1');
    assert.equal(invalid[0]?.[1].namespace, 'other');
  });

  it('removes a virtual owner verified absent and queues its dependents', () => {
    const { graph, deletes } = setup();
    graph.observe(rs);
    deletes.length = 0;
    graph.observeVerifiedAbsent({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
      uid: 'd1',
      namespace: 'ns',
    });
    assert.equal(graph.find('d1'), undefined);
    assert.deepEqual(deletes, ['r1']);
  });

  it('keeps a virtual owner that other dependents name differently, under their identity', () => {
    const { graph, deletes } = setup();
    graph.observe(rs);
    const other = obj('ConfigMap', 'x', 'c1', {
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'renamed', uid: 'd1' }],
    });
    graph.observe(other);
    deletes.length = 0;
    graph.observeVerifiedAbsent({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
      uid: 'd1',
      namespace: 'ns',
    });
    const node = graph.find('d1');
    assert.equal(node?.identity.name, 'renamed');
    assert.deepEqual(deletes, ['r1', 'd1']);
  });
});
