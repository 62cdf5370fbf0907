/**
 * The scheduler (kube-scheduler's role): watches pods, nodes, namespaces and runtime and
 * priority classes; takes pending pods from the queue one at a time, decides with the plugins
 * over the cache, assumes the pod onto the node and binds it through `pods/binding` without
 * waiting, so the next decision already counts it. A pod that fits nowhere gets upstream's
 * FailedScheduling event and PodScheduled=False condition, and may preempt pods of lower
 * priority.
 */
import type { KubeObject, Namespace, Node, Pod, PriorityClass, RuntimeClass } from '../api/index.js';
import {
  bindPod,
  builtinResources,
  createEventRecorder,
  createInformer,
  type ApiClient,
  type EventRecorder,
  type EventTarget,
  type Informer,
} from '../client/index.js';
import {
  describeError,
  isConflict,
  isNotFound,
  nullLogger,
  systemClock,
  type Clock,
  type Logger,
} from '../lib/index.js';
import { createLeaderElector, createLeaseLock, linkSignal } from '../reconcile/index.js';
import { failureMessage, type FilterPlugin, type ScorePlugin } from './framework.js';
import { podKey, type PodInfo } from './node-info.js';
import { defaultFilters, defaultScores } from './plugins/index.js';
import { findPreemption } from './preemption.js';
import { newCycle, scheduleOne } from './schedule-one.js';
import { SchedulerCache } from './scheduler-cache.js';
import { SchedulingQueue } from './scheduling-queue.js';

export const defaultSchedulerName = 'default-scheduler';

export interface SchedulerOptions {
  readonly client: ApiClient;
  readonly log?: Logger | undefined;
  readonly clock?: Clock | undefined;
  /** Pods whose `spec.schedulerName` is this; default `default-scheduler`. */
  readonly schedulerName?: string | undefined;
  /** 0 = adaptive, as upstream. */
  readonly percentageOfNodesToScore?: number | undefined;
  readonly filters?: readonly FilterPlugin[] | undefined;
  readonly scores?: readonly ScorePlugin[] | undefined;
  readonly initialBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
  /** Bindings in flight at once; default 64. */
  readonly maxBindsInFlight?: number | undefined;
  readonly random?: (() => number) | undefined;
  /** Run only while holding the `kube-system/kube-scheduler` Lease (several servers). */
  readonly leaderElection?: { readonly identity: string } | undefined;
}

export interface SchedulerStats {
  scheduled: number;
  unschedulable: number;
  bindErrors: number;
  preemptions: number;
}

export interface Scheduler {
  run(signal: AbortSignal): Promise<void>;
  readonly stats: Readonly<SchedulerStats>;
  /** Resolves once the informers have synced (tests and benchmarks). */
  waitForSync(signal?: AbortSignal): Promise<void>;
  /** Pods waiting, by place. */
  queueCounts(): Record<string, number>;
}

function targetOf(pod: Pod): EventTarget {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
  };
}

