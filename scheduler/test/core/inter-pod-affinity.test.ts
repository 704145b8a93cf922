/**
 * InterPodAffinity (plugins/inter-pod-affinity/), after kube-scheduler 1.37's filtering_test.go
 * and scoring_test.go tables: the plugin alone on a node list, then through the shard's cycle
 * (gang members see each other), preemption and the coordinator's trial placement.
 */
import { describe, expect, it } from "vitest";
import type { Pod, PodAffinityTerm, WeightedPodAffinityTerm } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import type { ClusterState } from "../../src/core/cluster-state.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import { CycleState } from "../../src/core/framework.js";
import {
  affinityRulesReason,
  antiAffinityRulesReason,
  existingAntiAffinityReason,
  interPodAffinity,
  interPodAffinityArgs,
  mayBeConstrainedByInterPodAffinity,
} from "../../src/core/plugins/inter-pod-affinity/inter-pod-affinity.js";
import { noInterPodAffinity } from "../../src/core/plugins/inter-pod-affinity/terms.js";
import { parseProfileConfig } from "../../src/core/profile-config.js";
import { trialPlacement } from "../../src/core/trial-placement.js";
import {
  decisionFor,
  gang,
  node,
  ownsAll,
  type PodOptions,
  pendingGroupsOf,
  pod,
  snapshotOf,
} from "./fixtures.js";

const zone = "topology.kubernetes.io/zone";
const hostname = "kubernetes.io/hostname";

interface Affinity {
  affinity?: PodAffinityTerm[];
  anti?: PodAffinityTerm[];
  preferred?: WeightedPodAffinityTerm[];
  preferredAnti?: WeightedPodAffinityTerm[];
}

/** A pod with pod (anti-)affinity terms. */
function affine(name: string, terms: Affinity, options: PodOptions = {}): Pod {
  const p = pod(name, options);
  return {
    ...p,
    spec: {
      ...p.spec,
      affinity: {
        ...(terms.affinity || terms.preferred
          ? {
              podAffinity: {
                ...(terms.affinity ? { requiredDuringSchedulingIgnoredDuringExecution: terms.affinity } : {}),
                ...(terms.preferred
                  ? { preferredDuringSchedulingIgnoredDuringExecution: terms.preferred }
                  : {}),
              },
            }
          : {}),
        ...(terms.anti || terms.preferredAnti
          ? {
              podAntiAffinity: {
                ...(terms.anti ? { requiredDuringSchedulingIgnoredDuringExecution: terms.anti } : {}),
                ...(terms.preferredAnti
                  ? { preferredDuringSchedulingIgnoredDuringExecution: terms.preferredAnti }
                  : {}),
              },
            }
          : {}),
      },
    },
  };
}

const term = (labels: Record<string, string>, topologyKey: string, extra: Partial<PodAffinityTerm> = {}) => ({
  labelSelector: { matchLabels: labels },
  topologyKey,
  ...extra,
});

/** Nodes in two regions / zones: n1, n2 in zone a; n3 in zone b; n4 has no zone label. */
const nodes = () => [
  node("n1", { labels: { [zone]: "a", region: "r1" } }),
  node("n2", { labels: { [zone]: "a", region: "r1" } }),
  node("n3", { labels: { [zone]: "b", region: "r2" } }),
  node("n4", { labels: {} }),
];

/** The plugin's verdict on every node: "ok" or the reason (with the code's first letter). */
function verdicts(cluster: ClusterState, incoming: Pod): Record<string, string> {
  const plugin = interPodAffinity(cluster);
  const state = new CycleState();
  const info = toPodInfo(incoming);
  const pre = plugin.preFilter(state, info);
  const result: Record<string, string> = {};
  for (const n of cluster.nodes) {
    if (pre !== undefined && pre.code !== "Success") {
      result[n.name] = `${pre.code}: ${pre.reasons.join(", ")}`;
      continue;
    }
    const status = plugin.filter(info, n, state);
    result[n.name] = status === undefined ? "ok" : `${status.code}: ${status.reasons.join(", ")}`;
  }
  return result;
}

