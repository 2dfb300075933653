// Prometheus text exposition (format 0.0.4) without a client library: request counts by route and status, a
// latency histogram by route, and gauges read at scrape time (queue depth, workers, gallery size).

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly histograms = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(private readonly gauges: () => Record<string, { help: string; value: number }>) {}

  /** Records one finished request (`route` is the route pattern, never the raw URL, to bound cardinality). */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${label(method)}",route="${label(route)}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hkey = `route="${label(route)}"`;
    let h = this.histograms.get(hkey);
    if (!h) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.histograms.set(hkey, h);
    }
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) (h as { counts: number[] }).counts[i]++;
    });
    h.sum += seconds;
    h.count++;
  }

  render(): string {
    const lines = ['# HELP catface_http_requests_total HTTP requests answered.', '# TYPE catface_http_requests_total counter'];
    for (const [k, v] of this.requests) lines.push(`catface_http_requests_total{${k}} ${v}`);
    lines.push(
      '# HELP catface_http_request_duration_seconds Time from request to response.',
      '# TYPE catface_http_request_duration_seconds histogram',
    );
    for (const [k, h] of this.histograms) {
      for (const [i, b] of BUCKETS.entries()) lines.push(`catface_http_request_duration_seconds_bucket{${k},le="${b}"} ${h.counts[i]}`);
      lines.push(`catface_http_request_duration_seconds_bucket{${k},le="+Inf"} ${h.count}`);
      lines.push(`catface_http_request_duration_seconds_sum{${k}} ${h.sum}`);
      lines.push(`catface_http_request_duration_seconds_count{${k}} ${h.count}`);
    }
    for (const [name, g] of Object.entries(this.gauges()))
      lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.value}`);
    return `${lines.join('\n')}\n`;
  }
}
