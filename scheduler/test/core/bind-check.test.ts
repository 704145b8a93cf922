/**
 * The check before bind (core/bind-check.ts): the profile's plugins that span nodes judge each
 * member again on its chosen node against the latest cluster, the member itself off its node and
 * the rest of its gang on theirs. Tested with a small test-only plugin (spanning-plugin.ts), and
 * with the default profile's InterPodAffinity below.
 */
import { describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/api-types.js";
import {
  checkBeforeBind,
  needsCheckBeforeBind,
  type SpanningPlugins,
  spanningProfile,
} from "../../src/core/bind-check.js";
import { toPodInfo } from "../../src/core/build-info.js";
import type { ClusterState } from "../../src/core/cluster-state.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import type { PodInfo } from "../../src/core/model.js";
import { nodeResourcesFit } from "../../src/core/plugins/node-resources/node-resources-fit.js";
import { buildProfile, profileOf } from "../../src/core/profile.js";
import { decisionFor, node, ownsAll, pendingGroupsOf, pod, requestedByNode, snapshotOf } from "./fixtures.js";
import {
  type CountingPlugin,
  testZoneAntiAffinity,
  testZoneAntiAffinityName,
  zoneKey,
} from "./spanning-plugin.js";

const term = { labelSelector: { matchLabels: { app: "web" } }, topologyKey: zoneKey };

/** app=web; with required anti-affinity unless told otherwise. */
function web(name: string, options: { anti?: boolean; nodeName?: string; group?: string } = {}): Pod {
  const p = pod(name, { labels: { app: "web" }, nodeName: options.nodeName, group: options.group });
  if (options.anti === false) return p;
  return {
    ...p,
    spec: {
      ...p.spec,
      affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } },
    },
  };
}

const nodes = () => [
  node("a1", { labels: { [zoneKey]: "a" } }),
  node("a2", { labels: { [zoneKey]: "a" } }),
  node("b1", { labels: { [zoneKey]: "b" } }),
];

/** A cluster, the test plugin, and its spanning profile. */
function setUp(
  pods: readonly Pod[] = [],
  name = testZoneAntiAffinityName,
): {
  cluster: ClusterState;
  plugin: CountingPlugin;
  spanning: SpanningPlugins;
} {
  const cluster = snapshotOf(nodes(), pods);
  const plugin = testZoneAntiAffinity(cluster, name);
  const spanning = spanningProfile(profileOf([plugin, nodeResourcesFit(cluster)])) as SpanningPlugins;
  return { cluster, plugin, spanning };
}

/** What the cycle's decision left in the cluster: the members assumed on their nodes. */
function decided(cluster: ClusterState, placements: [Pod, string][]): { pod: PodInfo; nodeName: string }[] {
  return placements.map(([p, nodeName]) => {
    const info = toPodInfo(p);
    cluster.assume(info, nodeName);
    return { pod: info, nodeName };
  });
}

describe("spanningProfile", () => {
  it("keeps only the plugins that span nodes, and is undefined without any", () => {
    const { cluster, plugin, spanning } = setUp();
    expect(spanning.profile.preFilters).toEqual([plugin]);
    expect(spanning.profile.filters).toEqual([plugin]);
    expect(spanning.plugins).toEqual([plugin]);
    // A plugin without podOnlyFor is asked about every pod; one with it only about pods it may reject.
    expect(needsCheckBeforeBind(spanning, toPodInfo(web("plain", { anti: false })))).toBe(true);
    const standIn = setUp([], "InterPodAffinity").spanning;
    expect(needsCheckBeforeBind(standIn, toPodInfo(web("plain", { anti: false })))).toBe(false);
    expect(needsCheckBeforeBind(standIn, toPodInfo(web("anti")))).toBe(true);
    expect(spanningProfile(profileOf([nodeResourcesFit(cluster)]))).toBeUndefined();
  });
});

