/**
 * Property tests: random small clusters, random running groups and random pending groups, run
 * through SchedulingCore.cycle; every decision is checked against the promises of the core
 * (all-or-nothing gangs, no overcommit, whole-group minimal preemption of strictly lower
 * priorities, failed attempts leave the cluster as it was).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Node, Pod, PodDisruptionBudget } from "../../src/core/api-types.js";
import type { ClusterState } from "../../src/core/cluster-state.js";
import { type Decision, defaultCoreConfig, SchedulingCore } from "../../src/core/cycle.js";
import { type PendingGroup, queueOrder } from "../../src/core/gang/index.js";
import { placeGang } from "../../src/core/gang-placement.js";
import type { PodInfo } from "../../src/core/model.js";
import type { ScoringStrategy } from "../../src/core/plugins/node-resources/resource-allocation.js";
import { blockedByDisruptionBudget, type Victim, victimUnitsOf } from "../../src/core/preemption.js";
import { Statement } from "../../src/core/statement.js";
import {
  gpu,
  node,
  pdb,
  pendingGroupsOf,
  placementContext,
  pod,
  requestedByNode,
  snapshotOf,
} from "./fixtures.js";

// --- arbitraries --------------------------------------------------------------------------

/** A value about once in `every` draws, otherwise undefined. */
function sometimes<T>(arb: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: every - 1 }, { arbitrary: arb, weight: 1 });
}

const shapeArb = fc.record({
  cpu: fc.constantFrom(0.5, 1, 2),
  memoryMi: fc.constantFrom(512, 1024, 2048),
  gpus: fc.constantFrom(0, 0, 0, 0, 0, 1, 2),
});
type Shape = typeof shapeArb extends fc.Arbitrary<infer T> ? T : never;

const nodeArb = fc.record({
  cpu: fc.constantFrom(1, 2, 4),
  memoryGi: fc.constantFrom(2, 4, 8),
  gpus: fc.constantFrom(0, 0, 2, 4),
  pods: fc.constantFrom(2, 3, 110),
  owned: fc.integer({ min: 0, max: 4 }).map((x) => x > 0),
});

const runningGroupArb = fc.record({
  members: fc.array(fc.record({ shape: shapeArb, preferredNode: fc.nat() }), { minLength: 1, maxLength: 3 }),
  priority: fc.integer({ min: 0, max: 4 }),
  solo: fc.boolean(),
  terminating: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
  guarded: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
});

const pendingGroupArb = fc.record({
  members: fc.array(shapeArb, { minLength: 1, maxLength: 4 }),
  priority: fc.integer({ min: 0, max: 8 }),
  solo: fc.boolean(),
  minMember: sometimes(fc.integer({ min: 1, max: 5 }), 2),
  never: fc.integer({ min: 0, max: 7 }).map((x) => x === 0),
  createdAt: fc.integer({ min: 0, max: 100 }),
  /** Members after the first may have a lower priority than the group (mixed-priority gangs). */
  priorityDrop: fc.constantFrom(0, 0, 0, 1, 3),
  /** Join the running group of the same index (min-member counts its running pods). */
  join: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
  nominatedNode: sometimes(fc.nat(), 6),
});

const scenarioArb = fc.record({
  nodes: fc.array(nodeArb, { minLength: 1, maxLength: 5 }),
  running: fc.array(runningGroupArb, { maxLength: 8 }),
  pending: fc.array(pendingGroupArb, { minLength: 1, maxLength: 4 }),
  budget: sometimes(fc.integer({ min: 0, max: 2 }), 2),
  strategy: fc.constantFrom<ScoringStrategy>("MostAllocated", "LeastAllocated"),
});
type ScenarioShape = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

interface Scenario {
  nodes: Node[];
  pods: Pod[];
  budgets: PodDisruptionBudget[];
  owned: Set<string>;
  strategy: ScoringStrategy;
  /** min-member of each pending group that has one, by group id. */
  minMember: Map<string, number>;
}

