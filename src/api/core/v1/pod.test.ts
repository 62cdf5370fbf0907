import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admit, causeLines } from '../../testing/admission.js';
import type { KubeObject } from '../../kind-definition.js';
import { podKind, type Pod } from './pod.js';

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);

function pod(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec, ...extra };
}

const web = () => pod({ containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }] });

describe('Pod defaults', () => {
  it('fills the defaults kubectl shows and controllers rely on', () => {
    const r = admit(podKind, web(), { nowMs: NOW });
    assert.deepEqual(causeLines(r), []);
    const p = r.object as unknown as Pod;
    assert.equal(p.spec?.restartPolicy, 'Always');
    assert.equal(p.spec?.dnsPolicy, 'ClusterFirst');
    assert.equal(p.spec?.terminationGracePeriodSeconds, 30);
    assert.equal(p.spec?.schedulerName, 'default-scheduler');
    assert.equal(p.spec?.serviceAccountName, 'default');
    assert.equal(p.spec?.enableServiceLinks, true);
    assert.deepEqual(p.spec?.securityContext, {});
    const c = p.spec?.containers?.[0];
    assert.equal(c?.imagePullPolicy, 'Always');
    assert.equal(c?.terminationMessagePath, '/dev/termination-log');
    assert.equal(c?.terminationMessagePolicy, 'File');
    assert.equal(c?.ports?.[0]?.protocol, 'TCP');
    assert.equal(p.status?.phase, 'Pending');
    assert.equal(p.status?.qosClass, 'BestEffort');
    assert.deepEqual(
      p.spec?.tolerations?.map((t) => `${t.key}:${t.effect}:${t.tolerationSeconds}`),
      ['node.kubernetes.io/not-ready:NoExecute:300', 'node.kubernetes.io/unreachable:NoExecute:300'],
    );
  });

  it('pulls tagged images only when missing and copies limits to requests', () => {
    const r = admit(
      podKind,
      pod({
        containers: [
          {
            name: 'a',
            image: 'registry:5000/busybox:1.36',
            resources: { limits: { cpu: '500m', memory: '64Mi' } },
          },
        ],
      }),
    );
    const c = (r.object as unknown as Pod).spec?.containers?.[0];
    assert.equal(c?.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(c?.resources?.requests, { cpu: '500m', memory: '64Mi' });
    assert.equal((r.object as unknown as Pod).status?.qosClass, 'Guaranteed');
  });

  it('defaults probes, volumes and hostNetwork ports', () => {
    const r = admit(
      podKind,
      pod({
        hostNetwork: true,
        containers: [
          {
            name: 'a',
            image: 'x:latest',
            ports: [{ containerPort: 8080 }],
            livenessProbe: { httpGet: { port: 8080 } },
          },
        ],
        volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'cfg' } }],
      }),
    );
    assert.deepEqual(causeLines(r), []);
    const p = r.object as unknown as Pod;
    const c = p.spec?.containers?.[0];
    assert.equal(c?.ports?.[0]?.hostPort, 8080);
    assert.deepEqual(c?.livenessProbe, {
      httpGet: { port: 8080, path: '/', scheme: 'HTTP' },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    assert.deepEqual(p.spec?.volumes?.[0], { name: 'scratch', emptyDir: {} });
    assert.equal(p.spec?.volumes?.[1]?.configMap?.defaultMode, 0o644);
  });
});

