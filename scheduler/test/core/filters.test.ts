import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lentForAnnotation } from "../../src/contracts/keys.js";
import type {
  NodeSelectorRequirement,
  NodeSelectorTerm,
  PodSpec,
  Taint,
  Toleration,
} from "../../src/core/api-types.js";
import { toNodeInfo, toPodInfo } from "../../src/core/build-info.js";
import { ClusterState } from "../../src/core/cluster-state.js";
import { unresolvable } from "../../src/core/framework.js";
import type { NodeInfo, PodInfo } from "../../src/core/model.js";
import {
  defaultFilterPlugins,
  firstUntoleratedTaint,
  lentNode as lentNodeOf,
  nodeAffinity,
  nodeAffinityError,
  nodeReady,
  nodeUnschedulable,
  taintToleration,
  tolerates,
  toleratesTaint,
} from "../../src/core/plugins/index.js";
import { parseInt64 } from "../../src/core/plugins/node-affinity/node-affinity.js";

// --- builders: plain API JSON through the core's own parsers ------------------------------

function pod(spec: Partial<PodSpec> = {}): PodInfo {
  return toPodInfo({
    metadata: { name: "p", namespace: "default", uid: "uid-p" },
    spec: { containers: [{ name: "c" }], ...spec },
  });
}

interface NodeShape {
  name?: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  /** Status of the Ready condition; "absent" leaves the condition out. */
  ready?: "True" | "False" | "Unknown" | "absent";
}

function node({ name = "n1", labels, taints, unschedulable, ready = "True" }: NodeShape = {}): NodeInfo {
  return toNodeInfo({
    metadata: { name, ...(labels ? { labels } : {}) },
    spec: { ...(taints ? { taints } : {}), ...(unschedulable !== undefined ? { unschedulable } : {}) },
    status: {
      allocatable: { cpu: "4", memory: "8Gi", pods: "110" },
      conditions: ready === "absent" ? [] : [{ type: "Ready", status: ready }],
    },
  });
}

function affinityPod(terms: NodeSelectorTerm[], nodeSelector?: Record<string, string>): PodInfo {
  return pod({
    ...(nodeSelector ? { nodeSelector } : {}),
    affinity: {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
    },
  });
}

function expressionPod(...matchExpressions: NodeSelectorRequirement[]): PodInfo {
  return affinityPod([{ matchExpressions }]);
}

const fits = (plugin: { filter(p: PodInfo, n: NodeInfo): unknown }, p: PodInfo, n: NodeInfo) =>
  plugin.filter(p, n) === undefined;

// No eviction makes a node take a pod these reject: UnschedulableAndUnresolvable.
const untolerated = unresolvable("node(s) had untolerated taint(s)");
const unschedulable = unresolvable("node(s) were unschedulable");
const notReady = unresolvable("node(s) were not ready");
const affinityMismatch = unresolvable("node(s) didn't match Pod's node affinity/selector");

// --- arbitraries --------------------------------------------------------------------------

const keyArb = fc.constantFrom("a", "b", "zone", "example.com/tier", "node.kubernetes.io/not-ready");
const valueArb = fc.constantFrom("", "x", "y", "1", "10");
const effectArb = fc.constantFrom<Taint["effect"]>("NoSchedule", "PreferNoSchedule", "NoExecute");
const taintArb: fc.Arbitrary<Taint> = fc.record({ key: keyArb, value: valueArb, effect: effectArb });
const tolerationArb: fc.Arbitrary<Toleration> = fc.record(
  {
    key: fc.constantFrom("", "a", "b", "zone", "example.com/tier"),
    operator: fc.constantFrom<Toleration["operator"]>("Exists", "Equal"),
    value: valueArb,
    effect: fc.constantFrom<Toleration["effect"]>("", "NoSchedule", "PreferNoSchedule", "NoExecute"),
  },
  { requiredKeys: [] },
);
const labelsArb = fc.dictionary(keyArb, valueArb, { maxKeys: 4 });

// --- toleration matching ------------------------------------------------------------------

