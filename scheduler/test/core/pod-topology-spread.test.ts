/**
 * PodTopologySpread (plugins/pod-topology-spread/), modelled on kube-scheduler's filtering_test.go
 * and scoring_test.go: the skew rule with minDomains and the inclusion policies, matchLabelKeys,
 * namespaces and terminating pods, AddPod/RemovePod through a gang and through preemption, the
 * ScheduleAnyway score with kube-scheduler's normalisation, cluster-default constraints, and the
 * cheap path for pods without constraints.
 */
import { describe, expect, it } from "vitest";
import type { Pod, TopologySpreadConstraint } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import { CycleState, type ScorePlugin } from "../../src/core/framework.js";
import type { Placement } from "../../src/core/gang-placement.js";
import type { NodeInfo } from "../../src/core/model.js";
import {
  podTopologySpread,
  spreadConstraintsReason,
  spreadCountsOf,
  spreadMissingLabelReason,
} from "../../src/core/plugins/pod-topology-spread/pod-topology-spread.js";
import { podTopologySpreadArgs } from "../../src/core/plugins/pod-topology-spread/spread-constraints.js";
import { buildProfile, type ProfileConfig, preFilter, rejection } from "../../src/core/profile.js";
import { parseProfileConfig } from "../../src/core/profile-config.js";
import { trialPlacement } from "../../src/core/trial-placement.js";
import {
  decisionFor,
  gang,
  type NodeOptions,
  node,
  ownsAll,
  type PodOptions,
  pendingGroupsOf,
  pod,
  snapshotOf,
} from "./fixtures.js";

const zoneKey = "topology.kubernetes.io/zone";
const hostKey = "kubernetes.io/hostname";
const foo = { matchLabels: { foo: "" } };

const spread = (
  topologyKey: string,
  maxSkew = 1,
  extra: Partial<TopologySpreadConstraint> = {},
): TopologySpreadConstraint => ({
  maxSkew,
  topologyKey,
  whenUnsatisfiable: "DoNotSchedule",
  labelSelector: foo,
  ...extra,
});

const soft = (topologyKey: string, maxSkew = 1, extra: Partial<TopologySpreadConstraint> = {}) =>
  spread(topologyKey, maxSkew, { whenUnsatisfiable: "ScheduleAnyway", ...extra });

const withSpread = (p: Pod, ...constraints: TopologySpreadConstraint[]): Pod => ({
  ...p,
  spec: { ...p.spec, topologySpreadConstraints: constraints },
});

/** A pod labelled foo="" (matching the selectors above) with the constraints. */
const spreadPod = (name: string, constraints: TopologySpreadConstraint[], options: PodOptions = {}) =>
  withSpread(pod(name, { labels: { foo: "" }, cpu: "100m", memory: "100Mi", ...options }), ...constraints);

const running = (name: string, nodeName: string, options: PodOptions = {}) =>
  pod(name, { nodeName, labels: { foo: "" }, cpu: "100m", memory: "100Mi", ...options });

/** kube-scheduler's fixture: zone1 = node-a, node-b; zone2 = node-x, node-y. */
const zoned = (name: string, zone: string, options: NodeOptions = {}) =>
  node(name, { ...options, labels: { [zoneKey]: zone, ...options.labels } });
const fourNodes = () => [
  zoned("node-a", "zone1"),
  zoned("node-b", "zone1"),
  zoned("node-x", "zone2"),
  zoned("node-y", "zone2"),
];

/** Which nodes PodTopologySpread's Filter lets the pod onto (after PreFilter), and why not. */
function verdicts(
  nodes: ReturnType<typeof fourNodes>,
  existing: Pod[],
  incoming: Pod,
  config?: ProfileConfig,
) {
  const cluster = snapshotOf(nodes, existing);
  const plugin = podTopologySpread(cluster, config?.pluginArgs?.PodTopologySpread);
  const state = new CycleState();
  const info = toPodInfo(incoming);
  plugin.preFilter(state, info);
  const result: Record<string, string> = {};
  for (const n of cluster.nodes) {
    const status = plugin.filter(info, n, state);
    result[n.name] = status === undefined ? "ok" : `${status.code}: ${status.reasons.join(", ")}`;
  }
  return result;
}

