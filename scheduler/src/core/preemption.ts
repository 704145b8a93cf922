/**
 * Gang preemption (PostFilter): when a group does not fit, find running groups of strictly
 * lower priority whose eviction makes the WHOLE group fit. The search is bounded the way
 * kube-scheduler's DefaultPreemption bounds it, so a storm of preemptors costs each of them a
 * sample of nodes, not trials over the whole cluster.
 *
 * What one victim decision takes (a VictimUnit) follows the victim group's disruption mode:
 *   - a PodGroup with disruptionMode `all`, and any group without surplus: the whole group;
 *   - `single` (a PodGroup's default): each member on its own;
 *   - other gangs (annotations, CRD PodGroups) running more members than their min-member: each
 *     surplus member on its own, or the whole group — never a part that leaves it below its min.
 * The members kept longest are the first min-member by name (a Job's index 0, often the leader);
 * a unit that leaves its group below its minimum costs more than one that does not, after
 * priority (so surplus members go first, and a `single` group loses them before its minimum).
 *
 *   1. Candidates: running groups with priority below the pending group's, not protected by
 *      a PodDisruptionBudget, with at least one pod on a node this shard may use (decided as the
 *      search meets them: a preemptor pays for the nodes it looks at, not for every group).
 *   2. Cheap bound for a gang: if the free room plus everything the candidates hold cannot cover
 *      what the required members ask for together, no trial runs. (A lone pod has step 3's.)
 *   3. Node by node (kube-scheduler's SelectVictimsOnNode, member by member): a member that
 *      does not fit looks at nodes from a rotating start, skips a node whose room even without
 *      its candidates is too small, else evicts every candidate there, and if the member then
 *      fits gives back the most important units first while it still fits. The search stops
 *      once max(10 % of the nodes, 100) nodes offered victims (minCandidateNodesPercentage /
 *      minCandidateNodesAbsolute); the member takes the cheapest of them (lowest highest
 *      priority, then fewest units leaving their group below its minimum, then lowest sum of
 *      priorities, then fewest pods: whole groups counted), its victim units are evicted, and
 *      the next member looks. Members of one group a budget does not allow together are not
 *      offered.
 *   4. Check and reprieve: the group must fit, by gang placement, once the victims are gone;
 *      then every victim unit it can do without is given back, most valuable first, until none
 *      can be spared (the plan is minimal). For a one-pod group only the nodes the evictions
 *      touch are tried again: the others already failed it.
 *   Nodes where the failed placement met a rejection no eviction cures (UnschedulableAndUnresolvable:
 *   taints, node affinity, a cordon, a request larger than the node) are not looked at.
 *   If step 3 finds nothing: for a one-pod group that is the answer (no node could take it with
 *   every candidate there gone); a gang gets one trial with every candidate gone, and if it fits
 *   there, the candidates on the nodes it used are the victims to reprieve.
 *
 * It is asked right after the group failed placement on ctx's nodes: for a one-pod group every
 * node the plan does not touch is known to refuse the pod, so trials look only at touched ones.
 *
 * A PreemptionMemo shared by the preemptors of one cycle lets identical pods reuse what an
 * earlier one learned: each node's victims for their shape while the node is unchanged, and that
 * a shape cannot preempt at all until room is given back.
 *
 * A group with a required topology (gang/topology.ts) runs this search once per domain of its key,
 * on that domain's usable nodes alone, and takes the cheapest plan: its victims all stand in the
 * one domain its members are nominated into (planPreemptionInOneDomain).
 *
 * Pods already terminating (earlier victims) count as gone, so a group waiting for its
 * victims to leave does not evict more. A group preempts at its one priority (members that
 * disagree make it invalid: none lends its priority to the rest), and not at all when any
 * member, pending or running, says preemptionPolicy: Never.
 */
import { lentForAnnotation } from "../contracts/keys.js";
import type { PodDisruptionBudget } from "./api-types.js";
import type { RunningGroup } from "./cluster-state.js";
import { type ClusterEvents, eventsOf } from "./framework.js";
import type { PendingGroup } from "./gang/index.js";
import {
  confinedTo,
  type GangPlacementResult,
  type Placement,
  type PlacementContext,
  placeGroup,
  selectNode,
} from "./gang-placement.js";
import { matchesLabelSelector } from "./label-selector.js";
import type { NodeInfo, PodInfo } from "./model.js";
import { naturalOrder } from "./natural-order.js";
import { type PodState, PodStates, preFilter, rejection } from "./profile.js";
import { insufficientResources, Resources } from "./resources/resources.js";
import { Statement } from "./statement.js";

