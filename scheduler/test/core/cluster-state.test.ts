import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import { ClusterState } from "../../src/core/cluster-state.js";
import { gang, node, pod } from "./fixtures.js";

describe("ClusterState's placed pods", () => {
  it("holds each placed pod once: the PodInfo it was given, its node beside it", () => {
    const cluster = new ClusterState();
    cluster.upsertNode(node("n1"));
    const bound = toPodInfo(pod("bound", { nodeName: "n1" }));
    const assumed = toPodInfo(pod("assumed"));
    const [member] = gang("g", 2).map((p) => toPodInfo({ ...p, spec: { ...p.spec, nodeName: "n1" } }));
    cluster.upsertPod(bound);
    cluster.assume(assumed, "n1");
    if (member) cluster.upsertPod(member);
    // The very objects (no copy per placed pod), wherever the cluster gives them out.
    expect(cluster.placedPod(bound.key)).toBe(bound);
    expect(cluster.placedPod(assumed.key)).toBe(assumed);
    expect(cluster.node("n1")?.pods.get(bound.key)).toBe(bound);
    expect(cluster.runningGroup(bound.group.id)?.pods[0]).toBe(bound);
    expect(cluster.runningGroup(member?.group.id ?? "")?.pods[0]).toBe(member);
    // The node is the placement's, not the pod's own nodeName (an assumed pod has none yet).
    expect(assumed.nodeName).toBeUndefined();
    expect(cluster.placementOf(assumed.key)).toBe("n1");
    cluster.removePod(assumed.key);
    expect(cluster.placedPod(assumed.key)).toBeUndefined();
    expect(cluster.placementOf(assumed.key)).toBeUndefined();
  });
});
