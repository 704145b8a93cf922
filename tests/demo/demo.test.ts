import type * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { minMemberAnnotation, podGroupAnnotation } from "../../scheduler/src/contracts/keys.js";
import {
  type DemoView,
  demoProgress,
  placementOf,
  progressBar,
  rackRows,
  renderFrame,
  renderPlainLine,
  renderSummary,
  ringSettledForScenes,
  tallyDemo,
} from "./progress.js";
import { demoScenes, podManifest } from "./scenes.js";

const twelveNodes = Array.from({ length: 12 }, () => 8000);

describe("demo scenes", () => {
  const scenes = demoScenes({ nodeMilliCpu: twelveNodes, largestShardNodes: 5 });
  const byName = new Map(scenes.map((scene) => [scene.name, scene]));
  const cpuOf = (name: string) =>
    byName.get(name as never)?.pods.reduce((sum, p) => sum + p.milliCpu, 0) ?? 0;

  it("plays solo pods, gangs, a wide gang, a fill-up and an urgent gang, in that order", () => {
    expect(scenes.map((s) => s.name)).toEqual(["solo", "gangs", "wide", "fill", "urgent"]);
    expect(byName.get("solo")?.pods.every((p) => p.group === undefined)).toBe(true);
  });

  it("makes the wide gang one member wider than the largest shard, each member most of a node", () => {
    const wide = byName.get("wide")?.pods ?? [];
    expect(wide).toHaveLength(6);
    expect(wide.every((p) => p.milliCpu > 4000 && p.minMember === 6 && p.group === "wide")).toBe(true);
    // Two members never share a node: only six separate nodes can hold it.
    expect(2 * (wide[0]?.milliCpu ?? 0)).toBeGreaterThan(8000);
  });

  it("never makes the wide gang wider than the cluster", () => {
    const small = demoScenes({ nodeMilliCpu: [8000, 8000, 8000], largestShardNodes: 3 });
    expect(small.find((s) => s.name === "wide")?.pods).toHaveLength(3);
  });

  it("asks for more than the cluster has once the fill-up comes, so some of it must wait", () => {
    const total = twelveNodes.reduce((a, b) => a + b, 0);
    expect(cpuOf("solo") + cpuOf("gangs") + cpuOf("wide")).toBeLessThan(total);
    expect(cpuOf("solo") + cpuOf("gangs") + cpuOf("wide") + cpuOf("fill")).toBeGreaterThan(total);
    expect(byName.get("fill")?.until).toBe("settled");
  });

  it("gives the urgent gang a higher priority than everything it may preempt", () => {
    expect(byName.get("urgent")?.pods.every((p) => p.priorityClass === "demo-urgent")).toBe(true);
    expect(byName.get("fill")?.pods.every((p) => p.priorityClass === "demo-batch")).toBe(true);
  });

  it("turns a gang member into a pod with the group annotations and our scheduler", () => {
    const member = byName.get("gangs")?.pods[0];
    if (!member) throw new Error("no gang member");
    const pod = podManifest(member, "gangs", "ns", "sharded-scheduler");
    expect(pod.metadata?.annotations?.[podGroupAnnotation]).toBe("gang-0");
    expect(pod.metadata?.annotations?.[minMemberAnnotation]).toBe("3");
    expect(pod.spec?.schedulerName).toBe("sharded-scheduler");
    expect(pod.spec?.containers[0]?.resources?.requests?.cpu).toBe(`${member.milliCpu}m`);
  });

  it("refuses a cluster of one node", () => {
    expect(() => demoScenes({ nodeMilliCpu: [8000], largestShardNodes: 1 })).toThrow(/two fake nodes/);
  });
});

const pod = (name: string, uid: string, nodeName?: string, waiting?: string): k8s.V1Pod => ({
  metadata: { name, uid },
  spec: { containers: [], nodeName },
  status: {
    phase: "Pending",
    conditions: waiting
      ? [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: waiting }]
      : [],
  },
});

