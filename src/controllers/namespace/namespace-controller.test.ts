import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeDeletionConditions, namespaceConditionTypes, type ContentSweep } from '../index.js';

const clean: ContentSweep = {
  discoveryFailures: [],
  deleteFailures: [],
  remaining: new Map(),
  finalizers: new Map(),
  gracePeriodSeconds: 0,
};

describe('namespace deletion conditions', () => {
  it('sets every condition False with the upstream reasons when the sweep is clean', () => {
    const out = mergeDeletionConditions([], clean, '2026-01-01T00:00:00Z');
    assert.deepEqual(
      out?.map((c) => [c.type, c.status, c.reason]),
      [
        ['NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered'],
        ['NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions'],
        ['NamespaceDeletionContentFailure', 'False', 'ContentDeleted'],
        ['NamespaceContentRemaining', 'False', 'ContentRemoved'],
        ['NamespaceFinalizersRemaining', 'False', 'ContentHasNoFinalizers'],
      ],
    );
    assert.equal(namespaceConditionTypes.length, 5);
    assert.equal(
      mergeDeletionConditions(out ?? [], clean, '2026-01-01T00:00:05Z'),
      undefined,
      'no change, no write',
    );
  });

  it('says what remains and which finalizers hold it, with upstream wording', () => {
    const out = mergeDeletionConditions(
      [],
      {
        ...clean,
        discoveryFailures: ['metrics.k8s.io/v1: the server is currently unable to handle the request'],
        deleteFailures: ['pods.: boom'],
        remaining: new Map([
          ['pods.', 2],
          ['deployments.apps', 1],
        ]),
        finalizers: new Map([['example.com/keep', 3]]),
      },
      '2026-01-01T00:00:00Z',
    );
    const byType = new Map(out?.map((c) => [c.type, c]));
    assert.equal(byType.get('NamespaceContentRemaining')?.status, 'True');
    assert.equal(byType.get('NamespaceContentRemaining')?.reason, 'SomeResourcesRemain');
    assert.equal(
      byType.get('NamespaceContentRemaining')?.message,
      'Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances',
    );
    assert.equal(
      byType.get('NamespaceFinalizersRemaining')?.message,
      'Some content in the namespace has finalizers remaining: example.com/keep in 3 resource instances',
    );
    assert.equal(byType.get('NamespaceDeletionDiscoveryFailure')?.reason, 'DiscoveryFailed');
    assert.match(
      byType.get('NamespaceDeletionDiscoveryFailure')?.message ?? '',
      /^Discovery failed for some groups, 1 failing: /,
    );
    assert.equal(
      byType.get('NamespaceDeletionContentFailure')?.message,
      'Failed to delete all resource types, 1 remaining: pods.: boom',
    );
  });

  it('keeps the transition time while the status stays the same', () => {
    const first = mergeDeletionConditions([], { ...clean, remaining: new Map([['pods.', 2]]) }, 't1') ?? [];
    const second =
      mergeDeletionConditions(first, { ...clean, remaining: new Map([['pods.', 1]]) }, 't2') ?? [];
    const c = second.find((x) => x.type === 'NamespaceContentRemaining');
    assert.equal(c?.lastTransitionTime, 't1');
    assert.match(c?.message ?? '', /pods\. has 1 resource instances/);
    const third = mergeDeletionConditions(second, clean, 't3') ?? [];
    assert.equal(third.find((x) => x.type === 'NamespaceContentRemaining')?.lastTransitionTime, 't3');
  });
});
