/**
 * Prometheus metrics in the text exposition format (0.0.4), for the `/metrics` endpoints of the
 * server, the agent and the runtime. Counters, gauges (set, or computed when scraped) and
 * histograms, each with fixed label names; label values are escaped. Label sets are bounded per
 * metric (default 1,000): a metric labelled by something a tenant controls cannot grow without
 * limit; further sets are dropped and counted in `h8s_metrics_dropped_series_total`.
 */

export type Labels = Readonly<Record<string, string>>;

interface Series {
  readonly labels: Labels;
  value: number;
  buckets?: number[];
  sum?: number;
  count?: number;
}

type Kind = 'counter' | 'gauge' | 'histogram';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

abstract class Metric {
  protected readonly series = new Map<string, Series>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: Kind,
    protected readonly registry: MetricsRegistry,
  ) {}

  protected seriesFor(labels: Labels): Series | undefined {
    const key = JSON.stringify(Object.entries(labels).sort());
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.registry.maxSeries) {
        this.registry.dropped++;
        return undefined;
      }
      s = { labels: { ...labels }, value: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  /** Lines of this metric, for `render`. */
  lines(): string[] {
    const out = [`# HELP ${this.name} ${this.help.replace(/\n/g, ' ')}`, `# TYPE ${this.name} ${this.kind}`];
    for (const s of this.collect()) out.push(...this.seriesLines(s));
    return out;
  }

  protected collect(): Iterable<Series> {
    return this.series.values();
  }

  protected seriesLines(s: Series): string[] {
    return [`${this.name}${labelText(s.labels)} ${formatNumber(s.value)}`];
  }
}

export class Counter extends Metric {
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) return;
    const s = this.seriesFor(labels);
    if (s) s.value += by;
  }
}

export class Gauge extends Metric {
  #collector: (() => readonly { labels: Labels; value: number }[]) | undefined;

  set(labels: Labels, value: number): void {
    const s = this.seriesFor(labels);
    if (s) s.value = value;
  }

  /** Computes the values when scraped (replaces `set`). */
  collectWith(fn: () => readonly { labels: Labels; value: number }[]): this {
    this.#collector = fn;
    return this;
  }

  protected override collect(): Iterable<Series> {
    if (!this.#collector) return this.series.values();
    return this.#collector().map((x) => ({ labels: x.labels, value: x.value }));
  }
}

export class Histogram extends Metric {
  constructor(
    name: string,
    help: string,
    registry: MetricsRegistry,
    readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram', registry);
  }

  observe(labels: Labels, value: number): void {
    const s = this.seriesFor(labels);
    if (!s) return;
    s.buckets ??= this.bounds.map(() => 0);
    for (let i = 0; i < this.bounds.length; i++)
      if (value <= (this.bounds[i] as number)) (s.buckets[i] as number)++;
    s.sum = (s.sum ?? 0) + value;
    s.count = (s.count ?? 0) + 1;
  }

  protected override seriesLines(s: Series): string[] {
    const out: string[] = [];
    this.bounds.forEach((b, i) =>
      out.push(`${this.name}_bucket${labelText(s.labels, ['le', formatNumber(b)])} ${s.buckets?.[i] ?? 0}`),
    );
    out.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count ?? 0}`);
    out.push(`${this.name}_sum${labelText(s.labels)} ${formatNumber(s.sum ?? 0)}`);
    out.push(`${this.name}_count${labelText(s.labels)} ${s.count ?? 0}`);
    return out;
  }
}

/** Default latency buckets in seconds (Prometheus client defaults). */
export const defaultLatencyBuckets: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();
  dropped = 0;

  constructor(readonly maxSeries = 1_000) {}

  #add<M extends Metric>(m: M): M {
    const existing = this.#metrics.get(m.name);
    if (existing) {
      if (existing.kind !== m.kind)
        throw new Error(`Metric "${m.name}" is already registered as a ${existing.kind}`);
      return existing as M;
    }
    this.#metrics.set(m.name, m);
    return m;
  }

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help, 'counter', this));
  }

  gauge(name: string, help: string): Gauge {
    return this.#add(new Gauge(name, help, 'gauge', this));
  }

  histogram(name: string, help: string, bounds: readonly number[] = defaultLatencyBuckets): Histogram {
    return this.#add(
      new Histogram(
        name,
        help,
        this,
        [...bounds].sort((a, b) => a - b),
      ),
    );
  }

  /** The text exposition of every metric. */
  render(): string {
    const lines: string[] = [];
    for (const m of this.#metrics.values()) lines.push(...m.lines());
    lines.push('# HELP h8s_metrics_dropped_series_total Label sets dropped because a metric had too many.');
    lines.push('# TYPE h8s_metrics_dropped_series_total counter');
    lines.push(`h8s_metrics_dropped_series_total ${this.dropped}`);
    return lines.join('\n') + '\n';
  }
}

/** The content type of `render()`'s output. */
export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';
