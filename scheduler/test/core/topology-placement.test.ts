/**
 * Topology-aware gang placement: the constraint read from pod annotations, TopologyPlacement's
 * candidate domains and their order (tightest fit, then preferred levels), the message when no
 * domain has room, preemption inside one domain, and Kueue TAS's node selectors.
 */
import { describe, expect, it } from "vitest";
import type { Node, Pod } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import type { Decision } from "../../src/core/cycle.js";
import {
  domainWord,
  groupKey,
  groupProblem,
  isLabelKey,
  pendingGroup,
  staticallyFeasible,
} from "../../src/core/gang/index.js";
import { placeGroup, placementStepFor } from "../../src/core/gang-placement.js";
import { buildProfile } from "../../src/core/profile.js";
import { Statement } from "../../src/core/statement.js";
import {
  decisionFor,
  gang,
  node,
  onlyPendingGroup,
  type PodOptions,
  placementContext,
  pod,
  runCycle,
  snapshotOf,
} from "./fixtures.js";

const rackKey = "topology.kubernetes.io/rack";
const blockKey = "example.com/block";
const requiredAnnotation = "sharded-scheduler.io/topology-required";
const preferredAnnotation = "sharded-scheduler.io/topology-preferred";

/** A node in a rack (and a block, if given). */
function racked(name: string, rack: string | undefined, cpu = 4, block?: string): Node {
  const labels: Record<string, string> = {};
  if (rack !== undefined) labels[rackKey] = rack;
  if (block !== undefined) labels[blockKey] = block;
  return node(name, { cpu, labels });
}

/** Adds topology annotations to pods. */
function withTopology(pods: Pod[], required?: string, preferred?: string): Pod[] {
  for (const p of pods) {
    p.metadata.annotations ??= {};
    const annotations = p.metadata.annotations;
    if (required !== undefined) annotations[requiredAnnotation] = required;
    if (preferred !== undefined) annotations[preferredAnnotation] = preferred;
  }
  return pods;
}

function topologyGang(name: string, size: number, options: PodOptions = {}, preferred?: string): Pod[] {
  return withTopology(gang(name, size, options), rackKey, preferred);
}

function boundNodes(decision: Decision): string[] {
  if (decision.kind !== "bind")
    throw new Error(`expected bind, got ${decision.kind}: ${JSON.stringify(decision)}`);
  return decision.placements.map((p) => p.nodeName);
}

function racksOf(nodes: readonly Node[], names: readonly string[]): Set<string | undefined> {
  const byName = new Map(nodes.map((n) => [n.metadata.name, n.metadata.labels?.[rackKey]]));
  return new Set(names.map((name) => byName.get(name)));
}

