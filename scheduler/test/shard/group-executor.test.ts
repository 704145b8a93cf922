/**
 * The GroupExecutor reports how carrying a decision out ended as a value, and is the one place a
 * pod's cache state moves because of it: assumed when its bind goes out, pending again when the
 * bind does not go through. Stub writers stand in for the API server; the shard is not ready, so
 * no cycle runs and the test calls the executor itself.
 */
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import type { Pod, PodInfo } from "../../src/core/index.js";
import type { BindOutcome, PodBinder } from "../../src/kube/pod-binder.js";
import type { Shard, ShardWriters } from "../../src/shard/shard.js";
import type { Ownership } from "../../src/sharding/ownership.js";
import { gang, node, pod } from "../core/fixtures.js";
import { ownsEverything, readyShard } from "./fixtures.js";

function writers(
  options: { bind?: (name: string) => BindOutcome; nominate?: (name: string) => boolean } = {},
): ShardWriters {
  return {
    statusWriter: {
      unschedulable: async () => undefined,
      pinOwner: async () => true,
      nominate: async (target: Pod) => options.nominate?.(target.metadata.name) ?? true,
    },
    binder: {
      bind: async (_namespace: string, name: string) => ({
        outcome: options.bind?.(name) ?? "bound",
        detail: "",
      }),
      evict: async () => ({ outcome: "evicted", detail: "" }),
      delete: async () => true,
    },
    events: { record: () => undefined },
  };
}

function idleShard(stub: ShardWriters, ownership: Ownership = ownsEverything): Shard {
  const shard = readyShard(stub, { ownership });
  (shard as unknown as { ready: boolean }).ready = false;
  return shard;
}

const ours = (shard: Shard, p: Pod): Pod => ({
  ...p,
  spec: { ...p.spec, schedulerName: shard.config.schedulerName },
});

/** Pending members of group g, in the cache, with where the cycle placed them. */
function placedGang(shard: Shard) {
  const pods = gang("g", 2).map((p) => ours(shard, p));
  for (const p of pods) shard.cache.upsertPod(p);
  const placements = pods.map((p, i) => ({ pod: toPodInfo(p), nodeName: `n${i}` }));
  return { groupId: placements[0]?.pod.group.id ?? "", placements };
}

const membersOf = (shard: Shard, groupId: string) => {
  const group = shard.cache.group(groupId);
  return { pending: [...(group?.pending.keys() ?? [])], running: [...(group?.running.keys() ?? [])] };
};

