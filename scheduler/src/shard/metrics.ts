/**
 * Prometheus metrics of a shard. Where kube-scheduler has the same measure, the name, labels,
 * help and buckets are its (scheduler_* → sharded_scheduler_*); the rest are the shard's own.
 */
import { Counter, exponentialBuckets, Gauge, Histogram, Registry } from "prom-client";
import type { WatchMeter } from "../kube/informer.js";
import type { Ownership } from "../sharding/ownership.js";
import { type ClusterCache, ownsGroup } from "./cluster-cache.js";
import type { QueueState, SchedulingQueue } from "./scheduling-queue.js";

export class ShardMetrics {
  readonly registry = new Registry();
  private refreshGauges: () => void = () => undefined;
  /** Every plugin unschedulable_pods has named: one that rejects no pod now reads 0, not its last value. */
  private readonly reportedPlugins = new Set<string>();
  /**
   * The filter plugins that rejected each group at its last attempt, until it is tried again
   * (kube-scheduler's UnschedulablePlugins, cleared when a pod is popped): unschedulable_pods.
   */
  private readonly rejectedBy = new Map<string, readonly string[]>();

  /** The state gauges are computed by this at every scrape, so they are never stale. */
  onScrape(refresh: () => void): void {
    this.refreshGauges = refresh;
  }

  /**
   * An attempt that placed nothing: counted once for the group and once for each pending member;
   * the filter plugins that rejected it (none for an invalid group) are remembered for
   * unschedulable_pods until the group is tried again.
   */
  unschedulableAttempt(
    groupId: string,
    pendingPods: number,
    profile: string,
    rejectedBy?: readonly string[],
  ): void {
    const labels = { result: "unschedulable", profile };
    this.podGroupScheduleAttempts.inc(labels);
    this.scheduleAttempts.inc(labels, pendingPods);
    if (rejectedBy) this.rejectedBy.set(groupId, rejectedBy);
  }

  /** The group is tried again: what rejected it last no longer counts. */
  attemptStarted(groupId: string): void {
    this.rejectedBy.delete(groupId);
  }

  /** The filter plugins that rejected the group at its last attempt, if it has not been tried since. */
  rejectingPlugins(groupId: string): readonly string[] {
    return this.rejectedBy.get(groupId) ?? [];
  }

  /** Forgets the rejections of groups with no pending pod left. */
  forgetRejections(stillPending: (groupId: string) => boolean): void {
    for (const id of this.rejectedBy.keys()) if (!stillPending(id)) this.rejectedBy.delete(id);
  }

  /** unschedulable_pods: the pending pods each filter plugin rejected at their group's last attempt. */
  setUnschedulablePods(rejected: ReadonlyMap<string, number>, profile: string): void {
    for (const plugin of rejected.keys()) this.reportedPlugins.add(plugin);
    for (const plugin of this.reportedPlugins)
      this.unschedulablePods.set({ plugin, profile }, rejected.get(plugin) ?? 0);
  }

  readonly scheduleAttempts = new Counter({
    name: "sharded_scheduler_schedule_attempts_total",
    help: "Number of attempts to schedule pods, by the result. 'scheduled' means the pod was bound; 'unschedulable' means it could not be placed (its group preempting counts here too); 'error' means its bind failed or was fenced.",
    labelNames: ["result", "profile"] as const,
    registers: [this.registry],
  });

  readonly podGroupScheduleAttempts = new Counter({
    name: "sharded_scheduler_podgroup_schedule_attempts_total",
    help: "Number of attempts to schedule pod groups (a solo pod is a group of one), by the result of the scheduling cycle. 'scheduled' means every required member got a node; 'unschedulable' means the group did not fit as a whole (or preempts to make room).",
    labelNames: ["result", "profile"] as const,
    registers: [this.registry],
  });

  readonly e2eSchedulingSeconds = new Histogram({
    name: "sharded_scheduler_pod_scheduling_sli_duration_seconds",
    help: "From pod creation to a successful bind, per pod.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  readonly schedulingAlgorithmSeconds = new Histogram({
    name: "sharded_scheduler_scheduling_algorithm_duration_seconds",
    help: "Scheduling algorithm latency in seconds, per cycle (the pure core: filter, score, gang placement, preemption) over the groups due.",
    buckets: exponentialBuckets(0.001, 2, 15),
    registers: [this.registry],
  });

