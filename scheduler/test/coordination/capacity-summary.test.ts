import { describe, expect, it } from "vitest";
import { capacityNode, hostnameLabel } from "../../src/contracts/capacity-summary.js";
import { lentForAnnotation } from "../../src/contracts/keys.js";
import { summarizeCapacity } from "../../src/coordination/capacity-summary.js";
import { toNodeInfo } from "../../src/core/index.js";
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
