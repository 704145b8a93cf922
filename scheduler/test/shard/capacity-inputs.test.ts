/**
 * The shard's capacity inputs version (what the summary publisher compares before it builds a
 * summary of every owned node): it moves whenever the summary would read differently, and stands
 * while nothing the summary reads changes.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/index.js";
import type { Shard } from "../../src/shard/shard.js";
import { node, pod } from "../core/fixtures.js";
import { readyShard, succeedingWriters } from "./fixtures.js";

const shards: Shard[] = [];
afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});

const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("Shard.capacityInputsVersion", () => {
  it("moves with every change of the capacity summary and stands while the shard is idle", async () => {
    const bound: string[] = [];
    const shard = readyShard(succeedingWriters(bound), { config: { settleWindowMs: 0 } });
    shards.push(shard);
    const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
    const look = () => ({
      version: shard.capacityInputsVersion(),
      body: JSON.stringify({ ...shard.capacitySummary(), publishedAt: 0 }),
    });
    let last = look();
    const changes: string[] = [];
    const step = async (what: string, change: () => void) => {
      change();
      await settle();
      const now = look();
      if (now.body !== last.body) {
        changes.push(what);
        expect(now.version, what).not.toBe(last.version);
      }
      last = now;
    };
    await step("a node", () => shard.cache.upsertNode(node("n1", { cpu: 4 })));
    await step("a pod placed by the shard", () => shard.cache.upsertPod(ours(pod("web-0", { cpu: "1" }))));
    await step("its bind confirmed", () =>
      shard.cache.upsertPod(ours(pod("web-0", { cpu: "1", nodeName: "n1" }))),
    );
    await step("a pod no node fits (stuck)", () => shard.cache.upsertPod(ours(pod("big", { cpu: "64" }))));
    await step("a second node", () =>
      shard.cache.upsertNode(node("n2", { cpu: 4, labels: { disk: "ssd" } })),
    );
    await step("the stuck pod deleted", () => shard.cache.removePod(ours(pod("big", { cpu: "64" }))));
    await step("a pod deleted", () =>
      shard.cache.removePod(ours(pod("web-0", { cpu: "1", nodeName: "n1" }))),
    );
    // Each step but the confirmation (the room was taken when the shard placed the pod) changed
    // the summary, so the version was asked to move at each.
    expect(changes).toEqual([
      "a node",
      "a pod placed by the shard",
      "a pod no node fits (stuck)",
      "a second node",
      "the stuck pod deleted",
      "a pod deleted",
    ]);
    expect(bound).toEqual(["web-0"]);
    // Idle: the version stands, so the publisher builds no summary at its intervals.
    const idle = shard.capacityInputsVersion();
    await settle();
    expect(shard.capacityInputsVersion()).toBe(idle);
  });
});
