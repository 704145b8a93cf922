/**
 * /metrics behind delegated RBAC (--metrics-auth=rbac, the chart's default) on the real API
 * server: a shard and a coordinator serve it over HTTPS to a ServiceAccount token whose user
 * may get the nonResourceURL /metrics, and to no one else — 401 without a token or with a made-up
 * one, 403 with a real token lacking the right; a right taken away stops working within the
 * cache TTL. The probes answer unauthenticated on their own port, which never serves /metrics.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningCoordinator, startCoordinator } from "../support/coordinator.js";
import { serviceAccountToken } from "../support/helm.js";
import { createTestNamespace, deleteNamespace, testClients } from "../support/kube.js";
import { type RunningShard, startShard } from "../support/shard.js";
import { waitFor } from "../support/wait.js";

const { core, rbac } = testClients();
const id = `it-metrics-auth-${randomBytes(2).toString("hex")}`;
const readerRole = `${id}-metrics-reader`;
let namespace = "";
let readerToken = "";
let strangerToken = "";
const processes: (RunningShard | RunningCoordinator)[] = [];

async function newServiceAccountToken(name: string): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  return serviceAccountToken(core, namespace, name);
}

const bindReader = () =>
  rbac.createClusterRoleBinding({
    body: {
      metadata: { name: readerRole },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: readerRole },
      subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
    },
  });

beforeAll(async () => {
  namespace = await createTestNamespace(core, id);
  // What a Prometheus is granted to scrape kube-scheduler (kube-prometheus' prometheus-k8s role).
  await rbac.createClusterRole({
    body: {
      metadata: { name: readerRole },
      rules: [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }],
    },
  });
  await bindReader();
  readerToken = await newServiceAccountToken("reader");
  strangerToken = await newServiceAccountToken("stranger");
});

afterAll(async () => {
  await Promise.all(processes.map((proc) => proc.stop()));
  await rbac.deleteClusterRoleBinding({ name: readerRole }).catch(() => undefined);
  await rbac.deleteClusterRole({ name: readerRole }).catch(() => undefined);
  await deleteNamespace(core, namespace);
});

/** GET on a port of 127.0.0.1 over plain HTTP. */
async function plainGet(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

describe("/metrics with --metrics-auth=rbac", () => {
  it("answers a shard's /metrics 401 without a token, 403 without the right, 200 with it", async () => {
    const shard = await startShard({ schedulerName: id, metricsAuth: { mode: "rbac", token: readerToken } });
    processes.push(shard);
    expect((await shard.get("/metrics", null)).status).toBe(401);
    expect((await shard.get("/metrics", "not-a-token")).status).toBe(401);
    const forbidden = await shard.get("/metrics", strangerToken);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toBe(
      `Forbidden: user "system:serviceaccount:${namespace}:stranger" cannot get path "/metrics"`,
    );
    const allowed = await shard.get("/metrics");
    expect(allowed.status).toBe(200);
    expect(allowed.body).toContain("# TYPE sharded_scheduler_");
    // Plain HTTP gets nothing from the metrics port.
    await expect(plainGet(shard.port, "/metrics")).rejects.toThrow();
  });

  it("answers the probes unauthenticated, and never /metrics on the probes' port", async () => {
    const shard = processes[0] as RunningShard;
    for (const path of ["/healthz", "/livez", "/readyz"]) {
      expect(await plainGet(shard.healthPort, path), path).toBe(200);
      expect((await shard.get(path, null)).status, path).toBe(200);
    }
    expect(await plainGet(shard.healthPort, "/metrics")).toBe(404);
  });

  it("serves the coordinator's /metrics the same way", async () => {
    const coordinator = await startCoordinator({
      schedulerName: id,
      identity: `${id}-coordinator`,
      namespace,
      metricsAuth: { mode: "rbac", token: readerToken },
    });
    processes.push(coordinator);
    expect((await coordinator.get("/metrics", null)).status).toBe(401);
    expect((await coordinator.get("/metrics", strangerToken)).status).toBe(403);
    expect((await coordinator.get("/metrics")).body).toContain("sharded_scheduler_coordinator_leader");
    expect(await plainGet(coordinator.healthPort, "/healthz")).toBe(200);
  });

  it("stops serving a user whose right was taken away, within the cache TTL (10 s)", async () => {
    const shard = processes[0] as RunningShard;
    expect((await shard.get("/metrics")).status).toBe(200);
    await rbac.deleteClusterRoleBinding({ name: readerRole });
    const removedAt = Date.now();
    await waitFor(
      "403 for the reader",
      async () => ((await shard.get("/metrics")).status === 403 ? true : undefined),
      20_000,
      500,
    );
    expect(Date.now() - removedAt).toBeLessThan(15_000);
    await bindReader();
    await waitFor(
      "200 for the reader again",
      async () => ((await shard.get("/metrics")).status === 200 ? true : undefined),
      20_000,
      500,
    );
  });
});