describe("toleratesTaint", () => {
  const taint: Taint = { key: "dedicated", value: "gpu", effect: "NoSchedule" };
  it.each<[string, Toleration, boolean]>([
    ["Exists with an empty key matches any key", { operator: "Exists" }, true],
    ["Exists with the key matches any value", { key: "dedicated", operator: "Exists" }, true],
    ["Exists with another key does not match", { key: "other", operator: "Exists" }, false],
    ["Equal compares values", { key: "dedicated", operator: "Equal", value: "gpu" }, true],
    ["Equal with another value does not match", { key: "dedicated", operator: "Equal", value: "cpu" }, false],
    ["a missing operator means Equal", { key: "dedicated", value: "gpu" }, true],
    ["a missing operator still compares values", { key: "dedicated", value: "cpu" }, false],
    ["an empty effect matches every effect", { key: "dedicated", value: "gpu", effect: "" }, true],
    ["the same effect matches", { key: "dedicated", value: "gpu", effect: "NoSchedule" }, true],
    ["another effect does not match", { key: "dedicated", value: "gpu", effect: "NoExecute" }, false],
    ["an empty key with Equal matches any key of that value", { value: "gpu" }, true],
    [
      "an operator Kubernetes does not enable matches nothing",
      { key: "dedicated", operator: "Gt" as never },
      false,
    ],
  ])("%s", (_title, toleration, expected) => {
    expect(toleratesTaint(toleration, taint)).toBe(expected);
  });

  it("compares a missing value as the empty string", () => {
    expect(toleratesTaint({ key: "k", operator: "Equal" }, { key: "k", effect: "NoSchedule" })).toBe(true);
    expect(toleratesTaint({ key: "k", value: "" }, { key: "k", value: "v", effect: "NoSchedule" })).toBe(
      false,
    );
  });

  it("tolerates() is true when any toleration matches", () => {
    const list: Toleration[] = [
      { key: "x", operator: "Exists" },
      { key: "dedicated", value: "gpu" },
    ];
    expect(tolerates(list, taint)).toBe(true);
    expect(tolerates(list.slice(0, 1), taint)).toBe(false);
    expect(tolerates([], taint)).toBe(false);
  });

  it("property: {operator: Exists} tolerates every taint", () => {
    fc.assert(fc.property(taintArb, (t) => toleratesTaint({ operator: "Exists" }, t)));
  });

  it("property: a toleration with a key never tolerates a taint with another key", () => {
    fc.assert(
      fc.property(tolerationArb, taintArb, (toleration, t) => {
        fc.pre(!!toleration.key && toleration.key !== t.key);
        return !toleratesTaint(toleration, t);
      }),
    );
  });
});

// --- TaintToleration -----------------------------------------------------------------------

