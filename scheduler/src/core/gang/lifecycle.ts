/**
 * A gang's lifecycle, as pure functions of what the shard knows of it:
 *
 *   arriving ── min-member present, or (without one) the settle window passed ──▶ ready
 *   ready ── the core places the members at once (all or nothing) ──▶ bound
 *   bound ── min-member run or ran to completion (without one: a member runs) ──▶ started
 *   started ── later members join one by one as room allows; never rolled back
 *
 * A gang with min-member that never started, some members bound and the rest pending, is
 * partial (the binds of one placement went out, then the rest lost their room, or a shard
 * restarted mid-bind). One that stays partial for the gang timeout is rolled back: its
 * controller-owned members are deleted (their controller recreates them, and the gang is placed
 * afresh); bare pods would be lost, so they are only reported.
 *
 * Members with scheduling gates are not counted anywhere here: they are not ready to start.
 */
import { minMemberAnnotation } from "../../contracts/keys.js";
import type { PodInfo } from "../model.js";
import type { GroupKey } from "./group-key.js";
import { priorityDisagreement } from "./pending-group.js";
import { topologyDisagreement } from "./topology.js";

/** What the gang rules read of a group: counts, never the members themselves. */
export interface GangState {
  readonly key: GroupKey;
  /** The min-member its members agree on (agreedMinMember); undefined without one. */
  readonly minMember: number | undefined;
  /** Pending members without scheduling gates. */
  readonly pending: number;
  /** Members bound to an existing node (assumed ones included). */
  readonly running: number;
  /** Members that ran to completion, each counted once. */
  readonly succeeded: number;
  readonly started: boolean;
  /** When its newest pending member arrived (ms). */
  readonly lastArrivalAt: number;
  /** Why the group cannot be placed yet whatever its members (its PodGroup does not exist), or undefined. */
  readonly waitingFor?: string | undefined;
}

export type Readiness =
  | { readonly ready: true }
  /** Wait until `until` (infinity: until a member arrives); `why` is told to the pending members. */
  | { readonly ready: false; readonly until: number; readonly why?: string };

const ready: Readiness = { ready: true };

/**
 * Whether the core may try to place the group now. A started group takes members as they come;
 * with min-member the group waits until that many are present (pending, running or succeeded);
 * without, a group waits until no member arrived for the settle window (its size is the members
 * present then). A pod without a group never waits.
 */
export function groupReadiness(state: GangState, now: number, settleWindowMs: number): Readiness {
  // Before anything, started or not: kube-scheduler admits no pod whose PodGroup is missing.
  if (state.waitingFor !== undefined)
    return { ready: false, until: Number.POSITIVE_INFINITY, why: state.waitingFor };
  if (state.started) return ready;
  const { key, minMember } = state;
  if (minMember !== undefined) {
    if (state.pending + state.running + state.succeeded >= minMember) return ready;
    const kind = key.podGroup ? "PodGroup" : key.crd ? `${key.crd} PodGroup` : "pod group";
    const field = key.podGroup
      ? "spec.schedulingPolicy.gang.minCount"
      : key.crd
        ? "spec.minMember"
        : minMemberAnnotation;
    return {
      ready: false,
      until: Number.POSITIVE_INFINITY,
      // The text stays the same while members arrive: one write per pod, not one per arrival.
      why:
        `waiting for ${kind} ${key.namespace}/${key.name} to have ${minMember} members ` +
        `(${field}); members with scheduling gates do not count`,
    };
  }
  if (key.solo) return ready;
  const settledAt = state.lastArrivalAt + settleWindowMs;
  return settledAt <= now ? ready : { ready: false, until: settledAt };
}

/**
 * Whether a group has started: with min-member, that many members run or ran to completion;
 * without, a member runs. Its first start was all-or-nothing; later members join as room allows.
 */
export function groupStarted(running: number, succeeded: number, minMember: number | undefined): boolean {
  return minMember === undefined ? running > 0 : running + succeeded >= minMember;
}

