/**
 * The shard and scheduling gates: a gated member holds its gang back and is never sent as a
 * bind; removing its last gate (a watch update) places the whole gang at once; a bind the API
 * server refuses for gates sends the pod back to waiting, not into a retry loop. Stub writers
 * stand in for the API server; the cache is fed as the watches would.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/index.js";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { PodBinder } from "../../src/kube/pod-binder.js";
import type { Shard } from "../../src/shard/shard.js";
import { node, pod } from "../core/fixtures.js";
import { readyShard } from "./fixtures.js";

/** What the API server answers a Binding for a pod that still has scheduling gates. */
function gatedConflict(name: string) {
  const message = `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} has non-empty .spec.schedulingGates`;
  return {
    kind: "Status",
    status: "Failure",
    message,
    reason: "Conflict",
    details: { name, kind: "pods/binding" },
    code: 409,
  };
}

/**
 * A shard whose binder talks to a stub API server: binds of the pods named in `gatedThere` are
 * refused as the API server refuses a gated pod's; every bind sent is recorded.
 */
function shardBinding(gatedThere: string[] = []) {
  const binds: string[] = [];
  const client = {
    call: async (_method: string, path: string) => {
      const name = /\/pods\/([^/]+)\/binding$/.exec(path)?.[1] ?? "";
      binds.push(name);
      return gatedThere.includes(name)
        ? { status: 409, body: gatedConflict(name) }
        : { status: 201, body: {} };
    },
  } as unknown as KubeClient;
  const shard = readyShard({
    binder: new PodBinder(client),
    statusWriter: {
      unschedulable: async () => undefined,
      nominate: async () => true,
      pinOwner: async () => true,
    },
    events: { record: () => undefined },
  });
  const config = shard.config;
  for (const name of ["n0", "n1", "n2"]) shard.cache.upsertNode(node(name));
  const ours = (p: Pod, gated: boolean): Pod => ({
    ...p,
    spec: {
      ...p.spec,
      schedulerName: config.schedulerName,
      schedulingGates: gated ? [{ name: "kueue" }] : [],
    },
  });
  return { shard, binds, ours };
}

const gatedPods = async (shard: Shard) =>
  (await shard.metrics.pendingPods.get()).values.find((v) => v.labels.queue === "gated")?.value;

describe("shard: scheduling gates", () => {
  it("binds none of a gang of 3 while one member is gated, and all 3 as soon as the gate goes", async () => {
    const { shard, binds, ours } = shardBinding();
    const members = [0, 1, 2].map((i) => pod(`g-${i}`, { group: "g", minMember: 3 }));
    for (const [i, member] of members.entries()) shard.cache.upsertPod(ours(member, i === 2));
    await sleep(100);
    expect(binds).toEqual([]);
    expect(await gatedPods(shard)).toBe(1);

    shard.cache.upsertPod(ours(members[2] as Pod, false));
    await sleep(100);
    expect(binds.sort()).toEqual(["g-0", "g-1", "g-2"]);
    expect(await gatedPods(shard)).toBe(0);
    shard.stop();
  });

  it("sends a pod the API server says is gated back to waiting, with no retry loop", async () => {
    const { shard, binds, ours } = shardBinding(["solo"]);
    // Our copy says ungated; the API server's says gated (what a 409 would tell).
    shard.cache.upsertPod(ours(pod("solo"), false));
    // Longer than the first backoff: a pod sent back to pending would be bound again by now.
    await sleep(2_000);
    expect(binds).toEqual(["solo"]);
    expect(await gatedPods(shard)).toBe(1);
    expect(
      (await shard.metrics.bindErrors.get()).values.find((v) => v.labels.reason === "gated")?.value,
    ).toBe(1);
    shard.stop();
  });
});
