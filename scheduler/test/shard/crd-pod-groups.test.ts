/**
 * PodGroup CRDs in the shard: only where the CRD is watched does its PodGroup govern; a missing
 * one holds its pods until it appears; minResources holds the group until the room is free on
 * the shard's nodes; the owner writes a scheduler-plugins PodGroup's phase and counts as its
 * members go, once per change; a Volcano group's priority follows its PriorityClass.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type CoschedulingStatus,
  coschedulingApi,
  crdPodGroupNotFoundMessage,
  type Pod,
  volcanoApi,
} from "../../src/core/index.js";
import type { Shard } from "../../src/shard/shard.js";
import { node, type PodOptions, pod } from "../core/fixtures.js";
import { readyShard, recordingWriters } from "./fixtures.js";

const shards: Shard[] = [];
afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});

function crdShard(...apis: (typeof coschedulingApi)[]) {
  const { writers, ...record } = recordingWriters();
  const statuses: string[] = [];
  const shard = readyShard(
    {
      ...writers,
      coschedulingStatus: {
        write: (podGroup, status: CoschedulingStatus) => {
          statuses.push(
            `${podGroup.metadata.name} ${status.phase} scheduled=${status.scheduled} running=${status.running} succeeded=${status.succeeded} failed=${status.failed}`,
          );
        },
      },
    },
    { config: { settleWindowMs: 0 } },
  );
  for (const api of apis) shard.cache.watchCrd(api);
  shards.push(shard);
  return { shard, statuses, ...record };
}

function xMember(shard: Shard, name: string, group: string, options: PodOptions = {}): Pod {
  const p = pod(name, { ...options, labels: { "scheduling.x-k8s.io/pod-group": group } });
  return { ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } };
}

function vMember(shard: Shard, name: string, group: string, options: PodOptions = {}): Pod {
  const p = pod(name, options);
  return {
    ...p,
    metadata: { ...p.metadata, annotations: { "scheduling.k8s.io/group-name": group } },
    spec: { ...p.spec, schedulerName: shard.config.schedulerName },
  };
}

const crdObject = (name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: "default", uid: `uid-${name}` },
  spec,
  status,
});

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("PodGroup CRDs in the shard", () => {
  it("without the CRD watched, the label is an annotation gang as before", async () => {
    const { shard, bound } = crdShard();
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    for (const i of [0, 1]) shard.cache.upsertPod(xMember(shard, `train-${i}`, "train"));
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1"]);
    expect(shard.cache.group("group:default/train")).toBeDefined();
  });

  it("holds pods whose scheduler-plugins PodGroup is missing, and places them by minMember when it appears", async () => {
    const { shard, bound, conditions } = crdShard(coschedulingApi);
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    for (const i of [0, 1]) shard.cache.upsertPod(xMember(shard, `train-${i}`, "train"));
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(
      `train-0: ${crdPodGroupNotFoundMessage(coschedulingApi, "default", "train")}`,
    );

    shard.cache.upsertCrdPodGroup(coschedulingApi, crdObject("train", { minMember: 3 }));
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(
      "train-0: waiting for scheduling.x-k8s.io/v1alpha1 PodGroup default/train to have 3 members (spec.minMember); members with scheduling gates do not count",
    );
    shard.cache.upsertPod(xMember(shard, "train-2", "train"));
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1", "train-2"]);
  });

  it("holds a group until its minResources are free on the shard's usable nodes (coscheduling's PreFilter)", async () => {
    const { shard, bound, conditions } = crdShard(coschedulingApi);
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    // A cordoned node's room does not count.
    shard.cache.upsertNode(node("n2", { cpu: 4, unschedulable: true }));
    shard.cache.upsertCrdPodGroup(
      coschedulingApi,
      crdObject("train", { minMember: 2, minResources: { cpu: "6" } }),
    );
    for (const i of [0, 1]) shard.cache.upsertPod(xMember(shard, `train-${i}`, "train"));
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(
      "train-0: scheduling.x-k8s.io/v1alpha1 PodGroup default/train: spec.minResources is not free on this shard's 1 usable node(s), resource gap: cpu 2000m",
    );
    shard.cache.upsertNode(node("n3", { cpu: 4 }));
    shard.ownershipChanged();
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1"]);
  });

  it("asks for a scheduler-plugins PodGroup's phase and counts as its members go (the writer sends each change once)", async () => {
    const { shard, bound, statuses } = crdShard(coschedulingApi);
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    shard.cache.upsertCrdPodGroup(coschedulingApi, crdObject("train", { minMember: 2 }));
    shard.podUpserted(xMember(shard, "train-0", "train"));
    await settle();
    expect(new Set(statuses)).toEqual(new Set(["train Pending scheduled=0 running=0 succeeded=0 failed=0"]));
    shard.podUpserted(xMember(shard, "train-1", "train"));
    await settle();
    expect(bound.sort()).toEqual(["train-0", "train-1"]);
    // The watch brings the binds, then the pods running.
    for (const i of [0, 1]) shard.podUpserted(xMember(shard, `train-${i}`, "train", { nodeName: "n1" }));
    await settle();
    expect(statuses.at(-1)).toBe("train Running scheduled=2 running=2 succeeded=0 failed=0");
    expect(statuses).toContain("train Scheduled scheduled=2 running=0 succeeded=0 failed=0");
  });

  it("writes nothing on a PodGroup whose members another scheduler places", async () => {
    const { shard, statuses } = crdShard(coschedulingApi);
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    shard.cache.upsertCrdPodGroup(coschedulingApi, crdObject("theirs", { minMember: 2 }));
    for (const i of [0, 1]) {
      const p = xMember(shard, `theirs-${i}`, "theirs", { nodeName: "n1" });
      shard.podUpserted({ ...p, spec: { ...p.spec, schedulerName: "scheduler-plugins-scheduler" } });
    }
    await settle();
    expect(statuses).toEqual([]);
  });

  it("uses scheduleTimeoutSeconds as the group's gang timeout", async () => {
    const { shard } = crdShard(coschedulingApi);
    shard.cache.upsertNode(node("n1", { cpu: 1 }));
    shard.cache.upsertCrdPodGroup(
      coschedulingApi,
      crdObject("train", { minMember: 2, scheduleTimeoutSeconds: 7 }),
    );
    for (const i of [0, 1]) shard.cache.upsertPod(xMember(shard, `train-${i}`, "train"));
    const info = shard.cache
      .group("podgroup.scheduling.x-k8s.io:default/train")
      ?.pending.get("default/train-0");
    expect(info?.crdTerms?.scheduleTimeoutMs).toBe(7000);
  });

  it("holds a Volcano group for its minResources too", async () => {
    const { shard, bound, conditions } = crdShard(volcanoApi);
    shard.cache.upsertNode(node("n1", { cpu: 4, memory: "8Gi" }));
    shard.cache.upsertCrdPodGroup(
      volcanoApi,
      crdObject("train", { minMember: 2, minResources: { memory: "9Gi" } }),
    );
    for (const i of [0, 1]) shard.cache.upsertPod(vMember(shard, `train-${i}`, "train"));
    await settle();
    expect(bound).toEqual([]);
    expect(conditions).toContain(
      `train-0: scheduling.volcano.sh/v1beta1 PodGroup default/train: spec.minResources is not free on this shard's 1 usable node(s), resource gap: memory ${1024 ** 3}`,
    );
  });

  it("a Volcano group's priority follows its PriorityClass, read again when the class changes", async () => {
    const { shard } = crdShard(volcanoApi);
    shard.cache.upsertNode(node("n1", { cpu: 1 }));
    shard.cache.upsertPriorityClass({ metadata: { name: "high" }, value: 1000 });
    shard.cache.upsertCrdPodGroup(
      volcanoApi,
      crdObject("train", { minMember: 2, priorityClassName: "high" }),
    );
    for (const i of [0, 1]) shard.cache.upsertPod(vMember(shard, `train-${i}`, "train", { priority: 5 }));
    const id = "podgroup.scheduling.volcano.sh:default/train";
    expect(shard.cache.group(id)?.pending.get("default/train-0")?.priority).toBe(1000);
    shard.cache.upsertPriorityClass({ metadata: { name: "high" }, value: 2000 });
    expect(shard.cache.group(id)?.pending.get("default/train-1")?.priority).toBe(2000);
  });
});
