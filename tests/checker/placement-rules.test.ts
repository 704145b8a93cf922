import type * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  affinityBreach,
  antiAffinityBreach,
  hostPortBreach,
  type Placed,
  type RuleNode,
  type RulePod,
  type RuleWorld,
  selects,
  settledAffinityBreaches,
  settledSpreadBreaches,
  spreadBreach,
  volumeNodeMismatch,
} from "./placement-rules.js";

const hostname = "kubernetes.io/hostname";
const zone = "topology.kubernetes.io/zone";

/** Nodes n0…n5 over zones a, b, c (n0 a, n1 b, n2 c, n3 a, …). */
function nodes(count = 6, extra: (i: number) => Partial<RuleNode> = () => ({})): Map<string, RuleNode> {
  return new Map(
    Array.from({ length: count }, (_, i) => {
      const name = `n${i}`;
      const node: RuleNode = {
        name,
        labels: { [hostname]: name, [zone]: `zone-${"abc"[i % 3]}` },
        taints: [],
        ...extra(i),
      };
      return [name, node];
    }),
  );
}

function pod(
  name: string,
  labels: Record<string, string>,
  spec: k8s.V1PodSpec = { containers: [] },
): RulePod {
  return { key: `ns/${name}`, namespace: "ns", labels, spec };
}

const on = (p: RulePod, node: string, terminating = false): Placed => ({ pod: p, node, terminating });

function world(placed: Placed[], options: Partial<RuleWorld> = {}): RuleWorld {
  return {
    nodes: nodes(),
    placed,
    recentBinds: new Set(),
    recentlyLeft: [],
    namespaceLabels: (namespace) => ({ "kubernetes.io/metadata.name": namespace }),
    ...options,
  };
}

const antiAffine = (key: string, app = "web", extra: Partial<k8s.V1PodAffinityTerm> = {}): k8s.V1PodSpec => ({
  containers: [],
  affinity: {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { topologyKey: key, labelSelector: { matchLabels: { app } }, ...extra },
      ],
    },
  },
});

const affine = (key: string, app: string, extra: Partial<k8s.V1PodAffinityTerm> = {}): k8s.V1PodSpec => ({
  containers: [],
  affinity: {
    podAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { topologyKey: key, labelSelector: { matchLabels: { app } }, ...extra },
      ],
    },
  },
});

const spread = (
  key: string,
  maxSkew: number,
  extra: Partial<k8s.V1TopologySpreadConstraint> = {},
  spec: Partial<k8s.V1PodSpec> = {},
): k8s.V1PodSpec => ({
  containers: [],
  topologySpreadConstraints: [
    {
      topologyKey: key,
      maxSkew,
      whenUnsatisfiable: "DoNotSchedule",
      labelSelector: { matchLabels: { app: "web" } },
      ...extra,
    },
  ],
  ...spec,
});

describe("label selectors", () => {
  it("reads nil as nothing and {} as everything, and the four operators", () => {
    expect(selects(undefined, { a: "1" })).toBe(false);
    expect(selects({}, { a: "1" })).toBe(true);
    const selector: k8s.V1LabelSelector = {
      matchLabels: { a: "1" },
      matchExpressions: [
        { key: "b", operator: "In", values: ["x", "y"] },
        { key: "c", operator: "NotIn", values: ["z"] },
        { key: "d", operator: "Exists" },
        { key: "e", operator: "DoesNotExist" },
      ],
    };
    expect(selects(selector, { a: "1", b: "y", d: "" })).toBe(true);
    expect(selects(selector, { a: "1", b: "y", c: "z", d: "" })).toBe(false);
    expect(selects(selector, { a: "1", b: "y", d: "", e: "" })).toBe(false);
    expect(selects(selector, { a: "1", b: "q", d: "" })).toBe(false);
  });
});

