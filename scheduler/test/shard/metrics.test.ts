/**
 * The shard's metrics under kube-scheduler's names and meanings: attempts count pods (and,
 * separately, groups), pending pods by queue, unschedulable pods by the plugins that rejected
 * them, the cache's size and the victims per preemption. A shard with stub writers is driven
 * as the watches would drive it, and its registry is read as a scrape reads it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/index.js";
import type { Shard, ShardWriters } from "../../src/shard/shard.js";
import { node, type PodOptions, pod } from "../core/fixtures.js";
import { readyShard } from "./fixtures.js";

const shards: Shard[] = [];
afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});

function shardWith(bindOutcome: (name: string) => "bound" | "error" = () => "bound") {
  const writers: ShardWriters = {
    statusWriter: {
      unschedulable: async () => undefined,
      nominate: async () => true,
      pinOwner: async () => true,
    },
    binder: {
      bind: async (_namespace: string, name: string) => ({ outcome: bindOutcome(name), detail: "" }),
      evict: async () => ({ outcome: "evicted", detail: "" }),
      delete: async () => true,
    },
    events: { record: () => undefined },
  };
  const shard = readyShard(writers, { config: { settleWindowMs: 0 } });
  shards.push(shard);
  return shard;
}

function ours(shard: Shard, name: string, options: PodOptions = {}): Pod {
  const p = pod(name, options);
  return { ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** The samples of one metric as a scrape sees them: "label=value,…" → value. */
async function scrape(shard: Shard, name: string): Promise<Record<string, number>> {
  const metrics = await shard.metrics.registry.getMetricsAsJSON();
  const metric = metrics.find((m) => m.name === name);
  if (!metric) throw new Error(`${name} is not registered`);
  const samples: Record<string, number> = {};
  for (const value of metric.values as { labels: Record<string, string | number>; value: number }[]) {
    const key = Object.entries(value.labels)
      .filter(([label]) => label !== "le")
      .map(([label, v]) => `${label}=${v}`)
      .join(",");
    if ("metricName" in value && !(value.metricName as string).endsWith("_count")) continue;
    samples[key] = value.value;
  }
  return samples;
}

const profile = "profile=sharded-scheduler";

