/**
 * Probe workers (kubelet's prober manager): one loop per container and probe kind, started
 * when the container runs and stopped when it is replaced. Results, as upstream:
 *
 * - startup: until it succeeds, the container is not `started` and neither liveness nor
 *   readiness runs; `failureThreshold` failures count as a liveness failure (restart).
 * - liveness: `failureThreshold` consecutive failures mark the container for a restart.
 * - readiness: `successThreshold` consecutive successes make it ready, `failureThreshold`
 *   failures unready; a container with no readiness probe is ready once started.
 *
 * A result change calls `onChange(podUid)` so the pod worker re-syncs; every failure is an
 * `Unhealthy` event (the recorder de-duplicates repeats). Timers run on the injected clock.
 */
import type { Container, Pod, Probe } from '../../api/index.js';
import type { Clock, Logger } from '../../lib/index.js';
import type { RuntimeService } from '../../runtime/index.js';
import { runProbeAction, type ProbeOutcome } from './probe-runner.js';

export type ProbeKind = 'startup' | 'liveness' | 'readiness';

export interface ProbeEvents {
  unhealthy(pod: Pod, container: string, message: string): void;
}

export interface ProbeManagerOptions {
  readonly runtime: RuntimeService;
  readonly clock: Clock;
  readonly log: Logger;
  readonly events: ProbeEvents;
  readonly onChange: (podUid: string) => void;
}

interface Worker {
  readonly kind: ProbeKind;
  readonly probe: Probe;
  readonly containerId: string;
  timer: { cancel(): void } | undefined;
  successes: number;
  failures: number;
  /** startup: succeeded; readiness: ready; liveness: failed past threshold */
  result: boolean;
  running: boolean;
  stopped: boolean;
}

interface ContainerProbes {
  readonly pod: Pod;
  readonly container: Container;
  readonly containerId: string;
  readonly sandboxId: string;
  podIP: string;
  readonly workers: Map<ProbeKind, Worker>;
}

const capitalized: Readonly<Record<ProbeKind, string>> = {
  startup: 'Startup',
  liveness: 'Liveness',
  readiness: 'Readiness',
};

export class ProbeManager {
  readonly #o: ProbeManagerOptions;
  /** `${podUid}/${containerName}` → probes of the container's current instance */
  readonly #containers = new Map<string, ContainerProbes>();

  constructor(options: ProbeManagerOptions) {
    this.#o = options;
  }

  /**
   * Makes the probes of `container` (running as `containerId`) run; a new id replaces the old
   * workers. Idempotent for the same id.
   */
  ensure(pod: Pod, container: Container, containerId: string, sandboxId: string, podIP: string): void {
    const key = `${pod.metadata?.uid ?? ''}/${container.name ?? ''}`;
    const existing = this.#containers.get(key);
    if (existing && existing.containerId === containerId) {
      existing.podIP = podIP;
      return;
    }
    if (existing) this.#stopContainer(existing);
    const entry: ContainerProbes = { pod, container, containerId, sandboxId, podIP, workers: new Map() };
    this.#containers.set(key, entry);
    for (const kind of ['startup', 'liveness', 'readiness'] as const) {
      const probe =
        kind === 'startup'
          ? container.startupProbe
          : kind === 'liveness'
            ? container.livenessProbe
            : container.readinessProbe;
      if (!probe) continue;
      const w: Worker = {
        kind,
        probe,
        containerId,
        timer: undefined,
        successes: 0,
        failures: 0,
        result: false,
        running: false,
        stopped: false,
      };
      entry.workers.set(kind, w);
      this.#schedule(entry, w, (probe.initialDelaySeconds ?? 0) * 1000);
    }
  }

  /** Whether the container passed its startup probe (true without one). */
  isStarted(podUid: string, name: string, containerId: string): boolean {
    const w = this.#worker(podUid, name, containerId, 'startup');
    return w === 'none' || (w !== undefined && w.result);
  }

  /** Whether the container is ready (true without a readiness probe, once started). */
  isReady(podUid: string, name: string, containerId: string): boolean {
    if (!this.isStarted(podUid, name, containerId)) return false;
    const w = this.#worker(podUid, name, containerId, 'readiness');
    return w === 'none' || (w !== undefined && w.result);
  }