describe("GroupExecutor.bind", () => {
  it("asks for a bind ticket only once every member's bind can go out: queued groups hold none", async () => {
    const holding: (() => void)[] = [];
    let tickets = 0;
    let most = 0;
    const ownership: Ownership = {
      ...ownsEverything,
      acquireBind: () => {
        tickets++;
        most = Math.max(most, tickets);
        return { valid: () => true, release: () => void tickets-- };
      },
    };
    const base = writers();
    const stub: ShardWriters = {
      ...base,
      binder: {
        ...base.binder,
        // Each bind waits until the test lets it answer.
        bind: () => new Promise((resolve) => holding.push(() => resolve({ outcome: "bound", detail: "" }))),
      },
    };
    const shard = readyShard(stub, { ownership, config: { bindConcurrency: 2 } });
    (shard as unknown as { ready: boolean }).ready = false;
    const groups = ["a", "b", "c"].map((name) => {
      const p = ours(shard, pod(name));
      shard.cache.upsertPod(p);
      const info = toPodInfo(p);
      return { groupId: info.group.id, placements: [{ pod: info, nodeName: "n0" }] };
    });
    const outcomes = groups.map(({ groupId, placements }) => shard.executor.bind(groupId, placements));
    await new Promise((resolve) => setImmediate(resolve));
    // Two binds in flight, the third group waits for room without a ticket.
    expect(tickets).toBe(2);
    expect(holding).toHaveLength(2);
    holding.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(holding).toHaveLength(2);
    for (const answer of holding.splice(0)) answer();
    await new Promise((resolve) => setImmediate(resolve));
    for (const answer of holding.splice(0)) answer();
    expect((await Promise.all(outcomes)).map((outcome) => outcome.kind)).toEqual(["bound", "bound", "bound"]);
    expect(most).toBe(2);
    expect(tickets).toBe(0);
  });

  it("is bound when every member is, and the members stay assumed", async () => {
    const shard = idleShard(writers());
    const { groupId, placements } = placedGang(shard);
    const outcome = await shard.executor.bind(groupId, placements);
    expect(outcome.kind).toBe("bound");
    expect(membersOf(shard, groupId)).toEqual({ pending: [], running: ["default/g-0", "default/g-1"] });
    expect(shard.cache.sizes().assumedPods).toBe(2);
  });

  it("is partly bound with each member's answer; a member not bound is pending again", async () => {
    const shard = idleShard(writers({ bind: (name) => (name === "g-1" ? "gone" : "bound") }));
    const { groupId, placements } = placedGang(shard);
    const outcome = await shard.executor.bind(groupId, placements);
    expect(outcome.kind).toBe("partly-bound");
    expect("answers" in outcome && outcome.answers.map(({ pod, outcome }) => [pod.name, outcome])).toEqual([
      ["g-0", "bound"],
      ["g-1", "gone"],
    ]);
    expect(membersOf(shard, groupId)).toEqual({ pending: ["default/g-1"], running: ["default/g-0"] });
  });

  it("keeps a member bound elsewhere (409 naming another node) holding its room until the watch shows it", async () => {
    const shard = idleShard(writers({ bind: (name) => (name === "g-1" ? "conflict" : "bound") }));
    const { groupId, placements } = placedGang(shard);
    expect((await shard.executor.bind(groupId, placements)).kind).toBe("partly-bound");
    expect(membersOf(shard, groupId)).toEqual({ pending: [], running: ["default/g-0", "default/g-1"] });
    expect(shard.cache.sizes().assumedPods).toBe(2);
    // The watch brings it bound to the node it went to: it is placed there, no longer assumed.
    shard.cache.upsertNode(node("n5"));
    const moved = placements[1]?.pod.pod as Pod;
    shard.cache.upsertPod({ ...moved, spec: { ...moved.spec, nodeName: "n5" } });
    expect(shard.cache.cluster.placedPod("default/g-1")?.nodeName).toBe("n5");
    expect(shard.cache.sizes().assumedPods).toBe(1);
  });
});

describe("GroupExecutor.bind: a bind answered with an error", () => {
  type Where = Awaited<ReturnType<PodBinder["whereIs"]>>;
  /** g-1's bind answers an error; each read of where it is answers the next of `reads` (the last repeats). */
  function erring(reads: (uid: string) => Where[]) {
    const events: string[] = [];
    let answers: Where[] = [];
    const base = writers({ bind: (name) => (name === "g-1" ? "error" : "bound") });
    const stub: ShardWriters = {
      ...base,
      binder: {
        ...base.binder,
        whereIs: async () => (answers.length > 1 ? answers.shift() : answers[0]) as Where,
      },
      events: { record: (_pod: Pod, _type: string, reason: string) => void events.push(reason) },
    };
    const shard = idleShard(stub);
    const { groupId, placements } = placedGang(shard);
    answers = reads(placements[1]?.pod.uid ?? "");
    return { shard, groupId, placements, events };
  }
  const settle = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

  it("keeps the member's room when a read shows the bind went through (its answer was lost)", async () => {
    const t = erring((uid) => [{ kind: "bound", nodeName: "n1", uid }]);
    expect((await t.shard.executor.bind(t.groupId, t.placements)).kind).toBe("partly-bound");
    await settle();
    // A cycle must not give n1's room to another pod while the watch has not shown the bind.
    expect(membersOf(t.shard, t.groupId)).toEqual({ pending: [], running: ["default/g-0", "default/g-1"] });
    expect(t.shard.cache.sizes().assumedPods).toBe(2);
    expect(t.events).not.toContain("FailedScheduling");
  });

  it("keeps it while the read fails (API server away), and makes it pending once a read says unbound", async () => {
    const t = erring((uid) => [
      { kind: "unknown", detail: "ECONNREFUSED" },
      { kind: "unbound", uid },
    ]);
    await t.shard.executor.bind(t.groupId, t.placements);
    await settle(5);
    expect(membersOf(t.shard, t.groupId).running).toContain("default/g-1");
    await settle(400);
    expect(membersOf(t.shard, t.groupId)).toEqual({ pending: ["default/g-1"], running: ["default/g-0"] });
    expect(t.events).toContain("FailedScheduling");
  });

  it("drops it when the pod is gone or was replaced", async () => {
    const t = erring(() => [{ kind: "unbound", uid: "another" }]);
    await t.shard.executor.bind(t.groupId, t.placements);
    await settle();
    expect(membersOf(t.shard, t.groupId)).toEqual({ pending: [], running: ["default/g-0"] });
    expect(t.shard.cache.sizes().assumedPods).toBe(1);
  });
});

