import { describe, expect, it } from "vitest";
import { lentForAnnotation } from "../../src/contracts/keys.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { type Decision, defaultCoreConfig, SchedulingCore } from "../../src/core/cycle.js";
import { heldFor } from "../../src/core/plugins/index.js";
import { planGangPreemption } from "../../src/core/preemption.js";
import { Statement } from "../../src/core/statement.js";
import {
  decisionFor,
  gang,
  gpu,
  node,
  onlyPendingGroup,
  ownsAll,
  pdb,
  pendingGroupsOf,
  placementContext,
  pod,
  requestedByNode,
  runCycle,
  snapshotOf,
  threeSingleSlotNodes,
} from "./fixtures.js";

/** One low-priority solo pod on each node: low-1 (priority 1) on n1, low-2 on n2, low-3 on n3. */
const lowPodsOnEachNode = (options: Parameters<typeof pod>[1] = {}) =>
  [1, 2, 3].map((i) => pod(`low-${i}`, { priority: i, nodeName: `n${i}`, ...options }));

function preemption(decision: Decision) {
  if (decision.kind !== "preempt") {
    throw new Error(`expected a preempt decision, got ${decision.kind}: ${JSON.stringify(decision)}`);
  }
  return decision.plan;
}

/** Names of every pod the plan evicts, sorted. */
function victimPods(decision: Decision): string[] {
  return preemption(decision)
    .victims.flatMap((v) => v.pods.map((p) => p.name))
    .sort();
}

function nominations(decision: Decision): Record<string, string> {
  return Object.fromEntries(preemption(decision).nominations.map((p) => [p.pod.name, p.nodeName]));
}

function unschedulableMessage(decision: Decision): string {
  if (decision.kind !== "unschedulable") throw new Error(`expected unschedulable, got ${decision.kind}`);
  return decision.message;
}

