/** The order systems run in (interleaved runs) and the flags each sharded-scheduler run passes its shards. */
import { describe, expect, it } from "vitest";
import { parseScheduledEvents, type Run, runInterleaved, shardArgsOf, systemsUnderTest } from "./basic.js";
import type { SystemResult } from "./stats.js";

const result = (run: Run, podsPerSecond: number): SystemResult => ({
  system: run.system,
  ...(run.shards === undefined ? {} : { shards: run.shards }),
  ...(run.scheduledEvents === undefined ? {} : { scheduledEvents: run.scheduledEvents }),
  pods: 100,
  scheduled: 100,
  podsPerSecond,
  p50Ms: 1000,
  p90Ms: 1500,
  p99Ms: 2000,
  durationSeconds: 100 / podsPerSecond,
});

describe("systems under test", () => {
  it("runs sharded-scheduler once per shard count and Scheduled Events mode, the others once", () => {
    const runs = systemsUnderTest({
      systems: ["kube-scheduler", "sharded-scheduler", "noop-binder"],
      shards: [1, 3],
      scheduledEvents: ["pod", "group", "off"],
    });
    expect(runs.map((r) => [r.system, r.shards, r.scheduledEvents])).toEqual([
      ["kube-scheduler", undefined, undefined],
      ["sharded-scheduler", 1, "pod"],
      ["sharded-scheduler", 1, "group"],
      ["sharded-scheduler", 1, "off"],
      ["sharded-scheduler", 3, "pod"],
      ["sharded-scheduler", 3, "group"],
      ["sharded-scheduler", 3, "off"],
      ["noop-binder", undefined, undefined],
    ]);
  });

  it("passes --scheduled-events to the shards only when a mode was asked for", () => {
    const [plain] = systemsUnderTest({ systems: ["sharded-scheduler"], shards: [2] });
    expect(plain).toEqual({ system: "sharded-scheduler", shards: 2 });
    expect(shardArgsOf(plain as Run)).toEqual([]);
    expect(shardArgsOf({ system: "sharded-scheduler", shards: 1, scheduledEvents: "group" })).toEqual([
      "--scheduled-events=group",
    ]);
    expect(shardArgsOf({ system: "sharded-scheduler", shards: 1, scheduledEvents: "off" })).toEqual([
      "--scheduled-events=off",
    ]);
  });

  it("reads --scheduled-events as distinct known modes", () => {
    expect(parseScheduledEvents(undefined)).toBeUndefined();
    expect(parseScheduledEvents("pod,group,off")).toEqual(["pod", "group", "off"]);
    expect(parseScheduledEvents("group")).toEqual(["group"]);
    expect(() => parseScheduledEvents("pod,pods")).toThrow(/--scheduled-events must be/);
    expect(() => parseScheduledEvents("pod,pod")).toThrow(/--scheduled-events must be/);
    expect(() => parseScheduledEvents("")).toThrow(/--scheduled-events must be/);
  });
});

describe("interleaved runs", () => {
  it("runs every system once before any runs again, and gives each system the median of its runs", async () => {
    const systems: Run[] = [
      { system: "kube-scheduler", shards: undefined },
      { system: "sharded-scheduler", shards: 1 },
    ];
    const order: string[] = [];
    const rates = [100, 200, 120, 180, 110, 300];
    const results = await runInterleaved(systems, 3, async (run, index) => {
      order.push(`${run.system} ${index + 1}`);
      return result(run, rates[order.length - 1] as number);
    });
    expect(order).toEqual([
      "kube-scheduler 1",
      "sharded-scheduler 1",
      "kube-scheduler 2",
      "sharded-scheduler 2",
      "kube-scheduler 3",
      "sharded-scheduler 3",
    ]);
    expect(results.map((r) => [r.system, r.podsPerSecond, r.spread?.podsPerSecond])).toEqual([
      ["kube-scheduler", 110, { median: 110, min: 100, max: 120 }],
      ["sharded-scheduler", 200, { median: 200, min: 180, max: 300 }],
    ]);
    expect(results[1]?.eachRun?.map((r) => r.podsPerSecond)).toEqual([200, 180, 300]);
  });

  it("gives one run's result as it is", async () => {
    const run: Run = { system: "noop-binder", shards: undefined };
    const [only] = await runInterleaved([run], 1, async () => result(run, 50));
    expect(only).toEqual(result(run, 50));
  });
});
