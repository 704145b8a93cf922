/**
 * The PodGroup CRDs (scheduler-plugins scheduling.x-k8s.io/v1alpha1, Volcano
 * scheduling.volcano.sh/v1beta1) as a group source: parsed strictly, governing only where the
 * CRD is watched, keyed apart from every other kind of group, a missing one holding its pods, a
 * Volcano group's priority from its PriorityClass only; coscheduling's room check and the status
 * the owning shard writes.
 */
import { describe, expect, it } from "vitest";
import { podGroupAnnotation } from "../../../src/contracts/keys.js";
import type { Pod } from "../../../src/core/api-types.js";
import { toPodInfo } from "../../../src/core/build-info.js";
import { ClusterState } from "../../../src/core/cluster-state.js";
import {
  coschedulingApi,
  coschedulingStatus,
  coschedulingStatusUpdate,
  crdGroupSource,
  crdPodGroupKey,
  crdPodGroupNotFoundMessage,
  type GroupObjects,
  groupKey,
  groupReadiness,
  minResourcesGap,
  noGroupObjects,
  parseCrdPodGroup,
  podGroupKey,
  volcanoApi,
} from "../../../src/core/gang/index.js";
import { node, type PodOptions, pod } from "../fixtures.js";

const xLabel = "scheduling.x-k8s.io/pod-group";
const vAnnotation = "scheduling.k8s.io/group-name";

function xMember(name: string, group: string, options: PodOptions = {}): Pod {
  return pod(name, { ...options, labels: { ...options.labels, [xLabel]: group } });
}

function vMember(name: string, group: string, options: PodOptions = {}): Pod {
  const base = pod(name, options);
  return {
    ...base,
    metadata: { ...base.metadata, annotations: { ...base.metadata.annotations, [vAnnotation]: group } },
  };
}

const crdObject = (spec: Record<string, unknown>, name = "train", namespace = "default") => ({
  metadata: { name, namespace },
  spec,
});

interface Served {
  x?: ReturnType<typeof crdObject>[];
  v?: ReturnType<typeof crdObject>[];
  classes?: { metadata: { name: string }; value: number; globalDefault?: boolean }[];
}

function objectsOf(served: Served): GroupObjects {
  const lookup = (list: ReturnType<typeof crdObject>[]) => (namespace: string, name: string) =>
    list.find((o) => o.metadata.namespace === namespace && o.metadata.name === name);
  const classes = served.classes ?? [];
  return {
    ...(served.x ? { coschedulingPodGroup: lookup(served.x) } : {}),
    ...(served.v ? { volcanoPodGroup: lookup(served.v) } : {}),
    priorityClasses: {
      byName: (name) => classes.find((c) => c.metadata.name === name),
      globalDefault: () => classes.find((c) => c.globalDefault),
    },
  };
}

describe("parseCrdPodGroup", () => {
  it("reads a scheduler-plugins PodGroup's minMember, minResources and scheduleTimeoutSeconds", () => {
    const parsed = parseCrdPodGroup(
      coschedulingApi,
      crdObject({ minMember: 3, minResources: { cpu: "1500m", memory: "2Gi" }, scheduleTimeoutSeconds: 30 }),
    );
    expect(parsed.terms?.minMember).toBe(3);
    expect(parsed.terms?.minResources?.milliCpu).toBe(1500);
    expect(parsed.terms?.minResources?.memory).toBe(2 * 1024 ** 3);
    expect(parsed.terms?.scheduleTimeoutMs).toBe(30_000);
  });

  it("takes minMember 0 or unset as 1 (one pod at a time) and an empty minResources as none", () => {
    expect(parseCrdPodGroup(coschedulingApi, crdObject({})).terms?.minMember).toBe(1);
    expect(parseCrdPodGroup(volcanoApi, crdObject({ minMember: 0, minResources: {} })).terms).toMatchObject({
      minMember: 1,
      minResources: undefined,
    });
  });

  it("refuses malformed fields by name", () => {
    expect(parseCrdPodGroup(coschedulingApi, crdObject({ minMember: -1 })).error).toContain(
      "spec.minMember=-1",
    );
    expect(parseCrdPodGroup(coschedulingApi, crdObject({ minMember: "3" })).error).toContain(
      "spec.minMember",
    );
    expect(parseCrdPodGroup(coschedulingApi, crdObject({ minResources: { cpu: "lots" } })).error).toContain(
      "spec.minResources",
    );
    expect(parseCrdPodGroup(coschedulingApi, crdObject({ scheduleTimeoutSeconds: 1.5 })).error).toContain(
      "spec.scheduleTimeoutSeconds",
    );
    expect(parseCrdPodGroup(volcanoApi, crdObject({ priorityClassName: 7 })).error).toContain(
      "spec.priorityClassName",
    );
  });

  it("refuses Volcano's per-task minimums, sub-groups and network topology: not supported yet", () => {
    expect(parseCrdPodGroup(volcanoApi, crdObject({ minMember: 2, minTaskMember: { ps: 1 } })).error).toBe(
      "has spec.minTaskMember: not supported yet",
    );
    expect(parseCrdPodGroup(volcanoApi, crdObject({ networkTopology: { mode: "hard" } })).error).toContain(
      "spec.networkTopology",
    );
    expect(parseCrdPodGroup(volcanoApi, crdObject({ minTaskMember: {} })).error).toBeUndefined();
  });
});

