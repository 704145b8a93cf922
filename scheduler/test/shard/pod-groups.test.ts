/**
 * Native PodGroups in the shard: a pod whose PodGroup does not exist waits, told kube-scheduler's
 * message, and is placed as soon as the PodGroup appears (its members are read again: exactly
 * that group wakes); minCount holds the gang; a changed minCount re-reads the members, a status
 * write does not; a deleted PodGroup holds its pending members again; the PodGroup's priority
 * and preemption policy, not the members', decide preemption.
 */
import { afterEach, describe, expect, it } from "vitest";
import { missingPodGroupMessage, type Pod } from "../../src/core/index.js";
import { ClusterCache } from "../../src/shard/cluster-cache.js";
import type { Shard } from "../../src/shard/shard.js";
import { node, type PodOptions, pod } from "../core/fixtures.js";
import { readyShard, recordingWriters } from "./fixtures.js";

const shards: Shard[] = [];
afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});

function recordingShard() {
  const { writers, ...record } = recordingWriters();
  const shard = readyShard(writers, { config: { settleWindowMs: 0 } });
  shards.push(shard);
  return { shard, ...record };
}

function member(shard: Shard, name: string, podGroupName: string, options: PodOptions = {}): Pod {
  const p = pod(name, options);
  return {
    ...p,
    spec: { ...p.spec, schedulerName: shard.config.schedulerName, schedulingGroup: { podGroupName } },
  };
}

function podGroup(name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}) {
  return { metadata: { name, namespace: "default" }, spec, status };
}

