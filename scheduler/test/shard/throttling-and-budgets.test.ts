/**
 * What a shard makes of the API server's 429s. A bind throttled by API Priority and Fairness for
 * longer than the shard waits is no failure: no bind error, no Event, no condition; the pod is
 * placed again after its backoff and binds then. An eviction refused by the victim's
 * PodDisruptionBudget is an outcome of its own: counted, the preemptor told why, the budget
 * counted as allowing nothing until its next version, and the victim not asked again. Stub
 * writers stand in for the API server.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import type { Pod, PodDisruptionBudget } from "../../src/core/index.js";
import type { BindOutcome, EvictOutcome } from "../../src/kube/pod-binder.js";
import { ClusterCache } from "../../src/shard/cluster-cache.js";
import type { ShardWriters } from "../../src/shard/shard.js";
import { node, pod } from "../core/fixtures.js";
import { readyShard } from "./fixtures.js";

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Writers recording what the shard tells pods; binds and evictions answer as the test says. */
function writers(answers: { bind?: () => BindOutcome; evict?: (name: string) => EvictOutcome }) {
  const told: string[] = [];
  const events: string[] = [];
  const binds: { name: string; signal: AbortSignal | undefined }[] = [];
  const evictions: string[] = [];
  const stub: ShardWriters = {
    statusWriter: {
      unschedulable: async (target: Pod, message: string) => {
        told.push(`${target.metadata.name}: ${message}`);
      },
      nominate: async () => true,
      pinOwner: async () => true,
    },
    events: {
      record: (target: Pod, type: string, reason: string, message: string) =>
        events.push(`${target.metadata.name} ${type} ${reason}: ${message}`),
    },
    binder: {
      bind: async (_namespace, name, _uid, _node, _sendIf, signal) => {
        binds.push({ name, signal });
        return { outcome: answers.bind?.() ?? "bound", detail: "" };
      },
      evict: async (_namespace, name) => {
        evictions.push(name);
        const outcome = answers.evict?.(name) ?? "evicted";
        return {
          outcome,
          detail:
            outcome === "disruption_budget"
              ? "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget guard needs 1 healthy pods and has 1 currently"
              : "",
        };
      },
      delete: async () => true,
    },
  };
  return { stub, told, events, binds, evictions };
}

const metric = async (shard: ReturnType<typeof readyShard>, name: string) =>
  (await shard.metrics.registry.getSingleMetricAsString(name))
    .split("\n")
    .filter((line) => line && !line.startsWith("#"));

/** A ready shard with one node, its binds answered "bound"; `ours` makes a pod the shard's. */
function bindingShard(leaseDurationMs: number) {
  const { stub, binds } = writers({ bind: () => "bound" });
  const shard = readyShard(stub, { config: { leaseDurationMs } });
  const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
  shard.cache.upsertNode(node("n1", { cpu: 4 }));
  return { shard, binds, ours };
}

describe("a bind throttled by the API server", () => {
  it("is no failure: nothing counted or told, the pod placed again after its backoff", async () => {
    let answer: BindOutcome = "throttled";
    const { stub, told, events, binds } = writers({ bind: () => answer });
    const shard = readyShard(stub, { config: { leaseDurationMs: 3_000 } });
    const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
    try {
      shard.cache.upsertNode(node("n1", { cpu: 4 }));
      shard.podUpserted(ours(pod("solo", { cpu: 1 })));
      await settle();
      expect(binds.map((b) => b.name)).toEqual(["solo"]);
      expect(await metric(shard, "sharded_scheduler_bind_errors_total")).toEqual([]);
      expect(told).toEqual([]);
      expect(events).toEqual([]);
      // Not assumed any more: pending again, waiting out its backoff.
      expect(shard.cache.cluster.node("n1")?.pods.size).toBe(0);
      const group = toPodInfo(ours(pod("solo"))).group.id;
      expect(shard.queue.state(group)).toBe("backoff");
      answer = "bound";
      await sleep(shard.queue.backoff(1) + 100);
      await settle();
      expect(binds.map((b) => b.name)).toEqual(["solo", "solo"]);
      expect(events).toEqual([
        expect.stringMatching(/^solo Normal Scheduled: Successfully assigned default\/solo to n1/),
      ]);
      expect(shard.queue.state(group)).toBeUndefined();
    } finally {
      shard.stop();
    }
  });

  it("waits out throttling for a lease duration at most, and not at all once the shard stops", async () => {
    const { shard, binds, ours } = bindingShard(200);
    try {
      shard.podUpserted(ours(pod("a", { cpu: 1 })));
      await settle();
      const first = binds[0]?.signal;
      expect(first?.aborted).toBe(false);
      await sleep(300);
      expect(first?.aborted).toBe(true);
      shard.podUpserted(ours(pod("b", { cpu: 1 })));
      await settle();
      const second = binds[1]?.signal;
      expect(second?.aborted).toBe(false);
      shard.stop();
      expect(second?.aborted).toBe(true);
    } finally {
      shard.stop();
    }
  });

  it("gives groups that start binding within a quarter lease one bound, and a later group its own", async () => {
    const { shard, binds, ours } = bindingShard(800);
    try {
      shard.podUpserted(ours(pod("a", { cpu: 1 })));
      await settle();
      shard.podUpserted(ours(pod("b", { cpu: 1 })));
      await settle();
      expect(binds.map((b) => b.name)).toEqual(["a", "b"]);
      expect(binds[1]?.signal).toBe(binds[0]?.signal);
      // Past a quarter lease (not yet aborted): a new bound, a full lease duration from now.
      await sleep(300);
      expect(binds[0]?.signal?.aborted).toBe(false);
      shard.podUpserted(ours(pod("c", { cpu: 1 })));
      await settle();
      expect(binds[2]?.signal).not.toBe(binds[0]?.signal);
      await sleep(600);
      expect(binds[0]?.signal?.aborted).toBe(true);
      expect(binds[2]?.signal?.aborted).toBe(false);
    } finally {
      shard.stop();
    }
  });
});

