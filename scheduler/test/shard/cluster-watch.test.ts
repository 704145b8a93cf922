/**
 * The read behind a handover's settle (ClusterWatch.podsOnGainedNodesDelivered) when the ring
 * forms before the shard's pod watch exists, as at every start: the read waits for the watch
 * instead of failing (a failed read is asked again only a settle delay later), and a watch
 * stopped before it started refuses it.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { ClusterCache } from "../../src/shard/cluster-cache.js";
import { ClusterWatch } from "../../src/shard/cluster-watch.js";
import { ShardMetrics } from "../../src/shard/metrics.js";
import { waitUntil } from "../kube/fake-api-server.js";

/**
 * A client whose discovery answers (404: no optional API) only once `answerDiscovery()` is
 * called, whose lists and watches never answer, and whose quorum reads show no bound pod.
 */
function startingClient() {
  const held: (() => void)[] = [];
  const reads: string[] = [];
  const never = new Promise<never>(() => undefined);
  const client = {
    call: (_method: string, path: string) =>
      path.startsWith("/apis/") && !path.includes("?")
        ? new Promise((resolve) => held.push(() => resolve({ status: 404, body: {} })))
        : never,
    read: (path: string) => {
      reads.push(path);
      return Promise.resolve({ status: 200, body: { items: [], metadata: { resourceVersion: "7" } } });
    },
    stream: () => never,
  } as unknown as KubeClient;
  return {
    client,
    reads,
    answerDiscovery: () => {
      for (const answer of held.splice(0)) answer();
    },
    discoveryAsked: () => held.length > 0,
  };
}

function clusterWatch(client: KubeClient): ClusterWatch {
  return new ClusterWatch(
    client,
    pino({ level: "silent" }),
    "sharded-scheduler",
    { observeNodeOwner: () => undefined, observeNodeLabels: () => undefined },
    new ClusterCache("sharded-scheduler", () => undefined),
    new ShardMetrics(),
    { upsert: () => undefined, remove: () => undefined },
  );
}

const everyNode = { nodes: undefined, gained: () => true };

describe("ClusterWatch.podsOnGainedNodesDelivered before the pod watch exists", () => {
  it("waits for the watch to start, then reads the bound pods, instead of failing", async () => {
    const api = startingClient();
    const watch = clusterWatch(api.client);
    let answer = "none yet";
    const asked = watch.podsOnGainedNodesDelivered(everyNode).then(
      (reached) => {
        answer = `resolved ${reached}`;
        return reached;
      },
      (error: unknown) => {
        answer = `rejected: ${String(error)}`;
        return undefined;
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answer).toBe("none yet");
    expect(api.reads).toEqual([]);
    void watch.start();
    await waitUntil("discovery asked", api.discoveryAsked);
    // Still discovering: no pod watch yet, nothing read.
    expect(api.reads).toEqual([]);
    api.answerDiscovery();
    await waitUntil("the bound pods read", () => api.reads.length === 1);
    expect(decodeURIComponent(api.reads[0] ?? "")).toMatch(/fieldSelector=[^&]*spec.nodeName!=(&|$)/);
    // The watch has not listed yet: the answer waits for it.
    expect(answer).toBe("none yet");
    watch.stop();
    expect(await asked).toBe(false);
  });

  it("is refused when the watch stops before it started", async () => {
    const api = startingClient();
    const watch = clusterWatch(api.client);
    const asked = watch.podsOnGainedNodesDelivered(everyNode);
    watch.stop();
    await expect(asked).rejects.toThrow(/stopped/);
    expect(api.reads).toEqual([]);
  });
});
