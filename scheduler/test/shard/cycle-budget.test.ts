import { describe, expect, it } from "vitest";
import type { ShardWriters } from "../../src/shard/shard.js";
import { node, pod } from "../core/fixtures.js";
import { readyShard } from "./fixtures.js";

const quietWriters: ShardWriters = {
  statusWriter: {
    unschedulable: async () => undefined,
    pinOwner: async () => true,
    nominate: async () => true,
  },
  binder: {
    bind: async () => ({ outcome: "bound", detail: "" }),
    evict: async () => ({ outcome: "evicted", detail: "" }),
    delete: async () => true,
  },
  events: { record: () => undefined },
};

const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("a shard's cycle", () => {
  it("gives the event loop back between chunks, so a timer due before a long queue fires before its end", async () => {
    const shard = readyShard(quietWriters);
    const config = shard.config;
    shard.cycleBudgetMs = 0;
    const count = 300;
    for (let i = 0; i < 30; i++) shard.cache.upsertNode(node(`n${i}`, { cpu: 16, memory: "64Gi" }));
    for (let i = 0; i < count; i++) {
      const pending = pod(`p${i}`, { cpu: 0.1, memory: "64Mi" });
      pending.spec.schedulerName = config.schedulerName;
      shard.cache.upsertPod(pending);
    }
    const placed = () =>
      Array.from({ length: count }, (_, i) => shard.cache.cluster.placementOf(`default/p${i}`)).filter(
        (nodeName) => nodeName !== undefined,
      ).length;

    // A timer already due when the cycle starts (as a lease renewal would be).
    let placedWhenTimerFired = -1;
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        placedWhenTimerFired = placed();
        resolve();
      }, 0),
    );
    const dueAt = performance.now() + 2;
    while (performance.now() < dueAt) {
      // Let the timer become due before the event loop turns.
    }
    await timer;
    for (let i = 0; i < 100 * count && placed() < count; i++) await turn();

    expect(placedWhenTimerFired).toBeGreaterThanOrEqual(0);
    expect(placedWhenTimerFired).toBeLessThan(count);
    expect(placed()).toBe(count);
    shard.stop();
  });
});
