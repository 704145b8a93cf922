/**
 * The one question a shard asks before it schedules a group or binds onto a node:
 * "do I own this?". A single replica owns everything; the sharding ring answers it for many.
 */
export interface Ownership {
  /** Changes whenever any answer of ownsNode may have changed (lets the core cache its node list). */
  readonly version: number;
  /** May this shard place pods on the node in this cycle? */
  ownsNode(nodeName: string): boolean;
  /** Does this shard schedule the group (hash key "<namespace>/<group or pod>")? */
  ownsGroup(hashKey: string): boolean;
  /**
   * Checked right before a bind batch is sent: false when ownership of the node was lost
   * since the cycle decided (fencing), so the bind is not sent.
   */
  mayBind(nodeName: string): boolean;
}

/** A single shard owns every node and group. */
export const ownsEverything: Ownership = {
  version: 0,
  ownsNode: () => true,
  ownsGroup: () => true,
  mayBind: () => true,
};
