/** Percentiles and counts of a set of measurements, in the unit they were taken in. */
export interface Summary {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles: each reported value is one that was actually measured. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, min: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const sorted = [...values].sort((a, b) => a - b);
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
  };
}

/** Arrival times (ms from the start) of an open-loop load: `count` arrivals at `perSecond`, evenly spaced. */
export function arrivalSchedule(count: number, perSecond: number): number[] {
  return Array.from({ length: count }, (_, index) => (index * 1000) / perSecond);
}
