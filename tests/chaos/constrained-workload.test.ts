import { describe, expect, it } from "vitest";
import {
  antiLabel,
  type ConstrainedTarget,
  chaosHostPorts,
  constrainedManifests,
  type PlannedConstrained,
  planConstrained,
  topologyOf,
} from "./constrained-workload.js";

const zone = "topology.kubernetes.io/zone";
const topology = { key: zone, domains: ["zone-a", "zone-b", "zone-c"] };
const plan = (seed: number, count: number): PlannedConstrained[] =>
  Array.from({ length: count }, (_, index) => planConstrained(seed, [10, 30], topology, 24, index));

const target: ConstrainedTarget = {
  namespace: "chaos-1",
  schedulerName: "sharded-scheduler",
  runId: "chaos-1",
  labels: { chaos: "chaos-1" },
  completeAfterAnnotation: "sharded-scheduler.io/complete-after",
  priorityClass: "chaos-mid",
  nodeSelector: { type: "kwok" },
  tolerations: [],
  topology,
};

describe("the constrained workloads' plan", () => {
  it("is the same for the same seed, read in any order, and another for another seed", () => {
    const forward = plan(7, 200);
    const backward = Array.from({ length: 200 }, (_, i) => 199 - i)
      .map((index) => planConstrained(7, [10, 30], topology, 24, index))
      .reverse();
    expect(backward).toEqual(forward);
    expect(plan(8, 200)).not.toEqual(forward);
  });

  it("has every shape, near its share, and arrives about every 4 s", () => {
    const planned = plan(3, 2000);
    const share = (shape: string) => planned.filter((p) => p.shape === shape).length / planned.length;
    expect(share("anti")).toBeCloseTo(0.3, 1);
    expect(share("spread")).toBeCloseTo(0.3, 1);
    expect(share("ports")).toBeCloseTo(0.25, 1);
    expect(share("volume")).toBeCloseTo(0.15, 1);
    const meanGap = planned.reduce((sum, p) => sum + p.arrivalGapSeconds, 0) / planned.length;
    expect(meanGap).toBeGreaterThan(3.5);
    expect(meanGap).toBeLessThan(4.5);
    for (const p of planned) {
      expect(p.runSeconds).toBeGreaterThanOrEqual(10);
      expect(p.runSeconds).toBeLessThanOrEqual(30);
      if (p.shape === "volume") expect(topology.domains).toContain(p.volumeDomain);
      if (p.shape === "ports") expect(chaosHostPorts).toContain(p.hostPort);
    }
  });

  it("never plans more anti-affine or port-taking pods of one workload than nodes", () => {
    for (let index = 0; index < 300; index++) {
      const p = planConstrained(5, [10, 30], topology, 2, index);
      if (p.shape === "anti" || p.shape === "ports") expect(p.replicas).toBeLessThanOrEqual(2);
    }
  });

  it("spreads over zones, or over nodes when the nodes have no zone", () => {
    expect(topologyOf([{ [zone]: "b" }, { [zone]: "a" }, { [zone]: "b" }])).toEqual({
      key: zone,
      domains: ["a", "b"],
    });
    expect(topologyOf([{ "kubernetes.io/hostname": "n1" }, { "kubernetes.io/hostname": "n0" }])).toEqual({
      key: "kubernetes.io/hostname",
      domains: ["n0", "n1"],
    });
  });
});

