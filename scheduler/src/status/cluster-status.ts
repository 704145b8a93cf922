/**
 * The operator's status view of one scheduler (`sharded-scheduler status`), built from one read
 * of the API (pure: the snapshot and the time in, the report out). It answers with the product's
 * own code: the Lease parsers, the shard ring and the pod-group key, so it shows what the shards
 * themselves conclude.
 *
 * Ages compare timestamps other machines wrote (a Lease's renewTime) with this machine's clock,
 * so clock skew shows up in them; the shards themselves judge liveness skew-free.
 */

import { nodeOwnerAnnotation, ringLeaseName } from "../contracts/keys.js";
import { type Lease, parseMemberLease, parseRingLease, type RingObject } from "../contracts/leases.js";
import type { ObjectMeta, Pod } from "../core/api-types.js";
import { toPodInfo } from "../core/build-info.js";
import { ClusterState } from "../core/cluster-state.js";
import { type GroupKey, GroupRouter, groupOwner, groupPin, type RoutingRing } from "../core/gang/index.js";
import type { PodInfo } from "../core/model.js";
import { naturalOrder } from "../core/natural-order.js";
import { domainNodeOwners } from "../sharding/domain-assignment.js";
import { nodeOwnerOf, ShardRing } from "../sharding/shard-ring.js";

/** The reasons of the Events the coordinator writes on the pods it moves. */
export const reliefEventReasons = ["HandedOff", "NodesLent", "ReliefExhausted"] as const;

/** The parts of a core/v1 Event the report reads. */
export interface KubeEvent {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  involvedObject?: { kind?: string; namespace?: string; name?: string; uid?: string };
  reason?: string;
  message?: string;
  type?: string;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  /** Events written through events.k8s.io/v1 (ours) count repeats here, not in lastTimestamp. */
  series?: { count?: number; lastObservedTime?: string | null } | null;
}

/** What one read of the API gives the report. */
export interface StatusSnapshot {
  readonly schedulerName: string;
  /** Namespace of the shard Leases and of the coordinator's leader Lease. */
  readonly namespace: string;
  /** Every Lease labelled with the scheduler name: the member Leases and the ring Lease. */
  readonly leases: readonly Lease[];
  /** The coordinator's leader-election Lease, if there is one. */
  readonly coordinatorLease: Lease | undefined;
  readonly nodes: readonly { metadata: ObjectMeta }[];
  /** Pods naming the scheduler; bound, finished and terminating ones are left out here. */
  readonly pods: readonly Pod[];
  /** Events of the relief reasons, of every namespace and scheduler. */
  readonly events: readonly KubeEvent[];
}

export interface StatusReportOptions {
  /** Rows of recent handoffs and lends. */
  readonly recentEvents: number;
}

/** live: renewed within its duration; expired: not; released: left after draining its binds. */
export type ShardState = "live" | "expired" | "released" | "no-lease";

export interface ShardStatus {
  readonly name: string;
  readonly holder: string | null;
  readonly state: ShardState;
  /** Since its last renewal (null: no renewal on record). */
  readonly leaseAgeMs: number | null;
  readonly leaseDurationMs: number | null;
  /** The ring epoch its Lease says it adopted. */
  readonly ackedEpoch: number;
  readonly ringMember: boolean;
  /** A member that adopted an older epoch than the ring's: the others bind only once it catches up or is gone. */
  readonly lagging: boolean;
  /** Nodes it owns under the ring, lent ones included (null without a ring). */
  readonly nodes: number | null;
  /** Nodes of other shards lent to it. */
  readonly borrowedNodes: number;
  /** Nodes of its own share lent to other shards. */
  readonly lentNodes: number;
  /** The domains (label values) the ring lists under it, when the ring lists domains (--shard-by-label). */
  readonly domains?: readonly string[];
  readonly pendingGroups: number;
  readonly pendingPods: number;
}

