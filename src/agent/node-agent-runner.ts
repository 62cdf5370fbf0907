/**
 * The node agent (kubelet): composes the Node's registration and heartbeat, the pods of this
 * node (an informer on `spec.nodeName`), the pod workers, the runtime relist that notices
 * containers exiting, probes, and the recovery of what ran before the agent (re)started.
 *
 * Recovery (DESIGN.md "Agent"): before acting, the agent waits for its pod informer to sync
 * and reads every sandbox and container the runtime holds; a pod the API still has is synced
 * from that state (nothing is duplicated: containers are found by their labels, not
 * recreated), and a pod the API no longer has is stopped and removed.
 */
import { join } from 'node:path';
import type { KubeObject, Pod } from '../api/index.js';
import {
  builtinResources,
  createEventRecorder,
  createInformer,
  type ApiClient,
  type EventRecorder,
} from '../client/index.js';
import { describeError, systemClock, type Clock, type Logger } from '../lib/index.js';
import { createController, createWorkQueue } from '../reconcile/index.js';
import type { NodeRuntime } from '../runtime/index.js';
import { ImageGc } from './node/image-gc.js';
import { NodeAgent } from './node/node-agent.js';
import { PodSources } from './pods/pod-sources.js';
import { PodWorker, noPodNetworking, type PodNetworking } from './pods/pod-worker.js';
import { RuntimeSnapshotReader } from './pods/runtime-snapshot.js';
import type { PodRuntimeView } from './pods/runtime-view.js';
import { PodStatusWriter } from './pods/status-writer.js';
import { ProbeManager } from './probes/probe-manager.js';
import { ServiceProxy, type ServiceProgrammer } from './proxy/service-proxy.js';
import { PodVolumes } from './volumes/pod-volumes.js';
import { StreamingServer, type StreamingTls } from './streaming/streaming-server.js';

export interface AgentConfig {
  readonly nodeName: string;
  /** The agent's own state: pods' volumes, logs. */
  readonly dataDir: string;
  /** The node's InternalIP addresses. */
  readonly addresses: readonly string[];
  /** Port of the streaming endpoint, reported in the Node's daemonEndpoints. */
  readonly streamingPort: number;
  /**
   * Certificates of the streaming endpoint (logs, exec, attach, port-forward); without them
   * the agent serves no streams (kubectl logs/exec answer that the node cannot be reached).
   */
  readonly streamingTls?: StreamingTls;
  readonly kubeletVersion: string;
  readonly maxPods?: number;
  /** Concurrent pod syncs; default 8. */
  readonly podWorkers?: number;
  /** How often the runtime is relisted for exits; default 1 s (kubelet's PLEG period). */
  readonly relistMs?: number;
  /** Image garbage collection: period (default 5 min) and disk thresholds (85 / 80 %). */
  readonly imageGc?: {
    readonly periodMs?: number;
    readonly highPercent?: number;
    readonly lowPercent?: number;
  };
  readonly labels?: Readonly<Record<string, string>>;
}

export interface AgentDeps {
  readonly client: ApiClient;
  readonly runtime: NodeRuntime;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly network?: PodNetworking;
  /** Programs each network's Services on this node (kube-proxy); absent: no service proxy. */
  readonly services?: ServiceProgrammer;
  readonly config: AgentConfig;
}

export interface Agent {
  /** Runs until `signal` aborts; pods keep running in the runtime after it stops. */
  run(signal: AbortSignal): Promise<void>;
}

type PodObject = Pod & KubeObject;

function signature(view: PodRuntimeView): string {
  return [
    ...view.sandboxes.map((s) => `s:${s.id}:${s.phase}`),
    ...view.containers.map((c) => `c:${c.id}:${c.state.phase}`),
  ].join(',');
}

