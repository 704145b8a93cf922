/**
 * The framework's pieces on their own: CycleState, AddPod/RemovePod while a Statement assumes
 * gang members and removes preemption victims, weighted and normalised scores, the placement
 * step, status codes in preemption, and a cycle deferred while gained nodes settle.
 */
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import { type Decision, defaultCoreConfig, SchedulingCore } from "../../src/core/cycle.js";
import {
  CycleState,
  type FilterPlugin,
  type PlacementGeneratePlugin,
  type PlacementScorePlugin,
  type PreFilterPlugin,
  type ScorePlugin,
  type StateData,
  unschedulable,
} from "../../src/core/framework.js";
import { placeGang, placeGroup } from "../../src/core/gang-placement.js";
import type { NodeInfo } from "../../src/core/model.js";
import { nodeResourcesFit } from "../../src/core/plugins/node-resources/node-resources-fit.js";
import { planGangPreemption } from "../../src/core/preemption.js";
import { buildProfile, type Profile, profileOf } from "../../src/core/profile.js";
import { Statement } from "../../src/core/statement.js";
import {
  decisionFor,
  gang,
  node,
  onlyPendingGroup,
  ownsAll,
  placementContext,
  pod,
  snapshotOf,
} from "./fixtures.js";

class Count implements StateData {
  constructor(public value: number) {}
  clone(): Count {
    return new Count(this.value);
  }
}

describe("CycleState", () => {
  it("keeps what PreFilter wrote, and a clone is independent of the original", () => {
    const state = new CycleState();
    state.write("count", new Count(1));
    state.skip("Other");
    const copy = state.clone();
    (copy.read<Count>("count") as Count).value = 2;
    expect(state.read<Count>("count")?.value).toBe(1);
    expect(copy.read<Count>("count")?.value).toBe(2);
    expect(copy.skips("Other")).toBe(true);
    expect(state.skips("count")).toBe(false);
    expect(new CycleState().read("count")).toBeUndefined();
  });
});

/**
 * "At most `limit` pods on the whole cluster": PreFilter counts the placed pods once, AddPod and
 * RemovePod keep the count true, Filter only reads it. Records what it was told.
 */
function clusterLimit(limit: number, nodes: () => readonly NodeInfo[]) {
  const told: string[] = [];
  let preFilters = 0;
  const plugin: PreFilterPlugin & FilterPlugin = {
    name: "ClusterLimit",
    preFilter(state) {
      preFilters++;
      let placed = 0;
      for (const n of nodes()) placed += n.pods.size;
      state.write("ClusterLimit", new Count(placed));
      return undefined;
    },
    extensions: {
      addPod(state, _pod, added, n) {
        told.push(`+${added.name}@${n.name}`);
        (state.read<Count>("ClusterLimit") as Count).value++;
      },
      removePod(state, _pod, removed, n) {
        told.push(`-${removed.name}@${n.name}`);
        (state.read<Count>("ClusterLimit") as Count).value--;
      },
    },
    filter(_pod, _node, state) {
      const count = state?.read<Count>("ClusterLimit")?.value ?? 0;
      return count < limit ? undefined : unschedulable("cluster limit reached");
    },
  };
  return { plugin, told, preFilters: () => preFilters };
}

