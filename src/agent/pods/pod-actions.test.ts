import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../../api/index.js';
import { computePodActions, isPodFinished, type WorkerFacts } from './pod-actions.js';
import { containerHash } from './runtime-config.js';
import type { ContainerKind, ContainerPhase, ContainerView, PodRuntimeView } from './runtime-view.js';

const facts = (over: Partial<WorkerFacts> = {}): WorkerFacts => ({
  isLivenessFailed: () => false,
  isStarted: () => true,
  restartDelayMs: () => 0,
  hashOf: (spec, kind) => containerHash(spec, kind),
  ...over,
});

function podOf(spec: NonNullable<Pod['spec']>): Pod {
  return { metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec };
}

const app = (name: string, extra: Partial<Container> = {}): Container => ({
  name,
  image: 'busybox',
  ...extra,
});

let seq = 0;
function c(
  pod: Pod,
  name: string,
  kind: ContainerKind,
  state: ContainerPhase,
  attempt = 0,
  sandboxId = 's1',
): ContainerView {
  const list = kind === 'init' ? pod.spec?.initContainers : pod.spec?.containers;
  const spec = (list ?? []).find((x) => x.name === name) ?? app(name);
  return {
    id: `c${seq++}`,
    sandboxId,
    name,
    kind,
    attempt,
    hash: containerHash(spec, kind),
    image: 'busybox',
    imageRef: 'sha256:1',
    createdAtNs: seq,
    state,
  };
}

const running: ContainerPhase = { phase: 'running', startedAtNs: 1 };
const exited = (exitCode: number): ContainerPhase => ({
  phase: 'exited',
  exitCode,
  reason: '',
  message: '',
  startedAtNs: 1,
  finishedAtNs: 2,
});
const sandbox = (id = 's1', attempt = 0, phase: 'ready' | 'notReady' = 'ready') => ({
  id,
  attempt,
  phase,
  createdAt: attempt,
  handler: 'runc',
});

