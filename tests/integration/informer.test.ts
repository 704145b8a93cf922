/**
 * The shard's informer against the real API server: lists streamed through a watch-list (and in
 * pages when forced, or when the WatchList gate is off), relist on 410 Gone, watchdog restarts,
 * relist().
 */
import { type Logger, pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Informer, type InformerOptions } from "../../scheduler/src/kube/informer.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { startComponent, stopComponent } from "../cluster/local/local-cluster.js";
import { createTestNamespace, deleteNamespace, schedulerKubeConfig, testClients } from "../support/kube.js";
import { metricValue } from "../support/metrics.js";
import { controllersRecovered } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

interface ConfigMap {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

const { kc, core } = testClients();
let client: KubeClient;
let namespace = "";

beforeAll(async () => {
  client = await KubeClient.create(schedulerKubeConfig(kc));
  namespace = await createTestNamespace(core, "informer");
});
afterAll(async () => {
  client.close();
  await deleteNamespace(core, namespace);
  // Tests below restart the API server; the files after this one need its controllers back.
  if (inject("ownCluster")) await controllersRecovered(core, `${namespace}-probe`);
}, 150_000);

function configMapInformer(
  watchdogMs?: number,
  options: Partial<InformerOptions> = {},
  log: Logger = pino({ level: "silent" }),
) {
  const seen = new Map<string, ConfigMap>();
  const removed: string[] = [];
  // Every watch the informer opens, as the API server received it.
  const watches: URLSearchParams[] = [];
  const recording = {
    call: client.call.bind(client),
    read: client.read.bind(client),
    stream: (path: string) => {
      watches.push(new URL(path, "https://api").searchParams);
      return client.stream(path);
    },
  };
  const informer = new Informer<ConfigMap>(
    recording,
    {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      ...(watchdogMs ? { watchdogMs } : {}),
      ...options,
    },
    {
      upsert: (object) => seen.set(object.metadata.name, object),
      remove: (object) => {
        seen.delete(object.metadata.name);
        removed.push(object.metadata.name);
      },
    },
    log,
  );
  void informer.run();
  return { informer, seen, removed, watches };
}

/** How many watch-lists of configmaps the API server has completed (its own histogram). */
async function watchListsServed(): Promise<number> {
  const text = (await client.must<string>("GET", "/metrics")) as string;
  return metricValue(text, "apiserver_watch_list_duration_seconds_count", {
    resource: "configmaps",
    scope: "namespace",
  });
}

const waitForApiServer = () =>
  waitFor("API server ready", async () => core.readNamespace({ name: namespace }).then(() => true), 60_000);

const createConfigMap = (name: string) =>
  core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } });

