/** An Ownership for shard tests: this shard owns every node and group, and may always bind. */
import type { Ownership } from "../../src/sharding/ownership.js";

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