describe("crdGroupSource", () => {
  it("where the CRD is not served, the label and annotation are annotation-style group names, as before", () => {
    for (const p of [xMember("a", "train"), vMember("b", "train")]) {
      const membership = crdGroupSource.membership(p, noGroupObjects);
      expect(membership.group).toEqual(groupKey("default", "train", false));
      expect(membership.waitingFor).toBeUndefined();
    }
  });

  it("a served scheduler-plugins PodGroup governs: its own key, its minMember, its terms on the member", () => {
    const objects = objectsOf({ x: [crdObject({ minMember: 3, scheduleTimeoutSeconds: 5 })] });
    const info = toPodInfo(xMember("a", "train", { priority: 7 }), crdGroupSource, objects);
    expect(info.group).toEqual(crdPodGroupKey(coschedulingApi, "default", "train"));
    expect(info.minMember).toBe(3);
    expect(info.crdTerms?.scheduleTimeoutMs).toBe(5000);
    // coscheduling's QueueSort reads the pod's own priority.
    expect(info.priority).toBe(7);
  });

  it("keys never collide: annotation group, native PodGroup and each CRD of one name are four groups, hashed apart", () => {
    const keys = [
      groupKey("default", "train", false),
      podGroupKey("default", "train"),
      crdPodGroupKey(coschedulingApi, "default", "train"),
      crdPodGroupKey(volcanoApi, "default", "train"),
    ];
    expect(new Set(keys.map((k) => k.id)).size).toBe(4);
    expect(new Set(keys.map((k) => k.hashKey)).size).toBe(4);
    expect(keys[2]?.id).toBe("podgroup.scheduling.x-k8s.io:default/train");
    expect(keys[3]?.hashKey).toBe("default/PodGroup.scheduling.volcano.sh/train");
  });

  it("a missing PodGroup holds the pod (coscheduling's Permit: PodGroup not found) until it appears", () => {
    const membership = crdGroupSource.membership(xMember("a", "train"), objectsOf({ x: [] }));
    expect(membership.error).toBeUndefined();
    expect(membership.group.id).toBe("podgroup.scheduling.x-k8s.io:default/train");
    expect(membership.waitingFor).toBe(crdPodGroupNotFoundMessage(coschedulingApi, "default", "train"));
    expect(membership.waitingFor).toMatch(/^PodGroup not found: /);
    const state = {
      key: membership.group,
      minMember: undefined,
      pending: 4,
      running: 0,
      succeeded: 0,
      started: false,
      lastArrivalAt: 0,
      waitingFor: membership.waitingFor,
    };
    expect(groupReadiness(state, 10_000, 0)).toMatchObject({ ready: false, why: membership.waitingFor });
  });

  it("a pod naming both CRDs' PodGroups is refused", () => {
    const both = vMember("a", "train", { labels: { [xLabel]: "train" } });
    const objects = objectsOf({ x: [crdObject({ minMember: 2 })], v: [crdObject({ minMember: 2 })] });
    expect(crdGroupSource.membership(both, objects).error).toBe(
      "pod names scheduling.x-k8s.io/v1alpha1 PodGroup train (label scheduling.x-k8s.io/pod-group) and scheduling.volcano.sh/v1beta1 PodGroup train (annotation scheduling.k8s.io/group-name); a pod is in one group",
    );
    // With only one CRD served, the other key is a group name that agrees: the served CRD governs.
    const one = crdGroupSource.membership(both, objectsOf({ x: [crdObject({ minMember: 2 })] }));
    expect(one.error).toBeUndefined();
    expect(one.group.crd).toBe(coschedulingApi);
  });

  it("a pod naming a native PodGroup and carrying the CRD label is refused, as any group key beside spec.schedulingGroup", () => {
    const base = xMember("a", "train");
    const both: Pod = { ...base, spec: { ...base.spec, schedulingGroup: { podGroupName: "train" } } };
    expect(crdGroupSource.membership(both, objectsOf({ x: [crdObject({ minMember: 2 })] })).error).toContain(
      "a pod is in one group",
    );
  });

  it("our min-member annotation must agree with spec.minMember; our group annotation of the same name is accepted", () => {
    const objects = objectsOf({ x: [crdObject({ minMember: 3 })] });
    expect(crdGroupSource.membership(xMember("a", "train", { minMember: 2 }), objects).error).toContain(
      "disagrees with scheduling.x-k8s.io/v1alpha1 PodGroup default/train spec.minMember=3",
    );
    expect(crdGroupSource.membership(xMember("a", "train", { minMember: 3 }), objects).error).toBeUndefined();
    const named = crdGroupSource.membership(xMember("b", "train", { group: "train" }), objects);
    expect(named.group.crd).toBe(coschedulingApi);
    expect(crdGroupSource.membership(xMember("c", "train", { group: "other" }), objects).error).toContain(
      `annotation ${podGroupAnnotation}="other"`,
    );
  });

  it("a malformed PodGroup is refused naming the object and field", () => {
    const objects = objectsOf({ v: [crdObject({ minMember: "two" })] });
    expect(crdGroupSource.membership(vMember("a", "train"), objects).error).toBe(
      'scheduling.volcano.sh/v1beta1 PodGroup default/train spec.minMember="two" is not a non-negative integer',
    );
  });

  it("a Volcano group's priority is its PriorityClass's value, never a member's", () => {
    const classes = [
      { metadata: { name: "high" }, value: 1000 },
      { metadata: { name: "default" }, value: 50, globalDefault: true },
    ];
    const high = objectsOf({ v: [crdObject({ minMember: 2, priorityClassName: "high" })], classes });
    // A member claiming a higher priority lends it to no one.
    expect(crdGroupSource.membership(vMember("a", "train", { priority: 1_000_000 }), high).priority).toBe(
      1000,
    );
    expect(crdGroupSource.membership(vMember("b", "train", { priority: 0 }), high).priority).toBe(1000);
  });

  it("a Volcano group without a class (or naming a missing one) has the globalDefault class's value, else 0", () => {
    const withDefault = [{ metadata: { name: "default" }, value: 50, globalDefault: true }];
    const unnamed = objectsOf({ v: [crdObject({ minMember: 2 })], classes: withDefault });
    expect(crdGroupSource.membership(vMember("a", "train", { priority: 900 }), unnamed).priority).toBe(50);
    const missing = objectsOf({
      v: [crdObject({ minMember: 2, priorityClassName: "gone" })],
      classes: withDefault,
    });
    expect(crdGroupSource.membership(vMember("a", "train", { priority: 900 }), missing).priority).toBe(50);
    const none = objectsOf({ v: [crdObject({ minMember: 2 })] });
    expect(crdGroupSource.membership(vMember("a", "train", { priority: 900 }), none).priority).toBe(0);
  });
});

