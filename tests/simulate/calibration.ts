/**
 * Every cost the simulation charges, derived in one place from what the benchmark measured.
 * The simulation reads only `calibration`; the measurements it comes from are kept beside it so
 * the derivation can be checked (and redone when the benchmark is re-run).
 *
 * Sources:
 *   - baseline: the medians of a benchmark report (`npm run bench -- --report` of 2026-12-07 at
 *     308b8cd, basic, backlog, 1000 nodes × 3000 pods, 2 cores, 3 interleaved runs;
 *     docs/benchmarks/results.json as it was then). Writes per pod: 1 bind, 1 Event (the bench
 *     runs KWOK without the pod lifecycle: no status patch). An earlier report's (301.8 / 232.5
 *     pods/s) was the baseline until the shards outran it by 20 %.
 *   - CPU profiles of shards: a shard spends ~0.3 ms per pod it watches per extra shard
 *     (decoding, keeping and caching its events; the profile of a shard of three at 5000 nodes
 *     on 2026-12-07 still shows ~0.2 ms of watch path per pod before its share of garbage
 *     collection); a shard process takes ~0.3 CPU-s to start (its bundled entry point, farm-bench).
 *   - core: the scheduling core timed in process on this machine (`npm run bench -- --scenario
 *     core`, tests/bench/core.ts): ~0.43 ms per pod at 1000 nodes (420 nodes scanned), ~1.55 ms
 *     at 50 000 (2500 scanned); a straight line through both.
 *
 * Derivation (3000 pods; W = pod watchers, D = watch deliveries):
 *   API server. Every write costs `w`; every watch event costs `f` per watcher it is sent to.
 *   Pod watchers besides the shards: KWOK, the controller-manager and the bench's harness (3).
 *   Deliveries per pod: each shard lists it (1) and gets its bind event (1); the 3 others get
 *   the bind event → D = 2·S + 3.
 *     1 shard:  7.4 s = 3000 · (2 w + 5 f)
 *     3 shards: 8.4 s = 3000 · (2 w + 9 f)
 *   → f = 1.0 s / (3000 · 4) ≈ 0.083 ms, w ≈ 1.03 ms.
 *   Shards. A shard pays a fixed `F` (start, connections, its node cache), `d` per pod it
 *   watches and `s` per pod it schedules: 3.9 s = F + 3000 (d + s); 7.2 s = 3F + 3000 (3d + s);
 *   with d = 0.3 ms (profile) → F = 0.75 s, s = 0.75 ms. F is its start and the rest spread
 *   over a shard's first requests (connections, warm-up; see shardWarmupRequests). Of s the core
 *   is the part timed in process at 1000 nodes; the rest (the client's requests) stays the same
 *   at any size.
 *   The rest of the machine: etcd 1.5 s per 6000 writes; KWOK 0.7 s per 3000 pods; the
 *   controller-manager and the harness 1.3 s over the 7.8 s run.
 *   A native gang's PodGroup condition (written once per gang by its shard) is charged as one
 *   more write and one watch event per shard: no constant of its own.
 */
import { feasibleNodesToFind } from "../../scheduler/src/core/gang-placement.js";

/** What the baseline run measured (see the header). */
export const baseline = {
  nodes: 1000,
  pods: 3000,
  machineCores: 2,
  podsPerSecond: { 1: 383.6, 3: 313.8 } as Record<number, number>,
  apiServerCpuSeconds: { 1: 7.4, 3: 8.4 } as Record<number, number>,
  shardCpuSeconds: { 1: 3.9, 3: 7.2 } as Record<number, number>,
  etcdCpuSeconds: 1.5,
  kwokCpuSeconds: 0.7,
  /** controller-manager 0.8, harness 0.5 (kube-scheduler is stopped during other systems' runs). */
  otherCpuSeconds: 1.3,
  writesPerPod: { binds: 1, events: 1, statusPatches: 0 },
  /** Measured: a shard's start with its bundled entry point (farm-bench, `--help`). */
  shardStartSeconds: 0.3,
  /**
   * An assumption: the rest of the fixed cost (its connections, the client's JIT warm-up) is
   * paid over the first requests. Spread over fewer, the shard
   * alone would be busy for seconds while the API server idles, which the real runs (99.8 % busy)
   * do not show.
   */
  shardWarmupRequests: 2000,
  /** Profiled: decode per pod per extra shard. */
  shardDecodeMsPerPod: 0.3,
  /** Measured: one shard's node-scan cost from the core bench, at 1000 and 50 000 nodes. */
  coreMsPerPod: [
    { nodesScanned: 420, ms: 0.43 },
    { nodesScanned: 2500, ms: 1.55 },
  ],
  otherPodWatchers: 3,
};