describe("TaintToleration", () => {
  it("rejects an untolerated NoSchedule or NoExecute taint with kube-scheduler's reason", () => {
    for (const effect of ["NoSchedule", "NoExecute"] as const) {
      const n = node({ taints: [{ key: "dedicated", value: "gpu", effect }] });
      expect(taintToleration.filter(pod(), n)).toEqual(untolerated);
    }
  });

  it("never rejects for PreferNoSchedule", () => {
    const n = node({ taints: [{ key: "dedicated", value: "gpu", effect: "PreferNoSchedule" }] });
    expect(taintToleration.filter(pod(), n)).toBeUndefined();
  });

  it("accepts when every repelling taint is tolerated", () => {
    const n = node({
      taints: [
        { key: "dedicated", value: "gpu", effect: "NoSchedule" },
        { key: "maintenance", effect: "NoExecute" },
      ],
    });
    const p = pod({
      tolerations: [
        { key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" },
        { key: "maintenance", operator: "Exists" },
      ],
    });
    expect(taintToleration.filter(p, n)).toBeUndefined();
    const partial = pod({ tolerations: [{ key: "maintenance", operator: "Exists" }] });
    expect(taintToleration.filter(partial, n)).toEqual(untolerated);
  });

  it("firstUntoleratedTaint names the first repelling taint not tolerated", () => {
    const taints: Taint[] = [
      { key: "soft", effect: "PreferNoSchedule" },
      { key: "ok", value: "1", effect: "NoSchedule" },
      { key: "bad", value: "2", effect: "NoExecute" },
      { key: "worse", effect: "NoSchedule" },
    ];
    expect(firstUntoleratedTaint([{ key: "ok", value: "1" }], taints)).toEqual(taints[2]);
    expect(firstUntoleratedTaint([{ operator: "Exists" }], taints)).toBeUndefined();
  });

  it("returns the same reasons array every time (no allocation on rejection)", () => {
    const n = node({ taints: [{ key: "k", effect: "NoSchedule" }] });
    expect(taintToleration.filter(pod(), n)).toBe(taintToleration.filter(pod(), n));
  });

  it("property: PreferNoSchedule taints never change the verdict", () => {
    fc.assert(
      fc.property(
        fc.array(taintArb, { maxLength: 4 }),
        fc.array(tolerationArb, { maxLength: 3 }),
        (taints, tols) => {
          const p = pod({ tolerations: tols });
          const withSoft = node({ taints });
          const withoutSoft = node({ taints: taints.filter((t) => t.effect !== "PreferNoSchedule") });
          return fits(taintToleration, p, withSoft) === fits(taintToleration, p, withoutSoft);
        },
      ),
    );
  });

  it("property: adding a toleration never turns acceptance into rejection, adding a taint never the reverse", () => {
    fc.assert(
      fc.property(
        fc.array(taintArb, { maxLength: 4 }),
        fc.array(tolerationArb, { maxLength: 3 }),
        tolerationArb,
        taintArb,
        (taints, tols, extraToleration, extraTaint) => {
          const n = node({ taints });
          if (fits(taintToleration, pod({ tolerations: tols }), n)) {
            expect(fits(taintToleration, pod({ tolerations: [...tols, extraToleration] }), n)).toBe(true);
          } else {
            expect(
              fits(taintToleration, pod({ tolerations: tols }), node({ taints: [...taints, extraTaint] })),
            ).toBe(false);
          }
        },
      ),
    );
  });

  it("property: rejects exactly when some NoSchedule/NoExecute taint has no matching toleration", () => {
    fc.assert(
      fc.property(
        fc.array(taintArb, { maxLength: 4 }),
        fc.array(tolerationArb, { maxLength: 3 }),
        (taints, tols) => {
          const expectedReject = taints.some(
            (t) => t.effect !== "PreferNoSchedule" && !tols.some((tol) => toleratesTaint(tol, t)),
          );
          return fits(taintToleration, pod({ tolerations: tols }), node({ taints })) === !expectedReject;
        },
      ),
    );
  });
});

// --- NodeUnschedulable ----------------------------------------------------------------------

describe("NodeUnschedulable", () => {
  it("rejects a cordoned node with kube-scheduler's reason", () => {
    expect(nodeUnschedulable.filter(pod(), node({ unschedulable: true }))).toEqual(unschedulable);
  });

  it("accepts a node that is not cordoned", () => {
    expect(nodeUnschedulable.filter(pod(), node({ unschedulable: false }))).toBeUndefined();
    expect(nodeUnschedulable.filter(pod(), node())).toBeUndefined();
  });

  it.each<[string, Toleration, boolean]>([
    [
      "the unschedulable taint",
      { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
      true,
    ],
    ["the key with any effect", { key: "node.kubernetes.io/unschedulable", operator: "Exists" }, true],
    ["everything", { operator: "Exists" }, true],
    [
      "the key with effect NoExecute only",
      { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoExecute" },
      false,
    ],
    ["the key with a value (Equal)", { key: "node.kubernetes.io/unschedulable", value: "true" }, false],
    ["another key", { key: "node.kubernetes.io/not-ready", operator: "Exists" }, false],
  ])("a pod tolerating %s: accepted=%s", (_title, toleration, accepted) => {
    expect(fits(nodeUnschedulable, pod({ tolerations: [toleration] }), node({ unschedulable: true }))).toBe(
      accepted,
    );
  });
});

// --- NodeReady ------------------------------------------------------------------------------

describe("NodeReady", () => {
  const notReadyExists: Toleration = { key: "node.kubernetes.io/not-ready", operator: "Exists" };
  /** What DefaultTolerationSeconds admission gives every pod. */
  const admissionDefaults: Toleration[] = [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    {
      key: "node.kubernetes.io/unreachable",
      operator: "Exists",
      effect: "NoExecute",
      tolerationSeconds: 300,
    },
  ];

  it("accepts a Ready node", () => {
    expect(nodeReady.filter(pod(), node({ ready: "True" }))).toBeUndefined();
  });

  it.each(["False", "Unknown", "absent"] as const)("rejects a node whose Ready condition is %s", (ready) => {
    expect(nodeReady.filter(pod(), node({ ready }))).toEqual(notReady);
  });

  it("accepts a pod tolerating the not-ready taints, by key or by an empty-key Exists", () => {
    expect(fits(nodeReady, pod({ tolerations: [notReadyExists] }), node({ ready: "False" }))).toBe(true);
    expect(fits(nodeReady, pod({ tolerations: [{ operator: "Exists" }] }), node({ ready: "False" }))).toBe(
      true,
    );
    const both: Toleration[] = [
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoSchedule" },
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
    ];
    expect(fits(nodeReady, pod({ tolerations: both }), node({ ready: "False" }))).toBe(true);
  });

  it("rejects a pod with only the admission-default NoExecute tolerations (as the NoSchedule taint would)", () => {
    expect(nodeReady.filter(pod({ tolerations: admissionDefaults }), node({ ready: "False" }))).toEqual(
      notReady,
    );
    const noScheduleOnly: Toleration = {
      key: "node.kubernetes.io/not-ready",
      operator: "Exists",
      effect: "NoSchedule",
    };
    expect(fits(nodeReady, pod({ tolerations: [noScheduleOnly] }), node({ ready: "False" }))).toBe(false);
  });

  it("on Ready=Unknown also accepts a pod tolerating the unreachable taints, which the controller puts there", () => {
    const p = pod({ tolerations: [{ key: "node.kubernetes.io/unreachable", operator: "Exists" }] });
    expect(fits(nodeReady, p, node({ ready: "Unknown" }))).toBe(true);
    expect(fits(nodeReady, p, node({ ready: "False" }))).toBe(false);
  });
});

// --- NodeAffinity ---------------------------------------------------------------------------

describe("NodeAffinity: nodeSelector", () => {
  const n = node({ labels: { zone: "a", tier: "gold", empty: "" } });

  it("accepts when every entry equals the node's label", () => {
    expect(nodeAffinity.filter(pod({ nodeSelector: { zone: "a", tier: "gold" } }), n)).toBeUndefined();
    expect(nodeAffinity.filter(pod({ nodeSelector: {} }), n)).toBeUndefined();
    expect(nodeAffinity.filter(pod({ nodeSelector: { empty: "" } }), n)).toBeUndefined();
  });

  it("rejects a different value or a missing label with kube-scheduler's reason", () => {
    expect(nodeAffinity.filter(pod({ nodeSelector: { zone: "b" } }), n)).toEqual(affinityMismatch);
    expect(nodeAffinity.filter(pod({ nodeSelector: { zone: "a", gpu: "true" } }), n)).toEqual(
      affinityMismatch,
    );
    expect(nodeAffinity.filter(pod({ nodeSelector: { missing: "" } }), n)).toEqual(affinityMismatch);
  });

  it("does not mistake inherited object properties for labels", () => {
    const bare = node({ labels: {} });
    expect(fits(nodeAffinity, pod({ nodeSelector: { constructor: "x" } }), bare)).toBe(false);
    expect(fits(nodeAffinity, expressionPod({ key: "constructor", operator: "Exists" }), bare)).toBe(false);
    expect(fits(nodeAffinity, expressionPod({ key: "toString", operator: "DoesNotExist" }), bare)).toBe(true);
  });

  it("needs both the nodeSelector and the required affinity", () => {
    const terms: NodeSelectorTerm[] = [
      { matchExpressions: [{ key: "tier", operator: "In", values: ["gold"] }] },
    ];
    expect(fits(nodeAffinity, affinityPod(terms, { zone: "a" }), n)).toBe(true);
    expect(fits(nodeAffinity, affinityPod(terms, { zone: "b" }), n)).toBe(false);
    const silver: NodeSelectorTerm[] = [
      { matchExpressions: [{ key: "tier", operator: "In", values: ["silver"] }] },
    ];
    expect(fits(nodeAffinity, affinityPod(silver, { zone: "a" }), n)).toBe(false);
  });

  it("property: adding a nodeSelector entry never turns a rejection into acceptance", () => {
    fc.assert(
      fc.property(labelsArb, labelsArb, keyArb, valueArb, (labels, selector, key, value) => {
        fc.pre(!Object.hasOwn(selector, key));
        const n2 = node({ labels });
        const before = fits(nodeAffinity, pod({ nodeSelector: selector }), n2);
        const after = fits(nodeAffinity, pod({ nodeSelector: { ...selector, [key]: value } }), n2);
        return before || !after;
      }),
    );
  });

  it("property: a node carrying the selector as labels always matches it", () => {
    fc.assert(
      fc.property(labelsArb, labelsArb, (extra, selector) =>
        fits(nodeAffinity, pod({ nodeSelector: selector }), node({ labels: { ...extra, ...selector } })),
      ),
    );
  });
});

describe("NodeAffinity: required node affinity operators", () => {
  const n = node({
    name: "worker-1",
    labels: { zone: "a", cores: "16", big: "9007199254740993", text: "ten" },
  });

  it.each<[string, NodeSelectorRequirement, boolean]>([
    ["In with the value", { key: "zone", operator: "In", values: ["b", "a"] }, true],
    ["In without the value", { key: "zone", operator: "In", values: ["b"] }, false],
    ["In on a missing key", { key: "gpu", operator: "In", values: ["a"] }, false],
    ["NotIn without the value", { key: "zone", operator: "NotIn", values: ["b"] }, true],
    ["NotIn with the value", { key: "zone", operator: "NotIn", values: ["a"] }, false],
    ["NotIn on a missing key", { key: "gpu", operator: "NotIn", values: ["a"] }, true],
    ["Exists on a present key", { key: "zone", operator: "Exists" }, true],
    ["Exists on a missing key", { key: "gpu", operator: "Exists" }, false],
    ["DoesNotExist on a missing key", { key: "gpu", operator: "DoesNotExist" }, true],
    ["DoesNotExist on a present key", { key: "zone", operator: "DoesNotExist" }, false],
    ["Gt compares as integers (16 > 9)", { key: "cores", operator: "Gt", values: ["9"] }, true],
    ["Gt is strict", { key: "cores", operator: "Gt", values: ["16"] }, false],
    ["Lt compares as integers (16 < 100)", { key: "cores", operator: "Lt", values: ["100"] }, true],
    ["Lt is strict", { key: "cores", operator: "Lt", values: ["16"] }, false],
    ["Gt accepts leading zeros", { key: "cores", operator: "Gt", values: ["015"] }, true],
    ["Gt on a missing key", { key: "gpu", operator: "Gt", values: ["1"] }, false],
    ["Lt on a missing key", { key: "gpu", operator: "Lt", values: ["1"] }, false],
    ["Gt on a non-integer label", { key: "text", operator: "Gt", values: ["1"] }, false],
    ["Lt on a non-integer label", { key: "text", operator: "Lt", values: ["1"] }, false],
    ["Gt beyond 2^53 is exact", { key: "big", operator: "Gt", values: ["9007199254740992"] }, true],
    ["Lt beyond 2^53 is exact", { key: "big", operator: "Lt", values: ["9007199254740993"] }, false],
  ])("%s: matches=%s", (_title, requirement, expected) => {
    expect(fits(nodeAffinity, expressionPod(requirement), n)).toBe(expected);
  });

  it("ANDs the expressions of a term and ORs the terms", () => {
    const zoneA: NodeSelectorRequirement = { key: "zone", operator: "In", values: ["a"] };
    const gpu: NodeSelectorRequirement = { key: "gpu", operator: "Exists" };
    expect(fits(nodeAffinity, expressionPod(zoneA), n)).toBe(true);
    expect(fits(nodeAffinity, expressionPod(zoneA, gpu), n)).toBe(false);
    expect(
      fits(nodeAffinity, affinityPod([{ matchExpressions: [gpu] }, { matchExpressions: [zoneA] }]), n),
    ).toBe(true);
    expect(fits(nodeAffinity, affinityPod([{ matchExpressions: [gpu] }]), n)).toBe(false);
  });

  it("matches metadata.name with matchFields In and NotIn, ANDed with the term's expressions", () => {
    const named = (operator: "In" | "NotIn", name: string): NodeSelectorTerm => ({
      matchFields: [{ key: "metadata.name", operator, values: [name] }],
    });
    expect(fits(nodeAffinity, affinityPod([named("In", "worker-1")]), n)).toBe(true);
    expect(fits(nodeAffinity, affinityPod([named("In", "worker-2")]), n)).toBe(false);
    expect(fits(nodeAffinity, affinityPod([named("NotIn", "worker-2")]), n)).toBe(true);
    expect(fits(nodeAffinity, affinityPod([named("NotIn", "worker-1")]), n)).toBe(false);
    const both: NodeSelectorTerm = {
      matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }],
      matchFields: [{ key: "metadata.name", operator: "In", values: ["worker-1"] }],
    };
    expect(fits(nodeAffinity, affinityPod([both]), n)).toBe(false);
  });

  it("an empty term matches nothing, an empty list of terms matches nothing", () => {
    expect(nodeAffinity.filter(affinityPod([{}]), n)).toEqual(affinityMismatch);
    expect(nodeAffinity.filter(affinityPod([{ matchExpressions: [], matchFields: [] }]), n)).toEqual(
      affinityMismatch,
    );
    expect(nodeAffinity.filter(affinityPod([]), n)).toEqual(affinityMismatch);
    const zoneA: NodeSelectorTerm = { matchExpressions: [{ key: "zone", operator: "Exists" }] };
    expect(fits(nodeAffinity, affinityPod([{}, zoneA]), n)).toBe(true);
  });

  it("a pod without affinity or selector matches every node", () => {
    expect(nodeAffinity.filter(pod(), n)).toBeUndefined();
    expect(nodeAffinity.filter(pod(), node({ labels: {} }))).toBeUndefined();
  });

  it("property: NotIn is the negation of In when the key exists", () => {
    fc.assert(
      fc.property(valueArb, fc.array(valueArb, { minLength: 1, maxLength: 3 }), (value, values) => {
        const n2 = node({ labels: { zone: value } });
        const inResult = fits(nodeAffinity, expressionPod({ key: "zone", operator: "In", values }), n2);
        const notInResult = fits(nodeAffinity, expressionPod({ key: "zone", operator: "NotIn", values }), n2);
        return inResult === !notInResult && inResult === values.includes(value);
      }),
    );
  });

  it("property: Exists and DoesNotExist are complements", () => {
    fc.assert(
      fc.property(labelsArb, keyArb, (labels, key) => {
        const n2 = node({ labels });
        const exists = fits(nodeAffinity, expressionPod({ key, operator: "Exists" }), n2);
        const missing = fits(nodeAffinity, expressionPod({ key, operator: "DoesNotExist" }), n2);
        return exists !== missing && exists === Object.hasOwn(labels, key);
      }),
    );
  });

  it("property: Gt and Lt agree with exact int64 comparison", () => {
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    fc.assert(
      fc.property(int64, fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (label, bound) => {
        const n2 = node({ labels: { v: label.toString() } });
        const gt = fits(
          nodeAffinity,
          expressionPod({ key: "v", operator: "Gt", values: [bound.toString()] }),
          n2,
        );
        const lt = fits(
          nodeAffinity,
          expressionPod({ key: "v", operator: "Lt", values: [bound.toString()] }),
          n2,
        );
        return gt === label > bound && lt === label < bound;
      }),
    );
  });

  it("property: a list of terms matches exactly when one of its terms alone matches", () => {
    const requirementArb: fc.Arbitrary<NodeSelectorRequirement> = fc.oneof(
      fc.record({
        key: keyArb,
        operator: fc.constantFrom<"In" | "NotIn">("In", "NotIn"),
        values: fc.array(valueArb, { minLength: 1, maxLength: 2 }),
      }),
      fc.record({
        key: keyArb,
        operator: fc.constantFrom<"Exists" | "DoesNotExist">("Exists", "DoesNotExist"),
      }),
    );
    const termArb = fc.record({ matchExpressions: fc.array(requirementArb, { maxLength: 3 }) });
    fc.assert(
      fc.property(labelsArb, fc.array(termArb, { maxLength: 3 }), (labels, terms) => {
        const n2 = node({ labels });
        const any = terms.some((term) => fits(nodeAffinity, affinityPod([term]), n2));
        return fits(nodeAffinity, affinityPod(terms), n2) === any;
      }),
    );
  });
});

describe("NodeAffinity: malformed affinity", () => {
  const n = node({ name: "worker-1", labels: { zone: "a", cores: "16" } });

  it.each<[string, NodeSelectorRequirement, RegExp]>([
    [
      "Gt with a non-integer",
      { key: "cores", operator: "Gt", values: ["1.5"] },
      /Gt needs exactly one integer/,
    ],
    [
      "Lt with two values",
      { key: "cores", operator: "Lt", values: ["1", "2"] },
      /Lt needs exactly one integer/,
    ],
    ["Gt with no value", { key: "cores", operator: "Gt" }, /Gt needs exactly one integer/],
    [
      "Gt beyond int64",
      { key: "cores", operator: "Gt", values: ["9223372036854775808"] },
      /exactly one integer/,
    ],
    ["In with no values", { key: "zone", operator: "In", values: [] }, /In needs at least one value/],
    ["NotIn with no values", { key: "zone", operator: "NotIn" }, /NotIn needs at least one value/],
    ["Exists with values", { key: "zone", operator: "Exists", values: ["a"] }, /Exists takes no values/],
    [
      "DoesNotExist with values",
      { key: "gpu", operator: "DoesNotExist", values: ["a"] },
      /DoesNotExist takes no/,
    ],
    ["an invalid key", { key: "bad key", operator: "Exists" }, /not a valid label key/],
    [
      "an invalid value",
      { key: "zone", operator: "NotIn", values: ["not valid!"] },
      /not a valid label value/,
    ],
    ["an unknown operator", { key: "zone", operator: "Matches" as never, values: ["a"] }, /unknown operator/],
  ])("%s: reported, and the term matches no node", (_title, requirement, message) => {
    const p = expressionPod(requirement);
    expect(nodeAffinityError(p)).toMatch(message);
    expect(nodeAffinityError(p)).toMatch(/nodeSelectorTerms\[0\]\.matchExpressions\[0\]/);
    expect(nodeAffinity.filter(p, n)).toEqual(affinityMismatch);
  });

  it.each<[string, NodeSelectorRequirement, RegExp]>([
    [
      "another field",
      { key: "metadata.namespace", operator: "In", values: ["x"] },
      /only the key metadata.name/,
    ],
    ["operator Exists", { key: "metadata.name", operator: "Exists" }, /only operators In and NotIn/],
    ["two values", { key: "metadata.name", operator: "In", values: ["worker-1", "w2"] }, /exactly one value/],
  ])("matchFields with %s: reported, and the term matches no node", (_title, field, message) => {
    const p = affinityPod([{ matchFields: [field] }]);
    expect(nodeAffinityError(p)).toMatch(message);
    expect(fits(nodeAffinity, p, n)).toBe(false);
  });

  it("a malformed term does not stop a well-formed term from matching, as in kube-scheduler", () => {
    const p = affinityPod([
      { matchExpressions: [{ key: "cores", operator: "Gt", values: ["many"] }] },
      { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
    ]);
    expect(fits(nodeAffinity, p, n)).toBe(true);
    expect(nodeAffinityError(p)).toMatch(/nodeSelectorTerms\[0\]/);
  });

  it("negative Gt/Lt values are not valid label values, so Kubernetes rejects them too", () => {
    const p = expressionPod({ key: "cores", operator: "Gt", values: ["-1"] });
    expect(fits(nodeAffinity, p, n)).toBe(false);
    expect(nodeAffinityError(p)).toMatch(/not a valid label value/);
  });

  it("reports a pod whose terms can match no node at all", () => {
    expect(nodeAffinityError(affinityPod([]))).toMatch(/nodeSelectorTerms is empty/);
    expect(nodeAffinityError(affinityPod([{}, { matchExpressions: [] }]))).toMatch(
      /every nodeSelectorTerm is empty/,
    );
  });

  it("reports nothing for a well-formed or missing affinity", () => {
    expect(nodeAffinityError(pod())).toBeUndefined();
    expect(nodeAffinityError(pod({ nodeSelector: { zone: "a" } }))).toBeUndefined();
    const ok = affinityPod([
      {
        matchExpressions: [
          { key: "example.com/zone", operator: "In", values: ["a", ""] },
          { key: "cores", operator: "Lt", values: ["0"] },
          { key: "gpu", operator: "DoesNotExist" },
        ],
        matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["worker-9"] }],
      },
    ]);
    expect(nodeAffinityError(ok)).toBeUndefined();
  });
});

