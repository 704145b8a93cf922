import { describe, expect, it } from "vitest";
import { median, medianOfRuns, percentile, type SystemResult, summarize } from "./stats.js";

describe("summarize", () => {
  const created = new Map([
    ["a-0", 0],
    ["a-1", 100],
    ["b-0", 0],
    ["b-1", 0],
    ["c-0", 0],
  ]);
  const bound = new Map([
    ["a-0", 1000],
    ["a-1", 3000],
    ["b-0", 2000],
    ["b-1", 4000],
  ]);

  it("gives pods/s over first creation to last bind, and per-pod latency", () => {
    const result = summarize("sharded-scheduler", created, bound, 0, { shards: 2 });
    expect(result).toMatchObject({ shards: 2, pods: 5, scheduled: 4, podsPerSecond: 1, durationSeconds: 4 });
    expect([result.p50Ms, result.p99Ms]).toEqual([2000, 4000]);
    expect(result.gangs).toBeUndefined();
  });

  it("counts a gang bound at its last member's bind, from its last member's creation", () => {
    const gangOf = (pod: string) => pod.split("-")[0] as string;
    const { gangs } = summarize("sharded-scheduler", created, bound, 0, {}, gangOf);
    // a: 3000 - 100; b: 4000 - 0; c never completes.
    expect(gangs).toEqual({
      gangSize: 2,
      gangs: 3,
      bound: 2,
      gangsPerSecond: 0.5,
      p50Ms: 2900,
      p90Ms: 4000,
      p99Ms: 4000,
    });
  });

  it("gives the API server's CPU per gang bound when the run measured CPU", () => {
    const gangOf = (pod: string) => pod.split("-")[0] as string;
    const cpu = { cpuSeconds: { "kube-apiserver": 3 }, machineBusyPercent: 50, cores: 2 };
    const { gangs } = summarize("kube-scheduler", created, bound, 0, { cpu }, gangOf);
    expect(gangs?.apiServerCpuMsPerGang).toBe(1500);
  });
});

describe("CPU per pod", () => {
  it("divides the API server's and the system's own CPU by the pods bound", () => {
    const created = new Map([
      ["a", 0],
      ["b", 0],
    ]);
    const bound = new Map([
      ["a", 500],
      ["b", 1000],
    ]);
    const cpu = {
      cpuSeconds: { "kube-apiserver": 0.03, "sharded-scheduler": 0.01, etcd: 0.5 },
      machineBusyPercent: 90,
      cores: 2,
    };
    const result = summarize("sharded-scheduler", created, bound, 0, { cpu });
    expect([result.apiServerCpuMsPerPod, result.schedulerCpuMsPerPod]).toEqual([15, 5]);
    expect(summarize("noop-binder", created, bound, 0, { cpu }).schedulerCpuMsPerPod).toBeUndefined();
    expect(summarize("noop-binder", created, bound, 0).apiServerCpuMsPerPod).toBeUndefined();
  });
});

