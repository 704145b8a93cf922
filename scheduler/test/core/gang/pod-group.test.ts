/**
 * The native PodGroup source (scheduling.k8s.io/v1beta1): the PodGroup is parsed strictly, its
 * terms (minCount, priority, preemption policy, disruption mode) reach every member and no
 * member's own, a missing one holds its pods, and what is not supported yet is refused by name.
 */
import { describe, expect, it } from "vitest";
import type { Pod } from "../../../src/core/api-types.js";
import { toPodInfo } from "../../../src/core/build-info.js";
import {
  basicTopologyMessage,
  type GroupObjects,
  groupKey,
  groupReadiness,
  initiallyScheduledUpdate,
  missingPodGroupMessage,
  noGroupObjects,
  parsePodGroup,
  podGroupKey,
  podGroupSource,
} from "../../../src/core/gang/index.js";
import { type PodOptions, pod } from "../fixtures.js";

/** A pod naming PodGroup `name` in spec.schedulingGroup. */
function member(podName: string, name: unknown, options: PodOptions = {}): Pod {
  const base = pod(podName, options);
  return { ...base, spec: { ...base.spec, schedulingGroup: { podGroupName: name as string } } };
}

function podGroup(spec: Record<string, unknown>, name = "train", namespace = "default") {
  return { apiVersion: "scheduling.k8s.io/v1beta1", kind: "PodGroup", metadata: { name, namespace }, spec };
}

const gang = (minCount: unknown, extra: Record<string, unknown> = {}) =>
  podGroup({ schedulingPolicy: { gang: { minCount } }, ...extra });

function objectsOf(...podGroups: ReturnType<typeof podGroup>[]): GroupObjects {
  const byKey = new Map(podGroups.map((pg) => [`${pg.metadata.namespace}/${pg.metadata.name}`, pg]));
  return { podGroup: (namespace, name) => byKey.get(`${namespace}/${name}`) };
}

describe("parsePodGroup", () => {
  it("reads a gang's minCount, priority, preemption policy and disruption mode", () => {
    const parsed = parsePodGroup(
      gang(4, { priority: 1000, preemptionPolicy: "Never", disruptionMode: { all: {} } }),
    );
    expect(parsed.terms).toEqual({
      policy: "gang",
      minCount: 4,
      priority: 1000,
      preemptionPolicy: "Never",
      disruption: "all",
      topologyKeys: [],
      parent: undefined,
      resourceClaims: 0,
    });
  });

  it("defaults as the API does: priority 0 (kube-scheduler's PodGroupPriority), PreemptLowerPriority, disruption single", () => {
    // priorityClassName alone is admission's to resolve: without spec.priority the group has 0.
    const parsed = parsePodGroup(gang(2, { priorityClassName: "high" }));
    expect(parsed.terms?.priority).toBe(0);
    expect(parsed.terms?.preemptionPolicy).toBe("PreemptLowerPriority");
    expect(parsed.terms?.disruption).toBe("single");
    expect(parsePodGroup(gang(2, { disruptionMode: { single: {} } })).terms?.disruption).toBe("single");
  });

  it("reads a basic policy as no gang", () => {
    const parsed = parsePodGroup(podGroup({ schedulingPolicy: { basic: {} } }));
    expect(parsed.terms?.policy).toBe("basic");
    expect(parsed.terms?.minCount).toBeUndefined();
  });

  it.each([
    ["no spec", { metadata: { name: "x" } }, "spec is missing or not an object"],
    ["a string", "PodGroup", "spec is missing or not an object"],
    ["no policy", podGroup({}), "spec.schedulingPolicy is missing"],
    [
      "both policies",
      podGroup({ schedulingPolicy: { basic: {}, gang: { minCount: 2 } } }),
      "spec.schedulingPolicy must set exactly one of basic and gang",
    ],
    [
      "neither policy",
      podGroup({ schedulingPolicy: {} }),
      "spec.schedulingPolicy must set exactly one of basic and gang",
    ],
    ["minCount 0", gang(0), "spec.schedulingPolicy.gang.minCount=0 is not a positive integer"],
    ["minCount 2.5", gang(2.5), "spec.schedulingPolicy.gang.minCount=2.5 is not a positive integer"],
    ['minCount "3"', gang("3"), 'spec.schedulingPolicy.gang.minCount="3" is not a positive integer'],
    ["no minCount", gang(undefined), "spec.schedulingPolicy.gang.minCount=unset is not a positive integer"],
    [
      "a gang list",
      podGroup({ schedulingPolicy: { gang: [] } }),
      "spec.schedulingPolicy.gang is not an object",
    ],
    ["priority text", gang(2, { priority: "high" }), 'spec.priority="high" is not a 32-bit integer'],
    ["priority 2^40", gang(2, { priority: 2 ** 40 }), "spec.priority=1099511627776 is not a 32-bit integer"],
    [
      "preemptionPolicy Always",
      gang(2, { preemptionPolicy: "Always" }),
      'spec.preemptionPolicy="Always" is neither Never nor PreemptLowerPriority',
    ],
    ["a disruption mode as text", gang(2, { disruptionMode: "all" }), "spec.disruptionMode is not an object"],
    [
      "both disruption modes",
      gang(2, { disruptionMode: { single: {}, all: {} } }),
      "spec.disruptionMode must set exactly one of single and all",
    ],
    [
      "a topology key missing",
      gang(2, { schedulingConstraints: { topology: [{}] } }),
      "spec.schedulingConstraints.topology[0].key is missing or empty",
    ],
  ])("refuses %s, saying why", (_what, object, error) => {
    expect(parsePodGroup(object)).toEqual({ error });
  });
});

