/**
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
import { ownerConditionType } from "./keys.js";

/** A pod status condition as it travels (core/api-types.ts's PodCondition has this shape). */
export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/** What ownerPinOf reads of a pod. */
export interface WithConditions {
  readonly status?: { readonly conditions?: readonly Condition[] };
}

export const ownerReasons = ["HandedOff", "NodesLent", "Preempting"] as const;
export type OwnerReason = (typeof ownerReasons)[number];

export interface OwnerPin {
  readonly shard: string;
  readonly reason: OwnerReason;
  /** The ring epoch the writer saw when it wrote the pin. */
  readonly epoch: number;
}

/** The condition that pins a pod's group to a shard (for a strategic-merge patch of pods/status). */
export function ownerCondition(
  pin: OwnerPin,
  now: number,
): { type: string; status: string; reason: string; message: string; lastTransitionTime: string } {
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
export function parseOwnerCondition(condition: Condition): OwnerPin | { readonly invalid: string } {
  if (condition.status !== "True") return { invalid: `status "${condition.status}" is not True` };
  const reason = ownerReasons.find((r) => r === condition.reason);
  if (reason === undefined)
    return { invalid: `reason "${condition.reason ?? ""}" is not one of ${ownerReasons.join(", ")}` };
  const match = ownerMessage.exec(condition.message ?? "");
  if (!match) return { invalid: `message "${condition.message ?? ""}" is not "shard=<identity> epoch=<n>"` };
  return { shard: match[1] as string, reason, epoch: Number(match[2]) };
}

/** The shard a pod is pinned to by its Owner condition, if it has a valid one. */
export function ownerPinOf(pod: WithConditions): OwnerPin | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === ownerConditionType);
  if (!condition) return undefined;
  const pin = parseOwnerCondition(condition);
  return "invalid" in pin ? undefined : pin;
}
