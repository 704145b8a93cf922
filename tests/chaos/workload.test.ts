import type * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  type ChaosWorkloadOptions,
  chaosGate,
  chaosPriorityClasses,
  completeAfterAnnotation,
  gateLiftSeconds,
  jobManifests,
  meanJobMilliCpuSeconds,
  minMemberAnnotation,
  type PlannedJob,
  planJob,
  podGroupAnnotation,
  podGroupApis,
  podGroupManifest,
  podGroupShares,
  ungateDelaySeconds,
} from "./workload.js";

/** The local chaos cluster: 24 nodes of 8 cpu. */
const chaosNodes = Array.from({ length: 24 }, () => 8000);
const options: ChaosWorkloadOptions = { seed: 7, load: 1.1, runSeconds: [20, 60] };

const plan = (opts: ChaosWorkloadOptions, nodes: readonly number[], count: number): PlannedJob[] =>
  Array.from({ length: count }, (_, index) => planJob(opts, nodes, index));

/** Members a Job has at most (a growing group once grown). */
const finalSize = (job: PlannedJob) => job.growTo ?? job.size;

/** Whether the gang's members fit on the empty nodes (first fit; exact for equal members). */
function fitsEmptyCluster(job: PlannedJob, nodes: readonly number[]): boolean {
  const free = [...nodes];
  for (let member = 0; member < finalSize(job); member++) {
    const node = free.findIndex((left) => left >= job.milliCpu);
    if (node < 0) return false;
    free[node] = (free[node] as number) - job.milliCpu;
  }
  return true;
}

describe("the chaos workload's plan", () => {
  it("is the same for the same seed, whatever was read before, and differs for another seed", () => {
    const first = plan(options, chaosNodes, 200);
    expect(plan(options, chaosNodes, 200)).toEqual(first);
    expect(planJob(options, chaosNodes, 150)).toEqual(first[150]);
    const other = plan({ ...options, seed: 8 }, chaosNodes, 200);
    expect(
      other.filter((job, i) => job.shape === first[i]?.shape && job.size === first[i]?.size).length,
    ).toBeLessThan(150);
  });

  it("keeps sizes, cpu and run times within bounds and names unique", () => {
    const jobs = plan(options, chaosNodes, 3000);
    expect(new Set(jobs.map((job) => job.name)).size).toBe(jobs.length);
    for (const job of jobs) {
      // A growing group runs past the gang timeout after it grew: 70–90 s here.
      const [low, high] = job.shape === "growing" ? [70, 90] : [20, 60];
      expect(job.runSeconds).toBeGreaterThanOrEqual(low);
      expect(job.runSeconds).toBeLessThanOrEqual(high);
      expect(Number.isInteger(job.runSeconds)).toBe(true);
      expect(job.arrivalGapSeconds).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(job.arrivalGapSeconds)).toBe(true);
      expect(job.milliCpu % 50).toBe(0);
      if (job.shape === "solo") {
        expect(job.kind).toBe("solo");
        expect(job.size).toBe(1);
        expect(job.milliCpu).toBeLessThanOrEqual(2000);
      } else if (job.shape === "gang" || job.shape === "gated") {
        expect(job.kind).toBe("gang");
        expect(job.size).toBeGreaterThanOrEqual(2);
        expect(job.size).toBeLessThanOrEqual(6);
        expect(job.milliCpu).toBeLessThanOrEqual(2000);
      } else if (job.shape === "growing") {
        expect(job.kind).toBe("group");
        expect(job.size).toBeGreaterThanOrEqual(1);
        expect(job.size).toBeLessThanOrEqual(2);
        expect((job.growTo as number) - job.size).toBeGreaterThanOrEqual(3);
        expect((job.growTo as number) - job.size).toBeLessThanOrEqual(6);
        expect([1000, 1500, 2000]).toContain(job.milliCpu);
        expect(job.priorityClass).toBe("chaos-low");
      } else if (job.shape === "mixed") {
        expect(job.kind).toBe("gang");
        expect(job.size).toBeGreaterThanOrEqual(2);
        expect(job.size).toBeLessThanOrEqual(4);
        expect(job.highMembers).toBeGreaterThanOrEqual(1);
        expect(job.highMembers).toBeLessThan(job.size);
        expect(job.priorityClass).toBe("chaos-low");
      } else {
        expect(job.kind).toBe("gang");
        expect(job.size).toBeGreaterThanOrEqual(2);
        expect(job.size).toBeLessThanOrEqual(5);
        expect([6000, 7000]).toContain(job.milliCpu);
      }
    }
  });

  it("mixes solo Jobs, gangs, wide, gated, growing and mixed-priority ones and all three priorities", () => {
    const jobs = plan(options, chaosNodes, 10_000);
    const share = (test: (job: PlannedJob) => boolean) => jobs.filter(test).length / jobs.length;
    expect(share((job) => job.shape === "solo")).toBeCloseTo(0.28, 1);
    expect(share((job) => job.shape === "gang")).toBeCloseTo(0.45, 1);
    expect(share((job) => job.shape === "wide")).toBeCloseTo(0.14, 1);
    expect(share((job) => job.shape === "gated")).toBeCloseTo(0.07, 2);
    expect(share((job) => job.shape === "growing")).toBeCloseTo(0.03, 2);
    expect(share((job) => job.shape === "mixed")).toBeCloseTo(0.03, 2);
    for (const { name } of chaosPriorityClasses) {
      expect(share((job) => job.priorityClass === name)).toBeGreaterThan(0.1);
    }
  });

  it("never plans a Job the empty cluster cannot hold, even a small or uneven one", () => {
    const clusters = [chaosNodes, [8000, 8000, 8000], [4000, 16000], [2000], [8000, 6500, 32000, 1000]];
    for (const nodes of clusters) {
      for (const job of plan(options, nodes, 1000)) {
        expect(job.milliCpu).toBeLessThanOrEqual(Math.min(...nodes));
        expect(fitsEmptyCluster(job, nodes), `${job.name} on [${nodes.join(", ")}]`).toBe(true);
      }
    }
  });

  it("offers about the requested share of the cluster's cpu over a long plan", () => {
    for (const opts of [options, { seed: 99, load: 0.7, runSeconds: [5, 15] as [number, number] }]) {
      const jobs = plan(opts, chaosNodes, 20_000);
      const seconds = jobs.reduce((sum, job) => sum + job.arrivalGapSeconds, 0);
      const milliCpuSeconds = jobs.reduce(
        (sum, job) => sum + finalSize(job) * job.milliCpu * job.runSeconds,
        0,
      );
      const capacity = chaosNodes.reduce((sum, node) => sum + node, 0);
      const offered = milliCpuSeconds / seconds / capacity;
      expect(offered).toBeGreaterThan(opts.load * 0.95);
      expect(offered).toBeLessThan(opts.load * 1.05);
      // The exact mean the rate is computed from agrees with the plan's.
      expect(milliCpuSeconds / jobs.length / meanJobMilliCpuSeconds(opts, chaosNodes)).toBeCloseTo(1, 1);
    }
  });

  it("rejects options and clusters it cannot serve", () => {
    expect(() => planJob({ ...options, runSeconds: [0, 10] }, chaosNodes, 0)).toThrow(/runSeconds/);
    expect(() => planJob({ ...options, runSeconds: [30, 10] }, chaosNodes, 0)).toThrow(/runSeconds/);
    expect(() => planJob({ ...options, load: 0 }, chaosNodes, 0)).toThrow(/load/);
    expect(() => planJob(options, [], 0)).toThrow(/node/);
  });
});

