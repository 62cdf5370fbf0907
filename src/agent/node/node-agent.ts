/**
 * The node's presence in the API: registers the Node (create, or update what this agent owns
 * on an existing one), renews its Lease in `kube-node-lease` every 10 s (the heartbeat the node
 * lifecycle controller watches), and updates the Node's status every 10 s when it changed and
 * at least every minute otherwise (kubelet's nodeStatusReportFrequency).
 */
import type { KubeObject, Lease, Node } from '../../api/index.js';
import { builtinResources, type ApiClient } from '../../client/index.js';
import {
  bestEffort,
  describeError,
  isAlreadyExists,
  isNotFound,
  type Clock,
  type Logger,
} from '../../lib/index.js';
import type { NodeRuntime } from '../../runtime/index.js';
import { toMicroTime } from '../../reconcile/index.js';
import { readHostFacts } from './host-facts.js';
import { nodeLabels, nodeStatus, type HostFacts, type NodeStatusInput } from './node-status.js';

export interface NodeAgentOptions {
  readonly client: ApiClient;
  readonly runtime: NodeRuntime;
  readonly clock: Clock;
  readonly log: Logger;
  readonly nodeName: string;
  readonly addresses: readonly string[];
  readonly streamingPort: number;
  readonly dataDir: string;
  readonly kubeletVersion: string;
  readonly maxPods?: number;
  readonly labels?: Readonly<Record<string, string>>;
  /** Test seam: host facts without reading /proc. */
  readonly readHost?: (dataDir: string) => Promise<HostFacts>;
  readonly leaseDurationSeconds?: number;
  readonly heartbeatMs?: number;
  readonly reportMs?: number;
  /** Reasons the node is not ready yet (e.g. the pod network), undefined when ready. */
  readonly notReadyReason?: () => string | undefined;
}

type NodeObject = Node & KubeObject;
type LeaseObject = Lease & KubeObject;

export class NodeAgent {
  readonly #o: NodeAgentOptions;
  #lastSentJson = '';
  #lastSentMs = 0;
  #node: Node | undefined;

  constructor(options: NodeAgentOptions) {
    this.#o = options;
  }

  /** The Node as last registered or updated. */
  get node(): Node | undefined {
    return this.#node;
  }

  async #input(): Promise<NodeStatusInput> {
    const o = this.#o;
    const host = await (o.readHost ?? readHostFacts)(o.dataDir);
    let runtime;
    let images: NodeStatusInput['images'] = [];
    try {
      runtime = await o.runtime.info();
      images = await o.runtime.images.listImages();
    } catch (err) {
      o.log.warn('Container runtime does not answer', { error: describeError(err) });
    }
    return {
      nodeName: o.nodeName,
      addresses: o.addresses,
      streamingPort: o.streamingPort,
      host,
      runtime,
      images,
      kubeletVersion: o.kubeletVersion,
      maxPods: o.maxPods ?? 110,
      notReadyReason: o.notReadyReason?.(),
      nowIso: new Date(o.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      previous: this.#node,
      extraLabels: o.labels ?? {},
    };
  }

  /** Creates the Node, or takes over an existing one of that name. */
  async register(): Promise<void> {
    const o = this.#o;
    const nodes = o.client.resource<NodeObject>(builtinResources.nodes);
    const input = await this.#input();
    const labels = nodeLabels(input);
    const existing = await nodes.find(o.nodeName);
    if (!existing) {
      try {
        const created = await nodes.create({
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: o.nodeName, labels, annotations: { 'node.alpha.kubernetes.io/ttl': '0' } },
          spec: {},
        });
        this.#node = created;
        o.log.info('Registered node', { node: o.nodeName });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    } else {
      this.#node = await nodes.patch(
        o.nodeName,
        { metadata: { labels } },
        { type: 'merge', fieldManager: 'h8s-agent' },
      );
      o.log.info('Node already registered; updating it', { node: o.nodeName });
    }
    await this.#updateStatus(input, true);
  }

  /**
   * Labels the agent owns (hostname, os, arch, accel, --node-labels) that differ from the
   * Node's, as kubelet reconciles its default labels: `h8s.io/accel` is only known once the
   * runtime answers, which may be after registration.
   */
  async #reconcileLabels(input: NodeStatusInput): Promise<void> {
    const want = nodeLabels(input);
    const have = this.#node?.metadata?.labels ?? {};
    const changed = Object.entries(want).filter(([k, v]) => have[k] !== v);
    if (changed.length === 0 || !this.#node) return;
    this.#node = await this.#o.client
      .resource<NodeObject>(builtinResources.nodes)
      .patch(
        this.#o.nodeName,
        { metadata: { labels: Object.fromEntries(changed) } },
        { type: 'merge', fieldManager: 'h8s-agent' },
      );
  }

  async #updateStatus(input: NodeStatusInput, force: boolean): Promise<void> {
    const o = this.#o;
    if (input.runtime) await this.#reconcileLabels(input);
    const status = nodeStatus(input);
    // Heartbeat times change every time; compare without them.
    const comparable = JSON.stringify({
      ...status,
      conditions: status.conditions?.map((c) => ({ ...c, lastHeartbeatTime: '' })),
    });
    const now = o.clock.monotonicMs();
    if (!force && comparable === this.#lastSentJson && now - this.#lastSentMs < (o.reportMs ?? 60_000))
      return;
    const nodes = o.client.resource<NodeObject>(builtinResources.nodes);
    this.#node = await nodes.patch(
      o.nodeName,
      { status },
      { type: 'strategic', subresource: 'status', fieldManager: 'h8s-agent' },
    );
    this.#lastSentJson = comparable;
    this.#lastSentMs = now;
  }

  async #renewLease(): Promise<void> {
    const o = this.#o;
    const leases = o.client.resource<LeaseObject>(builtinResources.leases, 'kube-node-lease');
    const renewTime = toMicroTime(o.clock.now());
    const spec = {
      holderIdentity: o.nodeName,
      leaseDurationSeconds: o.leaseDurationSeconds ?? 40,
      renewTime,
    };
    const existing = await leases.find(o.nodeName);
    if (!existing) {
      const uid = this.#node?.metadata?.uid;
      try {
        await leases.create({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: o.nodeName,
            namespace: 'kube-node-lease',
            ...(uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: o.nodeName, uid }] } : {}),
          },
          spec,
        });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      return;
    }
    await leases.update({ ...existing, spec: { ...existing.spec, ...spec } });
  }

  /** Heartbeats until `signal` aborts. Failures are logged and retried on the next beat. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const beatMs = o.heartbeatMs ?? 10_000;
    while (!signal.aborted) {
      try {
        await this.#renewLease();
      } catch (err) {
        o.log.warn('Cannot renew node lease', { node: o.nodeName, error: describeError(err) });
      }
      try {
        await this.#updateStatus(await this.#input(), false);
      } catch (err) {
        if (isNotFound(err)) {
          // Someone deleted our Node: register again, as kubelet does.
          await bestEffort(o.log, 're-register the node', this.register());
        } else o.log.warn('Cannot update node status', { node: o.nodeName, error: describeError(err) });
      }
      try {
        await o.clock.sleep(beatMs, signal);
      } catch {
        return;
      }
    }
  }
}
