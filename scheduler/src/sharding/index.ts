/** Shard ownership: the ring, its Leases and the owner overrides the coordinator writes. */
export type { RingEpoch } from "./handover.js";
export {
  type OwnerPin,
  type OwnerReason,
  ownerCondition,
  ownerConditionType,
  ownerPinOf,
} from "./owner-condition.js";
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
