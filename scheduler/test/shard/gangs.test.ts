import { afterEach, describe, expect, it } from "vitest";
import { lentForAnnotation } from "../../src/contracts/keys.js";
import type { Pod } from "../../src/core/index.js";
import type { Shard } from "../../src/shard/shard.js";
import { node, type PodOptions, pod } from "../core/fixtures.js";
import { readyShard, recordingWriters } from "./fixtures.js";

const gangTimeoutMs = 50;
const shards: Shard[] = [];

afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});

/** A ready shard whose writers record binds, deletions and Events; the gang timeout is short. */
function recordingShard() {
  const { writers, ...record } = recordingWriters();
  const shard = readyShard(writers, { config: { gangTimeoutMs, settleWindowMs: 0 } });
  shards.push(shard);
  return { shard, ...record };
}

/** A pod of the shard's scheduler, owned by a ReplicaSet (so a rollback would delete it). */
function member(shard: Shard, name: string, options: PodOptions): Pod {
  const p = pod(name, options);
  return {
    ...p,
    metadata: {
      ...p.metadata,
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-1", uid: "rs", controller: true },
      ],
    },
    spec: { ...p.spec, schedulerName: shard.config.schedulerName },
  };
}

/** Lets the shard run the cycles the changes queued. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Waits past the gang timeout, then has the shard try every group again. */
async function afterGangTimeout(shard: Shard): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, gangTimeoutMs * 2));
  shard.ownershipChanged();
  await settle();
  await new Promise((resolve) => setTimeout(resolve, gangTimeoutMs * 2));
  shard.ownershipChanged();
  await settle();
}

describe("gang rollback", () => {
  it("never rolls back a running group without min-member that grows past the room", async () => {
    const { shard, bound, deleted, events } = recordingShard();
    // n1 holds the 3 running replicas; n2 has room for 2 more.
    shard.cache.upsertNode(node("n1", { cpu: 3 }));
    shard.cache.upsertNode(node("n2", { cpu: 2 }));
    for (let i = 0; i < 3; i++)
      shard.cache.upsertPod(member(shard, `web-run-${i}`, { group: "web", nodeName: "n1" }));
    // Scaled up: 20 more replicas, more than fit.
    for (let i = 0; i < 20; i++) shard.cache.upsertPod(member(shard, `web-${i}`, { group: "web" }));
    await settle();

    await afterGangTimeout(shard);
    expect(deleted).toEqual([]);
    expect(
      events.filter((event) => event.startsWith("GangRollback") || event.startsWith("PartialGang")),
    ).toEqual([]);
    // As many new replicas as fit are bound; the rest wait for room.
    expect(bound).toHaveLength(2);
    expect(shard.cache.group("group:default/web")?.started).toBe(true);
  });

  it("never rolls back a min-member gang that started and then lost members", async () => {
    const { shard, deleted } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 4 }));
    const running = [0, 1, 2, 3].map((i) =>
      member(shard, `job-${i}`, { group: "job", minMember: 4, nodeName: "n1" }),
    );
    for (const p of running) shard.cache.upsertPod(p);
    // Two members fail and are replaced; a bigger pod took their room meanwhile.
    for (const p of running.slice(2)) shard.cache.removePod(p);
    shard.cache.upsertPod(pod("other", { cpu: 2, nodeName: "n1" }));
    for (const i of [4, 5]) shard.cache.upsertPod(member(shard, `job-${i}`, { group: "job", minMember: 4 }));
    await settle();

    await afterGangTimeout(shard);
    expect(deleted).toEqual([]);
    expect(shard.cache.group("group:default/job")?.started).toBe(true);
  });

  it("rolls back a gang with a declared min-member that never started, after the gang timeout", async () => {
    const { shard, deleted, events } = recordingShard();
    shard.cache.upsertNode(node("n1", { cpu: 2 }));
    // Two of min-member 4 bound (the rest failed to bind); no room is left for the other two.
    for (const i of [0, 1])
      shard.cache.upsertPod(member(shard, `job-${i}`, { group: "job", minMember: 4, nodeName: "n1" }));
    for (const i of [2, 3]) shard.cache.upsertPod(member(shard, `job-${i}`, { group: "job", minMember: 4 }));
    await settle();
    expect(deleted).toEqual([]);

    await afterGangTimeout(shard);
    expect(deleted.sort()).toEqual(["job-0", "job-1"]);
    expect(events.filter((event) => event.startsWith("GangRollback")).sort()).toEqual([
      "GangRollback job-0",
      "GangRollback job-1",
    ]);
    expect(shard.cache.group("group:default/job")?.started).toBe(false);
  });
});

