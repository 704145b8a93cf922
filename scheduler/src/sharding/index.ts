/** Shard ownership: the ring, its Leases and the owner overrides the coordinator writes. */
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
export {
  isShardIdentity,
  nodeOwnerAnnotation,
  nodeOwnerOf,
  podOwnerAnnotation,
  resolveOwner,
  ShardRing,
} from "./shard-ring.js";
