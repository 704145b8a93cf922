/**
 * What a shard process cost over its life, read from its own /metrics just before it stops: its
 * CPU (start, cache sync and the run), the part of it its garbage collector took, and what its
 * watches of pods and nodes received and took to decode; and whether its own Lease lapsed (a
 * lapse pauses its binds and relists its caches). Every shard watches every pod and node, so the
 * watches' costs do not divide when shards are added: read beside the pods each shard bound, they
 * show what a second and third shard add.
 */
import { memberMetrics } from "../stack/stack.js";
import { metricValue } from "../support/metrics.js";

/** What a shard's watch of one resource received and cost, from its metrics. */
export interface WatchCost {
  events: number;
  bytes: number;
  decodeSeconds: number;
}

/** One shard process's cost from its start to the reading. */
export interface ShardCost {
  process: string;
  /** process_cpu_seconds_total: user and system, every thread. */
  cpuSeconds: number;
  /** Time in garbage collection (nodejs_gc_duration_seconds, every kind). */
  gcSeconds: number;
  watch: { pods: WatchCost; nodes: WatchCost };
  /**
   * Renewals of its own Lease answered too late to count, and its lapses (each one paused its
   * binds and relisted its caches). Absent from results saved before they were read.
   */
  lease?: { lateRenewals: number; lapses: number };
}

const watchCostOf = (text: string, resource: string): WatchCost => ({
  events: metricValue(text, "sharded_scheduler_watch_events_total", { resource }),
  bytes: metricValue(text, "sharded_scheduler_watch_received_bytes_total", { resource }),
  decodeSeconds: metricValue(text, "sharded_scheduler_watch_decode_seconds_total", { resource }),
});

/** The watch costs of pods and nodes in a shard's metrics text. */
export const watchCostsOf = (text: string): ShardCost["watch"] => ({
  pods: watchCostOf(text, "pods"),
  nodes: watchCostOf(text, "nodes"),
});

/** A shard's cost from its metrics text. */
export function shardCostOf(process: string, text: string): ShardCost {
  return {
    process,
    cpuSeconds: metricValue(text, "process_cpu_seconds_total"),
    gcSeconds: metricValue(text, "nodejs_gc_duration_seconds_sum"),
    watch: watchCostsOf(text),
    lease: {
      lateRenewals: metricValue(text, "sharded_scheduler_lease_renewals_total", { result: "late" }),
      lapses: metricValue(text, "sharded_scheduler_lease_lapses_total"),
    },
  };
}

/** Each shard's cost; a shard that does not answer is left out (the run's other figures stand). */
export async function readShardCosts(
  shards: readonly { identity: string; port: number }[],
  log: (line: string) => void,
): Promise<ShardCost[]> {
  const costs: ShardCost[] = [];
  for (const shard of shards) {
    try {
      costs.push(shardCostOf(shard.identity, await memberMetrics(shard)));
    } catch (error) {
      log(`${shard.identity}: its metrics not read (${String(error)}); its cost left out`);
    }
  }
  return costs;
}
