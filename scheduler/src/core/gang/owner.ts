/**
 * Which shard schedules a group (groupOwner): the shards, the coordinator and the status command
 * all answer it here, from the same inputs. The Owner condition that pins a group's pods to a
 * shard is a wire format (contracts/owner-condition.ts); this reads the group's pin from it.
 */
import { type OwnerPin, ownerPinOf } from "../../contracts/owner-condition.js";
import type { PodInfo } from "../model.js";

/**
 * The shard a group's pending members pin it to (a handoff, a lend, a preemption's pin), if
 * any. The members normally carry the same pin (each writer pins every member), but two writers
 * can race — a shard pinning the group as it preempts while the coordinator hands it off — and
 * leave the members disagreeing. Every reader (each shard, the coordinator, the status command)
 * then still picks the same one, whatever order its cache holds the members in, or the group
 * would belong to nobody (each shard reading a first member pinned to another): the pin written
 * under the newest ring epoch; at the same epoch a shard's preemption pin before a relief's (its
 * victims are already leaving for it: moving the group would waste their room); then the
 * smallest shard name.
 */
export function groupPin(pending: Iterable<PodInfo>): string | undefined {
  let best: OwnerPin | undefined;
  for (const { pod } of pending) {
    const pin = ownerPinOf(pod);
    if (pin && pin.shard !== "" && (best === undefined || pinPrecedes(pin, best))) best = pin;
  }
  return best?.shard;
}

function pinPrecedes(a: OwnerPin, b: OwnerPin): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  const preemptingA = a.reason === "Preempting";
  if (preemptingA !== (b.reason === "Preempting")) return preemptingA;
  return a.shard < b.shard;
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