export interface RingStatus {
  readonly epoch: number;
  readonly members: readonly string[];
  /** Nodes lent under this epoch. */
  readonly lentNodes: number;
  /** The label whose domains the ring lists whole per member, and how many (--shard-by-label). */
  readonly domains?: { readonly key: string; readonly count: number; readonly nodes: number };
}

export interface LeaderStatus {
  /** null when the last leader released the Lease and no one took it yet. */
  readonly holder: string | null;
  readonly renewAgeMs: number | null;
  /** Since the holder acquired the Lease. */
  readonly leadingForMs: number | null;
  readonly leaseDurationMs: number;
  readonly expired: boolean;
  readonly transitions: number;
}

export interface PendingGroupStatus {
  /** "namespace/group", or "namespace/pod" for a pod without a group. */
  readonly group: string;
  readonly solo: boolean;
  /**
   * What the shard ring hashes when it is not the group itself: "<Kind>/<name>" of the controller
   * a pod with inter-pod constraints hashes by (its workload's pods are placed by one shard).
   */
  readonly hashedBy: string | null;
  /** The shard that schedules it (null: no live shard does). */
  readonly owner: string | null;
  /** The shard its pods' Owner condition names (the coordinator's handoff or lend, or a preemption's pin), if any. */
  readonly handedTo: string | null;
  readonly pendingPods: number;
  readonly minMember: number | null;
  /** Since its oldest pending pod was created. */
  readonly waitingMs: number | null;
  /** Why its pods wait: the Unschedulable message, or what is wrong with their group keys. */
  readonly why: string | null;
}

export interface RecentEvent {
  readonly at: string;
  readonly ageMs: number;
  readonly reason: string;
  readonly message: string;
  /** Pods that got this Event (one per member of the group). */
  readonly pods: number;
}

export interface StatusReport {
  readonly schedulerName: string;
  readonly namespace: string;
  readonly generatedAt: string;
  readonly ring: RingStatus | null;
  readonly nodes: number;
  readonly shards: readonly ShardStatus[];
  readonly coordinator: LeaderStatus | null;
  /** Oldest first. */
  readonly pendingGroups: readonly PendingGroupStatus[];
  /** Newest first, an Event per group and relief (its members' copies counted in `pods`). */
  readonly recentEvents: readonly RecentEvent[];
  /** What an operator should look at first. */
  readonly warnings: readonly string[];
}