describe("parseInt64", () => {
  it.each<[string, number | bigint | undefined]>([
    ["0", 0],
    ["+7", 7],
    ["-007", -7],
    ["9223372036854775807", 2n ** 63n - 1n],
    ["-9223372036854775808", -(2n ** 63n)],
    ["9223372036854775808", undefined],
    ["1.0", undefined],
    ["1e3", undefined],
    [" 1", undefined],
    ["", undefined],
    ["0x10", undefined],
    ["1_000", undefined],
  ])("%j → %s", (text, expected) => {
    expect(parseInt64(text)).toBe(expected);
  });
});

// --- the default list ----------------------------------------------------------------------

describe("LentNode", () => {
  const lentNode = lentNodeOf(new ClusterState());
  const lentFor = (group: string) => {
    const info = node();
    return toNodeInfo({
      ...info.node,
      metadata: { ...info.node.metadata, annotations: { [lentForAnnotation]: group } },
    });
  };
  const member = (group: string) =>
    toPodInfo({
      metadata: {
        name: "m",
        namespace: "ns",
        uid: "uid-m",
        annotations: { "sharded-scheduler.io/pod-group": group },
      },
      spec: { containers: [{ name: "c" }] },
    });

  it("takes any pod on a node that is not lent", () => {
    expect(fits(lentNode, pod(), node())).toBe(true);
  });

  it("takes only the pods of the group a node was lent for", () => {
    expect(fits(lentNode, member("job-a"), lentFor("group:ns/job-a"))).toBe(true);
    expect(lentNode.filter(member("job-b"), lentFor("group:ns/job-a"))).toEqual(
      unresolvable("node(s) were lent for another pod group"),
    );
    expect(fits(lentNode, pod(), lentFor("group:ns/job-a"))).toBe(false);
  });

  // A preemptor placed while the group ran there, which then evicted the group: the hold is back,
  // but the room is the preemptor's.
  it("takes a pod nominated to it, though held for another group", () => {
    const nominated = (nodeName: string) =>
      toPodInfo({
        metadata: { name: "pre", namespace: "ns", uid: "uid-pre" },
        spec: { containers: [{ name: "c" }] },
        status: { nominatedNodeName: nodeName },
      });
    expect(fits(lentNode, nominated("n1"), lentFor("group:ns/job-a"))).toBe(true);
    expect(fits(lentNode, nominated("n2"), lentFor("group:ns/job-a"))).toBe(false);
  });

  it("takes anyone's pods once the group runs on it", () => {
    const n = lentFor("group:ns/job-a");
    const arrived = member("job-a");
    n.pods.set(arrived.key, arrived);
    expect(fits(lentNode, member("job-b"), n)).toBe(true);
  });
});

describe("defaultFilterPlugins", () => {
  it("runs the non-resource filters in kube-scheduler's order", () => {
    expect(defaultFilterPlugins.map((p) => p.name)).toEqual([
      "NodeUnschedulable",
      "NodeReady",
      "TaintToleration",
      "NodeAffinity",
    ]);
    // None waits for a pod to arrive: they read the node alone.
    expect(defaultFilterPlugins.filter((p) => p.events?.includes("AssignedPodAdd"))).toEqual([]);
  });

  it("the first failing plugin's reason is the one a node is rejected for", () => {
    const p = pod({ nodeSelector: { zone: "b" } });
    const n = node({ unschedulable: true, ready: "False", taints: [{ key: "k", effect: "NoSchedule" }] });
    const first = defaultFilterPlugins.map((plugin) => plugin.filter(p, n)).find((r) => r !== undefined);
    expect(first).toEqual(unschedulable);
    const rejections = defaultFilterPlugins.map((plugin) => plugin.filter(p, n));
    expect(rejections).toEqual([unschedulable, notReady, untolerated, affinityMismatch]);
  });
});
