/** Summaries of repeated measurements. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** p50/p99/min/max/mean; null when there is nothing to summarise. */
export function summarize(values: number[], digits = 1): Summary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 0.5), digits),
    p99: round(percentile(sorted, 0.99), digits),
    min: round(sorted[0]!, digits),
    max: round(sorted.at(-1)!, digits),
    mean: round(sorted.reduce((sum, v) => sum + v, 0) / sorted.length, digits),
  };
}