describe("checkBeforeBind", () => {
  it("rejects a placement a pod bound since the decision (by another shard) now forbids", () => {
    const { cluster, spanning } = setUp();
    const placements = decided(cluster, [[web("w-0"), "a1"]]);
    cluster.upsertPod(toPodInfo(web("w-1", { nodeName: "a2" })));
    expect(checkBeforeBind(spanning, cluster, placements)).toMatchObject({
      pod: { key: "default/w-0" },
      nodeName: "a1",
      plugin: testZoneAntiAffinityName,
      reasons: ["node(s) didn't match pod anti-affinity rules"],
    });
  });

  it("judges the member without itself: alone in its zone, it passes", () => {
    const { cluster, spanning } = setUp([web("w-9", { nodeName: "b1" })]);
    expect(checkBeforeBind(spanning, cluster, decided(cluster, [[web("w-0"), "a1"]]))).toBeUndefined();
  });

  it("an unconstrained pod is rejected by a running pod's required anti-affinity (symmetry)", () => {
    const { cluster, spanning } = setUp([], "InterPodAffinity");
    const placements = decided(cluster, [[web("plain", { anti: false }), "a1"]]);
    cluster.upsertPod(toPodInfo(web("w-1", { nodeName: "a2" })));
    expect(checkBeforeBind(spanning, cluster, placements)).toMatchObject({
      reasons: ["node(s) didn't satisfy existing pods anti-affinity rules"],
    });
  });

  it("counts the rest of the gang where the decision put them", () => {
    const { cluster, spanning } = setUp();
    const apart = decided(cluster, [
      [web("g-0", { group: "g" }), "a1"],
      [web("g-1", { group: "g" }), "b1"],
    ]);
    expect(checkBeforeBind(spanning, cluster, apart)).toBeUndefined();
    const together = decided(cluster, [[web("g-1", { group: "g" }), "a2"]]);
    expect(checkBeforeBind(spanning, cluster, [apart[0] as (typeof apart)[0], ...together])).toMatchObject({
      pod: { key: "default/g-0" },
    });
  });

  it("asks kube's spanning plugins nothing about a pod without required inter-pod constraints while no running pod has anti-affinity", () => {
    const { cluster, plugin, spanning } = setUp(
      [web("soft", { anti: false, nodeName: "a2" })],
      "InterPodAffinity",
    );
    const plain = decided(cluster, [[web("plain", { anti: false }), "a1"]]);
    expect(needsCheckBeforeBind(spanning, plain[0]?.pod as PodInfo)).toBe(false);
    expect(checkBeforeBind(spanning, cluster, plain)).toBeUndefined();
    expect(plugin.filterCalls).toBe(0);
    // A plugin whose PreFilter skips the pod is not asked either.
    const unlabelled = pod("other");
    const withAnti = { ...unlabelled, spec: { ...unlabelled.spec, affinity: web("x").spec.affinity } };
    expect(checkBeforeBind(spanning, cluster, decided(cluster, [[withAnti, "a1"]]))).toBeUndefined();
    expect(plugin.filterCalls).toBe(0);
  });

  it("asks any other spanning plugin about every pod (its PreFilter may skip it)", () => {
    const { cluster, plugin, spanning } = setUp([web("soft", { anti: false, nodeName: "a2" })]);
    expect(
      checkBeforeBind(spanning, cluster, decided(cluster, [[web("plain", { anti: false }), "a1"]])),
    ).toBeUndefined();
    expect(plugin.filterCalls).toBe(1);
  });

  it("leaves the cluster exactly as it found it, rejection or not", () => {
    const { cluster, spanning } = setUp([web("w-1", { nodeName: "a2" })]);
    const placements = decided(cluster, [[web("w-0"), "a1"]]);
    const before = {
      requested: requestedByNode(cluster),
      placed: cluster.placedPods,
      on: cluster.placementOf("default/w-0"),
    };
    expect(checkBeforeBind(spanning, cluster, placements)).toBeDefined();
    expect({
      requested: requestedByNode(cluster),
      placed: cluster.placedPods,
      on: cluster.placementOf("default/w-0"),
    }).toEqual(before);
  });

  it("catches what the cycle could not see: a cycle's decision, then another shard's bind", () => {
    const cluster = snapshotOf(nodes());
    const plugin = testZoneAntiAffinity(cluster);
    const base = buildProfile(cluster);
    const profile = profileOf([
      plugin,
      ...base.filters.filter((f) => f.name !== plugin.name),
      ...base.scores.map((s) => s.plugin),
    ]);
    const core = new SchedulingCore(cluster, undefined, profile);
    const mine = web("w-0");
    const decision = decisionFor(core.cycle(pendingGroupsOf([mine]), ownsAll), "w-0");
    if (decision.kind !== "bind") throw new Error(`expected a bind, got ${decision.kind}`);
    const chosen = decision.placements[0]?.nodeName as string;
    const sameZone = chosen === "b1" ? "b1" : chosen === "a1" ? "a2" : "a1";
    // The other shard's pod lands in the chosen zone (on b1 itself when b was chosen).
    cluster.upsertPod(toPodInfo(web("theirs", { nodeName: sameZone })));
    expect(
      checkBeforeBind(spanningProfile(profile) as SpanningPlugins, cluster, decision.placements),
    ).toMatchObject({
      plugin: testZoneAntiAffinityName,
    });
  });

  it("runs the default profile's InterPodAffinity and PodTopologySpread: another shard's bind in the zone rejects, a plain pod is not checked", () => {
    const cluster = snapshotOf(nodes());
    const profile = buildProfile(cluster);
    const spanning = spanningProfile(profile) as SpanningPlugins;
    expect(spanning.plugins.map((p) => p.name)).toEqual(
      expect.arrayContaining(["InterPodAffinity", "PodTopologySpread"]),
    );
    const core = new SchedulingCore(cluster, undefined, profile);
    const decision = decisionFor(core.cycle(pendingGroupsOf([web("w-0")]), ownsAll), "w-0");
    if (decision.kind !== "bind") throw new Error(`expected a bind, got ${decision.kind}`);
    const chosen = decision.placements[0]?.nodeName as string;
    expect(checkBeforeBind(spanning, cluster, decision.placements)).toBeUndefined();
    const sameZone = chosen === "b1" ? "b1" : chosen === "a1" ? "a2" : "a1";
    cluster.upsertPod(toPodInfo(web("theirs", { nodeName: sameZone })));
    expect(checkBeforeBind(spanning, cluster, decision.placements)).toMatchObject({
      plugin: "InterPodAffinity",
      reasons: ["node(s) didn't match pod anti-affinity rules"],
    });
    // A pod without inter-pod constraints, in a cluster where no pod has required anti-affinity
    // (the placed ones removed), is judged the same on every node: not checked.
    cluster.removePod("default/theirs");
    cluster.removePod("default/w-0");
    expect(needsCheckBeforeBind(spanning, toPodInfo(pod("plain")))).toBe(false);
    // A DoNotSchedule spread constraint makes it depend on other nodes again.
    const spread = pod("spread", { labels: { app: "web" } });
    spread.spec.topologySpreadConstraints = [
      {
        maxSkew: 1,
        topologyKey: zoneKey,
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: { matchLabels: { app: "web" } },
      },
    ];
    expect(needsCheckBeforeBind(spanning, toPodInfo(spread))).toBe(true);
  });
});