  /** Whether the liveness (or startup) probe failed past its threshold. */
  isLivenessFailed(podUid: string, name: string, containerId: string): boolean {
    const l = this.#worker(podUid, name, containerId, 'liveness');
    const s = this.#worker(podUid, name, containerId, 'startup');
    return (
      (l !== 'none' && l !== undefined && l.result) ||
      (s !== 'none' && s !== undefined && s.failures >= (s.probe.failureThreshold ?? 3) && !s.result)
    );
  }

  /** Stops every probe of a pod (it stopped or is gone). */
  removePod(podUid: string): void {
    for (const [key, entry] of this.#containers) {
      if (key.startsWith(`${podUid}/`)) {
        this.#stopContainer(entry);
        this.#containers.delete(key);
      }
    }
  }

  /** Stops the probes of containers not in `keep` (`${podUid}/${name}` → id). */
  retain(podUid: string, keep: ReadonlyMap<string, string>): void {
    for (const [key, entry] of this.#containers) {
      if (!key.startsWith(`${podUid}/`)) continue;
      if (keep.get(entry.container.name ?? '') !== entry.containerId) {
        this.#stopContainer(entry);
        this.#containers.delete(key);
      }
    }
  }

  stopAll(): void {
    for (const entry of this.#containers.values()) this.#stopContainer(entry);
    this.#containers.clear();
  }

  #worker(podUid: string, name: string, containerId: string, kind: ProbeKind): Worker | 'none' | undefined {
    const entry = this.#containers.get(`${podUid}/${name}`);
    if (!entry || entry.containerId !== containerId) {
      // Not (yet) known to the manager: a container without that probe counts as passing it.
      return undefined;
    }
    return entry.workers.get(kind) ?? 'none';
  }

  #stopContainer(entry: ContainerProbes): void {
    for (const w of entry.workers.values()) {
      w.stopped = true;
      w.timer?.cancel();
    }
  }

  #schedule(entry: ContainerProbes, w: Worker, delayMs: number): void {
    if (w.stopped) return;
    w.timer = this.#o.clock.setTimeout(() => {
      w.timer = undefined;
      void this.#run(entry, w);
    }, delayMs);
  }

  async #run(entry: ContainerProbes, w: Worker): Promise<void> {
    if (w.stopped || w.running) return;
    const periodMs = Math.max(1, w.probe.periodSeconds ?? 10) * 1000;
    // Liveness and readiness wait for the startup probe, as upstream.
    if (w.kind !== 'startup') {
      const s = entry.workers.get('startup');
      if (s && !s.result) {
        this.#schedule(entry, w, periodMs);
        return;
      }
    }
    if (w.kind === 'startup' && w.result) return; // done for good
    w.running = true;
    let outcome: ProbeOutcome;
    try {
      outcome = await runProbeAction(
        this.#o.runtime,
        w.probe,
        {
          containerId: entry.containerId,
          sandboxId: entry.sandboxId,
          podIP: entry.podIP,
          container: entry.container,
        },
        w.probe.timeoutSeconds ?? 1,
      );
    } finally {
      w.running = false;
    }
    if (w.stopped) return;
    const before = w.result;
    const uid = entry.pod.metadata?.uid ?? '';
    if (outcome.ok) {
      w.successes++;
      w.failures = 0;
      const threshold = w.kind === 'readiness' ? (w.probe.successThreshold ?? 1) : 1;
      if (w.successes >= threshold) {
        if (w.kind === 'liveness') w.result = false;
        else w.result = true;
      }
    } else {
      w.failures++;
      w.successes = 0;
      this.#o.events.unhealthy(
        entry.pod,
        entry.container.name ?? '',
        `${capitalized[w.kind]} probe failed: ${outcome.message}`,
      );
      if (w.failures >= (w.probe.failureThreshold ?? 3)) {
        if (w.kind === 'liveness') w.result = true;
        else if (w.kind === 'readiness') w.result = false;
        else {
          // A startup probe past its threshold kills the container like a liveness failure.
          this.#o.onChange(uid);
        }
      }
    }
    if (w.result !== before) this.#o.onChange(uid);
    // A liveness failure stops this worker: the container is being replaced.
    if (w.kind === 'liveness' && w.result) return;
    this.#schedule(entry, w, periodMs);
  }
}
