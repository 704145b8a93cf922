import { describe, expect, it } from "vitest";
import { calibration } from "./calibration.js";
import { simulate } from "./simulation.js";
import { pendingGroups } from "./workload.js";

const small = {
  nodes: 60,
  pods: 400,
  scale: 1,
  apiCores: 4,
  etcdCores: 2,
  nodeMilliCpu: 1000,
  podMilliCpu: 100,
  gangFraction: 0.5,
  gangSize: 4,
  statusPatchesPerPod: 0.1,
};

describe("simulate", () => {
  it("is deterministic by seed", () => {
    const a = simulate({ ...small, shards: 3, seed: 7 });
    const b = simulate({ ...small, shards: 3, seed: 7 });
    const { wallSeconds: _a, ...restA } = a;
    const { wallSeconds: _b, ...restB } = b;
    expect(restA).toEqual(restB);
    const c = simulate({ ...small, shards: 3, seed: 8 });
    expect(c.podP50Ms === a.podP50Ms && c.gangs.count === a.gangs.count).toBe(false);
  }, 30_000);

  it("the seed decides the gang mix, and the share of gang members is about the one asked", () => {
    const groups = pendingGroups({
      nodes: 10,
      pods: 8000,
      nodeMilliCpu: 1000,
      podMilliCpu: 100,
      gangFraction: 0.5,
      gangSize: 8,
      seed: 3,
    });
    const members = groups.filter((g) => !g.key.solo).reduce((sum, g) => sum + g.members.length, 0);
    expect(members / 8000).toBeGreaterThan(0.45);
    expect(members / 8000).toBeLessThan(0.55);
  }, 30_000);

  it("schedules everything that fits, and the real core leaves a gang that cannot fit pending", () => {
    // 4 nodes of 1 cpu; gangs of 8 × 600m: one member per node, so no gang of 8 ever fits.
    const result = simulate({
      ...small,
      nodes: 4,
      pods: 8,
      podMilliCpu: 600,
      gangFraction: 1,
      gangSize: 8,
      shards: 1,
      coordinator: false,
    });
    expect(result.scheduled).toBe(0);
    expect(result.pendingGroups).toBe(1);
    expect(result.fragmentation).toBe(0);
    const fits = simulate({ ...small, shards: 2, coordinator: false });
    expect(fits.scheduled).toBe(400);
    expect(fits.pendingGroups).toBe(0);
  });

  it("a gang that fits the cluster but no single shard is pending without the coordinator, placed with it", () => {
    // 8 nodes of 1 cpu, one gang of 8 × 600m: it needs every node, and two shards split them.
    const options = {
      ...small,
      nodes: 8,
      pods: 8,
      podMilliCpu: 600,
      gangFraction: 1,
      gangSize: 8,
      shards: 2,
    };
    const without = simulate({ ...options, coordinator: false });
    expect(without.pendingGroups).toBe(1);
    expect(without.fragmentation).toBe(1);
    const withCoordinator = simulate({ ...options, coordinator: true });
    expect(withCoordinator.scheduled).toBe(8);
    expect(withCoordinator.lentNodes).toBeGreaterThan(0);
    expect(withCoordinator.fragmentation).toBe(0);
  });

  it("on a shared machine, more shards cost more CPU and bind slower (every shard decodes every pod)", () => {
    const bench = {
      nodes: 1000,
      pods: 3000,
      scale: 1,
      machineCores: 2,
      gangFraction: 0,
      coordinator: false,
      statusPatchesPerPod: 0.1,
    };
    const one = simulate({ ...bench, shards: 1 });
    const three = simulate({ ...bench, shards: 3 });
    expect(three.podsPerSecond).toBeLessThan(one.podsPerSecond);
    // The two more shards each start and watch every pod (calibration.ts), whatever they place.
    const startAndWatchSeconds =
      (calibration.shardStartMs + bench.pods * calibration.shardWatchMsPerPod) / 1000;
    expect((three.cpuSeconds.shards ?? 0) - (one.cpuSeconds.shards ?? 0)).toBeGreaterThan(
      2 * startAndWatchSeconds,
    );
  }, 120_000);
});

describe("native PodGroups", () => {
  it("each gang's PodGroup condition is one API write and one watch event per shard, none for a pod of no gang", () => {
    const gangs = { ...small, shards: 2, machineCores: 2, gangFraction: 1, coordinator: false };
    const annotated = simulate({ ...gangs, podGroupWrites: false });
    const native = simulate({ ...gangs, podGroupWrites: true });
    expect(native.gangs.bound).toBe(annotated.gangs.bound);
    expect(native.cpuSeconds["kube-apiserver"]).toBeGreaterThan(annotated.cpuSeconds["kube-apiserver"] ?? 0);
    expect(native.podsPerSecond).toBeLessThan(annotated.podsPerSecond);
    const solo = { ...gangs, gangFraction: 0 };
    expect(simulate({ ...solo, podGroupWrites: true }).cpuSeconds).toEqual(
      simulate({ ...solo, podGroupWrites: false }).cpuSeconds,
    );
  }, 60_000);
});