const affinityMiss = `UnschedulableAndUnresolvable: ${affinityRulesReason}`;
const antiMiss = `Unschedulable: ${antiAffinityRulesReason}`;
const existingMiss = `Unschedulable: ${existingAntiAffinityReason}`;

describe("InterPodAffinity Filter", () => {
  it("lets a pod without terms anywhere, writing no state, in a cluster without anti-affinity", () => {
    const cluster = snapshotOf(nodes(), [pod("web", { nodeName: "n1", labels: { app: "web" } })]);
    expect(toPodInfo(pod("plain")).interPodAffinity).toBe(noInterPodAffinity);
    const state = new CycleState();
    expect(interPodAffinity(cluster).preFilter(state, toPodInfo(pod("plain")))).toBeUndefined();
    expect(state.read("InterPodAffinity")).toBeUndefined();
    expect(verdicts(cluster, pod("plain"))).toEqual({ n1: "ok", n2: "ok", n3: "ok", n4: "ok" });
  });

  it("places a pod with affinity in the topology domain of a matching pod only", () => {
    const cluster = snapshotOf(nodes(), [
      pod("scan", { nodeName: "n1", labels: { service: "securityscan" } }),
    ]);
    const incoming = affine("p", { affinity: [term({ service: "securityscan" }, "region")] });
    expect(verdicts(cluster, incoming)).toEqual({ n1: "ok", n2: "ok", n3: affinityMiss, n4: affinityMiss });
  });

  it("supports In, NotIn, Exists and DoesNotExist in the selector", () => {
    const cluster = snapshotOf(nodes(), [
      pod("scan", { nodeName: "n3", labels: { service: "securityscan", tier: "x" } }),
    ]);
    const incoming = affine("p", {
      affinity: [
        {
          labelSelector: {
            matchExpressions: [
              { key: "service", operator: "In", values: ["securityscan", "value2"] },
              { key: "tier", operator: "Exists" },
              { key: "banned", operator: "DoesNotExist" },
              { key: "service", operator: "NotIn", values: ["other"] },
            ],
          },
          topologyKey: zone,
        },
      ],
    });
    expect(verdicts(cluster, incoming)).toEqual({
      n1: affinityMiss,
      n2: affinityMiss,
      n3: "ok",
      n4: affinityMiss,
    });
  });

  it("needs ONE pod matching all affinity terms: two pods matching one each are not enough", () => {
    const cluster = snapshotOf(nodes(), [
      pod("a", { nodeName: "n1", labels: { app: "a" } }),
      pod("b", { nodeName: "n1", labels: { tier: "b" } }),
    ]);
    const incoming = affine("p", { affinity: [term({ app: "a" }, zone), term({ tier: "b" }, zone)] });
    expect(Object.values(verdicts(cluster, incoming))).toEqual([
      affinityMiss,
      affinityMiss,
      affinityMiss,
      affinityMiss,
    ]);
    const both = snapshotOf(nodes(), [pod("ab", { nodeName: "n3", labels: { app: "a", tier: "b" } })]);
    expect(verdicts(both, incoming)).toEqual({
      n1: affinityMiss,
      n2: affinityMiss,
      n3: "ok",
      n4: affinityMiss,
    });
  });

  it("lets the first pod of a group with affinity to itself go anywhere with the topology key", () => {
    const cluster = snapshotOf(nodes(), [pod("other", { nodeName: "n1", labels: { app: "other" } })]);
    const self = affine("p", { affinity: [term({ app: "db" }, zone)] }, { labels: { app: "db" } });
    expect(verdicts(cluster, self)).toEqual({ n1: "ok", n2: "ok", n3: "ok", n4: affinityMiss });
    // Not when the pod does not match its own terms…
    const notSelf = affine("q", { affinity: [term({ app: "db" }, zone)] }, { labels: { app: "web" } });
    expect(Object.values(verdicts(cluster, notSelf)).every((v) => v === affinityMiss)).toBe(true);
    // …nor once a matching pod runs somewhere: then only its domain.
    const withDb = snapshotOf(nodes(), [pod("db", { nodeName: "n3", labels: { app: "db" } })]);
    expect(verdicts(withDb, self)).toEqual({
      n1: affinityMiss,
      n2: affinityMiss,
      n3: "ok",
      n4: affinityMiss,
    });
  });

  it("applies the first-pod exception to hostname-only affinity too", () => {
    const cluster = snapshotOf(nodes(), []);
    const self = affine("p", { affinity: [term({ app: "db" }, hostname)] }, { labels: { app: "db" } });
    expect(verdicts(cluster, self)).toEqual({ n1: "ok", n2: "ok", n3: "ok", n4: "ok" });
    const withDb = snapshotOf(nodes(), [pod("db", { nodeName: "n2", labels: { app: "db" } })]);
    expect(verdicts(withDb, self)).toEqual({
      n1: affinityMiss,
      n2: "ok",
      n3: affinityMiss,
      n4: affinityMiss,
    });
  });

  it("looks in the pod's own namespace unless namespaces or a namespaceSelector say otherwise", () => {
    const cluster = snapshotOf(nodes(), [
      pod("scan", { nodeName: "n3", namespace: "security", labels: { service: "scan" } }),
    ]);
    cluster.upsertNamespace("security", { team: "sec" });
    cluster.upsertNamespace("default", {});
    const own = affine("p", { affinity: [term({ service: "scan" }, zone)] });
    expect(verdicts(cluster, own).n3).toBe(affinityMiss);
    const named = affine("p", { affinity: [term({ service: "scan" }, zone, { namespaces: ["security"] })] });
    expect(verdicts(cluster, named)).toEqual({
      n1: affinityMiss,
      n2: affinityMiss,
      n3: "ok",
      n4: affinityMiss,
    });
    const selected = affine("p", {
      affinity: [term({ service: "scan" }, zone, { namespaceSelector: { matchLabels: { team: "sec" } } })],
    });
    expect(verdicts(cluster, selected).n3).toBe("ok");
    const otherTeam = affine("p", {
      affinity: [term({ service: "scan" }, zone, { namespaceSelector: { matchLabels: { team: "ops" } } })],
    });
    expect(verdicts(cluster, otherTeam).n3).toBe(affinityMiss);
    // An empty namespaceSelector selects every namespace.
    const all = affine("p", { affinity: [term({ service: "scan" }, zone, { namespaceSelector: {} })] });
    expect(verdicts(cluster, all).n3).toBe("ok");
  });

  it("keeps a pod with anti-affinity out of the domains of matching pods (hostname and zone)", () => {
    const cluster = snapshotOf(nodes(), [pod("web", { nodeName: "n1", labels: { app: "web" } })]);
    const byHost = affine("p", { anti: [term({ app: "web" }, hostname)] });
    expect(verdicts(cluster, byHost)).toEqual({ n1: antiMiss, n2: "ok", n3: "ok", n4: "ok" });
    const byZone = affine("p", { anti: [term({ app: "web" }, zone)] });
    expect(verdicts(cluster, byZone)).toEqual({ n1: antiMiss, n2: antiMiss, n3: "ok", n4: "ok" });
  });

  it("honours existing pods' required anti-affinity against the incoming pod (symmetry)", () => {
    const cluster = snapshotOf(nodes(), [
      affine("guard", { anti: [term({ app: "web" }, hostname)] }, { nodeName: "n1" }),
      affine("zoneGuard", { anti: [term({ app: "web" }, zone)] }, { nodeName: "n3" }),
    ]);
    const web = pod("p", { labels: { app: "web" } });
    expect(verdicts(cluster, web)).toEqual({ n1: existingMiss, n2: "ok", n3: existingMiss, n4: "ok" });
    expect(verdicts(cluster, pod("q", { labels: { app: "db" } }))).toEqual({
      n1: "ok",
      n2: "ok",
      n3: "ok",
      n4: "ok",
    });
  });

  it("matches existing pods' namespaceSelector against the incoming pod's namespace labels", () => {
    const cluster = snapshotOf(nodes(), [
      affine(
        "guard",
        { anti: [term({ app: "web" }, zone, { namespaceSelector: { matchLabels: { env: "prod" } } })] },
        { nodeName: "n1", namespace: "guards" },
      ),
    ]);
    cluster.upsertNamespace("prod-a", { env: "prod" });
    cluster.upsertNamespace("dev-a", { env: "dev" });
    const prod = pod("p", { namespace: "prod-a", labels: { app: "web" } });
    const dev = pod("p", { namespace: "dev-a", labels: { app: "web" } });
    expect(verdicts(cluster, prod)).toEqual({ n1: existingMiss, n2: existingMiss, n3: "ok", n4: "ok" });
    expect(verdicts(cluster, dev).n1).toBe("ok");
  });

  it("merges matchLabelKeys and mismatchLabelKeys with the pod's own label values", () => {
    const cluster = snapshotOf(nodes(), [
      pod("old", { nodeName: "n1", labels: { app: "web", "pod-template-hash": "v1" } }),
      pod("new", { nodeName: "n3", labels: { app: "web", "pod-template-hash": "v2" } }),
    ]);
    const v2 = affine(
      "p",
      { anti: [term({ app: "web" }, hostname, { matchLabelKeys: ["pod-template-hash"] })] },
      { labels: { app: "web", "pod-template-hash": "v2" } },
    );
    // Only the same version repels it.
    expect(verdicts(cluster, v2)).toEqual({ n1: "ok", n2: "ok", n3: antiMiss, n4: "ok" });
    const others = affine(
      "p",
      { anti: [term({ app: "web" }, hostname, { mismatchLabelKeys: ["pod-template-hash"] })] },
      { labels: { app: "web", "pod-template-hash": "v2" } },
    );
    expect(verdicts(cluster, others)).toEqual({ n1: antiMiss, n2: "ok", n3: "ok", n4: "ok" });
    // A selector the API server already merged the key into is not merged again.
    const merged = affine(
      "p",
      {
        anti: [
          {
            labelSelector: {
              matchLabels: { app: "web" },
              matchExpressions: [{ key: "pod-template-hash", operator: "In", values: ["v1"] }],
            },
            matchLabelKeys: ["pod-template-hash"],
            topologyKey: hostname,
          },
        ],
      },
      { labels: { app: "web", "pod-template-hash": "v2" } },
    );
    expect(verdicts(cluster, merged)).toEqual({ n1: antiMiss, n2: "ok", n3: "ok", n4: "ok" });
  });

  it("refuses a pod whose terms cannot be parsed, as kube-scheduler's parsing error", () => {
    const cluster = snapshotOf(nodes(), []);
    const bad = affine("p", {
      anti: [
        {
          labelSelector: { matchExpressions: [{ key: "app", operator: "In", values: [] }] },
          topologyKey: zone,
        },
      ],
    });
    expect(verdicts(cluster, bad).n1).toMatch(
      /^UnschedulableAndUnresolvable: parsing pod: requiredAntiAffinityTerms: /,
    );
  });

  it("keeps its counts true as pods are added and removed (AddPod/RemovePod)", () => {
    const cluster = snapshotOf(nodes(), []);
    const plugin = interPodAffinity(cluster);
    const incoming = toPodInfo(
      affine("p", { anti: [term({ app: "web" }, zone)] }, { labels: { app: "web" } }),
    );
    const state = new CycleState();
    plugin.preFilter(state, incoming);
    const n1 = cluster.node("n1");
    const n3 = cluster.node("n3");
    if (!n1 || !n3) throw new Error("nodes");
    const web = toPodInfo(pod("web", { labels: { app: "web" } }));
    plugin.extensions?.addPod(state, incoming, web, n1);
    expect(plugin.filter(incoming, n1, state)?.reasons).toEqual([antiAffinityRulesReason]);
    expect(plugin.filter(incoming, cluster.node("n2") ?? n1, state)?.reasons).toEqual([
      antiAffinityRulesReason,
    ]);
    expect(plugin.filter(incoming, n3, state)).toBeUndefined();
    // A clone is independent (preemption's trials fork the state).
    const copy = state.clone();
    plugin.extensions?.removePod(state, incoming, web, n1);
    expect(plugin.filter(incoming, n1, state)).toBeUndefined();
    expect(plugin.filter(incoming, n1, copy)?.reasons).toEqual([antiAffinityRulesReason]);
    // A pod without terms and without state learns of a zone anti-affinity against it.
    const plain = toPodInfo(pod("plain", { labels: { app: "web" } }));
    const plainState = new CycleState();
    expect(plugin.preFilter(plainState, plain)).toBeUndefined();
    plugin.extensions?.addPod(plainState, plain, incoming, n3);
    expect(plugin.filter(plain, n3, plainState)?.reasons).toEqual([existingAntiAffinityReason]);
    expect(plugin.filter(plain, n1, plainState)).toBeUndefined();
  });

  it("does not let a pod go where a higher-priority nominated pod repels it, or it repels that pod", () => {
    const cluster = snapshotOf(nodes(), [
      affine(
        "nominee",
        { anti: [term({ app: "web" }, hostname)] },
        { priority: 10, nominatedNodeName: "n2" },
      ),
    ]);
    const web = pod("p", { labels: { app: "web" } });
    expect(verdicts(cluster, web)).toEqual({ n1: "ok", n2: existingMiss, n3: "ok", n4: "ok" });
    const highWeb = pod("p", { labels: { app: "web" }, priority: 20 });
    expect(verdicts(cluster, highWeb).n2).toBe("ok");
    const repelling = affine("q", { anti: [term({ app: "db" }, zone)] });
    const withDbNominee = snapshotOf(nodes(), [
      pod("dbn", { labels: { app: "db" }, priority: 5, nominatedNodeName: "n3" }),
    ]);
    expect(verdicts(withDbNominee, repelling)).toEqual({ n1: "ok", n2: "ok", n3: antiMiss, n4: "ok" });
  });
});

