import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { podKind } from '../core/v1/pod.js';
import { stringifyQuantities } from './quantity-strings.js';

describe('stringifyQuantities', () => {
  it('turns numeric quantities into upstream strings and leaves other numbers alone', () => {
    const pod = {
      spec: {
        containers: [
          {
            name: 'a',
            image: 'x',
            resources: { limits: { cpu: 1, memory: '64Mi' }, requests: { cpu: 0.25 } },
            ports: [{ containerPort: 80 }],
          },
        ],
        overhead: { cpu: 0.1 },
        volumes: [{ name: 'v', emptyDir: { sizeLimit: 1024 } }],
      },
    };
    stringifyQuantities(podKind.schema, pod);
    const c = pod.spec.containers[0];
    assert.deepEqual(c?.resources, { limits: { cpu: '1', memory: '64Mi' }, requests: { cpu: '250m' } });
    assert.equal(c?.ports[0]?.containerPort, 80);
    assert.deepEqual(pod.spec.overhead, { cpu: '100m' });
    assert.deepEqual(pod.spec.volumes[0]?.emptyDir, { sizeLimit: '1024' });
  });
});
