/**
 * Preemption by the victim group's disruption mode: a PodGroup that says `all` goes whole, one
 * that says `single` loses members one by one, and an annotation gang above its min-member loses
 * surplus members before it is taken whole — never a part that leaves it below its minimum.
 */
import { describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { ClusterState } from "../../src/core/cluster-state.js";
import { type Decision, defaultCoreConfig, SchedulingCore } from "../../src/core/cycle.js";
import { pendingGroup, podGroupSource } from "../../src/core/gang/index.js";
import { decisionFor, gang, node, ownsAll, pdb, pendingGroupsOf, pod } from "./fixtures.js";

/** A scheduling.k8s.io/v1beta1 PodGroup with gang minCount and a disruption mode. */
function podGroup(name: string, minCount: number, mode: "single" | "all", priority = 1) {
  return {
    apiVersion: "scheduling.k8s.io/v1beta1",
    kind: "PodGroup",
    metadata: { name, namespace: "default", uid: `pg-${name}` },
    spec: {
      schedulingPolicy: { gang: { minCount } },
      disruptionMode: { [mode]: {} },
      priority,
    },
  };
}

/** size running members <name>-0… of PodGroup <name>, one per node n<first>…. */
function nativeMembers(name: string, size: number, first = 1): Pod[] {
  return Array.from({ length: size }, (_, i) => {
    const base = pod(`${name}-${i}`, { priority: 1, nodeName: `n${first + i}` });
    return { ...base, spec: { ...base.spec, schedulingGroup: { podGroupName: name } } };
  });
}

/** n one-slot nodes n1…nN. */
const slots = (n: number) => Array.from({ length: n }, (_, i) => node(`n${i + 1}`, { cpu: 1 }));

/** Runs one cycle: running pods read with their PodGroups, the pending ones as the queue groups them. */
function cycle(
  nodes: number,
  running: readonly Pod[],
  pending: readonly Pod[],
  groups: unknown[] = [],
  budgets: Parameters<ClusterState["upsertPodDisruptionBudget"]>[0][] = [],
) {
  const byName = new Map(groups.map((g) => [(g as { metadata: { name: string } }).metadata.name, g]));
  const objects = { podGroup: (_ns: string, name: string) => byName.get(name) };
  const cluster = new ClusterState();
  for (const n of slots(nodes)) cluster.upsertNode(n);
  for (const p of running) cluster.upsertPod(toPodInfo(p, podGroupSource, objects));
  for (const b of budgets) cluster.upsertPodDisruptionBudget(b);
  const core = new SchedulingCore(cluster, defaultCoreConfig);
  return core.cycle(pendingGroupsOf(pending), ownsAll);
}

function plan(decision: Decision) {
  if (decision.kind !== "preempt") throw new Error(`expected preempt, got ${decision.kind}`);
  return decision.plan;
}

const victimNames = (decision: Decision) =>
  plan(decision)
    .victims.flatMap((v) => v.pods.map((p) => p.name))
    .sort();

describe("preemption by disruption mode", () => {
  it("Volcano's case: a gang of 8 with min-member 1 loses only the 4 members a preemptor of 4 needs", () => {
    // Volcano's gang e2e: at least 4 of 8 must survive. Before disruption modes all 8 went.
    const running = gang("job", 8, { priority: 1, minMember: 1 }).map((p, i) => ({
      ...p,
      spec: { ...p.spec, nodeName: `n${i + 1}` },
      status: { phase: "Running" },
    }));
    const decisions = cycle(8, running, gang("high", 4, { priority: 100 }));
    const decision = decisionFor(decisions, "high");
    expect(victimNames(decision)).toHaveLength(4);
    // The member kept longest is the first by name: job-0 (often the leader) stays.
    expect(victimNames(decision)).not.toContain("job-0");
    expect(plan(decision).victims).toEqual([
      expect.objectContaining({ id: "group:default/job", whole: false }),
    ]);
  });

  it("takes an annotation gang whole once its surplus is not enough, never leaving it below min-member", () => {
    // 4 members, min-member 3: one surplus member; a preemptor of 2 needs the whole gang.
    const running = gang("job", 4, { priority: 1, minMember: 3 }).map((p, i) => ({
      ...p,
      spec: { ...p.spec, nodeName: `n${i + 1}` },
    }));
    const one = decisionFor(cycle(4, running, [pod("high", { priority: 100 })]), "high");
    expect(victimNames(one)).toEqual(["job-3"]);
    const two = decisionFor(cycle(4, running, gang("high", 2, { priority: 100 })), "high");
    expect(victimNames(two)).toEqual(["job-0", "job-1", "job-2", "job-3"]);
    expect(plan(two).victims).toEqual([expect.objectContaining({ whole: true })]);
  });

  it("evicts a PodGroup with disruptionMode single member by member, one with all whole", () => {
    const single = decisionFor(
      cycle(2, nativeMembers("pg", 2), [pod("high", { priority: 100 })], [podGroup("pg", 1, "single")]),
      "high",
    );
    expect(victimNames(single)).toEqual(["pg-1"]);
    expect(plan(single).victims).toEqual([
      expect.objectContaining({ id: "podgroup:default/pg", whole: false }),
    ]);

    const all = decisionFor(
      cycle(2, nativeMembers("pg", 2), [pod("high", { priority: 100 })], [podGroup("pg", 1, "all")]),
      "high",
    );
    expect(victimNames(all)).toEqual(["pg-0", "pg-1"]);
    expect(plan(all).victims).toEqual([expect.objectContaining({ whole: true })]);
  });

  it("a single PodGroup at its minimum still loses only one member (its mode allows it)", () => {
    const decision = decisionFor(
      cycle(2, nativeMembers("pg", 2), [pod("high", { priority: 100 })], [podGroup("pg", 2, "single")]),
      "high",
    );
    expect(victimNames(decision)).toHaveLength(1);
  });

  it("takes a single group's surplus members before one that keeps another group at its minimum", () => {
    // a: 2 members, minCount 2 (no surplus); b: 2 members, minCount 1 (one surplus). Same priority.
    const running = [...nativeMembers("a", 2, 1), ...nativeMembers("b", 2, 3)];
    const groups = [podGroup("a", 2, "single"), podGroup("b", 1, "single")];
    const decision = decisionFor(cycle(4, running, [pod("high", { priority: 100 })], groups), "high");
    expect(victimNames(decision)).toEqual(["b-1"]);
  });

  it("still prefers lower priority over keeping a group at its minimum", () => {
    const running = [...nativeMembers("a", 2, 1), ...nativeMembers("b", 2, 3)];
    const groups = [podGroup("a", 2, "single", 1), podGroup("b", 1, "single", 5)];
    const decision = decisionFor(cycle(4, running, [pod("high", { priority: 100 })], groups), "high");
    expect(victimNames(decision)).toHaveLength(1);
    expect(victimNames(decision)[0]).toMatch(/^a-/);
  });

  it("prefers one member of a single group to a whole all group of the same priority (fewest victims)", () => {
    const running = [...nativeMembers("whole", 2, 1), ...nativeMembers("each", 2, 3)];
    const groups = [podGroup("whole", 2, "all"), podGroup("each", 2, "single")];
    const decision = decisionFor(cycle(4, running, [pod("high", { priority: 100 })], groups), "high");
    expect(victimNames(decision)).toHaveLength(1);
    expect(victimNames(decision)[0]).toMatch(/^each-/);
  });

  it("takes members of one group only as many as its budget allows together", () => {
    const running = nativeMembers("pg", 3).map((p) => ({
      ...p,
      metadata: { ...p.metadata, labels: { app: "pg" } },
    }));
    const groups = [podGroup("pg", 1, "single")];
    const budgets = [pdb("pg", { app: "pg" }, 1)];
    const one = decisionFor(cycle(3, running, [pod("high", { priority: 100 })], groups, budgets), "high");
    expect(victimNames(one)).toHaveLength(1);
    // Two members each allowed alone, not together: nothing is evicted.
    const two = cycle(3, running, gang("high", 2, { priority: 100 }), groups, budgets);
    expect(decisionFor(two, "high").kind).toBe("unschedulable");
  });

  it("is deterministic: the same cluster gives the same victims", () => {
    const running = nativeMembers("pg", 6);
    const groups = [podGroup("pg", 2, "single")];
    const first = victimNames(
      decisionFor(cycle(6, running, gang("high", 3, { priority: 100 }), groups), "high"),
    );
    const again = victimNames(
      decisionFor(cycle(6, running, gang("high", 3, { priority: 100 }), groups), "high"),
    );
    expect(first).toEqual(again);
    // Surplus first: the 4 above minCount 2 are the candidates; pg-0 and pg-1 stay.
    expect(first).toHaveLength(3);
    expect(first).not.toContain("pg-0");
    expect(first).not.toContain("pg-1");
  });
});

describe("room won by preemption, against the victims' own PodGroup", () => {
  it("is not taken by the victim PodGroup's recreated members, whatever priority the pods themselves claim", () => {
    // high won n1 (its victims are gone); the victims' controller recreated them, pending. Their
    // PodGroup says priority 1; the pods say 1000 (a tenant's own priority class): the PodGroup's counts.
    const groups = [podGroup("pg", 2, "all", 1)];
    const byName = new Map(groups.map((g) => [g.metadata.name, g]));
    const objects = { podGroup: (_ns: string, name: string) => byName.get(name) };
    const cluster = new ClusterState();
    // n1 has two slots, one of them won by high; n2's one slot is taken.
    cluster.upsertNode(node("n1", { cpu: 2 }));
    cluster.upsertNode(node("n2", { cpu: 1 }));
    cluster.upsertPod(toPodInfo(pod("high", { priority: 100, nominatedNodeName: "n1" })));
    cluster.upsertPod(toPodInfo(pod("other", { priority: 1, nodeName: "n2" })));
    const recreated = Array.from({ length: 2 }, (_, i) => {
      const base = pod(`pg-new-${i}`, { priority: 1000 });
      return { ...base, spec: { ...base.spec, schedulingGroup: { podGroupName: "pg" } } };
    });
    const core = new SchedulingCore(cluster, defaultCoreConfig);
    const members = recreated.map((p) => toPodInfo(p, podGroupSource, objects));
    expect(members.map((m) => m.priority)).toEqual([1, 1]);
    const first = members[0] as (typeof members)[number];
    const [decision] = core.cycle([pendingGroup(first.group, members, [], 2)], ownsAll);
    expect(decision?.kind).toBe("unschedulable");
    expect(cluster.placementOf("default/pg-new-0")).toBeUndefined();
  });
});
