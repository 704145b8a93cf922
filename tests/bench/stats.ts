/** Percentiles and throughput of a benchmark run. */
import type { ApiWrites } from "./api-writes.js";
import type { CpuUsage } from "./cpu-usage.js";
import type { ProcessMemory } from "./memory-usage.js";
import type { ShardCost } from "./shard-cost.js";

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
export interface SystemResult {
  system: string;
  shards?: number;
  /** sharded-scheduler's --scheduled-events for the run (absent: the flag was not passed, the shard's default). */
  scheduledEvents?: string;
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
  /** Each shard's own CPU, GC and watch cost from its start to the end of the run (sharded-scheduler). */
  shardCosts?: ShardCost[];
  /** When the pods came in gangs (gangs scenario). */
  gangs?: GangStats;
  /** Write requests the API server counted during the run, per bound pod (KWOK's included). */
  apiWritesPerPod?: ApiWrites;
  /** Every request per pod by "VERB resource[/subresource]" (reads and watches too), from apiserver_request_total. */
  apiRequestsPerPod?: Record<string, number>;
  /** What the API server asked etcd per pod, by "operation resource" (etcd_requests_total). */
  etcdRequestsPerPod?: Record<string, number>;
  /** kube-apiserver's CPU milliseconds over the run per pod bound (when the run measured CPU). */
  apiServerCpuMsPerPod?: number;
  /** The system's own processes' CPU milliseconds (all shards together) per pod bound. */
  schedulerCpuMsPerPod?: number;
  /** With several runs (--runs): how the figures varied; this result's own figures are their medians. */
  spread?: RunSpread;
  /** With several runs: each run's own result, in the order they ran. */
  eachRun?: SystemResult[];
}