describe('computePodActions', () => {
  it('creates a sandbox for a new pod', () => {
    const a = computePodActions(
      podOf({ containers: [app('a')] }),
      { sandboxes: [], containers: [] },
      facts(),
    );
    assert.deepEqual(a.createSandbox, { attempt: 0 });
    assert.equal(a.killPod, false);
  });

  it('starts the app containers once there is a sandbox and no init containers', () => {
    const a = computePodActions(
      podOf({ containers: [app('a'), app('b')] }),
      { sandboxes: [sandbox()], containers: [] },
      facts(),
    );
    assert.deepEqual(a.start, [
      { name: 'a', kind: 'app' },
      { name: 'b', kind: 'app' },
    ]);
    assert.equal(a.isInitialized, true);
  });

  it('runs init containers one at a time, in order, before any app container', () => {
    const pod = podOf({ initContainers: [app('i1'), app('i2')], containers: [app('a')] });
    let view: PodRuntimeView = { sandboxes: [sandbox()], containers: [] };
    assert.deepEqual(computePodActions(pod, view, facts()).start, [{ name: 'i1', kind: 'init' }]);
    view = { sandboxes: [sandbox()], containers: [c(pod, 'i1', 'init', running)] };
    assert.deepEqual(computePodActions(pod, view, facts()).start, []);
    view = { sandboxes: [sandbox()], containers: [c(pod, 'i1', 'init', exited(0))] };
    assert.deepEqual(computePodActions(pod, view, facts()).start, [{ name: 'i2', kind: 'init' }]);
    view = {
      sandboxes: [sandbox()],
      containers: [c(pod, 'i1', 'init', exited(0)), c(pod, 'i2', 'init', exited(0))],
    };
    const a = computePodActions(pod, view, facts());
    assert.deepEqual(a.start, [{ name: 'a', kind: 'app' }]);
    assert.equal(a.isInitialized, true);
  });

  it('restarts a failed init container, or fails the pod under restartPolicy Never', () => {
    const spec = { initContainers: [app('i1')], containers: [app('a')] };
    const pod = podOf(spec);
    const view = { sandboxes: [sandbox()], containers: [c(pod, 'i1', 'init', exited(1))] };
    assert.deepEqual(computePodActions(pod, view, facts()).start, [{ name: 'i1', kind: 'init' }]);
    const never = podOf({ ...spec, restartPolicy: 'Never' });
    const a = computePodActions(never, view, facts());
    assert.match(a.podFailed?.message ?? '', /Init container "i1" exited with code 1/);
    assert.equal(a.killPod, true);
  });

  it('treats a restartable init container (sidecar) as done once started, and restarts it when it exits', () => {
    const pod = podOf({ initContainers: [app('side', { restartPolicy: 'Always' })], containers: [app('a')] });
    let view: PodRuntimeView = { sandboxes: [sandbox()], containers: [c(pod, 'side', 'init', running)] };
    assert.deepEqual(computePodActions(pod, view, facts()).start, [{ name: 'a', kind: 'app' }]);
    assert.deepEqual(computePodActions(pod, view, facts({ isStarted: () => false })).start, []);
    view = {
      sandboxes: [sandbox()],
      containers: [c(pod, 'side', 'init', exited(0)), c(pod, 'a', 'app', running)],
    };
    assert.deepEqual(computePodActions(pod, view, facts()).start, [{ name: 'side', kind: 'init' }]);
  });

  it('restarts by restartPolicy, after the back-off', () => {
    const view = (pod: Pod, code: number) => ({
      sandboxes: [sandbox()],
      containers: [c(pod, 'a', 'app', exited(code))],
    });
    const always = podOf({ containers: [app('a')] });
    assert.deepEqual(computePodActions(always, view(always, 0), facts()).start, [{ name: 'a', kind: 'app' }]);
    const onFailure = podOf({ restartPolicy: 'OnFailure', containers: [app('a'), app('b')] });
    const v = {
      sandboxes: [sandbox()],
      containers: [c(onFailure, 'a', 'app', exited(0)), c(onFailure, 'b', 'app', exited(2))],
    };
    assert.deepEqual(computePodActions(onFailure, v, facts()).start, [{ name: 'b', kind: 'app' }]);
    const backingOff = computePodActions(always, view(always, 1), facts({ restartDelayMs: () => 7_000 }));
    assert.deepEqual(backingOff.start, []);
    assert.deepEqual(backingOff.backingOff, [{ name: 'a', kind: 'app', retryInMs: 7_000 }]);
  });

  it('kills a container whose liveness probe failed or whose spec changed', () => {
    const pod = podOf({ containers: [app('a')] });
    const live = c(pod, 'a', 'app', running);
    const a = computePodActions(
      pod,
      { sandboxes: [sandbox()], containers: [live] },
      facts({ isLivenessFailed: () => true }),
    );
    assert.equal(a.kill[0]?.id, live.id);
    assert.match(a.kill[0]?.message ?? '', /failed liveness probe/);
    const changed = podOf({ containers: [app('a', { image: 'busybox:2' })] });
    assert.match(
      computePodActions(changed, { sandboxes: [sandbox()], containers: [live] }, facts()).kill[0]?.message ??
        '',
      /definition changed/,
    );
  });

  it('recreates a sandbox that is not ready, and leaves a finished pod alone', () => {
    const pod = podOf({ containers: [app('a')] });
    const a = computePodActions(pod, { sandboxes: [sandbox('s1', 0, 'notReady')], containers: [] }, facts());
    assert.deepEqual(a.createSandbox, { attempt: 1 });
    const never = podOf({ restartPolicy: 'Never', containers: [app('a')] });
    const done = { sandboxes: [sandbox()], containers: [c(never, 'a', 'app', exited(1))] };
    assert.equal(isPodFinished(never, done), true);
    const f = computePodActions(never, done, facts());
    assert.equal(f.createSandbox, undefined);
    assert.equal(f.killPod, true);
    assert.deepEqual(f.start, []);
  });

  it('restarts everything in a new sandbox (containers of an older sandbox do not count)', () => {
    const pod = podOf({ containers: [app('a')] });
    const old = c(pod, 'a', 'app', exited(0), 0, 's0');
    const a = computePodActions(
      pod,
      { sandboxes: [sandbox('s1', 1), sandbox('s0', 0, 'notReady')], containers: [old] },
      facts(),
    );
    assert.deepEqual(a.start, [{ name: 'a', kind: 'app' }]);
  });
});
