/**
 * Queueing hints: a rejected group wakes only for the cluster events the plugins that rejected it
 * registered (kube-scheduler's EventsToRegister), node updates say which fields changed, and a
 * node update keeps the NodeInfo (and the cycle's cached node list) valid without bumping
 * nodeSetVersion.
 */
import { afterEach, describe, expect, it } from "vitest";
import { lentForAnnotation } from "../../src/contracts/keys.js";
import type { Node, Pod } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import { eventNames, eventsOf } from "../../src/core/framework.js";
import { buildProfile, wakingEvents } from "../../src/core/profile.js";
import { type CacheChange, ClusterCache } from "../../src/shard/cluster-cache.js";
import { SchedulingQueue } from "../../src/shard/scheduling-queue.js";
import type { Shard } from "../../src/shard/shard.js";
import type { Ownership } from "../../src/sharding/ownership.js";
import {
  decisionFor,
  node,
  onlyPendingGroup,
  ownsAll,
  type PodOptions,
  pdb,
  pendingGroupsOf,
  pod,
  snapshotOf,
} from "../core/fixtures.js";
import { ownsEverything, readyShard, succeedingWriters } from "./fixtures.js";

const options = { initialBackoffMs: 1_000, maxBackoffMs: 8_000, unschedulableFlushMs: 60_000 };

