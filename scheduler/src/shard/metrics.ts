/** Prometheus metrics of a shard, named in kube-scheduler's spirit (scheduler_* → sharded_scheduler_*). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class ShardMetrics {
  readonly registry = new Registry();
  private refreshGauges: () => void = () => undefined;

  /** The state gauges are computed by this at every scrape, so they are never stale. */
  onScrape(refresh: () => void): void {
    this.refreshGauges = refresh;
  }

  readonly scheduleAttempts = new Counter({
    name: "sharded_scheduler_schedule_attempts_total",
    help: "Scheduling attempts of pod groups by result (scheduled, unschedulable, preempting, error).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly podsScheduled = new Counter({
    name: "sharded_scheduler_pods_scheduled_total",
    help: "Pods bound by this shard.",
    registers: [this.registry],
  });

  readonly e2eSchedulingSeconds = new Histogram({
    name: "sharded_scheduler_pod_scheduling_sli_duration_seconds",
    help: "From pod creation to a successful bind, per pod.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  readonly cycleSeconds = new Histogram({
    name: "sharded_scheduler_scheduling_cycle_duration_seconds",
    help: "Time spent in the pure scheduling core per cycle.",
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly pendingPods = new Gauge({
    name: "sharded_scheduler_pending_pods",
    help: "Pending pods this shard schedules, by queue (active, backoff, unschedulable, waiting, inflight; gated: scheduling gates left).",
    labelNames: ["queue"] as const,
    registers: [this.registry],
    collect: () => this.refreshGauges(),
  });

  readonly pendingGroups = new Gauge({
    name: "sharded_scheduler_pending_groups",
    help: "Pending pod groups this shard owns and schedules.",
    registers: [this.registry],
    collect: () => this.refreshGauges(),
  });

  readonly preemptionAttempts = new Counter({
    name: "sharded_scheduler_preemption_attempts_total",
    help: "Gang preemptions started.",
    registers: [this.registry],
  });

  readonly preemptionVictims = new Counter({
    name: "sharded_scheduler_preemption_victims_total",
    help: "Pods evicted by gang preemption.",
    registers: [this.registry],
  });

  readonly ownedNodes = new Gauge({
    name: "sharded_scheduler_owned_nodes",
    help: "Nodes this shard may place pods on now (its share of the ring, lends included).",
    registers: [this.registry],
    collect: () => this.refreshGauges(),
  });

  readonly ringEpoch = new Gauge({
    name: "sharded_scheduler_ring_epoch",
    help: "The shard ring epoch this shard adopted.",
    registers: [this.registry],
    collect: () => this.refreshGauges(),
  });

  readonly handoverWaits = new Counter({
    name: "sharded_scheduler_handover_waits_total",
    help: "Times binding paused for a handover, by reason (lease, revalidating, no-ring, adopting, not-a-member, peers-behind).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly handoverWaitSeconds = new Histogram({
    name: "sharded_scheduler_handover_wait_duration_seconds",
    help: "How long binding stayed paused for a handover, by the reason it paused first.",
    labelNames: ["reason"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly fencedBinds = new Counter({
    name: "sharded_scheduler_fenced_binds_total",
    help: "Binds and evictions not sent because this shard no longer owned the node or its lease (fencing).",
    registers: [this.registry],
  });

  readonly bindErrors = new Counter({
    name: "sharded_scheduler_bind_errors_total",
    help: "Failed binds by reason (conflict: already bound, gated, stale: pod replaced, gone, error).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly gangRollbacks = new Counter({
    name: "sharded_scheduler_gang_rollbacks_total",
    help: "Partially bound gangs rolled back after the gang timeout.",
    registers: [this.registry],
  });

  readonly invalidPods = new Gauge({
    name: "sharded_scheduler_invalid_pods",
    help: "Pods this shard will not schedule because of malformed input.",
    registers: [this.registry],
    collect: () => this.refreshGauges(),
  });

  readonly invalidObjects = new Counter({
    name: "sharded_scheduler_invalid_objects_total",
    help: "Objects skipped because they cannot be read, by kind (ring-lease, member-lease); each counted once until it changes.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly informerHandlerErrors = new Counter({
    name: "sharded_scheduler_informer_handler_errors_total",
    help: "Watched objects whose handling failed (logged once per object, which is skipped until it changes), by resource.",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });

  readonly summaryPublishes = new Counter({
    name: "sharded_scheduler_capacity_summaries_total",
    help: "Capacity summaries sent to Redis for the coordinator, by result (published, failed).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly redisUp = new Gauge({
    name: "sharded_scheduler_redis_up",
    help: "1 while the connection to the coordinator's Redis is up (absent without Redis).",
    registers: [this.registry],
  });

  readonly evictions = new Counter({
    name: "sharded_scheduler_evictions_total",
    help: "Evictions of preemption victims sent, by result (evicted; disruption_budget: refused by the victim's PodDisruptionBudget; throttled: still throttled by the API server when the wait ran out; gone; error).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
}
