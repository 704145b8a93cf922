import { describe, expect, it } from "vitest";
import type { Node, Pod } from "../../scheduler/src/core/index.js";
import { parseTopologyConfigs } from "./topology.js";
import { placePendingTopologyGroups } from "./topology-oracle.js";
import {
  blockLabel,
  defaultTopologyShape,
  generateTopologyWorkload,
  podGroupManifest,
  rackLabel,
  rackLayout,
  splitGangs,
  systemPods,
  topologyOraclePods,
} from "./topology-workload.js";

const names = (count: number) =>
  Array.from({ length: count }, (_, i) => `node-${String(i).padStart(3, "0")}`);

function nodes(count: number, racks: number, cpu = "8"): Node[] {
  const layout = rackLayout(names(count), racks, 5);
  return names(count).map((name) => {
    const resources = { cpu, memory: "64Gi", pods: "110" };
    const place = layout.get(name) as { rack: string; block: string };
    return {
      metadata: { name, labels: { [rackLabel]: place.rack, [blockLabel]: place.block } },
      status: {
        allocatable: resources,
        capacity: resources,
        conditions: [{ type: "Ready", status: "True" }],
      },
    };
  });
}

describe("rackLayout", () => {
  it("puts consecutive nodes in racks of equal size and consecutive racks in blocks", () => {
    const layout = rackLayout(names(1000), 50, 5);
    const racks = new Map<string, number>();
    for (const { rack } of layout.values()) racks.set(rack, (racks.get(rack) ?? 0) + 1);
    expect(racks.size).toBe(50);
    expect(new Set(racks.values())).toEqual(new Set([20]));
    expect(layout.get("node-000")).toEqual({ rack: "rack-00", block: "block-0" });
    expect(layout.get("node-019")).toEqual({ rack: "rack-00", block: "block-0" });
    expect(layout.get("node-020")).toEqual({ rack: "rack-01", block: "block-0" });
    expect(layout.get("node-100")).toEqual({ rack: "rack-05", block: "block-1" });
    expect(layout.get("node-999")).toEqual({ rack: "rack-49", block: "block-9" });
  });
});

describe("generateTopologyWorkload", () => {
  const cluster = nodes(100, 5);
  const workload = generateTopologyWorkload({ seed: 1, nodes: cluster, ...defaultTopologyShape });

  it("is the same for a seed and another for another seed", () => {
    expect(generateTopologyWorkload({ seed: 1, nodes: cluster, ...defaultTopologyShape })).toEqual(workload);
    expect(generateTopologyWorkload({ seed: 2, nodes: cluster, ...defaultTopologyShape }).groups).not.toEqual(
      workload.groups,
    );
  });

  it("mixes gangs of 4 to 20 with solo pods up to the fill", () => {
    const gangs = workload.groups.filter((group) => !group.solo);
    expect(gangs.length).toBeGreaterThan(3);
    for (const gang of gangs) {
      expect(gang.size).toBeGreaterThanOrEqual(4);
      expect(gang.size).toBeLessThanOrEqual(20);
    }
    const fill = workload.requestedMilliCpu / workload.capacityMilliCpu;
    expect(fill).toBeGreaterThan(0.8);
    expect(fill).toBeLessThanOrEqual(defaultTopologyShape.fill);
    expect(workload.pods).toBe(workload.gangPods + workload.solos);
  });

  it("holds only groups one scheduler places in arrival order, every gang in one rack", () => {
    const verdict = placePendingTopologyGroups(cluster, topologyOraclePods(workload.groups, "ns"));
    expect(verdict.unfit).toEqual([]);
    expect(verdict.fits).toHaveLength(workload.groups.length);
  });

  it("gives the systems native PodGroups that require one rack", () => {
    const gang = workload.groups.find((group) => !group.solo);
    if (!gang) throw new Error("no gang");
    expect(podGroupManifest(gang, "ns")).toMatchObject({
      kind: "PodGroup",
      spec: {
        schedulingPolicy: { gang: { minCount: gang.size } },
        schedulingConstraints: { topology: [{ key: rackLabel }] },
      },
    });
    const pods = systemPods(gang, "ns", "default-scheduler");
    expect(pods).toHaveLength(gang.size);
    expect(pods[0]?.spec).toMatchObject({
      schedulerName: "default-scheduler",
      schedulingGroup: { podGroupName: gang.name },
    });
  });
});

describe("splitGangs", () => {
  const cluster = [
    ...nodes(4, 2),
    { metadata: { name: "bare", labels: {} }, status: { allocatable: { cpu: "8" } } } as Node,
  ];
  const group = { name: "g", solo: false, size: 2, milliCpu: 1000 };
  const bound = (a: string | undefined, b: string | undefined): Pod[] =>
    systemPods(group, "ns", "x").map(
      (pod, i) => ({ ...pod, spec: { ...pod.spec, nodeName: [a, b][i] } }) as Pod,
    );

  it("counts a gang across racks or on a node without a rack, not one inside a rack", () => {
    expect(splitGangs([group], bound("node-000", "node-001"), cluster)).toEqual([]);
    expect(splitGangs([group], bound("node-000", "node-002"), cluster).map((s) => s.gang)).toEqual(["g"]);
    expect(splitGangs([group], bound("node-000", "bare"), cluster).map((s) => s.gang)).toEqual(["g"]);
    // Half bound: the bound half is judged alone.
    expect(splitGangs([group], bound("node-000", undefined), cluster)).toEqual([]);
  });
});

describe("parseTopologyConfigs", () => {
  it("reads the four configurations and refuses others", () => {
    expect(parseTopologyConfigs("kube-scheduler, 1,3,3-rack")).toEqual([
      { label: "kube-scheduler", system: "kube-scheduler" },
      { label: "1", system: "sharded-scheduler", shards: 1 },
      { label: "3", system: "sharded-scheduler", shards: 3 },
      { label: "3-rack", system: "sharded-scheduler", shards: 3, shardByLabel: rackLabel },
    ]);
    expect(() => parseTopologyConfigs("3c")).toThrow(/--configs takes some of kube-scheduler,1,3,3-rack/);
  });
});