describe("medianOfRuns", () => {
  const run = (
    podsPerSecond: number,
    apiServerCpu: number,
    extra: Partial<SystemResult> = {},
  ): SystemResult => ({
    system: "kube-scheduler",
    pods: 100,
    scheduled: 100,
    podsPerSecond,
    p50Ms: 10_000 / podsPerSecond,
    p90Ms: 20_000 / podsPerSecond,
    p99Ms: 30_000 / podsPerSecond,
    durationSeconds: 100 / podsPerSecond,
    cpu: { cpuSeconds: { "kube-apiserver": apiServerCpu }, machineBusyPercent: podsPerSecond / 2, cores: 2 },
    apiServerCpuMsPerPod: apiServerCpu * 10,
    apiWritesPerPod: {
      bindings: 1,
      podStatusPatches: 0,
      podPatches: 0,
      eventCreates: apiServerCpu,
      eventPatches: 0,
    },
    apiRequestsPerPod: { "POST pods/binding": 1, "POST events": apiServerCpu },
    memory: [{ process: "kube-scheduler", rssMiB: podsPerSecond, peakRssMiB: podsPerSecond }],
    ...extra,
  });

  it("gives each figure's median over the runs and the headline figures' ranges", () => {
    const runs = [run(100, 1), run(200, 3), run(150, 2, { scheduled: 90 })];
    const result = medianOfRuns(runs);
    expect(result).toMatchObject({
      system: "kube-scheduler",
      pods: 100,
      scheduled: 90,
      podsPerSecond: 150,
      p50Ms: 66.7,
      apiServerCpuMsPerPod: 20,
      cpu: { cpuSeconds: { "kube-apiserver": 2 }, machineBusyPercent: 75, cores: 2 },
      apiWritesPerPod: { bindings: 1, eventCreates: 2 },
      apiRequestsPerPod: { "POST pods/binding": 1, "POST events": 2 },
      // The median run's memory.
      memory: [{ process: "kube-scheduler", peakRssMiB: 150 }],
    });
    expect(result.spread).toEqual({
      runs: 3,
      podsPerSecond: { median: 150, min: 100, max: 200 },
      p50Ms: { median: 66.7, min: 50, max: 100 },
      p99Ms: { median: 200, min: 150, max: 300 },
      apiServerCpuMsPerPod: { median: 20, min: 10, max: 30 },
      writesPerPod: { median: 3, min: 2, max: 4 },
      requestsPerPod: { median: 3, min: 2, max: 4 },
    });
    expect(result.eachRun).toEqual(runs);
  });

  it("carries the median run's shard costs, and none when the runs read none", () => {
    const costOf = (cpuSeconds: number) => [
      {
        process: "sharded-scheduler-0",
        cpuSeconds,
        gcSeconds: cpuSeconds / 10,
        watch: {
          pods: { events: 6000, bytes: 1, decodeSeconds: 0.2 },
          nodes: { events: 1000, bytes: 1, decodeSeconds: 0.1 },
        },
      },
    ];
    const runs = [100, 300, 200].map((rate) => run(rate, 1, { shardCosts: costOf(rate / 100) }));
    expect(medianOfRuns(runs).shardCosts).toEqual(costOf(2));
    expect(medianOfRuns([run(100, 1), run(200, 1)]).shardCosts).toBeUndefined();
  });

  it("takes the mean of the middle two for an even count, and a percentile of nothing as unmeasured", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN])).toBeNaN();
    const result = medianOfRuns([run(100, 1), run(200, 3, { p50Ms: Number.NaN })]);
    expect(result.podsPerSecond).toBe(150);
    expect(result.spread?.p50Ms).toEqual({ median: 100, min: 100, max: 100 });
  });

  it("gives a gang run's gang figures as medians, gangs bound as the fewest", () => {
    const gangs = (gangsPerSecond: number, bound: number) => ({
      gangSize: 8,
      gangs: 10,
      bound,
      gangsPerSecond,
      p50Ms: 1000,
      p90Ms: 2000,
      p99Ms: 3000 / gangsPerSecond,
      apiServerCpuMsPerGang: 10 * gangsPerSecond,
    });
    const result = medianOfRuns([
      run(100, 1, { gangs: gangs(1, 10) }),
      run(200, 3, { gangs: gangs(3, 9) }),
      run(150, 2, { gangs: gangs(2, 10) }),
    ]);
    expect(result.gangs).toEqual({ ...gangs(2, 9), p99Ms: 1500 });
    expect(result.spread?.gangsPerSecond).toEqual({ median: 2, min: 1, max: 3 });
    expect(result.spread?.gangP99Ms).toEqual({ median: 1500, min: 1000, max: 3000 });
  });
});

describe("percentile", () => {
  it("is the nearest rank, NaN for nothing", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
    expect(percentile([], 50)).toBeNaN();
  });
});