/** A group the plan evicts from: all of it, or some of its members (its disruption mode allows it). */
export interface Victim {
  /** The group's id. */
  readonly id: string;
  /** The members to evict (the whole group's when `whole`). */
  readonly pods: readonly PodInfo[];
  readonly priority: number;
  /** The whole group goes: a member bound after the plan was made follows the rest. */
  readonly whole: boolean;
}

/**
 * One victim decision: a whole group (id: the group's), or one member that its group may lose on
 * its own (id: "<group id>#<pod key>"). A whole group's unit and its members' units overlap: the
 * search never offers a member once its group is chosen whole, and the plan merges them.
 */
export interface VictimUnit {
  readonly id: string;
  readonly group: RunningGroup;
  readonly pods: readonly PodInfo[];
  readonly priority: number;
  /** Taking it leaves the group below its minimum (or takes it whole). */
  readonly breaks: boolean;
  readonly whole: boolean;
}

export interface EvictionPlan {
  /** One entry per victim group (empty when earlier victims are still leaving). */
  readonly victims: readonly Victim[];
  /** Where each member goes once the victims are gone: the preemptor's reserved nodes. */
  readonly nominations: readonly Placement[];
}

export type PreemptionResult =
  | { readonly preempts: true; readonly plan: EvictionPlan }
  | { readonly preempts: false; readonly reason: string };

/**
 * What can make preemption help a group it could not help before: victims leaving (deleted, or
 * starting to terminate, which counts them gone), budgets allowing more. kube-scheduler's
 * DefaultPreemption registers only AssignedPod/Delete (for async preemption): its preemption
 * neither counts terminating pods as gone nor refuses to break budgets.
 */
export const preemptionEvents: ClusterEvents = eventsOf([
  "AssignedPodDelete",
  "AssignedPodUpdateTerminating",
  "PodDisruptionBudgetChange",
]);

/** kube-scheduler's DefaultPreemptionArgs defaults. */
export const minCandidateNodesPercentage = 10;
export const minCandidateNodesAbsolute = 100;

/** How many nodes offering victims the search looks for before it picks (never more than there are). */
export function candidateNodesToFind(nodeCount: number): number {
  const wanted = Math.max(
    Math.floor((nodeCount * minCandidateNodesPercentage) / 100),
    minCandidateNodesAbsolute,
  );
  return Math.min(wanted, nodeCount);
}

/**
 * What the preemption searches of one cycle learned, for the identical preemptors after them:
 * each node's victims for a pod shape, valid while the node is unchanged (its version), and the
 * shapes that cannot preempt at all, valid until some room is given back.
 */
export class PreemptionMemo {
  private readonly victimsByShape = new Map<string, Map<string, { version: number; victims: string[] }>>();
  private readonly hopeless = new Map<string, string>();

  /** Nominations were withdrawn: room came back, so a shape that could not preempt may now. */
  roomReturned(): void {
    this.hopeless.clear();
  }

  hopelessReason(shape: string): string | undefined {
    return this.hopeless.get(shape);
  }

  markHopeless(shape: string, reason: string): void {
    this.hopeless.set(shape, reason);
  }

  victimsOn(shape: string, node: string, version: number): string[] | undefined {
    const known = this.victimsByShape.get(shape)?.get(node);
    return known?.version === version ? known.victims : undefined;
  }

  remember(shape: string, node: string, version: number, victims: string[]): void {
    const byNode =
      this.victimsByShape.get(shape) ?? new Map<string, { version: number; victims: string[] }>();
    this.victimsByShape.set(shape, byNode);
    byNode.set(node, { version, victims });
  }
}

/**
 * Where the group's failed placement found nodes no eviction can help (UnschedulableAndUnresolvable,
 * e.g. taints, node affinity, a cordon): preemption does not look there for members that ask
 * for what the failed member asked (kube-scheduler's nodesWherePreemptionMightHelp).
 */
export interface HopelessNodes {
  readonly pod: PodInfo;
  readonly nodes: ReadonlySet<string>;
}

export function planGangPreemption(
  ctx: PlacementContext,
  group: PendingGroup,
  memo?: PreemptionMemo,
  hopeless?: HopelessNodes,
): PreemptionResult {
  const key = group.topology?.required;
  if (key === undefined || group.problem !== undefined || !group.mayPreempt)
    return planPreemption(ctx, group, memo, hopeless);
  return planPreemptionInOneDomain(ctx, group, key, hopeless);
}

