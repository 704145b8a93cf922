/**
 * Feasibility-aware routing in the shard: two shards over the same nodes, each owning half, a
 * ring that gives every group to shard "a". A group that fits only "b"'s nodes is scheduled by
 * "b" at once (and dropped by "a"); a node change that moves a group's feasible nodes moves the
 * group; a routed group "b" cannot place is reported stuck as routed.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Node, Pod } from "../../src/core/index.js";
import { groupOwner, type RoutingRing } from "../../src/core/index.js";
import type { Shard } from "../../src/shard/shard.js";
import type { Ownership } from "../../src/sharding/ownership.js";
import { daemonPod, node, pod } from "../core/fixtures.js";
import { readyShard, succeedingWriters } from "./fixtures.js";

const shards: Shard[] = [];
afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});

const nodeOwners: Record<string, string> = { n1: "a", n2: "a", n3: "b", n4: "b" };
const live = new Set(["a", "b"]);

/** Shard `self` of the two: owns its nodes; the ring gives every group to "a". */
function ownership(self: string): Ownership {
  const ring: RoutingRing = {
    version: 1,
    members: ["a", "b"],
    live,
    ringOwnerOf: () => "a",
    nodeOwnerOf: (name) => nodeOwners[name],
  };
  return {
    version: 1,
    epoch: 1,
    canPlace: () => true,
    ownsNode: (name) => nodeOwners[name] === self,
    gainedNodesSettling: () => false,
    ownsGroup: (_hashKey, pinnedTo, routedTo) => groupOwner("a", pinnedTo, live, routedTo) === self,
    routing: () => ring,
    acquireBind: () => ({ valid: () => true, release: () => undefined }),
    observeNodeOwner: () => undefined,
  };
}

function twoShards() {
  const bound = { a: [] as string[], b: [] as string[] };
  const a = readyShard(succeedingWriters(bound.a), {
    ownership: ownership("a"),
    config: { settleWindowMs: 0, identity: "a" },
  });
  const b = readyShard(succeedingWriters(bound.b), {
    ownership: ownership("b"),
    config: { settleWindowMs: 0, identity: "b" },
  });
  shards.push(a, b);
  return { a, b, bound, both: [a, b] };
}

const ours = (shard: Shard, p: Pod): Pod => ({
  ...p,
  spec: { ...p.spec, schedulerName: shard.config.schedulerName },
});

const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve));
};

function addNodes(shards: readonly Shard[], nodes: readonly Node[]): void {
  for (const shard of shards) for (const n of nodes) shard.cache.upsertNode(n);
}

function addPods(shards: readonly Shard[], pods: readonly Pod[]): void {
  for (const shard of shards) for (const p of pods) shard.cache.upsertPod(ours(shard, p));
}

describe("feasibility-aware routing in the shard", () => {
  it("has each daemon pod scheduled by the owner of its node, whatever the ring says", async () => {
    const { both, bound } = twoShards();
    addNodes(both, [node("n1"), node("n2"), node("n3"), node("n4")]);
    addPods(
      both,
      ["n1", "n2", "n3", "n4"].map((n) => daemonPod(`d-${n}`, n)),
    );
    await settle();
    expect(bound.a.sort()).toEqual(["d-n1", "d-n2"]);
    expect(bound.b.sort()).toEqual(["d-n3", "d-n4"]);
  });

  it("sends pods needing an extended resource only the other shard's nodes have to it at once", async () => {
    const { both, bound } = twoShards();
    addNodes(both, [node("n1"), node("n2"), node("n3", { gpus: 8 }), node("n4")]);
    addPods(
      both,
      Array.from({ length: 5 }, (_, i) => pod(`gpu-${i}`, { gpus: 1, cpu: "100m" })),
    );
    addPods(both, [pod("plain")]);
    await settle();
    expect(bound.b.sort()).toEqual(["gpu-0", "gpu-1", "gpu-2", "gpu-3", "gpu-4"]);
    expect(bound.a).toEqual(["plain"]);
  });

  it("moves a group when a node's labels move its feasible nodes to the other shard", async () => {
    const { a, b, both, bound } = twoShards();
    addNodes(both, [node("n1"), node("n2"), node("n3"), node("n4")]);
    addPods(both, [pod("sel", { nodeSelector: { pool: "special" } })]);
    await settle();
    // No node matches: the ring's owner keeps it and finds it unschedulable; b dropped it.
    expect(bound.a).toEqual([]);
    expect(bound.b).toEqual([]);
    expect(a.capacitySummary()?.stuck.map((s) => s.name)).toEqual(["sel"]);
    addNodes(both, [node("n3", { labels: { pool: "special" } })]);
    await settle();
    expect(bound.b).toEqual(["sel"]);
    expect(a.capacitySummary()?.stuck).toEqual([]);
    expect(b.capacitySummary()?.stuck).toEqual([]);
  });

  it("reports a routed group it cannot place as stuck and routed, for the coordinator", async () => {
    const { a, b, both, bound } = twoShards();
    addNodes(both, [node("n1"), node("n2"), node("n3", { gpus: 1 }), node("n4")]);
    addPods(both, [pod("holder", { gpus: 1, nodeName: "n3" })]);
    addPods(both, [pod("gpu", { gpus: 1 })]);
    await settle();
    expect(bound.b).toEqual([]);
    const stuck = b.capacitySummary()?.stuck ?? [];
    expect(stuck.map((s) => [s.name, s.routed])).toEqual([["gpu", true]]);
    expect(a.capacitySummary()?.stuck).toEqual([]);
  });
});