export function statusReport(
  snapshot: StatusSnapshot,
  now: number,
  options: StatusReportOptions = { recentEvents: 10 },
): StatusReport {
  const warnings: string[] = [];
  const ringLease = snapshot.leases.find(
    (lease) => lease.metadata.name === ringLeaseName(snapshot.schedulerName),
  );
  const parsedRing = ringLease && parseRingLease(ringLease);
  const ring = parsedRing?.ok ? parsedRing.value : undefined;
  if (!ringLease)
    warnings.push(`no ring Lease ${ringLeaseName(snapshot.schedulerName)}: no shard has proposed one`);
  else if (parsedRing && !parsedRing.ok)
    warnings.push(`the ring Lease ${ringLease.metadata.name} is malformed (${parsedRing.reason})`);
  for (const lease of snapshot.leases) {
    const member = lease === ringLease ? undefined : parseMemberLease(lease);
    if (member && !member.ok)
      warnings.push(`the member Lease ${lease.metadata.name} is malformed (${member.reason})`);
  }

  const shards = shardRows(snapshot, ringLease, ring, now);
  const live = new Set(shards.filter((s) => s.state === "live").map((s) => s.name));
  const nodes = nodeOwnership(snapshot.nodes, ring, warnings);
  const groups = pendingGroups(snapshot, ring, live, now);

  const rows = shards.map((shard): ShardStatus => {
    const owned = groups.filter((g) => g.owner === shard.name);
    const domains = ring?.domains && Object.keys(ring.domains.owners[shard.name] ?? {}).sort(naturalOrder);
    return {
      ...shard,
      ...(domains ? { domains } : {}),
      nodes: nodes?.owned.get(shard.name) ?? (nodes ? 0 : null),
      borrowedNodes: nodes?.borrowed.get(shard.name) ?? 0,
      lentNodes: nodes?.lent.get(shard.name) ?? 0,
      pendingGroups: owned.length,
      pendingPods: owned.reduce((sum, g) => sum + g.pendingPods, 0),
    };
  });
  for (const shard of rows) {
    if (shard.lagging && ring)
      warnings.push(
        `${shard.name} (${shard.state}) adopted ring epoch ${shard.ackedEpoch} of ${ring.epoch}: binding waits until it catches up or is confirmed gone`,
      );
    if (shard.state === "no-lease") warnings.push(`${shard.name} is a ring member without a Lease`);
  }
  // A dead member keeps its groups until the ring drops it (a lease duration, or its release).
  const orphans = groups.filter((g) => g.owner === null || !live.has(g.owner)).length;
  if (orphans > 0) warnings.push(`${orphans} pending group(s) are owned by no live shard`);

  return {
    schedulerName: snapshot.schedulerName,
    namespace: snapshot.namespace,
    generatedAt: new Date(now).toISOString(),
    ring: ring
      ? {
          epoch: ring.epoch,
          members: ring.members,
          lentNodes: nodes?.lentTotal ?? 0,
          ...(ring.domains ? { domains: domainSummary(ring.domains) } : {}),
        }
      : null,
    nodes: snapshot.nodes.length,
    shards: rows,
    coordinator: snapshot.coordinatorLease ? leaderStatus(snapshot.coordinatorLease, now) : null,
    pendingGroups: groups,
    recentEvents: recentEvents(snapshot, shards, now, options.recentEvents),
    warnings,
  };
}

type ShardLeaseRow = Omit<
  ShardStatus,
  "nodes" | "borrowedNodes" | "lentNodes" | "pendingGroups" | "pendingPods"
>;

/** A row per member Lease, and per ring member without one. */
function shardRows(
  snapshot: StatusSnapshot,
  ringLease: Lease | undefined,
  ring: RingObject | undefined,
  now: number,
): ShardLeaseRow[] {
  const rows: ShardLeaseRow[] = [];
  for (const lease of snapshot.leases) {
    if (lease === ringLease) continue;
    const parsedLease = parseMemberLease(lease);
    if (!parsedLease.ok) continue;
    const observed = parsedLease.value;
    const renewedAt = timestamp(lease.spec?.renewTime);
    const leaseAgeMs = renewedAt === undefined ? null : Math.max(0, now - renewedAt);
    const state: ShardState = observed.released
      ? "released"
      : leaseAgeMs !== null && leaseAgeMs < observed.durationMs
        ? "live"
        : "expired";
    const ringMember = ring?.members.includes(lease.metadata.name) ?? false;
    rows.push({
      name: lease.metadata.name,
      holder: observed.holder || null,
      state,
      leaseAgeMs,
      leaseDurationMs: observed.durationMs,
      ackedEpoch: observed.ackedEpoch,
      ringMember,
      lagging: ringMember && !observed.released && observed.ackedEpoch < (ring?.epoch ?? 0),
    });
  }
  for (const member of ring?.members ?? []) {
    if (rows.some((row) => row.name === member)) continue;
    rows.push({
      name: member,
      holder: null,
      state: "no-lease",
      leaseAgeMs: null,
      leaseDurationMs: null,
      ackedEpoch: 0,
      ringMember: true,
      lagging: false,
    });
  }
  return rows.sort((a, b) => naturalOrder(a.name, b.name));
}

interface NodeOwnership {
  readonly owned: ReadonlyMap<string, number>;
  readonly borrowed: ReadonlyMap<string, number>;
  readonly lent: ReadonlyMap<string, number>;
  readonly lentTotal: number;
}

