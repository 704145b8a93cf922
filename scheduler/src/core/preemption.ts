/**
 * Gang preemption (PostFilter): when a group does not fit, find running groups of strictly
 * lower priority whose eviction makes the WHOLE group fit, evicting whole groups only.
 *
 *   1. Candidates: running groups with priority below the pending group's, not protected by
 *      a PodDisruptionBudget, with at least one pod on a node this shard may use.
 *   2. Greedy: add candidates lowest priority first, then fewest pods, until the group fits
 *      in a simulation (Statement); if it never fits, evict nothing.
 *   3. Reprieve: give back every chosen victim, highest first, whose eviction is not needed,
 *      until no single victim can be spared (the plan is minimal).
 *
 * Pods already terminating (earlier victims) count as gone, so a group waiting for its
 * victims to leave does not evict more. A group preempts at its one priority (members that
 * disagree make it invalid: none lends its priority to the rest), and not at all when any
 * member, pending or running, says preemptionPolicy: Never.
 */
import type { PodDisruptionBudget } from "./api-types.js";
import {
  type GangPlacementResult,
  type Placement,
  type PlacementContext,
  placeGang,
} from "./gang-placement.js";
import { matchesLabelSelector } from "./label-selector.js";
import type { PodInfo } from "./model.js";
import type { PendingGroup } from "./pending-group.js";
import type { RunningGroup } from "./snapshot.js";
import { Statement } from "./statement.js";

export interface EvictionPlan {
  /** Whole groups to evict (empty when earlier victims are still leaving). */
  readonly victims: readonly RunningGroup[];
  /** Where each member goes once the victims are gone: the preemptor's reserved nodes. */
  readonly nominations: readonly Placement[];
}

export type PreemptionResult =
  | { readonly preempts: true; readonly plan: EvictionPlan }
  | { readonly preempts: false; readonly reason: string };

export function planGangPreemption(ctx: PlacementContext, group: PendingGroup): PreemptionResult {
  if (group.problem !== undefined) {
    return { preempts: false, reason: "preemption: not attempted, the group is invalid" };
  }
  if (!group.mayPreempt) {
    return { preempts: false, reason: "preemption: not attempted, a member has preemptionPolicy: Never" };
  }
  if (group.members.length < group.required) {
    return {
      preempts: false,
      reason: "preemption: not attempted, the group has fewer pending pods than it needs",
    };
  }
  const snapshot = ctx.snapshot;
  const usable = new Set(ctx.nodes.map((node) => node.name));
  const leaving: PodInfo[] = [];
  const candidates: RunningGroup[] = [];
  let protectedByBudget = 0;
  for (const running of snapshot.runningGroups().values()) {
    if (running.id === group.key.id) continue;
    const onUsableNode = running.pods.filter((pod) => usable.has(snapshot.placementOf(pod.key) ?? ""));
    if (onUsableNode.length === 0) continue;
    if (running.pods.every((pod) => pod.terminating)) {
      if (running.priority < group.priority) leaving.push(...onUsableNode);
      continue;
    }
    if (running.priority >= group.priority) continue;
    if (blockedByDisruptionBudget(running, snapshot.podDisruptionBudgets(running.pods[0]?.namespace ?? ""))) {
      protectedByBudget++;
      continue;
    }
    candidates.push(running);
  }
  candidates.sort(
    (a, b) =>
      a.priority - b.priority || a.pods.length - b.pods.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );

  const fitsWithout = (victims: readonly RunningGroup[]): GangPlacementResult => {
    const trial = new Statement(snapshot);
    try {
      for (const pod of leaving) trial.evict(pod);
      for (const victim of victims) for (const pod of victim.pods) trial.evict(pod);
      return placeGang(ctx, trial, group, false);
    } finally {
      trial.discard();
    }
  };

  // Greedy: a cheap capacity bound decides when a full placement trial is worth running.
  const need = aggregateRequest(group);
  const free = freeCapacity(ctx, leaving);
  let chosen: RunningGroup[] = [];
  let result = covers(free, need) ? fitsWithout(chosen) : undefined;
  for (const candidate of candidates) {
    if (result?.fits) break;
    chosen.push(candidate);
    for (const pod of candidate.pods) {
      if (usable.has(snapshot.placementOf(pod.key) ?? "")) addTo(free, pod);
    }
    if (covers(free, need)) result = fitsWithout(chosen);
  }
  if (!result?.fits) {
    const budget =
      protectedByBudget > 0
        ? `; ${protectedByBudget} lower-priority group(s) protected by a PodDisruptionBudget`
        : "";
    return {
      preempts: false,
      reason: `preemption: no set of lower-priority groups whose eviction makes the group fit${budget}`,
    };
  }
  // Reprieve: keep every victim the group can do without, most valuable first. Placement is a
  // heuristic, so sparing one victim can make another unnecessary: repeat until none is spared.
  for (let spared = true; spared; ) {
    spared = false;
    for (const victim of [...chosen].reverse()) {
      const without = chosen.filter((v) => v !== victim);
      const trial = fitsWithout(without);
      if (trial.fits) {
        chosen = without;
        result = trial;
        spared = true;
      }
    }
  }
  return { preempts: true, plan: { victims: chosen, nominations: result.fits ? result.placements : [] } };
}