describe("group priority", () => {
  /** Three nodes full of priority-500 pods, and a pending gang g with the given priorities. */
  async function gangAmongMids(priorities: readonly number[]) {
    const recorded = recordingShard();
    const { shard } = recorded;
    for (const i of [1, 2, 3]) {
      shard.cache.upsertNode(node(`n${i}`, { cpu: 1 }));
      shard.cache.upsertPod(pod(`mid-${i}`, { priority: 500, nodeName: `n${i}` }));
    }
    priorities.forEach((priority, i) => {
      shard.cache.upsertPod(member(shard, `g-${i}`, { group: "g", minMember: priorities.length, priority }));
    });
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 10));
    return recorded;
  }

  it("marks a gang of 100s with one 1000 invalid on every pending member, and evicts nothing", async () => {
    const { evicted, events, conditions } = await gangAmongMids([100, 100, 100, 1000]);
    expect(evicted).toEqual([]);
    expect(events.filter((event) => event.startsWith("InvalidPodGroup")).sort()).toEqual([
      "InvalidPodGroup g-0",
      "InvalidPodGroup g-1",
      "InvalidPodGroup g-2",
      "InvalidPodGroup g-3",
    ]);
    expect(conditions).toContain(
      "g-3: members of pod group default/g disagree on priority (100, 1000); a gang must have one priority",
    );
  });

  it("lets a gang whose members all have 1000 evict the 500s it needs", async () => {
    const { evicted, events } = await gangAmongMids([1000, 1000, 1000]);
    expect(evicted.sort()).toEqual(["mid-1", "mid-2", "mid-3"]);
    expect(events.filter((event) => event.startsWith("InvalidPodGroup"))).toEqual([]);
  });

  // A node lent for group x, which runs there; a higher-priority gang g preempts z there. Then x
  // leaves too (its job done): the lend holds the node for x again, but the room is g's.
  it("binds a preemptor nominated on a lent node whose group left meanwhile", async () => {
    const recorded = recordingShard();
    const { shard } = recorded;
    const lent = node("n1", { cpu: 3 });
    lent.metadata.annotations = { [lentForAnnotation]: "group:default/x" };
    shard.cache.upsertNode(lent);
    const held = pod("x-0", { group: "x", minMember: 1, priority: 2000, nodeName: "n1" });
    const victims = [0, 1].map((i) =>
      pod(`z-${i}`, { group: "z", minMember: 2, priority: 100, nodeName: "n1" }),
    );
    for (const p of [held, ...victims]) shard.cache.upsertPod(p);
    const preemptors = [0, 1].map((i) =>
      member(shard, `g-${i}`, { group: "g", minMember: 2, priority: 1000 }),
    );
    for (const preemptor of preemptors) shard.cache.upsertPod(preemptor);
    await settle();
    expect(recorded.evicted.sort()).toEqual(["z-0", "z-1"]);
    // The victims and x leave; the nominations written come back through the watch.
    for (const gone of [held, ...victims]) shard.podRemoved(gone);
    for (const preemptor of preemptors)
      shard.podUpserted({ ...preemptor, status: { ...preemptor.status, nominatedNodeName: "n1" } });
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    shard.ownershipChanged();
    await settle();
    expect(recorded.bound.sort()).toEqual(["g-0", "g-1"]);
  });

  // The preemptor's nomination is reserved in memory when the cycle decides; its write comes back
  // through the watch later. An update of the pod written before it (a condition, the Owner pin a
  // handoff wrote) arrives first and says nothing of a nomination: the room stays reserved, and
  // a gang of the same priority neither takes it nor evicts the same victims again.
  it("keeps a preemptor's room through a watch update written before its nomination", async () => {
    const recorded = recordingShard();
    const { shard } = recorded;
    shard.cache.upsertNode(node("n1", { cpu: 2 }));
    for (const i of [0, 1])
      shard.cache.upsertPod(pod(`z-${i}`, { group: "z", minMember: 2, priority: 10, nodeName: "n1" }));
    const first = [0, 1].map((i) =>
      member(shard, `a-${i}`, { group: "a", minMember: 2, priority: 100, createdAt: 0 }),
    );
    for (const preemptor of first) shard.cache.upsertPod(preemptor);
    await settle();
    expect(recorded.evicted.sort()).toEqual(["z-0", "z-1"]);
    // The earlier write's event, then a second gang of the same priority.
    for (const preemptor of first)
      shard.podUpserted({
        ...preemptor,
        status: {
          ...preemptor.status,
          conditions: [
            { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "no room" },
          ],
        },
      });
    for (const i of [0, 1])
      shard.cache.upsertPod(
        member(shard, `b-${i}`, { group: "b", minMember: 2, priority: 100, createdAt: 1 }),
      );
    await settle();
    expect(shard.cache.cluster.nominatedPod("default/a-0")?.nominatedNodeName).toBe("n1");
    expect(shard.cache.cluster.nominatedPod("default/b-0")).toBeUndefined();
    expect(recorded.evicted.sort()).toEqual(["z-0", "z-1"]);
  });

  // The coordinator plans from the capacity summaries: the room a preemption won must reach
  // them at once, not at the next interval, or a node promised here may be lent away.
  it("tells the summary's publisher when a preemption promises room, and not otherwise", async () => {
    const recorded = recordingShard();
    const { shard } = recorded;
    let told = 0;
    shard.roomPromisesChanged = () => told++;
    shard.cache.upsertNode(node("n1", { cpu: 1 }));
    shard.cache.upsertPod(pod("mid-1", { priority: 500, nodeName: "n1" }));
    shard.cache.upsertPod(member(shard, "low-0", { group: "low", minMember: 1, priority: 100 }));
    await settle();
    expect(told).toBe(0);
    shard.cache.upsertPod(member(shard, "high-0", { group: "high", minMember: 1, priority: 1000 }));
    await settle();
    expect(recorded.evicted).toEqual(["mid-1"]);
    expect(told).toBeGreaterThan(0);
  });
});