describe("required pod anti-affinity", () => {
  it("blames a pod whose hostname anti-affinity selects a pod on its node, not on another node", () => {
    const first = pod("web-1", { app: "web" }, antiAffine(hostname));
    const second = pod("web-2", { app: "web" }, antiAffine(hostname));
    expect(antiAffinityBreach(second, "n0", world([on(first, "n0")]))?.rule).toBe("podAntiAffinity");
    expect(antiAffinityBreach(second, "n3", world([on(first, "n0")]))).toBeUndefined();
  });

  it("reads zones: n0 and n3 share zone-a", () => {
    const first = pod("web-1", { app: "web" }, antiAffine(zone));
    const second = pod("web-2", { app: "web" }, antiAffine(zone));
    expect(antiAffinityBreach(second, "n3", world([on(first, "n0")]))).toBeDefined();
    expect(antiAffinityBreach(second, "n1", world([on(first, "n0")]))).toBeUndefined();
  });

  it("is symmetric: an existing pod's anti-affinity binds an incoming pod without any", () => {
    const guard = pod("guard", { app: "guard" }, antiAffine(hostname, "web"));
    const plain = pod("web-1", { app: "web" });
    expect(antiAffinityBreach(plain, "n0", world([on(guard, "n0")]))?.detail).toContain(
      "whose anti-affinity",
    );
    expect(antiAffinityBreach(plain, "n1", world([on(guard, "n0")]))).toBeUndefined();
  });

  it("counts terminating pods (kube-scheduler does until they are gone)", () => {
    const first = pod("web-1", { app: "web" }, antiAffine(hostname));
    const second = pod("web-2", { app: "web" }, antiAffine(hostname));
    expect(antiAffinityBreach(second, "n0", world([on(first, "n0", true)]))).toBeDefined();
  });

  it("ignores nodes without the topology key", () => {
    const bare = nodes(2, () => ({ labels: {} }));
    const first = pod("web-1", { app: "web" }, antiAffine("rack"));
    const second = pod("web-2", { app: "web" }, antiAffine("rack"));
    expect(antiAffinityBreach(second, "n0", world([on(first, "n0")], { nodes: bare }))).toBeUndefined();
  });

  it("matches only the term's namespaces: its own by default, listed ones, or a namespaceSelector's", () => {
    const other: RulePod = {
      key: "team-b/web-1",
      namespace: "team-b",
      labels: { app: "web" },
      spec: undefined,
    };
    const own = pod("web-2", { app: "web" }, antiAffine(hostname));
    expect(antiAffinityBreach(own, "n0", world([on(other, "n0")]))).toBeUndefined();
    const listed = pod("web-3", { app: "web" }, antiAffine(hostname, "web", { namespaces: ["team-b"] }));
    expect(antiAffinityBreach(listed, "n0", world([on(other, "n0")]))).toBeDefined();
    const bySelector = pod(
      "web-4",
      { app: "web" },
      antiAffine(hostname, "web", { namespaceSelector: { matchLabels: { team: "b" } } }),
    );
    const labelled = world([on(other, "n0")], {
      namespaceLabels: (namespace): Record<string, string> => (namespace === "team-b" ? { team: "b" } : {}),
    });
    expect(antiAffinityBreach(bySelector, "n0", labelled)).toBeDefined();
    expect(antiAffinityBreach(bySelector, "n0", world([on(other, "n0")]))).toBeUndefined();
    const everywhere = pod("web-5", { app: "web" }, antiAffine(hostname, "web", { namespaceSelector: {} }));
    expect(antiAffinityBreach(everywhere, "n0", world([on(other, "n0")]))).toBeDefined();
  });

  it("adds matchLabelKeys and mismatchLabelKeys from the incoming pod's labels", () => {
    const v1 = pod("web-v1", { app: "web", version: "1" });
    const v2 = pod(
      "web-v2",
      { app: "web", version: "2" },
      antiAffine(hostname, "web", { matchLabelKeys: ["version"] }),
    );
    expect(antiAffinityBreach(v2, "n0", world([on(v1, "n0")]))).toBeUndefined();
    const v2mismatch = pod(
      "web-v2m",
      { app: "web", version: "2" },
      antiAffine(hostname, "web", { mismatchLabelKeys: ["version"] }),
    );
    expect(antiAffinityBreach(v2mismatch, "n0", world([on(v1, "n0")]))).toBeDefined();
  });
});

