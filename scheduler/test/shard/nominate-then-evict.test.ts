/**
 * The shard's GroupExecutor carries a preemption plan out in order: every nomination written
 * first (and the group pinned to the shard), then the victims evicted, and nothing evicted when a
 * nomination could not be written (the room freed would be reserved for nobody). Stub writers
 * stand in for the API server.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import type { Pod, PodInfo } from "../../src/core/index.js";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { loadShardConfig } from "../../src/shard/config.js";
import { ShardMetrics } from "../../src/shard/metrics.js";
import { Shard, type ShardWriters } from "../../src/shard/shard.js";
import type { Ownership } from "../../src/sharding/ownership.js";
import { node, pod } from "../core/fixtures.js";
import { ownsEverything } from "./fixtures.js";

/** Writers that record every call in order; each nomination waits until the test settles it. */
function recordingWriters() {
  const calls: string[] = [];
  const pendingNominations: { pod: string; settle: (written: boolean) => void }[] = [];
  const writers: ShardWriters = {
    statusWriter: {
      unschedulable: async () => undefined,
      pinOwner: async (target: Pod, shard: string, epoch: number) => {
        calls.push(`pin ${target.metadata.name} ${shard}${epoch === 1 ? "" : ` epoch ${epoch}`}`);
        return true;
      },
      nominate: (target: Pod, nodeName: string | null) =>
        new Promise<boolean>((resolve) => {
          calls.push(`nominate ${target.metadata.name} ${nodeName}`);
          pendingNominations.push({
            pod: target.metadata.name,
            settle: (written) => {
              calls.push(`nominated ${target.metadata.name}: ${written}`);
              resolve(written);
            },
          });
        }),
    },
    binder: {
      bind: async () => ({ outcome: "bound", detail: "" }),
      evict: async (_namespace: string, name: string) => {
        calls.push(`evict ${name}`);
        return { outcome: "evicted", detail: "" };
      },
      delete: async () => true,
    },
    events: { record: () => undefined },
  };
  return { calls, pendingNominations, writers };
}

function shardWith(writers: ShardWriters, ownership: Ownership = ownsEverything): Shard {
  const config = loadShardConfig([], { POD_NAME: "shard-0" });
  return new Shard(
    config,
    {} as KubeClient,
    pino({ level: "silent" }),
    ownership,
    new ShardMetrics(),
    writers,
  );
}

/**
 * Writers whose evictions answer as `answer` says, asking the caller's condition first as the
 * client does right before a request goes out; every nomination is written at once.
 */
function evictingWriters(answer: (name: string, attempt: number) => "evicted" | "error") {
  const { writers } = recordingWriters();
  const sent: string[] = [];
  const attempts = new Map<string, number>();
  const evicting: ShardWriters = {
    ...writers,
    statusWriter: {
      unschedulable: async () => undefined,
      nominate: async () => true,
      pinOwner: async () => true,
    },
    binder: {
      ...writers.binder,
      evict: async (_namespace: string, name: string, sendIf?: () => boolean) => {
        if (sendIf && !sendIf()) return { outcome: "fenced", detail: "" };
        const attempt = attempts.get(name) ?? 0;
        attempts.set(name, attempt + 1);
        const outcome = answer(name, attempt);
        sent.push(`${name}: ${outcome}`);
        return { outcome, detail: "" };
      },
    },
  };
  return { sent, writers: evicting };
}

/** Running members of lower-priority groups. */
const victimsOf = (...groups: [string, number][]) =>
  groups.flatMap(([group, size]) =>
    Array.from({ length: size }, (_, i) =>
      toPodInfo(pod(`${group}-${i}`, { group, priority: 1, nodeName: `n${i}` })),
    ),
  );

const plan = () => {
  const nominations = [
    { pod: toPodInfo(pod("g-0", { group: "g", priority: 100 })), nodeName: "n1" },
    { pod: toPodInfo(pod("g-1", { group: "g", priority: 100 })), nodeName: "n2" },
  ];
  const victims: PodInfo[] = [
    toPodInfo(pod("low-a", { priority: 1, nodeName: "n1" })),
    toPodInfo(pod("low-b", { priority: 1, nodeName: "n2" })),
  ];
  return { nominations, victims };
};

