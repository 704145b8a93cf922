/**
 * The check before bind in the GroupExecutor: a group whose member a pod bound since the decision
 * (another shard's) now rejects is not bound at all, is pending again and counted by plugin; a
 * group that passes binds and its window (check to bind answer) is observed. The test-only
 * plugin stands in for InterPodAffinity until it lands.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { spanningProfile } from "../../src/core/bind-check.js";
import { toPodInfo } from "../../src/core/build-info.js";
import type { Pod } from "../../src/core/index.js";
import { profileOf } from "../../src/core/profile.js";
import { GroupExecutor } from "../../src/shard/group-executor.js";
import type { Shard } from "../../src/shard/shard.js";
import { node, pod } from "../core/fixtures.js";
import { testZoneAntiAffinity, zoneKey } from "../core/spanning-plugin.js";
import { ownsEverything, readyShard, succeedingWriters } from "./fixtures.js";

const term = { labelSelector: { matchLabels: { app: "web" } }, topologyKey: zoneKey };

function web(name: string, options: { anti?: boolean; nodeName?: string; schedulerName?: string } = {}): Pod {
  const p = pod(name, { labels: { app: "web" }, nodeName: options.nodeName });
  const affinity =
    options.anti === false
      ? {}
      : { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } };
  return {
    ...p,
    spec: { ...p.spec, ...affinity, schedulerName: options.schedulerName ?? p.spec.schedulerName },
  };
}

/** A shard that runs no cycle, its nodes in zones a (a1, a2) and b (b1), and an executor with the test plugin. */
function setUp() {
  const bound: string[] = [];
  const writers = succeedingWriters(bound);
  const shard: Shard = readyShard(writers);
  (shard as unknown as { ready: boolean }).ready = false;
  for (const [name, zone] of [
    ["a1", "a"],
    ["a2", "a"],
    ["b1", "b"],
  ] as const)
    shard.cache.upsertNode(node(name, { labels: { [zoneKey]: zone } }));
  // Named as kube's plugin: pods without inter-pod constraints are not checked.
  const spanning = spanningProfile(
    profileOf([testZoneAntiAffinity(shard.cache.cluster, "InterPodAffinity")]),
  );
  const executor = new GroupExecutor(
    shard.config,
    pino({ level: "silent" }),
    ownsEverything,
    shard.cache,
    shard.metrics,
    writers,
    spanning,
  );
  /** A pending pod of ours, placed by the cycle on nodeName (assumed in the cluster, as the cycle leaves it). */
  const decided = (p: Pod, nodeName: string) => {
    const ours = { ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } };
    shard.cache.upsertPod(ours);
    const info = toPodInfo(ours);
    shard.cache.cluster.assume(info, nodeName);
    return { pod: info, nodeName };
  };
  const sample = async (metric: string, suffix = "", labels: Record<string, string> = {}) => {
    const values = (await shard.metrics.registry.getSingleMetric(metric)?.get())?.values ?? [];
    return values.find(
      (v) =>
        ((v as { metricName?: string }).metricName ?? metric) === `${metric}${suffix}` &&
        Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
    )?.value;
  };
  return { shard, executor, bound, decided, sample };
}

describe("GroupExecutor.bind: the check before bind", () => {
  it("binds nothing of a group a pod bound since the decision rejects; the group is pending again", async () => {
    const { shard, executor, bound, decided, sample } = setUp();
    const placement = decided(web("w-0"), "a1");
    shard.cache.upsertPod(web("theirs", { nodeName: "a2", schedulerName: "sharded-scheduler" }));
    const outcome = await executor.bind(placement.pod.group.id, [placement]);
    expect(outcome).toMatchObject({
      kind: "conflict",
      conflict: { plugin: "InterPodAffinity", nodeName: "a1" },
    });
    expect(bound).toEqual([]);
    expect([...(shard.cache.group(placement.pod.group.id)?.pending.keys() ?? [])]).toEqual(["default/w-0"]);
    expect(shard.cache.cluster.placementOf("default/w-0")).toBeUndefined();
    expect(await sample("sharded_scheduler_bind_conflicts_total", "", { plugin: "InterPodAffinity" })).toBe(
      1,
    );
  });

  it("binds no member of a gang when one member is rejected", async () => {
    const { shard, executor, bound, decided } = setUp();
    const member = (name: string) => {
      const p = web(name);
      return { ...p, metadata: { ...p.metadata, annotations: { "sharded-scheduler.io/pod-group": "g" } } };
    };
    const placements = [decided(member("g-0"), "b1"), decided(member("g-1"), "a1")];
    shard.cache.upsertPod(web("theirs", { nodeName: "a2", schedulerName: "sharded-scheduler" }));
    const outcome = await executor.bind("group:default/g", placements);
    expect(outcome).toMatchObject({ kind: "conflict", conflict: { pod: { key: "default/g-1" } } });
    expect(bound).toEqual([]);
    const group = shard.cache.group("group:default/g");
    expect([...(group?.pending.keys() ?? [])].sort()).toEqual(["default/g-0", "default/g-1"]);
    expect(group?.running.size).toBe(0);
  });

  it("reads the latest cache: a bind the watch delivers after the decision, before the binds go out, counts", async () => {
    const { shard, executor, bound, decided } = setUp();
    const placement = decided(web("w-0"), "a1");
    const binding = executor.bind(placement.pod.group.id, [placement]);
    // Delivered while the executor waits its turn (the cycle held the event loop until now).
    shard.cache.upsertPod(web("theirs", { nodeName: "a2", schedulerName: "sharded-scheduler" }));
    expect((await binding).kind).toBe("conflict");
    expect(bound).toEqual([]);
  });

  it("binds a group that still fits and observes its window, from the check to the bind's answer", async () => {
    const { shard, executor, bound, decided, sample } = setUp();
    shard.cache.upsertPod(web("theirs", { nodeName: "b1", schedulerName: "sharded-scheduler" }));
    const placement = decided(web("w-0"), "a1");
    expect((await executor.bind(placement.pod.group.id, [placement])).kind).toBe("bound");
    expect(bound).toEqual(["w-0"]);
    expect(await sample("sharded_scheduler_bind_check_window_seconds", "_count")).toBe(1);
  });

  it("checks nothing for pods no plugin spanning nodes can reject", async () => {
    const { executor, bound, decided, sample } = setUp();
    const placement = decided(web("plain", { anti: false }), "a1");
    expect((await executor.bind(placement.pod.group.id, [placement])).kind).toBe("bound");
    expect(bound).toEqual(["plain"]);
    expect(await sample("sharded_scheduler_bind_check_window_seconds", "_count")).toBe(0);
  });
});
