import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry } from './metrics.js';

describe('metrics', () => {
  it('renders counters, gauges and histograms in the Prometheus text format', () => {
    const r = new MetricsRegistry();
    r.counter('h8s_requests_total', 'Requests.').inc({ verb: 'GET', code: '200' }, 2);
    r.gauge('h8s_pods', 'Pods by state.').collectWith(() => [{ labels: { state: 'running' }, value: 3 }]);
    const h = r.histogram('h8s_latency_seconds', 'Latency.', [0.1, 1]);
    h.observe({}, 0.05);
    h.observe({}, 0.5);
    const text = r.render();
    assert.match(text, /# TYPE h8s_requests_total counter\nh8s_requests_total\{verb="GET",code="200"\} 2\n/);
    assert.match(text, /h8s_pods\{state="running"\} 3/);
    assert.match(
      text,
      /h8s_latency_seconds_bucket\{le="0.1"\} 1\nh8s_latency_seconds_bucket\{le="1"\} 2\nh8s_latency_seconds_bucket\{le="\+Inf"\} 2\nh8s_latency_seconds_sum 0.55\nh8s_latency_seconds_count 2/,
    );
  });

  it('escapes label values and bounds the number of series', () => {
    const r = new MetricsRegistry(2);
    const c = r.counter('x_total', 'X.');
    c.inc({ v: 'a"b\\c\nd' });
    c.inc({ v: '2' });
    c.inc({ v: '3' });
    const text = r.render();
    assert.match(text, /x_total\{v="a\\"b\\\\c\\nd"\} 1/);
    assert.doesNotMatch(text, /v="3"/);
    assert.match(text, /h8s_metrics_dropped_series_total 1/);
  });
});