describe("queueing hints", () => {
  const profile = buildProfile(snapshotOf([]));

  it("a group NodeResourcesFit rejected waits for room: a pod leaving, a node growing or added", () => {
    expect(eventNames(wakingEvents(profile, ["NodeResourcesFit"]))).toEqual([
      "NodeAdd",
      "NodeUpdateAllocatable",
      "AssignedPodUpdateScaleDown",
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

  it("an event while a group is in flight tries it again only if its attempt then waits for that event", () => {
    const queue = new SchedulingQueue(options);
    for (const id of ["tainted", "full"]) queue.add(id, 0);
    queue.pop(0);
    // A pod leaves while both are being tried: it can help the one rejected for room only.
    queue.wakeUnschedulable(10, eventsOf(["AssignedPodDelete"]));
    queue.done("tainted", "unschedulable", 20, 20, wakingEvents(profile, ["TaintToleration"]));
    queue.done("full", "unschedulable", 20, 20, wakingEvents(profile, ["NodeResourcesFit"]));
    expect(queue.state("tainted")).toBe("unschedulable");
    expect(queue.state("full")).toBe("backoff");
    // What happened during one attempt is not held against the next.
    expect(queue.pop(1_020)).toEqual(["full"]);
    queue.done("full", "unschedulable", 1_030, 1_030, wakingEvents(profile, ["NodeResourcesFit"]));
    expect(queue.state("full")).toBe("unschedulable");
  });

  it("the flush retries a group after 60 s whatever it waits for: the safety net for a missed event", () => {
    const queue = new SchedulingQueue(options);
    queue.add("g", 0);
    queue.pop(0);
    queue.done("g", "unschedulable", 0, 0, wakingEvents(profile, ["TaintToleration"]));
    queue.wakeUnschedulable(30_000, eventsOf(["AssignedPodDelete", "NodeUpdateLabel"]));
    expect(queue.state("g")).toBe("unschedulable");
    expect(queue.pop(59_999)).toEqual([]);
    expect(queue.pop(60_000)).toEqual(["g"]);
  });

  it("the cycle's decisions carry the events: rejections plus preemption's when it was tried", () => {
    const cluster = snapshotOf([node("n1", { cpu: 1 })], [pod("running", { cpu: 1, nodeName: "n1" })]);
    const decisions = new SchedulingCore(cluster).cycle(pendingGroupsOf([pod("p", { cpu: 1 })]), ownsAll);
    const decision = decisionFor(decisions, "p");
    expect(decision.kind === "unschedulable" && eventNames(decision.wakeOn)).toEqual([
      "NodeAdd",
      "NodeUpdateAllocatable",
      "AssignedPodUpdateScaleDown",
      "AssignedPodUpdateTerminating",
      "AssignedPodDelete",
      "PodDisruptionBudgetChange",
    ]);
  });

  it("a group only taints rejected does not wait for preemption's events: no eviction cures a taint", () => {
    const taint = { key: "k", effect: "NoSchedule" as const };
    const cluster = snapshotOf([node("n1", { taints: [taint] })], [pod("running", { nodeName: "n1" })]);
    const decisions = new SchedulingCore(cluster).cycle(pendingGroupsOf([pod("p")]), ownsAll);
    const decision = decisionFor(decisions, "p");
    expect(decision.kind === "unschedulable" && eventNames(decision.wakeOn)).toEqual([
      "NodeAdd",
      "NodeUpdateTaint",
    ]);
  });
});

const changes = () => {
  const seen: CacheChange[] = [];
  return { seen, cache: new ClusterCache("sharded-scheduler", (change) => seen.push(change)) };
};
/** The cluster events each capacity change named, in order; the list is emptied. */
const capacityEvents = (seen: CacheChange[]) =>
  seen.splice(0).flatMap((c) => (c.kind === "capacity" ? [eventNames(c.events)] : []));

describe("node updates", () => {
  it("a node removed is NodeDelete, which only wakes groups topology spread rejected", () => {
    const { seen, cache } = changes();
    cache.upsertNode(node("n1"));
    seen.splice(0);
    cache.removeNode(node("n1"));
    expect(capacityEvents(seen)).toEqual([["NodeDelete"]]);
    // A node the cache never held: nothing went away.
    cache.removeNode(node("n1"));
    expect(capacityEvents(seen)).toEqual([]);
    const profile = buildProfile(snapshotOf([]));
    expect(eventNames(wakingEvents(profile, ["PodTopologySpread"]))).toContain("NodeDelete");
    expect(eventNames(wakingEvents(profile, ["NodeResourcesFit"]))).not.toContain("NodeDelete");
    expect(eventNames(wakingEvents(profile, ["InterPodAffinity"]))).not.toContain("NodeDelete");
  });

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

describe("node updates name only the field that changed", () => {
  const annotated = (n: Node, annotations: Record<string, string>): Node => ({
    ...n,
    metadata: { ...n.metadata, annotations },
  });

  it("labels, annotations (LentNode's lent-for), cordon and uncordon", () => {
    const { seen, cache } = changes();
    cache.upsertNode(node("n1"));
    capacityEvents(seen);
    cache.upsertNode(node("n1", { labels: { zone: "a" } }));
    expect(capacityEvents(seen)).toEqual([["NodeUpdateLabel"]]);
    cache.upsertNode(annotated(node("n1", { labels: { zone: "a" } }), { [lentForAnnotation]: "g" }));
    expect(capacityEvents(seen)).toEqual([["NodeUpdateAnnotation"]]);
    cache.upsertNode(node("n1", { labels: { zone: "a" } }));
    expect(capacityEvents(seen)).toEqual([["NodeUpdateAnnotation"]]);
    // Cordoned: that helps no one. Uncordoned: that may.
    cache.upsertNode(node("n1", { labels: { zone: "a" }, unschedulable: true }));
    expect(capacityEvents(seen)).toEqual([]);
    cache.upsertNode(node("n1", { labels: { zone: "a" }, unschedulable: false }));
    expect(capacityEvents(seen)).toEqual([["NodeUpdateUnschedulable"]]);
  });
});

describe("pod changes", () => {
  const ours = (name: string, options: PodOptions = {}): Pod => {
    const p = pod(name, options);
    return { ...p, spec: { ...p.spec, schedulerName: "sharded-scheduler" } };
  };
  const withStatus = (p: Pod, status: Pod["status"]): Pod => ({ ...p, status: { ...p.status, ...status } });
  const cacheWithNode = () => {
    const { seen, cache } = changes();
    cache.upsertNode(node("n1"));
    capacityEvents(seen);
    return { seen, cache };
  };

  it("a pod bound arrives; a status-only update of it names nothing; its deletion gives room back", () => {
    const { seen, cache } = cacheWithNode();
    cache.upsertPod(pod("web", { nodeName: "n1" }));
    expect(capacityEvents(seen)).toEqual([["AssignedPodAdd"]]);
    const heartbeat = withStatus(pod("web", { nodeName: "n1" }), {
      conditions: [{ type: "Ready", status: "True" }],
    });
    heartbeat.metadata.resourceVersion = "2";
    cache.upsertPod(heartbeat);
    expect(capacityEvents(seen)).toEqual([]);
    cache.removePod(pod("web", { nodeName: "n1" }));
    expect(capacityEvents(seen)).toEqual([["AssignedPodDelete"]]);
    // Already gone, or never placed: no room comes back.
    cache.removePod(pod("web", { nodeName: "n1" }));
    cache.removePod(pod("never-seen"));
    expect(capacityEvents(seen)).toEqual([]);
  });

  it("a running pod's label change, scale-down and deletion start each name their own event", () => {
    const { seen, cache } = cacheWithNode();
    cache.upsertPod(pod("web", { nodeName: "n1", cpu: 2 }));
    capacityEvents(seen);
    cache.upsertPod(pod("web", { nodeName: "n1", cpu: 2, labels: { tier: "front" } }));
    expect(capacityEvents(seen)).toEqual([["AssignedPodUpdateLabel"]]);
    // An in-place resize: less cpu frees room, more takes it.
    cache.upsertPod(pod("web", { nodeName: "n1", cpu: 1, labels: { tier: "front" } }));
    expect(capacityEvents(seen)).toEqual([["AssignedPodUpdateScaleDown"]]);
    cache.upsertPod(pod("web", { nodeName: "n1", cpu: 3, labels: { tier: "front" } }));
    expect(capacityEvents(seen)).toEqual([]);
    cache.upsertPod(pod("web", { nodeName: "n1", cpu: 3, labels: { tier: "front" }, terminating: true }));
    expect(capacityEvents(seen)).toEqual([["AssignedPodUpdateTerminating"]]);
  });

  it("a pod that finishes gives its room back, as a deletion does", () => {
    const { seen, cache } = cacheWithNode();
    cache.upsertPod(pod("job", { nodeName: "n1" }));
    capacityEvents(seen);
    cache.upsertPod(withStatus(pod("job", { nodeName: "n1" }), { phase: "Succeeded" }));
    expect(capacityEvents(seen)).toEqual([["AssignedPodDelete"]]);
    expect(cache.cluster.node("n1")?.requested.milliCpu).toBe(0);
  });

  it("our assumption names nothing; its confirmation is the pod's arrival; a failed bind gives room back", () => {
    const { seen, cache } = cacheWithNode();
    const pending = ours("p");
    cache.upsertPod(pending);
    for (const bound of [true, false]) {
      const info = toPodInfo(pending);
      cache.cluster.assume(info, "n1");
      cache.markAssumed(info, "n1");
      expect(capacityEvents(seen)).toEqual([]);
      if (bound) {
        cache.upsertPod(ours("p", { nodeName: "n1" }));
        expect(capacityEvents(seen)).toEqual([["AssignedPodAdd"]]);
        cache.removePod(ours("p", { nodeName: "n1" }));
        cache.upsertPod(pending);
        capacityEvents(seen);
      } else {
        cache.forget(info.key);
        expect(capacityEvents(seen)).toEqual([["AssignedPodDelete"]]);
        expect(cache.cluster.node("n1")?.requested.milliCpu).toBe(0);
      }
    }
  });

  it("a nomination dropped or moved frees the room it reserved; one kept names nothing", () => {
    const { seen, cache } = cacheWithNode();
    cache.upsertNode(node("n2"));
    const nominated = (on?: string) => ours("p", { priority: 10, ...(on ? { nominatedNodeName: on } : {}) });
    cache.upsertPod(nominated("n1"));
    capacityEvents(seen);
    cache.upsertPod({ ...nominated("n1"), metadata: { ...nominated("n1").metadata, resourceVersion: "2" } });
    expect(capacityEvents(seen)).toEqual([]);
    cache.upsertPod(nominated("n2"));
    expect(capacityEvents(seen)).toEqual([["AssignedPodDelete"]]);
    // Withdrawn by a cycle first (the cluster no longer holds it), then by the watch: still news.
    cache.cluster.upsertPod(toPodInfo(nominated()));
    cache.upsertPod(nominated());
    expect(capacityEvents(seen)).toEqual([["AssignedPodDelete"]]);
    // Another scheduler's pending pod reserves room too.
    const foreign = (on?: string) => pod("q", on ? { nominatedNodeName: on } : {});
    cache.upsertPod(foreign("n1"));
    capacityEvents(seen);
    cache.removePod(foreign("n1"));
    expect(capacityEvents(seen)).toEqual([["AssignedPodDelete"]]);
  });
});

describe("budget changes", () => {
  it("name PodDisruptionBudgetChange only when a budget may allow more evictions", () => {
    const { seen, cache } = changes();
    cache.upsertPodDisruptionBudget(pdb("web", { app: "web" }, 0));
    cache.upsertPodDisruptionBudget(pdb("web", { app: "web" }, 0));
    expect(capacityEvents(seen)).toEqual([]);
    cache.upsertPodDisruptionBudget(pdb("web", { app: "web" }, 1));
    expect(capacityEvents(seen)).toEqual([["PodDisruptionBudgetChange"]]);
    cache.upsertPodDisruptionBudget(pdb("web", { app: "web" }, 0));
    expect(capacityEvents(seen)).toEqual([]);
    cache.upsertPodDisruptionBudget(pdb("web", { app: "api" }, 0));
    expect(capacityEvents(seen)).toEqual([["PodDisruptionBudgetChange"]]);
    cache.removePodDisruptionBudget(pdb("web", { app: "api" }, 0));
    expect(capacityEvents(seen)).toEqual([["PodDisruptionBudgetChange"]]);
  });
});

describe("through the shard", () => {
  const shards: Shard[] = [];
  afterEach(() => {
    for (const shard of shards.splice(0)) shard.stop();
  });

  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  /** A ready shard whose writers succeed; p (1 cpu, ours) is pending and found unschedulable. */
  async function rejected(
    nodes: readonly Node[],
    running: readonly Pod[],
    pending: PodOptions = {},
    ownership: Ownership = ownsEverything,
  ) {
    const bound: string[] = [];
    const shard = readyShard(succeedingWriters(bound), { config: { settleWindowMs: 0 }, ownership });
    shards.push(shard);
    for (const n of nodes) shard.cache.upsertNode(n);
    for (const p of running) shard.cache.upsertPod(p);
    const p = pod("p", pending);
    shard.cache.upsertPod({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
    await settle();
    const id = [...shard.cache.groupIds()].find((g) => shard.cache.group(g)?.pending.size === 1) as string;
    expect(shard.queue.state(id)).toBe("unschedulable");
    return { shard, bound, state: () => shard.queue.state(id) };
  }

  const taint = { key: "dedicated", effect: "NoSchedule" as const };

  it("a group no plugin rejected (other shards own the nodes) wakes on any event, and at once when ownership moves", async () => {
    let owned = false;
    const ownership: Ownership = {
      ...ownsEverything,
      ownsNode: () => owned,
      // Its answers changed: the core's cached list of owned nodes must not be reused.
      get version() {
        return owned ? 2 : 1;
      },
    };
    const { shard, state, bound } = await rejected([node("n1")], [], {}, ownership);
    shard.cache.upsertNode(node("n1", { labels: { zone: "a" } }));
    expect(state()).toBe("backoff");
    // Its backoff has not run out, but a node gained is worth trying now.
    owned = true;
    shard.ownershipChanged();
    await settle();
    expect(bound).toEqual(["p"]);
  });

  it("a group rejected by a taint is not woken by a pod deleted, but is by the taint removed", async () => {
    const running = pod("other", { nodeName: "n1" });
    const { shard, state } = await rejected([node("n1", { taints: [taint] })], [running]);
    shard.cache.removePod(running);
    expect(state()).toBe("unschedulable");
    shard.cache.upsertNode(node("n1"));
    expect(state()).not.toBe("unschedulable");
  });

  it("a group rejected for resources is woken by a pod finishing, not by its label change", async () => {
    const running = pod("other", { nodeName: "n1", cpu: 4 });
    const { shard, state } = await rejected([node("n1", { cpu: 4 })], [running]);
    shard.cache.upsertPod(pod("other", { nodeName: "n1", cpu: 4, labels: { tier: "batch" } }));
    shard.cache.upsertNode(node("n1", { cpu: 4, taints: [taint] }));
    expect(state()).toBe("unschedulable");
    shard.cache.upsertPod({ ...running, status: { ...running.status, phase: "Succeeded" } });
    expect(state()).not.toBe("unschedulable");
  });

  it("a group rejected for resources is woken by a running pod scaled down in place", async () => {
    const { shard, state } = await rejected(
      [node("n1", { cpu: 4 })],
      [pod("other", { nodeName: "n1", cpu: 4 })],
    );
    shard.cache.upsertPod(pod("other", { nodeName: "n1", cpu: 2 }));
    expect(state()).not.toBe("unschedulable");
  });

  it("a group held off a lent node is woken when the group it is lent for arrives on it", async () => {
    const lent = node("n1");
    lent.metadata.annotations = { [lentForAnnotation]: "group:default/big" };
    const { shard, state } = await rejected([lent], []);
    shard.cache.upsertPod(pod("big-0", { group: "big", nodeName: "n1" }));
    expect(state()).not.toBe("unschedulable");
  });
});