describe("required pod affinity", () => {
  it("needs a matching pod in the term's domain", () => {
    const db = pod("db", { app: "db" });
    const web = pod("web", { app: "web" }, affine(zone, "db"));
    expect(affinityBreach(web, "n3", world([on(db, "n0")]))).toBeUndefined();
    expect(affinityBreach(web, "n1", world([on(db, "n0")]))?.rule).toBe("podAffinity");
  });

  it("lets the first pod of a group that matches its own term go anywhere, but not once a match exists", () => {
    const first = pod("web-1", { app: "web" }, affine(zone, "web"));
    expect(affinityBreach(first, "n1", world([]))).toBeUndefined();
    const second = pod("web-2", { app: "web" }, affine(zone, "web"));
    expect(affinityBreach(second, "n1", world([on(first, "n0")]))).toBeDefined();
    const stranger = pod("other", { app: "other" }, affine(zone, "web"));
    expect(affinityBreach(stranger, "n1", world([]))).toBeDefined();
  });

  it("fails a node without the term's key, even for a group's first pod", () => {
    const db = pod("db", { app: "db" });
    const web = pod("web", { app: "web" }, affine("rack", "db"));
    expect(affinityBreach(web, "n0", world([on(db, "n0")]))).toBeDefined();
    const first = pod("web-1", { app: "web" }, affine("rack", "web"));
    expect(affinityBreach(first, "n0", world([]))?.detail).toContain("no rack label");
  });

  it("at a settled end: a group follows its first pod into one domain, or joins anchors", () => {
    const spec = affine(zone, "web");
    const together = ["n0", "n3", "n0"].map((node, i) => on(pod(`w${i}`, { app: "web" }, spec), node));
    expect(settledAffinityBreaches(together, world(together))).toHaveLength(0);
    // Two together in zone a (the first pod's), one alone in zone b and one in zone c.
    const apart = ["n0", "n3", "n1", "n2"].map((node, i) => on(pod(`w${i}`, { app: "web" }, spec), node));
    expect(settledAffinityBreaches(apart, world(apart)).map((b) => b.subject.node)).toEqual(["n1", "n2"]);
    // Groups of several zones are fine where pods without affinity (anchors) are there.
    const anchors = ["n1", "n2"].map((node, i) => on(pod(`a${i}`, { app: "web" }), node));
    expect(settledAffinityBreaches([...apart, ...anchors], world([...apart, ...anchors]))).toHaveLength(0);
    // Pods that need another app's pods are judged by those alone.
    const db = pod("db", { app: "db" });
    const webs = ["n0", "n1"].map((node, i) => on(pod(`x${i}`, { app: "x" }, affine(zone, "db")), node));
    const all = [on(db, "n3"), ...webs];
    expect(settledAffinityBreaches(all, world(all)).map((b) => b.subject.node)).toEqual(["n1"]);
  });

  it("counts a pod that left a moment ago as maybe still seen, and a bind a moment ago as maybe not", () => {
    const db = pod("db", { app: "db" });
    const web = pod("web", { app: "web" }, affine(zone, "db"));
    expect(affinityBreach(web, "n0", world([], { recentlyLeft: [on(db, "n0")] }))).toBeUndefined();
    const first = pod("web-1", { app: "web" }, affine(zone, "web"));
    const second = pod("web-2", { app: "web" }, affine(zone, "web"));
    const placed = on(first, "n0");
    expect(affinityBreach(second, "n1", world([placed], { recentBinds: new Set([placed]) }))).toBeUndefined();
  });
});