describe("AddPod/RemovePod", () => {
  it("keep a member's PreFilter state true while the Statement assumes the gang's other members", () => {
    const cluster = snapshotOf([node("n1", { cpu: 8 })], [pod("old", { nodeName: "n1" })]);
    const limit = clusterLimit(3, () => cluster.nodes);
    const profile = profileOf([limit.plugin, nodeResourcesFit(cluster)]);
    const ctx = placementContext(cluster, ownsAll, "MostAllocated", profile);
    // Room for three more pods, but the limit allows two: the third member sees the first two.
    const statement = new Statement(cluster);
    const result = placeGang(ctx, statement, onlyPendingGroup(gang("g", 3)));
    expect(result.fits).toBe(false);
    expect(limit.preFilters()).toBe(3);
    expect(limit.told.filter((t) => t.startsWith("+")).length).toBeGreaterThan(0);
    // The rollback is told too: every state ends where PreFilter left it.
    expect(limit.told.filter((t) => t.startsWith("+")).length).toBe(
      limit.told.filter((t) => t.startsWith("-")).length,
    );
    expect(cluster.node("n1")?.pods.size).toBe(1);
    const fits = placeGang(ctx, new Statement(cluster), onlyPendingGroup(gang("h", 2)));
    expect(fits.fits).toBe(true);
  });

  it("keep the preemptor's state true while preemption removes victims", () => {
    // One running low-priority pod already reaches the cluster limit of 1; evicting it helps.
    const cluster = snapshotOf([node("n1", { cpu: 8 })], [pod("low", { nodeName: "n1", priority: 0 })]);
    const limit = clusterLimit(1, () => cluster.nodes);
    const profile = profileOf([limit.plugin, nodeResourcesFit(cluster)]);
    const ctx = placementContext(cluster, ownsAll, "MostAllocated", profile);
    const result = planGangPreemption(ctx, onlyPendingGroup([pod("high", { priority: 10 })]));
    expect(result.preempts).toBe(true);
    if (!result.preempts) return;
    expect(result.plan.victims.map((v) => v.id)).toEqual([toPodInfo(pod("low")).group.id]);
    expect(limit.told).toContain("-low@n1");
    // The simulation is undone: the victim still runs in the cluster.
    expect(cluster.placementOf("default/low")).toBe("n1");
  });
});

/** Scores a node by a fixed table, optionally normalised to 0-100 over the feasible nodes. */
function tableScore(name: string, table: Record<string, number>, normalise = false): ScorePlugin {
  return {
    name,
    score: (_pod, n) => table[n.name] ?? 0,
    ...(normalise
      ? {
          normalize(scores: number[]) {
            const highest = Math.max(...scores);
            for (let i = 0; i < scores.length; i++)
              scores[i] = highest === 0 ? 0 : Math.floor(((scores[i] as number) * 100) / highest);
          },
        }
      : {}),
  };
}

describe("Score", () => {
  const nodes = () => snapshotOf([node("a"), node("b"), node("c")]);
  const place = (profile: (cluster: ReturnType<typeof nodes>) => Profile) => {
    const cluster = nodes();
    const ctx = placementContext(cluster, ownsAll, "MostAllocated", profile(cluster));
    const result = placeGang(ctx, new Statement(cluster), onlyPendingGroup([pod("p")]));
    return result.fits ? result.placements[0]?.nodeName : undefined;
  };

  it("sums the scores of every plugin, each times its weight", () => {
    const first = tableScore("First", { a: 100, b: 60, c: 0 });
    const second = tableScore("Second", { a: 0, b: 60, c: 100 });
    expect(place((s) => profileOf([nodeResourcesFit(s), first, second]))).toBe("b");
    expect(place((s) => profileOf([nodeResourcesFit(s), first, second], { Second: 3 }))).toBe("c");
    expect(place((s) => profileOf([nodeResourcesFit(s), first, second], { First: 3 }))).toBe("a");
  });

  it("normalises a plugin's scores before they are weighed", () => {
    // Raw scores 0-2 would never outweigh First's 0-100; normalised to 0-100 they do.
    const small = tableScore("Small", { a: 0, b: 1, c: 2 }, true);
    const first = tableScore("First", { a: 60, b: 50, c: 0 });
    expect(place((s) => profileOf([nodeResourcesFit(s), first, small]))).toBe("b");
    const raw = tableScore("Small", { a: 0, b: 1, c: 2 });
    expect(place((s) => profileOf([nodeResourcesFit(s), first, raw]))).toBe("a");
  });

  it("keeps kube-scheduler's default profile, with NodeResourcesFit's MostAllocated", () => {
    const profile = buildProfile(snapshotOf([]), defaultCoreConfig);
    // kube-scheduler's default weights: InterPodAffinity 2, PodTopologySpread 2, the resource scores 1.
    expect(profile.scores.map(({ plugin, weight }) => [plugin.name, weight])).toEqual([
      ["InterPodAffinity", 2],
      ["PodTopologySpread", 2],
      ["MostAllocated", 1],
      ["NodeResourcesBalancedAllocation", 1],
    ]);
    expect(profile.filters.map((p) => p.name)).toEqual([
      "NodeUnschedulable",
      "NodeReady",
      "TaintToleration",
      "NodeAffinity",
      "LentNode",
      "NodePorts",
      "VolumeRestrictions",
      "VolumeBinding",
      "VolumeZone",
      "InterPodAffinity",
      "PodTopologySpread",
      "NodeResourcesFit",
    ]);
    // UnsupportedConstraints refuses constraints not implemented yet and reads only the pod; the
    // volume plugins ignore pods without claims; InterPodAffinity reads the cluster;
    // PodTopologySpread reads only the pod when it has no DoNotSchedule constraint.
    expect(profile.preFilters.map((p) => [p.name, p.podOnly])).toEqual([
      ["UnsupportedConstraints", true],
      ["VolumeRestrictions", undefined],
      ["VolumeBinding", undefined],
      ["VolumeZone", undefined],
      ["InterPodAffinity", undefined],
      ["PodTopologySpread", undefined],
    ]);
    // TopologyPlacement speaks only for groups with a topology constraint.
    expect(profile.placementGenerators.map((p) => p.name)).toEqual(["TopologyPlacement"]);
  });
});