describe("podGroupSource", () => {
  it("puts members in their PodGroup with min-member = minCount and the PodGroup's priority, never their own", () => {
    const objects = objectsOf(
      gang(3, { priority: 100, preemptionPolicy: "Never", disruptionMode: { all: {} } }),
    );
    // A member that says 1_000_000 for itself lends nothing: the group's priority is the PodGroup's.
    const high = toPodInfo(member("train-0", "train", { priority: 1_000_000 }), podGroupSource, objects);
    const low = toPodInfo(member("train-1", "train", { priority: 0 }), podGroupSource, objects);
    for (const info of [high, low]) {
      expect(info.group).toEqual(podGroupKey("default", "train"));
      expect(info.minMember).toBe(3);
      expect(info.priority).toBe(100);
      expect(info.preemptionPolicy).toBe("Never");
      expect(info.disruption).toBe("all");
      expect(info.groupError).toBeUndefined();
      expect(info.groupWaitingFor).toBeUndefined();
    }
  });

  it("keeps a PodGroup apart from the annotation group of the same name, and hashes it as one unit", () => {
    const native = podGroupKey("default", "train");
    const annotated = toPodInfo(pod("a-0", { group: "train" })).group;
    expect(native.id).not.toBe(annotated.id);
    expect(native.hashKey).not.toBe(annotated.hashKey);
    const objects = objectsOf(gang(2));
    const hashKeys = new Set(
      ["train-0", "train-1", "train-2"].map(
        (name) => toPodInfo(member(name, "train"), podGroupSource, objects).group.hashKey,
      ),
    );
    expect([...hashKeys]).toEqual(["default/PodGroup/train"]);
  });

  it("is namespace-local: a PodGroup of another namespace is not the pod's", () => {
    const objects = objectsOf(
      gang(2, {}),
      podGroup({ schedulingPolicy: { gang: { minCount: 5 } } }, "train", "other"),
    );
    const info = toPodInfo(member("t-0", "train", { namespace: "other" }), podGroupSource, objects);
    expect(info.group.id).toBe("podgroup:other/train");
    expect(info.minMember).toBe(5);
  });

  it("holds a pod whose PodGroup does not exist with kube-scheduler's message; it keeps its own priority meanwhile", () => {
    const info = toPodInfo(member("train-0", "train", { priority: 7 }), podGroupSource, noGroupObjects);
    expect(info.groupWaitingFor).toBe('waiting for pod\'s pod group "train" to appear in scheduling queue');
    expect(info.groupWaitingFor).toBe(missingPodGroupMessage("train"));
    expect(info.groupError).toBeUndefined();
    expect(info.group.id).toBe("podgroup:default/train");
    expect(info.priority).toBe(7);
  });

  it("leaves each pod of a basic PodGroup a pod of its own, at its own priority; the PodGroup's Never still holds", () => {
    // The Job controller gives every Job a basic PodGroup with priority 0: it must not demote the pods.
    const basic = (extra: Record<string, unknown>) =>
      objectsOf(podGroup({ schedulingPolicy: { basic: {} }, priority: 0, ...extra }));
    const info = toPodInfo(member("web-0", "train", { priority: 900 }), podGroupSource, basic({}));
    expect(info.group).toEqual(groupKey("default", "web-0", true));
    expect(info.minMember).toBeUndefined();
    expect(info.priority).toBe(900);
    expect(info.preemptionPolicy).toBe("PreemptLowerPriority");
    expect(info.groupWaitingFor).toBeUndefined();
    const never = basic({ preemptionPolicy: "Never" });
    expect(toPodInfo(member("web-0", "train"), podGroupSource, never).preemptionPolicy).toBe("Never");
  });

  it("gives every member the PodGroup's topology key as the required topology", () => {
    const objects = objectsOf(
      gang(2, { schedulingConstraints: { topology: [{ key: "topology.kubernetes.io/rack" }] } }),
    );
    const info = toPodInfo(member("train-0", "train"), podGroupSource, objects);
    expect(info.groupError).toBeUndefined();
    expect(info.topology).toEqual({ required: "topology.kubernetes.io/rack", preferred: [] });
    const plain = toPodInfo(member("train-0", "train"), podGroupSource, objectsOf(gang(2)));
    expect(plain.topology).toBeUndefined();
  });

  it("refuses a topology on a basic PodGroup by name: its pods are placed one by one, nothing would keep them together", () => {
    const objects = objectsOf(
      podGroup({
        schedulingPolicy: { basic: {} },
        schedulingConstraints: { topology: [{ key: "topology.kubernetes.io/rack" }] },
      }),
    );
    const info = toPodInfo(member("web-0", "train"), podGroupSource, objects);
    expect(info.groupError).toBe(
      `PodGroup default/train has spec.schedulingConstraints.topology (topology.kubernetes.io/rack) with the basic policy: ${basicTopologyMessage}`,
    );
  });

  it("lets the first of several topology entries govern, as kube-scheduler's TopologyPlacement", () => {
    // The API allows one entry (maxItems 1); the scheduler reads only the first.
    const topology = [{ key: "example.com/block" }, { key: "topology.kubernetes.io/rack" }];
    const objects = objectsOf(gang(2, { schedulingConstraints: { topology } }));
    const info = toPodInfo(member("train-0", "train"), podGroupSource, objects);
    expect(info.groupError).toBeUndefined();
    expect(info.topology).toEqual({ required: "example.com/block", preferred: [] });
  });

  it("refuses topology annotations on a member of a PodGroup: the PodGroup's constraint governs", () => {
    const objects = objectsOf(gang(2));
    const annotated = member("train-0", "train");
    annotated.metadata.annotations = {
      "sharded-scheduler.io/topology-required": "topology.kubernetes.io/rack",
    };
    expect(toPodInfo(annotated, podGroupSource, objects).groupError).toBe(
      "pod names PodGroup train in spec.schedulingGroup and carries annotation sharded-scheduler.io/topology-required; the PodGroup's spec.schedulingConstraints.topology governs its members",
    );
  });

  it("refuses a CompositePodGroup child and shared resource claims by name", () => {
    const child = toPodInfo(
      member("c-0", "train"),
      podGroupSource,
      objectsOf(gang(2, { parentCompositePodGroupName: "job" })),
    );
    expect(child.groupError).toBe(
      "PodGroup default/train has a parent CompositePodGroup (job): CompositePodGroup not supported yet",
    );
    const claims = toPodInfo(
      member("c-0", "train"),
      podGroupSource,
      objectsOf(gang(2, { resourceClaims: [{ name: "gpu", resourceClaimName: "gpus" }] })),
    );
    expect(claims.groupError).toMatch(
      /spec.resourceClaims: resource claims shared by a PodGroup not supported yet$/,
    );
  });

  it("tells the members of a malformed PodGroup what is wrong with it", () => {
    const info = toPodInfo(member("train-0", "train"), podGroupSource, objectsOf(gang(-1)));
    expect(info.groupError).toBe(
      "PodGroup default/train: spec.schedulingPolicy.gang.minCount=-1 is not a positive integer",
    );
  });

  it.each([
    ["", "spec.schedulingGroup.podGroupName is missing or empty"],
    [42, "spec.schedulingGroup.podGroupName is missing or empty"],
    [" train", 'spec.schedulingGroup.podGroupName=" train" has surrounding whitespace'],
    [
      "t".repeat(254),
      "spec.schedulingGroup.podGroupName is 254 characters long; a pod group name has at most 253",
    ],
  ])("refuses the podGroupName %j", (name, error) => {
    const info = toPodInfo(member("p-0", name), podGroupSource, objectsOf(gang(2)));
    expect(info.groupError).toBe(error);
    expect(info.group.solo).toBe(true);
  });

  it("refuses a pod that also carries annotation group keys: it would be in two groups", () => {
    const info = toPodInfo(
      member("train-0", "train", { group: "train" }),
      podGroupSource,
      objectsOf(gang(2)),
    );
    expect(info.groupError).toBe(
      "pod names PodGroup train in spec.schedulingGroup and also carries annotation group keys; a pod is in one group",
    );
  });

  it("answers pods without spec.schedulingGroup as the annotation source does", () => {
    const info = toPodInfo(
      pod("web-0", { group: "web", minMember: 2, priority: 5 }),
      podGroupSource,
      objectsOf(gang(9)),
    );
    expect(info.group.id).toBe("group:default/web");
    expect(info.minMember).toBe(2);
    expect(info.priority).toBe(5);
    expect(info.disruption).toBe("all");
    expect(info.preemptionPolicy).toBe("PreemptLowerPriority");
  });

  it("honours the pod's own preemptionPolicy only without a PodGroup policy to override it", () => {
    const never = toPodInfo(pod("solo", { preemptionPolicy: "Never" }), podGroupSource, noGroupObjects);
    expect(never.preemptionPolicy).toBe("Never");
    const overridden = toPodInfo(
      member("t-0", "train", { preemptionPolicy: "Never" }),
      podGroupSource,
      objectsOf(gang(2)),
    );
    expect(overridden.preemptionPolicy).toBe("PreemptLowerPriority");
  });
});

