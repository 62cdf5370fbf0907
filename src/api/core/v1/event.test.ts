import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import type { KubeObject } from '../../kind-definition.js';
import { eventKind } from './event.js';

describe('Event', () => {
  it('prints LAST SEEN TYPE REASON OBJECT MESSAGE like kubectl', () => {
    const e = {
      ...structuredClone(sampleManifests['Event']),
      firstTimestamp: '2024-01-01T00:00:00Z',
      lastTimestamp: '2024-01-01T00:04:00Z',
      count: 3,
    };
    const obj = admit(eventKind, e).object as KubeObject;
    assert.deepEqual(
      eventKind.columns.filter((c) => c.priority === 0).map((c) => c.name),
      ['Last Seen', 'Type', 'Reason', 'Object', 'Message'],
    );
    assert.deepEqual(eventKind.row(obj, Date.UTC(2024, 0, 1, 0, 5)), [
      '60s',
      'Normal',
      'Scheduled',
      'pod/web',
      '',
      'default-scheduler',
      'Successfully assigned default/web to node-1',
      '5m',
      3,
      'web.17a',
    ]);
  });

  it('uses eventTime and series for new-style events', () => {
    const e = {
      ...structuredClone(sampleManifests['Event']),
      eventTime: '2024-01-01T00:00:00.000000Z',
      series: { count: 7, lastObservedTime: '2024-01-01T00:03:00.000000Z' },
      reportingComponent: 'h8s-agent',
      reportingInstance: 'node-1',
    };
    delete (e as Record<string, unknown>)['source'];
    const row = eventKind.row(admit(eventKind, e).object as KubeObject, Date.UTC(2024, 0, 1, 0, 5));
    assert.deepEqual([row[0], row[5], row[7], row[8]], ['2m', 'h8s-agent, node-1', '5m', 7]);
  });

  it('answers the involvedObject field selectors kubectl describe uses', () => {
    const obj = admit(eventKind, sampleManifests['Event']).object as KubeObject;
    const fs = eventKind.fieldSelectors;
    assert.equal(fs['involvedObject.name']?.(obj), 'web');
    assert.equal(fs['involvedObject.kind']?.(obj), 'Pod');
    assert.equal(fs['involvedObject.namespace']?.(obj), 'default');
    assert.equal(fs['source']?.(obj), 'default-scheduler');
    assert.equal(fs['type']?.(obj), 'Normal');
  });

  it('rejects an involved object in another namespace', () => {
    const e = structuredClone(sampleManifests['Event']) as Record<string, unknown>;
    e['involvedObject'] = { kind: 'Pod', name: 'x', namespace: 'other' };
    assert.deepEqual(causeLines(admit(eventKind, e)), [
      'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    ]);
  });
});
