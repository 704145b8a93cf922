/**
 * A bind the API server keeps refusing is told as kube-scheduler tells it: a FailedScheduling
 * Event whose note reads "Binding rejected: <the server's answer>".
 */
import { describe, expect, it } from "vitest";
import { node, pod } from "../core/fixtures.js";
import { readyShard } from "./fixtures.js";

describe("a failed bind", () => {
  it("is a FailedScheduling Event, 'Binding rejected: …'", async () => {
    const recorded: { type: string; reason: string; message: string }[] = [];
    let binds = 0;
    const shard = readyShard({
      statusWriter: {
        unschedulable: async () => undefined,
        pinOwner: async () => true,
        nominate: async () => true,
      },
      binder: {
        bind: async () => {
          binds++;
          return { outcome: "error", detail: "Internal error occurred: etcdserver: request timed out" };
        },
        evict: async () => ({ outcome: "evicted", detail: "" }),
        delete: async () => true,
      },
      events: {
        record: (_pod, type, reason, message) => {
          recorded.push({ type, reason, message });
        },
      },
    });
    try {
      shard.cache.upsertNode(node("n1", { cpu: 4 }));
      const pending = pod("p", { cpu: 1 });
      pending.spec.schedulerName = shard.config.schedulerName;
      shard.cache.upsertPod(pending);
      shard.scheduleSoon();
      // Three attempts, 0.4 s and 1.6 s apart.
      for (let i = 0; i < 100 && recorded.length === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(binds).toBe(3);
      expect(recorded).toEqual([
        {
          type: "Warning",
          reason: "FailedScheduling",
          message: "Binding rejected: Internal error occurred: etcdserver: request timed out",
        },
      ]);
    } finally {
      shard.stop();
    }
  });
});