describe('Pod validation', () => {
  it('reports a missing image with the upstream path and reason', () => {
    const r = admit(podKind, pod({ containers: [{ name: 'web' }] }));
    assert.deepEqual(causeLines(r), ['spec.containers[0].image: Required value']);
    assert.equal(r.error?.details.causes?.[0]?.reason, 'FieldValueRequired');
  });

  it('requires containers', () => {
    assert.deepEqual(causeLines(admit(podKind, pod({}))), ['spec.containers: Required value']);
  });

  it('rejects duplicate container names across init and regular containers', () => {
    const r = admit(
      podKind,
      pod({ initContainers: [{ name: 'a', image: 'x' }], containers: [{ name: 'a', image: 'x' }] }),
    );
    assert.deepEqual(causeLines(r), ['spec.containers[0].name: Duplicate value: "a"']);
  });

  it('checks ports, protocols and unsupported enum values', () => {
    const r = admit(
      podKind,
      pod({
        restartPolicy: 'Sometimes',
        containers: [
          {
            name: 'a',
            image: 'x',
            imagePullPolicy: 'Maybe',
            ports: [{ containerPort: 70000, protocol: 'ICMP' }, { containerPort: 0 }],
          },
        ],
      }),
    );
    assert.deepEqual(causeLines(r), [
      'spec.containers[0].imagePullPolicy: Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"',
      'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
      'spec.containers[0].ports[1].containerPort: Required value',
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]);
  });

  it('requires volume mounts to name a volume and resources to be well formed', () => {
    const r = admit(
      podKind,
      pod({
        containers: [
          {
            name: 'a',
            image: 'x',
            volumeMounts: [{ name: 'nope', mountPath: '/data' }],
            resources: { limits: { cpu: '1' }, requests: { cpu: '2', memory: '12x' } },
          },
        ],
      }),
    );
    const lines = causeLines(r);
    assert.ok(lines.includes('spec.containers[0].volumeMounts[0].name: Not found: "nope"'), lines.join('\n'));
    assert.ok(
      lines.includes(
        'spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1',
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith(
          'spec.containers[0].resources.requests[memory]: Invalid value: "12x": quantities must match',
        ),
      ),
      lines.join('\n'),
    );
  });

  it('accepts the seed cinder volume and rejects an unsupported filesystem', () => {
    const ok = admit(
      podKind,
      pod({
        containers: [{ name: 'a', image: 'x', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [
          { name: 'data', cinder: { volumeID: '651b2a7b-683e-47e1-bdd6-e3c62e8f91c0', fsType: 'ext4' } },
        ],
      }),
    );
    assert.deepEqual(causeLines(ok), []);
    const bad = admit(
      podKind,
      pod({
        containers: [{ name: 'a', image: 'x' }],
        volumes: [{ name: 'data', cinder: { volumeID: 'v', fsType: 'ext4;reboot' } }],
      }),
    );
    assert.match(
      causeLines(bad)[0] ?? '',
      /^spec.volumes\[0\].cinder.fsType: Unsupported value: "ext4;reboot"/,
    );
    const missing = admit(
      podKind,
      pod({
        containers: [{ name: 'a', image: 'x' }],
        volumes: [{ name: 'data', cinder: { fsType: 'ext4' } }],
      }),
    );
    assert.deepEqual(causeLines(missing), ['spec.volumes[0].cinder.volumeID: Required value']);
  });

  it('rejects two sources in one volume and bad env', () => {
    const r = admit(
      podKind,
      pod({
        containers: [
          {
            name: 'a',
            image: 'x',
            env: [
              { name: 'A=B', value: 'x' },
              { name: 'B', value: 'x', valueFrom: { fieldRef: { fieldPath: 'spec.nope' } } },
            ],
          },
        ],
        volumes: [{ name: 'v', emptyDir: {}, hostPath: { path: '/tmp' } }],
      }),
    );
    const lines = causeLines(r).join('\n');
    assert.match(lines, /spec.volumes\[0\].emptyDir: Forbidden: may not specify more than 1 volume type/);
    assert.match(lines, /spec.containers\[0\].env\[0\].name: Invalid value: "A=B"/);
    assert.match(
      lines,
      /spec.containers\[0\].env\[1\].valueFrom: Invalid value: "": may not be specified when `value` is not empty/,
    );
    assert.match(
      lines,
      /spec.containers\[0\].env\[1\].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.nope"/,
    );
  });

  it('validates tolerations and affinity', () => {
    const r = admit(
      podKind,
      pod({
        containers: [{ name: 'a', image: 'x' }],
        tolerations: [
          { key: 'k', operator: 'Exists', value: 'v' },
          { key: 'k', tolerationSeconds: 5, effect: 'NoSchedule' },
        ],
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
        },
      }),
    );
    const lines = causeLines(r).join('\n');
    assert.match(
      lines,
      /spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term/,
    );
    assert.match(
      lines,
      /spec.tolerations\[0\].operator: Invalid value: "v": value must be empty when `operator` is 'Exists'/,
    );
    assert.match(
      lines,
      /spec.tolerations\[1\].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when `tolerationSeconds` is set/,
    );
  });

  it('finds unknown fields and type errors before semantic validation', () => {
    const typo = pod({ containers: [{ name: 'a', image: 'x', imagee: 'y' }] });
    assert.deepEqual(causeLines(admit(podKind, typo)), [
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee"',
    ]);
    const warned = admit(podKind, typo, { fieldValidation: 'Warn' });
    assert.deepEqual(warned.warnings, ['unknown field "spec.containers[0].imagee"']);
    assert.equal((warned.object as unknown as Pod).spec?.containers?.[0]?.image, 'x');
    const t = admit(podKind, pod({ containers: [{ name: 'a', image: 3, imagee: 'y' }] }));
    assert.equal(t.error?.code, 'BadRequest');
    assert.match(
      t.error?.message ?? '',
      /^Pod in version "v1" cannot be handled as a Pod: strict decoding error/,
    );
    const typed = admit(podKind, pod({ containers: [{ name: 'a', image: 3 }] }));
    assert.match(typed.error?.message ?? '', /: spec\.containers\[0\]\.image: Invalid value: /);
  });
});

describe('Pod updates', () => {
  const created = () => admit(podKind, web(), { nowMs: NOW }).object;

  it('allows changing the image and adding tolerations', () => {
    const old = created();
    const next = structuredClone(old) as unknown as Pod;
    (next.spec?.containers?.[0] as { image: string }).image = 'nginx:1.27';
    next.spec?.tolerations?.push({ key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' });
    assert.deepEqual(causeLines(admit(podKind, next, { old })), []);
  });

  it('forbids other spec changes with the upstream message', () => {
    const old = created();
    const next = structuredClone(old) as unknown as Pod;
    (next.spec as { restartPolicy: string }).restartPolicy = 'Never';
    const lines = causeLines(admit(podKind, next, { old }));
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? '',
      /^spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/,
    );
  });

  it('allows activeDeadlineSeconds to shrink but not grow', () => {
    const base = admit(
      podKind,
      pod({ activeDeadlineSeconds: 100, containers: [{ name: 'a', image: 'x' }] }),
    ).object;
    const shorter = structuredClone(base) as unknown as Pod;
    (shorter.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds = 50;
    assert.deepEqual(causeLines(admit(podKind, shorter, { old: base })), []);
    const longer = structuredClone(base) as unknown as Pod;
    (longer.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds = 200;
    assert.deepEqual(causeLines(admit(podKind, longer, { old: base })), [
      'spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value',
    ]);
  });
});

describe('Pod table', () => {
  const cols = podKind.columns.map((c) => c.name);
  const row = (p: Record<string, unknown>) => podKind.row(p as unknown as KubeObject, NOW);
  const base = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-01T11:55:00Z' },
    spec: {
      containers: [
        { name: 'a', image: 'x' },
        { name: 'b', image: 'x' },
      ],
      nodeName: 'node-1',
    },
  };

  it('has the columns kubectl shows', () => {
    assert.deepEqual(cols, [
      'Name',
      'Ready',
      'Status',
      'Restarts',
      'Age',
      'IP',
      'Node',
      'Nominated Node',
      'Readiness Gates',
    ]);
    assert.deepEqual(
      podKind.columns.map((c) => c.priority),
      [0, 0, 0, 0, 0, 1, 1, 1, 1],
    );
  });

  it('shows a pending pod', () => {
    assert.deepEqual(row({ ...base, status: { phase: 'Pending' } }), [
      'web',
      '0/2',
      'Pending',
      '0',
      '5m',
      '<none>',
      'node-1',
      '<none>',
      '<none>',
    ]);
  });

  it('shows ContainerCreating and CrashLoopBackOff from waiting reasons, with restarts', () => {
    const creating = row({
      ...base,
      status: {
        phase: 'Pending',
        containerStatuses: [
          { name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
        ],
      },
    });
    assert.equal(creating[2], 'ContainerCreating');
    const crash = row({
      ...base,
      status: {
        phase: 'Running',
        podIP: '10.0.0.5',
        containerStatuses: [
          {
            name: 'a',
            ready: true,
            restartCount: 0,
            state: { running: { startedAt: '2024-01-01T11:56:00Z' } },
          },
          {
            name: 'b',
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, finishedAt: '2024-01-01T11:58:00Z' } },
          },
        ],
      },
    });
    assert.deepEqual(crash.slice(1, 6), ['1/2', 'CrashLoopBackOff', '4 (2m ago)', '5m', '10.0.0.5']);
  });

  it('shows Running and Completed', () => {
    const running = row({
      ...base,
      status: {
        phase: 'Running',
        containerStatuses: ['a', 'b'].map((name) => ({
          name,
          ready: true,
          restartCount: 0,
          state: { running: {} },
        })),
      },
    });
    assert.deepEqual(running.slice(1, 3), ['2/2', 'Running']);
    const done = row({
      ...base,
      status: {
        phase: 'Succeeded',
        containerStatuses: ['a', 'b'].map((name) => ({
          name,
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed' } },
        })),
      },
    });
    assert.deepEqual(done.slice(1, 3), ['0/2', 'Completed']);
    const errored = row({
      ...base,
      status: {
        phase: 'Failed',
        containerStatuses: [
          { name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } },
        ],
      },
    });
    assert.equal(errored[2], 'ExitCode:2');
  });

  it('shows init progress and init failures', () => {
    const withInit = {
      ...base,
      spec: {
        ...base.spec,
        initContainers: [
          { name: 'i1', image: 'x' },
          { name: 'i2', image: 'x' },
        ],
      },
    };
    const progress = row({
      ...withInit,
      status: {
        phase: 'Pending',
        initContainerStatuses: [
          {
            name: 'i1',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0, reason: 'Completed' } },
          },
          { name: 'i2', ready: false, restartCount: 0, state: { running: {} } },
        ],
      },
    });
    assert.equal(progress[2], 'Init:1/2');
    const failed = row({
      ...withInit,
      status: {
        phase: 'Pending',
        initContainerStatuses: [
          { name: 'i1', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } },
        ],
      },
    });
    assert.equal(failed[2], 'Init:CrashLoopBackOff');
    assert.equal(failed[3], '3');
  });

  it('shows Terminating once deletion started', () => {
    const r = row({
      ...base,
      metadata: { ...base.metadata, deletionTimestamp: '2024-01-01T12:00:00Z' },
      status: { phase: 'Running' },
    });
    assert.equal(r[2], 'Terminating');
  });

  it('answers the pod field selectors', () => {
    const p = {
      ...base,
      spec: { ...base.spec, hostNetwork: true },
      status: { phase: 'Running', podIP: '10.0.0.1' },
    } as unknown as KubeObject;
    const fs = podKind.fieldSelectors;
    assert.equal(fs['spec.nodeName']?.(p), 'node-1');
    assert.equal(fs['spec.hostNetwork']?.(p), 'true');
    assert.equal(fs['status.phase']?.(p), 'Running');
    assert.equal(fs['status.podIP']?.(p), '10.0.0.1');
    assert.deepEqual(Object.keys(fs).sort(), [
      'spec.hostNetwork',
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'status.nominatedNodeName',
      'status.phase',
      'status.podIP',
    ]);
  });
});