/** Turns a generated shape into API objects; running pods go first-fit from a preferred node. */
function buildScenario(shape: ScenarioShape): Scenario {
  const nodes = shape.nodes.map((n, i) =>
    node(`n${i}`, { cpu: n.cpu, memory: `${n.memoryGi}Gi`, gpus: n.gpus, pods: n.pods }),
  );
  const free = shape.nodes.map((n) => ({
    cpu: n.cpu * 1000,
    memoryMi: n.memoryGi * 1024,
    gpus: n.gpus,
    pods: n.pods,
  }));
  const podOptions = (s: Shape) => ({
    cpu: s.cpu,
    memory: `${s.memoryMi}Mi`,
    ...(s.gpus > 0 ? { gpus: s.gpus } : {}),
  });
  const pods: Pod[] = [];
  const groupName: (string | undefined)[] = [];
  shape.running.forEach((group, g) => {
    const solo = group.solo && group.members.length === 1;
    groupName[g] = solo ? undefined : `rg${g}`;
    group.members.forEach((member, m) => {
      for (let k = 0; k < nodes.length; k++) {
        const index = (member.preferredNode + k) % nodes.length;
        const room = free[index];
        const s = member.shape;
        if (
          !room ||
          room.cpu < s.cpu * 1000 ||
          room.memoryMi < s.memoryMi ||
          room.gpus < s.gpus ||
          room.pods < 1
        ) {
          continue;
        }
        room.cpu -= s.cpu * 1000;
        room.memoryMi -= s.memoryMi;
        room.gpus -= s.gpus;
        room.pods -= 1;
        pods.push(
          pod(`r${g}-${m}`, {
            ...podOptions(s),
            priority: group.priority,
            nodeName: `n${index}`,
            terminating: group.terminating,
            ...(solo ? {} : { group: `rg${g}` }),
            ...(group.guarded ? { labels: { app: "guarded" } } : {}),
          }),
        );
        break;
      }
    });
  });
  const minMember = new Map<string, number>();
  shape.pending.forEach((group, g) => {
    const joined = group.join ? groupName[g] : undefined;
    const name = joined ?? (group.solo && group.members.length === 1 ? undefined : `pg${g}`);
    if (name !== undefined && group.minMember !== undefined)
      minMember.set(`group:default/${name}`, group.minMember);
    group.members.forEach((s, m) => {
      pods.push(
        pod(`p${g}-${m}`, {
          ...podOptions(s),
          priority: m === 0 ? group.priority : Math.max(0, group.priority - group.priorityDrop),
          createdAt: group.createdAt,
          ...(name !== undefined ? { group: name } : {}),
          ...(name !== undefined && group.minMember !== undefined ? { minMember: group.minMember } : {}),
          ...(group.never && m === 0 ? { preemptionPolicy: "Never" as const } : {}),
          ...(group.nominatedNode !== undefined
            ? { nominatedNodeName: `n${group.nominatedNode % nodes.length}` }
            : {}),
        }),
      );
    });
  });
  // Pods joining a running group must carry its min-member too: one parser, one value.
  for (const p of pods) {
    const group = p.metadata.annotations?.["sharded-scheduler.io/pod-group"];
    const wanted = group === undefined ? undefined : minMember.get(`group:default/${group}`);
    if (wanted !== undefined && p.metadata.annotations) {
      p.metadata.annotations["sharded-scheduler.io/min-member"] = String(wanted);
    }
  }
  const owned = new Set(nodes.map((n) => n.metadata.name).filter((_, i) => shape.nodes[i]?.owned));
  const budgets = shape.budget === undefined ? [] : [pdb("guard", { app: "guarded" }, shape.budget)];
  return { nodes, pods, budgets, owned, strategy: shape.strategy, minMember };
}

// --- checks -------------------------------------------------------------------------------

/** Terminating pods of lower-priority groups: preemption counts them as gone. */
function leavingFor(cluster: ClusterState, group: PendingGroup): PodInfo[] {
  const leaving: PodInfo[] = [];
  for (const running of cluster.runningGroups().values()) {
    if (running.id === group.key.id || running.priority >= group.priority) continue;
    leaving.push(...running.pods.filter((p) => p.terminating));
  }
  return leaving;
}