/**
 * A group with a required topology preempts inside one domain of its key: the search runs on
 * each domain's usable nodes alone (a domain whose free room and evictable pods together cannot
 * hold the gang costs one sum), and the cheapest plan wins (kube-scheduler's order over the
 * victims: lowest highest priority, fewest groups broken, lowest sum of priorities, fewest pods;
 * then the domain's place in node order). Victims therefore all stand in the domain the group
 * is nominated into; each plan is minimal and takes whole units, as any plan.
 */
function planPreemptionInOneDomain(
  ctx: PlacementContext,
  group: PendingGroup,
  key: string,
  hopeless: HopelessNodes | undefined,
): PreemptionResult {
  const domains = new Map<string, NodeInfo[]>();
  for (const node of ctx.nodes) {
    const value = node.labels[key];
    if (value === undefined) continue;
    const list = domains.get(value);
    if (list === undefined) domains.set(value, [node]);
    else list.push(node);
  }
  let best: { plan: EvictionPlan; cost: readonly number[] } | undefined;
  let failure: PreemptionResult | undefined;
  for (const nodes of domains.values()) {
    // The memo is per node set: what one domain learned says nothing of another.
    const result = planPreemption(confinedTo(ctx, nodes), group, undefined, hopeless);
    if (!result.preempts) {
      failure ??= result;
      continue;
    }
    const cost = planCost(result.plan);
    if (best === undefined || lessThan(cost, best.cost)) best = { plan: result.plan, cost };
  }
  if (best !== undefined) return { preempts: true, plan: best.plan };
  return (
    failure ?? {
      preempts: false,
      reason: `preemption: no usable node has label ${key}`,
    }
  );
}

/** A plan's cost in pickOneNodeForPreemption's order, with groups broken right after priority. */
function planCost(plan: EvictionPlan): number[] {
  let highest = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let pods = 0;
  for (const victim of plan.victims) {
    highest = Math.max(highest, victim.priority);
    for (const pod of victim.pods) {
      sum += pod.priority + 2 ** 31;
      pods++;
    }
  }
  return [highest, plan.victims.filter((v) => v.whole).length, sum, pods];
}

function lessThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0;
  }
  return false;
}

function planPreemption(
  ctx: PlacementContext,
  group: PendingGroup,
  memo?: PreemptionMemo,
  hopeless?: HopelessNodes,
): PreemptionResult {
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
  const cluster = ctx.cluster;
  const single = group.members.length === 1 ? (group.members[0] as PodInfo) : undefined;
  // A plugin with cluster-wide state (a PreFilter that reads more than the pod) makes a node's
  // answer depend on other nodes: then what one preemptor learned of a node does not carry over.
  const shape =
    memo &&
    single &&
    ctx.profile.preFilters.every((p) => p.podOnly === true || p.podOnlyFor?.(single) === true)
      ? shapeOf(ctx, group, single)
      : undefined;
  const known = shape === undefined ? undefined : memo?.hopelessReason(shape);
  if (known !== undefined) return { preempts: false, reason: known };
  const fail = (): PreemptionResult => {
    const budget =
      candidates.all().protectedByBudget > 0
        ? `; ${candidates.all().protectedByBudget} lower-priority group(s) protected by a PodDisruptionBudget`
        : "";
    const reason = `preemption: no set of lower-priority groups whose eviction makes the group fit${budget}`;
    if (shape !== undefined) memo?.markHopeless(shape, reason);
    return { preempts: false, reason };
  };

  const usable = new Set(ctx.nodes.map((node) => node.name));
  const candidates = new Candidates(ctx, group, usable);
  // A lone pod has a cheaper bound per node (step 3); a gang's is the sum over all candidates.
  if (
    !single &&
    !covers(freeCapacity(ctx, candidates.leaving).add(candidates.all().room), aggregateRequest(group))
  )
    return fail();

  const fitsWithout = (victims: readonly VictimUnit[], nodes = ctx.nodes): GangPlacementResult => {
    const trial = new Statement(cluster);
    try {
      const gone = new Set<string>();
      evictOnce(trial, candidates.leaving, gone);
      for (const victim of victims) evictOnce(trial, victim.pods, gone);
      return placeGroup(confinedTo(ctx, nodes), trial, group, false);
    } finally {
      trial.discard();
    }
  };

  // A lone pod just failed on every node: only the nodes evictions touch can take it now.
  const trialNodes = (without: readonly VictimUnit[]) =>
    single ? touchedNodes(ctx, [...candidates.leaving, ...without.flatMap((v) => v.pods)]) : ctx.nodes;
  const found = searchNodeByNode(ctx, group, candidates, trialNodes([]), shape, memo, hopeless);
  let victims: VictimUnit[] = [];
  let result: GangPlacementResult | undefined;
  if (found !== undefined && found.length === 0) {
    // Nothing to evict (the room earlier victims leave is enough): no reprieve to do.
    result = fitsWithout([], trialNodes([]));
    if (result.fits) return { preempts: true, plan: { victims: [], nominations: result.placements } };
  }
  if (found !== undefined && found.length > 0) {
    victims = byEvictionOrder(found);
    result = fitsWithout(victims, trialNodes(victims));
  }
  if (!result?.fits) {
    // A lone pod that no node could take with every candidate there gone cannot be helped.
    if (single) return fail();
    const all = candidates.all().order;
    const everyone = fitsWithout(all);
    if (!everyone.fits) return fail();
    const used = new Set(everyone.placements.map((p) => p.nodeName));
    const near = all.filter((c) => c.pods.some((pod) => used.has(cluster.placementOf(pod.key) ?? "")));
    result = fitsWithout(near);
    victims = result.fits ? near : all;
    if (!result.fits) result = everyone;
  }
  // Reprieve: keep every victim the group can do without, most valuable first. Placement is a
  // heuristic, so sparing one victim can make another unnecessary: repeat until none is spared.
  let chosen = victims;
  for (let spared = true; spared; ) {
    spared = false;
    for (const victim of [...chosen].reverse()) {
      const without = chosen.filter((v) => v !== victim);
      const trial = fitsWithout(without, trialNodes(without));
      if (trial.fits) {
        chosen = without;
        result = trial;
        spared = true;
      }
    }
  }
  // The units of one group were allowed each on its own; the plan takes them together.
  const byGroup = new Map<string, VictimUnit[]>();
  for (const unit of chosen) byGroup.set(unit.group.id, [...(byGroup.get(unit.group.id) ?? []), unit]);
  if (![...byGroup.values()].every((units) => candidates.allowTogether(units))) return fail();
  return {
    preempts: true,
    plan: { victims: victimsOf(chosen), nominations: result.fits ? result.placements : [] },
  };
}

