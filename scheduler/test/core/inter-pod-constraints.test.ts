/**
 * Inter-pod constraints read from the spec (core/inter-pod-constraints.ts), and the hashing they
 * decide: a solo pod with any of them and a controller hashes by the controller, every other pod
 * by itself, a gang by its group.
 */
import { describe, expect, it } from "vitest";
import type { Pod, PodSpec } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { interPodConstraintsOf, noInterPodConstraints } from "../../src/core/inter-pod-constraints.js";
import { pod } from "./fixtures.js";

const term = { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" };
const weighted = { weight: 10, podAffinityTerm: term };
const spread = (whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway") => ({
  maxSkew: 1,
  topologyKey: "topology.kubernetes.io/zone",
  whenUnsatisfiable,
});

const withSpec = (p: Pod, spec: Partial<PodSpec>): Pod => ({ ...p, spec: { ...p.spec, ...spec } });
const owned = (p: Pod, kind = "ReplicaSet", name = "web-7d9f", controller = true): Pod => ({
  ...p,
  metadata: {
    ...p.metadata,
    ownerReferences: [
      { apiVersion: "v1", kind: "Other", name: "not-the-controller", uid: "u0" },
      { apiVersion: "apps/v1", kind, name, uid: "u1", controller },
    ],
  },
});

const cases: readonly [
  string,
  Partial<PodSpec>,
  { any: boolean; required: boolean; requiredAntiAffinity: boolean },
][] = [
  ["nothing", {}, { any: false, required: false, requiredAntiAffinity: false }],
  [
    "empty affinity lists",
    { affinity: { podAntiAffinity: {} }, topologySpreadConstraints: [] },
    noInterPodConstraints,
  ],
  [
    "preferred affinity",
    { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [weighted] } } },
    { any: true, required: false, requiredAntiAffinity: false },
  ],
  [
    "preferred anti-affinity",
    { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [weighted] } } },
    { any: true, required: false, requiredAntiAffinity: false },
  ],
  [
    "ScheduleAnyway spread",
    { topologySpreadConstraints: [spread("ScheduleAnyway")] },
    { any: true, required: false, requiredAntiAffinity: false },
  ],
  [
    "required affinity",
    { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } },
    { any: true, required: true, requiredAntiAffinity: false },
  ],
  [
    "required anti-affinity",
    { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } },
    { any: true, required: true, requiredAntiAffinity: true },
  ],
  [
    "DoNotSchedule spread after a ScheduleAnyway one",
    { topologySpreadConstraints: [spread("ScheduleAnyway"), spread("DoNotSchedule")] },
    { any: true, required: true, requiredAntiAffinity: false },
  ],
];

describe("interPodConstraintsOf", () => {
  it.each(cases)("%s", (_, spec, expected) => {
    expect({ ...interPodConstraintsOf({ containers: [], ...spec }) }).toEqual({ ...expected });
  });

  it("shares one frozen value per combination: nothing is allocated per pod", () => {
    const spec = { containers: [], topologySpreadConstraints: [spread("DoNotSchedule")] };
    expect(interPodConstraintsOf(spec)).toBe(interPodConstraintsOf({ ...spec }));
    expect(Object.isFrozen(interPodConstraintsOf(spec))).toBe(true);
    expect(interPodConstraintsOf({ containers: [] })).toBe(noInterPodConstraints);
  });
});

describe("hashing by controller", () => {
  const antiAffine = withSpec(pod("web-7d9f-abcde"), {
    affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } },
  });
  const softSpread = withSpec(pod("web-7d9f-fghij"), {
    topologySpreadConstraints: [spread("ScheduleAnyway")],
  });

  it("a solo pod with inter-pod constraints and a controller hashes by the controller's kind and name", () => {
    for (const p of [antiAffine, softSpread]) {
      const info = toPodInfo(owned(p));
      expect(info.group.hashKey).toBe("default/ReplicaSet/web-7d9f");
      // Still a gang of one: its id and name are the pod's.
      expect(info.group).toMatchObject({ id: `pod:default/${p.metadata.name}`, solo: true });
    }
  });

  it("pods of one controller share the key; pods of another controller do not", () => {
    const a = toPodInfo(owned(antiAffine)).group.hashKey;
    const b = toPodInfo(owned(softSpread)).group.hashKey;
    const c = toPodInfo(owned(antiAffine, "StatefulSet", "web-7d9f")).group.hashKey;
    expect(a).toBe(b);
    expect(c).toBe("default/StatefulSet/web-7d9f");
  });

  it("a pod without inter-pod constraints keeps its own key, controller or not", () => {
    expect(toPodInfo(owned(pod("plain"))).group.hashKey).toBe("default/plain");
  });

  it("a pod without a controller (none marked controller) hashes by its constraints: alike pods share the key", () => {
    const key = toPodInfo(antiAffine).group.hashKey;
    expect(key).toMatch(/^default\/InterPodConstraints\/[0-9a-f]{8}$/);
    expect(toPodInfo(owned(antiAffine, "ReplicaSet", "web", false)).group.hashKey).toBe(key);
    const twin = { ...antiAffine, metadata: { ...antiAffine.metadata, name: "another" } };
    expect(toPodInfo(twin).group).toMatchObject({ id: "pod:default/another", hashKey: key });
    expect(toPodInfo(softSpread).group.hashKey).not.toBe(key);
  });

  it("a gang member hashes by its group, whatever its constraints and controller", () => {
    const member = owned(withSpec(pod("train-0", { group: "train" }), antiAffine.spec));
    expect(toPodInfo(member).group).toMatchObject({ id: "group:default/train", hashKey: "default/train" });
  });
});