describe("an eviction refused by a PodDisruptionBudget", () => {
  const guarded = { app: "guarded" };
  const budget: PodDisruptionBudget = {
    metadata: { name: "guard", namespace: "default" },
    spec: { minAvailable: 1, selector: { matchLabels: guarded } },
    status: { disruptionsAllowed: 1 },
  } as PodDisruptionBudget;

  it("is counted and reported to the preemptor, the budget counts as exhausted, the victim is not asked again", async () => {
    const { stub, told, events, evictions } = writers({
      evict: (name) => (name === "low-b" ? "disruption_budget" : "evicted"),
    });
    // Not ready: no cycle runs; the test calls the executor itself.
    const shard = readyShard(stub);
    (shard as unknown as { ready: boolean }).ready = false;
    const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
    try {
      shard.cache.upsertPodDisruptionBudget(budget);
      const preemptors = [
        pod("g-0", { group: "g", priority: 100 }),
        pod("g-1", { group: "g", priority: 100 }),
      ].map(ours);
      for (const p of preemptors) shard.podUpserted(p);
      const victims = ["low-a", "low-b"].map((name, i) =>
        toPodInfo(pod(name, { priority: 1, nodeName: `n${i}`, labels: guarded })),
      );
      const preemptor = toPodInfo(preemptors[0] as Pod).group.id;
      await shard.executor.nominateThenEvict(
        preemptor,
        preemptors.map((p, i) => ({ pod: toPodInfo(p), nodeName: `n${i}` })),
        victims,
      );
      // The executor's retry round (500 ms later) would have asked again: it must not.
      await sleep(700);
      expect(evictions.sort()).toEqual(["low-a", "low-b"]);
      expect(await metric(shard, "sharded_scheduler_evictions_total")).toEqual([
        'sharded_scheduler_evictions_total{result="evicted"} 1',
        'sharded_scheduler_evictions_total{result="disruption_budget"} 1',
      ]);
      expect(shard.cache.cluster.podDisruptionBudgets("default")[0]?.status?.disruptionsAllowed).toBe(0);
      const why =
        "preemption: the eviction of default/low-b was refused by a PodDisruptionBudget: Cannot evict pod as it would violate the pod's disruption budget. The disruption budget guard needs 1 healthy pods and has 1 currently The victim keeps running; preemption is tried again after a backoff, elsewhere or once the budget allows.";
      expect(told.sort()).toEqual([`g-0: ${why}`, `g-1: ${why}`]);
      // Every member's condition, and one Event for the group, on its first member by name.
      expect(events.filter((e) => e.includes("FailedScheduling"))).toEqual([
        `g-0 Warning FailedScheduling: ${why}`,
      ]);
      expect(events.filter((e) => e.includes("Preempted"))).toEqual([
        expect.stringMatching(/^low-a Normal Preempted: /),
      ]);
    } finally {
      shard.stop();
    }
  });
});

describe("the cache's budgets", () => {
  const budget = (name: string, app: string, disruptionsAllowed: number): PodDisruptionBudget =>
    ({
      metadata: { name, namespace: "default" },
      spec: { selector: { matchLabels: { app } } },
      status: { disruptionsAllowed },
    }) as PodDisruptionBudget;

  it("a refusal exhausts the budgets covering the pod, until their next version arrives", () => {
    const cache = new ClusterCache("sharded-scheduler", () => undefined);
    cache.upsertPodDisruptionBudget(budget("web", "web", 2));
    cache.upsertPodDisruptionBudget(budget("db", "db", 1));
    cache.budgetRefused(toPodInfo(pod("web-0", { labels: { app: "web" }, nodeName: "n1" })));
    const allowed = () =>
      Object.fromEntries(
        cache.cluster
          .podDisruptionBudgets("default")
          .map((b) => [b.metadata.name, b.status?.disruptionsAllowed]),
      );
    expect(allowed()).toEqual({ web: 0, db: 1 });
    cache.upsertPodDisruptionBudget(budget("web", "web", 1));
    expect(allowed()).toEqual({ web: 1, db: 1 });
  });

  it("a budget deleted wakes the groups waiting for room (those it protected may be evicted now)", () => {
    const changes: string[] = [];
    const cache = new ClusterCache("sharded-scheduler", (change) => changes.push(change.kind));
    // A new budget only forbids evictions: it helps no one.
    cache.upsertPodDisruptionBudget(budget("web", "web", 0));
    expect(changes).toEqual([]);
    cache.removePodDisruptionBudget(budget("web", "web", 0));
    expect(changes).toEqual(["capacity"]);
  });
});