/** Whether the group fits once these pods are gone; the cluster is left as it was. */
function fitsWithout(
  cluster: ClusterState,
  scenario: Scenario,
  group: PendingGroup,
  gone: readonly PodInfo[],
): boolean {
  const statement = new Statement(cluster);
  try {
    for (const p of gone) statement.evict(p);
    const ctx = placementContext(cluster, (name) => scenario.owned.has(name), scenario.strategy);
    return placeGang(ctx, statement, group, false).fits;
  } finally {
    statement.discard();
  }
}

function nominationsOf(cluster: ClusterState, pods: readonly Pod[]): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  for (const p of pods) {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    result[key] = cluster.nominatedPod(key)?.nominatedNodeName;
  }
  return result;
}

function expectNotOvercommitted(cluster: ClusterState): void {
  for (const n of cluster.nodes) {
    const { allocatable: a, requested: r } = n;
    expect(r.milliCpu, `cpu on ${n.name}`).toBeLessThanOrEqual(a.milliCpu);
    expect(r.memory, `memory on ${n.name}`).toBeLessThanOrEqual(a.memory);
    expect(r.pods, `pods on ${n.name}`).toBeLessThanOrEqual(a.pods);
    expect(r.scalar.get(gpu) ?? 0, `gpus on ${n.name}`).toBeLessThanOrEqual(a.scalar.get(gpu) ?? 0);
  }
}

/**
 * The promises of one cycle hold together: once every victim and every terminating pod is gone,
 * the pods bound in the cycle and every pod nominated by it fit on their nodes at once.
 */
function expectPromisesConsistent(cluster: ClusterState, decisions: readonly Decision[]): void {
  const gone = new Map<string, PodInfo>();
  for (const running of cluster.runningGroups().values()) {
    for (const p of running.pods) if (p.terminating) gone.set(p.key, p);
  }
  const usage = new Map(cluster.nodes.map((n) => [n.name, n.requested.clone()]));
  for (const decision of decisions) {
    if (decision.kind !== "preempt") continue;
    for (const victim of decision.plan.victims) for (const p of victim.pods) gone.set(p.key, p);
    for (const { pod: p, nodeName } of decision.plan.nominations) {
      const used = usage.get(nodeName);
      used?.add(p.requests);
      if (used) used.pods += 1;
    }
  }
  for (const p of gone.values()) {
    const used = usage.get(cluster.placementOf(p.key) ?? "");
    used?.subtract(p.requests);
    if (used) used.pods -= 1;
  }
  for (const n of cluster.nodes) {
    const used = usage.get(n.name);
    if (!used) continue;
    const a = n.allocatable;
    expect(used.milliCpu, `promised cpu on ${n.name}`).toBeLessThanOrEqual(a.milliCpu);
    expect(used.memory, `promised memory on ${n.name}`).toBeLessThanOrEqual(a.memory);
    expect(used.pods, `promised pods on ${n.name}`).toBeLessThanOrEqual(a.pods);
    expect(used.scalar.get(gpu) ?? 0, `promised gpus on ${n.name}`).toBeLessThanOrEqual(
      a.scalar.get(gpu) ?? 0,
    );
  }
}

/** A decision without object identity, for comparing two runs. */
function summary(decision: Decision): unknown {
  switch (decision.kind) {
    case "bind":
      return [decision.group.id, "bind", decision.placements.map((p) => [p.pod.key, p.nodeName])];
    case "preempt":
      return [
        decision.group.id,
        "preempt",
        decision.plan.victims.map((v) => v.id),
        decision.plan.nominations.map((p) => [p.pod.key, p.nodeName]),
      ];
    case "unschedulable":
      return [decision.group.id, "unschedulable", decision.message];
  }
}