describe("topology annotations", () => {
  it("read required and preferred keys", () => {
    const [member] = withTopology(gang("g", 1), blockKey, ` ${rackKey}, kubernetes.io/hostname`);
    const info = toPodInfo(member as Pod);
    expect(info.groupError).toBeUndefined();
    expect(info.topology).toEqual({ required: blockKey, preferred: [rackKey, "kubernetes.io/hostname"] });
  });

  it("refuse a malformed key, naming the annotation", () => {
    const [bad] = withTopology(gang("g", 1), "not a key!");
    expect(toPodInfo(bad as Pod).groupError).toBe(
      `annotation ${requiredAnnotation}="not a key!" is not a node label key`,
    );
    const [badPreferred] = withTopology(gang("g", 1), rackKey, "example.com/block,,");
    expect(toPodInfo(badPreferred as Pod).groupError).toBe(
      `annotation ${preferredAnnotation}="example.com/block,," has "", not a node label key`,
    );
    const [repeated] = withTopology(gang("g", 1), rackKey, rackKey);
    expect(toPodInfo(repeated as Pod).groupError).toContain("repeats the required key");
  });

  it("make the group invalid when members disagree, naming the annotation", () => {
    const pods = [
      ...withTopology([pod("g-0", { group: "g" })], rackKey),
      ...withTopology([pod("g-1", { group: "g" })], blockKey),
    ];
    const members = pods.map((p) => toPodInfo(p));
    const key = groupKey("default", "g", false);
    expect(groupProblem(key, members, [])).toBe(
      `members of pod group default/g disagree on ${requiredAnnotation} (${blockKey}, ${rackKey})`,
    );
    // One member without the annotation disagrees too; so do preferred keys.
    const unannotated = toPodInfo(pod("g-2", { group: "g" }));
    expect(groupProblem(key, [members[0] as never, unannotated], [])).toContain(requiredAnnotation);
    const preferredApart = [
      ...withTopology([pod("g-0", { group: "g" })], rackKey, "a.io/x"),
      ...withTopology([pod("g-1", { group: "g" })], rackKey, "a.io/y"),
    ].map((p) => toPodInfo(p));
    expect(groupProblem(key, preferredApart, [])).toContain(preferredAnnotation);
    // The core refuses such a group too.
    expect(pendingGroup(key, members, [], undefined).problem).toContain(requiredAnnotation);
  });

  it("name domains after the key's last segment without a topology. prefix", () => {
    expect(domainWord("topology.kubernetes.io/rack")).toBe("rack");
    expect(domainWord("kubernetes.io/hostname")).toBe("hostname");
    expect(domainWord("topology.block")).toBe("block");
    expect(isLabelKey("topology.kubernetes.io/rack")).toBe(true);
    expect(isLabelKey("/rack")).toBe(false);
    expect(isLabelKey("Example.com/rack")).toBe(false);
  });
});