describe("the constrained workloads' manifests", () => {
  const first = (shape: string) => plan(11, 200).find((p) => p.shape === shape) as PlannedConstrained;

  it("anti: a Deployment whose pods avoid every anti pod of the run per node", () => {
    const { deployment } = constrainedManifests(first("anti"), target);
    const spec = deployment?.spec?.template.spec;
    expect(deployment?.spec?.template.metadata?.labels?.[antiLabel]).toBe("chaos-1");
    expect(spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]).toEqual({
      topologyKey: "kubernetes.io/hostname",
      labelSelector: { matchLabels: { [antiLabel]: "chaos-1" } },
    });
    expect(spec?.schedulerName).toBe("sharded-scheduler");
  });

  it("spread: a Deployment spread over zones with DoNotSchedule", () => {
    const planned = first("spread");
    const { deployment } = constrainedManifests(planned, target);
    const constraint = deployment?.spec?.template.spec?.topologySpreadConstraints?.[0];
    expect(constraint?.whenUnsatisfiable).toBe("DoNotSchedule");
    expect(constraint?.topologyKey).toBe(zone);
    expect(constraint?.labelSelector).toEqual({ matchLabels: { app: planned.name } });
    expect(deployment?.spec?.replicas).toBe(planned.replicas);
  });

  it("ports: a Job whose pods take the drawn host port", () => {
    const planned = first("ports");
    const { job } = constrainedManifests(planned, target);
    expect(job?.spec?.template.spec?.containers[0]?.ports?.[0]?.hostPort).toBe(planned.hostPort);
  });

  it("volume: a Job whose claim is pre-bound to a volume pinned to the drawn zone", () => {
    const planned = first("volume");
    const { job, claim, volume } = constrainedManifests(planned, target);
    expect(claim?.spec?.volumeName).toBe(volume?.metadata?.name);
    expect(volume?.spec?.claimRef).toEqual({ namespace: "chaos-1", name: planned.name });
    expect(volume?.metadata?.labels?.[zone]).toBe(planned.volumeDomain);
    expect(volume?.metadata?.labels?.chaos).toBe("chaos-1");
    expect(volume?.spec?.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values).toEqual(
      [planned.volumeDomain],
    );
    expect(job?.spec?.template.spec?.volumes?.[0]?.persistentVolumeClaim?.claimName).toBe(
      claim?.metadata?.name,
    );
  });
});

describe("rack gangs", () => {
  const racked = { ...topology, racks: ["rack-0", "rack-1", "rack-2"] };
  const rackTarget = { ...target, topology: racked };

  it("join the mix only on nodes labelled in racks, near their share", () => {
    expect(plan(3, 2000).some((p) => p.shape === "rack")).toBe(false);
    const planned = Array.from({ length: 2000 }, (_, index) =>
      planConstrained(3, [10, 30], racked, 24, index),
    );
    const share = (shape: string) => planned.filter((p) => p.shape === shape).length / planned.length;
    expect(share("rack")).toBeCloseTo(0.18, 1);
    expect(share("anti")).toBeCloseTo(0.25, 1);
    for (const p of planned.filter((p) => p.shape === "rack")) {
      expect(p.replicas).toBeGreaterThanOrEqual(2);
      expect(p.replicas).toBeLessThanOrEqual(4);
      expect([500, 1000]).toContain(p.milliCpu);
    }
  });

  it("are one annotation gang of all their pods that requires one rack", () => {
    const planned = Array.from({ length: 200 }, (_, index) =>
      planConstrained(3, [10, 30], racked, 24, index),
    ).find((p) => p.shape === "rack") as PlannedConstrained;
    const { job, deployment, volume } = constrainedManifests(planned, rackTarget);
    expect(deployment).toBeUndefined();
    expect(volume).toBeUndefined();
    expect(job?.spec?.parallelism).toBe(planned.replicas);
    expect(job?.spec?.template.metadata?.annotations).toEqual({
      "sharded-scheduler.io/complete-after": `${planned.runSeconds}s`,
      "sharded-scheduler.io/pod-group": planned.name,
      "sharded-scheduler.io/min-member": String(planned.replicas),
      "sharded-scheduler.io/topology-required": "topology.kubernetes.io/rack",
    });
    expect(job?.spec?.template.spec?.containers[0]?.resources?.requests?.cpu).toBe(`${planned.milliCpu}m`);
  });

  it("reads the racks from the nodes' labels", () => {
    const rack = "topology.kubernetes.io/rack";
    expect(
      topologyOf([
        { [zone]: "a", [rack]: "r1" },
        { [zone]: "b", [rack]: "r0" },
      ]),
    ).toEqual({ key: zone, domains: ["a", "b"], racks: ["r0", "r1"] });
  });
});
