import { describe, expect, it } from "vitest";
import { percentile, summarize } from "./stats.js";

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

describe("percentile", () => {
  it("is the nearest rank, NaN for nothing", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
    expect(percentile([], 50)).toBeNaN();
  });
});
