import { describe, expect, it } from "vitest";
import type { Decision } from "../../src/core/cycle.js";
import { queueOrder } from "../../src/core/gang/index.js";
import { placeGang } from "../../src/core/gang-placement.js";
import { Statement } from "../../src/core/statement.js";
import {
  decisionFor,
  gang,
  gpu,
  node,
  onlyPendingGroup,
  pendingGroupsOf,
  placementContext,
  pod,
  requestedByNode,
  runCycle,
  snapshotOf,
  threeSingleSlotNodes,
} from "./fixtures.js";

function bound(decision: Decision): Record<string, string> {
  if (decision.kind !== "bind") throw new Error(`expected a bind decision, got ${decision.kind}`);
  return Object.fromEntries(decision.placements.map((p) => [p.pod.name, p.nodeName]));
}

function message(decision: Decision): string {
  if (decision.kind === "bind") throw new Error("expected a failed decision, got bind");
  return decision.message;
}

describe("gang placement", () => {
  it("places a gang that fits exactly, one member per node, and leaves it assumed", () => {
    const pods = gang("g", 3);
    const { decisions, cluster } = runCycle(threeSingleSlotNodes(), pods);
    expect(decisions).toHaveLength(1);
    const placed = bound(decisionFor(decisions, "g"));
    expect(Object.keys(placed).sort()).toEqual(["g-0", "g-1", "g-2"]);
    expect(new Set(Object.values(placed))).toEqual(new Set(["n1", "n2", "n3"]));
    for (const [name, nodeName] of Object.entries(placed)) {
      expect(cluster.placementOf(`default/${name}`)).toBe(nodeName);
    }
    for (const n of cluster.nodes) expect(n.requested.milliCpu).toBe(1000);
  });

  it("does not place a gang of 4 on 3 single-slot nodes, and assumes nothing", () => {
    const nodes = threeSingleSlotNodes();
    const pods = gang("g", 4);
    const cluster = snapshotOf(nodes, pods);
    const before = requestedByNode(cluster);
    const group = onlyPendingGroup(pods);
    const statement = new Statement(cluster);
    const result = placeGang(placementContext(cluster), statement, group);
    expect(result.fits).toBe(false);
    if (result.fits) return;
    expect(result.placedCount).toBe(3);
    expect(requestedByNode(cluster)).toEqual(before);
    for (const p of pods) expect(cluster.placementOf(`default/${p.metadata.name}`)).toBeUndefined();

    const { decisions, cluster: after } = runCycle(nodes, pods);
    const decision = decisionFor(decisions, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(message(decision)).toContain("pod group default/g cannot be placed as a whole");
    expect(message(decision)).toContain("4 of 4 pending pods must start together; only 3 fit");
    expect(message(decision)).toContain("0/3 nodes are available: 3 Insufficient cpu.");
    for (const n of after.nodes) expect(n.requested.milliCpu).toBe(0);
  });

  it("needs only min-member minus the running members, and places as many as fit", () => {
    const nodes = [node("n1", { cpu: 2 }), node("n2", { cpu: 1 })];
    const running = [
      pod("g-0", { group: "g", minMember: 4, nodeName: "n1" }),
      pod("g-1", { group: "g", minMember: 4, nodeName: "n1" }),
    ];
    const pending = gang("g", 3, { minMember: 4 }).map((p, i) => {
      p.metadata.name = `g-p${i}`;
      return p;
    });
    const group = onlyPendingGroup([...running, ...pending]);
    expect(group.required).toBe(2);
    expect(group.members).toHaveLength(3);

    // Room for one more only: 2 are required, so nothing is placed.
    const { decisions } = runCycle(nodes, [...running, ...pending]);
    expect(decisionFor(decisions, "g").kind).toBe("unschedulable");
    expect(message(decisionFor(decisions, "g"))).toContain("2 of 3 pending pods must start together");

    // Room for two: exactly the required two are placed.
    const roomy = [node("n1", { cpu: 2 }), node("n2", { cpu: 2 })];
    const { decisions: ok } = runCycle(roomy, [...running, ...pending]);
    expect(Object.keys(bound(decisionFor(ok, "g")))).toHaveLength(2);
  });

  it("requires at least one member even when min-member is already running", () => {
    const running = [pod("g-0", { group: "g", minMember: 1, nodeName: "n1" })];
    const pending = [pod("g-1", { group: "g", minMember: 1 }), pod("g-2", { group: "g", minMember: 1 })];
    const group = onlyPendingGroup([...running, ...pending]);
    expect(group.required).toBe(1);
    const { decisions } = runCycle([node("n1", { cpu: 2 })], [...running, ...pending]);
    expect(Object.keys(bound(decisionFor(decisions, "g")))).toHaveLength(1);
  });

  it("counts members that succeeded as started: their gang's replacements do not wait for them", () => {
    const finished = (name: string, phase: "Succeeded" | "Failed") => {
      const p = pod(name, { group: "g", minMember: 4, nodeName: "n1" });
      (p.status as { phase: string }).phase = phase;
      return p;
    };
    const pending = [pod("g-2", { group: "g", minMember: 4 }), pod("g-3", { group: "g", minMember: 4 })];
    const pods = [finished("g-0", "Succeeded"), finished("g-1", "Succeeded"), ...pending];
    expect(onlyPendingGroup(pods).required).toBe(2);
    const { decisions } = runCycle([node("n1", { cpu: 2 })], pods);
    expect(Object.keys(bound(decisionFor(decisions, "g"))).sort()).toEqual(["g-2", "g-3"]);
    // A member that failed did not run its part: the Job replaces it, and the gang waits for that.
    const failedOne = [finished("g-0", "Succeeded"), finished("g-1", "Failed"), ...pending];
    expect(onlyPendingGroup(failedOne).required).toBe(3);
    expect(decisionFor(runCycle([node("n1", { cpu: 2 })], failedOne).decisions, "g").kind).toBe(
      "unschedulable",
    );
  });

  it("never starts fewer than min-member pods when too few members exist yet", () => {
    const pods = gang("g", 3, { minMember: 4 });
    const group = onlyPendingGroup(pods);
    expect(group.required).toBe(4);
    const { decisions, cluster } = runCycle([node("n1", { cpu: 16 })], pods);
    const decision = decisionFor(decisions, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(message(decision)).toContain("pod group default/g");
    expect(message(decision)).toContain("4 pods must start together; only 3 are pending");
    expect(cluster.nodes[0]?.requested.milliCpu).toBe(0);
  });

  it("without min-member requires every pending member", () => {
    const group = onlyPendingGroup(gang("g", 5));
    expect(group.required).toBe(5);
  });

  it("uses only the nodes this shard owns and reports the others", () => {
    const nodes = [node("n1", { cpu: 8 }), node("n2", { cpu: 1 }), node("n3", { cpu: 1 })];
    const pods = gang("g", 2);
    const ownsNode = (name: string) => name !== "n1";
    const { decisions } = runCycle(nodes, pods, { ownsNode });
    const placed = bound(decisionFor(decisions, "g"));
    expect(Object.values(placed).sort()).toEqual(["n2", "n3"]);

    const { decisions: tooBig } = runCycle(nodes, gang("g", 3), { ownsNode });
    const decision = decisionFor(tooBig, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(message(decision)).toContain(
      "0/3 nodes are available: 1 node(s) are owned by other shards, 2 Insufficient cpu.",
    );
  });

  it("ignores a nominated node the shard does not own", () => {
    const nodes = [node("n1", { cpu: 1 }), node("n2", { cpu: 1 })];
    const pods = [pod("p", { nominatedNodeName: "n1" })];
    const { decisions } = runCycle(nodes, pods, { ownsNode: (name) => name === "n2" });
    expect(bound(decisionFor(decisions, "p"))).toEqual({ p: "n2" });
  });

  it("packs with MostAllocated and spreads with LeastAllocated", () => {
    const nodes = [node("n1", { cpu: 4 }), node("n2", { cpu: 4 }), node("n3", { cpu: 4 })];
    const pods = gang("g", 3);
    const packed = bound(decisionFor(runCycle(nodes, pods).decisions, "g"));
    expect(new Set(Object.values(packed)).size).toBe(1);
    const spread = bound(
      decisionFor(runCycle(nodes, pods, { config: { scoringStrategy: "LeastAllocated" } }).decisions, "g"),
    );
    expect(new Set(Object.values(spread)).size).toBe(3);
  });

  it("MostAllocated prefers the node that is already fuller", () => {
    const nodes = [node("n1", { cpu: 4 }), node("n2", { cpu: 4 })];
    const pods = [pod("running", { cpu: 2, nodeName: "n2" }), pod("p", { cpu: 1 })];
    expect(bound(decisionFor(runCycle(nodes, pods).decisions, "p"))).toEqual({ p: "n2" });
    const least = runCycle(nodes, pods, { config: { scoringStrategy: "LeastAllocated" } });
    expect(bound(decisionFor(least.decisions, "p"))).toEqual({ p: "n1" });
  });

  it("places a GPU gang only on nodes with enough GPUs", () => {
    const nodes = [
      node("cpu-only", { cpu: 64 }),
      node("gpu-a", { cpu: 8, gpus: 4 }),
      node("gpu-b", { cpu: 8, gpus: 4 }),
    ];
    const pods = gang("train", 4, { gpus: 2 });
    const placed = bound(decisionFor(runCycle(nodes, pods).decisions, "train"));
    const perNode = new Map<string, number>();
    for (const n of Object.values(placed)) perNode.set(n, (perNode.get(n) ?? 0) + 1);
    expect(perNode).toEqual(
      new Map([
        ["gpu-a", 2],
        ["gpu-b", 2],
      ]),
    );

    const tooMany = runCycle(nodes, gang("train", 5, { gpus: 2 })).decisions;
    const decision = decisionFor(tooMany, "train");
    expect(decision.kind).toBe("unschedulable");
    expect(message(decision)).toContain(`0/3 nodes are available: 3 Insufficient ${gpu}.`);
  });

  it("keeps gang members off tainted nodes unless they tolerate the taint", () => {
    const taints = [{ key: "dedicated", value: "batch", effect: "NoSchedule" as const }];
    const nodes = [node("tainted", { cpu: 8, taints }), node("plain", { cpu: 1 })];
    const { decisions } = runCycle(nodes, gang("g", 2));
    const decision = decisionFor(decisions, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(message(decision)).toContain(
      "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s).",
    );

    const tolerating = gang("g", 2, { tolerations: [{ key: "dedicated", operator: "Exists" }] });
    const placed = bound(decisionFor(runCycle(nodes, tolerating).decisions, "g"));
    expect(Object.values(placed)).toContain("tainted");
  });

  it("honours each member's node selector inside a gang", () => {
    const nodes = [
      node("a", { cpu: 1, labels: { zone: "a" } }),
      node("b", { cpu: 1, labels: { zone: "b" } }),
      node("c", { cpu: 1, labels: { zone: "c" } }),
    ];
    const pods = [
      pod("g-0", { group: "g", nodeSelector: { zone: "b" } }),
      pod("g-1", { group: "g", nodeSelector: { zone: "c" } }),
      pod("g-2", { group: "g" }),
    ];
    expect(bound(decisionFor(runCycle(nodes, pods).decisions, "g"))).toEqual({
      "g-0": "b",
      "g-1": "c",
      "g-2": "a",
    });

    const conflicting = [
      pod("g-0", { group: "g", nodeSelector: { zone: "b" } }),
      pod("g-1", { group: "g", nodeSelector: { zone: "b" } }),
    ];
    const decision = decisionFor(runCycle(nodes, conflicting).decisions, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(message(decision)).toContain(
      "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.",
    );
  });

  it("skips cordoned and not-ready nodes and says so", () => {
    const nodes = [
      node("cordoned", { cpu: 8, unschedulable: true }),
      node("down", { cpu: 8, ready: false }),
      node("ok", { cpu: 1 }),
    ];
    const decision = decisionFor(runCycle(nodes, [pod("p", { cpu: 2 })]).decisions, "p");
    expect(message(decision)).toBe(
      "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) were not ready, 1 node(s) were unschedulable. " +
        "preemption: no set of lower-priority groups whose eviction makes the group fit.",
    );
  });

  it("counts init containers and overhead in a pod's request", () => {
    const nodes = [node("n1", { cpu: 2 })];
    const init = pod("init", { cpu: 1 });
    init.spec.initContainers = [{ name: "setup", resources: { requests: { cpu: "3" } } }];
    expect(decisionFor(runCycle(nodes, [init]).decisions, "init").kind).toBe("unschedulable");

    const withOverhead = pod("overhead", { cpu: 1.5 });
    withOverhead.spec.overhead = { cpu: "600m" };
    const decision = decisionFor(runCycle(nodes, [withOverhead]).decisions, "overhead");
    expect(message(decision)).toContain("1 Insufficient cpu");
    expect(decisionFor(runCycle(nodes, [pod("plain", { cpu: 1.5 })]).decisions, "plain").kind).toBe("bind");
  });

  it("counts pod slots", () => {
    const nodes = [node("n1", { cpu: 8, pods: 2 })];
    const pods = [pod("running", { nodeName: "n1" }), ...gang("g", 2)];
    const decision = decisionFor(runCycle(nodes, pods).decisions, "g");
    expect(message(decision)).toContain("0/1 nodes are available: 1 Too many pods.");
  });

  it("lets the next group see the previous group's assumed pods", () => {
    const nodes = threeSingleSlotNodes();
    const pods = [...gang("first", 2, { priority: 10 }), ...gang("second", 2, { priority: 5 })];
    const { decisions, cluster } = runCycle(nodes, pods, { config: { preemption: false } });
    expect(decisions.map((d) => [d.group.name, d.kind])).toEqual([
      ["first", "bind"],
      ["second", "unschedulable"],
    ]);
    expect(message(decisionFor(decisions, "second"))).toContain(
      "only 1 fit); for pod second-1: 0/3 nodes are available: 3 Insufficient cpu. " +
        "preemption: disabled by configuration.",
    );
    expect(cluster.nodes.filter((n) => n.requested.milliCpu === 1000)).toHaveLength(2);
  });

  it("treats a pod without a group as a group of one", () => {
    const pods = [pod("solo")];
    const group = onlyPendingGroup(pods);
    expect(group.key).toMatchObject({ id: "pod:default/solo", solo: true });
    expect(group.required).toBe(1);
    const decision = decisionFor(runCycle([node("n1", { cpu: 0.5 })], pods).decisions, "solo");
    // A solo pod's message is kube-scheduler's, without the gang preamble.
    expect(message(decision)).toMatch(/^0\/1 nodes are available: 1 Insufficient cpu\. /);
  });

  it("leaves room reserved by nominated pods of higher or equal priority, not lower", () => {
    const nodes = [node("n1", { cpu: 1 })];
    const reserve = (priority: number) => pod("nominated", { priority, nominatedNodeName: "n1" });
    const placeable = (priority: number) => {
      const cluster = snapshotOf(nodes, [reserve(priority)]);
      const result = placeGang(
        placementContext(cluster),
        new Statement(cluster),
        onlyPendingGroup([pod("p", { priority: 5 })]),
      );
      return result.fits;
    };
    expect(placeable(10)).toBe(false);
    expect(placeable(5)).toBe(false);
    expect(placeable(4)).toBe(true);
  });

  it("does not let a group's own nomination block its other members", () => {
    const nodes = [node("n1", { cpu: 2 })];
    const pods = [
      pod("g-0", { group: "g", priority: 5, nominatedNodeName: "n1" }),
      pod("g-1", { group: "g", priority: 5, nominatedNodeName: "n1" }),
    ];
    const placed = bound(decisionFor(runCycle(nodes, pods).decisions, "g"));
    expect(placed).toEqual({ "g-0": "n1", "g-1": "n1" });
  });
});

describe("queue order", () => {
  it("takes the group's priority from its members, which must agree (none lends its own)", () => {
    const group = onlyPendingGroup([
      pod("g-0", { group: "g", priority: 1 }),
      pod("g-1", { group: "g", priority: 7 }),
      pod("g-2", { group: "g", priority: 3 }),
    ]);
    expect(group.problem).toContain("disagree on priority (1, 3, 7)");
    expect(group.priority).toBe(1);
    expect(onlyPendingGroup(gang("h", 3, { priority: 7 })).priority).toBe(7);
  });

  it("sorts by priority, then age, then id", () => {
    const groups = pendingGroupsOf([
      pod("young-high", { priority: 10, createdAt: 50 }),
      pod("b-old-low", { priority: 1, createdAt: 1 }),
      pod("a-old-low", { priority: 1, createdAt: 1 }),
      pod("old-high", { priority: 10, createdAt: 10 }),
      pod("newest-low", { priority: 1, createdAt: 99 }),
    ]);
    expect(groups.sort(queueOrder).map((g) => g.key.name)).toEqual([
      "old-high",
      "young-high",
      "a-old-low",
      "b-old-low",
      "newest-low",
    ]);
  });

  it("places the higher-priority group first within a cycle, whatever order it arrives in", () => {
    const nodes = [node("n1", { cpu: 1 })];
    const pods = [pod("low", { priority: 1, createdAt: 0 }), pod("high", { priority: 100, createdAt: 60 })];
    const { decisions } = runCycle(nodes, pods, { config: { preemption: false } });
    expect(decisions.map((d) => [d.group.name, d.kind])).toEqual([
      ["high", "bind"],
      ["low", "unschedulable"],
    ]);
  });
});