/** Nodes per shard under the ring epoch the shards bind under, lends included. */
function nodeOwnership(
  nodes: StatusSnapshot["nodes"],
  ring: RingObject | undefined,
  warnings: string[],
): NodeOwnership | undefined {
  if (!ring) return undefined;
  const shardRing = new ShardRing(ring.members);
  const listed = domainNodeOwners(ring.domains);
  const owned = new Map<string, number>();
  const borrowed = new Map<string, number>();
  const lent = new Map<string, number>();
  const add = (counts: Map<string, number>, shard: string) => counts.set(shard, (counts.get(shard) ?? 0) + 1);
  let lentTotal = 0;
  let waiting = 0;
  for (const node of nodes) {
    const name = node.metadata.name;
    const owner = nodeOwnerOf(shardRing, ring.nodeOwners, name, listed);
    // Its owner but for lends: the member listing it, else the hash.
    const ringOwner = nodeOwnerOf(shardRing, {}, name, listed);
    if (owner !== undefined) add(owned, owner);
    if (owner !== undefined && ringOwner !== undefined && owner !== ringOwner) {
      add(borrowed, owner);
      add(lent, ringOwner);
      lentTotal++;
    }
    // A lend (or return) the coordinator wrote takes effect through the next ring epoch.
    const annotated = node.metadata.annotations?.[nodeOwnerAnnotation];
    const wanted = annotated !== undefined && ring.members.includes(annotated) ? annotated : undefined;
    if (wanted !== (Object.hasOwn(ring.nodeOwners, name) ? ring.nodeOwners[name] : undefined)) waiting++;
  }
  if (waiting > 0)
    warnings.push(
      `${waiting} node lend(s) or return(s) wait for the next ring epoch (after epoch ${ring.epoch})`,
    );
  return { owned, borrowed, lent, lentTotal };
}

/** The scheduler's pending pods by pod group, each with the shard that schedules it. */
function pendingGroups(
  snapshot: StatusSnapshot,
  ring: RingObject | undefined,
  live: ReadonlySet<string>,
  now: number,
): PendingGroupStatus[] {
  const shardRing = new ShardRing(ring?.members ?? []);
  const listed = domainNodeOwners(ring?.domains);
  // The shards route groups whose feasible nodes other shards own (core/gang/routing.ts): the
  // same question, asked of the same nodes and ring.
  const cluster = new ClusterState();
  for (const node of snapshot.nodes) cluster.upsertNode(node);
  const router = new GroupRouter(cluster, () => 0);
  const routing: RoutingRing | undefined =
    ring && ring.members.length > 1
      ? {
          version: 0,
          members: shardRing.members,
          live,
          ringOwnerOf: (hashKey) => shardRing.ownerOf(hashKey),
          nodeOwnerOf: (name) => nodeOwnerOf(shardRing, ring.nodeOwners, name, listed),
        }
      : undefined;
  const byGroup = new Map<string, { group: GroupKey; pods: PodInfo[] }>();
  for (const pod of snapshot.pods) {
    if (pod.spec.schedulerName !== snapshot.schedulerName) continue;
    const info = toPodInfo(pod);
    if (info.nodeName || info.terminating || info.finished) continue;
    const members = byGroup.get(info.group.id);
    if (members) members.pods.push(info);
    else byGroup.set(info.group.id, { group: info.group, pods: [info] });
  }
  const groups: PendingGroupStatus[] = [];
  for (const { group, pods } of byGroup.values()) {
    const pinnedTo = groupPin(pods);
    const created = pods
      .map(({ pod }) => timestamp(pod.metadata.creationTimestamp))
      .filter((t) => t !== undefined);
    groups.push({
      group: `${group.namespace}/${group.name}`,
      solo: group.solo,
      hashedBy: hashedBy(group),
      owner:
        groupOwner(
          shardRing.ownerOf(group.hashKey),
          pinnedTo,
          live,
          routing && (pinnedTo === undefined || !live.has(pinnedTo))
            ? router.route(group.hashKey, pods, routing)
            : undefined,
        ) ?? null,
      handedTo: pinnedTo ?? null,
      pendingPods: pods.length,
      minMember: pods.find((info) => info.minMember !== undefined)?.minMember ?? null,
      waitingMs: created.length > 0 ? Math.max(0, now - Math.min(...created)) : null,
      why: pods.find((info) => info.groupError)?.groupError ?? unschedulableMessage(pods) ?? null,
    });
  }
  return groups.sort((a, b) => (b.waitingMs ?? 0) - (a.waitingMs ?? 0) || a.group.localeCompare(b.group));
}

