/**
 * Queueing hints: a rejected group wakes only for the cluster events the plugins that rejected it
 * registered (kube-scheduler's EventsToRegister), node updates say which fields changed, and a
 * node update keeps the NodeInfo (and the cycle's cached node list) valid without bumping
 * nodeSetVersion.
 */
import { describe, expect, it } from "vitest";
import { SchedulingCore } from "../../src/core/cycle.js";
import { eventNames, eventsOf } from "../../src/core/framework.js";
import { buildProfile, wakingEvents } from "../../src/core/profile.js";
import { type CacheChange, ClusterCache } from "../../src/shard/cluster-cache.js";
import { SchedulingQueue } from "../../src/shard/scheduling-queue.js";
import {
  decisionFor,
  node,
  onlyPendingGroup,
  ownsAll,
  pendingGroupsOf,
  pod,
  snapshotOf,
} from "../core/fixtures.js";

const options = { initialBackoffMs: 1_000, maxBackoffMs: 8_000, unschedulableFlushMs: 60_000 };

describe("queueing hints", () => {
  const profile = buildProfile(snapshotOf([]));

  it("a group NodeResourcesFit rejected waits for room: a pod leaving, a node growing or added", () => {
    expect(eventNames(wakingEvents(profile, ["NodeResourcesFit"]))).toEqual([
      "NodeAdd",
      "NodeUpdateAllocatable",
      "AssignedPodUpdate",
      "AssignedPodDelete",
    ]);
    expect(eventNames(wakingEvents(profile, ["TaintToleration"]))).toEqual(["NodeAdd", "NodeUpdateTaint"]);
    // Nothing named (too few members, an invalid group) or a plugin this profile lacks: any event.
    expect(wakingEvents(profile, [])).toBe(wakingEvents(profile, ["SomeoneElses"]));
    expect(eventNames(wakingEvents(profile, [])).length).toBeGreaterThan(10);
  });

  it("the queue wakes an unschedulable group only for its events", () => {
    const queue = new SchedulingQueue(options);
    queue.add("g", 0);
    queue.pop(0);
    queue.done("g", "unschedulable", 0, 0, wakingEvents(profile, ["NodeResourcesFit"]));
    queue.wakeUnschedulable(5_000, eventsOf(["NodeUpdateTaint"]));
    expect(queue.state("g")).toBe("unschedulable");
    queue.wakeUnschedulable(5_000, eventsOf(["AssignedPodDelete"]));
    expect(queue.state("g")).toBe("active");
  });

  it("the cycle's decisions carry the events: rejections plus preemption's when it was tried", () => {
    const taint = { key: "k", effect: "NoSchedule" as const };
    const { decisions } = (() => {
      const cluster = snapshotOf([node("n1", { taints: [taint] })]);
      return { decisions: new SchedulingCore(cluster).cycle(pendingGroupsOf([pod("p")]), ownsAll) };
    })();
    const decision = decisionFor(decisions, "p");
    expect(decision.kind === "unschedulable" && eventNames(decision.wakeOn)).toEqual([
      "NodeAdd",
      "NodeUpdateTaint",
      "AssignedPodDelete",
      "PodDisruptionBudgetChange",
    ]);
  });
});

describe("node updates", () => {
  const changes = () => {
    const seen: CacheChange[] = [];
    return { seen, cache: new ClusterCache("sharded-scheduler", (change) => seen.push(change)) };
  };
  const capacityEvents = (seen: readonly CacheChange[]) =>
    seen.flatMap((c) => (c.kind === "capacity" ? [eventNames(c.events)] : []));

  it("say which fields changed, and nothing for a heartbeat", () => {
    const { seen, cache } = changes();
    cache.upsertNode(node("n1"));
    const heartbeat = node("n1");
    heartbeat.metadata.resourceVersion = "2";
    cache.upsertNode(heartbeat);
    cache.upsertNode(node("n1", { taints: [{ key: "k", effect: "NoSchedule" }] }));
    cache.upsertNode(node("n1", { taints: [{ key: "k", effect: "NoSchedule" }], cpu: 2 }));
    cache.upsertNode(node("n1", { taints: [{ key: "k", effect: "NoSchedule" }], cpu: 8, ready: false }));
    expect(capacityEvents(seen)).toEqual([
      ["NodeAdd"],
      // The heartbeat said nothing; less cpu (4 to 2) helps no one: neither is an event.
      ["NodeUpdateTaint"],
      ["NodeUpdateAllocatable", "NodeUpdateCondition"],
    ]);
  });

  it("keep the node's NodeInfo and nodeSetVersion, so the cycle's cached node list stays true", () => {
    const cluster = snapshotOf([node("a", { cpu: 4 }), node("b", { cpu: 4 })]);
    const core = new SchedulingCore(cluster);
    const info = cluster.node("a");
    const version = cluster.nodeSetVersion;
    const first = core.cycle([onlyPendingGroup([pod("p", { cpu: 3 })])], ownsAll, 1)[0];
    expect(first?.kind === "bind" && first.placements[0]?.nodeName).toBe("a");
    cluster.upsertNode(node("a", { cpu: 4, taints: [{ key: "k", effect: "NoSchedule" }] }));
    expect(cluster.node("a")).toBe(info);
    expect(cluster.nodeSetVersion).toBe(version);
    // The cached list holds the same object, which now has the taint.
    const second = core.cycle([onlyPendingGroup([pod("q", { cpu: 1 })])], ownsAll, 1)[0];
    expect(second?.kind === "bind" && second.placements[0]?.nodeName).toBe("b");
    // The pods the node held are still counted.
    expect(cluster.node("a")?.requested.milliCpu).toBe(3000);
    cluster.removeNode("b");
    expect(cluster.nodeSetVersion).toBe(version + 1);
  });
});