const gang = (minCount: number, extra: Record<string, unknown> = {}) => ({
  schedulingPolicy: { gang: { minCount } },
  ...extra,
});

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("native PodGroups in the shard", () => {
  it("holds pods whose PodGroup is missing, told why, and places them when it appears", async () => {
    const { shard, bound, conditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    for (const i of [0, 1]) shard.cache.upsertPod(member(shard, `train-${i}`, "train"));
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(`train-0: ${missingPodGroupMessage("train")}`);

    shard.cache.upsertPodGroup(podGroup("train", gang(2)));
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1"]);
  });

  it("places nothing until minCount members exist, then all at once", async () => {
    const { shard, bound, conditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    shard.cache.upsertPodGroup(podGroup("train", gang(3)));
    for (const i of [0, 1]) shard.cache.upsertPod(member(shard, `train-${i}`, "train"));
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(
      "train-0: waiting for PodGroup default/train to have 3 members (spec.schedulingPolicy.gang.minCount); members with scheduling gates do not count",
    );
    shard.cache.upsertPod(member(shard, "train-2", "train"));
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1", "train-2"]);
  });

  it("re-reads the members when minCount changes (elastic), so a lowered minCount places the members present", async () => {
    const { shard, bound } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    shard.cache.upsertPodGroup(podGroup("train", gang(4)));
    for (const i of [0, 1]) shard.cache.upsertPod(member(shard, `train-${i}`, "train"));
    await settle();
    expect(bound).toEqual([]);
    shard.cache.upsertPodGroup(podGroup("train", gang(2)));
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1"]);
    expect(shard.cache.group("podgroup:default/train")?.running.get("default/train-0")?.minMember).toBe(2);
  });

  it("tells the PodGroup it is unschedulable after a failed attempt, and scheduled once minCount members are bound", async () => {
    const { shard, bound, podGroupConditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 1 }));
    shard.cache.upsertPodGroup(podGroup("train", gang(2)));
    for (const i of [0, 1]) shard.cache.upsertPod(member(shard, `train-${i}`, "train"));
    await settle();
    expect(bound).toEqual([]);
    expect(podGroupConditions).toHaveLength(1);
    expect(podGroupConditions[0]).toMatch(
      /^train False: pod group default\/train cannot be placed as a whole/,
    );
    shard.cache.upsertNode(node("n2", { cpu: 1 }));
    shard.ownershipChanged(); // past the backoff at once
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1"]);
    expect(podGroupConditions.slice(1)).toEqual(["train True"]);
  });

  it("writes nothing on a PodGroup while it waits for members, nor for annotation gangs", async () => {
    const { shard, bound, podGroupConditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 1 }));
    shard.cache.upsertPodGroup(podGroup("train", gang(3)));
    shard.cache.upsertPod(member(shard, "train-0", "train"));
    const annotated = pod("web-0", { group: "web", minMember: 2, cpu: 1 });
    for (const p of [annotated, pod("web-1", { group: "web", minMember: 2, cpu: 1 })])
      shard.cache.upsertPod({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
    await settle();
    expect(bound).toEqual([]);
    expect(podGroupConditions).toEqual([]);
  });

  it("refuses a PodGroup whose members name different schedulers, as a gang must use one", async () => {
    const { shard, bound, conditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    shard.cache.upsertPodGroup(podGroup("train", gang(2)));
    shard.cache.upsertPod(member(shard, "train-0", "train"));
    const foreign = member(shard, "train-1", "train");
    shard.cache.upsertPod({ ...foreign, spec: { ...foreign.spec, schedulerName: "default-scheduler" } });
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(
      "train-0: members of pod group default/train name different schedulers (default-scheduler); a gang must use one scheduler",
    );
  });

  it("reads no member again for a PodGroup change the source does not read (a status write)", () => {
    const changes: string[] = [];
    const cache = new ClusterCache("sharded-scheduler", (change) => changes.push(change.kind));
    const p = pod("train-0");
    cache.upsertPod({
      ...p,
      spec: { ...p.spec, schedulerName: "sharded-scheduler", schedulingGroup: { podGroupName: "train" } },
    });
    changes.length = 0;
    cache.upsertPodGroup(podGroup("train", gang(2)));
    expect(changes).toEqual(["member"]);
    changes.length = 0;
    cache.upsertPodGroup(
      podGroup("train", gang(2), { conditions: [{ type: "PodGroupInitiallyScheduled", status: "False" }] }),
    );
    expect(changes).toEqual([]);
    // A PodGroup nobody names wakes nobody.
    cache.upsertPodGroup(podGroup("other", gang(2)));
    expect(changes).toEqual([]);
  });

  it("holds pending members again when their PodGroup is deleted; running ones keep running", async () => {
    const { shard, bound, conditions } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    shard.cache.upsertPodGroup(podGroup("train", gang(1)));
    shard.cache.upsertPod(member(shard, "train-0", "train", { nodeName: "n1" }));
    shard.cache.removePodGroup(podGroup("train", gang(1)));
    shard.cache.upsertPod(member(shard, "train-1", "train"));
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(`train-1: ${missingPodGroupMessage("train")}`);
    expect(shard.cache.group("podgroup:default/train")?.running.has("default/train-0")).toBe(true);
  });

  it("preempts at the PodGroup's priority: members claiming more lend it nothing", async () => {
    const { shard, bound, evicted } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 2 }));
    shard.cache.upsertPod({ ...pod("victim", { cpu: 2, nodeName: "n1", priority: 100 }) });
    // The members say 1_000_000; their PodGroup says 10: lower than the victim, so nothing is evicted.
    shard.cache.upsertPodGroup(podGroup("train", gang(2, { priority: 10 })));
    for (const i of [0, 1])
      shard.cache.upsertPod(member(shard, `train-${i}`, "train", { priority: 1_000_000 }));
    await settle();
    expect(evicted).toEqual([]);
    expect(bound).toEqual([]);
  });

  it("honours the PodGroup's preemptionPolicy Never, and preempts when it allows", async () => {
    const never = recordingShard();
    never.shard.cache.upsertNode(node("n1", { cpu: 2 }));
    never.shard.cache.upsertPod(pod("victim", { cpu: 2, nodeName: "n1", priority: 0 }));
    never.shard.cache.upsertPodGroup(
      podGroup("train", gang(2, { priority: 1000, preemptionPolicy: "Never" })),
    );
    for (const i of [0, 1]) never.shard.cache.upsertPod(member(never.shard, `train-${i}`, "train"));
    await settle();
    expect(never.evicted).toEqual([]);

    const allowed = recordingShard();
    allowed.shard.cache.upsertNode(node("n1", { cpu: 2 }));
    allowed.shard.cache.upsertPod(pod("victim", { cpu: 2, nodeName: "n1", priority: 0 }));
    allowed.shard.cache.upsertPodGroup(podGroup("train", gang(2, { priority: 1000 })));
    for (const i of [0, 1]) allowed.shard.cache.upsertPod(member(allowed.shard, `train-${i}`, "train"));
    await settle();
    expect(allowed.evicted).toEqual(["victim"]);
  });
});