describe("the placement step", () => {
  const zone = (name: string) => ({ labels: { "topology.kubernetes.io/zone": name }, cpu: 2 });
  const zones = () =>
    snapshotOf([node("a1", zone("a")), node("a2", zone("a")), node("b1", zone("b")), node("b2", zone("b"))]);
  const perZone: PlacementGeneratePlugin = {
    name: "PerZone",
    generate: (_group, nodes) => {
      const byZone = new Map<string, NodeInfo[]>();
      for (const n of nodes) {
        const z = n.labels["topology.kubernetes.io/zone"] ?? "";
        byZone.set(z, [...(byZone.get(z) ?? []), n]);
      }
      return [...byZone.values()];
    },
  };
  const preferZoneB: PlacementScorePlugin = {
    name: "PreferZoneB",
    scorePlacement: (_group, placements) => (placements.every((p) => p.nodeName.startsWith("b")) ? 100 : 0),
  };
  const zonesOf = (placements: readonly { nodeName: string }[]) =>
    new Set(placements.map((p) => p.nodeName.slice(0, 1)));

  it("places the gang inside one candidate set, the best-scored one, and keeps it assumed", () => {
    const cluster = zones();
    const profile = { ...buildProfile(cluster), placementGenerators: [perZone] };
    const ctx = placementContext(cluster, ownsAll, "MostAllocated", {
      ...profile,
      placementScores: [{ plugin: preferZoneB, weight: 1 }],
    });
    const statement = new Statement(cluster);
    const result = placeGroup(ctx, statement, onlyPendingGroup(gang("g", 3)));
    expect(result.fits).toBe(true);
    if (!result.fits) return;
    expect(zonesOf(result.placements)).toEqual(new Set(["b"]));
    // What the step kept is what the cluster holds.
    for (const p of result.placements) expect(cluster.placementOf(p.pod.key)).toBe(p.nodeName);
    expect(cluster.node("a1")?.pods.size).toBe(0);
    // Without a PlacementScore, the first set that fits wins.
    statement.discard();
    const first = placeGroup(
      placementContext(cluster, ownsAll, "MostAllocated", profile),
      new Statement(cluster),
      onlyPendingGroup(gang("g", 3)),
    );
    expect(first.fits && zonesOf(first.placements)).toEqual(new Set(["a"]));
  });

  it("keeps the members' PreFilter states true from one candidate set to the next", () => {
    const cluster = zones();
    // At most two pods in the whole cluster: each set holds the gang, if the states forget the last set.
    const limit = clusterLimit(2, () => cluster.nodes);
    const profile = profileOf([limit.plugin, nodeResourcesFit(cluster), perZone, preferZoneB]);
    const ctx = placementContext(cluster, ownsAll, "MostAllocated", profile);
    const result = placeGroup(ctx, new Statement(cluster), onlyPendingGroup(gang("g", 2)));
    expect(result.fits && zonesOf(result.placements)).toEqual(new Set(["b"]));
    expect(limit.preFilters()).toBe(2);
  });

  it("fails a gang no single set can hold, though the nodes together could", () => {
    const cluster = zones();
    const profile = { ...buildProfile(cluster), placementGenerators: [perZone] };
    const ctx = placementContext(cluster, ownsAll, "MostAllocated", profile);
    const result = placeGroup(ctx, new Statement(cluster), onlyPendingGroup(gang("g", 6)));
    expect(result.fits).toBe(false);
    expect(cluster.nodes.every((n) => n.pods.size === 0)).toBe(true);
    expect(placeGang(ctx, new Statement(cluster), onlyPendingGroup(gang("g", 6))).fits).toBe(true);
  });
});

