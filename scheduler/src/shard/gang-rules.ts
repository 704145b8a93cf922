/**
 * What the shard reads off a group's members before the core sees it: the shard its pods pin
 * it to, the reasons it can never be placed as a whole, and whether its members are all here.
 */
import { minMemberAnnotation, priorityDisagreement } from "../core/index.js";
import { ownerPinOf } from "../sharding/owner-condition.js";
import {
  declaredMinMember,
  declaredMinMembers,
  type GroupMembers,
  succeededMembers,
} from "./cluster-cache.js";

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

export type Readiness =
  | { ready: true; minMember: number | undefined }
  | { ready: false; until: number; why?: string };

/**
 * Whether a group's members are all here: min-member present (gated members do not count), or
 * without min-member, no member arrived for the settle window. A group that started, or a solo
 * pod, is always ready.
 */
export function groupReadiness(members: GroupMembers, now: number, settleWindowMs: number): Readiness {
  const minMember = declaredMinMember(members);
  // A group that started takes later members as they come: nothing to wait for.
  if (members.started) return { ready: true, minMember };
  if (minMember !== undefined) {
    const present = members.pending.size + members.running.size + succeededMembers(members);
    if (present >= minMember) return { ready: true, minMember };
    return {
      ready: false,
      until: Number.POSITIVE_INFINITY,
      // The text stays the same while members arrive: one write per pod, not one per arrival.
      why:
        `waiting for pod group ${members.key.namespace}/${members.key.name} to have ${minMember} members ` +
        `(${minMemberAnnotation}); members with scheduling gates do not count`,
    };
  }
  if (members.key.solo) return { ready: true, minMember: undefined };
  const settledAt = members.lastArrivalAt + settleWindowMs;
  return settledAt <= now ? { ready: true, minMember: undefined } : { ready: false, until: settledAt };
}