/** A group may not be evicted when a budget covering k of its pods allows fewer than k disruptions. */
export function blockedByDisruptionBudget(
  group: RunningGroup,
  budgets: readonly PodDisruptionBudget[],
): boolean {
  for (const budget of budgets) {
    let covered = 0;
    for (const pod of group.pods) {
      if (!pod.terminating && matchesLabelSelector(budget.spec?.selector, pod.labels)) covered++;
    }
    if (covered > 0 && (budget.status?.disruptionsAllowed ?? 0) < covered) return true;
  }
  return false;
}

type Capacity = Map<string, number>;

function addResources(target: Capacity, pod: PodInfo, sign: 1 | -1): void {
  const r = pod.requests;
  target.set("cpu", (target.get("cpu") ?? 0) + sign * r.milliCpu);
  target.set("memory", (target.get("memory") ?? 0) + sign * r.memory);
  target.set("pods", (target.get("pods") ?? 0) + sign);
  for (const [name, value] of r.scalar) target.set(name, (target.get(name) ?? 0) + sign * value);
}

function addTo(free: Capacity, pod: PodInfo): void {
  addResources(free, pod, 1);
}

/**
 * A lower bound on what any `required` of the members ask for together: per resource, the sum
 * of the smallest amounts (a member that does not ask for a resource counts as zero).
 */
function aggregateRequest(group: PendingGroup): Capacity {
  const perResource = new Map<string, number[]>();
  for (const pod of group.members) {
    const request: Capacity = new Map();
    addResources(request, pod, 1);
    for (const [name, value] of request) {
      const amounts = perResource.get(name) ?? [];
      amounts.push(value);
      perResource.set(name, amounts);
    }
  }
  const need: Capacity = new Map();
  for (const [name, amounts] of perResource) {
    const zeros: number[] = new Array(group.members.length - amounts.length).fill(0);
    const smallest = [...zeros, ...amounts].sort((a, b) => a - b).slice(0, group.required);
    need.set(
      name,
      smallest.reduce((sum, value) => sum + value, 0),
    );
  }
  return need;
}

/**
 * Free capacity summed over the usable nodes, counting leaving pods as gone. An overcommitted
 * node adds nothing (not a negative amount), so the sum stays an upper bound on what can fit.
 */
function freeCapacity(ctx: PlacementContext, leaving: readonly PodInfo[]): Capacity {
  const free: Capacity = new Map();
  const add = (name: string, amount: number) => free.set(name, (free.get(name) ?? 0) + Math.max(0, amount));
  for (const node of ctx.nodes) {
    const a = node.allocatable;
    const r = node.requested;
    add("cpu", a.milliCpu - r.milliCpu);
    add("memory", a.memory - r.memory);
    add("pods", a.pods - r.pods);
    for (const [name, value] of a.scalar) add(name, value - (r.scalar.get(name) ?? 0));
  }
  for (const pod of leaving) addTo(free, pod);
  return free;
}

function covers(free: Capacity, need: Capacity): boolean {
  for (const [name, value] of need) if (value > 0 && (free.get(name) ?? 0) < value) return false;
  return true;
}