export function createAgent(deps: AgentDeps): Agent {
  const { client, runtime, config } = deps;
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: 'agent', node: config.nodeName });
  const events: EventRecorder = createEventRecorder({
    client,
    component: 'kubelet',
    host: config.nodeName,
    log,
    clock,
  });
  const snapshot = new RuntimeSnapshotReader(runtime);
  const network = deps.network ?? noPodNetworking;
  const sources = new PodSources({ client, clock });
  const status = new PodStatusWriter({ client, log });
  const queue = createWorkQueue<string>({ clock, backoffInitialMs: 1_000, backoffMaxMs: 60_000 });
  const probes = new ProbeManager({
    runtime,
    clock,
    log,
    events: {
      unhealthy: (pod, container, message) =>
        events.warning(
          {
            apiVersion: 'v1',
            kind: 'Pod',
            namespace: pod.metadata?.namespace ?? 'default',
            name: pod.metadata?.name ?? '',
            uid: pod.metadata?.uid ?? '',
            fieldPath: `spec.containers{${container}}`,
          },
          'Unhealthy',
          message,
        ),
    },
    onChange: (uid) => queue.add(uid),
  });
  const nodeAgent = new NodeAgent({
    client,
    runtime,
    clock,
    log,
    nodeName: config.nodeName,
    addresses: config.addresses,
    streamingPort: config.streamingPort,
    dataDir: config.dataDir,
    kubeletVersion: config.kubeletVersion,
    ...(config.maxPods === undefined ? {} : { maxPods: config.maxPods }),
    ...(config.labels ? { labels: config.labels } : {}),
  });
  const nodeAllocatable: Record<string, string> = {};
  const volumes = new PodVolumes({
    podsDir: join(config.dataDir, 'pods'),
    log,
    now: () => clock.now(),
    sources: {
      findConfigMap: (ns, n) => sources.findConfigMap(ns, n),
      findSecret: (ns, n) => sources.findSecret(ns, n),
      requestToken: (pod, audience, seconds) => sources.requestToken(pod, audience, seconds),
      nodeAllocatable,
    },
  });
  const worker = new PodWorker({
    runtime,
    snapshot,
    client,
    events,
    sources,
    volumes,
    network,
    probes,
    status,
    clock,
    log,
    nodeName: config.nodeName,
    hostIPs: config.addresses,
    nodeAllocatable,
    logsDir: join(config.dataDir, 'logs'),
  });

  const informer = createInformer<PodObject>({
    client,
    resource: builtinResources.pods,
    fieldSelector: `spec.nodeName=${config.nodeName}`,
    log,
    clock,
  });
  informer.addIndexer('uid', (p) => [p.metadata.uid ?? '']);
  const podOf = (uid: string): PodObject | undefined => informer.cache.listByIndex('uid', uid)[0];
  informer.addEventHandler({
    onAdd: (p) => queue.add(p.metadata.uid ?? ''),
    onUpdate: (_o, p) => queue.add(p.metadata.uid ?? ''),
    onDelete: (p) => queue.add(p.metadata.uid ?? ''),
  });

  const controller = createController<string>({
    name: 'pod-workers',
    queue,
    workers: config.podWorkers ?? 8,
    log,
    reconcile: async (uid, signal) => {
      // A pod the API no longer has (deleted with --force, or while the agent was away) is
      // stopped and removed from what the runtime's labels say.
      const result = await worker.sync(uid, podOf(uid), signal);
      if (result.isDone) return undefined;
      return result.requeueAfterMs === undefined ? undefined : { requeueAfterMs: result.requeueAfterMs };
    },
  });

  /** The runtime relist (kubelet's PLEG): a changed pod is synced at once. */
  async function relist(signal: AbortSignal): Promise<void> {
    const seen = new Map<string, string>();
    const periodMs = config.relistMs ?? 1_000;
    while (!signal.aborted) {
      try {
        const pods = await snapshot.read();
        for (const [uid, view] of pods) {
          const sig = signature(view);
          if (seen.get(uid) !== sig) {
            seen.set(uid, sig);
            queue.add(uid);
          }
          // A pod only the runtime knows (deleted while the agent was away): clean it up.
          if (informer.hasSynced() && informer.cache.listByIndex('uid', uid).length === 0) queue.add(uid);
        }
        for (const uid of seen.keys()) if (!pods.has(uid)) seen.delete(uid);
      } catch (err) {
        log.warn('Cannot relist the runtime', { error: describeError(err) });
      }
      try {
        await clock.sleep(periodMs, signal);
      } catch {
        return;
      }
    }
  }

  const imageGc = new ImageGc({
    runtime,
    clock,
    log,
    ...(config.imageGc?.highPercent === undefined ? {} : { highPercent: config.imageGc.highPercent }),
    ...(config.imageGc?.lowPercent === undefined ? {} : { lowPercent: config.imageGc.lowPercent }),
  });
  async function collectImages(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await clock.sleep(config.imageGc?.periodMs ?? 300_000, signal);
      } catch {
        return;
      }
      try {
        await imageGc.collect();
      } catch (err) {
        log.warn('Image garbage collection failed', { error: describeError(err) });
      }
    }
  }

  const streaming = config.streamingTls
    ? new StreamingServer({
        runtime,
        snapshot,
        log,
        clock,
        tls: config.streamingTls,
        port: config.streamingPort,
      })
    : undefined;

  return {
    async run(signal) {
      // Listening before the Node advertises the port; a port in use fails the agent.
      if (streaming) await streaming.start();
      else
        log.warn('No streaming certificates: kubectl logs, exec and port-forward will not reach this node');
      try {
        await runAgent(signal);
      } finally {
        await streaming?.stop();
      }
    },
  };

  async function runAgent(signal: AbortSignal): Promise<void> {
    // Registration retries until the API answers: an agent may start before its server.
    for (;;) {
      try {
        await nodeAgent.register();
        break;
      } catch (err) {
        log.warn('Cannot register node; retrying', { error: describeError(err) });
        try {
          await clock.sleep(2_000, signal);
        } catch {
          return;
        }
      }
    }
    const alloc = nodeAgent.node?.status?.allocatable ?? {};
    for (const [k, v] of Object.entries(alloc)) nodeAllocatable[k] = String(v);
    const tasks: Promise<void>[] = [nodeAgent.run(signal), informer.run(signal)];
    try {
      await informer.waitForSync(signal);
    } catch {
      await Promise.all(tasks);
      return;
    }
    if (network.recover) {
      // Before any worker runs: what pods the runtime no longer has still hold is freed.
      try {
        await network.recover(new Set((await snapshot.read()).keys()));
      } catch (err) {
        log.warn('Cannot recover the pod network', { error: describeError(err) });
      }
    }
    log.info('Pod informer synced; starting pod workers', { pods: informer.cache.list().length });
    tasks.push(controller.run(signal), relist(signal), collectImages(signal));
    if (deps.services) {
      const proxy = new ServiceProxy({
        client,
        programmer: deps.services,
        nodeName: config.nodeName,
        clock,
        log: log.child({ component: 'service-proxy' }),
      });
      tasks.push(proxy.run(signal));
    }
    await Promise.all(tasks);
    probes.stopAll();
  }
}