describe("minResourcesGap (coscheduling's PreFilter room check)", () => {
  function clusterWith(pods: Pod[]): ClusterState {
    const cluster = new ClusterState();
    cluster.upsertNode(node("n1", { cpu: 4, memory: "8Gi", pods: 10 }));
    cluster.upsertNode(node("n2", { cpu: 4, memory: "8Gi", pods: 10 }));
    for (const p of pods) cluster.upsertPod(toPodInfo(p));
    return cluster;
  }
  const want = (spec: Record<string, unknown>) =>
    parseCrdPodGroup(coschedulingApi, crdObject(spec)).terms?.minResources;

  it("sums the room left over the nodes and reports the gap, pod slots included", () => {
    const cluster = clusterWith([pod("other", { cpu: 3, nodeName: "n1" })]);
    // 1 + 4 cores free.
    expect(
      minResourcesGap(want({ minResources: { cpu: "5" } }), 2, cluster.nodes, () => false),
    ).toBeUndefined();
    expect(
      minResourcesGap(want({ minResources: { cpu: "6", memory: "1Gi" } }), 2, cluster.nodes, () => false),
    ).toBe("resource gap: cpu 1000m");
    expect(minResourcesGap(want({ minResources: { cpu: "1" } }), 21, cluster.nodes, () => false)).toBe(
      "resource gap: pods 2",
    );
    expect(minResourcesGap(undefined, 1000, cluster.nodes, () => false)).toBeUndefined();
  });

  it("the group's own pods do not count as taking room (it is the group's)", () => {
    const cluster = clusterWith([xMember("mine", "train", { cpu: 3, nodeName: "n1" })]);
    const own = (p: { labels: Record<string, string> }) => p.labels[xLabel] === "train";
    expect(minResourcesGap(want({ minResources: { cpu: "8" } }), 2, cluster.nodes, own)).toBeUndefined();
    expect(minResourcesGap(want({ minResources: { cpu: "8" } }), 2, cluster.nodes, () => false)).toBe(
      "resource gap: cpu 3000m",
    );
  });
});

