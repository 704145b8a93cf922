/** Builders for shard tests: a Shard driven with stub writers instead of an API server. */
import type { Ownership } from "../../src/sharding/ownership.js";

/** A single shard that owns every node and group and may always bind. */
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
