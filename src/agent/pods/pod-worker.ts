/**
 * Syncing one pod (kubelet's `SyncPod`, `SyncTerminatingPod`): read what the runtime holds,
 * compute the actions (pod-actions.ts), carry them out, and report the status. Called by the
 * pod dispatcher, never twice at once for one pod; every call starts again from the runtime's
 * state, so an interrupted or repeated sync converges instead of duplicating anything.
 *
 * Order for a new sandbox: volumes (FailedMount blocks the pod until its sources exist), the
 * network, then the sandbox; then init containers one by one, then app containers, each
 * pulled, created and started, with postStart run before the container counts as started.
 *
 * Termination: preStop hooks and the stop signal within the grace period, the sandbox and the
 * network torn down, the runtime objects and volume files removed; only then is the pod deleted
 * from the API (grace 0, with its uid as precondition), so nothing is ever lost or leaked.
 */
import type { Container, KubeObject, Pod, PodStatus, RuntimeClass } from '../../api/index.js';
import {
  builtinResources,
  type ApiClient,
  type EventRecorder,
  type EventTarget,
} from '../../client/index.js';
import {
  bestEffort,
  describeError,
  errorCode,
  isNotFound,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import type { ImageRecord, NodeRuntime, RuntimeHandlerName, SandboxNetwork } from '../../runtime/index.js';
import type { ProbeManager } from '../probes/probe-manager.js';
import { runProbeAction } from '../probes/probe-runner.js';
import type { PodVolumes } from '../volumes/pod-volumes.js';
import { VolumeSetupError, checkVolumesAllowed } from '../volumes/pod-volumes.js';
import { containerEnv, type PodAddresses } from './container-env.js';
import { expandVars } from './expand-vars.js';
import { computePodActions, type ContainerRef, type PodActions, type WorkerFacts } from './pod-actions.js';
import type { PodSources } from './pod-sources.js';
import { computePodStatus, type WaitingReason } from './pod-status.js';
import { authForImage } from './pull-secrets.js';
import { RestartBackoff } from './restart-backoff.js';
import {
  containerConfig,
  containerHash,
  handlerFor,
  podSandboxConfig,
  verifyRunAsNonRoot,
} from './runtime-config.js';
import type { RuntimeSnapshotReader } from './runtime-snapshot.js';
import { latestContainer, type ContainerKind, type PodRuntimeView } from './runtime-view.js';
import { serviceLinkEnv } from './service-env.js';
import type { PodStatusWriter } from './status-writer.js';

/** Plumbs pods into their network (the agent's network layer implements it). */
export interface PodNetworking {
  /**
   * Gives the pod its interfaces before its sandbox starts; idempotent for one pod (a second
   * call returns the same addresses).
   */
  setUp(
    pod: Pod,
    handler: RuntimeHandlerName,
  ): Promise<{ network: SandboxNetwork | undefined; podIPs: string[] }>;
  /** Removes what setUp made and frees its addresses. Idempotent, also for unknown pods. */
  tearDown(podUid: string): Promise<void>;
  /**
   * Called once before the pod workers start, with the uids of every pod the runtime holds:
   * frees what pods no longer running still hold (docs/agent.md, "Recovery").
   */
  recover?(livePodUids: ReadonlySet<string>): Promise<void>;
}

/** No pod network: runc pods get loopback only, VM pods no NIC (the default before ADR 0007). */
export const noPodNetworking: PodNetworking = {
  setUp: () => Promise.resolve({ network: undefined, podIPs: [] }),
  tearDown: () => Promise.resolve(),
};

export interface PodWorkerDeps {
  readonly runtime: NodeRuntime;
  readonly snapshot: RuntimeSnapshotReader;
  readonly client: ApiClient;
  readonly events: EventRecorder;
  readonly sources: PodSources;
  readonly volumes: PodVolumes;
  readonly network: PodNetworking;
  readonly probes: ProbeManager;
  readonly status: PodStatusWriter;
  readonly clock: Clock;
  readonly log: Logger;
  readonly nodeName: string;
  readonly hostIPs: readonly string[];
  readonly nodeAllocatable: Readonly<Record<string, string>>;
  /** Where a pod's container logs go: `<logsDir>/<namespace>_<name>_<uid>/`. */
  readonly logsDir: string;
}

/** What the worker remembers between syncs of a pod (nothing it could not recompute). */
interface PodMemory {
  readonly waiting: Map<string, WaitingReason>;
  podFailure: { reason: string; message: string } | undefined;
  podIPs: string[];
  /** Image pulls in back-off: image → ms when the next pull may start. */
  readonly pullRetryAt: Map<string, { atMs: number; delayMs: number }>;
  lastVolumeWriteMs: number;
}

export interface SyncResult {
  /** Sync again after this long at the latest (back-off expiry, volume refresh). */
  readonly requeueAfterMs: number | undefined;
  /** The pod is gone from the node and the API: forget it. */
  readonly isDone: boolean;
}

const volumeRefreshMs = 30_000;
const maxPullBackoffMs = 300_000;

function containerKey(uid: string, ref: ContainerRef): string {
  return `${uid}/${ref.kind}/${ref.name}`;
}

function podTarget(pod: Pod, fieldPath?: string): EventTarget {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    ...(fieldPath ? { fieldPath } : {}),
  };
}