describe("a planned Job's manifest", () => {
  const target = { namespace: "chaos-1", schedulerName: "sharded-scheduler", runId: "run-1" };

  it("makes a gang's pods one pod group of its size, finishing after the run time", () => {
    const gang = plan(options, chaosNodes, 100).find((job) => job.shape === "gang") as PlannedJob;
    const manifest = jobManifests(gang, target)[0] as k8s.V1Job;
    expect(manifest.metadata?.name).toBe(gang.name);
    expect(manifest.metadata?.labels?.chaos).toBe("run-1");
    expect(manifest.spec?.completions).toBe(gang.size);
    expect(manifest.spec?.parallelism).toBe(gang.size);
    expect(manifest.spec?.ttlSecondsAfterFinished).toBe(30);
    expect(manifest.spec?.podFailurePolicy?.rules[0]).toMatchObject({
      action: "Ignore",
      onPodConditions: [{ type: "DisruptionTarget" }],
    });
    const pod = manifest.spec?.template;
    expect(pod?.metadata?.labels?.chaos).toBe("run-1");
    expect(pod?.metadata?.annotations).toEqual({
      [podGroupAnnotation]: gang.name,
      [minMemberAnnotation]: String(gang.size),
      [completeAfterAnnotation]: `${gang.runSeconds}s`,
    });
    expect(pod?.spec?.schedulerName).toBe("sharded-scheduler");
    expect(pod?.spec?.restartPolicy).toBe("Never");
    expect(pod?.spec?.priorityClassName).toBe(gang.priorityClass);
    expect(pod?.spec?.nodeSelector).toEqual({ type: "kwok" });
    expect(pod?.spec?.schedulingGates).toBeUndefined();
    expect(pod?.spec?.containers[0]?.resources?.requests).toEqual({
      cpu: `${gang.milliCpu}m`,
      memory: `${gang.memoryMi}Mi`,
    });
  });

  it("gives a solo Job no pod group", () => {
    const solo = plan(options, chaosNodes, 100).find((job) => job.kind === "solo") as PlannedJob;
    const annotations = jobManifests(solo, target)[0]?.spec?.template.metadata?.annotations ?? {};
    expect(annotations[podGroupAnnotation]).toBeUndefined();
    expect(annotations[minMemberAnnotation]).toBeUndefined();
    expect(annotations[completeAfterAnnotation]).toBe(`${solo.runSeconds}s`);
  });
});