/**
 * How a running group's members may be taken (see the header): "whole", "members" (`single`:
 * each on its own) or "surplus" (each member above min-member on its own, else the whole group).
 */
export function partialEvictionOf(group: RunningGroup): "whole" | "members" | "surplus" {
  const first = group.pods[0];
  if (first === undefined || first.group.solo) return "whole";
  if (first.disruption === "single") return "members";
  // A PodGroup that says `all` asks for exactly that (kube-scheduler evicts it whole).
  return first.group.podGroup ? "whole" : "surplus";
}

/** The group's victim units: its members' (spare ones first by name) and, unless `single`, itself whole. */
export function victimUnitsOf(group: RunningGroup): VictimUnit[] {
  const whole: VictimUnit = {
    id: group.id,
    group,
    pods: group.pods,
    priority: group.priority,
    breaks: true,
    whole: true,
  };
  const mode = partialEvictionOf(group);
  const staying = group.pods.filter((pod) => !pod.terminating).sort((a, b) => naturalOrder(a.key, b.key));
  // The largest min-member its members carry; none: the group started with those present, all needed.
  const declared = staying.flatMap((pod) => (pod.minMember === undefined ? [] : [pod.minMember]));
  const min = Math.min(staying.length, declared.length > 0 ? Math.max(...declared) : staying.length);
  if (mode === "whole" || (mode === "surplus" && staying.length <= min)) return [whole];
  const member = (pod: PodInfo, breaks: boolean): VictimUnit => ({
    id: `${group.id}#${pod.key}`,
    group,
    pods: [pod],
    priority: group.priority,
    breaks,
    whole: false,
  });
  const spare = staying.slice(min).map((pod) => member(pod, false));
  if (mode === "surplus") return [...spare, whole];
  return [...spare, ...staying.slice(0, min).map((pod) => member(pod, true))];
}

/** The plan's victims, one per group: whole when its whole unit was chosen, else its members. */
function victimsOf(units: readonly VictimUnit[]): Victim[] {
  const byGroup = new Map<string, VictimUnit[]>();
  for (const unit of units) byGroup.set(unit.group.id, [...(byGroup.get(unit.group.id) ?? []), unit]);
  return [...byGroup.values()].map((chosen) => {
    const group = (chosen[0] as VictimUnit).group;
    const whole = chosen.some((unit) => unit.whole);
    const pods = whole ? group.pods : chosen.flatMap((unit) => unit.pods);
    return { id: group.id, pods, priority: group.priority, whole };
  });
}

