import type { RoutingRing } from "../core/gang/routing.js";

/**
 * The questions a shard asks before it schedules a group or binds onto a node: "do I own
 * this?" and "may I bind there now?". ShardedOwnership answers them
 * (a single replica is a ring of one).
 */
export interface Ownership {
  /** Changes whenever any answer may have changed (lets the core cache its node list). */
  readonly version: number;
  /** The ring epoch this replica works under (0 for a single replica). */
  readonly epoch: number;
  /** False while a handover is under way: the shard waits instead of placing. */
  canPlace(): boolean;
  /** May this shard place pods on the node in this cycle? */
  ownsNode(nodeName: string): boolean;
  /**
   * True while a node this shard owns is not placeable yet because it was just gained (the
   * settle delay), as far as ownsNode was asked: a group that does not fit now may fit in a
   * moment, so nothing is evicted for it meanwhile.
   */
  gainedNodesSettling(): boolean;
  /**
   * Does this shard schedule the group (hash key "<namespace>/<group or pod>")? `pinnedTo` is
   * the shard its pending members' Owner condition names, if any (groupPin), `routedTo` the
   * shard feasibility-aware routing sends it to, if any; the answer is groupOwner's
   * (core/gang/owner.ts).
   */
  ownsGroup(hashKey: string, pinnedTo?: string, routedTo?: string): boolean;
  /**
   * What feasibility-aware routing (core/gang/routing.ts) reads of the ring: the newest ring
   * seen with its lends, as group ownership uses it. Absent or undefined: no routing (one
   * replica, or no ring yet); the shard then passes no routedTo.
   */
  routing?(): RoutingRing | undefined;
  /**
   * Checked right before a bind batch (or an eviction) is sent: undefined when ownership of a
   * node was lost since the cycle decided (fencing), and nothing may be sent. Otherwise the
   * batch holds the ticket until its requests finished, so a handover waits for it.
   */
  acquireBind(nodeNames: readonly string[]): BindTicket | undefined;
  /** A node's owner annotation (a lend by the coordinator), or undefined when it has none. */
  observeNodeOwner(nodeName: string, owner: string | undefined): void;
  /**
   * A node's labels (undefined: the node is gone), for the ring proposer's domain listing
   * (--shard-by-label); never what ownership is read from.
   */
  observeNodeLabels?(nodeName: string, labels: Readonly<Record<string, string>> | undefined): void;
}

export interface BindTicket {
  /**
   * False once this replica may no longer be holding its lease, or lost it since the ticket was
   * granted (even if it has regained it): send nothing more.
   */
  valid(): boolean;
  release(): void;
}

/**
 * The nodes a replica gained under the ring epoch it adopted: `nodes` names them all when the
 * epoch only moved lends (its members and domain listing are the previous adoption's), else it
 * is undefined (members came or went: any node may have moved); `gained` says of any node.
 */
export interface GainedNodes {
  readonly nodes: readonly string[] | undefined;
  readonly gained: (nodeName: string) => boolean;
}
