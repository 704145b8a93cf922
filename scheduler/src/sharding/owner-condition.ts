/**
 * The Owner condition that pins a pod's group to a shard lives with the group rules
 * (core/gang/owner.ts), where groupOwner reads it; the sharding layer writes it from here.
 */
export {
  type OwnerPin,
  type OwnerReason,
  ownerCondition,
  ownerConditionType,
  ownerPinOf,
  ownerReasons,
  parseOwnerCondition,
} from "../core/gang/owner.js";