const event = (
  reason: string,
  uid: string,
  message: string,
  at: string,
  instance = "sharded-scheduler-0",
): k8s.CoreV1Event => ({
  metadata: {},
  involvedObject: { uid },
  reason,
  message,
  lastTimestamp: new Date(at),
  reportingInstance: instance,
});

describe("demo tally", () => {
  const pods = [
    pod("a", "1", "node-1"),
    pod("b", "2", "node-2"),
    pod("c", "3", undefined, "no room"),
    pod("d", "4"),
  ];
  const events = [
    event("Scheduled", "1", "assigned", "2026-01-01T00:00:01Z", "sharded-scheduler-0"),
    // Pod 2 was bound twice (after an eviction); the newer Event names its current shard.
    event("Scheduled", "2", "assigned", "2026-01-01T00:00:01Z", "sharded-scheduler-0"),
    event("Scheduled", "2", "assigned again", "2026-01-01T00:00:09Z", "sharded-scheduler-2"),
    // A lend writes one Event per member: it is one lend.
    event("NodesLent", "3", "lent node-7 to shard 1 (attempt 1 of 3)", "2026-01-01T00:00:02Z"),
    event("NodesLent", "4", "lent node-7 to shard 1 (attempt 1 of 3)", "2026-01-01T00:00:02Z"),
    event("HandedOff", "3", "handed from 0 to 2 (attempt 2 of 3)", "2026-01-01T00:00:03Z"),
    event(
      "Preempted",
      "9",
      "Preempted by ns/urgent (whole group evicted) to make room on node-1",
      "2026-01-01T00:00:05Z",
    ),
    event(
      "Preempted",
      "8",
      "Preempted by ns/urgent (whole group evicted) to make room on node-2",
      "2026-01-01T00:00:05Z",
    ),
  ];
  const tally = tallyDemo(pods, events);

  it("counts bound, pending and pods told why they wait", () => {
    expect([tally.pods, tally.bound, tally.pending, tally.waitingWithReason]).toEqual([4, 2, 2, 1]);
  });

  it("credits a bound pod to the shard of its newest Scheduled Event", () => {
    expect(Object.fromEntries(tally.boundByShard)).toEqual({
      "sharded-scheduler-0": 1,
      "sharded-scheduler-2": 1,
    });
  });

  it("dates Events written through events.k8s.io/v1 by their series' last occurrence, else their eventTime", () => {
    const written = (
      uid: string,
      instance: string,
      eventTime: string,
      lastObserved?: string,
    ): k8s.CoreV1Event => ({
      metadata: {},
      involvedObject: { uid },
      reason: "Scheduled",
      message: "assigned",
      eventTime: new Date(eventTime),
      ...(lastObserved ? { series: { count: 2, lastObservedTime: new Date(lastObserved) } } : {}),
      reportingInstance: instance,
    });
    const tallied = tallyDemo(
      [pod("e", "5", "node-1")],
      [
        written("5", "sharded-scheduler-1", "2026-01-01T00:00:05Z"),
        written("5", "sharded-scheduler-0", "2026-01-01T00:00:01Z", "2026-01-01T00:00:09Z"),
      ],
    );
    expect(Object.fromEntries(tallied.boundByShard)).toEqual({ "sharded-scheduler-0": 1 });
  });

  it("counts each handoff, lend and preemption once, whatever the number of members", () => {
    expect([tally.handoffs, tally.lends, tally.preemptors, tally.evictedPods]).toEqual([1, 1, 1, 2]);
    expect(tally.recent[0]).toMatch(/^Preempted: /);
    expect(tally.recent).toHaveLength(3);
  });

  const view: DemoView = {
    scene: { number: 2, of: 5, title: "gangs" },
    elapsedSeconds: 75,
    submitted: 4,
    planned: 8,
    tally,
    shards: [
      { shard: "sharded-scheduler-0", ownedNodes: 4, pendingGroups: 0 },
      { shard: "sharded-scheduler-2", ownedNodes: 5, pendingGroups: 1 },
    ],
    leader: "sharded-scheduler-coordinator-0",
  };

  it("measures progress as the settled share of every pod the demo plans", () => {
    // 2 bound + 1 told why + 2 evicted of 8 planned.
    expect(demoProgress(view)).toBeCloseTo(5 / 8);
    expect(demoProgress({ ...view, planned: 0 })).toBe(0);
    expect(progressBar(0.5, 10)).toBe("█████░░░░░");
    expect(progressBar(7, 4)).toBe("████");
  });

  it("draws a frame with one row per shard, and a plain line without redrawing", () => {
    const frame = renderFrame(view, 200);
    expect(frame[0]).toContain("01:15");
    expect(frame.find((l) => l.startsWith("sharded-scheduler-2"))).toMatch(/5\s+1\s+1$/);
    expect(frame.some((l) => l.includes("handoffs 1 · lends 1 · preemptions 1 (2 pods evicted)"))).toBe(true);
    expect(renderFrame(view, 20).every((l) => l.length <= 20)).toBe(true);
    expect(renderPlainLine(view)).toMatch(/^\[demo 01:15\] scene 2\/5 · 63% · 2\/4 bound/);
  });

  it("sums up the scenes and says which groups still wait and why", () => {
    const gangScene = demoScenes({ nodeMilliCpu: twelveNodes, largestShardNodes: 5 })[1];
    if (!gangScene) throw new Error("no scene");
    const summary = renderSummary({
      scenes: [{ scene: gangScene, seconds: 3.2, completed: false, bound: 2 }],
      tally,
      shards: { shards: view.shards, leader: view.leader },
      waiting: [
        { pod: "batch-1-0", group: "batch-1", message: "0/12 nodes are available" },
        { pod: "batch-1-1", group: "batch-1", message: "0/12 nodes are available" },
      ],
      seconds: 80,
    }).join("\n");
    expect(summary).toContain("0 of 1 scenes as expected");
    expect(summary).toContain("NOT as expected: 2 of 16 pods bound");
    expect(summary).toContain("batch-1 (2 pods): 0/12 nodes are available");
  });
});