describe("GroupExecutor.nominateThenEvict", () => {
  const victims = () => [toPodInfo(pod("low-0", { priority: 1, nodeName: "n0" }))];

  it("is not-nominated when a nomination is not written, and evicts nothing", async () => {
    const shard = idleShard(writers({ nominate: (name) => name !== "g-1" }));
    const { groupId, placements } = placedGang(shard);
    expect(await shard.executor.nominateThenEvict(groupId, placements, victims())).toEqual({
      kind: "not-nominated",
    });
  });

  it("is nominated when no victim is left to evict", async () => {
    const shard = idleShard(writers());
    const { groupId, placements } = placedGang(shard);
    expect(await shard.executor.nominateThenEvict(groupId, placements, [])).toEqual({ kind: "nominated" });
  });

  it("is evicting with each victim's answer", async () => {
    const shard = idleShard(writers());
    shard.cache.upsertNode(node("n0"));
    const { groupId, placements } = placedGang(shard);
    const outcome = await shard.executor.nominateThenEvict(groupId, placements, victims());
    expect(outcome).toEqual({
      kind: "evicting",
      answers: new Map([["default/low-0", "evicted"]]),
      unfinished: [],
    });
  });

  it("is fenced when the nominated nodes are no longer this shard's", async () => {
    const shard = idleShard(writers(), { ...ownsEverything, acquireBind: () => undefined });
    const { groupId, placements } = placedGang(shard);
    expect(await shard.executor.nominateThenEvict(groupId, placements, victims())).toEqual({
      kind: "fenced",
    });
  });
});

describe("GroupExecutor.unschedulable", () => {
  // The core gives back the room a group's members won by preemption when the group gives up.
  // Its nominations were written by this shard, and the watch may not have brought them back yet
  // (a pod in the cache without nominatedNodeName): the API must be cleared all the same, or the
  // stale nomination keeps the room reserved and the group looking like a preemptor.
  it("clears every withdrawn nomination, also those the watch has not shown yet", () => {
    const cleared: string[] = [];
    const base = writers();
    const shard = idleShard({
      ...base,
      statusWriter: {
        ...base.statusWriter,
        nominate: async (target: Pod, nodeName: string | null) => {
          if (nodeName === null) cleared.push(target.metadata.name);
          return true;
        },
      },
    });
    const { groupId, placements } = placedGang(shard);
    const members = shard.cache.group(groupId);
    if (!members) throw new Error("no group in the cache");
    const [seen, unseen] = placements.map(({ pod }) => pod) as [PodInfo, PodInfo];
    const seenNominated = toPodInfo({ ...seen.pod, status: { ...seen.pod.status, nominatedNodeName: "n0" } });
    shard.executor.unschedulable(
      {
        kind: "unschedulable",
        group: seen.group,
        members: [seenNominated, unseen],
        message: "no room",
        unschedulablePlugins: [],
        wakeOn: {},
        withdrawnNominations: [seenNominated, unseen],
      } as unknown as Parameters<Shard["executor"]["unschedulable"]>[0],
      members,
    );
    expect(cleared.sort()).toEqual(["g-0", "g-1"]);
  });
});
