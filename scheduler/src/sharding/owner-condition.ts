// Temporary (issue 19): shard/shard.ts and status/cluster-status.ts still import from here.
export { ownerCondition, ownerPinOf } from "../contracts/owner-condition.js";