/**
 * Runs the pending groups one at a time in queue order (what one cycle does) and checks each
 * decision against the cluster as the group saw it. Returns the decisions.
 */
function checkScenario(scenario: Scenario): Decision[] {
  const cluster = snapshotOf(scenario.nodes, scenario.pods, scenario.budgets);
  const config = { ...defaultCoreConfig, scoringStrategy: scenario.strategy };
  const core = new SchedulingCore(cluster, config);
  const ownsNode = (name: string) => scenario.owned.has(name);
  const groups = pendingGroupsOf(scenario.pods).sort(queueOrder);
  const decisions: Decision[] = [];

  for (const group of groups) {
    const requestedBefore = requestedByNode(cluster);
    const nominationsBefore = nominationsOf(cluster, scenario.pods);
    const runningBefore = cluster.runningGroups();
    const leaving = leavingFor(cluster, group);
    const [decision, ...extra] = core.cycle([group], ownsNode);
    expect(extra).toEqual([]);
    if (!decision) throw new Error("no decision");
    expect(decision.group.id).toBe(group.key.id);
    decisions.push(decision);

    const runningMembers = runningBefore.get(group.key.id)?.pods.length ?? 0;
    const minMember = scenario.minMember.get(group.key.id);

    // Members that disagree on priority: the group neither places nor preempts (none lends its own).
    if (group.problem !== undefined) expect(decision.kind).toBe("unschedulable");

    if (decision.kind === "bind") {
      // All or nothing: at least the required members, each once, all on owned nodes.
      const keys = decision.placements.map((p) => p.pod.key);
      expect(new Set(keys).size).toBe(keys.length);
      expect(decision.placements.length).toBeGreaterThanOrEqual(group.required);
      if (minMember !== undefined) {
        expect(decision.placements.length + runningMembers).toBeGreaterThanOrEqual(minMember);
      } else {
        expect(decision.placements.length).toBe(group.members.length);
      }
      for (const p of decision.placements) {
        expect(group.members.map((m) => m.key)).toContain(p.pod.key);
        expect(scenario.owned.has(p.nodeName)).toBe(true);
        expect(cluster.placementOf(p.pod.key)).toBe(p.nodeName);
      }
      continue;
    }

    // Nothing was assumed for a group that did not fit.
    expect(requestedByNode(cluster)).toEqual(requestedBefore);

    if (decision.kind === "unschedulable") {
      // The group gives up the nominations it held (room it cannot use now); nobody else's change.
      const members = new Set(group.members.map((m) => m.key));
      const held = Object.entries(nominationsBefore).filter(([key, node]) => members.has(key) && node);
      expect(decision.withdrawnNominations.map((m) => m.key).sort()).toEqual(held.map(([key]) => key).sort());
      const expected = { ...nominationsBefore };
      for (const [key] of held) expected[key] = undefined;
      expect(nominationsOf(cluster, scenario.pods)).toEqual(expected);
      const attempted = group.mayPreempt && group.members.length >= group.required;
      if (!attempted) continue;
      // Not even evicting every lower-priority group that may be evicted makes it fit.
      const evictable: PodInfo[] = [...leaving];
      for (const running of runningBefore.values()) {
        if (running.id === group.key.id || running.priority >= group.priority) continue;
        for (const unit of victimUnitsOf(running))
          if (!blockedByDisruptionBudget(unit.pods, cluster.podDisruptionBudgets("default")))
            evictable.push(...unit.pods);
      }
      expect(fitsWithout(cluster, scenario, group, evictable)).toBe(false);
      continue;
    }

    // Preemption: whole groups of strictly lower priority, not protected, not already leaving.
    if (decision.kind !== "preempt") throw new Error(`${decision.kind}: deferred only while nodes settle`);
    const { victims, nominations } = decision.plan;
    expect(group.mayPreempt).toBe(true);
    for (const victim of victims) {
      expect(victim.id).not.toBe(group.key.id);
      expect(victim.priority).toBeLessThan(group.priority);
      const whole = runningBefore.get(victim.id);
      expect(whole).toBeDefined();
      const budgets = cluster.podDisruptionBudgets("default");
      if (victim.whole) {
        expect(victim.pods.map((p) => p.key).sort()).toEqual(whole?.pods.map((p) => p.key).sort());
        expect(blockedByDisruptionBudget(victim.pods, budgets)).toBe(false);
      } else {
        // Members of an annotation gang above its min-member: the rest keep it at its minimum.
        const staying = (whole?.pods ?? []).filter((p) => !p.terminating);
        const kept = staying.filter((p) => !victim.pods.includes(p)).length;
        expect(kept).toBeGreaterThanOrEqual(staying[0]?.minMember ?? staying.length);
        for (const pod of victim.pods) expect(blockedByDisruptionBudget([pod], budgets)).toBe(false);
      }
      expect(victim.pods.every((p) => p.terminating)).toBe(false);
    }
    expect(new Set(victims.map((v) => v.id)).size).toBe(victims.length);
    // Nominations: every required member gets an owned node.
    expect(nominations.length).toBeGreaterThanOrEqual(group.required);
    for (const n of nominations) expect(scenario.owned.has(n.nodeName)).toBe(true);

    const victimPods = (list: readonly Victim[]) => list.flatMap((v) => v.pods);
    // Once the victims (and earlier victims still leaving) are gone, the whole group fits …
    expect(fitsWithout(cluster, scenario, group, [...leaving, ...victimPods(victims)])).toBe(true);
    // … and it would not with any one victim spared.
    for (const spared of victims) {
      const others = victims.filter((v) => v !== spared);
      expect(fitsWithout(cluster, scenario, group, [...leaving, ...victimPods(others)])).toBe(false);
    }
  }
  expectNotOvercommitted(cluster);
  expectPromisesConsistent(cluster, decisions);
  return decisions;
}

