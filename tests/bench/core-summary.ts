/**
 * The "core-summary" scenario: the capacity summary a shard publishes for the coordinator, in
 * process, no API server or Redis. N nodes the shard owns, P pods bound B at a time (a second's
 * binds at the basic scenario's pace); after each batch a summary is built and serialized as the
 * publisher does, two ways side by side on the same cluster: as a shard does (a kept
 * CapacitySummarizer: the entries of unchanged nodes reused) and from nothing each time
 * (summarizeCapacity). Both must give the same text, or the run fails.
 */
import { CapacitySummarizer, summarizeCapacity } from "../../scheduler/src/coordination/capacity-summary.js";
import { ClusterState, toPodInfo } from "../../scheduler/src/core/index.js";
import { node, pod } from "./core.js";

export interface CoreSummaryBenchOptions {
  nodes: number;
  pods: number;
  /** Pods bound between two summaries. */
  bindsPerSummary: number;
}

export interface SummaryCost {
  /** "kept": a shard's summarizer, unchanged nodes' entries reused; "fresh": built from nothing. */
  system: "kept" | "fresh";
  summaries: number;
  p50Us: number;
  p99Us: number;
  totalSeconds: number;
}

export interface CoreSummaryBenchResult {
  nodes: number;
  pods: number;
  bindsPerSummary: number;
  /** The last summary's size. */
  bytes: number;
  results: SummaryCost[];
}

export function runCoreSummaryBench(options: CoreSummaryBenchOptions): CoreSummaryBenchResult {
  const cluster = new ClusterState();
  for (let i = 0; i < options.nodes; i++) cluster.upsertNode(node(i));
  const owns = () => true;
  const header = { shard: "bench", epoch: 1, publishedAt: 0 };
  const summarizer = new CapacitySummarizer();
  const ways = {
    kept: () => JSON.stringify(summarizer.summarize(cluster, owns, header, [])),
    fresh: () => JSON.stringify(summarizeCapacity(cluster, owns, header, [])),
  };
  const micros = { kept: [] as number[], fresh: [] as number[] };
  let bytes = 0;
  for (let bound = 0; bound < options.pods; ) {
    const until = Math.min(options.pods, bound + options.bindsPerSummary);
    // Pod i on node i mod N: a batch changes as many nodes as it binds pods (while it has nodes).
    for (; bound < until; bound++) {
      const pending = pod(bound, undefined);
      cluster.upsertPod(
        toPodInfo({ ...pending, spec: { ...pending.spec, nodeName: `node-${bound % options.nodes}` } }),
      );
    }
    // Each way goes first every other round, so neither pays the other's garbage more often.
    const order = micros.kept.length % 2 === 0 ? (["kept", "fresh"] as const) : (["fresh", "kept"] as const);
    const text = { kept: "", fresh: "" };
    for (const way of order) {
      const t0 = performance.now();
      text[way] = ways[way]();
      micros[way].push((performance.now() - t0) * 1000);
    }
    if (text.kept !== text.fresh)
      throw new Error(`the kept summary differs from one built from nothing after ${bound} binds`);
    bytes = text.kept.length;
  }
  return { ...options, bytes, results: [costOf("kept", micros.kept), costOf("fresh", micros.fresh)] };
}

function costOf(system: SummaryCost["system"], micros: number[]): SummaryCost {
  const sorted = [...micros].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const total = micros.reduce((sum, us) => sum + us, 0);
  return {
    system,
    summaries: micros.length,
    p50Us: Math.round(at(50)),
    p99Us: Math.round(at(99)),
    totalSeconds: Math.round(total / 1000) / 1000,
  };
}