describe("coschedulingStatus", () => {
  const counts = (
    c: Partial<{ pending: number; bound: number; running: number; succeeded: number; failed: number }>,
  ) => ({
    pending: 0,
    bound: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    ...c,
  });

  it("moves Pending → PreScheduling → Scheduling → Scheduled → Running → Finished as members go", () => {
    expect(coschedulingStatus(3, counts({ pending: 2 }), undefined).phase).toBe("Pending");
    expect(coschedulingStatus(3, counts({ pending: 3 }), "Pending").phase).toBe("PreScheduling");
    expect(coschedulingStatus(3, counts({ pending: 2, bound: 1 }), "PreScheduling")).toEqual({
      phase: "Scheduling",
      scheduled: 1,
      running: 0,
      succeeded: 0,
      failed: 0,
    });
    expect(coschedulingStatus(3, counts({ bound: 3 }), "Scheduling").phase).toBe("Scheduled");
    expect(coschedulingStatus(3, counts({ bound: 3, running: 3 }), "Scheduled").phase).toBe("Running");
    expect(coschedulingStatus(3, counts({ bound: 1, running: 1, succeeded: 2 }), "Running").phase).toBe(
      "Running",
    );
    expect(coschedulingStatus(3, counts({ succeeded: 3 }), "Running")).toMatchObject({
      phase: "Finished",
      scheduled: 3,
    });
  });

  it("Failed once a member failed and the rest cannot make minMember otherwise; Finished and Failed stay", () => {
    expect(coschedulingStatus(3, counts({ bound: 2, running: 2, failed: 1 }), "Running").phase).toBe(
      "Failed",
    );
    expect(
      coschedulingStatus(3, counts({ bound: 1, running: 1, failed: 1, pending: 1 }), "Running").phase,
    ).toBe("Scheduling");
    expect(coschedulingStatus(3, counts({ pending: 3 }), "Finished").phase).toBe("Finished");
    expect(coschedulingStatus(3, counts({ pending: 3 }), "Failed").phase).toBe("Failed");
  });

  it("is written only when the PodGroup says something else", () => {
    const wanted = coschedulingStatus(2, counts({ bound: 2, running: 2 }), undefined);
    expect(
      coschedulingStatusUpdate({ status: { phase: "Running", scheduled: 2, running: 2 } }, wanted),
    ).toBeUndefined();
    expect(
      coschedulingStatusUpdate({ status: { phase: "Scheduled", scheduled: 2, running: 2 } }, wanted),
    ).toBe(wanted);
    expect(coschedulingStatusUpdate({}, wanted)).toBe(wanted);
  });

  it("does not compare status.scheduled where the CRD prunes it (current scheduler-plugins), and does where it keeps it", () => {
    const wanted = coschedulingStatus(2, counts({ bound: 2, running: 2 }), undefined);
    const pruned = { status: { phase: "Running", running: 2, succeeded: 0, failed: 0 } };
    expect(coschedulingStatusUpdate(pruned, wanted)).toBeUndefined();
    expect(coschedulingStatusUpdate({ status: { ...pruned.status, scheduled: 1 } }, wanted)).toBe(wanted);
  });
});