describe("what InterPodAffinity tells the rest of the core", () => {
  it("says when a pod may be constrained (the check before bind) and when its answers depend on the node alone (preemption's memo)", () => {
    const quiet = snapshotOf(nodes(), [pod("web", { nodeName: "n1", labels: { app: "web" } })]);
    const plugin = interPodAffinity(quiet);
    const plain = toPodInfo(pod("p"));
    const anti = toPodInfo(affine("q", { anti: [term({ app: "web" }, hostname)] }));
    expect(mayBeConstrainedByInterPodAffinity(quiet, plain)).toBe(false);
    expect(plugin.podOnlyFor?.(plain)).toBe(true);
    expect(mayBeConstrainedByInterPodAffinity(quiet, anti)).toBe(true);
    expect(plugin.podOnlyFor?.(anti)).toBe(false);
    const guarded = snapshotOf(nodes(), [
      affine("guard", { anti: [term({ app: "web" }, hostname)] }, { nodeName: "n1" }),
    ]);
    expect(mayBeConstrainedByInterPodAffinity(guarded, plain)).toBe(true);
    expect(interPodAffinity(guarded).podOnlyFor?.(plain)).toBe(false);
  });
});

describe("ClusterState's affinity index", () => {
  it("lists the nodes holding pods with affinity as pods come and go", () => {
    const guard = affine("guard", { anti: [term({ app: "web" }, zone)] }, { nodeName: "n1" });
    const scorer = affine(
      "scorer",
      { preferred: [{ weight: 5, podAffinityTerm: term({ app: "web" }, zone) }] },
      { nodeName: "n3" },
    );
    const cluster = snapshotOf(nodes(), [guard, scorer, pod("plain", { nodeName: "n2" })]);
    const names = (set: Iterable<{ name: string }>) => [...set].map((n) => n.name).sort();
    expect(names(cluster.nodesWithRequiredAntiAffinityPods())).toEqual(["n1"]);
    expect(names(cluster.nodesWithClusterWideAntiAffinityPods())).toEqual(["n1"]);
    expect(names(cluster.nodesWithAffinityPods())).toEqual(["n3"]);
    expect(cluster.node("n1")?.podsWithRequiredAntiAffinity.map((p) => p.name)).toEqual(["guard"]);
    cluster.removePod("default/guard");
    expect(names(cluster.nodesWithRequiredAntiAffinityPods())).toEqual([]);
    expect(cluster.node("n1")?.podsWithRequiredAntiAffinity).toEqual([]);
    cluster.removeNode("n3");
    expect(names(cluster.nodesWithAffinityPods())).toEqual([]);
    cluster.upsertNode(nodes()[2] as never);
    expect(names(cluster.nodesWithAffinityPods())).toEqual(["n3"]);
  });
});