/** The min-member the members declare when they agree on one (members without one aside), else undefined. */
export function agreedMinMember(...groups: Iterable<PodInfo>[]): number | undefined {
  let agreed: number | undefined;
  for (const members of groups)
    for (const { minMember } of members) {
      if (minMember === undefined) continue;
      if (agreed !== undefined && agreed !== minMember) return undefined;
      agreed = minMember;
    }
  return agreed;
}

/** Every min-member value the members declare (one, when they agree). */
export function declaredMinMembers(...groups: Iterable<PodInfo>[]): Set<number> {
  const declared = new Set<number>();
  for (const members of groups)
    for (const { minMember } of members) if (minMember !== undefined) declared.add(minMember);
  return declared;
}

/**
 * Reasons a group can never be placed as a whole by this scheduler, or undefined: pending
 * members of other schedulers, members that disagree on min-member, on priority or on topology.
 */
export function groupProblem(
  key: GroupKey,
  pending: Iterable<PodInfo>,
  running: Iterable<PodInfo>,
  foreignSchedulers: Iterable<string> = [],
): string | undefined {
  const name = `${key.namespace}/${key.name}`;
  const foreign = new Set(foreignSchedulers);
  if (foreign.size > 0)
    return `members of pod group ${name} name different schedulers (${[...foreign].join(", ")}); a gang must use one scheduler`;
  const members = [...pending, ...running];
  const declared = declaredMinMembers(members);
  if (declared.size > 1)
    return `members of pod group ${name} disagree on ${minMemberAnnotation} (${[...declared].join(", ")})`;
  return priorityDisagreement(key, members) ?? topologyDisagreement(key, members);
}

/**
 * A gang that never started, with min-member, some members bound and others pending, and fewer
 * than min-member running or succeeded. A group without min-member (its size is whoever came)
 * or that started is never partial: later members join it as room allows.
 */
export function partialGang(state: GangState): boolean {
  return (
    !state.key.solo &&
    !state.started &&
    state.minMember !== undefined &&
    state.running > 0 &&
    state.pending > 0 &&
    state.running + state.succeeded < state.minMember
  );
}

export type GangTimeout =
  /** Not partial: nothing to time (the shell forgets any start it remembered). */
  | { readonly kind: "whole" }
  /** Partial since `since`, within the gang timeout: tried again on backoff (it holds room). */
  | { readonly kind: "waiting"; readonly since: number }
  /** Partial for the gang timeout: roll it back (rollbackPlan). */
  | { readonly kind: "rollback"; readonly since: number };

const whole: GangTimeout = { kind: "whole" };

/**
 * What to do about a gang the core could not complete this cycle, given since when it has been
 * partial (`partialSince`, undefined: it was not).
 */
export function gangTimeout(
  state: GangState,
  partialSince: number | undefined,
  now: number,
  gangTimeoutMs: number,
): GangTimeout {
  if (!partialGang(state)) return whole;
  const since = partialSince ?? now;
  return now - since < gangTimeoutMs ? { kind: "waiting", since } : { kind: "rollback", since };
}

export interface RollbackPlan {
  /** Members a controller owns: deleted, so the controller recreates them. */
  readonly deleted: readonly PodInfo[];
  /** Bare pods: deleting them would lose them, so they are left running and only told. */
  readonly reported: readonly PodInfo[];
  /** Why, for the Events on both. */
  readonly message: string;
}

/** How a partial gang is rolled back (see the header). */
export function rollbackPlan(
  key: GroupKey,
  running: Iterable<PodInfo>,
  since: number,
  now: number,
): RollbackPlan {
  const deleted: PodInfo[] = [];
  const reported: PodInfo[] = [];
  for (const pod of running) {
    const owned = pod.pod.metadata.ownerReferences?.some((ref) => ref.controller) ?? false;
    (owned ? deleted : reported).push(pod);
  }
  const message = `pod group ${key.namespace}/${key.name} stayed partially bound for ${Math.round((now - since) / 1000)}s`;
  return { deleted, reported, message };
}