// --- properties ---------------------------------------------------------------------------

// About 1 s each alone; a machine busy with other suites needs several times that.
describe("scheduling cycle properties", { timeout: 30_000 }, () => {
  it("keeps gangs whole, nodes within capacity, preemption minimal and promises consistent", () => {
    fc.assert(
      fc.property(scenarioArb, (shape) => {
        checkScenario(buildScenario(shape));
      }),
      { numRuns: 200 },
    );
  });

  it("decides the same in one cycle as group by group", () => {
    fc.assert(
      fc.property(scenarioArb, (shape) => {
        const scenario = buildScenario(shape);
        const oneByOne = checkScenario(scenario).map(summary);
        const cluster = snapshotOf(scenario.nodes, scenario.pods, scenario.budgets);
        const core = new SchedulingCore(cluster, {
          ...defaultCoreConfig,
          scoringStrategy: scenario.strategy,
        });
        const together = core.cycle(pendingGroupsOf(scenario.pods), (name) => scenario.owned.has(name));
        expect(together.map(summary)).toEqual(oneByOne);
      }),
      { numRuns: 100 },
    );
  });

  it("leaves the cluster as it was after a failed placement", () => {
    fc.assert(
      fc.property(scenarioArb, (shape) => {
        const scenario = buildScenario(shape);
        const cluster = snapshotOf(scenario.nodes, scenario.pods, scenario.budgets);
        const ctx = placementContext(cluster, (name) => scenario.owned.has(name), scenario.strategy);
        for (const group of pendingGroupsOf(scenario.pods).sort(queueOrder)) {
          const requested = requestedByNode(cluster);
          const nominated = nominationsOf(cluster, scenario.pods);
          const statement = new Statement(cluster);
          const result = placeGang(ctx, statement, group);
          if (result.fits) {
            expect(result.placements.length).toBeGreaterThanOrEqual(group.required);
            statement.commit();
          } else {
            expect(requestedByNode(cluster)).toEqual(requested);
            expect(nominationsOf(cluster, scenario.pods)).toEqual(nominated);
          }
        }
        expectNotOvercommitted(cluster);
      }),
      { numRuns: 200 },
    );
  });
});
