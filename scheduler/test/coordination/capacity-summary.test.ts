import { describe, expect, it } from "vitest";
import { capacityNode, hostnameLabel } from "../../src/contracts/capacity-summary.js";
import { lentForAnnotation } from "../../src/contracts/keys.js";
import { CapacitySummarizer, summarizeCapacity } from "../../src/coordination/capacity-summary.js";
import { toNodeInfo, toPodInfo } from "../../src/core/index.js";
import { node, pod, snapshotOf } from "../core/fixtures.js";

const header = { shard: "shard-0", epoch: 3, publishedAt: 1000 };

describe("summarizeCapacity", () => {
  const cluster = snapshotOf(
    [
      node("n1", { cpu: 8, labels: { pool: "a" } }),
      node("n2", { cpu: 8, labels: { pool: "a" } }),
      node("n3", { cpu: 8, labels: { pool: "b" } }),
      node("other", { cpu: 8 }),
      node("down", { cpu: 8, ready: false }),
      node("cordoned", { cpu: 8, unschedulable: true }),
    ],
    [
      pod("low", { cpu: 2, priority: 0, nodeName: "n1" }),
      pod("low2", { cpu: 1, priority: 0, nodeName: "n1" }),
      pod("high", { cpu: 3, priority: 100, nodeName: "n1" }),
      pod("leaving", { cpu: 1, priority: 0, nodeName: "n1", terminating: true }),
      pod("elsewhere", { cpu: 8, nodeName: "other" }),
    ],
  );
  const owned = new Set(["n1", "n2", "n3", "down", "cordoned"]);
  const summary = summarizeCapacity(cluster, (name) => owned.has(name), header, []);

  it("lists only owned nodes that take new pods", () => {
    expect(summary.nodes.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
    expect(summary).toMatchObject(header);
  });

  it("keeps one class per distinct label and taint set, without the node's own hostname", () => {
    expect(summary.classes).toEqual([
      { labels: { pool: "a" }, taints: [] },
      { labels: { pool: "b" }, taints: [] },
    ]);
    expect(summary.nodes.map((n) => n.class)).toEqual([0, 0, 1]);
  });

  it("reports free room and what each priority level would free (terminating pods count as used, not freeable)", () => {
    const n1 = summary.nodes[0];
    expect(n1?.free.cpu).toBe(8000 - 2000 - 1000 - 3000 - 1000);
    expect(n1?.free.pods).toBe(110 - 4);
    expect(n1?.freeable).toEqual([
      { priority: 0, amounts: { cpu: 3000, memory: 2 * 2 ** 30, pods: 2 } },
      { priority: 100, amounts: { cpu: 3000, memory: 2 ** 30, pods: 1 } },
    ]);
  });

  it("turns back into a node whose allocatable is the room and whose labels are its class's plus its hostname", () => {
    const n1 = summary.nodes[0];
    const info = toNodeInfo(capacityNode("n1", summary.classes[0] as never, n1?.free ?? {}));
    expect(info.allocatable.milliCpu).toBe(1000);
    expect(info.allocatable.pods).toBe(106);
    expect(info.labels).toEqual({ pool: "a", [hostnameLabel]: "n1" });
    expect(info.ready).toBe(true);
  });

  it("counts room a preemption won (a pending pod nominated to the node) as taken, and names the groups it is promised to", () => {
    const nominated = snapshotOf(
      [node("n1", { cpu: 8 }), node("n2", { cpu: 8 })],
      [
        pod("running", { cpu: 2, nodeName: "n1" }),
        pod("preemptor-0", { cpu: 2, nominatedNodeName: "n1", group: "job", namespace: "ns" }),
        pod("preemptor-1", { cpu: 3, nominatedNodeName: "n1", group: "job", namespace: "ns" }),
        pod("plain-pending", { cpu: 4 }),
      ],
    );
    const [n1, n2] = summarizeCapacity(nominated, () => true, header, []).nodes;
    expect(n1?.free.cpu).toBe(8000 - 2000 - 5000);
    expect(n1?.free.pods).toBe(110 - 3);
    expect(n1?.nominatedFor).toEqual(["group:ns/job"]);
    expect(n2?.free.cpu).toBe(8000);
    expect(n2?.nominatedFor).toBeUndefined();
  });

  it("says which group a lent node is held for until the group runs on it", () => {
    const lent = node("lent", { cpu: 8 });
    lent.metadata.annotations = { [lentForAnnotation]: "group:ns/job" };
    const [summarized] = summarizeCapacity(snapshotOf([lent], []), () => true, header, []).nodes;
    expect(summarized?.lentFor).toBe("group:ns/job");
    const back = capacityNode(
      "lent",
      { labels: {}, taints: [] },
      summarized?.free ?? {},
      summarized?.lentFor,
    );
    expect(back.metadata.annotations).toEqual({ [lentForAnnotation]: "group:ns/job" });
    expect(summary.nodes.every((n) => n.lentFor === undefined)).toBe(true);
    const arrived = pod("member", { cpu: 6, nodeName: "lent", group: "job", namespace: "ns" });
    const [taken] = summarizeCapacity(snapshotOf([lent], [arrived]), () => true, header, []).nodes;
    expect(taken?.lentFor).toBeUndefined();
  });

  it("says when the group a node is held for has no member waiting any more", () => {
    const lent = node("lent", { cpu: 8 });
    lent.metadata.annotations = { [lentForAnnotation]: "group:ns/job" };
    const summarized = (waiting: boolean) =>
      summarizeCapacity(
        snapshotOf([lent], []),
        () => true,
        header,
        [],
        () => waiting,
      ).nodes[0];
    expect(summarized(true)?.lentForPlaced).toBeUndefined();
    expect(summarized(false)).toEqual(
      expect.objectContaining({ lentFor: "group:ns/job", lentForPlaced: true }),
    );
    // A node lent for nobody says nothing of it.
    const [plain] = summarizeCapacity(
      snapshotOf([node("n", { cpu: 8 })], []),
      () => true,
      header,
      [],
      () => false,
    ).nodes;
    expect(plain?.lentForPlaced).toBeUndefined();
  });

  it("reads a node's class again when an update brings other labels or taints", () => {
    const nodes = snapshotOf([node("a", { labels: { pool: "x" } }), node("b", { labels: { pool: "x" } })]);
    const build = () => summarizeCapacity(nodes, () => true, header, []);
    const first = build();
    // An update with the same labels and taints (a heartbeat): the same class.
    nodes.upsertNode(node("a", { labels: { pool: "x" } }));
    expect(build().classes[0]).toEqual(first.classes[0]);
    nodes.upsertNode(node("a", { labels: { pool: "y" } }));
    nodes.upsertNode({
      ...node("b", { labels: { pool: "x" } }),
      spec: { taints: [{ key: "k", effect: "NoSchedule" }] },
    });
    const after = build();
    expect(after.classes).toEqual([
      { labels: { pool: "y" }, taints: [] },
      { labels: { pool: "x" }, taints: [{ key: "k", effect: "NoSchedule" }] },
    ]);
    expect(after.nodes.map((n) => n.class)).toEqual([0, 1]);
  });

  it("survives a JSON round trip unchanged (it travels through Redis)", () => {
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });
});

describe("CapacitySummarizer", () => {
  const lent = () => {
    const n = node("lent", { cpu: 8 });
    n.metadata.annotations = { [lentForAnnotation]: "group:ns/job" };
    return n;
  };
  const start = () =>
    snapshotOf(
      [node("a", { cpu: 8, labels: { pool: "x" } }), node("b", { cpu: 8, labels: { pool: "x" } }), lent()],
      [pod("on-a", { cpu: 2, nodeName: "a" })],
    );

  it("keeps the entry of a node that did not change and builds anew the entry of one that did", () => {
    const cluster = start();
    const summarizer = new CapacitySummarizer();
    const first = summarizer.summarize(cluster, () => true, header, []);
    cluster.upsertPod(toPodInfo(pod("on-b", { cpu: 3, nodeName: "b" })));
    const second = summarizer.summarize(cluster, () => true, header, []);
    expect(second.nodes[0]).toBe(first.nodes[0]);
    expect(second.nodes[1]).not.toBe(first.nodes[1]);
    expect(second.nodes[1]?.free.cpu).toBe(8000 - 3000);
    expect(second.nodes[2]).toBe(first.nodes[2]);
  });

  it("gives after every change what a summary built from nothing gives", () => {
    const cluster = start();
    const summarizer = new CapacitySummarizer();
    let waiting = true;
    let owned = new Set(["a", "b", "lent"]);
    const check = () => {
      const args = [cluster, (n: string) => owned.has(n), header, [], () => waiting] as const;
      expect(summarizer.summarize(...args)).toEqual(summarizeCapacity(...args));
    };
    check();
    // A bind, a pod leaving, a nomination, a node's class changing, a node given away.
    cluster.upsertPod(toPodInfo(pod("on-b", { cpu: 3, nodeName: "b" })));
    check();
    cluster.removePod(toPodInfo(pod("on-a", { cpu: 2, nodeName: "a" })).key);
    check();
    expect(summarizer.summarize(cluster, () => true, header, []).nodes[0]?.free.cpu).toBe(8000);
    cluster.upsertPod(
      toPodInfo(pod("preemptor", { cpu: 1, nominatedNodeName: "b", group: "g", namespace: "ns" })),
    );
    check();
    cluster.upsertNode(node("a", { cpu: 8, labels: { pool: "y" } }));
    check();
    owned = new Set(["b", "lent"]);
    check();
    // The lent node's group no longer waits, then arrives on it.
    waiting = false;
    check();
    cluster.upsertPod(toPodInfo(pod("member", { cpu: 1, nodeName: "lent", group: "job", namespace: "ns" })));
    check();
  });

  it("keeps nothing from another cluster (a relist), whose node versions count afresh", () => {
    const summarizer = new CapacitySummarizer();
    const first = summarizer.summarize(start(), () => true, header, []);
    const other = snapshotOf(
      [node("a", { cpu: 8, labels: { pool: "x" } }), node("b", { cpu: 8, labels: { pool: "x" } }), lent()],
      [pod("on-a", { cpu: 6, nodeName: "a" })],
    );
    const second = summarizer.summarize(other, () => true, header, []);
    expect(second.nodes[0]).not.toBe(first.nodes[0]);
    expect(second.nodes[0]?.free.cpu).toBe(8000 - 6000);
  });
});