describe("InterPodAffinity through the cycle", () => {
  it("spreads a Deployment-like set of pods with hostname anti-affinity one per node", () => {
    const cluster = snapshotOf(nodes(), []);
    const core = new SchedulingCore(cluster);
    const antiWeb = { anti: [term({ app: "web" }, hostname)] };
    const placed: string[] = [];
    for (let i = 0; i < 4; i++) {
      const decision = decisionFor(
        core.cycle(pendingGroupsOf([affine(`web-${i}`, antiWeb, { labels: { app: "web" } })]), ownsAll),
        `web-${i}`,
      );
      expect(decision.kind).toBe("bind");
      if (decision.kind !== "bind") return;
      for (const p of decision.placements) {
        placed.push(p.nodeName);
        cluster.assume(p.pod, p.nodeName);
      }
    }
    expect(placed.sort()).toEqual(["n1", "n2", "n3", "n4"]);
    const fifth = decisionFor(
      core.cycle(pendingGroupsOf([affine("web-4", antiWeb, { labels: { app: "web" } })]), ownsAll),
      "web-4",
    );
    expect(fifth.kind).toBe("unschedulable");
    expect(fifth.kind === "unschedulable" && fifth.message).toContain(`4 ${antiAffinityRulesReason}`);
  });

  it("places a gang whose members are mutually anti-affine on distinct nodes, or not at all", () => {
    const members = (name: string, size: number) =>
      gang(name, size, { labels: { app: name } }).map((p) => ({
        ...p,
        spec: {
          ...p.spec,
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [term({ app: name }, hostname)],
            },
          },
        },
      }));
    const cluster = snapshotOf(nodes(), []);
    const decision = decisionFor(
      new SchedulingCore(cluster).cycle(pendingGroupsOf(members("g", 4)), ownsAll),
      "g",
    );
    expect(decision.kind).toBe("bind");
    expect(decision.kind === "bind" && new Set(decision.placements.map((p) => p.nodeName)).size).toBe(4);
    const tooBig = decisionFor(
      new SchedulingCore(snapshotOf(nodes(), [])).cycle(pendingGroupsOf(members("h", 5)), ownsAll),
      "h",
    );
    expect(tooBig.kind).toBe("unschedulable");
  });

  it("keeps a gang with zone self-affinity in one zone: the first member opens it, the rest follow", () => {
    const members = gang("z", 3, { labels: { app: "z" }, cpu: 3 }).map((p) => ({
      ...p,
      spec: {
        ...p.spec,
        affinity: {
          podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: "z" }, zone)] },
        },
      },
    }));
    const decision = decisionFor(
      new SchedulingCore(snapshotOf(nodes(), [])).cycle(pendingGroupsOf(members), ownsAll),
      "z",
    );
    // Two members fill zone a's two nodes (one 4-cpu node each takes one 3-cpu pod); the third has nowhere to go.
    expect(decision.kind).toBe("unschedulable");
    const two = members.slice(0, 2);
    const ok = decisionFor(
      new SchedulingCore(snapshotOf(nodes(), [])).cycle(pendingGroupsOf(two), ownsAll),
      "z",
    );
    expect(ok.kind).toBe("bind");
    const zones = ok.kind === "bind" ? ok.placements.map((p) => (p.nodeName === "n3" ? "b" : "a")) : [];
    expect(new Set(zones).size).toBe(1);
  });

  it("lets a gang member without terms avoid a member assumed before it with zone anti-affinity", () => {
    const guard = affine(
      "g-0",
      { anti: [term({ role: "worker" }, zone)] },
      { group: "g", labels: { role: "guard" } },
    );
    const worker = pod("g-1", { group: "g", labels: { role: "worker" } });
    const twoZones = [node("n1", { labels: { [zone]: "a" } }), node("n3", { labels: { [zone]: "b" } })];
    const decision = decisionFor(
      new SchedulingCore(snapshotOf(twoZones, [])).cycle(pendingGroupsOf([guard, worker]), ownsAll),
      "g",
    );
    expect(decision.kind).toBe("bind");
    if (decision.kind !== "bind") return;
    const where = Object.fromEntries(decision.placements.map((p) => [p.pod.name, p.nodeName]));
    expect(where["g-0"]).not.toBe(where["g-1"]);
  });

  it("preempts the lower-priority pod whose anti-affinity repels it, never for unmatched affinity", () => {
    const cluster = snapshotOf(
      [node("n1", { labels: { [zone]: "a" } })],
      [affine("guard", { anti: [term({ app: "web" }, hostname)] }, { nodeName: "n1", priority: 0 })],
    );
    const core = new SchedulingCore(cluster);
    const high = pod("high", { labels: { app: "web" }, priority: 100 });
    const decision = decisionFor(core.cycle(pendingGroupsOf([high]), ownsAll), "high");
    expect(decision.kind).toBe("preempt");
    const wanting = affine("want", { affinity: [term({ app: "absent" }, zone)] }, { priority: 100 });
    const refused = decisionFor(core.cycle(pendingGroupsOf([wanting]), ownsAll), "want");
    expect(refused.kind).toBe("unschedulable");
    expect(refused.kind === "unschedulable" && refused.message).toContain(affinityRulesReason);
  });

  it("is honoured by the coordinator's trial placement", () => {
    const cluster = snapshotOf(nodes(), [pod("web", { nodeName: "n1", labels: { app: "web" } })]);
    const group = pendingGroupsOf([affine("p", { anti: [term({ app: "web" }, zone)] })])[0];
    if (!group) throw new Error("group");
    const placements = trialPlacement(
      cluster,
      cluster.nodes.filter((n) => n.name !== "n3" && n.name !== "n4"),
      group,
    );
    expect(placements).toBeUndefined();
    expect(trialPlacement(cluster, cluster.nodes, group)?.map((p) => p.nodeName)).toEqual([
      expect.stringMatching(/n3|n4/),
    ]);
  });
});