describe("DoNotSchedule topology spread", () => {
  const web = (name: string, spec: k8s.V1PodSpec) => pod(name, { app: "web" }, spec);

  it("blames a skew above maxSkew and accepts one at it", () => {
    const spec = spread(zone, 1);
    const placed = [on(web("w1", spec), "n0")];
    expect(spreadBreach(web("w2", spec), "n3", world(placed))?.rule).toBe("spreadSkew");
    expect(spreadBreach(web("w2", spec), "n1", world(placed))).toBeUndefined();
    const two = spread(zone, 2);
    expect(spreadBreach(web("w2", two), "n3", world([on(web("w1", two), "n0")]))).toBeUndefined();
  });

  it("does not count terminating pods or other namespaces", () => {
    const spec = spread(zone, 1);
    const elsewhere: RulePod = { key: "x/w9", namespace: "x", labels: { app: "web" }, spec };
    expect(spreadBreach(web("w2", spec), "n3", world([on(web("w1", spec), "n0", true)]))).toBeUndefined();
    expect(spreadBreach(web("w2", spec), "n3", world([on(elsewhere, "n0")]))).toBeUndefined();
  });

  it("with minDomains above the domains there are, takes the smallest count as 0", () => {
    const spec = spread(zone, 1, { minDomains: 4 });
    const placed = [on(web("w1", spec), "n0"), on(web("w2", spec), "n1"), on(web("w3", spec), "n2")];
    // Every zone holds one: without minDomains a fourth pod may go anywhere; with it, nowhere.
    expect(spreadBreach(web("w4", spread(zone, 1)), "n3", world(placed))).toBeUndefined();
    expect(spreadBreach(web("w4", spec), "n3", world(placed))).toBeDefined();
  });

  it("honours node affinity by default: nodes the pod cannot use are not domains", () => {
    // The pod may only use zones a and b: zone c (empty) is not the smallest domain.
    const spec = spread(
      zone,
      1,
      {},
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: zone, operator: "In", values: ["zone-a", "zone-b"] }] },
              ],
            },
          },
        },
      },
    );
    const placed = [on(web("w1", spec), "n0"), on(web("w2", spec), "n1")];
    expect(spreadBreach(web("w3", spec), "n3", world(placed))).toBeUndefined();
    const ignoring = spread(zone, 1, { nodeAffinityPolicy: "Ignore" }, { affinity: spec.affinity });
    expect(spreadBreach(web("w3", ignoring), "n3", world(placed))).toBeDefined();
  });

  it("ignores taints by default and honours them with nodeTaintsPolicy Honor", () => {
    const tainted = nodes(6, (i) =>
      i % 3 === 2
        ? {
            labels: { [hostname]: `n${i}`, [zone]: "zone-c" },
            taints: [{ key: "dedicated", value: "x", effect: "NoSchedule" }],
          }
        : {},
    );
    const ignore = spread(zone, 1);
    const placed = [on(web("w1", ignore), "n0"), on(web("w2", ignore), "n1")];
    // Zone c (tainted, empty) counts as a domain: a third pod in zone a is a skew of 2.
    expect(spreadBreach(web("w3", ignore), "n3", world(placed, { nodes: tainted }))).toBeDefined();
    const honor = spread(zone, 1, { nodeTaintsPolicy: "Honor" });
    expect(spreadBreach(web("w3", honor), "n3", world(placed, { nodes: tainted }))).toBeUndefined();
  });

  it("blames a node without the key", () => {
    const bare = nodes(3, (i) => (i === 2 ? { labels: { [hostname]: "n2" } } : {}));
    expect(spreadBreach(web("w1", spread(zone, 1)), "n2", world([], { nodes: bare }))?.detail).toContain(
      "no topology.kubernetes.io/zone label",
    );
  });

  it("does not count a pod that does not match its own selector", () => {
    const spec = spread(zone, 1);
    const placed = [on(web("w1", spec), "n0")];
    const outsider = pod("other", { app: "other" }, spec);
    expect(spreadBreach(outsider, "n3", world(placed))).toBeUndefined();
  });

  it("merges matchLabelKeys: pods of another revision do not count", () => {
    const spec = spread(zone, 1, { matchLabelKeys: ["pod-template-hash"] });
    const old = pod("old", { app: "web", "pod-template-hash": "a" }, spec);
    const fresh = pod("new", { app: "web", "pod-template-hash": "b" }, spec);
    expect(spreadBreach(fresh, "n3", world([on(old, "n0")]))).toBeUndefined();
    expect(spreadBreach(fresh, "n3", world([on(pod("old2", old.labels, spec), "n0")]))).toBeUndefined();
    const same = pod("same", { app: "web", "pod-template-hash": "a" }, spec);
    expect(spreadBreach(same, "n3", world([on(old, "n0")]))).toBeDefined();
  });

  it("is lenient about binds a moment before (out of decision order) and pods that just left", () => {
    const spec = spread(zone, 1);
    const earlier = on(web("w1", spec), "n0");
    expect(
      spreadBreach(web("w2", spec), "n3", world([earlier], { recentBinds: new Set([earlier]) })),
    ).toBeUndefined();
    // Zone b lost its pod a moment ago: the scheduler may still have counted it there.
    const placed = [on(web("w1", spec), "n0")];
    expect(
      spreadBreach(
        web("w2", spec),
        "n3",
        world(placed, { recentlyLeft: [on(web("gone", spec), "n1"), on(web("gone2", spec), "n2")] }),
      ),
    ).toBeUndefined();
  });

  it("judges a settled cluster whatever order the binds came in", () => {
    const spec = spread(zone, 1);
    const good = ["n0", "n1", "n2", "n3"].map((node, i) => on(web(`w${i}`, spec), node));
    expect(settledSpreadBreaches(good, world(good))).toHaveLength(0);
    const bad = ["n0", "n3", "n0", "n1"].map((node, i) => on(web(`w${i}`, spec), node));
    // Zone a holds 3, zone c none: the three in zone a are over the skew.
    expect(settledSpreadBreaches(bad, world(bad)).map((b) => b.subject.node)).toEqual(["n0", "n3", "n0"]);
  });
});