/** Only what the scheduler reads, to keep 10,000 cached pods small. */
function slimPod(obj: KubeObject): Pod {
  const { managedFields: _m, annotations: _a, ...metadata } = obj.metadata;
  const pod = obj as Pod;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: pod.spec,
    status: {
      phase: pod.status?.phase,
      nominatedNodeName: pod.status?.nominatedNodeName,
      startTime: pod.status?.startTime,
      conditions: pod.status?.conditions?.filter((c) => c.type === 'PodScheduled'),
    },
  } as Pod;
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const log = (options.log ?? nullLogger).child({ component: 'scheduler' });
  const clock = options.clock ?? systemClock;
  const client = options.client;
  const name = options.schedulerName ?? defaultSchedulerName;
  const filters = options.filters ?? defaultFilters;
  const scores = options.scores ?? defaultScores;
  const random = options.random ?? Math.random;
  const maxInFlight = options.maxBindsInFlight ?? 64;
  const stats: SchedulerStats = { scheduled: 0, unschedulable: 0, bindErrors: 0, preemptions: 0 };

  const priorityClasses = new Map<string, PriorityClass>();
  // The Priority admission plugin resolves spec.priority from the class; the class wins here
  // too, so pods admitted before their class existed still get its priority.
  const priorityOf = (pod: Pod): number => {
    const pcName = pod.spec?.priorityClassName;
    const byClass = pcName ? priorityClasses.get(pcName)?.value : undefined;
    return byClass ?? pod.spec?.priority ?? 0;
  };
  const cache = new SchedulerCache(priorityOf);
  const queue = new SchedulingQueue({
    clock,
    initialBackoffMs: options.initialBackoffMs,
    maxBackoffMs: options.maxBackoffMs,
  });
  const events: EventRecorder = createEventRecorder({ client, component: name, log, clock });
  const informerLog = log.child({ component: 'scheduler-informer' });
  const pods: Informer<Pod & KubeObject> = createInformer({
    client,
    resource: builtinResources.pods,
    log: informerLog,
    clock,
    transform: (o) => slimPod(o) as Pod & KubeObject,
  });
  const nodes = createInformer<Node & KubeObject>({
    client,
    resource: builtinResources.nodes,
    log: informerLog,
    clock,
  });
  const namespaces = createInformer<Namespace & KubeObject>({
    client,
    resource: builtinResources.namespaces,
    log: informerLog,
    clock,
    transform: (o) =>
      ({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: o.metadata.name, labels: o.metadata.labels },
      }) as Namespace & KubeObject,
  });
  const runtimeClasses = createInformer<RuntimeClass & KubeObject>({
    client,
    resource: builtinResources.runtimeClasses,
    log: informerLog,
    clock,
  });
  const pcs = createInformer<PriorityClass & KubeObject>({
    client,
    resource: builtinResources.priorityClasses,
    log: informerLog,
    clock,
  });
  const informers = [pods, nodes, namespaces, runtimeClasses, pcs] as const;

  const responsible = (pod: Pod): boolean =>
    !pod.spec?.nodeName &&
    (pod.spec?.schedulerName ?? defaultSchedulerName) === name &&
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.phase !== 'Succeeded' &&
    pod.status?.phase !== 'Failed' &&
    (pod.spec?.schedulingGates?.length ?? 0) === 0;

  const onPod = (pod: Pod): void => {
    const key = podKey(pod);
    if (pod.spec?.nodeName) {
      queue.delete(key);
      cache.upsertPod(pod);
      return;
    }
    if (cache.isAssumed(key)) return; // binding in flight
    if (responsible(pod)) queue.add(key, pod, priorityOf(pod));
    else queue.delete(key);
  };
  const onPodGone = (pod: Pod): void => {
    const key = podKey(pod);
    queue.delete(key);
    const wasPlaced = pod.spec?.nodeName !== undefined || cache.isAssumed(key);
    cache.removePod(key);
    if (wasPlaced) queue.moveAllUnschedulable();
  };
  pods.addEventHandler({
    onAdd: (p) => onPod(p),
    onUpdate: (old, p) => {
      const freed =
        old.spec?.nodeName !== undefined &&
        (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') &&
        old.status?.phase !== p.status?.phase;
      onPod(p);
      if (freed) queue.moveAllUnschedulable();
    },
    onDelete: (p) => onPodGone(p),
  });
  nodes.addEventHandler({
    onAdd: (n) => {
      if (cache.upsertNode(n)) queue.moveAllUnschedulable();
    },
    onUpdate: (_o, n) => {
      if (cache.upsertNode(n)) queue.moveAllUnschedulable();
    },
    onDelete: (n) => cache.removeNode(n.metadata.name ?? ''),
  });
  namespaces.addEventHandler({
    onAdd: (n) => cache.setNamespace(n.metadata.name ?? '', n.metadata.labels ?? {}),
    onUpdate: (_o, n) => {
      cache.setNamespace(n.metadata.name ?? '', n.metadata.labels ?? {});
      queue.moveAllUnschedulable();
    },
    onDelete: (n) => cache.setNamespace(n.metadata.name ?? '', undefined),
  });
  runtimeClasses.addEventHandler({
    onAdd: (rc) => {
      cache.setRuntimeClass(rc.metadata.name ?? '', rc);
      queue.moveAllUnschedulable();
    },
    onUpdate: (_o, rc) => cache.setRuntimeClass(rc.metadata.name ?? '', rc),
    onDelete: (rc) => cache.setRuntimeClass(rc.metadata.name ?? '', undefined),
  });
  pcs.addEventHandler({
    onAdd: (pc) => priorityClasses.set(pc.metadata.name ?? '', pc),
    onUpdate: (_o, pc) => priorityClasses.set(pc.metadata.name ?? '', pc),
    onDelete: (pc) => priorityClasses.delete(pc.metadata.name ?? ''),
  });

  let nextStart = 0;
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;

  const bind = async (pod: Pod, info: PodInfo, nodeName: string): Promise<void> => {
    const ns = pod.metadata?.namespace ?? '';
    const podName = pod.metadata?.name ?? '';
    try {
      await bindPod(client, ns, podName, nodeName);
      stats.scheduled++;
      events.normal(targetOf(pod), 'Scheduled', `Successfully assigned ${ns}/${podName} to ${nodeName}`);
    } catch (err) {
      cache.forget(info.key);
      if (isNotFound(err)) return; // deleted meanwhile
      if (isConflict(err)) return; // bound by someone else; the informer will tell
      stats.bindErrors++;
      log.warn('Binding failed', { pod: info.key, node: nodeName, error: describeError(err) });
      events.warning(targetOf(pod), 'FailedScheduling', `Binding rejected: ${describeError(err)}`);
      queue.add(info.key, pod, info.priority);
      queue.retryLater(info.key);
    }
  };

  const markUnschedulable = async (pod: Pod, message: string): Promise<void> => {
    const current = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (current?.status === 'False' && current.reason === 'Unschedulable' && current.message === message)
      return;
    try {
      await client.resource(builtinResources.pods, pod.metadata?.namespace ?? '').patch(
        pod.metadata?.name ?? '',
        {
          status: {
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message,
                lastProbeTime: null,
                lastTransitionTime: new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
              },
            ],
          },
        },
        { type: 'strategic', subresource: 'status' },
      );
    } catch (err) {
      if (!isNotFound(err))
        log.debug('Could not record PodScheduled=False', { pod: podKey(pod), error: describeError(err) });
    }
  };

  const preempt = async (
    pod: Pod,
    info: PodInfo,
    nodeName: string,
    victims: readonly PodInfo[],
  ): Promise<void> => {
    stats.preemptions++;
    cache.nominate(info.key, nodeName, info);
    const pc = client.resource(builtinResources.pods, pod.metadata?.namespace ?? '');
    try {
      await pc.patch(
        pod.metadata?.name ?? '',
        { status: { nominatedNodeName: nodeName } },
        { type: 'merge', subresource: 'status' },
      );
    } catch (err) {
      if (!isNotFound(err))
        log.debug('Could not nominate a node', { pod: info.key, error: describeError(err) });
    }
    await Promise.all(
      victims.map(async (v) => {
        const vt = targetOf(v.pod);
        events.normal(vt, 'Preempted', `Preempted by pod ${pod.metadata?.uid ?? ''} on node ${nodeName}`);
        try {
          await client
            .resource(builtinResources.pods, v.pod.metadata?.namespace ?? '')
            .delete(v.pod.metadata?.name ?? '', { preconditions: { uid: v.pod.metadata?.uid } });
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err))
            log.warn('Could not delete a preemption victim', { pod: v.key, error: describeError(err) });
        }
      }),
    );
  };

  const cycle = async (signal: AbortSignal): Promise<void> => {
    const item = await queue.pop(signal);
    const cached = pods.cache.find(item.key) ?? item.pod;
    if (!responsible(cached)) {
      queue.done(item.key);
      return;
    }
    const info = cache.infoOf(cached);
    const ctx = newCycle(cached, info, cache);
    const outcome = scheduleOne(ctx, nextStart, {
      filters,
      scores,
      percentageOfNodesToScore: options.percentageOfNodesToScore ?? 0,
      random,
    });
    const total = cache.nodes.length;
    nextStart = total > 0 ? (nextStart + outcome.evaluated) % total : 0;
    if (outcome.node) {
      const nodeName = outcome.node.name;
      cache.assume(info, nodeName);
      queue.done(item.key);
      while (inFlight >= maxInFlight) await new Promise<void>((r) => (slotFreed = r));
      inFlight++;
      void bind(cached, info, nodeName).finally(() => {
        inFlight--;
        const f = slotFreed;
        slotFreed = undefined;
        f?.();
      });
      return;
    }
    stats.unschedulable++;
    let message = failureMessage(total, outcome.failures);
    if (total > 0) {
      const p = findPreemption(ctx, outcome.failures, filters);
      if (p.candidate) await preempt(cached, info, p.candidate.node.name, p.candidate.victims);
      else message += ` preemption: ${p.message}`;
    }
    queue.unschedulable(item.key);
    events.warning(targetOf(cached), 'FailedScheduling', message);
    await markUnschedulable(cached, message);
  };

  const runScheduling = async (signal: AbortSignal): Promise<void> => {
    const linked = linkSignal(signal);
    const running = informers.map((i) => i.run(linked.signal));
    try {
      await Promise.all(informers.map((i) => i.waitForSync(linked.signal)));
      log.info('Scheduler started', { nodes: cache.nodes.length, pending: queue.size });
      while (!linked.signal.aborted) {
        try {
          await cycle(linked.signal);
        } catch (err) {
          if (linked.signal.aborted) break;
          log.error('Scheduling cycle failed', { error: describeError(err) });
        }
      }
    } catch (err) {
      if (!linked.signal.aborted) throw err;
    } finally {
      linked.abort();
      queue.close();
      await Promise.all(running);
      linked.dispose();
    }
  };

  return {
    stats,
    queueCounts: () => queue.counts(),
    waitForSync: async (signal) => {
      await Promise.all(informers.map((i) => i.waitForSync(signal)));
    },
    async run(signal) {
      const le = options.leaderElection;
      if (!le) return runScheduling(signal);
      const elector = createLeaderElector({
        lock: createLeaseLock({ client, namespace: 'kube-system', name: 'kube-scheduler' }),
        identity: le.identity,
        clock,
        log,
        onStartedLeading: runScheduling,
      });
      await elector.run(signal);
    },
  };
}