const ok = "ok";
const skewed = `Unschedulable: ${spreadConstraintsReason}`;
const noLabel = `UnschedulableAndUnresolvable: ${spreadMissingLabelReason}`;

/** zone1 holds 3 matching pods (node-a 2, node-b 1), zone2 1 (node-x). */
const threeToOne = () => [
  running("p-a1", "node-a"),
  running("p-a2", "node-a"),
  running("p-b1", "node-b"),
  running("p-x1", "node-x"),
];

describe("PodTopologySpread Filter", () => {
  it("filters a node again with the pods of at least its priority nominated to it, as kube-scheduler", () => {
    // zone1 and zone2 hold one matching pod each; a higher-priority matching pod won node-b.
    const existing = [
      running("p-a1", "node-a"),
      running("p-x1", "node-x"),
      pod("nominee", { labels: { foo: "" }, cpu: "100m", priority: 10, nominatedNodeName: "node-b" }),
    ];
    expect(verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey)]))).toEqual({
      // Only the node it is nominated to is filtered with it (kube-scheduler's two passes).
      "node-a": ok,
      "node-b": skewed,
      "node-x": ok,
      "node-y": ok,
    });
    // A pod of higher priority does not leave room for a lower one.
    expect(
      verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey)], { priority: 20 }))["node-b"],
    ).toBe(ok);
    // A nominee that does not match the selector changes no count.
    const unmatched = existing.map((p) =>
      p.metadata.name === "nominee" ? { ...p, metadata: { ...p.metadata, labels: {} } } : p,
    );
    expect(verdicts(fourNodes(), unmatched, spreadPod("p", [spread(zoneKey)]))["node-b"]).toBe(ok);
  });

  it("counts a domain whose only node is full: removing that node lets the pod in (why it waits for NodeDelete)", () => {
    // zone1 and zone2 hold one matching pod each; zone3's node has no room, yet its 0 is the minimum.
    const nodes = [zoned("node-a", "zone1"), zoned("node-x", "zone2"), zoned("node-z", "zone3", { cpu: 1 })];
    const existing = [
      running("p-a1", "node-a"),
      running("p-x1", "node-x"),
      pod("filler", { nodeName: "node-z", cpu: 1 }),
    ];
    const incoming = spreadPod("p", [spread(zoneKey)]);
    expect(verdicts(nodes, existing, incoming)).toEqual({ "node-a": skewed, "node-x": skewed, "node-z": ok });
    const before = new SchedulingCore(snapshotOf(nodes, existing)).cycle(
      pendingGroupsOf([incoming]),
      ownsAll,
    );
    expect(decisionFor(before, "p").kind).toBe("unschedulable");
    const after = new SchedulingCore(snapshotOf(nodes.slice(0, 2), existing.slice(0, 2))).cycle(
      pendingGroupsOf([incoming]),
      ownsAll,
    );
    expect(decisionFor(after, "p").kind).toBe("bind");
  });

  it("admits only the domains that keep the skew within maxSkew (zone, 3/1 spread)", () => {
    const existing = threeToOne();
    expect(verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey)]))).toEqual({
      "node-a": skewed,
      "node-b": skewed,
      "node-x": ok,
      "node-y": ok,
    });
    // maxSkew 3 tolerates it: 3 + 1 - 1 = 3.
    expect(verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey, 3)]))).toEqual({
      "node-a": ok,
      "node-b": ok,
      "node-x": ok,
      "node-y": ok,
    });
  });

  it("refuses a node without the topology key, unresolvably", () => {
    const nodes = [...fourNodes(), node("node-z")];
    expect(verdicts(nodes, [], spreadPod("p", [spread(zoneKey)]))["node-z"]).toBe(noLabel);
  });

  it("spreads by hostname with two constraints at once (each must hold)", () => {
    const existing = [running("p-a1", "node-a"), running("p-b1", "node-b"), running("p-x1", "node-x")];
    expect(verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey), spread(hostKey)]))).toEqual({
      // zone1 has 2, zone2 has 1: zone1 is too crowded; node-x already has one, node-y none.
      "node-a": skewed,
      "node-b": skewed,
      "node-x": skewed,
      "node-y": ok,
    });
  });

  it("counts the pod itself only when it matches its own selector", () => {
    const existing = [running("p-a1", "node-a")];
    const unlabelled = withSpread(pod("p", { cpu: "100m" }), spread(zoneKey));
    // 1 + 0 - 0 = 1: fits even the crowded zone.
    expect(verdicts(fourNodes(), existing, unlabelled)["node-a"]).toBe(ok);
    expect(verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey)]))["node-a"]).toBe(skewed);
  });

  it("counts only pods of the pod's namespace, and no terminating ones", () => {
    const existing = [
      running("other-ns", "node-a", { namespace: "other" }),
      running("leaving", "node-a", { terminating: true }),
    ];
    expect(verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey)]))["node-a"]).toBe(ok);
  });

  it("takes the global minimum as 0 while there are fewer domains than minDomains", () => {
    const existing = [running("p-a1", "node-a"), running("p-x1", "node-x")];
    // Two domains with one pod each: fits anywhere with maxSkew 1 ...
    expect(Object.values(verdicts(fourNodes(), existing, spreadPod("p", [spread(zoneKey)])))).toEqual([
      ok,
      ok,
      ok,
      ok,
    ]);
    // ... but minDomains 3 wants a third zone: 1 + 1 - 0 > 1 everywhere.
    const wantsThree = spreadPod("p", [spread(zoneKey, 1, { minDomains: 3 })]);
    expect(Object.values(verdicts(fourNodes(), existing, wantsThree))).toEqual([
      skewed,
      skewed,
      skewed,
      skewed,
    ]);
    // maxSkew 2 lets it through.
    const lenient = spreadPod("p", [spread(zoneKey, 2, { minDomains: 3 })]);
    expect(Object.values(verdicts(fourNodes(), existing, lenient))).toEqual([ok, ok, ok, ok]);
  });

  it("nodeAffinityPolicy: Honor (default) counts only the nodes the pod may go to; Ignore counts all", () => {
    const nodes = [
      zoned("node-a", "zone1", { labels: { pool: "a" } }),
      zoned("node-x", "zone2", { labels: { pool: "b" } }),
    ];
    const existing = [running("p-a1", "node-a")];
    const honor = spreadPod("p", [spread(zoneKey)], { nodeSelector: { pool: "a" } });
    // zone2 is no domain for a pod confined to pool a: zone1 is the global minimum.
    expect(verdicts(nodes, existing, honor)["node-a"]).toBe(ok);
    const ignore = spreadPod("p", [spread(zoneKey, 1, { nodeAffinityPolicy: "Ignore" })], {
      nodeSelector: { pool: "a" },
    });
    expect(verdicts(nodes, existing, ignore)["node-a"]).toBe(skewed);
  });

  it("nodeTaintsPolicy: Ignore (default) counts tainted nodes; Honor leaves out the untolerated", () => {
    const nodes = [
      zoned("node-a", "zone1"),
      zoned("node-x", "zone2", { taints: [{ key: "dedicated", value: "x", effect: "NoSchedule" }] }),
    ];
    const existing = [running("p-a1", "node-a")];
    expect(verdicts(nodes, existing, spreadPod("p", [spread(zoneKey)]))["node-a"]).toBe(skewed);
    const honor = spreadPod("p", [spread(zoneKey, 1, { nodeTaintsPolicy: "Honor" })]);
    expect(verdicts(nodes, existing, honor)["node-a"]).toBe(ok);
    const tolerating = spreadPod("p", [spread(zoneKey, 1, { nodeTaintsPolicy: "Honor" })], {
      tolerations: [{ key: "dedicated", operator: "Exists" }],
    });
    expect(verdicts(nodes, existing, tolerating)["node-a"]).toBe(skewed);
  });

  it("matchLabelKeys: only pods with the pod's own values of those labels count", () => {
    const existing = [
      running("old-1", "node-a", { labels: { foo: "", "pod-template-hash": "old" } }),
      running("old-2", "node-b", { labels: { foo: "", "pod-template-hash": "old" } }),
    ];
    const revision = (constraint: TopologySpreadConstraint) =>
      spreadPod("p", [constraint], { labels: { foo: "", "pod-template-hash": "new" } });
    expect(verdicts(fourNodes(), existing, revision(spread(zoneKey)))["node-a"]).toBe(skewed);
    expect(
      verdicts(
        fourNodes(),
        existing,
        revision(spread(zoneKey, 1, { matchLabelKeys: ["pod-template-hash"] })),
      )["node-a"],
    ).toBe(ok);
  });

  it("a missing labelSelector counts no pod (unless matchLabelKeys name some)", () => {
    const existing = [running("p-a1", "node-a"), running("p-a2", "node-a")];
    const noSelector = spreadPod("p", [spread(zoneKey, 1, { labelSelector: undefined })]);
    expect(verdicts(fourNodes(), existing, noSelector)["node-a"]).toBe(ok);
    const keysOnly = spreadPod("p", [
      spread(zoneKey, 1, { labelSelector: undefined, matchLabelKeys: ["foo"] }),
    ]);
    expect(verdicts(fourNodes(), existing, keysOnly)["node-a"]).toBe(skewed);
  });

  it("follows nodes added, removed and relabelled (its cached domains too)", () => {
    const cluster = snapshotOf(fourNodes(), [running("p-a1", "node-a"), running("p-x1", "node-x")]);
    const plugin = podTopologySpread(cluster);
    const info = toPodInfo(spreadPod("p", [spread(zoneKey)]));
    const verdict = (name: string) => {
      const state = new CycleState();
      plugin.preFilter(state, info);
      return plugin.filter(info, cluster.node(name) as NodeInfo, state)?.code ?? "ok";
    };
    expect(verdict("node-a")).toBe("ok");
    // An empty zone3 makes 0 the minimum: zone1 (1 pod) is now too crowded.
    cluster.upsertNode(zoned("node-z", "zone3"));
    expect(verdict("node-a")).toBe("Unschedulable");
    cluster.upsertNode(zoned("node-z", "zone1"));
    expect(verdict("node-a")).toBe("ok");
    cluster.upsertNode(zoned("node-z", "zone4"));
    expect(verdict("node-a")).toBe("Unschedulable");
    cluster.removeNode("node-z");
    expect(verdict("node-a")).toBe("ok");
  });

  it("keeps its counts true through AddPod and RemovePod", () => {
    const cluster = snapshotOf(fourNodes(), [running("p-a1", "node-a")]);
    const plugin = podTopologySpread(cluster);
    const info = toPodInfo(spreadPod("p", [spread(zoneKey)]));
    const state = new CycleState();
    plugin.preFilter(state, info);
    const nodeA = cluster.node("node-a") as NodeInfo;
    const nodeX = cluster.node("node-x") as NodeInfo;
    expect(plugin.filter(info, nodeA, state)).toEqual({
      code: "Unschedulable",
      reasons: [spreadConstraintsReason],
    });
    const other = toPodInfo(running("p-x1", "node-x"));
    plugin.extensions?.addPod(state, info, other, nodeX);
    expect(spreadCountsOf(state)?.[0]).toEqual(
      new Map([
        ["zone1", 1],
        ["zone2", 1],
      ]),
    );
    expect(plugin.filter(info, nodeA, state)).toBeUndefined();
    // A copy taken now (preemption's) is not changed by what happens to the original.
    const copy = state.clone();
    plugin.extensions?.removePod(state, info, other, nodeX);
    expect(plugin.filter(info, nodeA, state)?.code).toBe("Unschedulable");
    expect(plugin.filter(info, nodeA, copy)).toBeUndefined();
    // Pods of another namespace or not matching change nothing.
    plugin.extensions?.addPod(state, info, toPodInfo(running("q", "node-x", { namespace: "other" })), nodeX);
    plugin.extensions?.addPod(state, info, toPodInfo(running("r", "node-x", { labels: {} })), nodeX);
    expect(plugin.filter(info, nodeA, state)?.code).toBe("Unschedulable");
  });
});

