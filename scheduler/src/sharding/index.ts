/**
 * Shard ownership: the ring, its Leases and node lends. A group's owner (its pods' Owner
 * condition, groupOwner) is core/gang's.
 */
export type { RingEpoch } from "./handover.js";
export { isLive, type LeaseSighting } from "./peer-liveness.js";
export {
  coordinatorLeaseName,
  type Lease,
  leaseMarginMs,
  leaseTimestamp,
  parseMemberLease,
  parseNodeOwners,
  parseRingLease,
  parseRingMembers,
  type RingObject,
  ringLeaseName,
  shardLeaseLabel,
} from "./shard-leases.js";
export { isShardIdentity, nodeOwnerAnnotation, nodeOwnerOf, ShardRing } from "./shard-ring.js";
