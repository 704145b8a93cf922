/**
 * The GroupExecutor reports how carrying a decision out ended as a value, and is the one place a
 * pod's cache state moves because of it: assumed when its bind goes out, pending again when the
 * bind does not go through. Stub writers stand in for the API server; the shard is not ready, so
 * no cycle runs and the test calls the executor itself.
 */
import { describe, expect, it } from "vitest";
import { toPodInfo } from "../../src/core/build-info.js";
import type { Pod } from "../../src/core/index.js";
import type { BindOutcome } from "../../src/kube/pod-binder.js";
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
    const shard = idleShard(writers({ bind: (name) => (name === "g-1" ? "conflict" : "bound") }));
    const { groupId, placements } = placedGang(shard);
    const outcome = await shard.executor.bind(groupId, placements);
    expect(outcome.kind).toBe("partly-bound");
    expect("answers" in outcome && outcome.answers.map(({ pod, outcome }) => [pod.name, outcome])).toEqual([
      ["g-0", "bound"],
      ["g-1", "conflict"],
    ]);
    expect(membersOf(shard, groupId)).toEqual({ pending: ["default/g-1"], running: ["default/g-0"] });
  });

  it("sends a member's bind only once its status writes in flight are answered", async () => {
    // A "waiting" condition still in flight when the bind goes out would land after it and
    // leave PodScheduled=False on a bound pod.
    const log: string[] = [];
    let answerWrite: () => void = () => undefined;
    const stub = writers({
      bind: (name) => {
        log.push(`bind ${name}`);
        return "bound";
      },
    });
    const statusWriter = {
      ...stub.statusWriter,
      settled: (target: Pod) =>
        target.metadata.name === "g-0"
          ? new Promise<void>((resolve) => {
              answerWrite = () => {
                log.push("status g-0 answered");
                resolve();
              };
            })
          : Promise.resolve(),
    };
    const shard = idleShard({ ...stub, statusWriter });
    const { groupId, placements } = placedGang(shard);
    const outcome = shard.executor.bind(groupId, placements);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log).toEqual(["bind g-1"]);
    answerWrite();
    expect((await outcome).kind).toBe("bound");
    expect(log).toEqual(["bind g-1", "status g-0 answered", "bind g-0"]);
  });

  it("is fenced, sends nothing and leaves every member pending, when ownership moved", async () => {
    let binds = 0;
    const stub = writers({
      bind: () => {
        binds++;
        return "bound";
      },
    });
    const shard = idleShard(stub, { ...ownsEverything, acquireBind: () => undefined });
    const { groupId, placements } = placedGang(shard);
    expect(await shard.executor.bind(groupId, placements)).toEqual({ kind: "fenced" });
    expect(binds).toBe(0);
    expect(membersOf(shard, groupId)).toEqual({ pending: ["default/g-0", "default/g-1"], running: [] });
    expect(shard.cache.sizes().assumedPods).toBe(0);
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
