/** Shard ownership: the ring and its Leases (the formats they share with the coordinator are in contracts/). */

// Temporary (issue 19): coordinator/src/coordinator.ts still imports these from here.
export { ringLeaseName } from "../contracts/keys.js";
export type { Lease } from "../contracts/leases.js";
export type { RingEpoch } from "./handover.js";
export { isLive, type LeaseSighting } from "./peer-liveness.js";
export {
  parseMemberLease,
  parseNodeOwners,
  parseRingLease,
  parseRingMembers,
  type RingObject,
} from "./shard-leases.js";
export { isShardIdentity, nodeOwnerOf, resolveOwner, ShardRing } from "./shard-ring.js";