describe("the Jobs of issue 17's shapes", () => {
  const target = { namespace: "chaos-1", schedulerName: "sharded-scheduler", runId: "run-1" };
  const first = (shape: string) =>
    plan(options, chaosNodes, 2000).find((job) => job.shape === shape) as PlannedJob;

  it("creates a gated gang's pods with the chaos gate, as one gang of its size", () => {
    const gated = first("gated");
    const manifests = jobManifests(gated, target);
    expect(manifests).toHaveLength(1);
    const pod = manifests[0]?.spec?.template;
    expect(pod?.spec?.schedulingGates).toEqual([{ name: chaosGate }]);
    expect(pod?.metadata?.labels?.["chaos-shape"]).toBe("gated");
    expect(pod?.metadata?.annotations?.[minMemberAnnotation]).toBe(String(gated.size));
  });

  it("lifts each gated pod's gate at a time drawn from its name, spread over the window", () => {
    const names = Array.from({ length: 500 }, (_, i) => `gated-00042-${i.toString(36)}`);
    const delays = names.map(ungateDelaySeconds);
    expect(names.map(ungateDelaySeconds)).toEqual(delays);
    for (const delay of delays) {
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(gateLiftSeconds[0]);
      expect(delay).toBeLessThanOrEqual(gateLiftSeconds[1]);
    }
    // Members of one gang come free far apart: a scheduler binding the early ones shows.
    expect(new Set(delays).size).toBeGreaterThan(20);
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(20);
  });

  it("makes a growing group a pod group without min-member whose Job can grow to growTo", () => {
    const growing = first("growing");
    const [manifest] = jobManifests(growing, target);
    expect(manifest?.spec?.parallelism).toBe(growing.size);
    expect(manifest?.spec?.completions).toBe(growing.growTo);
    const annotations = manifest?.spec?.template.metadata?.annotations ?? {};
    expect(annotations[podGroupAnnotation]).toBe(growing.name);
    expect(annotations[minMemberAnnotation]).toBeUndefined();
    expect(manifest?.spec?.template.spec?.priorityClassName).toBe("chaos-low");
  });

  it("makes a mixed-priority gang two Jobs, low and high, of one gang", () => {
    const mixed = first("mixed");
    const manifests = jobManifests(mixed, target);
    expect(manifests.map((job) => job.metadata?.name)).toEqual([`${mixed.name}-low`, `${mixed.name}-high`]);
    expect(manifests.map((job) => job.spec?.template.spec?.priorityClassName)).toEqual([
      "chaos-low",
      "chaos-high",
    ]);
    expect(manifests.map((job) => job.spec?.parallelism)).toEqual([
      mixed.size - (mixed.highMembers as number),
      mixed.highMembers,
    ]);
    for (const job of manifests) {
      expect(job.spec?.completions).toBe(job.spec?.parallelism);
      expect(job.spec?.template.metadata?.annotations).toMatchObject({
        [podGroupAnnotation]: mixed.name,
        [minMemberAnnotation]: String(mixed.size),
      });
    }
  });
});

