/** Prometheus metrics of the coordinator (sharded_scheduler_coordinator_*). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class CoordinatorMetrics {
  readonly registry = new Registry();

  readonly leader = new Gauge({
    name: "sharded_scheduler_coordinator_leader",
    help: "1 while this replica is the leader (the only one that acts), else 0.",
    registers: [this.registry],
  });

  readonly writesWithheld = new Counter({
    name: "sharded_scheduler_coordinator_writes_withheld_total",
    help: "Writes (pod and node patches, Events, ledger claims) not sent because leadership could no longer be proven when they were due to go out.",
    registers: [this.registry],
  });

  readonly redisUp = new Gauge({
    name: "sharded_scheduler_coordinator_redis_up",
    help: "1 while the connection to Redis is up.",
    registers: [this.registry],
  });

  readonly handoffs = new Counter({
    name: "sharded_scheduler_coordinator_handoffs_total",
    help: "Pod groups handed to another shard, by mode (free: into free room; preempt: by preempting lower-priority groups).",
    labelNames: ["mode"] as const,
    registers: [this.registry],
  });

  readonly lends = new Counter({
    name: "sharded_scheduler_coordinator_lends_total",
    help: "Nodes lent to another shard for a pod group no single shard could place.",
    labelNames: ["mode"] as const,
    registers: [this.registry],
  });

  readonly returns = new Counter({
    name: "sharded_scheduler_coordinator_returns_total",
    help: "Lent nodes given back to the shard the ring gives them to.",
    registers: [this.registry],
  });

  readonly refusals = new Counter({
    name: "sharded_scheduler_coordinator_relief_refusals_total",
    help: "Reliefs the ledger refused, by reason (cooldown, exhausted, node-taken).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly invalidObjects = new Counter({
    name: "sharded_scheduler_coordinator_invalid_objects_total",
    help: "Objects skipped because they cannot be read, by kind (capacity-summary, ring-lease); each counted once until it changes.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly stuckSeconds = new Histogram({
    name: "sharded_scheduler_coordinator_stuck_duration_seconds",
    help: "How long pod groups stayed reported unschedulable by their owner, measured when they stop being reported.",
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });

  readonly stuckGroups = new Gauge({
    name: "sharded_scheduler_coordinator_stuck_groups",
    help: "Pod groups their owners report unschedulable now.",
    registers: [this.registry],
  });

  readonly fittableGroups = new Gauge({
    name: "sharded_scheduler_coordinator_fittable_groups",
    help: "Of the stuck pod groups, those the cluster as a whole could place (by the shards' summaries).",
    registers: [this.registry],
  });
}
