/**
 * Fencing at the last moment, against the real API server: a bind or eviction whose condition
 * (the shard's bind ticket) turned false while it waited for the rate limit is not sent. And the
 * API server's own 409 answers, each read for what it says.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { PodBinder } from "../../scheduler/src/kube/pod-binder.js";
import { createTestNamespace, deleteNamespace, schedulerKubeConfig, testClients } from "../support/kube.js";

const { kc, core } = testClients();
let namespace = "";

beforeAll(async () => {
  namespace = await createTestNamespace(core, "pod-binder");
});
afterAll(async () => {
  await deleteNamespace(core, namespace);
});

/** A pending pod no scheduler takes (its scheduler name is nobody's). */
async function pendingPod(name: string): Promise<string> {
  const pod = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: { schedulerName: "nobody", containers: [{ name: "main", image: "busybox" }] },
    },
  });
  return pod.metadata?.uid ?? "";
}

const nodeNameOf = async (name: string) => (await core.readNamespacedPod({ name, namespace })).spec?.nodeName;

describe("PodBinder with a condition", () => {
  it("binds while the condition holds", async () => {
    const client = await KubeClient.create(schedulerKubeConfig(kc));
    const uid = await pendingPod("held");
    const result = await new PodBinder(client).bind(namespace, "held", uid, "node-a", () => true);
    client.close();
    expect(result.outcome).toBe("bound");
    expect(await nodeNameOf("held")).toBe("node-a");
    await core.deleteNamespacedPod({ name: "held", namespace, gracePeriodSeconds: 0 });
  });

  it("sends nothing when the condition turned false while the request waited for the rate limit", async () => {
    // One request per second: the second waits about a second for its token.
    const client = await KubeClient.create(schedulerKubeConfig(kc), { qps: 1, burst: 1 });
    const binder = new PodBinder(client);
    const uid = await pendingPod("lapsed");
    await client.call("GET", `/api/v1/namespaces/${namespace}/pods/lapsed`);
    const askedAt: number[] = [];
    const started = Date.now();
    let holds = true;
    setTimeout(() => {
      holds = false;
    }, 300);
    const result = await binder.bind(namespace, "lapsed", uid, "node-a", () => {
      askedAt.push(Date.now() - started);
      return holds;
    });
    expect(result.outcome).toBe("fenced");
    // Asked only after the wait, so a lease lost during it counts.
    expect(askedAt.length).toBe(1);
    expect(askedAt[0]).toBeGreaterThanOrEqual(300);
    expect(await nodeNameOf("lapsed")).toBeUndefined();

    const eviction = await binder.evict(namespace, "lapsed", () => false);
    client.close();
    expect(eviction.outcome).toBe("fenced");
    const pod = await core.readNamespacedPod({ name: "lapsed", namespace });
    expect(pod.metadata?.deletionTimestamp).toBeUndefined();
  });
});

describe("PodBinder reading a 409", () => {
  it("tells a gated pod, a replaced pod and a pod bound already apart, from the API server's answers", async () => {
    const client = await KubeClient.create(schedulerKubeConfig(kc));
    const binder = new PodBinder(client);
    const gated = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "gated" },
        spec: {
          schedulerName: "nobody",
          schedulingGates: [{ name: "example.com/wait" }],
          containers: [{ name: "main", image: "busybox" }],
        },
      },
    });
    expect((await binder.bind(namespace, "gated", gated.metadata?.uid ?? "", "node-a")).outcome).toBe(
      "gated",
    );

    const uid = await pendingPod("replaced");
    // The UID of a pod that had the name before (deleted, created again).
    expect((await binder.bind(namespace, "replaced", randomUUID(), "node-a")).outcome).toBe("stale");
    expect((await binder.bind(namespace, "replaced", uid, "node-a")).outcome).toBe("bound");
    const again = await binder.bind(namespace, "replaced", uid, "node-b");
    // The same bind sent again (its first answer lost): the pod is where it was asked to go.
    const repeated = await binder.bind(namespace, "replaced", uid, "node-a", undefined, undefined, true);
    client.close();
    expect(again.outcome).toBe("conflict");
    expect(repeated.outcome).toBe("bound");
    expect(await nodeNameOf("replaced")).toBe("node-a");
  });
});

describe("PodBinder.whereIs", () => {
  it("reads a pod unbound, then bound to its node, then gone, with the shard's own credentials (list)", async () => {
    const client = await KubeClient.create(schedulerKubeConfig(kc));
    const binder = new PodBinder(client);
    const uid = await pendingPod("where");
    await pendingPod("where-else");
    expect(await binder.whereIs(namespace, "where")).toEqual({ kind: "unbound", uid });
    expect((await binder.bind(namespace, "where", uid, "node-c")).outcome).toBe("bound");
    expect(await binder.whereIs(namespace, "where")).toEqual({ kind: "bound", nodeName: "node-c", uid });
    await core.deleteNamespacedPod({ name: "where", namespace, gracePeriodSeconds: 0 });
    const gone = await binder.whereIs(namespace, "where");
    client.close();
    expect(gone).toEqual({ kind: "gone" });
  });
});