describe("InterPodAffinity Score", () => {
  /** Raw and normalised scores of the feasible nodes, as the cycle computes them. */
  function scores(
    cluster: ClusterState,
    incoming: Pod,
    args = {},
  ): { raw: number[]; normalized: number[] } | "skip" {
    const plugin = interPodAffinity(cluster, args);
    const state = new CycleState();
    const info = toPodInfo(incoming);
    if (plugin.preScore(state, info, cluster.nodes)?.code === "Skip") return "skip";
    const raw = cluster.nodes.map((n) => plugin.score(info, n, state));
    const normalized = [...raw];
    plugin.normalize?.(normalized, info, state);
    return { raw, normalized };
  }
  const weighted = (weight: number, labels: Record<string, string>, key = zone) => ({
    weight,
    podAffinityTerm: term(labels, key),
  });

  it("skips pods without preferences in a cluster where no pod's terms score others", () => {
    const cluster = snapshotOf(nodes(), [
      affine("guard", { anti: [term({ app: "x" }, zone)] }, { nodeName: "n1" }),
    ]);
    expect(scores(cluster, pod("p"))).toBe("skip");
  });

  it("favours the domains of pods its preferred affinity matches, and avoids those of preferred anti-affinity", () => {
    const cluster = snapshotOf(nodes(), [
      pod("db", { nodeName: "n3", labels: { app: "db" } }),
      pod("web", { nodeName: "n1", labels: { app: "web" } }),
    ]);
    expect(scores(cluster, affine("p", { preferred: [weighted(5, { app: "db" })] }))).toEqual({
      raw: [0, 0, 5, 0],
      normalized: [0, 0, 100, 0],
    });
    expect(
      scores(
        cluster,
        affine("p", {
          preferred: [weighted(8, { app: "db" })],
          preferredAnti: [weighted(4, { app: "web" })],
        }),
      ),
    ).toEqual({ raw: [-4, -4, 8, 0], normalized: [0, 0, 100, 33] });
  });

  it("counts existing pods' preferred terms and required affinity (hardPodAffinityWeight) toward the incoming pod", () => {
    const cluster = snapshotOf(nodes(), [
      affine("likes", { preferred: [weighted(3, { app: "web" })] }, { nodeName: "n3" }),
      affine("needs", { affinity: [term({ app: "web" }, zone)] }, { nodeName: "n1" }),
      affine("dislikes", { preferredAnti: [weighted(2, { app: "web" }, hostname)] }, { nodeName: "n4" }),
    ]);
    const web = pod("p", { labels: { app: "web" } });
    expect(scores(cluster, web)).toEqual({ raw: [1, 1, 3, -2], normalized: [60, 60, 100, 0] });
    expect(scores(cluster, web, { hardPodAffinityWeight: 0 })).toEqual({
      raw: [0, 0, 3, -2],
      normalized: [40, 40, 100, 0],
    });
    expect(scores(cluster, web, { ignorePreferredTermsOfExistingPods: true })).toBe("skip");
  });

  it("weighs 2 by default and is configured by the profile's pluginConfig", () => {
    expect(interPodAffinityArgs({ hardPodAffinityWeight: 101 })).toEqual({
      ok: false,
      reason: 'hardPodAffinityWeight: Invalid value: "101": not in valid range [0-100]',
    });
    const config = parseProfileConfig({
      pluginConfig: [{ name: "InterPodAffinity", args: { hardPodAffinityWeight: 5 } }],
      scoreWeights: { InterPodAffinity: 3 },
    });
    expect(config).toEqual({
      ok: true,
      value: {
        scoringStrategy: "MostAllocated",
        pluginArgs: { InterPodAffinity: { hardPodAffinityWeight: 5 } },
        scoreWeights: { InterPodAffinity: 3 },
      },
    });
  });

  it("places a pod by its preference through the cycle", () => {
    const cluster = snapshotOf(nodes(), [pod("db", { nodeName: "n3", labels: { app: "db" } })]);
    const incoming = affine("p", { preferred: [weighted(100, { app: "db" })] });
    const decision = decisionFor(
      new SchedulingCore(cluster).cycle(pendingGroupsOf([incoming]), ownsAll),
      "p",
    );
    expect(decision.kind === "bind" && decision.placements[0]?.nodeName).toBe("n3");
  });
});

