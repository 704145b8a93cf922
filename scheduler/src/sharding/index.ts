/**
 * Shard ownership: the ring and its Leases (the formats they share with the coordinator are in
 * contracts/). Temporary (issue 19): ringLeaseName, Lease, parseRingLease and RingObject are
 * re-exported from contracts/ while coordinator/src/coordinator.ts still imports them from here.
 */
export { ringLeaseName } from "../contracts/keys.js";
export { type Lease, parseRingLease, type RingObject } from "../contracts/leases.js";
export { isLive, type LeaseSighting } from "./peer-liveness.js";
export { nodeOwnerOf, resolveOwner, ShardRing } from "./shard-ring.js";