const zonesOf = (placements: readonly Placement[]) =>
  placements.map((p) => (p.nodeName.startsWith("a") ? "a" : "b")).sort();

describe("PodTopologySpread through the cycle", () => {
  const zones = () => [
    zoned("a1", "a", { cpu: 8 }),
    zoned("a2", "a", { cpu: 8 }),
    zoned("b1", "b", { cpu: 8 }),
    zoned("b2", "b", { cpu: 8 }),
  ];

  it("spreads a gang's own members over the zones (AddPod sees the members assumed before)", () => {
    const members = gang("g", 4, { labels: { foo: "" }, cpu: 1 }).map((p) => withSpread(p, spread(zoneKey)));
    // Without the constraint, MostAllocated would pack them into one zone (warm is there).
    const warm = pod("warm", { nodeName: "a1", cpu: 4 });
    const state = snapshotOf(zones(), [warm]);
    const decision = decisionFor(new SchedulingCore(state).cycle(pendingGroupsOf(members), ownsAll), "g");
    expect(decision.kind).toBe("bind");
    expect(decision.kind === "bind" && zonesOf(decision.placements)).toEqual(["a", "a", "b", "b"]);
    // The coordinator's trial placement honours it too.
    const group = pendingGroupsOf(members)[0];
    if (!group) throw new Error("no group");
    const trial = trialPlacement(snapshotOf(zones(), [warm]), snapshotOf(zones(), [warm]).nodes, group);
    expect(trial && zonesOf(trial)).toEqual(["a", "a", "b", "b"]);
  });

  it("tells the user why, with kube-scheduler's message, and wakes on pod and node events", () => {
    const nodes = [zoned("a1", "a"), zoned("b1", "b"), node("bare")];
    const existing = [running("p-a1", "a1"), running("p-a2", "a1")];
    const state = snapshotOf(nodes, existing);
    // b1 is too small for it: only a1 passes the other filters, and the spread refuses it.
    const big = spreadPod("p", [spread(zoneKey)], { cpu: 4 });
    const cluster = snapshotOf([zoned("a1", "a"), zoned("b1", "b", { cpu: 1 }), node("bare")], existing);
    const decision = decisionFor(new SchedulingCore(cluster).cycle(pendingGroupsOf([big]), ownsAll), "p");
    expect(decision.kind).toBe("unschedulable");
    if (decision.kind !== "unschedulable") return;
    expect(decision.message).toContain(`1 ${spreadConstraintsReason}`);
    expect(decision.message).toContain(`1 ${spreadMissingLabelReason}`);
    expect(decision.unschedulablePlugins).toContain("PodTopologySpread");
    expect(state.nodes).toHaveLength(3);
  });

  it("preempts the matching pods that make a domain too crowded (RemovePod)", () => {
    const nodes = [zoned("a1", "a", { cpu: 4 }), zoned("b1", "b", { cpu: 4 })];
    const existing = [
      running("low-1", "a1", { priority: 0 }),
      running("low-2", "a1", { priority: 0 }),
      // b1 is full of a pod that cannot be evicted (higher priority), and matches nothing.
      pod("big", { nodeName: "b1", cpu: 4, priority: 1000 }),
    ];
    const state = snapshotOf(nodes, existing);
    const high = spreadPod("high", [spread(zoneKey)], { priority: 100 });
    const decision = decisionFor(new SchedulingCore(state).cycle(pendingGroupsOf([high]), ownsAll), "high");
    expect(decision.kind).toBe("preempt");
    // Zone a holds 2, zone b 0: both must go for 0 + 1 - 0 <= 1.
    expect(
      decision.kind === "preempt" && decision.plan.victims.flatMap((v) => v.pods.map((p) => p.name)).sort(),
    ).toEqual(["low-1", "low-2"]);
  });
});

