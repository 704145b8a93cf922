/** The shard's informer against the real API server: relist on 410 Gone, watchdog restarts, relist(). */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Informer } from "../../scheduler/src/kube/informer.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { startComponent, stopComponent } from "../cluster/local/local-cluster.js";
import { createTestNamespace, deleteNamespace, testClients } from "../support/kube.js";
import { waitFor } from "../support/wait.js";

interface ConfigMap {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

const { kc, core } = testClients();
let client: KubeClient;
let namespace = "";

beforeAll(async () => {
  client = await KubeClient.create(kc);
  namespace = await createTestNamespace(core, "informer");
});
afterAll(async () => {
  client.close();
  await deleteNamespace(core, namespace);
});

function configMapInformer(watchdogMs?: number) {
  const seen = new Map<string, ConfigMap>();
  const removed: string[] = [];
  const informer = new Informer<ConfigMap>(
    client,
    { path: `/api/v1/namespaces/${namespace}/configmaps`, ...(watchdogMs ? { watchdogMs } : {}) },
    {
      upsert: (object) => seen.set(object.metadata.name, object),
      remove: (object) => {
        seen.delete(object.metadata.name);
        removed.push(object.metadata.name);
      },
    },
    pino({ level: "silent" }),
  );
  void informer.run();
  return { informer, seen, removed };
}

const createConfigMap = (name: string) =>
  core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } });

describe("Informer", () => {
  it.skipIf(!inject("ownCluster"))(
    "relists after the API server restarts (410 Gone) and keeps up",
    async () => {
      await createConfigMap("before");
      const { informer, seen, removed } = configMapInformer();
      await waitFor(
        "initial list",
        async () => (informer.synced && seen.has("before") ? true : undefined),
        10_000,
      );
      const lists = informer.stats.lists;
      // A restarted API server's watch cache starts at the current revision: resuming the watch
      // from the informer's older resourceVersion is answered with 410 Gone.
      await stopComponent(inject("clusterDir"), "kube-apiserver");
      startComponent(inject("clusterDir"), "kube-apiserver");
      await waitFor(
        "API server ready",
        async () => core.readNamespace({ name: namespace }).then(() => true),
        60_000,
      );
      await core.deleteNamespacedConfigMap({ name: "before", namespace });
      await createConfigMap("after");
      await waitFor(
        "relist and catch up",
        async () => (seen.has("after") && !seen.has("before") ? true : undefined),
        30_000,
      );
      expect(informer.stats.gone).toBeGreaterThan(0);
      expect(informer.stats.lists).toBeGreaterThan(lists);
      expect(removed).toContain("before");
      informer.stop();
    },
  );

  it("restarts a silent watch and keeps receiving changes", async () => {
    const { informer, seen } = configMapInformer(500);
    await waitFor("synced", async () => (informer.synced ? true : undefined), 10_000);
    await waitFor(
      "a watchdog restart",
      async () => (informer.stats.watchdogRestarts > 0 ? true : undefined),
      10_000,
    );
    await createConfigMap("late");
    await waitFor("the change after the restart", async () => (seen.has("late") ? true : undefined), 10_000);
    informer.stop();
  });

  it("relist() resolves only once a fresh list is in the store, then keeps watching", async () => {
    const { informer, seen } = configMapInformer();
    const first = informer.relist();
    await first;
    expect(informer.synced).toBe(true);
    expect(informer.stats.lists).toBe(1);
    await createConfigMap("listed-afresh");
    await informer.relist();
    // Whatever the watch delivered, the store now holds what the second (quorum) list showed.
    expect(informer.stats.lists).toBe(2);
    expect(seen.has("listed-afresh")).toBe(true);
    await createConfigMap("after-relist");
    await waitFor(
      "a change after the relist",
      async () => (seen.has("after-relist") ? true : undefined),
      10_000,
    );
    informer.stop();
  });
});