/** Evicts the pods in the trial, each once (units of one group overlap; leaving pods are gone already). */
function evictOnce(statement: Statement, pods: Iterable<PodInfo>, gone: Set<string>): void {
  for (const pod of pods) {
    if (gone.has(pod.key)) continue;
    gone.add(pod.key);
    statement.evict(pod);
  }
}

/**
 * The victim units the pending group may take: of groups of lower priority, not all terminating,
 * with a pod on a usable node, not protected by a budget. Decided group by group as the search
 * meets them, so a preemptor that looks at a sample of nodes pays for the groups there, not for all.
 */
class Candidates {
  /** Pods of lower-priority groups already terminating (earlier victims): counted as gone. */
  readonly leaving: PodInfo[] = [];
  /** Per group id: its evictable units by id (empty: none). */
  private readonly decided = new Map<string, Map<string, VictimUnit>>();
  private readonly protectedGroups = new Set<string>();
  private readonly budgets = new Map<string, readonly PodDisruptionBudget[]>();
  private everyone: { order: VictimUnit[]; room: Resources; protectedByBudget: number } | undefined;

  constructor(
    private readonly ctx: PlacementContext,
    private readonly group: PendingGroup,
    private readonly usable: ReadonlySet<string>,
  ) {
    for (const pod of ctx.cluster.terminatingPods()) {
      const running = ctx.cluster.runningGroup(pod.group.id);
      if (!running || !this.lower(running) || !this.usable.has(ctx.cluster.placementOf(pod.key) ?? ""))
        continue;
      this.leaving.push(pod);
    }
  }

  /** The unit with this id, if it may be taken. */
  get(id: string): VictimUnit | undefined {
    const hash = id.indexOf("#");
    return this.unitsOf(hash < 0 ? id : id.slice(0, hash)).get(id);
  }

  /** The unit that takes this pod: its own, else its group's whole one (if either may be taken). */
  unitOf(pod: PodInfo): VictimUnit | undefined {
    const units = this.unitsOf(pod.group.id);
    return units.get(`${pod.group.id}#${pod.key}`) ?? units.get(pod.group.id);
  }

  /**
   * Whether a budget allows these units of one group together (each was checked on its own; two
   * members of a group under a budget that allows one disruption are not).
   */
  allowTogether(units: readonly VictimUnit[]): boolean {
    const first = units[0];
    if (first === undefined || units.length === 1) return true;
    const namespace = first.group.pods[0]?.namespace ?? "";
    const pods = new Set(units.flatMap((unit) => unit.pods));
    return !blockedByDisruptionBudget([...pods], this.budgets.get(namespace) ?? []);
  }

  /** Every unit, cheapest to take first, and what their groups' pods on usable nodes request. */
  all(): { order: VictimUnit[]; room: Resources; protectedByBudget: number } {
    if (this.everyone) return this.everyone;
    const order: VictimUnit[] = [];
    const room = new Resources();
    for (const running of this.ctx.cluster.runningGroups().values()) {
      const units = this.unitsOf(running.id);
      if (units.size === 0) continue;
      order.push(...units.values());
      for (const pod of this.onUsableNodes(running.pods)) if (!pod.terminating) addPod(room, pod);
    }
    this.everyone = { order: byEvictionOrder(order), room, protectedByBudget: this.protectedGroups.size };
    return this.everyone;
  }

  private unitsOf(groupId: string): Map<string, VictimUnit> {
    const known = this.decided.get(groupId);
    if (known) return known;
    const units = new Map<string, VictimUnit>();
    const running = this.ctx.cluster.runningGroup(groupId);
    if (running !== undefined && this.lower(running)) {
      const namespace = running.pods[0]?.namespace ?? "";
      const budgets = this.budgets.get(namespace) ?? this.ctx.cluster.podDisruptionBudgets(namespace);
      this.budgets.set(namespace, budgets);
      for (const unit of victimUnitsOf(running)) {
        if (unit.pods.every((pod) => pod.terminating)) continue;
        if (this.onUsableNodes(unit.pods).length === 0) continue;
        if (blockedByDisruptionBudget(unit.pods, budgets)) this.protectedGroups.add(groupId);
        else units.set(unit.id, unit);
      }
    }
    this.decided.set(groupId, units);
    return units;
  }

  private lower(running: RunningGroup): boolean {
    return running.id !== this.group.key.id && running.priority < this.group.priority;
  }

  private onUsableNodes(pods: readonly PodInfo[]): PodInfo[] {
    return pods.filter((pod) => this.usable.has(this.ctx.cluster.placementOf(pod.key) ?? ""));
  }
}