describe("TopologyPlacement", () => {
  it("places a gang inside one rack where plain packing would split it", () => {
    // n1 is the fullest node: MostAllocated alone puts one member there and the rest in r2.
    const nodes = [racked("n1", "r1"), racked("n2", "r2"), racked("n3", "r2")];
    const busy = pod("busy", { cpu: 2, nodeName: "n1" });
    const plain = runCycle(nodes, [busy, ...gang("plain", 3, { cpu: 2 })]);
    expect(racksOf(nodes, boundNodes(decisionFor(plain.decisions, "plain"))).size).toBe(2);
    const { decisions } = runCycle(nodes, [busy, ...topologyGang("g", 3, { cpu: 2 })]);
    expect(racksOf(nodes, boundNodes(decisionFor(decisions, "g")))).toEqual(new Set(["r2"]));
  });

  it("never puts a member on a node without the required label", () => {
    const nodes = [racked("free", undefined, 64), racked("n1", "r1", 2)];
    const { decisions, cluster } = runCycle(nodes, topologyGang("g", 2, { cpu: 2 }));
    const decision = decisionFor(decisions, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(cluster.node("free")?.pods.size).toBe(0);
    if (decision.kind === "unschedulable")
      expect(decision.message).toMatch(/^no rack has room for all 2 pods \(largest free: 1\)\./);
  });

  it("prefers the tightest rack, keeping a big rack whole for a big gang", () => {
    // The big rack comes first in node order: among equals it would win.
    const nodes = [
      ...["b1", "b2", "b3", "b4"].map((n) => racked(n, "big")),
      ...["s1", "s2"].map((n) => racked(n, "small")),
    ];
    const { decisions } = runCycle(nodes, topologyGang("g", 4, { cpu: 2 }));
    expect(racksOf(nodes, boundNodes(decisionFor(decisions, "g")))).toEqual(new Set(["small"]));
  });

  it("prefers the rack that starts more members of a gang whose min-member is below its size", () => {
    // "small" fits the two required members tightly; "big" fits all four.
    const nodes = [racked("s1", "small"), ...["b1", "b2", "b3"].map((n) => racked(n, "big"))];
    const { decisions } = runCycle(nodes, topologyGang("g", 4, { cpu: 2, minMember: 2 }));
    const placed = boundNodes(decisionFor(decisions, "g"));
    expect(placed).toHaveLength(4);
    expect(racksOf(nodes, placed)).toEqual(new Set(["big"]));
  });

  it("with a preferred level, keeps the gang in one rack of the required block", () => {
    // Racks interleaved in node order: member by member, packing alone spreads over both racks.
    const nodes = [
      racked("n1", "r1", 4, "b1"),
      racked("n3", "r2", 4, "b1"),
      racked("n2", "r1", 4, "b1"),
      racked("n4", "r2", 4, "b1"),
    ];
    const blockOnly = withTopology(gang("plain", 4, { cpu: 2 }), blockKey);
    const spread = runCycle(nodes, blockOnly);
    expect(racksOf(nodes, boundNodes(decisionFor(spread.decisions, "plain"))).size).toBe(2);
    const preferring = withTopology(gang("g", 4, { cpu: 2 }), blockKey, rackKey);
    const { decisions } = runCycle(nodes, preferring);
    expect(racksOf(nodes, boundNodes(decisionFor(decisions, "g"))).size).toBe(1);
  });

  it("says which rack came closest when none has room: no rack has room for all 16 pods (largest free: 11)", () => {
    const nodes = [
      ...Array.from({ length: 11 }, (_, i) => racked(`a${i}`, "r1", 1)),
      ...Array.from({ length: 5 }, (_, i) => racked(`b${i}`, "r2", 1)),
      racked("loose", undefined, 16),
    ];
    const { decisions } = runCycle(nodes, topologyGang("g", 16, { cpu: 1, memory: "100Mi" }));
    const decision = decisionFor(decisions, "g");
    expect(decision.kind).toBe("unschedulable");
    if (decision.kind !== "unschedulable") return;
    expect(decision.message.startsWith("no rack has room for all 16 pods (largest free: 11).")).toBe(true);
  });

  it("says when no usable node carries the key", () => {
    const { decisions } = runCycle([racked("n1", undefined)], topologyGang("g", 2));
    const decision = decisionFor(decisions, "g");
    expect(decision.kind === "unschedulable" && decision.message).toMatch(
      /^no rack has room for all 2 pods \(largest free: 0\); no usable node has label topology\.kubernetes\.io\/rack\./,
    );
  });

  it("does not follow a member's nomination out of the rack the gang is placed in", () => {
    // g-0 was nominated to n3 (r2), but r2 has room for one member only now: the gang goes to r1, whole.
    const nodes = [
      racked("n1", "r1", 2),
      racked("n2", "r1", 2),
      racked("n3", "r2", 2),
      racked("n4", "r2", 2),
    ];
    const pods = [
      pod("high", { cpu: 2, priority: 100, nodeName: "n4" }),
      ...withTopology([pod("g-0", { group: "g", cpu: 2, nominatedNodeName: "n3" })], rackKey),
      ...withTopology([pod("g-1", { group: "g", cpu: 2 })], rackKey),
    ];
    const { decisions } = runCycle(nodes, pods);
    expect(racksOf(nodes, boundNodes(decisionFor(decisions, "g")))).toEqual(new Set(["r1"]));
  });

  it("adds members of a started group only to the rack it runs in", () => {
    // r2 is the tighter fit for two members: only the group's own rack may take them.
    const nodes = [racked("n1", "r1", 8), racked("n2", "r2", 2)];
    const running = pod("g-0", { group: "g", nodeName: "n1", cpu: 1 });
    const pending = pod("g-1", { group: "g", cpu: 1 });
    const late = pod("g-2", { group: "g", cpu: 1 });
    const pods = withTopology([running, pending, late], rackKey);
    const cluster = snapshotOf(nodes, pods);
    const members = [pending, late].map((p) => toPodInfo(p));
    const group = pendingGroup(members[0]?.group as never, members, [toPodInfo(running)], undefined, 0, true);
    const result = placeGroup(placementContext(cluster), new Statement(cluster), group);
    expect(result.fits && result.placements.map((p) => p.nodeName)).toEqual(["n1", "n1"]);
  });

  it("routes a member only to shards owning nodes that carry its required key", () => {
    const cluster = snapshotOf([racked("labelled", "r1"), racked("bare", undefined)]);
    const [member] = topologyGang("g", 1);
    const info = toPodInfo(member as Pod);
    expect(staticallyFeasible(info, cluster.node("labelled") as never)).toBe(true);
    expect(staticallyFeasible(info, cluster.node("bare") as never)).toBe(false);
  });

  it("leaves groups without a constraint to the plain placement (no placement step)", () => {
    const cluster = snapshotOf([racked("n1", "r1")]);
    const profile = buildProfile(cluster);
    expect(placementStepFor(profile, onlyPendingGroup(gang("plain", 2)))).toBe(false);
    expect(placementStepFor(profile, onlyPendingGroup(topologyGang("g", 2)))).toBe(true);
  });

  it("lands Kueue TAS pods (a rack node selector) in that rack, with no topology annotation", () => {
    const nodes = [racked("n1", "r1", 8), racked("n2", "r2", 8), racked("n3", "r2", 8)];
    const kueue = gang("tas", 3, { cpu: 2, nodeSelector: { [rackKey]: "r2" } });
    const { decisions } = runCycle(nodes, kueue);
    expect(racksOf(nodes, boundNodes(decisionFor(decisions, "tas")))).toEqual(new Set(["r2"]));
  });
});

describe("preemption of a topology gang", () => {
  it("evicts inside one rack only, the cheapest one, though a free slot in each rack would do without", () => {
    // Each rack has one free 2-cpu slot and one low-priority pod: without the constraint the
    // gang fits as it is; with it, it must take a whole rack: r2's victim is the cheaper.
    const nodes = [
      racked("n1", "r1", 2),
      racked("n2", "r1", 2),
      racked("n3", "r2", 2),
      racked("n4", "r2", 2),
    ];
    const victims = [
      pod("low-r1", { cpu: 2, priority: 5, nodeName: "n1" }),
      pod("low-r2", { cpu: 2, priority: 1, nodeName: "n3" }),
    ];
    const plain = runCycle(nodes, [...victims, ...gang("plain", 2, { cpu: 2, priority: 10 })]);
    expect(decisionFor(plain.decisions, "plain").kind).toBe("bind");
    const { decisions } = runCycle(nodes, [...victims, ...topologyGang("g", 2, { cpu: 2, priority: 10 })]);
    const decision = decisionFor(decisions, "g");
    if (decision.kind !== "preempt") throw new Error(`expected preempt, got ${JSON.stringify(decision)}`);
    expect(decision.plan.victims.flatMap((v) => v.pods.map((p) => p.name))).toEqual(["low-r2"]);
    expect(
      racksOf(
        nodes,
        decision.plan.nominations.map((p) => p.nodeName),
      ),
    ).toEqual(new Set(["r2"]));
  });

  it("takes a victim group whole and no more than the rack needs", () => {
    const nodes = [
      racked("n1", "r1", 2),
      racked("n2", "r1", 2),
      racked("n3", "r2", 2),
      racked("n4", "r2", 2),
    ];
    // r1: a low gang on both nodes (1 cpu each) plus a lone low pod; r2: full of high-priority pods.
    const pods = [
      ...gang("low", 2, { cpu: 1, priority: 1 }).map((p, i) => ({
        ...p,
        spec: { ...p.spec, nodeName: `n${i + 1}` },
        status: { phase: "Running" as const },
      })),
      pod("lone", { cpu: 1, priority: 1, nodeName: "n1" }),
      pod("keep-1", { cpu: 2, priority: 100, nodeName: "n3" }),
      pod("keep-2", { cpu: 2, priority: 100, nodeName: "n4" }),
      ...topologyGang("g", 2, { cpu: 2, priority: 10 }),
    ];
    const { decisions } = runCycle(nodes, pods);
    const decision = decisionFor(decisions, "g");
    if (decision.kind !== "preempt") throw new Error(`expected preempt, got ${JSON.stringify(decision)}`);
    const names = decision.plan.victims.flatMap((v) => v.pods.map((p) => p.name)).sort();
    expect(names).toEqual(["lone", "low-0", "low-1"]);
    expect(decision.plan.victims.find((v) => v.id.includes("low"))?.whole).toBe(true);
    expect(
      racksOf(
        nodes,
        decision.plan.nominations.map((p) => p.nodeName),
      ),
    ).toEqual(new Set(["r1"]));
  });
});