/** The normalised PodTopologySpread scores of the nodes, as the cycle computes them. */
function spreadScores(nodes: ReturnType<typeof fourNodes>, existing: Pod[], incoming: Pod) {
  const cluster = snapshotOf(nodes, existing);
  const plugin = podTopologySpread(cluster);
  const info = toPodInfo(incoming);
  const state = new CycleState();
  expect(plugin.scoresPod?.(info)).toBe(true);
  expect(plugin.preScore(state, info, cluster.nodes)).toBeUndefined();
  const scores = cluster.nodes.map((n) => plugin.score(info, n, state));
  plugin.normalize?.(scores, info, state);
  return Object.fromEntries(cluster.nodes.map((n, i) => [n.name, scores[i]]));
}

describe("PodTopologySpread Score", () => {
  it("gives every node 100 when no pod matches", () => {
    expect(spreadScores(fourNodes(), [], spreadPod("p", [soft(zoneKey)]))).toEqual({
      "node-a": 100,
      "node-b": 100,
      "node-x": 100,
      "node-y": 100,
    });
  });

  it("prefers the less crowded hostname: kube-scheduler's weights and normalisation", () => {
    // Raw: count × ln(4 nodes + 2) + (maxSkew - 1): node-a 2 → round(3.58) = 4, node-b 1 → 2, others 0.
    const existing = [running("p-a1", "node-a"), running("p-a2", "node-a"), running("p-b1", "node-b")];
    expect(spreadScores(fourNodes(), existing, spreadPod("p", [soft(hostKey)]))).toEqual({
      "node-a": 0,
      "node-b": 50,
      "node-x": 100,
      "node-y": 100,
    });
  });

  it("prefers the less crowded zone, and scores nodes missing the key 0", () => {
    // zone1: 3 matching, zone2: 1. Raw: zone1 round(3 × ln 4) = 4, zone2 round(ln 4) = 1.
    const existing = threeToOne();
    expect(spreadScores([...fourNodes(), node("node-z")], existing, spreadPod("p", [soft(zoneKey)]))).toEqual(
      {
        "node-a": 25,
        "node-b": 25,
        "node-x": 100,
        "node-y": 100,
        "node-z": 0,
      },
    );
  });

  it("spreads soft-constrained pods that would otherwise pack (weight 2 beside MostAllocated)", () => {
    const nodes = [zoned("a1", "a", { cpu: 8 }), zoned("b1", "b", { cpu: 8 })];
    const existing = [pod("warm", { nodeName: "a1", cpu: 2 }), running("p-a1", "a1"), running("p-a2", "a1")];
    const state = snapshotOf(nodes, existing);
    const decision = decisionFor(
      new SchedulingCore(state).cycle(pendingGroupsOf([spreadPod("p", [soft(zoneKey)])]), ownsAll),
      "p",
    );
    expect(decision.kind === "bind" && decision.placements.map((p) => p.nodeName)).toEqual(["b1"]);
    // The same pod without the constraint packs onto a1.
    const plain = pod("q", { labels: { foo: "" }, cpu: "100m", memory: "100Mi" });
    const packed = decisionFor(
      new SchedulingCore(snapshotOf(nodes, existing)).cycle(pendingGroupsOf([plain]), ownsAll),
      "q",
    );
    expect(packed.kind === "bind" && packed.placements.map((p) => p.nodeName)).toEqual(["a1"]);
  });
});