/** One figure over a system's runs. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The headline figures' medians and ranges over a system's runs. */
export interface RunSpread {
  runs: number;
  podsPerSecond: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  apiServerCpuMsPerPod?: Spread;
  schedulerCpuMsPerPod?: Spread;
  /** All writes per pod (the sum of apiWritesPerPod). */
  writesPerPod?: Spread;
  /** All requests per pod (the sum of apiRequestsPerPod). */
  requestsPerPod?: Spread;
  gangsPerSecond?: Spread;
  gangP99Ms?: Spread;
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
  extra: Pick<
    SystemResult,
    | "shards"
    | "scheduledEvents"
    | "cpu"
    | "memory"
    | "apiWritesPerPod"
    | "apiRequestsPerPod"
    | "etcdRequestsPerPod"
  > = {},
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
  const cpuMsPerPod = (component: string) => {
    const cpuSeconds = extra.cpu?.cpuSeconds[component];
    return cpuSeconds === undefined || latencies.length === 0
      ? undefined
      : round((cpuSeconds * 1000) / latencies.length, 2);
  };
  const apiServerCpuMsPerPod = cpuMsPerPod("kube-apiserver");
  // cpu-usage.ts names each system's processes after the system (all shards as one).
  const schedulerCpuMsPerPod = cpuMsPerPod(system);
  return {
    system,
    ...extra,
    ...(apiServerCpuMsPerPod === undefined ? {} : { apiServerCpuMsPerPod }),
    ...(schedulerCpuMsPerPod === undefined ? {} : { schedulerCpuMsPerPod }),
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

/** The median (of the middle two for an even count), NaN for no finite value. */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function spreadOf(values: readonly (number | undefined)[], digits: number): Spread | undefined {
  const finite = values.filter((value): value is number => value !== undefined && Number.isFinite(value));
  if (finite.length === 0) return undefined;
  return {
    median: round(median(finite), digits),
    min: round(Math.min(...finite), digits),
    max: round(Math.max(...finite), digits),
  };
}

/** Per key, the median over the records (a key a record lacks counts as 0 there), in the first record's key order. */
function medianRecord<T extends Readonly<Record<string, number>>>(records: readonly T[], digits: number): T {
  const keys = new Set(records.flatMap((record) => Object.keys(record)));
  return Object.fromEntries(
    [...keys].map((key) => [key, round(median(records.map((r) => r[key] ?? 0)), digits)]),
  ) as T;
}

/** The sum of a record's values, two decimals (writes or requests per pod, all kinds). */
export function totalPerPod(perPod: Readonly<Record<string, number>> | undefined): number | undefined {
  return perPod === undefined
    ? undefined
    : round(
        Object.values(perPod).reduce((a, b) => a + b, 0),
        2,
      );
}

const unmeasured: Spread = { median: Number.NaN, min: Number.NaN, max: Number.NaN };

/**
 * One system's runs as one result: each figure the median over the runs (pods bound: the
 * fewest), with the headline figures' ranges in spread and the runs themselves in eachRun.
 * Memory and the shards' costs are the median run's (by pods/s). One run is returned as it is.
 */
export function medianOfRuns(runs: readonly SystemResult[]): SystemResult {
  const [first] = runs;
  if (first === undefined) throw new Error("no runs to summarize");
  if (runs.length === 1) return first;
  const byThroughput = [...runs].sort((a, b) => a.podsPerSecond - b.podsPerSecond);
  const middle = byThroughput[Math.floor((runs.length - 1) / 2)] as SystemResult;
  const of = (pick: (r: SystemResult) => number | undefined, digits = 1) => spreadOf(runs.map(pick), digits);
  const mid = (pick: (r: SystemResult) => number | undefined, digits = 1) =>
    round(median(runs.map((r) => pick(r) ?? Number.NaN)), digits);
  /** The picked values of every run, or undefined when a run lacks it. */
  const everyRun = <T>(pick: (r: SystemResult) => T | undefined): T[] | undefined => {
    const values = runs.map(pick);
    return values.every((value) => value !== undefined) ? (values as T[]) : undefined;
  };
  const optional = <K extends string>(key: K, value: Spread | undefined) =>
    value === undefined ? {} : ({ [key]: value } as Record<K, Spread>);
  const spread: RunSpread = {
    runs: runs.length,
    podsPerSecond: of((r) => r.podsPerSecond) ?? unmeasured,
    p50Ms: of((r) => r.p50Ms) ?? unmeasured,
    p99Ms: of((r) => r.p99Ms) ?? unmeasured,
    ...optional(
      "apiServerCpuMsPerPod",
      of((r) => r.apiServerCpuMsPerPod, 2),
    ),
    ...optional(
      "schedulerCpuMsPerPod",
      of((r) => r.schedulerCpuMsPerPod, 2),
    ),
    ...optional(
      "writesPerPod",
      of((r) => totalPerPod(r.apiWritesPerPod), 2),
    ),
    ...optional(
      "requestsPerPod",
      of((r) => totalPerPod(r.apiRequestsPerPod), 2),
    ),
    ...optional(
      "gangsPerSecond",
      of((r) => r.gangs?.gangsPerSecond),
    ),
    ...optional(
      "gangP99Ms",
      of((r) => r.gangs?.p99Ms),
    ),
  };
  const cpus = everyRun((r) => r.cpu);
  const writes = everyRun((r) => r.apiWritesPerPod);
  const requests = everyRun((r) => r.apiRequestsPerPod);
  const etcdRequests = everyRun((r) => r.etcdRequestsPerPod);
  const gangs = everyRun((r) => r.gangs);
  const apiServerCpuMsPerPod = spread.apiServerCpuMsPerPod?.median;
  const schedulerCpuMsPerPod = spread.schedulerCpuMsPerPod?.median;
  const cpu: CpuUsage | undefined = cpus && {
    cpuSeconds: medianRecord(
      cpus.map((c) => c.cpuSeconds),
      1,
    ),
    machineBusyPercent: mid((r) => r.cpu?.machineBusyPercent),
    cores: first.cpu?.cores ?? 0,
  };
  const gangStats: GangStats | undefined = gangs && {
    gangSize: Math.max(...gangs.map((g) => g.gangSize)),
    gangs: Math.max(...gangs.map((g) => g.gangs)),
    bound: Math.min(...gangs.map((g) => g.bound)),
    gangsPerSecond: mid((r) => r.gangs?.gangsPerSecond),
    p50Ms: mid((r) => r.gangs?.p50Ms),
    p90Ms: mid((r) => r.gangs?.p90Ms),
    p99Ms: mid((r) => r.gangs?.p99Ms),
    ...(gangs.every((g) => g.apiServerCpuMsPerGang !== undefined)
      ? { apiServerCpuMsPerGang: mid((r) => r.gangs?.apiServerCpuMsPerGang) }
      : {}),
  };
  return {
    system: first.system,
    ...(first.shards === undefined ? {} : { shards: first.shards }),
    ...(first.scheduledEvents === undefined ? {} : { scheduledEvents: first.scheduledEvents }),
    ...(cpu ? { cpu } : {}),
    ...(middle.memory ? { memory: middle.memory } : {}),
    ...(middle.shardCosts ? { shardCosts: middle.shardCosts } : {}),
    ...(gangStats ? { gangs: gangStats } : {}),
    ...(writes ? { apiWritesPerPod: medianRecord(writes, 2) } : {}),
    ...(requests ? { apiRequestsPerPod: medianRecord(requests, 2) } : {}),
    ...(etcdRequests ? { etcdRequestsPerPod: medianRecord(etcdRequests, 2) } : {}),
    ...(apiServerCpuMsPerPod === undefined ? {} : { apiServerCpuMsPerPod }),
    ...(schedulerCpuMsPerPod === undefined ? {} : { schedulerCpuMsPerPod }),
    pods: Math.max(...runs.map((r) => r.pods)),
    scheduled: Math.min(...runs.map((r) => r.scheduled)),
    podsPerSecond: spread.podsPerSecond.median,
    p50Ms: spread.p50Ms.median,
    p90Ms: mid((r) => r.p90Ms),
    p99Ms: spread.p99Ms.median,
    durationSeconds: mid((r) => r.durationSeconds, 2),
    spread,
    eachRun: [...runs],
  };
}
