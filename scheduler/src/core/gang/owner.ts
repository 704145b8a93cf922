/**
 * Which shard schedules a group (groupOwner): the shards, the coordinator and the status command
 * all answer it here, from the same inputs. The Owner condition that pins a group's pods to a
 * shard is a wire format (contracts/owner-condition.ts); this reads the group's pin from it.
 */
import { ownerPinOf } from "../../contracts/owner-condition.js";
import type { PodInfo } from "../model.js";

/**
 * The shard a group's pending members pin it to (a handoff, a lend, a preemption's pin), if
 * any: the first valid pin (all members get the same one, written together).
 */
export function groupPin(pending: Iterable<PodInfo>): string | undefined {
  for (const { pod } of pending) {
    const shard = ownerPinOf(pod)?.shard;
    if (shard) return shard;
  }
  return undefined;
}

/**
 * The shard that schedules a group: the one its members are pinned to (groupPin) while that
 * shard is live, else the shard feasibility-aware routing sends it to (routedTo, see
 * routing.ts) while that one is live, else the ring's owner of the group's hash key (undefined:
 * an empty ring). A pin or route to a shard that is gone yields to the ring, so a group is never
 * stranded on a dead shard.
 */
export function groupOwner(
  ringOwner: string | undefined,
  pinnedTo: string | undefined,
  live: ReadonlySet<string>,
  routedTo?: string,
): string | undefined {
  if (pinnedTo !== undefined && live.has(pinnedTo)) return pinnedTo;
  return routedTo !== undefined && live.has(routedTo) ? routedTo : ringOwner;
}