function fieldPathOf(kind: ContainerKind, name: string): string {
  return `spec.${kind === 'init' ? 'initContainers' : 'containers'}{${name}}`;
}

function specOf(pod: Pod, ref: ContainerRef): Container | undefined {
  const list = ref.kind === 'init' ? pod.spec?.initContainers : pod.spec?.containers;
  return (list ?? []).find((c) => c.name === ref.name);
}

function nsToMs(ns: number): number {
  return Math.floor(ns / 1e6);
}

export class PodWorker {
  readonly #d: PodWorkerDeps;
  readonly #backoff = new RestartBackoff();
  readonly #memory = new Map<string, PodMemory>();

  constructor(deps: PodWorkerDeps) {
    this.#d = deps;
  }

  #mem(uid: string): PodMemory {
    let m = this.#memory.get(uid);
    if (!m) {
      m = {
        waiting: new Map(),
        podFailure: undefined,
        podIPs: [],
        pullRetryAt: new Map(),
        lastVolumeWriteMs: 0,
      };
      this.#memory.set(uid, m);
    }
    return m;
  }

  /**
   * Brings `pod` (the API's latest) one round closer to its spec. `pod` undefined or
   * terminating: stops and removes it. `uid` names the pod when the API has forgotten it.
   */
  async sync(uid: string, pod: Pod | undefined, signal: AbortSignal): Promise<SyncResult> {
    const view = await this.#d.snapshot.readPod(uid);
    if (!pod || pod.metadata?.deletionTimestamp) {
      return this.#terminate(uid, pod, view, signal);
    }
    const mem = this.#mem(uid);
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') {
      // Terminal pods never run again (upstream): make sure nothing of them still runs.
      await this.#stopSandboxes(pod, view, 'the pod has terminated');
      return { requeueAfterMs: undefined, isDone: false };
    }

    let runtimeClass: RuntimeClass | undefined;
    let handler: RuntimeHandlerName;
    try {
      runtimeClass = pod.spec?.runtimeClassName
        ? await this.#d.sources.findRuntimeClass(pod.spec.runtimeClassName)
        : undefined;
    } catch (err) {
      this.#d.log.warn('Cannot read RuntimeClass', { pod: this.#name(pod), error: describeError(err) });
      return { requeueAfterMs: 5_000, isDone: false };
    }
    if (pod.spec?.runtimeClassName && !runtimeClass) {
      // Upstream: the sandbox cannot be created; the pod stays Pending and is retried.
      this.#d.events.warning(
        podTarget(pod),
        'FailedCreatePodSandBox',
        `Failed to create pod sandbox: RuntimeClass "${pod.spec.runtimeClassName}" not found`,
      );
      await this.#report(pod, view, undefined, 'hyper');
      return { requeueAfterMs: 10_000, isDone: false };
    }
    try {
      handler = handlerFor(pod, runtimeClass);
      checkVolumesAllowed(pod, handler);
    } catch (err) {
      // A pod this node can never run fails at admission (kubelet: UnexpectedAdmissionError).
      const message = describeError(err);
      if (!mem.podFailure) this.#d.events.warning(podTarget(pod), 'FailedCreatePodSandBox', message);
      mem.podFailure = { reason: 'UnexpectedAdmissionError', message };
      await this.#report(pod, view, undefined, 'hyper');
      return { requeueAfterMs: undefined, isDone: false };
    }
    mem.podFailure = undefined;

    let actions = this.#plan(pod, view);
    let requeueAfterMs: number | undefined;
    const soonest = (ms: number | undefined): void => {
      if (ms !== undefined && (requeueAfterMs === undefined || ms < requeueAfterMs))
        requeueAfterMs = Math.max(0, ms);
    };

    if (actions.killPod) await this.#stopSandboxes(pod, view, 'the pod sandbox changed');
    let sandboxId = actions.sandboxId;
    let current = view;
    if (actions.podFailed) {
      await this.#report(pod, view, actions, handler);
      return { requeueAfterMs: undefined, isDone: false };
    }

    // Volumes: written before the sandbox, refreshed every 30 s while the pod runs.
    const addresses = (): PodAddresses => ({ podIPs: mem.podIPs, hostIPs: this.#d.hostIPs });
    const now = this.#d.clock.now();
    if (actions.createSandbox || now - mem.lastVolumeWriteMs >= volumeRefreshMs || this.#tokenDue(uid, now)) {
      try {
        const changed = await this.#d.volumes.writeFileVolumes(pod, addresses());
        mem.lastVolumeWriteMs = now;
        mem.waiting.delete('volumes');
        if (sandboxId && this.#d.runtime.syncPodFiles) {
          for (const dir of changed) await this.#d.runtime.syncPodFiles(sandboxId, dir);
        }
      } catch (err) {
        const message = err instanceof VolumeSetupError ? err.message : describeError(err);
        this.#d.events.warning(podTarget(pod), 'FailedMount', message);
        if (actions.createSandbox) {
          mem.waiting.set('volumes', { reason: 'ContainerCreating', message: '' });
          await this.#report(pod, view, actions, handler);
          // Retry soon: the ConfigMap may appear at any moment (kubelet retries every ~2 s).
          return { requeueAfterMs: 2_000, isDone: false };
        }
        this.#d.log.warn('Cannot refresh pod volumes', { pod: this.#name(pod), error: message });
      }
    }
    soonest(volumeRefreshMs);
    const tokenAt = this.#d.volumes.tokenRefreshAt(uid);
    if (tokenAt !== undefined) soonest(tokenAt - now);

    if (actions.createSandbox) {
      try {
        sandboxId = await this.#createSandbox(pod, actions.createSandbox.attempt, handler, runtimeClass, mem);
      } catch (err) {
        this.#d.events.warning(
          podTarget(pod),
          'FailedCreatePodSandBox',
          `Failed to create pod sandbox: ${describeError(err)}`,
        );
        await bestEffort(
          this.#d.log,
          'tear down the network of a failed sandbox',
          this.#d.network.tearDown(uid),
        );
        await this.#report(pod, view, actions, handler);
        return { requeueAfterMs: 5_000, isDone: false };
      }
      current = await this.#d.snapshot.readPod(uid);
      actions = this.#plan(pod, current);
      sandboxId = actions.sandboxId ?? sandboxId;
    } else if (sandboxId && mem.podIPs.length === 0) {
      // After an agent restart: the addresses are the sandbox's.
      const status = await bestEffort(
        this.#d.log,
        'read the sandbox address',
        this.#d.runtime.podSandboxStatus(sandboxId),
      );
      if (status?.network.ip) mem.podIPs = [status.network.ip, ...status.network.additionalIps];
    }

    if (sandboxId) {
      for (const k of actions.kill) {
        this.#d.events.normal(podTarget(pod, fieldPathOf(k.kind, k.name)), 'Killing', k.message);
        await this.#killContainer(pod, k.id, k.name, k.kind, pod.spec?.terminationGracePeriodSeconds ?? 30);
      }
      if (actions.kill.length > 0) {
        current = await this.#d.snapshot.readPod(uid);
        actions = this.#plan(pod, current);
      }
      for (const ref of actions.start) {
        if (signal.aborted) break;
        const started = await this.#startContainer(pod, ref, sandboxId, current);
        if (started.retryInMs !== undefined) soonest(started.retryInMs);
        // Init containers run one at a time: the next one waits for this one to exit.
        if (ref.kind === 'init') break;
      }
      current = await this.#d.snapshot.readPod(uid);
      actions = this.#plan(pod, current);
      for (const b of actions.backingOff) {
        this.#d.events.warning(
          podTarget(pod, fieldPathOf(b.kind, b.name)),
          'BackOff',
          `Back-off restarting failed container ${b.name} in pod ${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${uid})`,
        );
        soonest(b.retryInMs);
      }
      this.#ensureProbes(pod, current, sandboxId);
    }
    await this.#report(pod, current, actions, handler);
    return { requeueAfterMs, isDone: false };
  }

  #tokenDue(uid: string, now: number): boolean {
    const at = this.#d.volumes.tokenRefreshAt(uid);
    return at !== undefined && at <= now;
  }

  #name(pod: Pod): string {
    return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  }

  #facts(pod: Pod): WorkerFacts {
    const uid = pod.metadata?.uid ?? '';
    const now = this.#d.clock.now();
    return {
      isLivenessFailed: (c, spec) => this.#d.probes.isLivenessFailed(uid, spec.name ?? c.name, c.id),
      isStarted: (c, spec) => this.#d.probes.isStarted(uid, spec.name ?? c.name, c.id),
      restartDelayMs: (ref, latest) =>
        latest.state.phase === 'exited'
          ? this.#backoff.delayMs(
              containerKey(uid, ref),
              nsToMs(latest.state.startedAtNs),
              nsToMs(latest.state.finishedAtNs) || now,
              now,
            )
          : 0,
      hashOf: (spec, kind) => containerHash(spec, kind),
    };
  }

  #plan(pod: Pod, view: PodRuntimeView): PodActions {
    return computePodActions(pod, view, this.#facts(pod));
  }

  async #report(
    pod: Pod,
    view: PodRuntimeView,
    actions: PodActions | undefined,
    handler: RuntimeHandlerName,
  ): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const mem = this.#mem(uid);
    const plan = actions ?? this.#plan(pod, view);
    const status: PodStatus = computePodStatus(pod, view, plan, {
      nowMs: this.#d.clock.now(),
      runtimeType: handler,
      podIPs: pod.spec?.hostNetwork ? [...this.#d.hostIPs] : mem.podIPs,
      hostIPs: this.#d.hostIPs,
      isReady: (c, spec) => this.#d.probes.isReady(uid, spec.name ?? c.name, c.id),
      isStarted: (c, spec) => this.#d.probes.isStarted(uid, spec.name ?? c.name, c.id),
      waitingReason: (name, kind) => mem.waiting.get(`${kind}/${name}`) ?? mem.waiting.get('volumes'),
      podFailure: mem.podFailure,
    });
    await this.#d.status.set(pod, status);
  }

  async #createSandbox(
    pod: Pod,
    attempt: number,
    handler: RuntimeHandlerName,
    runtimeClass: RuntimeClass | undefined,
    mem: PodMemory,
  ): Promise<string> {
    const meta = pod.metadata ?? {};
    const net = pod.spec?.hostNetwork
      ? { network: undefined, podIPs: [...this.#d.hostIPs] }
      : await this.#d.network.setUp(pod, handler);
    mem.podIPs = net.podIPs;
    const config = podSandboxConfig({
      pod,
      attempt,
      runtimeClass,
      logDirectory: `${this.#d.logsDir}/${meta.namespace ?? ''}_${meta.name ?? ''}_${meta.uid ?? ''}`,
      network: net.network,
    });
    const id = await this.#d.runtime.runPodSandbox(config, handler);
    this.#d.log.info('Started pod sandbox', { pod: this.#name(pod), sandboxId: id, handler, attempt });
    return id;
  }

  /** Pulls (by policy), creates and starts one container. */
  async #startContainer(
    pod: Pod,
    ref: ContainerRef,
    sandboxId: string,
    view: PodRuntimeView,
  ): Promise<{ retryInMs?: number }> {
    const uid = pod.metadata?.uid ?? '';
    const mem = this.#mem(uid);
    const spec = specOf(pod, ref);
    if (!spec) return {};
    const target = podTarget(pod, fieldPathOf(ref.kind, ref.name));
    const waitKey = `${ref.kind}/${ref.name}`;
    const image = spec.image ?? '';

    // 1. The image, by pull policy.
    let record: ImageRecord;
    try {
      const pulled = await this.#ensureImage(pod, spec, target, mem);
      if ('retryInMs' in pulled) return { retryInMs: pulled.retryInMs };
      record = pulled.record;
    } catch (err) {
      return { retryInMs: this.#pullFailed(mem, waitKey, image, err, target) };
    }

    // 2. The config: env, mounts, security.
    const latest = latestContainer(view, ref.name, ref.kind);
    const attempt = latest ? latest.attempt + 1 : 0;
    let config;
    try {
      verifyRunAsNonRoot(pod, spec, record.config.user);
      const services = await this.#d.sources.servicesForLinks(pod);
      const env = await containerEnv(
        pod,
        spec,
        {
          findConfigMap: (ns, n) => this.#d.sources.findConfigMap(ns, n),
          findSecret: (ns, n) => this.#d.sources.findSecret(ns, n),
          serviceEnv: serviceLinkEnv(services),
          nodeAllocatable: this.#d.nodeAllocatable,
        },
        { podIPs: mem.podIPs, hostIPs: this.#d.hostIPs },
      );
      const envMap = new Map(env.map((e) => [e.key, e.value]));
      config = containerConfig({
        pod,
        spec,
        kind: ref.kind,
        attempt,
        image: record.id,
        env,
        mounts: this.#d.volumes.mountsFor(pod, spec),
        expand: (s) => expandVars(s, (n) => envMap.get(n)),
      });
    } catch (err) {
      const message = describeError(err);
      mem.waiting.set(waitKey, { reason: 'CreateContainerConfigError', message });
      this.#d.events.warning(target, 'Failed', `Error: ${message}`);
      return { retryInMs: 10_000 };
    }

    // 3. Create and start.
    let id: string;
    try {
      id = await this.#d.runtime.createContainer(sandboxId, config);
    } catch (err) {
      const message = describeError(err);
      mem.waiting.set(waitKey, { reason: 'CreateContainerError', message });
      this.#d.events.warning(target, 'Failed', `Error: ${message}`);
      return { retryInMs: 10_000 };
    }
    this.#d.events.normal(target, 'Created', `Created container: ${ref.name}`);
    try {
      await this.#d.runtime.startContainer(id);
    } catch (err) {
      const message = describeError(err);
      this.#d.events.warning(target, 'Failed', `Error: failed to start container "${ref.name}": ${message}`);
      mem.waiting.delete(waitKey);
      // The runtime reports the container exited (ContainerCannotRun / StartError); the
      // next pass backs off as for any exit.
      return { retryInMs: 1_000 };
    }
    mem.waiting.delete(waitKey);
    this.#d.events.normal(target, 'Started', `Started container ${ref.name}`);

    // 4. postStart: the container counts as started only after it; a failure kills it.
    const postStart = spec.lifecycle?.postStart;
    if (postStart) {
      const outcome = await runProbeAction(
        this.#d.runtime,
        postStart,
        { containerId: id, sandboxId, podIP: mem.podIPs[0] ?? '', container: spec },
        Math.max(1, pod.spec?.terminationGracePeriodSeconds ?? 30),
      );
      if (!outcome.ok) {
        this.#d.events.warning(target, 'FailedPostStartHook', `PostStartHook failed: ${outcome.message}`);
        this.#d.events.normal(target, 'Killing', `FailedPostStartHook`);
        await bestEffort(
          this.#d.log,
          'stop a container whose postStart failed',
          this.#d.runtime.stopContainer(id, 0),
        );
      }
    }
    return {};
  }

  async #ensureImage(
    pod: Pod,
    spec: Container,
    target: EventTarget,
    mem: PodMemory,
  ): Promise<{ record: ImageRecord } | { retryInMs: number }> {
    const image = spec.image ?? '';
    const waitKey = `${target.fieldPath?.startsWith('spec.initContainers') ? 'init' : 'app'}/${spec.name ?? ''}`;
    const policy =
      spec.imagePullPolicy ??
      (image.endsWith(':latest') || !/:[^/]+$/.test(image) ? 'Always' : 'IfNotPresent');
    const present = await this.#d.runtime.images.findImage(image);
    if (present && policy !== 'Always') {
      this.#d.events.normal(target, 'Pulled', `Container image "${image}" already present on machine`);
      mem.waiting.delete(waitKey);
      return { record: present };
    }
    if (policy === 'Never') {
      const message = `Container image "${image}" is not present with pull policy of Never`;
      mem.waiting.set(waitKey, { reason: 'ErrImageNeverPull', message });
      this.#d.events.warning(target, 'ErrImageNeverPull', message);
      return { retryInMs: 30_000 };
    }
    const now = this.#d.clock.now();
    const retry = mem.pullRetryAt.get(image);
    if (retry && retry.atMs > now) {
      mem.waiting.set(waitKey, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` });
      this.#d.events.normal(target, 'BackOff', `Back-off pulling image "${image}"`);
      return { retryInMs: retry.atMs - now };
    }
    this.#d.events.normal(target, 'Pulling', `Pulling image "${image}"`);
    const started = this.#d.clock.monotonicMs();
    const secrets = [];
    for (const s of pod.spec?.imagePullSecrets ?? []) {
      const secret = await this.#d.sources.findSecret(pod.metadata?.namespace ?? 'default', s.name ?? '');
      if (secret) secrets.push(secret);
    }
    const auth = authForImage(image, secrets);
    const record = await this.#d.runtime.images.pullImage(image, {
      ...(auth ? { auth } : {}),
      unpack: 'none',
    });
    mem.pullRetryAt.delete(image);
    mem.waiting.delete(waitKey);
    const seconds = ((this.#d.clock.monotonicMs() - started) / 1000).toFixed(3);
    this.#d.events.normal(
      target,
      'Pulled',
      `Successfully pulled image "${image}" in ${seconds}s. Image size: ${record.sizeBytes} bytes.`,
    );
    return { record };
  }

  /** Records a failed pull (ErrImagePull) and its back-off (10 s doubling to 5 min). */
  #pullFailed(mem: PodMemory, waitKey: string, image: string, err: unknown, target: EventTarget): number {
    const message = `Failed to pull image "${image}": ${describeError(err)}`;
    const prev = mem.pullRetryAt.get(image);
    const delayMs = prev ? Math.min(maxPullBackoffMs, prev.delayMs * 2) : 10_000;
    mem.pullRetryAt.set(image, { atMs: this.#d.clock.now() + delayMs, delayMs });
    mem.waiting.set(waitKey, { reason: 'ErrImagePull', message });
    this.#d.events.warning(target, 'Failed', message);
    this.#d.events.warning(target, 'Failed', 'Error: ErrImagePull');
    return delayMs;
  }

  #ensureProbes(pod: Pod, view: PodRuntimeView, sandboxId: string): void {
    const uid = pod.metadata?.uid ?? '';
    const keep = new Map<string, string>();
    const podIP = this.#mem(uid).podIPs[0] ?? '';
    for (const [kind, list] of [
      ['app', pod.spec?.containers ?? []],
      ['init', pod.spec?.initContainers ?? []],
    ] as const) {
      for (const spec of list) {
        const c = latestContainer(view, spec.name ?? '', kind);
        if (!c || c.state.phase !== 'running' || c.sandboxId !== sandboxId) continue;
        keep.set(spec.name ?? '', c.id);
        this.#d.probes.ensure(pod, spec, c.id, sandboxId, podIP);
      }
    }
    this.#d.probes.retain(uid, keep);
  }

  /** Runs preStop (within the grace period), then stops the container with what is left. */
  async #killContainer(
    pod: Pod,
    id: string,
    name: string,
    kind: ContainerKind,
    graceSeconds: number,
  ): Promise<void> {
    const started = this.#d.clock.monotonicMs();
    const spec = specOf(pod, { name, kind });
    const preStop = spec?.lifecycle?.preStop;
    if (preStop && spec && graceSeconds > 0) {
      const status = await bestEffort(
        this.#d.log,
        'read the container for its preStop hook',
        this.#d.runtime.containerStatus(id),
      );
      if (status?.state === 'CONTAINER_RUNNING') {
        const outcome = await runProbeAction(
          this.#d.runtime,
          preStop,
          {
            containerId: id,
            sandboxId: status.podSandboxId,
            podIP: this.#mem(pod.metadata?.uid ?? '').podIPs[0] ?? '',
            container: spec,
          },
          graceSeconds,
        );
        if (!outcome.ok) {
          this.#d.events.warning(
            podTarget(pod, fieldPathOf(kind, name)),
            'FailedPreStopHook',
            `PreStopHook failed: ${outcome.message}`,
          );
        }
      }
    }
    const usedSeconds = Math.floor((this.#d.clock.monotonicMs() - started) / 1000);
    // Upstream gives the stop signal at least 2 s after preStop.
    const left = Math.max(graceSeconds > 0 ? 2 : 0, graceSeconds - usedSeconds);
    try {
      await this.#d.runtime.stopContainer(id, left);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async #stopSandboxes(pod: Pod | undefined, view: PodRuntimeView, why: string): Promise<void> {
    const grace = pod?.spec?.terminationGracePeriodSeconds ?? 30;
    const running = view.containers.filter((c) => c.state.phase === 'running');
    // App containers first, then sidecars (init containers still running), as upstream.
    const order = [...running.filter((c) => c.kind === 'app'), ...running.filter((c) => c.kind === 'init')];
    if (pod) {
      await Promise.all(
        order
          .filter((c) => c.kind === 'app')
          .map(async (c) => {
            this.#d.events.normal(
              podTarget(pod, fieldPathOf(c.kind, c.name)),
              'Killing',
              `Stopping container ${c.name}`,
            );
            await this.#killContainer(pod, c.id, c.name, c.kind, grace);
          }),
      );
      for (const c of order.filter((x) => x.kind === 'init')) {
        this.#d.events.normal(
          podTarget(pod, fieldPathOf(c.kind, c.name)),
          'Killing',
          `Stopping container ${c.name}`,
        );
        await this.#killContainer(pod, c.id, c.name, c.kind, grace);
      }
    }
    for (const s of view.sandboxes) {
      if (s.phase !== 'ready') continue;
      this.#d.log.info('Stopping pod sandbox', {
        pod: pod ? this.#name(pod) : undefined,
        sandboxId: s.id,
        why,
      });
      await this.#d.runtime.stopPodSandbox(s.id);
    }
    if (pod) this.#d.probes.removePod(pod.metadata?.uid ?? '');
  }

  async #terminate(
    uid: string,
    pod: Pod | undefined,
    view: PodRuntimeView,
    signal: AbortSignal,
  ): Promise<SyncResult> {
    const grace = pod?.metadata?.deletionGracePeriodSeconds ?? pod?.spec?.terminationGracePeriodSeconds ?? 30;
    const timed = pod ? { ...pod, spec: { ...pod.spec, terminationGracePeriodSeconds: grace } } : undefined;
    if (view.sandboxes.length > 0 || view.containers.length > 0) {
      await this.#stopSandboxes(
        timed,
        view,
        pod ? 'the pod is being deleted' : 'the pod is gone from the API',
      );
      // The final status shows every container terminated, as upstream reports it.
      if (pod) {
        const after = await this.#d.snapshot.readPod(uid);
        await this.#report(
          pod,
          after,
          undefined,
          (view.sandboxes[0]?.handler ?? 'hyper') as RuntimeHandlerName,
        );
      }
      for (const s of view.sandboxes) await this.#d.runtime.removePodSandbox(s.id);
    }
    this.#d.probes.removePod(uid);
    await this.#d.network.tearDown(uid);
    await this.#d.volumes.cleanup(uid);
    this.#backoff.forget(`${uid}/`);
    this.#memory.delete(uid);
    if (pod && !signal.aborted) {
      try {
        await this.#d.client
          .resource<Pod & KubeObject>(builtinResources.pods, pod.metadata?.namespace ?? 'default')
          .delete(pod.metadata?.name ?? '', { gracePeriodSeconds: 0, preconditions: { uid } });
      } catch (err) {
        // Gone already, or a new pod of the same name (the uid precondition failed): done.
        if (!isNotFound(err) && errorCode(err) !== 'Conflict') throw err;
      }
    }
    this.#d.status.forget(uid);
    return { requeueAfterMs: undefined, isDone: true };
  }
}
