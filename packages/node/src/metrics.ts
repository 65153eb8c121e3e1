/** Prometheus text-format metrics: counters by label and latency histograms. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

class Histogram {
  readonly counts = new Array<number>(BUCKETS.length).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BUCKETS.length; i++)
      if (seconds <= (BUCKETS[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
  }
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

export class Metrics {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #histograms = new Map<string, Map<string, Histogram>>();
  readonly #help = new Map<string, string>();
  readonly #gauges = new Map<string, () => number>();

  constructor() {
    this.describe("sesame_messages_accepted_total", "Messages accepted, by kind");
    this.describe("sesame_messages_refused_total", "Messages refused, by error code");
    this.describe("sesame_http_request_duration_seconds", "HTTP request latency, by route");
    this.describe(
      "sesame_http_errors_total",
      "Error answers of any route (reads and writes), by error code",
    );
  }

  describe(name: string, help: string): void {
    this.#help.set(name, help);
  }

  inc(name: string, l: Record<string, string> = {}, by = 1): void {
    const series = this.#counters.get(name) ?? new Map<string, number>();
    this.#counters.set(name, series);
    const key = labels(l);
    series.set(key, (series.get(key) ?? 0) + by);
  }

  observe(name: string, l: Record<string, string>, seconds: number): void {
    const series = this.#histograms.get(name) ?? new Map<string, Histogram>();
    this.#histograms.set(name, series);
    const key = labels(l);
    let h = series.get(key);
    if (h === undefined) {
      h = new Histogram();
      series.set(key, h);
    }
    h.observe(seconds);
  }

  gauge(name: string, help: string, read: () => number): void {
    this.#help.set(name, help);
    this.#gauges.set(name, read);
  }

  counter(name: string, l: Record<string, string> = {}): number {
    return this.#counters.get(name)?.get(labels(l)) ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, series] of this.#counters) {
      out.push(`# HELP ${name} ${this.#help.get(name) ?? name}`, `# TYPE ${name} counter`);
      for (const [key, value] of series) out.push(`${name}${key} ${value}`);
    }
    for (const [name, series] of this.#histograms) {
      out.push(`# HELP ${name} ${this.#help.get(name) ?? name}`, `# TYPE ${name} histogram`);
      for (const [key, h] of series) {
        const inner = key === "" ? "" : key.slice(1, -1);
        const join = (extra: string) => `{${inner === "" ? extra : `${inner},${extra}`}}`;
        for (const [i, b] of BUCKETS.entries())
          out.push(`${name}_bucket${join(`le="${b}"`)} ${h.counts[i]}`);
        out.push(
          `${name}_bucket${join('le="+Inf"')} ${h.count}`,
          `${name}_sum${key} ${h.sum}`,
          `${name}_count${key} ${h.count}`,
        );
      }
    }
    for (const [name, read] of this.#gauges) {
      out.push(
        `# HELP ${name} ${this.#help.get(name) ?? name}`,
        `# TYPE ${name} gauge`,
        `${name} ${read()}`,
      );
    }
    return `${out.join("\n")}\n`;
  }
}
