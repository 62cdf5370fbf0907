import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import { sampleManifests } from '../../testing/sample-manifests.js';
import type { KubeObject } from '../../kind-definition.js';
import { deploymentKind, type Deployment } from './deployment.js';

const base = () => structuredClone(sampleManifests['Deployment']) as unknown as Deployment;

describe('Deployment', () => {
  it('defaults replicas, strategy, history, deadline and the pod template', () => {
    const d = base();
    delete (d.spec as { replicas?: number }).replicas;
    const out = admit(deploymentKind, d).object as unknown as Deployment;
    assert.equal(out.spec?.replicas, 1);
    assert.deepEqual(out.spec?.strategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' },
    });
    assert.equal(out.spec?.revisionHistoryLimit, 10);
    assert.equal(out.spec?.progressDeadlineSeconds, 600);
    const tpl = out.spec?.template?.spec;
    assert.equal(tpl?.restartPolicy, 'Always');
    assert.equal(tpl?.containers?.[0]?.imagePullPolicy, 'IfNotPresent');
    assert.equal(tpl?.serviceAccountName, undefined);
    assert.equal(out.metadata?.generation, 1);
  });

  it('rejects a selector that does not match the template labels', () => {
    const d = base();
    (d.spec as { selector: unknown }).selector = { matchLabels: { app: 'other' } };
    assert.deepEqual(causeLines(admit(deploymentKind, d)), [
      'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
    ]);
  });

  it('rejects an empty selector, a missing template image and a bad restart policy', () => {
    const d = base();
    (d.spec as { selector: unknown }).selector = {};
    const tpl = d.spec?.template?.spec as { restartPolicy?: string; containers: { image?: string }[] };
    tpl.restartPolicy = 'Never';
    delete tpl.containers[0]?.image;
    const lines = causeLines(admit(deploymentKind, d));
    assert.ok(
      lines.includes('spec.selector: Invalid value: {}: empty selector is invalid for deployment'),
      lines.join('\n'),
    );
    assert.ok(lines.includes('spec.template.spec.containers[0].image: Required value'), lines.join('\n'));
    assert.ok(
      lines.includes(
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      ),
      lines.join('\n'),
    );
  });

  it('checks rolling update parameters', () => {
    const d = base();
    (d.spec as { strategy: unknown }).strategy = {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: '0%' },
    };
    assert.deepEqual(causeLines(admit(deploymentKind, d)), [
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0',
    ]);
    (d.spec as { strategy: unknown }).strategy = {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '150%', maxSurge: 'lots' },
    };
    const lines = causeLines(admit(deploymentKind, d));
    assert.ok(
      lines.includes(
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith('spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string'),
      ),
      lines.join('\n'),
    );
  });

  it('keeps the selector immutable but allows scaling and image changes', () => {
    const old = admit(deploymentKind, base()).object;
    const scaled = structuredClone(old) as unknown as Deployment;
    (scaled.spec as { replicas: number }).replicas = 5;
    (scaled.spec?.template?.spec?.containers?.[0] as { image: string }).image = 'nginx:1.28';
    assert.deepEqual(causeLines(admit(deploymentKind, scaled, { old })), []);
    const moved = structuredClone(old) as unknown as Deployment;
    (moved.spec as { selector: unknown }).selector = { matchLabels: { app: 'web', tier: 'x' } };
    (moved.spec?.template?.metadata as { labels: Record<string, string> }).labels = { app: 'web', tier: 'x' };
    assert.match(
      causeLines(admit(deploymentKind, moved, { old }))[0] ?? '',
      /^spec.selector: Invalid value: .*: field is immutable$/,
    );
  });

  it('prints READY UP-TO-DATE AVAILABLE and the wide columns', () => {
    const obj = admit(deploymentKind, base(), { nowMs: Date.UTC(2024, 0, 1) }).object as KubeObject;
    (obj as unknown as Deployment).status = {
      readyReplicas: 1,
      updatedReplicas: 2,
      availableReplicas: 1,
      replicas: 2,
    };
    assert.deepEqual(
      deploymentKind.columns.map((c) => c.name),
      ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images', 'Selector'],
    );
    assert.deepEqual(deploymentKind.row(obj, Date.UTC(2024, 0, 1, 0, 0, 45)), [
      'web',
      '1/2',
      2,
      1,
      '45s',
      'web',
      'nginx:1.27',
      'app=web',
    ]);
    assert.deepEqual(deploymentKind.scale, {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.spec.selector',
    });
  });
});
