import { describe, expect, it } from "vitest";
import { topologyRequiredAnnotation } from "../../scheduler/src/contracts/keys.js";
import type { Node, Pod } from "../../scheduler/src/core/index.js";
import { placePendingTopologyGroups } from "./topology-oracle.js";

const rack = "topology.kubernetes.io/rack";

const node = (name: string, rackName: string | undefined, cpu = "8"): Node => {
  const resources = { cpu, memory: "64Gi", pods: "110" };
  return {
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": name, ...(rackName ? { [rack]: rackName } : {}) },
    },
    status: { allocatable: resources, capacity: resources, conditions: [{ type: "Ready", status: "True" }] },
  };
};

const pod = (
  name: string,
  cpu: string,
  options: { gang?: [string, number]; nodeName?: string } = {},
): Pod => ({
  metadata: {
    name,
    namespace: "ns",
    ...(options.gang
      ? {
          annotations: {
            "sharded-scheduler.io/pod-group": options.gang[0],
            "sharded-scheduler.io/min-member": String(options.gang[1]),
            [topologyRequiredAnnotation]: rack,
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
  Array.from({ length: size }, (_, i) => pod(`${name}-${i}`, cpu, { gang: [name, size] }));

const names = (verdict: ReturnType<typeof placePendingTopologyGroups>) => ({
  fits: verdict.fits.map((key) => key.name),
  unfit: verdict.unfit.map((key) => key.name),
});

/** r0: a0, a1; r1: b0, b1; n: no rack. */
const cluster = () => [
  node("a0", "r0"),
  node("a1", "r0"),
  node("b0", "r1"),
  node("b1", "r1"),
  node("n", undefined),
];

describe("placePendingTopologyGroups", () => {
  it("places a rack gang only inside one rack, never across racks nor on an unlabelled node", () => {
    // 6 cpu taken on a0 and b0: each rack has 10 cpu free (its cpu would hold two 5-cpu
    // members), but one free node each, in different racks; n has no rack.
    const bound = [pod("x", "6", { nodeName: "a0" }), pod("y", "6", { nodeName: "b0" })];
    expect(names(placePendingTopologyGroups(cluster(), [...bound, ...gang("g", 2, "5")]))).toEqual({
      fits: [],
      unfit: ["g"],
    });
    // Without the requirement the same pods fit (a1 and b1, or n).
    const free = gang("g", 2, "5").map((p) => ({
      ...p,
      metadata: {
        ...p.metadata,
        annotations: { "sharded-scheduler.io/pod-group": "g", "sharded-scheduler.io/min-member": "2" },
      },
    }));
    expect(names(placePendingTopologyGroups(cluster(), [...bound, ...free]))).toEqual({
      fits: ["g"],
      unfit: [],
    });
  });

  it("keeps a placed gang's room: two rack-sized gangs take both racks, a third does not fit", () => {
    const verdict = placePendingTopologyGroups(cluster(), [
      ...gang("a", 2, "6"),
      ...gang("b", 2, "6"),
      ...gang("c", 2, "6"),
    ]);
    expect(names(verdict)).toEqual({ fits: ["a", "b"], unfit: ["c"] });
  });

  it("tries the tightest rack first, keeping an empty rack whole for a bigger gang", () => {
    const bound = [pod("x", "6", { nodeName: "a0" })];
    // A 1-member gang could go to r0 (a1 free) or r1 (both free): tightest first takes r0,
    // so a 2-member gang after it still finds r1 whole.
    const verdict = placePendingTopologyGroups(cluster(), [
      ...bound,
      ...gang("small", 1, "6"),
      ...gang("big", 2, "6"),
    ]);
    expect(names(verdict)).toEqual({ fits: ["small", "big"], unfit: [] });
  });

  it("places solo pods anywhere, the unlabelled node included", () => {
    const bound = ["a0", "a1", "b0", "b1"].map((n) => pod(`on-${n}`, "8", { nodeName: n }));
    expect(names(placePendingTopologyGroups(cluster(), [...bound, pod("s", "4")]))).toEqual({
      fits: ["s"],
      unfit: [],
    });
  });
});
