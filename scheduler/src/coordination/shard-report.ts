/**
 * The capacity summary a shard publishes, from what the shard knows: its cache's cluster state, the
 * nodes it owns now, and the groups it owns but found unschedulable (pure, no I/O).
 */

import {
  type CapacitySummary,
  maxFeasibleElsewhere,
  type StuckGroupReport,
} from "../contracts/capacity-summary.js";
import type { ClusterState } from "../core/cluster-state.js";
import type { PendingGroup } from "../core/index.js";
import type { CapacitySummarizer } from "./capacity-summary.js";

/** A group its owner cannot place: since when and why (the message its pods were told). */
export interface StuckGroup {
  readonly group: PendingGroup;
  readonly since: number;
  readonly message: string;
  /** The shard owns it by feasibility-aware routing, not by the ring (StuckGroupReport.routed). */
  readonly routed?: boolean;
  /** Other shards' nodes its first member fits now (StuckGroupReport.feasibleElsewhere). */
  readonly feasibleElsewhere?: readonly string[];
}

export function stuckGroupReport({
  group,
  since,
  message,
  routed,
  feasibleElsewhere,
}: StuckGroup): StuckGroupReport {
  return {
    id: group.key.id,
    namespace: group.key.namespace,
    name: group.key.name,
    solo: group.key.solo,
    hashKey: group.key.hashKey,
    members: group.members.map((pod) => pod.name).sort(),
    required: group.required,
    priority: group.priority,
    mayPreempt: group.mayPreempt,
    since,
    message,
    ...(routed ? { routed: true as const } : {}),
    ...(feasibleElsewhere !== undefined && feasibleElsewhere.length > 0
      ? { feasibleElsewhere: feasibleElsewhere.slice(0, maxFeasibleElsewhere) }
      : {}),
    ...(group.topology === undefined ? {} : { topology: group.topology }),
  };
}

/**
 * What the coordinator is told: owned capacity and the groups this shard cannot place (built by
 * the shard's summarizer, which keeps the entries of nodes that did not change).
 */
export function shardReport(
  summarizer: CapacitySummarizer,
  cluster: ClusterState,
  ownsNode: (nodeName: string) => boolean,
  header: { shard: string; epoch: number; publishedAt: number },
  stuck: Iterable<StuckGroup>,
  waiting?: (groupId: string) => boolean,
): CapacitySummary {
  return summarizer.summarize(cluster, ownsNode, header, [...stuck].map(stuckGroupReport), waiting);
}
