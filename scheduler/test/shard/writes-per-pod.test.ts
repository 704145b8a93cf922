/**
 * What a shard writes on pods stays a small constant per pod: a gang gathering members is told
 * one stable message (not one per arrival; one Event for the group, a condition on each member), a pod that binds right after the nodes it just
 * gained settle gets no condition or Event before its bind, and what was written on a pod is
 * forgotten once it is bound or gone. The real status writer and event recorder run over a stub
 * REST client that counts requests.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/index.js";
import { EventRecorder } from "../../src/kube/event-recorder.js";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { PodStatusWriter } from "../../src/kube/pod-status-writer.js";
import type { Ownership } from "../../src/sharding/ownership.js";
import { node, pod } from "../core/fixtures.js";
import { ownsEverything, readyShard } from "./fixtures.js";

/** A shard whose writes go to a stub API server; `requests` lists "<method> <path>" in order. */
function shardWithCountingClient(ownership: Ownership = ownsEverything) {
  const requests: string[] = [];
  let made = 0;
  const client = {
    call: async (method: string, path: string) => {
      requests.push(`${method} ${path}`);
      return { status: method === "POST" ? 201 : 200, body: { metadata: { name: `e${made++}` } } };
    },
  } as unknown as KubeClient;
  const log = pino({ level: "silent" });
  const statusWriter = new PodStatusWriter(client, log);
  const events = new EventRecorder(client, "sharded-scheduler", "shard-0", log);
  const binds: string[] = [];
  const shard = readyShard(
    {
      statusWriter,
      events,
      binder: {
        bind: async (_namespace: string, name: string, _uid: string, nodeName: string) => {
          binds.push(`${name}@${nodeName}`);
          return { outcome: "bound", detail: "" };
        },
        evict: async () => ({ outcome: "evicted", detail: "" }),
        delete: async () => true,
      },
    },
    { ownership, client },
  );
  const ours = (p: Pod): Pod => ({ ...p, spec: { ...p.spec, schedulerName: shard.config.schedulerName } });
  return { shard, requests, binds, statusWriter, events, ours };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("writes per pod", () => {
  it.each([10, 60])("a gang of %i gathering members costs each pod the same few writes", async (size) => {
    const { shard, requests, ours } = shardWithCountingClient();
    try {
      shard.cache.upsertNode(node("n1", { cpu: 1 }));
      // One member short of min-member: every member waits, and is told so as the others arrive.
      for (let i = 0; i < size - 1; i++) {
        shard.podUpserted(ours(pod(`g-${i}`, { cpu: 1, group: "g", minMember: size })));
        await settle();
      }
      const statusPatches = requests.filter((r) => r.startsWith("PATCH") && r.endsWith("/status"));
      const eventWrites = requests.filter((r) => r.includes("/events"));
      // One condition per pod; one Event for the group (on its first member) and its series' count.
      expect(statusPatches).toHaveLength(size - 1);
      expect(eventWrites.length).toBeLessThanOrEqual(2);
      expect(requests.filter((r) => r.endsWith("/pods/g-0/status"))).toHaveLength(1);
    } finally {
      shard.stop();
    }
  });

  it("a pod that binds once the nodes just gained settle gets no condition or Event before its bind", async () => {
    let settling = true;
    const ownership: Ownership = {
      ...ownsEverything,
      get version() {
        return settling ? 1 : 2;
      },
      // While settling, the node just gained is not placeable yet.
      ownsNode: () => !settling,
      gainedNodesSettling: () => settling,
    };
    const { shard, requests, binds, ours } = shardWithCountingClient(ownership);
    try {
      shard.cache.upsertNode(node("n1", { cpu: 4 }));
      shard.podUpserted(ours(pod("solo", { cpu: 1 })));
      await settle();
      expect(binds).toEqual([]);
      expect(requests).toEqual([]);
      settling = false;
      shard.ownershipChanged();
      await settle();
      expect(binds).toEqual(["solo@n1"]);
      expect(requests).toEqual([expect.stringMatching(/^POST .*\/events$/)]);
    } finally {
      shard.stop();
    }
  });

  it("forgets what it wrote on a pod once the pod is bound or deleted", async () => {
    const { shard, statusWriter, events, ours } = shardWithCountingClient();
    try {
      shard.cache.upsertNode(node("n1", { cpu: 1 }));
      const waiting = ours(pod("big", { cpu: 2 }));
      const other = ours(pod("other", { cpu: 2 }));
      shard.podUpserted(waiting);
      shard.podUpserted(other);
      await settle();
      expect(statusWriter.size).toBe(2);
      expect(events.size).toBe(2);
      shard.podRemoved(waiting);
      shard.podUpserted({ ...other, spec: { ...other.spec, nodeName: "elsewhere" } });
      expect(statusWriter.size).toBe(0);
      expect(events.size).toBe(0);
    } finally {
      shard.stop();
    }
  });
});
