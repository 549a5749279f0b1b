import type { Registry } from 'prom-client';

/** One label set's counts: what `observe` touches on the hot path. */
export interface HistogramChild {
  observe(value: number): void;
}

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A value line as prom-client's registry formats it (`metricName{labels} value`). */
export interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export interface HistogramOptions<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  buckets: readonly number[];
  registers: Registry[];
}

/**
 * A Prometheus histogram whose label sets are bound once (`labels()`) and observed with
 * a bucket search and three additions. prom-client's Histogram validates and hashes the
 * labels on every observe, even through a bound child, which cost more per delivery
 * than the rest of the dispatcher's accounting. The exposition is prom-client's own: the
 * registry formats what `get()` returns, with the same `_bucket` (cumulative, `le`),
 * `_sum` and `_count` lines.
 */
export class TalliedHistogram<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly T[];
  readonly #labelNames: ReadonlySet<string>;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();

  constructor(o: HistogramOptions<T>) {
    this.name = o.name;
    this.help = o.help;
    this.labelNames = [...o.labelNames];
    this.#labelNames = new Set(o.labelNames);
    this.#bounds = [...o.buckets].sort((a, b) => a - b);
    for (const r of o.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** A child counting into the one series of this label set (every call for the same labels shares it). Throws on an unknown label name. */
  labels(labels: Partial<Record<T, string | number>>): HistogramChild {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) {
      if (!this.#labelNames.has(k)) throw new Error(`${this.name}: unknown label ${k}`);
      if (v !== undefined) clean[k] = String(v);
    }
    const key = JSON.stringify(Object.entries(clean).sort(([a], [b]) => (a < b ? -1 : 1)));
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: clean, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    const series = s;
    const bounds = this.#bounds;
    return {
      observe(value: number): void {
        if (!Number.isFinite(value)) return;
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        series.counts[i]!++;
        series.sum += value;
        series.count++;
      },
    };
  }

  reset(): void {
    this.#series.clear();
  }

  /** prom-client's metric shape, for its registry's exposition. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.#series.values()) {
      let acc = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.#bounds[i]!, ...s.labels }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