/** Lets every promise that can settle do so. */
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("GroupExecutor.nominateThenEvict", () => {
  it("evicts only after every nomination of the plan is written", async () => {
    const { calls, pendingNominations, writers } = recordingWriters();
    const { nominations, victims } = plan();
    const done = shardWith(writers).executor.nominateThenEvict("group:default/g", nominations, victims);
    await flush();
    expect(calls).toEqual(["nominate g-0 n1", "nominate g-1 n2", "pin g-0 shard-0", "pin g-1 shard-0"]);
    // The second nomination is written first; still nothing is evicted until the first is too.
    pendingNominations[1]?.settle(true);
    await flush();
    expect(calls.filter((call) => call.startsWith("evict"))).toEqual([]);
    pendingNominations[0]?.settle(true);
    await done;
    expect(calls).toEqual([
      "nominate g-0 n1",
      "nominate g-1 n2",
      "pin g-0 shard-0",
      "pin g-1 shard-0",
      "nominated g-1: true",
      "nominated g-0: true",
      "evict low-a",
      "evict low-b",
    ]);
  });

  it("pins only the preemptor's pods whose Owner condition names another shard (or none)", async () => {
    const { calls, pendingNominations, writers } = recordingWriters();
    const { nominations, victims } = plan();
    const third = { pod: toPodInfo(pod("g-2", { group: "g", priority: 100 })), nodeName: "n3" };
    const pinned = [...nominations, third].map(({ pod, nodeName }, i) => {
      const owner = ["shard-0", "shard-2", undefined][i];
      // A tenant's annotation naming this shard counts for nothing: g-2 is pinned all the same.
      const annotations = { ...pod.pod.metadata.annotations, "sharded-scheduler.io/owner": "shard-0" };
      const conditions = owner
        ? [
            {
              type: "sharded-scheduler.io/Owner",
              status: "True",
              reason: "HandedOff",
              message: `shard=${owner} epoch=1`,
            },
          ]
        : [];
      const status = { ...pod.pod.status, conditions };
      return {
        pod: toPodInfo({ ...pod.pod, metadata: { ...pod.pod.metadata, annotations }, status }),
        nodeName,
      };
    });
    const done = shardWith(writers).executor.nominateThenEvict("group:default/g", pinned, victims);
    await flush();
    for (const nomination of pendingNominations) nomination.settle(true);
    await done;
    expect(calls.filter((call) => call.startsWith("pin"))).toEqual(["pin g-1 shard-0", "pin g-2 shard-0"]);
  });

  it("evicts nothing when one nomination is not written, and keeps no room for it", async () => {
    const { calls, pendingNominations, writers } = recordingWriters();
    const { nominations, victims } = plan();
    const shard = shardWith(writers);
    // The cycle reserved both nodes in the cluster before the writes.
    for (const { pod } of nominations)
      shard.cache.upsertPod({
        ...pod.pod,
        spec: { ...pod.pod.spec, schedulerName: shard.config.schedulerName },
      });
    for (const { pod, nodeName } of nominations)
      shard.cache.cluster.upsertPod({ ...pod, nominatedNodeName: nodeName });
    const done = shard.executor.nominateThenEvict("group:default/g", nominations, victims);
    await flush();
    pendingNominations[0]?.settle(true);
    pendingNominations[1]?.settle(false);
    await done;
    expect(calls.filter((call) => call.startsWith("evict"))).toEqual([]);
    // The written one stands (its watch event follows); the other reserves nothing.
    expect(shard.cache.cluster.nominatedPod(nominations[0]?.pod.key ?? "")?.nominatedNodeName).toBe("n1");
    expect(shard.cache.cluster.nominatedPod(nominations[1]?.pod.key ?? "")).toBeUndefined();
    expect(shard.cache.cluster.hasNominations("n2")).toBe(false);
  });

  it("writes the nominations of a group whose victims already left, and evicts nothing", async () => {
    const { calls, pendingNominations, writers } = recordingWriters();
    const { nominations } = plan();
    const done = shardWith(writers).executor.nominateThenEvict("group:default/g", nominations, []);
    await flush();
    for (const nomination of pendingNominations) nomination.settle(true);
    await done;
    expect(calls.filter((call) => call.startsWith("nominate "))).toHaveLength(2);
    expect(calls.filter((call) => call.startsWith("evict"))).toEqual([]);
  });
});

