import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBadRequest, errorCode } from '../../lib/index.js';
import { decodeKubernetesProtobuf, kubernetesProtobufRoot } from './kubernetes-protobuf.js';

const MAGIC = [0x6b, 0x38, 0x73, 0x00];

/** Wraps a message in the `k8s\0` + runtime.Unknown envelope, encoded with protobufjs. */
function envelope(
  apiVersion: string,
  kind: string,
  typeName: string,
  object: Record<string, unknown>,
): Uint8Array {
  const root = kubernetesProtobufRoot();
  const type = root.lookupType(typeName);
  const unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const raw = type.encode(type.fromObject(object)).finish();
  const env = unknown
    .encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw, contentEncoding: '', contentType: '' }))
    .finish();
  return new Uint8Array([...MAGIC, ...env]);
}

/** ObjectMeta as Go marshals it: every non-pointer field written, zero or not. */
function goMeta(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    name: '',
    generateName: '',
    namespace: '',
    selfLink: '',
    uid: '',
    resourceVersion: '',
    generation: 0,
    creationTimestamp: {},
    ...extra,
  };
}

describe('decodeKubernetesProtobuf', () => {
  it('decodes a TokenRequest as kubectl create token sends it', () => {
    const body = envelope(
      'authentication.k8s.io/v1',
      'TokenRequest',
      'k8s.io.api.authentication.v1.TokenRequest',
      {
        metadata: goMeta({}),
        spec: {
          audiences: ['api'],
          expirationSeconds: 1200,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web', uid: '' },
        },
      },
    );
    const obj = decodeKubernetesProtobuf(body);
    assert.equal(obj.kind, 'TokenRequest');
    assert.deepEqual(obj['spec'], {
      audiences: ['api'],
      expirationSeconds: 1200,
      boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web' },
    });
  });

  it('decodes a hand-checked Namespace body as Go writes it', () => {
    // k8s\0 | Unknown{ typeMeta{apiVersion "v1", kind "Namespace"}, raw Namespace{metadata{name "ns1"}, spec{}, status{}}, "", "" }
    const body = new Uint8Array([
      ...MAGIC,
      0x0a,
      0x0f,
      0x0a,
      0x02,
      0x76,
      0x31,
      0x12,
      0x09,
      0x4e,
      0x61,
      0x6d,
      0x65,
      0x73,
      0x70,
      0x61,
      0x63,
      0x65,
      0x12,
      0x0b,
      0x0a,
      0x05,
      0x0a,
      0x03,
      0x6e,
      0x73,
      0x31,
      0x12,
      0x00,
      0x1a,
      0x00,
      0x1a,
      0x00,
      0x22,
      0x00,
    ]);
    assert.deepEqual(decodeKubernetesProtobuf(body), {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { name: 'ns1' },
      spec: {},
      status: {},
    });
  });

  it('decodes a ConfigMap and a Secret (bytes become base64)', () => {
    const cm = envelope('v1', 'ConfigMap', 'k8s.io.api.core.v1.ConfigMap', {
      metadata: goMeta({ name: 'cfg', namespace: 'default', labels: { app: 'x' } }),
      data: { 'a.conf': 'x=1' },
      binaryData: { bin: Buffer.from([0, 1, 2]) },
    });
    assert.deepEqual(decodeKubernetesProtobuf(cm), {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'cfg', namespace: 'default', labels: { app: 'x' } },
      data: { 'a.conf': 'x=1' },
      binaryData: { bin: 'AAEC' },
    });
    const secret = envelope('v1', 'Secret', 'k8s.io.api.core.v1.Secret', {
      metadata: goMeta({ name: 's' }),
      data: { password: Buffer.from('s3cr3t') },
      type: 'Opaque',
      immutable: false,
    });
    assert.deepEqual(decodeKubernetesProtobuf(secret), {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { name: 's' },
      data: { password: 'czNjcjN0' },
      type: 'Opaque',
      immutable: false,
    });
  });

  it('keeps zero values of pointer fields and drops those of plain fields', () => {
    const body = envelope('apps/v1', 'Deployment', 'k8s.io.api.apps.v1.Deployment', {
      metadata: goMeta({ name: 'web' }),
      spec: {
        replicas: 0,
        minReadySeconds: 0,
        paused: false,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: goMeta({ labels: { app: 'web' } }),
          spec: {
            restartPolicy: '',
            hostNetwork: false,
            containers: [
              {
                name: 'web',
                image: 'nginx',
                stdin: false,
                terminationMessagePath: '',
                resources: { limits: { cpu: { string: '500m' } } },
                ports: [{ containerPort: 80, hostPort: 0, protocol: 'TCP', name: '', hostIP: '' }],
                livenessProbe: {
                  handler: {
                    httpGet: { path: '/healthz', port: { type: 1, intVal: 0, strVal: 'http' }, scheme: '' },
                  },
                  periodSeconds: 5,
                },
              },
            ],
          },
        },
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: { type: 0, intVal: 0 }, maxSurge: { type: 1, strVal: '25%' } },
        },
      },
      status: {},
    });
    assert.deepEqual(decodeKubernetesProtobuf(body), {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: { name: 'web' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'nginx',
                ports: [{ containerPort: 80, protocol: 'TCP' }],
                resources: { limits: { cpu: '500m' } },
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
              },
            ],
          },
        },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      },
      status: {},
    });
  });

  it('inlines embedded structs and renders timestamps', () => {
    const body = envelope('v1', 'Pod', 'k8s.io.api.core.v1.Pod', {
      metadata: goMeta({
        name: 'p',
        creationTimestamp: { seconds: 1704067200 },
        deletionTimestamp: { seconds: 1704067260 },
      }),
      spec: {
        containers: [
          {
            name: 'c',
            image: 'x',
            env: [
              {
                name: 'K',
                valueFrom: { configMapKeyRef: { localObjectReference: { name: 'cfg' }, key: 'k' } },
              },
            ],
          },
        ],
        volumes: [
          { name: 'v', volumeSource: { cinder: { volumeID: 'vol-1', fsType: 'ext4', readOnly: false } } },
          {
            name: 'c',
            volumeSource: { configMap: { localObjectReference: { name: 'cfg' }, defaultMode: 420 } },
          },
        ],
      },
    });
    const pod = decodeKubernetesProtobuf(body) as Record<string, unknown>;
    assert.deepEqual(pod['metadata'], {
      name: 'p',
      creationTimestamp: '2024-01-01T00:00:00Z',
      deletionTimestamp: '2024-01-01T00:01:00Z',
    });
    assert.deepEqual((pod['spec'] as { volumes: unknown }).volumes, [
      { name: 'v', cinder: { volumeID: 'vol-1', fsType: 'ext4' } },
      { name: 'c', configMap: { name: 'cfg', defaultMode: 420 } },
    ]);
    assert.deepEqual((pod['spec'] as { containers: { env: unknown }[] }).containers[0]?.env, [
      { name: 'K', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } },
    ]);
  });

  it('rejects bodies without the magic, malformed bodies and unknown kinds', () => {
    assert.throws(
      () => decodeKubernetesProtobuf(new Uint8Array([1, 2, 3])),
      (e: Error) => isBadRequest(e),
    );
    assert.throws(
      () => decodeKubernetesProtobuf(new Uint8Array([...MAGIC, 0x0a, 0xff, 0x01])),
      (e: Error) => isBadRequest(e),
    );
    const unknownKind = envelope('v1', 'Namespace', 'k8s.io.api.core.v1.Namespace', {
      metadata: { name: 'x' },
    });
    // Rewrite the kind in a valid envelope to one h8s does not decode.
    const root = kubernetesProtobufRoot();
    const unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
    const env = unknown.toObject(unknown.decode(unknownKind.subarray(4)));
    const rewritten = unknown
      .encode(unknown.fromObject({ ...env, typeMeta: { apiVersion: 'v1', kind: 'Endpoints' } }))
      .finish();
    assert.throws(
      () => decodeKubernetesProtobuf(new Uint8Array([...MAGIC, ...rewritten])),
      (e: Error) => errorCode(e) === 'UnsupportedMediaType',
    );
    const encoded = unknown.encode(unknown.fromObject({ ...env, contentEncoding: 'gzip' })).finish();
    assert.throws(
      () => decodeKubernetesProtobuf(new Uint8Array([...MAGIC, ...encoded])),
      (e: Error) => errorCode(e) === 'UnsupportedMediaType',
    );
  });
});
