/**
 * What the shard reads off a group's members before the core sees it: the shard its pods pin
 * it to, and the reasons it can never be placed as a whole.
 */
import { priorityDisagreement } from "../core/index.js";
import { ownerPinOf } from "../sharding/owner-condition.js";
import { declaredMinMembers, type GroupMembers } from "./cluster-cache.js";

/**
 * The shard a group's pods name in their Owner condition (a handoff, a lend, a preemption's pin),
 * if any. Never an annotation: the pods' tenant could write that (owner-condition.ts).
 */
export function ownerOverride(members: GroupMembers): string | undefined {
  for (const pod of members.pending.values()) {
    const owner = ownerPinOf(pod.pod)?.shard;
    if (owner) return owner;
  }
  return undefined;
}

/** Reasons a group can never be placed as a whole by this scheduler, or undefined. */
export function groupProblem(members: GroupMembers): string | undefined {
  const name = `${members.key.namespace}/${members.key.name}`;
  if (members.foreignPending.size > 0) {
    const names = new Set(members.foreignPending.values());
    return `members of pod group ${name} name different schedulers (${[...names].join(", ")}); a gang must use one scheduler`;
  }
  const declared = declaredMinMembers(members);
  if (declared.size > 1) {
    return `members of pod group ${name} disagree on sharded-scheduler.io/min-member (${[...declared].join(", ")})`;
  }
  return priorityDisagreement(members.key, [...members.pending.values(), ...members.running.values()]);
}
