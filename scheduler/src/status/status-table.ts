/** The status report as text for a terminal (pure): a header, then one table a section. */
import { coordinatorLeaseName } from "../contracts/keys.js";
import { domainWord } from "../core/gang/index.js";
import type { PendingGroupStatus, ShardStatus, StatusReport } from "./cluster-status.js";

export interface RenderOptions {
  /** Rows of pending groups at most (the oldest). */
  readonly pendingGroups: number;
  /** Characters of a message column at most. */
  readonly messageWidth: number;
}

export const defaultRenderOptions: RenderOptions = { pendingGroups: 10, messageWidth: 160 };

export function renderStatus(report: StatusReport, options: RenderOptions = defaultRenderOptions): string {
  const lines: string[] = [];
  const listed = report.ring?.domains;
  const word = listed ? domainWord(listed.key) : "";
  const ring = report.ring
    ? `ring epoch ${report.ring.epoch} (${report.ring.members.length} members, ${report.ring.lentNodes} nodes lent${
        listed ? `, ${listed.count} ${word}s whole per shard by ${listed.key}` : ""
      })`
    : "no ring";
  lines.push(
    `scheduler ${report.schedulerName}, namespace ${report.namespace}: ${report.shards.length} shards, ${ring}, ${report.nodes} nodes`,
  );
  lines.push(`coordinator leader: ${leaderLine(report)}`, "");

  lines.push(
    ...table(
      [
        "SHARD",
        "STATE",
        "LEASE AGE",
        "ACKED EPOCH",
        "NODES",
        "LENT IN/OUT",
        ...(listed ? [`${word.toUpperCase()}S`] : []),
        "PENDING GROUPS",
        "PENDING PODS",
      ],
      report.shards.map((shard) => [
        shard.name,
        shard.state,
        duration(shard.leaseAgeMs),
        ackedEpoch(shard, report),
        shard.nodes === null ? "-" : String(shard.nodes),
        `+${shard.borrowedNodes}/-${shard.lentNodes}`,
        ...(listed ? [domainsCell(shard.domains ?? [])] : []),
        String(shard.pendingGroups),
        String(shard.pendingPods),
      ]),
    ),
  );

  const groups = report.pendingGroups;
  lines.push("", `PENDING GROUPS: ${groups.length}${groups.length > 0 ? ", oldest first" : ""}`);
  if (groups.length > 0)
    lines.push(
      ...table(
        ["GROUP", "OWNER", "PODS", "WAITING", "WHY"],
        groups
          .slice(0, options.pendingGroups)
          .map((g) => [
            groupCell(g),
            ownerCell(g),
            g.minMember === null ? String(g.pendingPods) : `${g.pendingPods}/${g.minMember}`,
            duration(g.waitingMs),
            clip(g.why ?? "-", options.messageWidth),
          ]),
      ),
    );
  if (groups.length > options.pendingGroups)
    lines.push(`… and ${groups.length - options.pendingGroups} more`);

  const events = report.recentEvents;
  lines.push("", `RECENT HANDOFFS AND LENDS: ${events.length === 0 ? "none" : `last ${events.length}`}`);
  if (events.length > 0)
    lines.push(
      ...table(
        ["AGE", "REASON", "PODS", "MESSAGE"],
        events.map((e) => [
          duration(e.ageMs),
          e.reason,
          String(e.pods),
          clip(e.message, options.messageWidth),
        ]),
      ),
    );

  if (report.warnings.length > 0) lines.push("", "WARNINGS", ...report.warnings.map((w) => `  ! ${w}`));
  return `${lines.join("\n")}\n`;
}

function leaderLine(report: StatusReport): string {
  const leader = report.coordinator;
  if (!leader) return `none (no Lease ${coordinatorLeaseName(report.schedulerName)})`;
  if (leader.holder === null) return "none (the Lease was released)";
  const leading = leader.leadingForMs === null ? "" : `, leading for ${duration(leader.leadingForMs)}`;
  const expired = leader.expired ? " EXPIRED" : "";
  return `${leader.holder}${expired} (renewed ${duration(leader.renewAgeMs)} ago${leading}, ${leader.transitions} transitions)`;
}

/** The owner, and whether the group's pods name it (a handoff, a lend or a preemption's pin), or a shard now gone. */
/** A gang is marked; a pod that hashes by its controller names it. */
function groupCell(group: PendingGroupStatus): string {
  if (!group.solo) return `${group.group} (gang)`;
  return group.hashedBy === null ? group.group : `${group.group} (by ${group.hashedBy})`;
}

function ownerCell(group: PendingGroupStatus): string {
  const owner = group.owner ?? "none";
  if (group.handedTo === null) return owner;
  return group.handedTo === group.owner
    ? `${owner} (pinned)`
    : `${owner} (pinned to ${group.handedTo}, not live)`;
}

function ackedEpoch(shard: ShardStatus, report: StatusReport): string {
  if (shard.state === "no-lease") return "-";
  const notMember = report.ring && !shard.ringMember ? " (not in ring)" : "";
  return `${shard.ackedEpoch}${shard.lagging ? " (lags)" : ""}${notMember}`;
}

/** Columns padded to their widest cell; the last one is not padded. */
function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** 850ms → "0.8s", 42_000 → "42s", 312_000 → "5m12s", 11_100_000 → "3h05m", then days. */
export function duration(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

function clip(text: string, width: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/** A shard's domains: how many, then their names as far as they fit. */
function domainsCell(domains: readonly string[]): string {
  return domains.length === 0 ? "0" : `${domains.length}: ${clip(domains.join(","), 40)}`;
}