describe("PodTopologySpread cluster defaults", () => {
  const web = (name: string, nodeName?: string) =>
    pod(name, { labels: { app: "web" }, cpu: "100m", memory: "100Mi", ...(nodeName ? { nodeName } : {}) });

  it("applies kube-scheduler's System defaults to pods a Service selects (hostname maxSkew 3)", () => {
    const nodes = [node("n1", { cpu: 8 }), node("n2", { cpu: 8 })];
    const existing = [
      pod("warm", { nodeName: "n1", cpu: 2 }),
      web("w1", "n1"),
      web("w2", "n1"),
      web("w3", "n1"),
    ];
    const state = snapshotOf(nodes, existing);
    const profile = buildProfile(state);
    const spreadPlugin = profile.scores.find((s) => s.plugin.name === "PodTopologySpread")
      ?.plugin as ScorePlugin;
    // Nothing selects the pod yet: no default constraints, no score.
    expect(spreadPlugin.scoresPod?.(toPodInfo(web("w4")))).toBe(false);
    state.spreadSelectors.set("Service", "default", "web", { matchLabels: { app: "web" } });
    expect(spreadPlugin.scoresPod?.(toPodInfo(web("w4")))).toBe(true);
    const decision = decisionFor(
      new SchedulingCore(state).cycle(pendingGroupsOf([web("w4")]), ownsAll),
      "w4",
    );
    expect(decision.kind === "bind" && decision.placements.map((p) => p.nodeName)).toEqual(["n2"]);
    // A pod with constraints of its own gets no defaults.
    const own = withSpread(web("w5"), spread(zoneKey, 1, { whenUnsatisfiable: "DoNotSchedule" }));
    expect(spreadPlugin.scoresPod?.(toPodInfo(own))).toBe(false);
  });

  it("uses the controller's selector (ReplicaSet) and List defaults from the profile, DoNotSchedule too", () => {
    const config = parseProfileConfig({
      pluginConfig: [
        {
          name: "PodTopologySpread",
          args: {
            defaultingType: "List",
            defaultConstraints: [{ maxSkew: 1, topologyKey: zoneKey, whenUnsatisfiable: "DoNotSchedule" }],
          },
        },
      ],
    });
    if (!config.ok) throw new Error(config.reason);
    const owned = (p: Pod): Pod => ({
      ...p,
      metadata: {
        ...p.metadata,
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-1", uid: "u", controller: true },
        ],
      },
    });
    const existing = [owned(web("w1", "node-a")), owned(web("w2", "node-b"))];
    expect(verdicts(fourNodes(), existing, owned(web("w3")), config.value)["node-a"]).toBe(ok);
    const cluster = snapshotOf(fourNodes(), existing);
    cluster.spreadSelectors.set("ReplicaSet", "default", "web-1", { matchLabels: { app: "web" } });
    const profile = buildProfile(cluster, config.value);
    const state = preFilter(profile, toPodInfo(owned(web("w3"))));
    expect(
      rejection(profile, toPodInfo(owned(web("w3"))), cluster.node("node-a") as NodeInfo, state.state),
    ).toEqual({
      plugin: "PodTopologySpread",
      status: { code: "Unschedulable", reasons: [spreadConstraintsReason] },
    });
    expect(
      rejection(profile, toPodInfo(owned(web("w3"))), cluster.node("node-x") as NodeInfo, state.state),
    ).toBeUndefined();
  });

  it("checks its arguments as kube-scheduler's ValidatePodTopologySpreadArgs", () => {
    expect(podTopologySpreadArgs({})).toEqual({
      ok: true,
      value: { defaultConstraints: [], defaultingType: "System" },
    });
    const bad = (args: unknown) => {
      const result = podTopologySpreadArgs(args);
      return result.ok ? "ok" : result.reason;
    };
    expect(
      bad({ defaultingType: "System", defaultConstraints: [soft(zoneKey, 1, { labelSelector: undefined })] }),
    ).toBe("defaultConstraints must be empty when defaultingType is System");
    expect(bad({ defaultingType: "List", defaultConstraints: [soft(zoneKey)] })).toBe(
      "defaultConstraints[0].labelSelector: must not be set, the selector is deduced for each pod",
    );
    expect(
      bad({
        defaultingType: "List",
        defaultConstraints: [
          { maxSkew: 1, topologyKey: zoneKey, whenUnsatisfiable: "ScheduleAnyway" },
          { maxSkew: 2, topologyKey: zoneKey, whenUnsatisfiable: "ScheduleAnyway" },
        ],
      }),
    ).toContain("is given twice");
    expect(
      bad({ defaultingType: "List", defaultConstraints: [{ maxSkew: 0, topologyKey: zoneKey }] }),
    ).toContain("maxSkew must be an integer > 0");
    expect(bad({ defaultingType: "Cluster" })).toContain("defaultingType must be System or List");
    const profile = parseProfileConfig({
      pluginConfig: [{ name: "PodTopologySpread", args: { defaultingType: "Nope" } }],
    });
    expect(profile.ok === false && profile.reason).toContain("pluginConfig[0].args (PodTopologySpread)");
    // Weights: PodTopologySpread defaults to 2 and may be set like any score plugin's.
    const weighted = parseProfileConfig({ scoreWeights: { PodTopologySpread: 5 } });
    expect(weighted.ok && weighted.value.scoreWeights).toEqual({ PodTopologySpread: 5 });
  });
});

describe("PodTopologySpread for pods without constraints", () => {
  it("writes no state, scores nothing, and keeps preemption's memo usable", () => {
    const cluster = snapshotOf(fourNodes(), [running("p-a1", "node-a")]);
    const plugin = podTopologySpread(cluster);
    const plain = toPodInfo(pod("p"));
    const state = new CycleState();
    expect(plugin.preFilter(state, plain)).toBeUndefined();
    expect(state.clone()).toEqual(new CycleState());
    expect(plugin.scoresPod?.(plain)).toBe(false);
    expect(plugin.podOnlyFor?.(plain)).toBe(true);
    expect(plain.spreadConstraints).toBe(toPodInfo(pod("q")).spreadConstraints);
    expect(plugin.podOnlyFor?.(toPodInfo(spreadPod("s", [spread(zoneKey)])))).toBe(false);
    expect(plugin.podOnlyFor?.(toPodInfo(spreadPod("s", [soft(zoneKey)])))).toBe(true);
  });
});