/** The controller a group hashes by ("<Kind>/<name>"), or null when it hashes by itself. */
function hashedBy(group: GroupKey): string | null {
  const own = `${group.namespace}/${group.name}`;
  return group.hashKey === own ? null : group.hashKey.slice(group.namespace.length + 1);
}

function unschedulableMessage(pods: readonly PodInfo[]): string | undefined {
  for (const { pod } of pods) {
    const condition = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
    if (condition?.message) return condition.message;
  }
  return undefined;
}

function leaderStatus(lease: Lease, now: number): LeaderStatus {
  const holder = lease.spec?.holderIdentity || null;
  const renewedAt = timestamp(lease.spec?.renewTime);
  const acquiredAt = timestamp(lease.spec?.acquireTime);
  const leaseDurationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  const renewAgeMs = renewedAt === undefined ? null : Math.max(0, now - renewedAt);
  return {
    holder,
    renewAgeMs,
    leadingForMs: holder === null || acquiredAt === undefined ? null : Math.max(0, now - acquiredAt),
    leaseDurationMs,
    expired: holder === null || renewAgeMs === null || renewAgeMs >= leaseDurationMs,
    transitions: lease.spec?.leaseTransitions ?? 0,
  };
}

/**
 * The newest handoffs and lends of this scheduler: Events whose message names one of its shards,
 * or whose pod is one of its pending pods. Members of a group get one Event each; they are one row.
 */
function recentEvents(
  snapshot: StatusSnapshot,
  shards: readonly ShardLeaseRow[],
  now: number,
  limit: number,
): RecentEvent[] {
  const shardNames = new Set(shards.map((s) => s.name));
  const podUids = new Set(snapshot.pods.map((pod) => pod.metadata.uid).filter((uid) => uid !== undefined));
  const rows = new Map<string, { at: number; reason: string; message: string; pods: number }>();
  for (const event of snapshot.events) {
    const reason = event.reason ?? "";
    if (!(reliefEventReasons as readonly string[]).includes(reason)) continue;
    const message = event.message ?? "";
    const uid = event.involvedObject?.uid;
    const ours =
      (uid !== undefined && podUids.has(uid)) ||
      message.split(/[\s(),:;]+/).some((word) => shardNames.has(word));
    const at = timestamp(
      event.series?.lastObservedTime ??
        event.lastTimestamp ??
        event.eventTime ??
        event.firstTimestamp ??
        event.metadata.creationTimestamp,
    );
    if (!ours || at === undefined) continue;
    const key = `${reason}\u0000${message}`;
    const row = rows.get(key);
    if (row) {
      row.pods++;
      row.at = Math.max(row.at, at);
    } else rows.set(key, { at, reason, message, pods: 1 });
  }
  return [...rows.values()]
    .sort((a, b) => b.at - a.at)
    .slice(0, limit)
    .map((row) => ({ ...row, at: new Date(row.at).toISOString(), ageMs: Math.max(0, now - row.at) }));
}

/** Ms since the epoch of an API timestamp (RFC 3339, MicroTime too); undefined when absent or bad. */
function timestamp(text: string | null | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** How many domains of which label the ring lists, over how many nodes. */
function domainSummary(domains: NonNullable<RingObject["domains"]>): NonNullable<RingStatus["domains"]> {
  let count = 0;
  let nodes = 0;
  for (const owned of Object.values(domains.owners))
    for (const listed of Object.values(owned)) {
      count++;
      nodes += listed.length;
    }
  return { key: domains.key, count, nodes };
}
