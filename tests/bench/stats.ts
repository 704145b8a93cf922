/** Percentiles and throughput of a benchmark run. */
import type { ApiWrites } from "./api-writes.js";
import type { CpuUsage } from "./cpu-usage.js";
import type { ProcessMemory } from "./memory-usage.js";

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
  /** Resident memory of the system's own processes at the end of the run (each shard apart). */
  memory?: ProcessMemory[];
  /** When the pods came in gangs (gangs scenario). */
  gangs?: GangStats;
  /** Write requests the API server counted during the run, per bound pod (KWOK's included). */
  apiWritesPerPod?: ApiWrites;
  /** Every request per pod by "VERB resource[/subresource]" (reads and watches too), from apiserver_request_total. */
  apiRequestsPerPod?: Record<string, number>;
}

/** A gang counts as bound when its last member is; its latency is to that bind. */
export interface GangStats {
  gangSize: number;
  gangs: number;
  bound: number;
  gangsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** kube-apiserver's CPU milliseconds over the run per gang bound (when the run measured CPU). */
  apiServerCpuMsPerGang?: number;
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
  extra: Pick<SystemResult, "shards" | "cpu" | "memory" | "apiWritesPerPod" | "apiRequestsPerPod"> = {},
  gangOf?: (pod: string) => string,
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
  const gangs = gangOf && summarizeGangs(created, bound, gangOf, seconds, extra.cpu);
  return {
    system,
    ...extra,
    ...(gangs ? { gangs } : {}),
    pods: created.size,
    scheduled: latencies.length,
    podsPerSecond: round(latencies.length / seconds),
    ...latencyPercentiles(latencies),
    durationSeconds: round(seconds, 2),
  };
}

function latencyPercentiles(sorted: readonly number[]): Pick<SystemResult, "p50Ms" | "p90Ms" | "p99Ms"> {
  return {
    p50Ms: round(percentile(sorted, 50)),
    p90Ms: round(percentile(sorted, 90)),
    p99Ms: round(percentile(sorted, 99)),
  };
}

function summarizeGangs(
  created: ReadonlyMap<string, number>,
  bound: ReadonlyMap<string, number>,
  gangOf: (pod: string) => string,
  seconds: number,
  cpu: CpuUsage | undefined,
): GangStats {
  const gangs = new Map<string, { members: number; bound: number; lastCreated: number; lastBound: number }>();
  for (const [name, createdAt] of created) {
    const gang = gangOf(name);
    const entry = gangs.get(gang) ?? { members: 0, bound: 0, lastCreated: 0, lastBound: 0 };
    entry.members++;
    entry.lastCreated = Math.max(entry.lastCreated, createdAt);
    const boundAt = bound.get(name);
    if (boundAt !== undefined) {
      entry.bound++;
      entry.lastBound = Math.max(entry.lastBound, boundAt);
    }
    gangs.set(gang, entry);
  }
  const latencies = [...gangs.values()]
    .filter((gang) => gang.bound === gang.members)
    .map((gang) => Math.max(0, gang.lastBound - gang.lastCreated))
    .sort((a, b) => a - b);
  return {
    gangSize: Math.max(0, ...[...gangs.values()].map((gang) => gang.members)),
    gangs: gangs.size,
    bound: latencies.length,
    gangsPerSecond: round(latencies.length / seconds),
    ...latencyPercentiles(latencies),
    ...(cpu?.cpuSeconds["kube-apiserver"] !== undefined && latencies.length > 0
      ? { apiServerCpuMsPerGang: round((cpu.cpuSeconds["kube-apiserver"] * 1000) / latencies.length) }
      : {}),
  };
}
