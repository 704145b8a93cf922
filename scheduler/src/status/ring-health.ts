/**
 * `sharded-scheduler status --check`: whether the ring of one scheduler is healthy, judged from
 * its status report (pure). Healthy means binding can proceed everywhere: a ring exists, every
 * member holds a live Lease and has adopted the ring's epoch (the others bind only once it has),
 * and, when a coordinator is expected, one leads. The chart's `helm test` hook runs this.
 */
import { coordinatorLeaseName } from "../contracts/keys.js";
import type { StatusReport } from "./cluster-status.js";

export interface RingHealthOptions {
  /** A release without a coordinator (coordinator.enabled=false) has no leader to require. */
  readonly expectCoordinator: boolean;
}

/** What keeps the ring from being healthy, one line each; empty when it is healthy. */
export function ringProblems(report: StatusReport, options: RingHealthOptions): string[] {
  const problems: string[] = [];
  const ring = report.ring;
  if (!ring) problems.push("no ring: no shard has proposed one (or its Lease is malformed)");
  else {
    const byName = new Map(report.shards.map((shard) => [shard.name, shard]));
    for (const member of ring.members) {
      const shard = byName.get(member);
      if (!shard || shard.state === "no-lease") problems.push(`ring member ${member} has no Lease`);
      else if (shard.state === "expired") problems.push(`ring member ${member} has an expired Lease`);
      else if (shard.lagging)
        problems.push(
          `ring member ${member} acknowledged epoch ${shard.ackedEpoch}, not the ring's ${ring.epoch}`,
        );
    }
    if (!ring.members.some((member) => byName.get(member)?.state === "live"))
      problems.push(`no live shard in ring epoch ${ring.epoch}`);
  }
  if (options.expectCoordinator) {
    const leader = report.coordinator;
    const lease = coordinatorLeaseName(report.schedulerName);
    if (!leader) problems.push(`no coordinator leader: no Lease ${lease}`);
    else if (leader.holder === null) problems.push(`no coordinator leader: Lease ${lease} is released`);
    else if (leader.expired)
      problems.push(`no coordinator leader: ${leader.holder}'s Lease ${lease} expired`);
  }
  return problems;
}
