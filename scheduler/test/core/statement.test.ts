import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import { ClusterState } from "../../src/core/cluster-state.js";
import { placeGang } from "../../src/core/gang-placement.js";
import { Statement } from "../../src/core/statement.js";
import { node, onlyPendingGroup, placementContext, pod, requestedByNode, snapshotOf } from "./fixtures.js";

describe("Statement", () => {
  it("discard restores assumed and evicted pods exactly", () => {
    const cluster = snapshotOf(
      [node("n1"), node("n2")],
      [pod("running", { nodeName: "n1", cpu: 2 }), pod("other", { nodeName: "n2" })],
    );
    const before = requestedByNode(cluster);
    const statement = new Statement(cluster);
    statement.evict(toPodInfo(pod("running", { nodeName: "n1", cpu: 2 })));
    statement.assume(toPodInfo(pod("new", { cpu: 3 })), "n1");
    statement.assume(toPodInfo(pod("new-2")), "n2");
    expect(cluster.placementOf("default/running")).toBeUndefined();
    expect(cluster.node("n1")?.requested.milliCpu).toBe(3000);
    statement.discard();
    expect(requestedByNode(cluster)).toEqual(before);
    expect(cluster.placementOf("default/running")).toBe("n1");
    expect(cluster.placementOf("default/new")).toBeUndefined();
  });

  it("commit keeps the changes, and a later discard does not undo them", () => {
    const cluster = snapshotOf([node("n1")]);
    const statement = new Statement(cluster);
    statement.assume(toPodInfo(pod("p")), "n1");
    statement.commit();
    statement.discard();
    expect(cluster.placementOf("default/p")).toBe("n1");
  });

  it("discardTo undoes only what came after the mark", () => {
    const cluster = snapshotOf([node("n1")]);
    const statement = new Statement(cluster);
    statement.assume(toPodInfo(pod("a")), "n1");
    const mark = statement.mark();
    statement.assume(toPodInfo(pod("b")), "n1");
    statement.discardTo(mark);
    expect(cluster.placementOf("default/a")).toBe("n1");
    expect(cluster.placementOf("default/b")).toBeUndefined();
    statement.discard();
    expect(cluster.placementOf("default/a")).toBeUndefined();
    expect(cluster.node("n1")?.requested.pods).toBe(0);
  });

  it("restores a pending pod's nomination as the cluster held it", () => {
    // The cluster knows the pod's nomination; the queue's copy of the pod is older.
    const cluster = snapshotOf(
      [node("n1", { cpu: 1 }), node("n2", { cpu: 1 })],
      [pod("g-0", { group: "g", priority: 9, nominatedNodeName: "n1" })],
    );
    const stale = [
      pod("g-0", { group: "g", priority: 9 }),
      pod("g-1", { group: "g", priority: 9 }),
      pod("g-2", { group: "g", priority: 9 }),
    ];
    const result = placeGang(placementContext(cluster), new Statement(cluster), onlyPendingGroup(stale));
    expect(result.fits).toBe(false);
    expect(cluster.hasNominations("n1")).toBe(true);
    expect(cluster.hasNominations("n2")).toBe(false);
  });

  it("does not invent a nomination the cluster did not hold", () => {
    const cluster = snapshotOf([node("n1", { cpu: 1 })]);
    const pods = [
      pod("g-0", { group: "g", nominatedNodeName: "n1" }),
      pod("g-1", { group: "g", nominatedNodeName: "n1" }),
    ];
    const result = placeGang(placementContext(cluster), new Statement(cluster), onlyPendingGroup(pods));
    expect(result.fits).toBe(false);
    expect(cluster.hasNominations("n1")).toBe(false);
  });
});

