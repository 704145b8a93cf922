/**
 * The groups this shard found unschedulable (not even preemption helps), since when and why:
 * what the shard's capacity summary asks the coordinator to help with.
 */

import type { StuckGroup } from "../coordination/shard-report.js";
import { type ClusterCache, type GroupMembers, pendingGroupOf } from "./cluster-cache.js";

export class StuckGroups {
  private readonly since = new Map<
    string,
    { since: number; message: string; feasibleElsewhere: readonly string[] | undefined }
  >();

  /** Changes whenever the stuck groups may have (what the capacity summary reports of them). */
  version = 0;

  /**
   * The group's last attempt found it unschedulable; it stays stuck since its first such one.
   * feasibleElsewhere: other shards' nodes it fits (a group only its owner can judge).
   */
  record(groupId: string, message: string, now: number, feasibleElsewhere?: readonly string[]): void {
    this.since.set(groupId, { since: this.since.get(groupId)?.since ?? now, message, feasibleElsewhere });
    this.version++;
  }

  clear(groupId: string): void {
    if (this.since.delete(groupId)) this.version++;
  }

  /**
   * The stuck groups still pending and owned (per `owns`); the rest are forgotten. `routed`
   * tells those owned by feasibility-aware routing rather than the ring.
   */
  *current(
    cache: ClusterCache,
    owns: (members: GroupMembers) => boolean,
    routed: (members: GroupMembers) => boolean = () => false,
  ): Generator<StuckGroup> {
    for (const [id, { since, message, feasibleElsewhere }] of this.since) {
      const members = cache.group(id);
      if (!members || members.pending.size === 0 || !owns(members)) {
        this.clear(id);
        continue;
      }
      yield {
        group: pendingGroupOf(members),
        since,
        message,
        ...(routed(members) ? { routed: true } : {}),
        ...(feasibleElsewhere !== undefined ? { feasibleElsewhere } : {}),
      };
    }
  }
}
