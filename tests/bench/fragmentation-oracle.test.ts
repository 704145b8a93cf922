import { describe, expect, it } from "vitest";
import type { Node, Pod } from "../../scheduler/src/core/index.js";
import { placePendingGroups } from "./fragmentation-oracle.js";
import { defaultWorkloadShape, generateWorkload, workloadPods } from "./fragmentation-workload.js";

const node = (name: string, cpu = "8"): Node => {
  const resources = { cpu, memory: "64Gi", pods: "110" };
  return {
    metadata: { name, labels: { "kubernetes.io/hostname": name } },
    status: { allocatable: resources, capacity: resources, conditions: [{ type: "Ready", status: "True" }] },
  };
};

const pod = (
  name: string,
  cpu: string,
  options: { group?: [string, number]; nodeName?: string } = {},
): Pod => ({
  metadata: {
    name,
    namespace: "ns",
    ...(options.group
      ? {
          annotations: {
            "sharded-scheduler.io/pod-group": options.group[0],
            "sharded-scheduler.io/min-member": String(options.group[1]),
          },
        }
      : {}),
  },
  spec: {
    schedulerName: "sharded-scheduler",
    ...(options.nodeName ? { nodeName: options.nodeName } : {}),
    containers: [{ name: "c", resources: { requests: { cpu } } }],
  },
});

const gang = (name: string, size: number, cpu: string): Pod[] =>
  Array.from({ length: size }, (_, i) => pod(`${name}-${i}`, cpu, { group: [name, size] }));

const names = (verdict: ReturnType<typeof placePendingGroups>) => ({
  fits: verdict.fits.map((key) => key.name),
  unfit: verdict.unfit.map((key) => key.name),
});

describe("placePendingGroups", () => {
  it("places groups in order, all or nothing, and a placed group keeps its room", () => {
    const verdict = placePendingGroups(
      [node("n0"), node("n1"), node("n2")],
      [...gang("a", 2, "6"), ...gang("b", 2, "6"), ...gang("c", 1, "6")],
    );
    expect(names(verdict)).toEqual({ fits: ["a", "c"], unfit: ["b"] });
  });

  it("counts bound pods of any namespace against their node", () => {
    const bound = [
      pod("x", "6", { nodeName: "n0" }),
      { ...pod("y", "6", { nodeName: "n1" }), metadata: { name: "y", namespace: "other" } },
    ];
    const verdict = placePendingGroups(
      [node("n0"), node("n1")],
      [...bound, ...gang("g", 2, "3"), pod("solo", "2")],
    );
    expect(names(verdict)).toEqual({ fits: ["solo"], unfit: ["g"] });
  });

  it("needs only min-member minus the running members of a partly running gang", () => {
    const members = gang("g", 3, "6");
    const running = { ...members[0], spec: { ...members[0]?.spec, nodeName: "n0" } } as Pod;
    const verdict = placePendingGroups([node("n0"), node("n1"), node("n2")], [running, ...members.slice(1)]);
    expect(names(verdict)).toEqual({ fits: ["g"], unfit: [] });
  });

  it("does not place a gang with fewer pending members than it needs", () => {
    const verdict = placePendingGroups([node("n0"), node("n1"), node("n2")], gang("g", 3, "1").slice(0, 2));
    expect(names(verdict)).toEqual({ fits: [], unfit: ["g"] });
  });

  it("ignores finished pods", () => {
    const done = { ...pod("done", "8", { nodeName: "n0" }), status: { phase: "Succeeded" } };
    expect(names(placePendingGroups([node("n0")], [done, pod("p", "8")]))).toEqual({
      fits: ["p"],
      unfit: [],
    });
  });
});

describe("generateWorkload", () => {
  const nodes = Array.from({ length: 60 }, (_, i) => node(`kwok-node-${String(i).padStart(2, "0")}`));
  const workload = generateWorkload({ seed: 7, nodes, ...defaultWorkloadShape });

  it("is the same for the same seed and differs for another", () => {
    expect(generateWorkload({ seed: 7, nodes, ...defaultWorkloadShape })).toEqual(workload);
    expect(generateWorkload({ seed: 8, nodes, ...defaultWorkloadShape }).groups).not.toEqual(workload.groups);
  });

  it("fills the cluster close to the target share, with gangs of members that need most of a node", () => {
    const fill = workload.requestedMilliCpu / workload.capacityMilliCpu;
    expect(fill).toBeLessThanOrEqual(defaultWorkloadShape.fill);
    expect(fill).toBeGreaterThan(defaultWorkloadShape.fill - 0.05);
    const gangs = workload.groups.filter((group) => !group.solo);
    expect(gangs.length).toBe(workload.gangs);
    for (const group of gangs) {
      expect(group.size).toBeGreaterThanOrEqual(defaultWorkloadShape.minGangSize);
      expect(group.size).toBeLessThanOrEqual(defaultWorkloadShape.maxGangSize);
      expect(group.milliCpu).toBeGreaterThan(4000);
    }
    expect(workloadPods(workload.groups, "ns")).toHaveLength(workload.pods);
  });

  it("fits entirely when one scheduler places it in arrival order on the empty cluster", () => {
    const verdict = placePendingGroups(nodes, workloadPods(workload.groups, "ns"));
    expect(verdict.unfit).toEqual([]);
    expect(verdict.fits).toHaveLength(workload.groups.length);
  });
});