describe("ClusterState", () => {
  it("counts pods that arrived before their node", () => {
    const cluster = snapshotOf([]);
    cluster.upsertPod(toPodInfo(pod("early", { nodeName: "n1", cpu: 2 })));
    cluster.upsertNode(node("n1"));
    expect(cluster.node("n1")?.requested.milliCpu).toBe(2000);
    expect([...(cluster.node("n1")?.pods.keys() ?? [])]).toEqual(["default/early"]);
  });

  it("counts a node's pods again when the node is removed and comes back", () => {
    const cluster = snapshotOf([node("n1")], [pod("p", { nodeName: "n1", cpu: 2 })]);
    cluster.removeNode("n1");
    cluster.upsertNode(node("n1"));
    expect(cluster.node("n1")?.requested.milliCpu).toBe(2000);
    cluster.removePod("default/p");
    expect(cluster.node("n1")?.requested.milliCpu).toBe(0);
  });

  it("forgets a pod removed while its node was away", () => {
    const cluster = snapshotOf([node("n1")], [pod("p", { nodeName: "n1", cpu: 2 })]);
    cluster.removeNode("n1");
    cluster.removePod("default/p");
    cluster.upsertPod(toPodInfo(pod("q", { nodeName: "n2" })));
    cluster.upsertPod(toPodInfo(pod("q", { nodeName: "n1", cpu: 3 })));
    cluster.upsertNode(node("n1"));
    cluster.upsertNode(node("n2"));
    expect(cluster.node("n1")?.requested.milliCpu).toBe(3000);
    expect(cluster.node("n2")?.requested.pods).toBe(0);
  });

  it("property: every node's requests are the sum of the pods placed on it, whatever the event order", () => {
    const event = fc.oneof(
      fc.record({
        kind: fc.constant("node" as const),
        node: fc.integer({ min: 0, max: 2 }),
        cpu: fc.integer({ min: 1, max: 8 }),
      }),
      fc.record({ kind: fc.constant("removeNode" as const), node: fc.integer({ min: 0, max: 2 }) }),
      fc.record({
        kind: fc.constant("pod" as const),
        pod: fc.integer({ min: 0, max: 4 }),
        node: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
        cpu: fc.integer({ min: 1, max: 3 }),
        finished: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("removePod" as const), pod: fc.integer({ min: 0, max: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        const cluster = new ClusterState();
        for (const e of events) {
          if (e.kind === "node") cluster.upsertNode(node(`n${e.node}`, { cpu: e.cpu }));
          else if (e.kind === "removeNode") cluster.removeNode(`n${e.node}`);
          else if (e.kind === "removePod") cluster.removePod(`default/p${e.pod}`);
          else {
            const p = pod(`p${e.pod}`, {
              cpu: e.cpu,
              ...(e.node !== undefined ? { nodeName: `n${e.node}` } : {}),
            });
            if (e.finished) p.status = { phase: "Succeeded" };
            cluster.upsertPod(toPodInfo(p));
          }
        }
        for (const n of cluster.nodes) {
          let cpu = 0;
          let pods = 0;
          for (let i = 0; i <= 4; i++) {
            const key = `default/p${i}`;
            if (cluster.placementOf(key) === n.name) {
              cpu += cluster.placedPod(key)?.requests.milliCpu ?? 0;
              pods++;
            }
          }
          expect(n.requested.milliCpu).toBe(cpu);
          expect(n.requested.pods).toBe(pods);
          expect(n.pods.size).toBe(pods);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keeps a node's pods when the node is updated", () => {
    const cluster = snapshotOf([node("n1")], [pod("p", { nodeName: "n1", cpu: 2 })]);
    cluster.upsertNode(node("n1", { cpu: 8 }));
    expect(cluster.node("n1")?.requested.milliCpu).toBe(2000);
    expect(cluster.node("n1")?.allocatable.milliCpu).toBe(8000);
  });

  it("lets finished pods free their node and terminating pods keep it", () => {
    const done = pod("done", { nodeName: "n1" });
    done.status = { phase: "Succeeded" };
    const cluster = snapshotOf([node("n1")], [done, pod("leaving", { nodeName: "n1", terminating: true })]);
    expect(cluster.node("n1")?.requested.pods).toBe(1);
    expect(cluster.placementOf("default/leaving")).toBe("n1");
  });

  it("groups running pods by group with the highest member priority", () => {
    const cluster = snapshotOf(
      [node("n1"), node("n2")],
      [
        pod("g-0", { group: "g", priority: 3, nodeName: "n1" }),
        pod("g-1", { group: "g", priority: 8, nodeName: "n2" }),
        pod("solo", { priority: 5, nodeName: "n1" }),
      ],
    );
    const groups = cluster.runningGroups();
    expect(groups.get("group:default/g")?.priority).toBe(8);
    expect(
      groups
        .get("group:default/g")
        ?.pods.map((p) => p.name)
        .sort(),
    ).toEqual(["g-0", "g-1"]);
    expect(groups.get("pod:default/solo")?.pods).toHaveLength(1);
  });
});
