/** Percentiles and counts of a set of measurements, in the unit they were taken in. */
export interface Summary {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  /**
   * 95% confidence intervals of p50 and p99 from the order statistics alone (no assumption about the distribution):
   * the noise range a comparison between runs must look beyond.
   */
  ranges?: { p50: [number, number]; p99: [number, number] };
}

/** Nearest-rank percentiles: each reported value is one that was actually measured. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, min: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const range = (q: number) => quantileInterval(sorted, q);
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
  return {
    count: sorted.length,
    min: sorted[0] as number,
    p50: rank(50),
    p95: rank(95),
    p99: rank(99),
    max: sorted[sorted.length - 1] as number,
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    ranges: { p50: range(0.5), p99: range(0.99) },
  };
}

/**
 * The measured values between which quantile `q` lies with about 95% confidence: the number of samples below the
 * true quantile is binomial (n, q), so its ranks are nq ± 1.96·√(nq(1−q)), widened to whole ranks and clamped to the
 * samples (a p99 of a hundred samples reaches the maximum).
 */
export function quantileInterval(sorted: readonly number[], q: number): [number, number] {
  const n = sorted.length;
  const spread = 1.96 * Math.sqrt(n * q * (1 - q));
  const low = Math.max(0, Math.floor(n * q - spread) - 1);
  const high = Math.min(n - 1, Math.ceil(n * q + spread));
  return [sorted[low] as number, sorted[high] as number];
}

/** Arrival times (ms from the start) of an open-loop load: `count` arrivals at `perSecond`, evenly spaced. */
export function arrivalSchedule(count: number, perSecond: number): number[] {
  return Array.from({ length: count }, (_, index) => (index * 1000) / perSecond);
}
