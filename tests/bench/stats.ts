/** Percentiles and throughput of a benchmark run. */
import type { CpuUsage } from "./cpu-usage.js";

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
export interface SystemResult {
  system: string;
  shards?: number;
  pods: number;
  scheduled: number;
  podsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  durationSeconds: number;
  /** Where the CPU time went while it ran (basic scenario). */
  cpu?: CpuUsage;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Throughput = pods bound / (last bind − first creation); latency per pod = bind seen by the
 * watch − creation acknowledged by the API server (never negative).
 */
export function summarize(
  system: string,
  created: ReadonlyMap<string, number>,
  bound: ReadonlyMap<string, number>,
  firstCreateAt: number,
  extra: Pick<SystemResult, "shards" | "cpu"> = {},
): SystemResult {
  const latencies: number[] = [];
  let lastBound = firstCreateAt;
  for (const [name, at] of bound) {
    const createdAt = created.get(name);
    if (createdAt === undefined) continue;
    latencies.push(Math.max(0, at - createdAt));
    lastBound = Math.max(lastBound, at);
  }
  latencies.sort((a, b) => a - b);
  const seconds = Math.max(0.001, (lastBound - firstCreateAt) / 1000);
  return {
    system,
    ...extra,
    pods: created.size,
    scheduled: latencies.length,
    podsPerSecond: round(latencies.length / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p90Ms: round(percentile(latencies, 90)),
    p99Ms: round(percentile(latencies, 99)),
    durationSeconds: round(seconds, 2),
  };
}
