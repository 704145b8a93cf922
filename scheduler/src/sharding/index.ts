/**
 * Shard ownership: the ring and its Leases (the formats they share with the coordinator are in
 * contracts/).
 */
export { isLive, type LeaseSighting } from "./peer-liveness.js";
export { nodeOwnerOf, ShardRing } from "./shard-ring.js";