export interface Calibration {
  /** API-server CPU per write (bind, Event, status patch, create), watch fan-out not included. */
  readonly apiWriteMs: number;
  /** API-server CPU per watch event per watcher it is sent to. */
  readonly apiWatchEventMs: number;
  /** Pod watchers that are not shards. */
  readonly otherPodWatchers: number;
  /** A shard's CPU before it schedules: importing its client (profiled). */
  readonly shardStartMs: number;
  /** The rest of a shard's fixed CPU, paid a share with each of its first requests (warm-up). */
  readonly shardWarmupMsPerRequest: number;
  /** Requests the warm-up is spread over. */
  readonly shardWarmupRequests: number;
  /** A shard's CPU per pod it watches (list item, bind event, status events). */
  readonly shardWatchMsPerPod: number;
  /** A shard's CPU per pod it schedules, the core left out (its client's requests). */
  readonly shardClientMsPerPod: number;
  /** The core's CPU per pod placed: base + per node scanned (core bench). */
  readonly coreBaseMs: number;
  readonly coreMsPerNodeScanned: number;
  /** etcd CPU per write. */
  readonly etcdWriteMs: number;
  /** KWOK's CPU per pod bound (shared-machine runs only; a real cluster has kubelets). */
  readonly kwokMsPerPod: number;
  /** The rest of the machine (controller-manager, idle kube-scheduler, harness), in cores. */
  readonly otherCores: number;
  /** Writes per pod the calibration runs made. */
  readonly eventsPerPod: number;
  readonly statusPatchesPerPod: number;
}

/** Solves the header's equations from `baseline`. */
export function derive(measured: typeof baseline = baseline): Calibration {
  const pods = measured.pods;
  const writes =
    measured.writesPerPod.binds + measured.writesPerPod.events + measured.writesPerPod.statusPatches;
  const eventsPerShard = 1 + measured.writesPerPod.binds + measured.writesPerPod.statusPatches;
  const eventsPerOther = measured.writesPerPod.binds + measured.writesPerPod.statusPatches;
  const deliveries = (shards: number) => eventsPerShard * shards + eventsPerOther * measured.otherPodWatchers;
  const api1 = (measured.apiServerCpuSeconds[1] as number) * 1000;
  const api3 = (measured.apiServerCpuSeconds[3] as number) * 1000;
  const apiWatchEventMs = (api3 - api1) / (pods * (deliveries(3) - deliveries(1)));
  const apiWriteMs = (api1 / pods - deliveries(1) * apiWatchEventMs) / writes;
  const shard1 = (measured.shardCpuSeconds[1] as number) * 1000;
  const shard3 = (measured.shardCpuSeconds[3] as number) * 1000;
  const d = measured.shardDecodeMsPerPod;
  const shardFixedMs = (shard3 - shard1 - 2 * pods * d) / 2;
  const s = (shard1 - shardFixedMs) / pods - d;
  const [small, large] = measured.coreMsPerPod as [
    { nodesScanned: number; ms: number },
    { nodesScanned: number; ms: number },
  ];
  const coreMsPerNodeScanned = (large.ms - small.ms) / (large.nodesScanned - small.nodesScanned);
  const coreBaseMs = small.ms - coreMsPerNodeScanned * small.nodesScanned;
  const runSeconds = pods / (measured.podsPerSecond[1] as number);
  return {
    apiWriteMs,
    apiWatchEventMs,
    otherPodWatchers: measured.otherPodWatchers,
    shardStartMs: measured.shardStartSeconds * 1000,
    shardWarmupMsPerRequest:
      (shardFixedMs - measured.shardStartSeconds * 1000) / measured.shardWarmupRequests,
    shardWarmupRequests: measured.shardWarmupRequests,
    shardWatchMsPerPod: d,
    shardClientMsPerPod: Math.max(0, s - small.ms),
    coreBaseMs,
    coreMsPerNodeScanned,
    etcdWriteMs: (measured.etcdCpuSeconds * 1000) / (pods * writes),
    kwokMsPerPod: (measured.kwokCpuSeconds * 1000) / pods,
    otherCores: measured.otherCpuSeconds / runSeconds,
    eventsPerPod: measured.writesPerPod.events,
    statusPatchesPerPod: measured.writesPerPod.statusPatches,
  };
}

export const calibration: Calibration = derive();

/** The core's CPU to place one pod when its shard owns `ownedNodes` nodes (it scans feasibleNodesToFind of them). */
export function coreMsPerPod(c: Calibration, ownedNodes: number): number {
  return c.coreBaseMs + c.coreMsPerNodeScanned * feasibleNodesToFind(ownedNodes, 0);
}
