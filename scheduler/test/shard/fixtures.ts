/** Builders for shard tests. */
import type { Ownership } from "../../src/sharding/ownership.js";

/** A single shard owning every node and group, never in a handover. */
export const ownsEverything: Ownership = {
  version: 1,
  epoch: 1,
  canPlace: () => true,
  ownsNode: () => true,
  gainedNodesSettling: () => false,
  ownsGroup: () => true,
  acquireBind: () => ({ valid: () => true, release: () => undefined }),
  observeNodeOwner: () => undefined,
};