describe("groupReadiness of a PodGroup", () => {
  const state = {
    key: podGroupKey("default", "train"),
    minMember: 3,
    pending: 2,
    running: 0,
    succeeded: 0,
    started: false,
    lastArrivalAt: 0,
  };

  it("waits for minCount members, naming the field", () => {
    expect(groupReadiness(state, 0, 0)).toEqual({
      ready: false,
      until: Number.POSITIVE_INFINITY,
      why: "waiting for PodGroup default/train to have 3 members (spec.schedulingPolicy.gang.minCount); members with scheduling gates do not count",
    });
    expect(groupReadiness({ ...state, pending: 3 }, 0, 0)).toEqual({ ready: true });
  });

  it("waits for a missing PodGroup even once started (kube-scheduler admits no pod without its PodGroup)", () => {
    const waiting = { ...state, pending: 3, started: true, waitingFor: missingPodGroupMessage("train") };
    expect(groupReadiness(waiting, 0, 0)).toEqual({
      ready: false,
      until: Number.POSITIVE_INFINITY,
      why: missingPodGroupMessage("train"),
    });
  });
});

describe("initiallyScheduledUpdate", () => {
  const withCondition = (condition?: Record<string, string>) => ({
    ...gang(2),
    status: condition ? { conditions: [{ type: "Other", status: "True" }, condition] } : {},
  });
  const unschedulable = { type: "PodGroupInitiallyScheduled", status: "False", reason: "Unschedulable" };

  it("says False/Unschedulable with the attempt's message, and True/Scheduled once scheduled", () => {
    expect(initiallyScheduledUpdate(withCondition(), false, "0/3 nodes fit")).toEqual({
      ...unschedulable,
      message: "0/3 nodes fit",
    });
    expect(initiallyScheduledUpdate(withCondition({ ...unschedulable, message: "x" }), true, "")).toEqual({
      type: "PodGroupInitiallyScheduled",
      status: "True",
      reason: "Scheduled",
      message: "",
    });
  });

  it("writes nothing the PodGroup already says, and a new message when it changed", () => {
    const current = withCondition({ ...unschedulable, message: "0/3 nodes fit" });
    expect(initiallyScheduledUpdate(current, false, "0/3 nodes fit")).toBeUndefined();
    expect(initiallyScheduledUpdate(current, false, "0/4 nodes fit")?.message).toBe("0/4 nodes fit");
  });

  it("never goes back from True: it is terminal", () => {
    const scheduled = withCondition({
      type: "PodGroupInitiallyScheduled",
      status: "True",
      reason: "Scheduled",
      message: "",
    });
    expect(initiallyScheduledUpdate(scheduled, false, "evicted")).toBeUndefined();
    expect(initiallyScheduledUpdate(scheduled, true, "")).toBeUndefined();
  });
});
