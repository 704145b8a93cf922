import { describe, expect, it } from "vitest";
import { defaultClusterOptions, fakeNodeSpecs, rackLabel, rackOf } from "./local-cluster.js";

describe("rack labels of fake nodes", () => {
  it("puts consecutive nodes in racks whose sizes differ by at most one", () => {
    const racks = Array.from({ length: 10 }, (_, i) => rackOf(i, 10, 3));
    expect(racks).toEqual([
      "rack-0",
      "rack-0",
      "rack-0",
      "rack-0",
      "rack-1",
      "rack-1",
      "rack-1",
      "rack-2",
      "rack-2",
      "rack-2",
    ]);
    expect(Array.from({ length: 24 }, (_, i) => rackOf(i, 24, 6)).filter((r) => r === "rack-5")).toHaveLength(
      4,
    );
    expect(rackOf(99, 100, 50)).toBe("rack-49");
  });

  it("labels the nodes only when the cluster has racks", () => {
    const base = { ...defaultClusterOptions, nodes: 4 };
    expect(fakeNodeSpecs(base).map((spec) => spec.labels?.[rackLabel])).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(fakeNodeSpecs({ ...base, racks: 2 }).map((spec) => spec.labels?.[rackLabel])).toEqual([
      "rack-0",
      "rack-0",
      "rack-1",
      "rack-1",
    ]);
  });
});