describe("an owner-only group the owner cannot place", () => {
  it("names the other shards' nodes its first member fits (feasibleElsewhere), for the coordinator to lend", () => {
    // The owner holds n1 and n2 (zone a), where a pod of the same app runs: zone anti-affinity
    // rules both out; n3 (zone b) of another shard fits, n4 has no zone (the term needs the key).
    const cluster = snapshotOf(nodes(), [pod("web-0", { nodeName: "n1", labels: { app: "web" } })]);
    const incoming = affine("web-1", { anti: [term({ app: "web" }, zone)] }, { labels: { app: "web" } });
    const owns = (name: string) => name === "n1" || name === "n2";
    const decision = decisionFor(
      new SchedulingCore(cluster).cycle(pendingGroupsOf([incoming]), owns),
      "web-1",
    );
    expect(decision.kind).toBe("unschedulable");
    expect(decision.kind === "unschedulable" && decision.feasibleElsewhere).toEqual(["n3", "n4"]);
    // A pod without inter-pod constraints is never owner-only: nothing named.
    const plain = decisionFor(
      new SchedulingCore(cluster).cycle(pendingGroupsOf([pod("big", { cpu: 1000 })]), owns),
      "big",
    );
    expect(plain.kind === "unschedulable" && "feasibleElsewhere" in plain).toBe(false);
  });
});
