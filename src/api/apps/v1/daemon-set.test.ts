import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../kind-definition.js';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import { daemonSetKind, type DaemonSet } from './daemon-set.js';

const NOW = Date.UTC(2024, 0, 1, 2);

describe('DaemonSet', () => {
  it('defaults the update strategy and history limit', () => {
    const ds = admit(daemonSetKind, sampleManifests['DaemonSet']).object as unknown as DaemonSet;
    assert.deepEqual(ds.spec?.updateStrategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
    assert.equal(ds.spec?.revisionHistoryLimit, 10);
  });

  it('rejects restartPolicy Never, rollingUpdate with OnDelete and 0/0 surge', () => {
    const bad = structuredClone(sampleManifests['DaemonSet']) as unknown as DaemonSet;
    (bad.spec?.template?.spec as { restartPolicy: string }).restartPolicy = 'Never';
    (bad.spec as { updateStrategy: unknown }).updateStrategy = {
      type: 'OnDelete',
      rollingUpdate: { maxUnavailable: 0, maxSurge: 0 },
    };
    const lines = causeLines(admit(daemonSetKind, bad));
    assert.ok(
      lines.includes(
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        "spec.updateStrategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'OnDelete'",
      ),
    );
    assert.ok(
      lines.includes(
        'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0',
      ),
    );
  });

  it('renders DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE', () => {
    const sample = structuredClone(sampleManifests['DaemonSet']) as unknown as DaemonSet;
    (sample.spec?.template?.spec as { nodeSelector: Record<string, string> }).nodeSelector = {
      'kubernetes.io/os': 'linux',
    };
    const ds = admit(daemonSetKind, sample).object;
    (ds as { status?: unknown }).status = {
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberReady: 2,
      updatedNumberScheduled: 3,
      numberAvailable: 2,
      numberMisscheduled: 0,
    };
    assert.deepEqual(daemonSetKind.row(ds as KubeObject, NOW), [
      'agent',
      3,
      3,
      2,
      3,
      2,
      'kubernetes.io/os=linux',
      '120m',
      'agent',
      'busybox',
      'app=agent',
    ]);
  });
});