describe("Shard evicts whole groups", () => {
  it("retries a member whose eviction failed (the API server restarting) once its group's eviction began", async () => {
    const { sent, writers } = evictingWriters((name, attempt) =>
      name === "low-2" && attempt < 2 ? "error" : "evicted",
    );
    const { nominations } = plan();
    await shardWith(writers).executor.nominateThenEvict(
      "group:default/g",
      nominations,
      victimsOf(["low", 3]),
    );
    expect(sent.filter((line) => line.endsWith("evicted")).sort()).toEqual([
      "low-0: evicted",
      "low-1: evicted",
      "low-2: evicted",
    ]);
    expect(sent.filter((line) => line === "low-2: error")).toHaveLength(2);
  });

  it("sends the rest of a group whose first eviction went out, even if the lease lapses meanwhile", async () => {
    const { sent, writers } = evictingWriters(() => "evicted");
    // The ticket is valid for the first question only: the lease lapses right after.
    let asked = 0;
    const lapsing: Ownership = {
      ...ownsEverything,
      acquireBind: () => ({ valid: () => asked++ === 0, release: () => undefined }),
    };
    const { nominations } = plan();
    await shardWith(writers, lapsing).executor.nominateThenEvict(
      "group:default/g",
      nominations,
      victimsOf(["first", 2], ["second", 2]),
    );
    // The group begun goes whole; the group none of whose evictions went out keeps running.
    expect(sent.sort()).toEqual(["first-0: evicted", "first-1: evicted"]);
  });
});

describe("Shard evicts members that joined a victim group meanwhile", () => {
  /** The victims' nodes, so their members count as running. */
  const withNodes = (shard: Shard): Shard => {
    for (const name of ["n0", "n1", "n9"]) shard.cache.upsertNode(node(name, { cpu: 4 }));
    return shard;
  };
  const ours = (shard: Shard, p: Pod): Pod => ({
    ...p,
    spec: { ...p.spec, schedulerName: shard.config.schedulerName },
  });

  it("evicts a member the cache shows running though the cycle did not choose it", async () => {
    const { sent, writers } = evictingWriters(() => "evicted");
    const shard = withNodes(shardWith(writers));
    const victims = victimsOf(["grow", 2]);
    for (const victim of victims) shard.cache.upsertPod(ours(shard, victim.pod));
    // Bound by the group's owner after the cycle read the cache.
    shard.cache.upsertPod(ours(shard, pod("grow-2", { group: "grow", priority: 1, nodeName: "n9" })));
    await shard.executor.nominateThenEvict("group:default/g", plan().nominations, victims);
    expect(sent.sort()).toEqual(["grow-0: evicted", "grow-1: evicted", "grow-2: evicted"]);
  });

  it("evicts a member whose bind the watch brings after the first evictions", async () => {
    let shard: Shard | undefined;
    const { sent, writers } = evictingWriters((name) => {
      // The latecomer's bind arrives while the first members go.
      if (name === "grow-1" && shard)
        shard.cache.upsertPod(ours(shard, pod("grow-2", { group: "grow", priority: 1, nodeName: "n9" })));
      return "evicted";
    });
    shard = withNodes(shardWith(writers));
    const victims = victimsOf(["grow", 2]);
    for (const victim of victims) shard.cache.upsertPod(ours(shard, victim.pod));
    await shard.executor.nominateThenEvict("group:default/g", plan().nominations, victims);
    expect(sent.sort()).toEqual(["grow-0: evicted", "grow-1: evicted", "grow-2: evicted"]);
  });

  it("leaves a solo victim's neighbours alone", async () => {
    const { sent, writers } = evictingWriters(() => "evicted");
    const shard = withNodes(shardWith(writers));
    shard.cache.upsertPod(ours(shard, pod("other", { priority: 1, nodeName: "n9" })));
    await shard.executor.nominateThenEvict("group:default/g", plan().nominations, plan().victims);
    expect(sent.sort()).toEqual(["low-a: evicted", "low-b: evicted"]);
  });
});