describe("PodGroup gangs", () => {
  const target = { namespace: "chaos-1", schedulerName: "sharded-scheduler", runId: "run-1" };
  const served = { ...target, podGroupApis: podGroupApis };
  const jobs = plan(options, chaosNodes, 3000);
  const firstOf = (api: string) => jobs.find((planned) => planned.podGroup === api) as PlannedJob;

  it("makes a small share of the plain gangs join each PodGroup API, and no other shape", () => {
    const gangs = jobs.filter((job) => job.shape === "gang");
    for (const api of podGroupApis) {
      const joined = gangs.filter((job) => job.podGroup === api);
      expect(joined.length / gangs.length, api).toBeCloseTo(podGroupShares[api], 1);
      expect(joined.length, api).toBeGreaterThan(0);
    }
    expect(jobs.filter((job) => job.podGroup && job.shape !== "gang")).toEqual([]);
  });

  it("keeps the native gangs of the plan before the CRD gangs were added", () => {
    // Seed 7's native gangs as the plan drew them before (main at 9e1a97b): 203 of 3000 Jobs.
    const native = jobs.filter((job) => job.podGroup === "native").map((job) => job.index);
    expect(native).toHaveLength(203);
    expect(native.slice(0, 8)).toEqual([16, 33, 35, 67, 74, 104, 121, 122]);
  });

  it("joins the pods to a native PodGroup of the Job's name where the cluster serves it, else annotations", () => {
    const job = firstOf("native");
    const [native] = jobManifests(job, { ...target, podGroupApis: ["native"] });
    expect(native?.spec?.template.spec).toMatchObject({ schedulingGroup: { podGroupName: job.name } });
    expect(native?.spec?.template.metadata?.annotations).toEqual({
      [completeAfterAnnotation]: `${job.runSeconds}s`,
    });
    const [fallback] = jobManifests(job, { ...target, podGroupApis: ["scheduler-plugins", "volcano"] });
    expect(fallback?.spec?.template.spec).not.toHaveProperty("schedulingGroup");
    expect(fallback?.spec?.template.metadata?.annotations).toMatchObject({
      [podGroupAnnotation]: job.name,
      [minMemberAnnotation]: String(job.size),
    });
    expect(podGroupManifest(job, target)).toMatchObject({
      apiVersion: "scheduling.k8s.io/v1beta1",
      kind: "PodGroup",
      metadata: { name: job.name, namespace: "chaos-1", labels: { chaos: "run-1" } },
      spec: {
        schedulingPolicy: { gang: { minCount: job.size } },
        priorityClassName: job.priorityClass,
        disruptionMode: { all: {} },
      },
    });
  });

  it("labels a scheduler-plugins gang's pods with its PodGroup, minMember its size", () => {
    const job = firstOf("scheduler-plugins");
    const [manifest] = jobManifests(job, served);
    const pod = manifest?.spec?.template;
    expect(pod?.metadata?.labels).toEqual({
      chaos: "run-1",
      "chaos-shape": "gang",
      "scheduling.x-k8s.io/pod-group": job.name,
    });
    // The Job's own labels stay the run's: only the pods join the group.
    expect(manifest?.metadata?.labels).not.toHaveProperty(["scheduling.x-k8s.io/pod-group"]);
    expect(pod?.metadata?.annotations).toEqual({ [completeAfterAnnotation]: `${job.runSeconds}s` });
    expect(pod?.spec).not.toHaveProperty("schedulingGroup");
    expect(pod?.spec?.priorityClassName).toBe(job.priorityClass);
    expect(podGroupManifest(job, served)).toEqual({
      apiVersion: "scheduling.x-k8s.io/v1alpha1",
      kind: "PodGroup",
      metadata: { name: job.name, namespace: "chaos-1", labels: { chaos: "run-1", "chaos-shape": "gang" } },
      spec: { minMember: job.size },
    });
  });

  it("annotates a Volcano gang's pods with its PodGroup, minMember its size and the Job's PriorityClass", () => {
    const job = firstOf("volcano");
    const [manifest] = jobManifests(job, served);
    const pod = manifest?.spec?.template;
    expect(pod?.metadata?.annotations).toEqual({
      "scheduling.k8s.io/group-name": job.name,
      [completeAfterAnnotation]: `${job.runSeconds}s`,
    });
    expect(pod?.metadata?.labels).not.toHaveProperty(["scheduling.x-k8s.io/pod-group"]);
    expect(podGroupManifest(job, served)).toEqual({
      apiVersion: "scheduling.volcano.sh/v1beta1",
      kind: "PodGroup",
      metadata: { name: job.name, namespace: "chaos-1", labels: { chaos: "run-1", "chaos-shape": "gang" } },
      spec: { minMember: job.size, priorityClassName: job.priorityClass },
    });
  });

  it("leaves a CRD gang an annotation gang where its CRD is not served", () => {
    for (const api of ["scheduler-plugins", "volcano"] as const) {
      const job = firstOf(api);
      const pod = jobManifests(job, { ...target, podGroupApis: ["native"] })[0]?.spec?.template;
      expect(pod?.metadata?.annotations, api).toEqual({
        [podGroupAnnotation]: job.name,
        [minMemberAnnotation]: String(job.size),
        [completeAfterAnnotation]: `${job.runSeconds}s`,
      });
      expect(pod?.metadata?.labels, api).not.toHaveProperty(["scheduling.x-k8s.io/pod-group"]);
    }
  });
});