describe("host ports", () => {
  const withPort = (name: string, port: number, protocol?: string, hostIP?: string) =>
    pod(
      name,
      {},
      { containers: [{ name: "c", ports: [{ containerPort: 80, hostPort: port, protocol, hostIP }] }] },
    );

  it("blames the same port and protocol on one node, on 0.0.0.0 or the same IP", () => {
    expect(hostPortBreach(withPort("b", 8080), "n0", world([on(withPort("a", 8080), "n0")]))).toBeDefined();
    expect(hostPortBreach(withPort("b", 8080), "n1", world([on(withPort("a", 8080), "n0")]))).toBeUndefined();
    expect(
      hostPortBreach(withPort("b", 8080, "UDP"), "n0", world([on(withPort("a", 8080), "n0")])),
    ).toBeUndefined();
    expect(
      hostPortBreach(
        withPort("b", 8080, "TCP", "10.0.0.2"),
        "n0",
        world([on(withPort("a", 8080, "TCP", "10.0.0.1"), "n0")]),
      ),
    ).toBeUndefined();
    expect(
      hostPortBreach(withPort("b", 8080, "TCP", "10.0.0.2"), "n0", world([on(withPort("a", 8080), "n0")])),
    ).toBeDefined();
  });

  it("reads sidecars' ports and not other init containers'", () => {
    const sidecar = pod(
      "s",
      {},
      {
        containers: [],
        initContainers: [
          { name: "i", restartPolicy: "Always", ports: [{ containerPort: 1, hostPort: 9000 }] },
        ],
      },
    );
    const init = pod(
      "i",
      {},
      { containers: [], initContainers: [{ name: "i", ports: [{ containerPort: 1, hostPort: 9000 }] }] },
    );
    expect(hostPortBreach(withPort("b", 9000), "n0", world([on(sidecar, "n0")]))).toBeDefined();
    expect(hostPortBreach(withPort("b", 9000), "n0", world([on(init, "n0")]))).toBeUndefined();
  });
});

describe("bound volumes", () => {
  const node: RuleNode = { name: "n0", labels: { [hostname]: "n0", [zone]: "zone-a" }, taints: [] };
  const volume = (labels: Record<string, string>, zones?: string[]): k8s.V1PersistentVolume => ({
    metadata: { name: "pv-1", labels },
    spec: zones
      ? {
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: zone, operator: "In", values: zones }] }],
            },
          },
        }
      : {},
  });

  it("compares the volume's node affinity and zone labels with the node", () => {
    expect(volumeNodeMismatch(volume({}, ["zone-a"]), node)).toBeUndefined();
    expect(volumeNodeMismatch(volume({}, ["zone-b"]), node)).toContain("node affinity");
    expect(volumeNodeMismatch(volume({ [zone]: "zone-a" }), node)).toBeUndefined();
    expect(volumeNodeMismatch(volume({ [zone]: "zone-b__zone-a" }), node)).toBeUndefined();
    expect(volumeNodeMismatch(volume({ [zone]: "zone-b" }), node)).toContain("zone-b");
  });

  it("lets a node without zone labels take a zone-labelled volume (VolumeZone's rule)", () => {
    const bare: RuleNode = { name: "n9", labels: { [hostname]: "n9" }, taints: [] };
    expect(volumeNodeMismatch(volume({ [zone]: "zone-b" }), bare)).toBeUndefined();
  });
});