  readonly pendingPods = new Gauge({
    name: "sharded_scheduler_pending_pods",
    help: "Number of pending pods this shard schedules, by the queue type. 'active': to be tried (or being tried); 'backoff': failed recently, retried once the backoff ends; 'unschedulable': tried and did not fit, retried when the cluster changes; 'gated': scheduling gates left, never tried; 'incomplete': members of pod groups still waiting for more members.",
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

  readonly unschedulablePods = new Gauge({
    name: "sharded_scheduler_unschedulable_pods",
    help: "The number of unschedulable pods broken down by plugin name. A pod will increment the gauge for all plugins that caused it to not schedule and so this metric have meaning only when broken down by plugin.",
    labelNames: ["plugin", "profile"] as const,
    registers: [this.registry],
    collect: () => this.refreshGauges(),
  });

  readonly cacheSize = new Gauge({
    name: "sharded_scheduler_cache_size",
    help: "Number of nodes, pods, and assumed (bound) pods in the scheduler cache.",
    labelNames: ["type"] as const,
    registers: [this.registry],
    collect: () => this.refreshGauges(),
  });

  readonly preemptionAttempts = new Counter({
    name: "sharded_scheduler_preemption_attempts_total",
    help: "Gang preemptions started (nominations written, victims to evict).",
    registers: [this.registry],
  });

  readonly preemptionVictims = new Histogram({
    name: "sharded_scheduler_preemption_victims",
    help: "Number of selected preemption victims, per preemption (pods: whole groups, or members of groups whose disruption mode allows it).",
    // As kube-scheduler: #victims > 64 is rare, so [64, +Inf) is one bucket.
    buckets: exponentialBuckets(1, 2, 7),
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

  readonly handoverSettleSeconds = new Histogram({
    name: "sharded_scheduler_handover_settle_duration_seconds",
    help: "How long nodes gained in a handover waited for use once every peer acknowledged the epoch, by what ended the wait: nodes (the pod watch delivered the pods a quorum read shows on the gained nodes) or delay (the settle delay ran out: the read could not tell).",
    labelNames: ["ended"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
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

  readonly bindConflicts = new Counter({
    name: "sharded_scheduler_bind_conflicts_total",
    help: "Groups not bound because the check before bind found a member rejected against the latest cache (a pod another shard bound since the decision), by the plugin that rejected it; the group is placed again after its backoff.",
    labelNames: ["plugin"] as const,
    registers: [this.registry],
  });

  readonly bindCheckWindowSeconds = new Histogram({
    name: "sharded_scheduler_bind_check_window_seconds",
    help: "From the check before bind to the API server's answer to each bind it cleared: the race window across shards that the check leaves open, before the other shards' watches add their delivery delay.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
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

  readonly leaseRenewals = new Counter({
    name: "sharded_scheduler_lease_renewals_total",
    help: "Renewals of the shard's own Lease, by result: counted, late (answered after the safety margin, so it holds nothing), refused (an error status), failed (no answer).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly leaseLapses = new Counter({
    name: "sharded_scheduler_lease_lapses_total",
    help: "Times the shard's own Lease lapsed (no renewal counted for the lease duration minus the margin) and was regained: binding paused, caches read afresh.",
    registers: [this.registry],
  });

  readonly watchEvents = new Counter({
    name: "sharded_scheduler_watch_events_total",
    help: "Watch events received (the initial events of a streamed list included), by resource.",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });

  readonly watchReceivedBytes = new Counter({
    name: "sharded_scheduler_watch_received_bytes_total",
    help: "Bytes of watch event streams received from the API server (the initial events of a streamed list included), by resource.",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });

  readonly watchDecodeSeconds = new Counter({
    name: "sharded_scheduler_watch_decode_seconds_total",
    help: "Time spent decoding watch events (JSON parse and keeping the fields the cache reads), by resource.",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });

  /** What one resource's informer tells of its watch streams: the three watch counters above. */
  watchMeter(resource: string): WatchMeter {
    const labels = { resource };
    return {
      received: (bytes, events, seconds) => {
        this.watchReceivedBytes.inc(labels, bytes);
        if (events === 0) return;
        this.watchEvents.inc(labels, events);
        this.watchDecodeSeconds.inc(labels, seconds);
      },
    };
  }

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

/** What the state gauges are computed from at a scrape. */
export interface GaugeSources {
  readonly cache: ClusterCache;
  readonly queue: SchedulingQueue;
  readonly ownership: Ownership;
  /** The profile label: the schedulerName served. */
  readonly profile: string;
}

// The queue's states as kube-scheduler names its queues: a group being tried is still active.
const queueOf: Record<QueueState, string> = {
  active: "active",
  inflight: "active",
  backoff: "backoff",
  unschedulable: "unschedulable",
  incomplete: "incomplete",
};

/** Sets the state gauges (pending pods and groups, unschedulable pods, cache, ring) from the shard's state. */
export function refreshGauges(
  metrics: ShardMetrics,
  { cache, queue, ownership, profile }: GaugeSources,
): void {
  const pods: Record<string, number> = { active: 0, backoff: 0, unschedulable: 0, gated: 0, incomplete: 0 };
  const rejected = new Map<string, number>();
  let groups = 0;
  for (const id of cache.groupIds()) {
    const members = cache.group(id);
    const size = members?.pending.size ?? 0;
    const gated = members?.gated.size ?? 0;
    if (!members || size + gated === 0 || !ownsGroup(ownership, members, cache.router)) continue;
    pods.gated = (pods.gated ?? 0) + gated;
    if (size === 0) continue;
    groups++;
    const state = queueOf[queue.state(id) ?? "active"];
    pods[state] = (pods[state] ?? 0) + size;
    for (const plugin of metrics.rejectingPlugins(id))
      rejected.set(plugin, (rejected.get(plugin) ?? 0) + size);
  }
  for (const [state, count] of Object.entries(pods)) metrics.pendingPods.set({ queue: state }, count);
  metrics.pendingGroups.set(groups);
  metrics.setUnschedulablePods(rejected, profile);
  metrics.forgetRejections((id) => (cache.group(id)?.pending.size ?? 0) > 0);
  const sizes = cache.sizes();
  metrics.cacheSize.set({ type: "nodes" }, sizes.nodes);
  metrics.cacheSize.set({ type: "pods" }, sizes.pods);
  metrics.cacheSize.set({ type: "assumed_pods" }, sizes.assumedPods);
  let ownedNodes = 0;
  for (const node of cache.cluster.nodes) if (ownership.ownsNode(node.name)) ownedNodes++;
  metrics.ownedNodes.set(ownedNodes);
  metrics.ringEpoch.set(ownership.epoch);
  metrics.invalidPods.set(cache.invalid.size);
}