describe("Informer", () => {
  it("lists through a watch-list: the server streams the objects and ends them with its bookmark", async () => {
    for (const name of ["streamed-1", "streamed-2", "streamed-3"]) await createConfigMap(name);
    const served = await watchListsServed();
    const { informer, seen, watches } = configMapInformer();
    await waitFor("synced", async () => (informer.synced ? true : undefined), 10_000);
    expect(informer.lastListMode).toBe("watch-list");
    expect(["streamed-1", "streamed-2", "streamed-3"].every((name) => seen.has(name))).toBe(true);
    const [first] = watches;
    expect(first?.get("sendInitialEvents")).toBe("true");
    expect(first?.get("resourceVersionMatch")).toBe("NotOlderThan");
    expect(first?.get("allowWatchBookmarks")).toBe("true");
    expect(informer.stats).toMatchObject({ watchLists: 1, pages: 0, watchListRefusals: 0 });
    // The API server counts the watch-list it completed.
    await waitFor(
      "the server's watch-list count",
      async () => ((await watchListsServed()) > served ? true : undefined),
      10_000,
    );
    // The same stream goes on as the watch.
    await createConfigMap("streamed-late");
    await waitFor(
      "a change on the stream",
      async () => (seen.has("streamed-late") ? true : undefined),
      10_000,
    );
    expect(watches).toHaveLength(1);
    informer.stop();
  });

  it("lists in pages when told to, more objects than one page", async () => {
    for (let i = 0; i < 7; i++) await createConfigMap(`paged-${i}`);
    const { informer, seen, watches } = configMapInformer(undefined, { listMode: "paginated", pageSize: 2 });
    await waitFor("synced", async () => (informer.synced ? true : undefined), 10_000);
    expect(informer.lastListMode).toBe("paginated");
    for (let i = 0; i < 7; i++) expect(seen.has(`paged-${i}`)).toBe(true);
    expect(informer.stats.pages).toBeGreaterThanOrEqual(4);
    expect(informer.stats.pages).toBe(Math.ceil(seen.size / 2));
    await createConfigMap("paged-late");
    await waitFor("a change on the watch", async () => (seen.has("paged-late") ? true : undefined), 10_000);
    expect(watches.every((params) => params.get("sendInitialEvents") === null)).toBe(true);
    informer.stop();
  });

  it.skipIf(!inject("ownCluster"))(
    "falls back to pages when the API server's WatchList gate is off (it answers 422)",
    async () => {
      const logged: { msg: string; answer?: string }[] = [];
      const log = pino({ level: "info" }, { write: (line: string) => logged.push(JSON.parse(line)) });
      await stopComponent(inject("clusterDir"), "kube-apiserver");
      startComponent(inject("clusterDir"), "kube-apiserver", ["--feature-gates=WatchList=false"]);
      try {
        await waitForApiServer();
        const { informer, seen } = configMapInformer(undefined, {}, log);
        await waitFor("synced", async () => (informer.synced ? true : undefined), 30_000);
        expect(informer.lastListMode).toBe("paginated");
        expect(informer.stats.watchListRefusals).toBe(1);
        expect(seen.has("kube-root-ca.crt")).toBe(true);
        const refusal = logged.find((line) => line.msg.includes("does not stream lists"));
        expect(refusal?.answer).toMatch(
          /^HTTP 422: .*sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled/,
        );
        informer.stop();
      } finally {
        await stopComponent(inject("clusterDir"), "kube-apiserver");
        startComponent(inject("clusterDir"), "kube-apiserver");
        await waitForApiServer();
      }
    },
  );

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
      await waitForApiServer();
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
      // The relist after the 410 streamed too.
      expect(informer.lastListMode).toBe("watch-list");
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

  it("deliveredAsOfNow() reads the pods bound to one node with the informer's own selector and answers once they are in the store", async () => {
    const pods = new Map<string, { metadata: { name: string }; spec?: { nodeName?: string } }>();
    const informer = new Informer<{
      metadata: { name: string; resourceVersion?: string };
      spec?: { nodeName?: string };
    }>(
      client,
      {
        path: `/api/v1/namespaces/${namespace}/pods`,
        fieldSelector: "status.phase!=Succeeded,status.phase!=Failed",
      },
      { upsert: (pod) => pods.set(pod.metadata.name, pod), remove: (pod) => pods.delete(pod.metadata.name) },
      pino({ level: "silent" }),
    );
    void informer.run();
    await waitFor("synced", async () => (informer.synced ? true : undefined), 10_000);
    // No pod on the node: answered without waiting for a change or a bookmark.
    expect(await informer.deliveredAsOfNow("spec.nodeName=gained-node")).toBe(true);
    for (let i = 0; i < 3; i++)
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: `bound-${i}` },
          spec: {
            nodeName: i < 2 ? "gained-node" : "other-node",
            containers: [{ name: "c", image: "busybox" }],
          },
        },
      });
    // Asked right after the binds: true only once both pods on the node are in the store.
    expect(await informer.deliveredAsOfNow("spec.nodeName=gained-node")).toBe(true);
    expect(pods.get("bound-0")?.spec?.nodeName).toBe("gained-node");
    expect(pods.get("bound-1")?.spec?.nodeName).toBe("gained-node");
    // Every bound pod, kept for one node by the caller.
    expect(
      await informer.deliveredAsOfNow("spec.nodeName!=", (pod) => pod.spec?.nodeName === "other-node"),
    ).toBe(true);
    expect(pods.has("bound-2")).toBe(true);
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