describe("Shard cycle: preemption while nodes just gained settle", () => {
  it("evicts nothing and reserves nothing until the gained nodes are placeable, then preempts", async () => {
    const { sent, writers } = evictingWriters(() => "evicted");
    let settling = true;
    const shard = shardWith(writers, { ...ownsEverything, gainedNodesSettling: () => settling });
    // What the informers' first sync does in start().
    (shard as unknown as { ready: boolean }).ready = true;
    const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
    const settle = async () => {
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    try {
      shard.cache.upsertNode(node("n1", { cpu: 2 }));
      shard.cache.upsertPod(ours(pod("low-0", { cpu: 2, priority: 1, nodeName: "n1" })));
      shard.cache.upsertPod(ours(pod("high-0", { cpu: 2, priority: 100 })));
      await settle();
      expect(sent).toEqual([]);
      expect(shard.cache.cluster.hasNominations("n1")).toBe(false);
      // The settle delay ends: ownership tells the shard, which tries the group again at once.
      settling = false;
      shard.ownershipChanged();
      await settle();
      expect(sent).toEqual(["low-0: evicted"]);
    } finally {
      shard.stop();
    }
  });

  it("asks whether gained nodes settle after the cycle asked about the nodes, as the ownership learns it then", async () => {
    const { writers } = evictingWriters(() => "evicted");
    const told: string[] = [];
    // As ShardedOwnership: a node gained under the new epoch is turned down while it settles,
    // and only that answer tells the ownership that something gained is settling.
    let gainedAsked = false;
    const ownership: Ownership = {
      ...ownsEverything,
      ownsNode: () => {
        gainedAsked = true;
        return false;
      },
      gainedNodesSettling: () => gainedAsked,
    };
    const shard = shardWith(
      {
        ...writers,
        statusWriter: {
          ...writers.statusWriter,
          unschedulable: async (_pod: Pod, message: string) => {
            told.push(message);
          },
        },
      },
      ownership,
    );
    (shard as unknown as { ready: boolean }).ready = true;
    const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
    try {
      shard.cache.upsertNode(node("n1", { cpu: 2 }));
      shard.cache.upsertPod(ours(pod("solo", { cpu: 1 })));
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
      // The pod waits for the node to settle; it is not told it is unschedulable.
      expect(gainedAsked).toBe(true);
      expect(told).toEqual([]);
    } finally {
      shard.stop();
    }
  });
});

describe("GroupExecutor: victim PodGroups", () => {
  const victimPodGroup = {
    apiVersion: "scheduling.k8s.io/v1beta1",
    kind: "PodGroup",
    metadata: { name: "train", namespace: "default", uid: "pg-train" },
    spec: { schedulingPolicy: { gang: { minCount: 1 } }, disruptionMode: { single: {} }, priority: 1 },
  };
  const member = (name: string, nodeName: string) => {
    const base = pod(name, { priority: 1, nodeName });
    return { ...base, spec: { ...base.spec, schedulingGroup: { podGroupName: "train" } } };
  };

  /** Writers recording evictions and DisruptionTarget writes in one order; the mark answers `marked`. */
  function markingWriters(marked: boolean) {
    const { calls, writers } = recordingWriters();
    const marking: ShardWriters = {
      ...writers,
      statusWriter: {
        unschedulable: async () => undefined,
        nominate: async () => true,
        pinOwner: async () => true,
      },
      podGroupStatus: {
        initiallyScheduled: async () => true,
        disruptionTarget: async (podGroup, message) => {
          calls.push(`DisruptionTarget ${podGroup.metadata.name}: ${message}`);
          return marked;
        },
      },
    };
    return { calls, writers: marking };
  }

  it("marks the victim PodGroup DisruptionTarget once, before any member is evicted, and only the members planned", async () => {
    const { calls, writers } = markingWriters(true);
    const shard = shardWith(writers);
    shard.cache.upsertPodGroup(victimPodGroup);
    const victims = [member("train-1", "n1"), member("train-2", "n2")].map((p) =>
      toPodInfo(p, undefined, { podGroup: () => victimPodGroup }),
    );
    await shard.executor.nominateThenEvict(
      "group:default/g",
      plan().nominations,
      victims,
      new Set(["podgroup:default/train"]),
    );
    expect(calls.filter((call) => !call.startsWith("pin"))).toEqual([
      "DisruptionTarget train: sharded-scheduler: preempting to accommodate a higher priority group group:default/g",
      "evict train-1",
      "evict train-2",
    ]);
  });

  it("evicts nothing of a PodGroup whose DisruptionTarget was refused", async () => {
    const { calls, writers } = markingWriters(false);
    const shard = shardWith(writers);
    shard.cache.upsertPodGroup(victimPodGroup);
    const victims = [toPodInfo(member("train-1", "n1"), undefined, { podGroup: () => victimPodGroup })];
    await shard.executor.nominateThenEvict("group:default/g", plan().nominations, victims);
    expect(calls.filter((call) => call.startsWith("evict"))).toEqual([]);
  });
});