describe("the rack scene", () => {
  const racked = demoScenes({
    nodeMilliCpu: twelveNodes,
    largestShardNodes: 4,
    rackNodes: new Map([
      ["rack-0", 4],
      ["rack-1", 4],
      ["rack-2", 4],
    ]),
  });

  it("plays second on nodes in racks, a gang as large as the smallest rack that requires one rack", () => {
    expect(racked.map((s) => s.name)).toEqual(["solo", "rack", "gangs", "wide", "fill", "urgent"]);
    const scene = racked[1];
    expect(scene?.shows).toBe("one-rack");
    expect(scene?.pods).toHaveLength(4);
    expect(
      scene?.pods.every((p) => p.group === "rack-gang" && p.minMember === 4 && p.milliCpu === 4000),
    ).toBe(true);
    const pod = podManifest(scene?.pods[0] as never, "rack", "ns", "sharded-scheduler");
    expect(pod.metadata?.annotations?.["sharded-scheduler.io/topology-required"]).toBe(
      "topology.kubernetes.io/rack",
    );
  });

  it("is left out on nodes without racks", () => {
    expect(
      demoScenes({ nodeMilliCpu: twelveNodes, largestShardNodes: 5, rackNodes: new Map() }).map(
        (s) => s.name,
      ),
    ).not.toContain("rack");
  });

  const racks = new Map([
    ["n0", "rack-0"],
    ["n1", "rack-0"],
    ["n2", "rack-1"],
  ]);
  const scheduled = (uid: string, shard: string, at = "2026-01-01T00:00:01Z") =>
    event("Scheduled", uid, "assigned", at, shard);

  it("finds the racks and shards a scene's bound pods ended in", () => {
    const together = [pod("a", "1", "n0"), pod("b", "2", "n1"), pod("c", "3")];
    expect(placementOf(together, [scheduled("1", "s-0"), scheduled("2", "s-0")], racks)).toEqual({
      racks: ["rack-0"],
      shards: ["s-0"],
    });
    const apart = [pod("a", "1", "n0"), pod("b", "2", "n2"), pod("c", "3", "elsewhere")];
    expect(
      placementOf(
        apart,
        [scheduled("1", "s-0"), scheduled("2", "s-0"), scheduled("2", "s-1", "2026-01-01T00:00:09Z")],
        racks,
      ),
    ).toEqual({ racks: ["(none)", "rack-0", "rack-1"], shards: ["(unknown)", "s-0", "s-1"] });
  });

  it("shows each rack's nodes and owners on the status view", () => {
    const rows = rackRows(
      [
        { name: "n0", rack: "rack-1" },
        { name: "n1", rack: "rack-1" },
        { name: "n2", rack: "rack-0" },
        { name: "n3", rack: "rack-0" },
        { name: "n4", rack: undefined },
      ],
      (node) => (node === "n3" ? "s-1" : "s-0"),
    );
    expect(rows).toEqual([
      {
        rack: "rack-0",
        nodes: 2,
        owners: [
          { shard: "s-0", nodes: 1 },
          { shard: "s-1", nodes: 1 },
        ],
      },
      { rack: "rack-1", nodes: 2, owners: [{ shard: "s-0", nodes: 2 }] },
    ]);
    const frame = renderFrame(
      {
        scene: { number: 2, of: 6, title: "rack" },
        elapsedSeconds: 3,
        submitted: 0,
        planned: 4,
        tally: tallyDemo([], []),
        shards: [],
        leader: undefined,
        racks: rows,
      },
      200,
    );
    expect(frame.find((l) => l.startsWith("rack-0"))).toMatch(/2 {2}s-0 1 · s-1 1$/);
    expect(frame.find((l) => l.startsWith("rack-1"))).toMatch(/2 {2}s-0$/);
  });
});