describe("gang preemption", () => {
  it("places high-priority pods before low ones that arrive in the same cycle", () => {
    const pods = [
      pod("low-a", { priority: 1, createdAt: 0 }),
      pod("low-b", { priority: 1, createdAt: 1 }),
      pod("low-c", { priority: 1, createdAt: 2 }),
      pod("high", { priority: 100, createdAt: 3 }),
    ];
    const { decisions } = runCycle(threeSingleSlotNodes(), pods);
    expect(decisions.map((d) => [d.group.name, d.kind])).toEqual([
      ["high", "bind"],
      ["low-a", "bind"],
      ["low-b", "bind"],
      // Everything running now has the same or a higher priority: nothing to preempt.
      ["low-c", "unschedulable"],
    ]);
    expect(unschedulableMessage(decisionFor(decisions, "low-c"))).toBe(
      "0/3 nodes are available: 3 Insufficient cpu. " +
        "preemption: no set of lower-priority groups whose eviction makes the group fit.",
    );
  });

  it("lets a high-priority solo pod evict the lowest-priority pod", () => {
    const { decisions, cluster } = runCycle(threeSingleSlotNodes(), [
      ...lowPodsOnEachNode(),
      pod("high", { priority: 100 }),
    ]);
    const decision = decisionFor(decisions, "high");
    expect(victimPods(decision)).toEqual(["low-1"]);
    expect(nominations(decision)).toEqual({ high: "n1" });
    if (decision.kind === "preempt")
      expect(decision.message).toBe("0/3 nodes are available: 3 Insufficient cpu.");
    // Nothing is assumed for a preemptor: the victims still run.
    expect(cluster.placementOf("default/high")).toBeUndefined();
    expect(cluster.placementOf("default/low-1")).toBe("n1");
  });

  it("gives high-priority solo pods in one cycle distinct victims and distinct nodes", () => {
    const { decisions } = runCycle(threeSingleSlotNodes(), [
      ...lowPodsOnEachNode(),
      pod("high-a", { priority: 100, createdAt: 0 }),
      pod("high-b", { priority: 100, createdAt: 1 }),
    ]);
    expect(victimPods(decisionFor(decisions, "high-a"))).toEqual(["low-1"]);
    expect(victimPods(decisionFor(decisions, "high-b"))).toEqual(["low-2"]);
    expect(nominations(decisionFor(decisions, "high-a"))).toEqual({ "high-a": "n1" });
    expect(nominations(decisionFor(decisions, "high-b"))).toEqual({ "high-b": "n2" });
  });

  it("lets a high-priority gang of 2 evict exactly the two lowest-priority pods", () => {
    const { decisions } = runCycle(threeSingleSlotNodes(), [
      ...lowPodsOnEachNode(),
      ...gang("g", 2, { priority: 100 }),
    ]);
    const decision = decisionFor(decisions, "g");
    expect(victimPods(decision)).toEqual(["low-1", "low-2"]);
    expect(preemption(decision).victims).toHaveLength(2);
    expect(Object.values(nominations(decision)).sort()).toEqual(["n1", "n2"]);
    expect(Object.keys(nominations(decision)).sort()).toEqual(["g-0", "g-1"]);
  });

  it("evicts nothing for a gang of 4 that cannot fit in 3 nodes, and says why", () => {
    const pods = [...lowPodsOnEachNode(), ...gang("g", 4, { priority: 100 })];
    const { decisions, cluster } = runCycle(threeSingleSlotNodes(), pods);
    const decision = decisionFor(decisions, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(unschedulableMessage(decision)).toBe(
      "pod group default/g cannot be placed as a whole (4 of 4 pending pods must start together; " +
        "only 0 fit); for pod g-0: 0/3 nodes are available: 3 Insufficient cpu. " +
        "preemption: no set of lower-priority groups whose eviction makes the group fit.",
    );
    for (const low of ["low-1", "low-2", "low-3"]) {
      expect(cluster.placementOf(`default/${low}`)).toBeDefined();
    }
  });

  it("evicts nothing when only part of the gang could be made to fit", () => {
    const running = [
      pod("low-1", { priority: 1, nodeName: "n1" }),
      pod("low-2", { priority: 1, nodeName: "n2" }),
      pod("peer", { priority: 100, nodeName: "n3" }),
    ];
    const { decisions } = runCycle(threeSingleSlotNodes(), [...running, ...gang("g", 3, { priority: 100 })]);
    expect(decisionFor(decisions, "g").kind).toBe("unschedulable");
  });

  it("never evicts a group of equal priority", () => {
    const running = lowPodsOnEachNode({ priority: 100 });
    const { decisions } = runCycle(threeSingleSlotNodes(), [...running, pod("high", { priority: 100 })]);
    expect(unschedulableMessage(decisionFor(decisions, "high"))).toContain(
      "preemption: no set of lower-priority groups whose eviction makes the group fit",
    );
  });

  it("skips a group protected by a PodDisruptionBudget", () => {
    const running = [
      pod("low-1", { priority: 1, nodeName: "n1", labels: { app: "guarded" } }),
      ...lowPodsOnEachNode().slice(1),
    ];
    const pods = [...running, pod("high", { priority: 100 })];
    const budgets = [pdb("guard", { app: "guarded" }, 0)];
    const { decisions } = runCycle(threeSingleSlotNodes(), pods, { budgets });
    expect(victimPods(decisionFor(decisions, "high"))).toEqual(["low-2"]);
  });

  it("reports budget-protected groups when they are all that could be evicted", () => {
    const running = lowPodsOnEachNode({ labels: { app: "guarded" } });
    const pods = [...running, pod("high", { priority: 100 })];
    const { decisions } = runCycle(threeSingleSlotNodes(), pods, {
      budgets: [pdb("guard", { app: "guarded" }, 2)],
    });
    // Each solo group has one covered pod and the budget allows 2 disruptions: not protected.
    expect(victimPods(decisionFor(decisions, "high"))).toEqual(["low-1"]);

    const { decisions: blocked } = runCycle(threeSingleSlotNodes(), pods, {
      budgets: [pdb("guard", { app: "guarded" }, 0)],
    });
    expect(unschedulableMessage(decisionFor(blocked, "high"))).toContain(
      "3 lower-priority group(s) protected by a PodDisruptionBudget",
    );
  });

  it("protects a gang when its budget allows fewer disruptions than the pods it covers", () => {
    const running = [
      pod("v-0", { group: "v", priority: 1, nodeName: "n1", labels: { app: "v" } }),
      pod("v-1", { group: "v", priority: 1, nodeName: "n2", labels: { app: "v" } }),
      pod("other", { priority: 5, nodeName: "n3" }),
    ];
    const pods = [...running, pod("high", { priority: 100 })];
    const allowsOne = runCycle(threeSingleSlotNodes(), pods, { budgets: [pdb("b", { app: "v" }, 1)] });
    expect(victimPods(decisionFor(allowsOne.decisions, "high"))).toEqual(["other"]);
    const allowsTwo = runCycle(threeSingleSlotNodes(), pods, { budgets: [pdb("b", { app: "v" }, 2)] });
    expect(victimPods(decisionFor(allowsTwo.decisions, "high"))).toEqual(["v-0", "v-1"]);
    // A budget in another namespace does not protect it.
    const elsewhere = runCycle(threeSingleSlotNodes(), pods, {
      budgets: [pdb("b", { app: "v" }, 0, "other-namespace")],
    });
    expect(victimPods(decisionFor(elsewhere.decisions, "high"))).toEqual(["v-0", "v-1"]);
  });

  it("does not preempt for a group with a member whose preemptionPolicy is Never", () => {
    const pods = [
      ...lowPodsOnEachNode(),
      pod("g-0", { group: "g", priority: 100 }),
      pod("g-1", { group: "g", priority: 100, preemptionPolicy: "Never" }),
    ];
    const { decisions } = runCycle(threeSingleSlotNodes(), pods);
    const message = unschedulableMessage(decisionFor(decisions, "g"));
    expect(message).toContain("cannot be placed as a whole");
    expect(message).toContain("preemption: not attempted, a member has preemptionPolicy: Never.");
  });

  it("evicts nothing more while earlier victims are still terminating", () => {
    const running = [
      pod("low-1", { priority: 1, nodeName: "n1", terminating: true }),
      ...lowPodsOnEachNode().slice(1),
    ];
    const pods = [...running, pod("high", { priority: 100, nominatedNodeName: "n1" })];
    const { decisions, cluster } = runCycle(threeSingleSlotNodes(), pods);
    const decision = decisionFor(decisions, "high");
    expect(preemption(decision).victims).toEqual([]);
    expect(nominations(decision)).toEqual({ high: "n1" });
    // The terminating pod still occupies its node until it is gone.
    expect(cluster.node("n1")?.requested.milliCpu).toBe(1000);
  });

  it("does not count terminating pods of a higher-priority group as leaving for it", () => {
    const running = lowPodsOnEachNode({ priority: 500, terminating: true });
    const { decisions } = runCycle(threeSingleSlotNodes(), [...running, pod("high", { priority: 100 })]);
    expect(decisionFor(decisions, "high").kind).toBe("unschedulable");
  });

  it("evicts a victim gang entirely, wherever its pods run", () => {
    const nodes = [...threeSingleSlotNodes(), node("elsewhere", { cpu: 1 })];
    const running = [
      pod("v-0", { group: "v", priority: 1, nodeName: "n1" }),
      pod("v-1", { group: "v", priority: 1, nodeName: "elsewhere" }),
      pod("mid-2", { priority: 5, nodeName: "n2" }),
      pod("mid-3", { priority: 5, nodeName: "n3" }),
    ];
    const { decisions } = runCycle(nodes, [...running, pod("high", { priority: 100 })], {
      ownsNode: (name) => name !== "elsewhere",
    });
    const decision = decisionFor(decisions, "high");
    expect(preemption(decision).victims.map((v) => v.id)).toEqual(["group:default/v"]);
    expect(victimPods(decision)).toEqual(["v-0", "v-1"]);
    expect(nominations(decision)).toEqual({ high: "n1" });
  });

  it("never evicts a group whose pods all run on nodes of other shards", () => {
    const running = [
      pod("foreign", { priority: 1, nodeName: "n1" }),
      pod("mine-2", { priority: 5, nodeName: "n2" }),
      pod("mine-3", { priority: 5, nodeName: "n3" }),
    ];
    const { decisions } = runCycle(threeSingleSlotNodes(), [...running, pod("high", { priority: 100 })], {
      ownsNode: (name) => name !== "n1",
    });
    expect(victimPods(decisionFor(decisions, "high"))).toEqual(["mine-2"]);
  });

  it("prefers the lowest priority, then the group with the fewest pods", () => {
    const running = [
      pod("pair-0", { group: "pair", priority: 1, nodeName: "n1" }),
      pod("pair-1", { group: "pair", priority: 1, nodeName: "n2" }),
      pod("single", { priority: 1, nodeName: "n3" }),
    ];
    const { decisions } = runCycle(threeSingleSlotNodes(), [...running, pod("high", { priority: 100 })]);
    expect(victimPods(decisionFor(decisions, "high"))).toEqual(["single"]);

    const cheaperPair = running.map((p) => {
      if (p.metadata.name === "single") p.spec.priority = 2;
      return p;
    });
    const { decisions: second } = runCycle(threeSingleSlotNodes(), [
      ...cheaperPair,
      pod("high", { priority: 100 }),
    ]);
    expect(victimPods(decisionFor(second, "high"))).toEqual(["pair-0", "pair-1"]);
  });

  it("gives back victims the group can do without (minimal plan)", () => {
    // low-1 goes first (lowest priority) but frees only 1 cpu; high needs the 2-cpu node.
    const nodes = [node("n1", { cpu: 1 }), node("n2", { cpu: 2 })];
    const running = [
      pod("low-1", { priority: 1, cpu: 1, nodeName: "n1" }),
      pod("low-2", { priority: 2, cpu: 2, nodeName: "n2" }),
    ];
    const { decisions } = runCycle(nodes, [...running, pod("high", { priority: 100, cpu: 2 })]);
    const decision = decisionFor(decisions, "high");
    expect(victimPods(decision)).toEqual(["low-2"]);
    expect(nominations(decision)).toEqual({ high: "n2" });
  });

  it("spares every victim it can, even when sparing one makes another unnecessary", () => {
    const nodes = [
      node("n0", { cpu: 1, memory: "2Gi", pods: 2 }),
      node("n1", { cpu: 2, memory: "8Gi" }),
      node("n2", { cpu: 2, memory: "2Gi", pods: 2 }),
    ];
    const running = [
      pod("a", { priority: 1, cpu: 0.5, memory: "512Mi", nodeName: "n0" }),
      pod("b", { priority: 0, cpu: 0.5, memory: "2Gi", nodeName: "n1" }),
      pod("c", { priority: 0, cpu: 2, memory: "512Mi", nodeName: "n2" }),
    ];
    const pending = [
      pod("g-0", { group: "g", priority: 2, cpu: 1, memory: "512Mi" }),
      pod("g-1", { group: "g", priority: 2, cpu: 2, memory: "512Mi" }),
      pod("g-2", { group: "g", priority: 2, cpu: 0.5, memory: "2Gi" }),
    ];
    // Greedy takes b, c, then a; giving back b makes a unnecessary too.
    const { decisions } = runCycle(nodes, [...running, ...pending], {
      config: { scoringStrategy: "LeastAllocated" },
    });
    expect(victimPods(decisionFor(decisions, "g"))).toEqual(["c"]);
  });

  it("preempts for the members a min-member gang needs, not its other members", () => {
    // min-member 1: the cpu-only member is enough, even though the GPU member can never fit.
    const nodes = [node("n1", { cpu: 1 })];
    const pods = [
      pod("low", { priority: 1, cpu: 1, nodeName: "n1" }),
      pod("g-big", { group: "g", minMember: 1, priority: 100, cpu: 1 }),
      pod("g-gpu", { group: "g", minMember: 1, priority: 100, cpu: 0.5, gpus: 1 }),
    ];
    const { decisions } = runCycle(nodes, pods);
    const decision = decisionFor(decisions, "g");
    expect(victimPods(decision)).toEqual(["low"]);
    expect(nominations(decision)).toEqual({ "g-big": "n1" });
  });

  it("finds victims next to a node that is already overcommitted", () => {
    // n1 carries more than it has (e.g. allocatable shrank); its free room is none, not negative.
    const nodes = [node("n1", { cpu: 1 }), node("n2", { cpu: 1 })];
    const pods = [
      pod("system", { priority: 1000, cpu: 2, nodeName: "n1" }),
      pod("low", { priority: 1, cpu: 1, nodeName: "n2" }),
      pod("high", { priority: 100, cpu: 1 }),
    ];
    const { decisions } = runCycle(nodes, pods);
    expect(victimPods(decisionFor(decisions, "high"))).toEqual(["low"]);
  });

  it("evicts a GPU job for a GPU preemptor and gives back the cpu job it tried first", () => {
    const nodes = [node("gpu-1", { cpu: 8, gpus: 2 }), node("gpu-2", { cpu: 8, gpus: 2 })];
    const pods = [
      pod("cpu-job", { priority: 1, cpu: 4, nodeName: "gpu-1" }),
      pod("gpu-job-a", { priority: 2, cpu: 1, gpus: 2, nodeName: "gpu-1" }),
      pod("gpu-job-b", { priority: 3, cpu: 1, gpus: 2, nodeName: "gpu-2" }),
      pod("high", { priority: 100, cpu: 1, gpus: 2 }),
    ];
    const { decisions } = runCycle(nodes, pods);
    const decision = decisionFor(decisions, "high");
    expect(victimPods(decision)).toEqual(["gpu-job-a"]);
    expect(nominations(decision)).toEqual({ high: "gpu-1" });
    expect(decision.kind === "preempt" && decision.message).toBe(
      `0/2 nodes are available: 2 Insufficient ${gpu}.`,
    );
  });

  it("leaves the cluster exactly as it was after planning", () => {
    const pods = [...lowPodsOnEachNode(), ...gang("g", 2, { priority: 100 })];
    const cluster = snapshotOf(threeSingleSlotNodes(), pods);
    const before = requestedByNode(cluster);
    const result = planGangPreemption(placementContext(cluster), onlyPendingGroup(pods));
    expect(result.preempts).toBe(true);
    expect(requestedByNode(cluster)).toEqual(before);
  });

  // A node the coordinator lent for group x, where x runs: the hold ended when x arrived, and a
  // higher-priority group may take the node from x as from anyone (it is then nominated there,
  // which passes the hold that comes back once x is gone).
  describe("on a node lent for a group", () => {
    const lentFor = (n: ReturnType<typeof node>, group: string) => ({
      ...n,
      metadata: { ...n.metadata, annotations: { [lentForAnnotation]: `group:default/${group}` } },
    });

    it("evicts the group the node was lent for when it is the cheapest victim", () => {
      const pods = [
        ...gang("x", 2, { priority: 10, nodeName: "n1" }),
        ...gang("z", 2, { priority: 500, nodeName: "n2" }),
        ...gang("g", 2, { priority: 1000 }),
      ];
      const { decisions } = runCycle([lentFor(node("n1", { cpu: 2 }), "x"), node("n2", { cpu: 2 })], pods);
      const decision = decisionFor(decisions, "g");
      expect(victimPods(decision)).toEqual(["x-0", "x-1"]);
      expect(nominations(decision)).toEqual({ "g-0": "n1", "g-1": "n1" });
    });

    it("evicts the group the node was lent for when that node is the only one", () => {
      const pods = [
        ...gang("x", 2, { priority: 10, nodeName: "n1" }),
        pod("high", { priority: 1000, cpu: 2 }),
      ];
      const { decisions, cluster } = runCycle([lentFor(node("n1", { cpu: 2 }), "x")], pods);
      expect(victimPods(decisionFor(decisions, "high"))).toEqual(["x-0", "x-1"]);
      // The simulation left nothing behind: the hold stands for everyone else again.
      const held = cluster.node("n1");
      expect(held && heldFor(held, cluster)).toBeUndefined();
    });

    it("keeps the hold open through a simulated eviction of the group, not through its leaving", () => {
      const cluster = snapshotOf([lentFor(node("n1"), "x")], gang("x", 1, { nodeName: "n1" }));
      const n1 = cluster.node("n1");
      const x0 = cluster.placedPod("default/x-0");
      if (n1 === undefined || x0 === undefined) throw new Error("fixture");
      const trial = new Statement(cluster);
      trial.evict(x0);
      expect(heldFor(n1, cluster)).toBeUndefined();
      trial.discard();
      expect(heldFor(n1, cluster)).toBeUndefined();
      cluster.removePod(x0.key);
      expect(heldFor(n1, cluster)).toBe("group:default/x");
    });

    it("does not free a node held for a group that has not arrived by evicting others there", () => {
      const pods = [
        ...gang("w", 2, { priority: 10, nodeName: "n1" }),
        ...gang("z", 2, { priority: 500, nodeName: "n2" }),
        ...gang("g", 2, { priority: 1000 }),
      ];
      const { decisions } = runCycle([lentFor(node("n1", { cpu: 2 }), "x"), node("n2", { cpu: 2 })], pods);
      expect(victimPods(decisionFor(decisions, "g"))).toEqual(["z-0", "z-1"]);
    });
  });

  it("does not preempt when preemption is turned off", () => {
    const { decisions } = runCycle(
      threeSingleSlotNodes(),
      [...lowPodsOnEachNode(), pod("high", { priority: 100 })],
      {
        config: { preemption: false },
      },
    );
    expect(unschedulableMessage(decisionFor(decisions, "high"))).toContain(
      "preemption: disabled by configuration.",
    );
  });
});

describe("nominations", () => {
  it("keep the preemptor's nodes from lower-priority groups later in the same cycle", () => {
    const nodes = [node("n1", { cpu: 1 }), node("n2", { cpu: 1 })];
    const pods = [
      pod("low", { priority: 1, nodeName: "n2" }),
      ...gang("g", 2, { priority: 100 }),
      pod("mid", { priority: 50 }),
    ];
    const { decisions, cluster } = runCycle(nodes, pods);
    expect(decisions.map((d) => [d.group.name, d.kind])).toEqual([
      ["g", "preempt"],
      ["mid", "unschedulable"],
    ]);
    expect(victimPods(decisionFor(decisions, "g"))).toEqual(["low"]);
    expect(cluster.node("n1")?.requested.milliCpu).toBe(0);
  });

  it("are not made for a gang whose members disagree on priority: its room stays free", () => {
    // Valid, g would reserve n1's two slots against mid; invalid, it reserves nothing and mid fits.
    const nodes = [node("n1", { cpu: 4, pods: 2 })];
    const pods = [
      pod("old", { priority: 0, nodeName: "n1", terminating: true }),
      pod("g-0", { group: "g", priority: 10 }),
      pod("g-1", { group: "g", priority: 0 }),
      pod("mid", { priority: 5 }),
    ];
    const { decisions, cluster } = runCycle(nodes, pods);
    expect(unschedulableMessage(decisionFor(decisions, "g"))).toContain("disagree on priority (0, 10)");
    expect(cluster.hasNominations("n1")).toBe(false);
    expect(decisionFor(decisions, "mid").kind).toBe("bind");
  });

  it("reserve room in later cycles against lower and equal priority, and the preemptor takes it", () => {
    const nodes = threeSingleSlotNodes();
    // The victim is gone; the preemptor's pod carries its nomination.
    const running = [
      pod("low-2", { priority: 2, nodeName: "n2" }),
      pod("low-3", { priority: 3, nodeName: "n3" }),
    ];
    const preemptor = pod("high", { priority: 100, nominatedNodeName: "n1", createdAt: 10 });
    const cluster = snapshotOf(nodes, [...running, preemptor]);
    const core = new SchedulingCore(cluster, defaultCoreConfig);

    // An equal-priority pod that is older (so it goes first) still may not take n1.
    const rival = pod("rival", { priority: 100, createdAt: 0 });
    const rivalDecision = core.cycle(pendingGroupsOf([rival]), ownsAll)[0];
    expect(rivalDecision?.kind).toBe("preempt");
    if (rivalDecision?.kind === "preempt") {
      expect(rivalDecision.plan.nominations.map((n) => n.nodeName)).not.toContain("n1");
    }

    const [decision] = core.cycle(pendingGroupsOf([preemptor]), ownsAll);
    expect(decision?.kind === "bind" && decision.placements.map((p) => p.nodeName)).toEqual(["n1"]);
  });

  it("do not hold room against a higher-priority pod", () => {
    const cluster = snapshotOf(threeSingleSlotNodes(), [
      pod("low-2", { priority: 2, nodeName: "n2" }),
      pod("low-3", { priority: 3, nodeName: "n3" }),
      pod("nominated", { priority: 10, nominatedNodeName: "n1" }),
    ]);
    const core = new SchedulingCore(cluster);
    const [decision] = core.cycle([onlyPendingGroup([pod("urgent", { priority: 1000 })])], ownsAll);
    expect(decision?.kind === "bind" && decision.placements.map((p) => p.nodeName)).toEqual(["n1"]);
  });

  it("are withdrawn when their group cannot be placed, freeing the room for others", () => {
    // g won n1 by an earlier preemption, but now needs 3 cpu (its victims' room went elsewhere)
    // and nothing it may evict frees that much: it is unschedulable, and must not keep n1
    // from an equal-priority group that fits there.
    const nodes = [node("n1", { cpu: 2 })];
    const pods = [
      ...gang("g", 3, { priority: 100, nominatedNodeName: "n1", createdAt: 0 }),
      ...gang("fits", 2, { priority: 100, createdAt: 10 }),
    ];
    const { decisions, cluster } = runCycle(nodes, pods);
    const stuck = decisionFor(decisions, "g");
    expect(stuck.kind).toBe("unschedulable");
    if (stuck.kind === "unschedulable")
      expect(stuck.withdrawnNominations.map((p) => p.name).sort()).toEqual(["g-0", "g-1", "g-2"]);
    expect(cluster.hasNominations("n1")).toBe(false);
    const fits = decisionFor(decisions, "fits");
    expect(fits.kind === "bind" && fits.placements.map((p) => p.nodeName)).toEqual(["n1", "n1"]);
  });

  it("withdraw a nomination made in memory by an earlier cycle whose write never arrived", () => {
    const nodes = [node("n1", { cpu: 1 })];
    const cluster = snapshotOf(nodes, [pod("low", { priority: 1, nodeName: "n1", labels: { app: "low" } })]);
    const core = new SchedulingCore(cluster, defaultCoreConfig);
    const [first] = core.cycle(pendingGroupsOf([pod("high", { priority: 100 })]), ownsAll);
    expect(first?.kind).toBe("preempt");
    expect(cluster.hasNominations("n1")).toBe(true);
    // The nomination was never written, and a budget now protects the victim: high cannot be placed.
    cluster.upsertPodDisruptionBudget(pdb("keep-low", { app: "low" }, 0));
    const [second] = core.cycle(pendingGroupsOf([pod("high", { priority: 100 })]), ownsAll);
    expect(second?.kind === "unschedulable" && second.withdrawnNominations.map((p) => p.name)).toEqual([
      "high",
    ]);
    expect(cluster.hasNominations("n1")).toBe(false);
  });

  it("are kept while the group still waits for its victims to leave", () => {
    const nodes = [node("n1", { cpu: 1 })];
    const pods = [
      pod("low", { priority: 1, nodeName: "n1", terminating: true }),
      pod("high", { priority: 100, nominatedNodeName: "n1" }),
    ];
    const { decisions, cluster } = runCycle(nodes, pods);
    expect(decisionFor(decisions, "high").kind).toBe("preempt");
    expect(cluster.hasNominations("n1")).toBe(true);
  });

  it("are dropped once the nominated pod is bound", () => {
    const cluster = snapshotOf(threeSingleSlotNodes(), [
      pod("high", { priority: 100, nominatedNodeName: "n1" }),
    ]);
    expect(cluster.hasNominations("n1")).toBe(true);
    cluster.upsertPod(toPodInfo(pod("high", { priority: 100, nodeName: "n1" })));
    expect(cluster.hasNominations("n1")).toBe(false);
    expect(cluster.node("n1")?.requested.milliCpu).toBe(1000);
  });
});

describe("group priority", () => {
  /** Three nodes full of priority-500 pods, one per node. */
  const midPodsOnEachNode = () => [1, 2, 3].map((i) => pod(`mid-${i}`, { priority: 500, nodeName: `n${i}` }));

  it("lets no member lend its priority: a gang of 100s with one 1000 evicts nothing", () => {
    const attack = [
      ...midPodsOnEachNode(),
      ...gang("g", 2, { priority: 100 }),
      pod("g-boost", { group: "g", priority: 1000 }),
    ];
    const { decisions } = runCycle(threeSingleSlotNodes(), attack);
    const message = unschedulableMessage(decisionFor(decisions, "g"));
    expect(message).toBe(
      "members of pod group default/g disagree on priority (100, 1000); a gang must have one priority.",
    );
  });

  it("judges the same gang without the 1000 member by its own priority: it cannot touch 500s", () => {
    const normal = [...midPodsOnEachNode(), ...gang("g", 3, { priority: 100 })];
    const { decisions } = runCycle(threeSingleSlotNodes(), normal);
    expect(unschedulableMessage(decisionFor(decisions, "g"))).toContain(
      "preemption: no set of lower-priority groups whose eviction makes the group fit.",
    );
  });

  it("lets a gang whose members all have 1000 evict the 500s", () => {
    const { decisions } = runCycle(threeSingleSlotNodes(), [
      ...midPodsOnEachNode(),
      ...gang("g", 3, { priority: 1000 }),
    ]);
    expect(victimPods(decisionFor(decisions, "g"))).toEqual(["mid-1", "mid-2", "mid-3"]);
  });

  it("does not place a gang whose members disagree, even where it fits", () => {
    const { decisions } = runCycle(threeSingleSlotNodes(), [
      pod("g-0", { group: "g", priority: 100 }),
      pod("g-1", { group: "g", priority: 1000 }),
    ]);
    expect(unschedulableMessage(decisionFor(decisions, "g"))).toContain("disagree on priority (100, 1000)");
  });

  it("refuses preemption for a gang whose running member says preemptionPolicy: Never", () => {
    const nodes = [...threeSingleSlotNodes(), node("n4", { cpu: 1 })];
    const pods = [
      ...lowPodsOnEachNode(),
      pod("g-0", { group: "g", priority: 100, nodeName: "n4", preemptionPolicy: "Never" }),
      pod("g-1", { group: "g", priority: 100 }),
    ];
    const { decisions } = runCycle(nodes, pods);
    expect(unschedulableMessage(decisionFor(decisions, "g"))).toContain(
      "preemption: not attempted, a member has preemptionPolicy: Never.",
    );
  });

  it("never plans an eviction for an invalid group asked directly", () => {
    const cluster = snapshotOf(threeSingleSlotNodes(), midPodsOnEachNode());
    const group = onlyPendingGroup([
      ...gang("g", 2, { priority: 100 }),
      pod("g-boost", { group: "g", priority: 1000 }),
    ]);
    const result = planGangPreemption(placementContext(cluster), group);
    expect(result).toEqual({ preempts: false, reason: "preemption: not attempted, the group is invalid" });
  });
});