describe("shard metrics", () => {
  it("names its metrics as kube-scheduler does, and no longer exports pods_scheduled_total", async () => {
    const names = (await shardWith().metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "sharded_scheduler_schedule_attempts_total",
        "sharded_scheduler_podgroup_schedule_attempts_total",
        "sharded_scheduler_pending_pods",
        "sharded_scheduler_unschedulable_pods",
        "sharded_scheduler_scheduling_algorithm_duration_seconds",
        "sharded_scheduler_pod_scheduling_sli_duration_seconds",
        "sharded_scheduler_cache_size",
        "sharded_scheduler_preemption_attempts_total",
        "sharded_scheduler_preemption_victims",
      ]),
    );
    for (const gone of [
      "sharded_scheduler_pods_scheduled_total",
      "sharded_scheduler_scheduling_cycle_duration_seconds",
      "sharded_scheduler_preemption_victims_total",
    ])
      expect(names).not.toContain(gone);
  });

  it("counts a gang's pods and the gang itself once bound, a failed bind as an error", async () => {
    const shard = shardWith((name) => (name === "solo" ? "error" : "bound"));
    shard.cache.upsertNode(node("n0", { cpu: 8 }));
    for (let i = 0; i < 3; i++) shard.cache.upsertPod(ours(shard, `g-${i}`, { group: "g", minMember: 3 }));
    shard.cache.upsertPod(ours(shard, "solo"));
    await settle();
    expect(await scrape(shard, "sharded_scheduler_podgroup_schedule_attempts_total")).toEqual({
      [`result=scheduled,${profile}`]: 2,
    });
    // The failed bind is retried three times (bindWithRetry) before it counts.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await scrape(shard, "sharded_scheduler_schedule_attempts_total")).toMatchObject({
      [`result=scheduled,${profile}`]: 3,
      [`result=error,${profile}`]: 1,
    });
    expect(
      (await scrape(shard, "sharded_scheduler_scheduling_algorithm_duration_seconds"))[""],
    ).toBeGreaterThan(0);
  });

  it("counts every pending member of a group that does not fit as unschedulable, by the plugins that rejected nodes", async () => {
    const shard = shardWith();
    shard.cache.upsertNode(node("small", { cpu: 1 }));
    shard.cache.upsertNode(
      node("tainted", { cpu: 16, taints: [{ key: "dedicated", value: "x", effect: "NoSchedule" }] }),
    );
    for (let i = 0; i < 2; i++)
      shard.cache.upsertPod(ours(shard, `big-${i}`, { group: "big", minMember: 2, cpu: 4 }));
    await settle();
    expect(await scrape(shard, "sharded_scheduler_schedule_attempts_total")).toEqual({
      [`result=unschedulable,${profile}`]: 2,
    });
    expect(await scrape(shard, "sharded_scheduler_podgroup_schedule_attempts_total")).toEqual({
      [`result=unschedulable,${profile}`]: 1,
    });
    // Both members, once for each plugin that rejected a node (as kube-scheduler's gauge).
    expect(await scrape(shard, "sharded_scheduler_unschedulable_pods")).toEqual({
      [`plugin=NodeResourcesFit,${profile}`]: 2,
      [`plugin=TaintToleration,${profile}`]: 2,
    });
    expect(await scrape(shard, "sharded_scheduler_pending_pods")).toEqual({
      "queue=active": 0,
      "queue=backoff": 0,
      "queue=unschedulable": 2,
      "queue=gated": 0,
      "queue=incomplete": 0,
    });

    // Room appears: until tried again the pods stay counted (as kube-scheduler's until popped);
    // once tried, the group is bound and no plugin rejects any pod any more.
    shard.cache.upsertNode(node("large", { cpu: 16 }));
    await settle();
    expect(await scrape(shard, "sharded_scheduler_unschedulable_pods")).toMatchObject({
      [`plugin=NodeResourcesFit,${profile}`]: 2,
    });
    shard.ownershipChanged();
    await settle();
    expect(await scrape(shard, "sharded_scheduler_unschedulable_pods")).toEqual({
      [`plugin=NodeResourcesFit,${profile}`]: 0,
      [`plugin=TaintToleration,${profile}`]: 0,
    });
  });

  it("puts gang members waiting for more members in the incomplete queue, gated pods in gated", async () => {
    const shard = shardWith();
    shard.cache.upsertNode(node("n0"));
    shard.cache.upsertPod(ours(shard, "w-0", { group: "w", minMember: 3 }));
    shard.cache.upsertPod(ours(shard, "w-1", { group: "w", minMember: 3 }));
    const gated = ours(shard, "gated");
    shard.cache.upsertPod({ ...gated, spec: { ...gated.spec, schedulingGates: [{ name: "kueue" }] } });
    await settle();
    expect(await scrape(shard, "sharded_scheduler_pending_pods")).toMatchObject({
      "queue=incomplete": 2,
      "queue=gated": 1,
      "queue=active": 0,
    });
    expect(await scrape(shard, "sharded_scheduler_schedule_attempts_total")).toEqual({});
  });

  it("reports the cache's nodes, pods and assumed pods", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const shard = shardWith();
    (shard.executor as unknown as { binder: ShardWriters["binder"] }).binder = {
      bind: async () => {
        await held;
        return { outcome: "bound", detail: "" };
      },
      evict: async () => ({ outcome: "evicted", detail: "" }),
      delete: async () => true,
    };
    shard.cache.upsertNode(node("n0"));
    shard.cache.upsertNode(node("n1"));
    shard.cache.upsertPod(pod("running", { nodeName: "n0" }));
    shard.cache.upsertPod(ours(shard, "placed"));
    await settle();
    expect(await scrape(shard, "sharded_scheduler_cache_size")).toEqual({
      "type=nodes": 2,
      "type=pods": 2,
      "type=assumed_pods": 1,
    });
    release();
  });

  it("observes the victims of each preemption in one histogram sample", async () => {
    const shard = shardWith();
    shard.cache.upsertNode(node("n0", { cpu: 2 }));
    for (let i = 0; i < 2; i++) shard.cache.upsertPod(pod(`low-${i}`, { group: "low", nodeName: "n0" }));
    shard.cache.upsertPod(ours(shard, "high", { cpu: 2, priority: 100 }));
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const victims = await shard.metrics.registry
      .getSingleMetric("sharded_scheduler_preemption_victims")
      ?.get();
    const sample = (suffix: string) =>
      victims?.values.find(
        (v) => (v as { metricName?: string }).metricName === `sharded_scheduler_preemption_victims${suffix}`,
      )?.value;
    expect(sample("_count")).toBe(1);
    expect(sample("_sum")).toBe(2);
    // The preemptor's attempt failed: it counts as unschedulable, as in kube-scheduler.
    expect(await scrape(shard, "sharded_scheduler_schedule_attempts_total")).toEqual({
      [`result=unschedulable,${profile}`]: 1,
    });
  });
});