// The scenes are sized from the largest shard: a CI run sized them while the shards still
// reported a first, node-by-node ring (7, 2 and 3 nodes) and the wide gang could not fit.
describe("ringSettledForScenes", () => {
  const rack = (name: string, shard: string, nodes = 4) => ({
    rack: name,
    nodes,
    owners: [{ shard, nodes }],
  });
  const shards = (...owned: number[]) =>
    owned.map((ownedNodes, i) => ({ shard: `s${i}`, ownedNodes, pendingGroups: 0 }));
  const [r0, r1] = [rack("r0", "s0"), rack("r1", "s1")];
  const whole = [r0, r1, rack("r2", "s2")];

  it("waits while the shards' own counts are not the whole racks the ring lists", () => {
    expect(ringSettledForScenes({ shards: shards(7, 2, 3), racks: whole, leader: undefined }, 3, true)).toBe(
      false,
    );
    expect(ringSettledForScenes({ shards: shards(4, 4, 4), racks: whole, leader: undefined }, 3, true)).toBe(
      true,
    );
  });

  it("waits while the racks cannot be read or a rack has two owners", () => {
    expect(ringSettledForScenes({ shards: shards(4, 4, 4), leader: undefined }, 3, true)).toBe(false);
    const split = {
      rack: "r2",
      nodes: 4,
      owners: [
        { shard: "s2", nodes: 3 },
        { shard: "s0", nodes: 1 },
      ],
    };
    expect(
      ringSettledForScenes({ shards: shards(5, 4, 3), racks: [r0, r1, split], leader: undefined }, 3, true),
    ).toBe(false);
  });

  it("without racks, needs every shard live and owning nodes", () => {
    expect(ringSettledForScenes({ shards: shards(7, 2, 3), leader: undefined }, 3, false)).toBe(true);
    expect(ringSettledForScenes({ shards: shards(7, 5), leader: undefined }, 3, false)).toBe(false);
    expect(ringSettledForScenes({ shards: shards(12, 0, 0), leader: undefined }, 3, false)).toBe(false);
  });
});