/** Cheapest to take first: lowest priority, then keeping groups at their minimum, then fewest pods, then id. */
function byEvictionOrder(units: readonly VictimUnit[]): VictimUnit[] {
  return [...units].sort(
    (a, b) =>
      a.priority - b.priority ||
      Number(a.breaks) - Number(b.breaks) ||
      a.pods.length - b.pods.length ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/**
 * Step 3: member by member, the cheapest node offering victims among the first ones found. The
 * victims of every member, or undefined when too many members find no node even so.
 */
function searchNodeByNode(
  ctx: PlacementContext,
  group: PendingGroup,
  candidates: Candidates,
  /** Where a member may fit without new victims: the leaving pods' nodes for a lone pod, else all. */
  freedNodes: readonly NodeInfo[],
  shape: string | undefined,
  memo: PreemptionMemo | undefined,
  hopeless: HopelessNodes | undefined,
): VictimUnit[] | undefined {
  const statement = new Statement(ctx.cluster);
  const chosen = new Map<string, VictimUnit>();
  const search: VictimSearch = { ctx, statement, candidates, chosen, shape, memo };
  const hopelessFor = hopeless === undefined ? undefined : constraintsOf(hopeless.pod);
  const gone = new Set<string>();
  try {
    evictOnce(statement, candidates.leaving, gone);
    // The members' PreFilter states, kept true by RemovePod/AddPod as victims go and members land.
    const states = new PodStates(ctx.profile, group.members);
    statement.follow(states.follower);
    let placed = 0;
    let failures = 0;
    for (let i = 0; i < group.members.length; i++) {
      const member = group.members[i] as PodInfo;
      if (placed >= group.required) break;
      const state = states.states[i];
      let nodeName = selectNode(confinedTo(ctx, freedNodes), member, undefined, false, state);
      if (nodeName === undefined) {
        const skip =
          hopeless !== undefined && constraintsOf(member) === hopelessFor ? hopeless.nodes : undefined;
        const best = cheapestNode(search, member, state, skip);
        if (best !== undefined) {
          for (const victim of best.victims) {
            chosen.set(victim.id, victim);
            evictOnce(statement, victim.pods, gone);
          }
          nodeName = best.node.name;
        }
      }
      if (nodeName === undefined) {
        if (++failures > group.members.length - group.required) return undefined;
        continue;
      }
      statement.assume(member, nodeName);
      placed++;
    }
    return placed >= group.required ? [...chosen.values()] : undefined;
  } finally {
    statement.follow(undefined);
    statement.discard();
  }
}

interface NodeOffer {
  readonly node: NodeInfo;
  readonly index: number;
  readonly victims: readonly VictimUnit[];
  /**
   * kube-scheduler's pickOneNodeForPreemption order (highest priority, sum of priorities, pods),
   * with the units that leave their group below its minimum counted right after priority.
   */
  readonly cost: readonly [number, number, number, number];
}

/** One member's search: the trial it runs in, the victims earlier members chose, the memo. */
interface VictimSearch {
  readonly ctx: PlacementContext;
  readonly statement: Statement;
  readonly candidates: Candidates;
  readonly chosen: ReadonlyMap<string, VictimUnit>;
  /** The pod's shape, for the memo (lone pods only). */
  readonly shape: string | undefined;
  readonly memo: PreemptionMemo | undefined;
}

function cheapestNode(
  search: VictimSearch,
  pod: PodInfo,
  state: PodState | undefined,
  hopeless: ReadonlySet<string> | undefined,
): NodeOffer | undefined {
  const { ctx } = search;
  const nodes = ctx.nodes;
  const count = nodes.length;
  if (count === 0) return undefined;
  const wanted = candidateNodesToFind(count);
  const start = ctx.nextStartIndex % count;
  let best: NodeOffer | undefined;
  let offers = 0;
  for (let i = 0; i < count && offers < wanted; i++) {
    const index = (start + i) % count;
    const node = nodes[index] as NodeInfo;
    if (hopeless?.has(node.name)) continue;
    const victims = nodeVictims(search, pod, node, state);
    if (victims === undefined || victims.length === 0) continue;
    offers++;
    const offer: NodeOffer = { node, index, victims, cost: costOf(victims) };
    if (best === undefined || cheaper(offer, best)) best = offer;
  }
  return best;
}

function cheaper(a: NodeOffer, b: NodeOffer): boolean {
  for (let i = 0; i < a.cost.length; i++) {
    const d = (a.cost[i] as number) - (b.cost[i] as number);
    if (d !== 0) return d < 0;
  }
  return a.index < b.index;
}

function costOf(victims: readonly VictimUnit[]): [number, number, number, number] {
  let highest = Number.NEGATIVE_INFINITY;
  let breaking = 0;
  let sum = 0;
  let pods = 0;
  for (const victim of victims) {
    highest = Math.max(highest, victim.priority);
    if (victim.breaks) breaking++;
    for (const pod of victim.pods) {
      // Offset as kube-scheduler does, so that fewer pods of negative priority still cost less.
      sum += pod.priority + 2 ** 31;
      pods++;
    }
  }
  return [highest, breaking, sum, pods];
}

/** The node's victims for the pod, through the memo when the node is unchanged since it was asked. */
function nodeVictims(
  search: VictimSearch,
  pod: PodInfo,
  node: NodeInfo,
  state: PodState | undefined,
): readonly VictimUnit[] | undefined {
  const { ctx, candidates, chosen, shape, memo } = search;
  // A lent node's answer depends on the pod's group: not shared between groups.
  const reusable =
    memo !== undefined && shape !== undefined && !node.node.metadata.annotations?.[lentForAnnotation];
  if (reusable) {
    const known = memo.victimsOn(shape, node.name, ctx.cluster.nodeVersion(node.name));
    const victims = known?.map((id) => candidates.get(id));
    if (victims?.every((v) => v !== undefined && !chosen.has(v.id) && !chosen.has(v.group.id)))
      return victims as VictimUnit[];
  }
  const victims = victimsOnNode(search, pod, node, state);
  if (reusable)
    memo.remember(
      shape,
      node.name,
      ctx.cluster.nodeVersion(node.name),
      (victims ?? []).map((v) => v.id),
    );
  return victims;
}

/**
 * kube-scheduler's SelectVictimsOnNode for victim units: every candidate pod on the node gone,
 * does the pod fit? Then the units there are given back, most important first, as long as it
 * still fits. Undefined when the node cannot take the pod however many candidates leave it.
 */
function victimsOnNode(
  search: VictimSearch,
  pod: PodInfo,
  node: NodeInfo,
  podState: PodState | undefined,
): VictimUnit[] | undefined {
  const { ctx, statement, candidates, chosen } = search;
  const { state, rejected } = podState ?? preFilter(ctx.profile, pod);
  if (rejected !== undefined) return undefined;
  const here = new Map<string, { unit: VictimUnit; pods: PodInfo[] }>();
  for (const other of node.pods.values()) {
    if (chosen.has(other.group.id)) continue;
    const unit = candidates.unitOf(other);
    if (unit === undefined || chosen.has(unit.id)) continue;
    const entry = here.get(unit.id) ?? { unit, pods: [] };
    entry.pods.push(other);
    here.set(unit.id, entry);
  }
  if (here.size === 0) return undefined;
  // Cheap bound before any simulation: the room the node would have with every candidate gone.
  const remaining = node.requested.clone();
  for (const { pods } of here.values())
    for (const other of pods) {
      remaining.subtract(other.requests);
      remaining.pods -= 1;
    }
  if (insufficientResources(node.allocatable, remaining, pod.requests).length > 0) return undefined;
  const mark = statement.mark();
  try {
    for (const { pods } of here.values()) for (const other of pods) statement.evict(other);
    if (rejection(ctx.profile, pod, node, state) !== undefined) return undefined;
    const victims: VictimUnit[] = [];
    const mostImportantFirst = byEvictionOrder([...here.values()].map((entry) => entry.unit)).reverse();
    for (const unit of mostImportantFirst) {
      const pods = (here.get(unit.id) as { pods: PodInfo[] }).pods;
      for (const other of pods) statement.assume(other, node.name);
      if (rejection(ctx.profile, pod, node, state) === undefined) continue;
      for (const other of pods) statement.evict(other);
      victims.push(unit);
    }
    // Members of one group taken here and by earlier members: a budget must allow them together.
    const groups = new Set(victims.map((unit) => unit.group.id));
    for (const id of groups) {
      const together = [...chosen.values(), ...victims].filter((unit) => unit.group.id === id);
      if (!candidates.allowTogether(together)) return undefined;
    }
    return victims;
  } finally {
    statement.discardTo(mark);
  }
}

/** What decides where a pod may go whatever is evicted: two pods alike here share hopeless nodes. */
function constraintsOf(pod: PodInfo): string {
  const r = pod.requests;
  return JSON.stringify([
    pod.group.id,
    pod.nodeSelector ?? null,
    pod.requiredNodeAffinity ?? null,
    pod.tolerations,
    [r.milliCpu, r.memory, r.ephemeralStorage, [...r.scalar].sort()],
    // Members with other claims may be bound to other zones' volumes (VolumeBinding, VolumeZone).
    pod.volumeClaims,
  ]);
}

/** The usable nodes that hold any of the pods, in the context's order. */
function touchedNodes(ctx: PlacementContext, pods: readonly PodInfo[]): readonly NodeInfo[] {
  const names = new Set<string>();
  for (const pod of pods) {
    const nodeName = ctx.cluster.placementOf(pod.key);
    if (nodeName !== undefined) names.add(nodeName);
  }
  return ctx.nodes.filter((node) => names.has(node.name));
}

/**
 * What decides a lone pod's preemption: its group's priority and its own, what it asks for and
 * where it may go. Its group's id too when the group runs pods or holds nominations, which
 * count differently for it than for anyone else.
 */
function shapeOf(ctx: PlacementContext, group: PendingGroup, pod: PodInfo): string {
  const personal =
    ctx.cluster.runningGroup(group.key.id) !== undefined || ctx.cluster.nominatedPod(pod.key) !== undefined;
  const r = pod.requests;
  return JSON.stringify([
    group.priority,
    pod.priority,
    [r.milliCpu, r.memory, r.ephemeralStorage, [...r.scalar].sort()],
    pod.nodeSelector ?? null,
    pod.requiredNodeAffinity ?? null,
    pod.tolerations,
    personal ? group.key.id : "",
  ]);
}

/** Pods may not be evicted together when a budget covering k of them allows fewer than k disruptions. */
export function blockedByDisruptionBudget(
  pods: readonly PodInfo[],
  budgets: readonly PodDisruptionBudget[],
): boolean {
  for (const budget of budgets) {
    let covered = 0;
    for (const pod of pods) {
      if (!pod.terminating && matchesLabelSelector(budget.spec?.selector, pod.labels)) covered++;
    }
    if (covered > 0 && (budget.status?.disruptionsAllowed ?? 0) < covered) return true;
  }
  return false;
}

function addPod(room: Resources, pod: PodInfo): void {
  room.add(pod.requests);
  room.pods += 1;
}

/**
 * A lower bound on what any `required` of the members ask for together: per resource, the sum
 * of the smallest amounts (a member that does not ask for a resource counts as zero).
 */
function aggregateRequest(group: PendingGroup): Resources {
  const smallest = (amount: (pod: PodInfo) => number) =>
    group.members
      .map(amount)
      .sort((a, b) => a - b)
      .slice(0, group.required)
      .reduce((sum, value) => sum + value, 0);
  const need = new Resources();
  need.milliCpu = smallest((pod) => pod.requests.milliCpu);
  need.memory = smallest((pod) => pod.requests.memory);
  need.ephemeralStorage = smallest((pod) => pod.requests.ephemeralStorage);
  need.pods = group.required;
  const names = new Set(group.members.flatMap((pod) => [...pod.requests.scalar.keys()]));
  for (const name of names)
    need.setAmount(
      name,
      smallest((pod) => pod.requests.scalar.get(name) ?? 0),
    );
  return need;
}

/**
 * Free capacity summed over the usable nodes, counting leaving pods as gone. An overcommitted
 * node adds nothing (not a negative amount), so the sum stays an upper bound on what can fit.
 */
function freeCapacity(ctx: PlacementContext, leaving: readonly PodInfo[]): Resources {
  const free = new Resources();
  for (const node of ctx.nodes) {
    const a = node.allocatable;
    const r = node.requested;
    free.milliCpu += Math.max(0, a.milliCpu - r.milliCpu);
    free.memory += Math.max(0, a.memory - r.memory);
    free.ephemeralStorage += Math.max(0, a.ephemeralStorage - r.ephemeralStorage);
    free.pods += Math.max(0, a.pods - r.pods);
    for (const [name, value] of a.scalar)
      free.setAmount(name, (free.scalar.get(name) ?? 0) + Math.max(0, value - (r.scalar.get(name) ?? 0)));
  }
  for (const pod of leaving) addPod(free, pod);
  return free;
}

function covers(free: Resources, need: Resources): boolean {
  if (free.milliCpu < need.milliCpu || free.memory < need.memory) return false;
  if (free.ephemeralStorage < need.ephemeralStorage || free.pods < need.pods) return false;
  for (const [name, value] of need.scalar)
    if (value > 0 && (free.scalar.get(name) ?? 0) < value) return false;
  return true;
}
