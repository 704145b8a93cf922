/**
 * Which shard schedules a group (groupOwner): the shards, the coordinator and the status command
 * all answer it here, from the same inputs.
 *
 * The owner override on a group's pods: the shard that schedules the group while it lives,
 * whatever the ring says. Only the coordinator (a handoff, a lend) and the shard that preempts
 * for the group (its pin) may set it, so it is a pod status condition written through
 * pods/status: tenants' edit and admin roles cannot write pods/status, and the API server drops
 * the status a pod is created with. A pod's annotations are its tenant's to edit, so no
 * annotation names a pod's shard (the old `sharded-scheduler.io/owner` on pods is ignored).
 *
 *   type     sharded-scheduler.io/Owner
 *   status   True
 *   reason   HandedOff | NodesLent (the coordinator) | Preempting (a shard's pin)
 *   message  "shard=<identity> epoch=<ring epoch it was written under>"
 *
 * Conditions merge by type in a strategic-merge patch of pods/status, so writing this one keeps
 * PodScheduled and the rest.
 */
import type { Pod, PodCondition } from "../api-types.js";
import type { PodInfo } from "../model.js";

export const ownerConditionType = "sharded-scheduler.io/Owner";

export const ownerReasons = ["HandedOff", "NodesLent", "Preempting"] as const;
export type OwnerReason = (typeof ownerReasons)[number];

export interface OwnerPin {
  readonly shard: string;
  readonly reason: OwnerReason;
  /** The ring epoch the writer saw when it wrote the pin. */
  readonly epoch: number;
}

/** The condition that pins a pod's group to a shard (for a strategic-merge patch of pods/status). */
export function ownerCondition(pin: OwnerPin, now: number): PodCondition & { lastTransitionTime: string } {
  return {
    type: ownerConditionType,
    status: "True",
    reason: pin.reason,
    message: `shard=${pin.shard} epoch=${pin.epoch}`,
    lastTransitionTime: new Date(now).toISOString(),
  };
}

const ownerMessage = /^shard=([^\s=]+) epoch=(\d{1,15})$/;

/** The pin a condition of type ownerConditionType says, or why it says none. */
export function parseOwnerCondition(condition: PodCondition): OwnerPin | { readonly invalid: string } {
  if (condition.status !== "True") return { invalid: `status "${condition.status}" is not True` };
  const reason = ownerReasons.find((r) => r === condition.reason);
  if (reason === undefined)
    return { invalid: `reason "${condition.reason ?? ""}" is not one of ${ownerReasons.join(", ")}` };
  const match = ownerMessage.exec(condition.message ?? "");
  if (!match) return { invalid: `message "${condition.message ?? ""}" is not "shard=<identity> epoch=<n>"` };
  return { shard: match[1] as string, reason, epoch: Number(match[2]) };
}

/** The shard a pod is pinned to by its Owner condition, if it has a valid one. */
export function ownerPinOf(pod: Pod): OwnerPin | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === ownerConditionType);
  if (!condition) return undefined;
  const pin = parseOwnerCondition(condition);
  return "invalid" in pin ? undefined : pin;
}

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
 * shard is live, else the ring's owner of the group's hash key (undefined: an empty ring). A pin
 * to a shard that is gone yields to the ring, so a group is never stranded on a dead shard.
 */
export function groupOwner(
  ringOwner: string | undefined,
  pinnedTo: string | undefined,
  live: ReadonlySet<string>,
): string | undefined {
  return pinnedTo !== undefined && live.has(pinnedTo) ? pinnedTo : ringOwner;
}