describe("status codes in preemption", () => {
  it("does not look for victims on nodes no eviction can help (UnschedulableAndUnresolvable)", () => {
    const taint = { key: "dedicated", value: "x", effect: "NoSchedule" as const };
    const cluster = snapshotOf(
      [node("tainted", { cpu: 1, taints: [taint] }), node("open", { cpu: 1 })],
      [pod("low-1", { nodeName: "tainted", priority: 0 }), pod("low-2", { nodeName: "open", priority: 0 })],
    );
    const asked: string[] = [];
    const base = buildProfile(cluster);
    const filters = base.filters.map(
      (plugin): FilterPlugin => ({
        name: plugin.name,
        filter: (p, n, state) => {
          if (plugin.name === "TaintToleration") asked.push(n.name);
          return plugin.filter(p, n, state);
        },
      }),
    );
    const core = new SchedulingCore(cluster, defaultCoreConfig, { ...base, filters });
    const decision = decisionFor(
      core.cycle([onlyPendingGroup([pod("high", { priority: 10 })])], ownsAll),
      "high",
    );
    expect(decision.kind).toBe("preempt");
    if (decision.kind !== "preempt") return;
    expect(decision.plan.victims.flatMap((v) => v.pods.map((p) => p.name))).toEqual(["low-2"]);
    // Asked once, by the placement attempt: preemption skipped the tainted node.
    expect(asked.filter((n) => n === "tainted")).toEqual(["tainted"]);
  });

  it("a request larger than the whole node is unresolvable; one that needs room freed is not", () => {
    const cluster = snapshotOf([node("n1", { cpu: 2 })], [pod("running", { nodeName: "n1", cpu: 2 })]);
    const fit = nodeResourcesFit(cluster);
    const n1 = cluster.node("n1") as NodeInfo;
    expect(fit.filter(toPodInfo(pod("huge", { cpu: 3 })), n1)?.code).toBe("UnschedulableAndUnresolvable");
    expect(fit.filter(toPodInfo(pod("small", { cpu: 1 })), n1)?.code).toBe("Unschedulable");
  });
});

describe("a cycle while gained nodes settle", () => {
  it("defers a group that does not fit: no preemption, no nomination withdrawn, nothing changed", () => {
    const cluster = snapshotOf(
      [node("n1", { cpu: 1 })],
      [
        pod("low", { nodeName: "n1", priority: 0 }),
        pod("waiting", { priority: 5, nominatedNodeName: "n1", cpu: 2 }),
      ],
    );
    const core = new SchedulingCore(cluster);
    const groups = [
      onlyPendingGroup([pod("high", { priority: 10 })]),
      onlyPendingGroup([pod("waiting", { priority: 5, nominatedNodeName: "n1", cpu: 2 })]),
    ];
    const settling = core.cycleUntil(groups, ownsAll, undefined, () => false, {
      gainedNodesSettling: () => true,
    });
    expect(settling.decisions.map((d: Decision) => d.kind)).toEqual(["deferred", "deferred"]);
    expect(cluster.nominatedPod("default/waiting")?.nominatedNodeName).toBe("n1");
    expect(cluster.nominatedPod("default/high")).toBeUndefined();
    const settled = core.cycle(groups, ownsAll);
    expect(settled.map((d) => d.kind)).toEqual(["preempt", "unschedulable"]);
    // The nominations are the Statement's, committed with the decisions.
    expect(cluster.nominatedPod("default/high")?.nominatedNodeName).toBe("n1");
    expect(cluster.nominatedPod("default/waiting")).toBeUndefined();
  });
});
