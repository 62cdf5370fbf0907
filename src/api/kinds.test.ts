import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  allKinds,
  apiVersionOf,
  findKindByApiVersionKind,
  findKindByResource,
  findKindByShortName,
  findKindsByName,
  servedGroupVersions,
  splitApiVersion,
} from './kinds.js';

describe('kind registry', () => {
  it('serves each kind once with consistent names', () => {
    const seen = new Set<string>();
    for (const def of allKinds()) {
      const key = `${apiVersionOf(def)}/${def.kind}`;
      assert.ok(!seen.has(key), key);
      seen.add(key);
      assert.equal(def.listKind, `${def.kind}List`);
      assert.equal(def.plural, def.plural.toLowerCase());
      // NAME comes first except where upstream puts it last (Event).
      assert.equal(def.columns.filter((c) => c.format === 'name').length, 1);
      if (def.kind !== 'Event') assert.equal(def.columns[0]?.name, 'Name');
      assert.ok(Object.isFrozen(def));
    }
  });

  it('compiles every schema', () => {
    for (const def of allKinds()) assert.doesNotThrow(() => TypeCompiler.Compile(def.schema), def.kind);
  });

  it('looks kinds up by resource, apiVersion/kind and names', () => {
    assert.equal(findKindByResource('', 'v1', 'pods')?.kind, 'Pod');
    assert.equal(findKindByResource('', 'v1', 'networks')?.kind, 'Network');
    assert.equal(findKindByResource('apps', 'v1', 'pods'), undefined);
    assert.equal(findKindByApiVersionKind('v1', 'Network')?.plural, 'networks');
    assert.equal(findKindByApiVersionKind('v2', 'Network'), undefined);
    assert.equal(findKindByShortName('net')?.kind, 'Network');
    assert.equal(findKindByShortName('ns')?.kind, 'Namespace');
    assert.equal(findKindByShortName('pods'), undefined);
    assert.deepEqual(
      findKindsByName('Pod').map((d) => d.plural),
      ['pods'],
    );
    assert.deepEqual(
      findKindsByName('cm').map((d) => d.kind),
      ['ConfigMap'],
    );
  });

  it('splits apiVersions and lists group versions with core first', () => {
    assert.deepEqual(splitApiVersion('v1'), { group: '', version: 'v1' });
    assert.deepEqual(splitApiVersion('rbac.authorization.k8s.io/v1'), {
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
    });
    assert.deepEqual(servedGroupVersions()[0], { group: '', version: 'v1' });
  });
});
