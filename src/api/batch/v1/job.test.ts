import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import type { KubeObject } from '../../kind-definition.js';
import { jobKind, type Job } from './job.js';

const UID = '3f6d2b7e-0000-4000-8000-00000000abcd';
const base = () => structuredClone(sampleManifests['Job']) as unknown as Job;

describe('Job', () => {
  it('defaults completions, parallelism, backoffLimit and generates the selector from the uid', () => {
    const out = admit(jobKind, base(), { uid: UID }).object as unknown as Job;
    assert.equal(out.spec?.completions, 1);
    assert.equal(out.spec?.parallelism, 1);
    assert.equal(out.spec?.backoffLimit, 6);
    assert.equal(out.spec?.completionMode, 'NonIndexed');
    assert.equal(out.spec?.suspend, false);
    assert.deepEqual(out.spec?.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': UID } });
    assert.deepEqual(out.spec?.template?.metadata?.labels, {
      'job-name': 'pi',
      'batch.kubernetes.io/job-name': 'pi',
      'controller-uid': UID,
      'batch.kubernetes.io/controller-uid': UID,
    });
    assert.equal(out.metadata?.labels?.['job-name'], 'pi');
  });

  it('requires OnFailure or Never', () => {
    const j = base();
    (j.spec?.template?.spec as { restartPolicy: string }).restartPolicy = 'Always';
    assert.deepEqual(causeLines(admit(jobKind, j, { uid: UID })), [
      'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    ]);
  });

  it('rejects a hand-written selector unless manualSelector is set', () => {
    const j = base();
    (j.spec as { selector: unknown }).selector = { matchLabels: { app: 'pi' } };
    (j.spec?.template as { metadata: unknown }).metadata = { labels: { app: 'pi' } };
    assert.ok(
      causeLines(admit(jobKind, j, { uid: UID })).some((l) => l.endsWith('`selector` not auto-generated')),
    );
    (j.spec as { manualSelector: boolean }).manualSelector = true;
    assert.deepEqual(causeLines(admit(jobKind, j, { uid: UID })), []);
  });

  it('keeps the template immutable', () => {
    const old = admit(jobKind, base(), { uid: UID }).object;
    const next = structuredClone(old) as unknown as Job;
    (next.spec?.template?.spec?.containers?.[0] as { image: string }).image = 'busybox:2';
    assert.deepEqual(causeLines(admit(jobKind, next, { old })), [
      'spec.template: Invalid value: "<template>": field is immutable',
    ]);
  });

  it('prints STATUS, COMPLETIONS and DURATION', () => {
    const obj = admit(jobKind, base(), { uid: UID, nowMs: Date.UTC(2024, 0, 1) }).object as KubeObject;
    const job = obj as unknown as Job;
    job.status = { startTime: '2024-01-01T00:00:00Z', active: 1 };
    assert.deepEqual(jobKind.row(obj, Date.UTC(2024, 0, 1, 0, 0, 30)).slice(0, 5), [
      'pi',
      'Running',
      '0/1',
      '30s',
      '30s',
    ]);
    job.status = {
      startTime: '2024-01-01T00:00:00Z',
      completionTime: '2024-01-01T00:00:12Z',
      succeeded: 1,
      conditions: [{ type: 'Complete', status: 'True' }],
    };
    assert.deepEqual(jobKind.row(obj, Date.UTC(2024, 0, 1, 1)).slice(0, 5), [
      'pi',
      'Complete',
      '1/1',
      '12s',
      '60m',
    ]);
  });
});
