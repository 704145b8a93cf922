/**
 * Input from tenants who try what they should not. Each describe runs its own scheduler suite.
 */
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupKey } from "../../scheduler/src/core/pod-group.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { ownerCondition } from "../../scheduler/src/sharding/owner-condition.js";
import {
  ringEpochAnnotation,
  ringLeaseName,
  ringMembersAnnotation,
} from "../../scheduler/src/sharding/shard-leases.js";
import { ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import { testKubeConfig } from "../support/kube.js";
import { metricValue } from "../support/shard.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

/**
 * A tenant cannot choose which shard schedules its pods. The override is the pod's
 * sharded-scheduler.io/Owner condition, written through pods/status, which Kubernetes' edit role
 * (and admin, which aggregates it) does not grant; the pod's annotations, which the tenant may
 * write, name no shard. Two shards; the tenant is a ServiceAccount bound to `edit` in the suite's
 * namespace, acting with its own token.
 */
describe("a tenant forging its pods' owner", () => {
  const shardArgs = ["--lease-duration-ms=4000", "--lease-renew-ms=1000", "--handover-settle-ms=500"];
  const suite = schedulerSuite("tenant-owner", { shardArgs });
  const ownerType = "sharded-scheduler.io/Owner";
  const strategicMerge = "application/strategic-merge-patch+json";
  const mergePatch = "application/merge-patch+json";
  let shards: string[];
  let ring: ShardRing;
  let epoch = 0;
  let tenant: KubeClient;
  let admin: KubeClient;

  beforeAll(async () => {
    await suite.startReplica(1, shardArgs);
    shards = [0, 1].map((ordinal) => `${suite.id}-${ordinal}`);
    ring = new ShardRing(shards);
    epoch = await waitFor(
      "the ring of both shards, acknowledged by both",
      async () => {
        const lease = await suite.coordination.readNamespacedLease({
          name: ringLeaseName(suite.schedulerName),
          namespace: "default",
        });
        const annotations = lease.metadata?.annotations ?? {};
        const ringEpoch = Number(annotations[ringEpochAnnotation]);
        if ((annotations[ringMembersAnnotation] ?? "").split(",").sort().join(",") !== shards.join(","))
          return undefined;
        for (const shard of suite.shards)
          if (metricValue(await shard.metrics(), "sharded_scheduler_ring_epoch") !== ringEpoch)
            return undefined;
        return ringEpoch;
      },
      30_000,
    );
    tenant = await KubeClient.create(await tenantKubeConfig());
    admin = await KubeClient.create(testKubeConfig());
  });

  afterAll(() => {
    tenant?.close();
    admin?.close();
  });

  /** A ServiceAccount bound to the `edit` ClusterRole in the suite's namespace, with a fresh token. */
  async function tenantKubeConfig(): Promise<k8s.KubeConfig> {
    const namespace = suite.namespace;
    await suite.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "tenant" } } });
    const rbac = suite.clients.rbac;
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "tenant-edit" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
        subjects: [{ kind: "ServiceAccount", name: "tenant", namespace }],
      },
    });
    const request = await suite.core.createNamespacedServiceAccountToken({
      name: "tenant",
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = testKubeConfig().getCurrentCluster();
    if (!cluster || !request.status?.token) throw new Error("no cluster or no token");
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ ...cluster, name: "test" }],
      users: [{ name: "tenant", token: request.status.token }],
      contexts: [{ name: "tenant", cluster: "test", user: "tenant", namespace }],
      currentContext: "tenant",
    });
    // `edit` is an aggregated ClusterRole: its rules come from the controller manager.
    const authorization = suite.clients.kc.makeApiClient(k8s.AuthorizationV1Api);
    await waitFor(
      "the tenant allowed to create pods",
      async () => {
        const review = await authorization.createSubjectAccessReview({
          body: {
            spec: {
              user: `system:serviceaccount:${namespace}:tenant`,
              groups: [
                "system:serviceaccounts",
                `system:serviceaccounts:${namespace}`,
                "system:authenticated",
              ],
              resourceAttributes: { verb: "create", resource: "pods", namespace },
            },
          },
        });
        return review.status?.allowed ? true : undefined;
      },
      30_000,
    );
    return kc;
  }

  /** One node per shard in a new pool, chosen by name so the ring gives each shard one. */
  async function poolForBoth(pool: string): Promise<void> {
    const owned = new Set<string>();
    for (let index = 0; owned.size < shards.length; index++) {
      const owner = ring.ownerOf(suite.nodeName(pool, index)) as string;
      if (owned.has(owner)) continue;
      owned.add(owner);
      await suite.addNodes(pool, 1, { cpu: "4" }, index);
    }
  }

  /** A pod name whose group (namespace/pod) the ring gives to shard `ordinal`. */
  function podOwnedBy(ordinal: number, prefix: string): string {
    for (let i = 0; ; i++) {
      const name = `${prefix}-${i}`;
      if (ring.ownerOf(groupKey(suite.namespace, name, true).hashKey) === shards[ordinal]) return name;
    }
  }

  const podPath = (name: string) => `/api/v1/namespaces/${suite.namespace}/pods/${name}`;

  const forgedCondition = (shard: string) => ({
    type: ownerType,
    status: "True",
    reason: "HandedOff",
    message: `shard=${shard} epoch=${epoch}`,
    lastTransitionTime: new Date().toISOString(),
  });

  async function read(name: string): Promise<k8s.V1Pod> {
    return suite.core.readNamespacedPod({ name, namespace: suite.namespace });
  }

  /** The shard that bound the pod, from its Scheduled Event. */
  async function binderOf(name: string): Promise<string> {
    return waitFor(
      `the Scheduled Event of ${name}`,
      async () => (await suite.events(name, "Scheduled"))[0]?.reportingInstance || undefined,
      15_000,
    );
  }

  it("a pod created with an owner annotation and an Owner condition is scheduled by its ring owner", async () => {
    await poolForBoth("created");
    const name = podOwnedBy(0, "created");
    const body = suite.pod(name, { pool: "created", cpu: "100m" });
    body.metadata = { ...body.metadata, annotations: { "sharded-scheduler.io/owner": shards[1] as string } };
    // The API server drops the status a pod is created with.
    const forged = { ...body, status: { conditions: [forgedCondition(shards[1] as string)] } };
    const created = await tenant.call<k8s.V1Pod>(
      "POST",
      `/api/v1/namespaces/${suite.namespace}/pods`,
      forged,
    );
    expect(created.status).toBe(201);
    expect(created.body.status?.conditions?.find((c) => c.type === ownerType)).toBeUndefined();
    await suite.waitBound([name], 20_000);
    expect(await binderOf(name)).toBe(shards[0]);
  });

  it("a tenant may annotate its pending pod, which moves nothing, and may not write its status", async () => {
    const name = podOwnedBy(1, "annotated");
    const created = await tenant.call(
      "POST",
      `/api/v1/namespaces/${suite.namespace}/pods`,
      suite.pod(name, { pool: "annotated", cpu: "100m" }),
    );
    expect(created.status).toBe(201);
    // No node in its pool yet: its ring owner says why it waits.
    await suite.waitUnschedulable(name, /./);
    const annotate = { metadata: { annotations: { "sharded-scheduler.io/owner": shards[0] } } };
    expect((await tenant.call("PATCH", podPath(name), annotate, mergePatch)).status).toBe(200);
    const pin = { status: { conditions: [forgedCondition(shards[0] as string)] } };
    expect((await tenant.call("PATCH", `${podPath(name)}/status`, pin, strategicMerge)).status).toBe(403);
    expect((await tenant.call("PATCH", `${podPath(name)}/status`, pin, mergePatch)).status).toBe(403);
    // Status sent to the pod itself is accepted and dropped.
    expect((await tenant.call("PATCH", podPath(name), pin, strategicMerge)).status).toBe(200);
    const pod = await read(name);
    expect(pod.metadata?.annotations?.["sharded-scheduler.io/owner"]).toBe(shards[0]);
    expect(pod.status?.conditions?.find((c) => c.type === ownerType)).toBeUndefined();
    await poolForBoth("annotated");
    await suite.waitBound([name], 20_000);
    expect(await binderOf(name)).toBe(shards[1]);
  });

  it("the Owner condition the coordinator writes moves the pod, and keeps its PodScheduled condition", async () => {
    const name = podOwnedBy(1, "pinned");
    await suite.create(suite.pod(name, { pool: "pinned", cpu: "100m" }));
    const waiting = await suite.waitUnschedulable(name, /./);
    // What the coordinator sends (its RBAC has pods/status patch): one condition type, merged by type.
    const pin = {
      status: {
        conditions: [ownerCondition({ shard: shards[0] as string, reason: "HandedOff", epoch }, Date.now())],
      },
    };
    const answer = await admin.call<k8s.V1Pod>("PATCH", `${podPath(name)}/status`, pin, strategicMerge);
    expect(answer.status).toBe(200);
    // The pod as the patch left it (its new owner may write its own Unschedulable message next).
    const conditions = answer.body.status?.conditions ?? [];
    expect(conditions.find((c) => c.type === "PodScheduled")).toMatchObject({
      status: "False",
      reason: "Unschedulable",
      message: waiting,
    });
    expect(conditions.find((c) => c.type === ownerType)).toMatchObject({
      status: "True",
      reason: "HandedOff",
      message: `shard=${shards[0]} epoch=${epoch}`,
    });
    await poolForBoth("pinned");
    await suite.waitBound([name], 20_000);
    expect(await binderOf(name)).toBe(shards[0]);
    // Binding sets PodScheduled=True and keeps the Owner condition.
    const bound = (await read(name)).status?.conditions ?? [];
    expect(bound.find((c) => c.type === "PodScheduled")?.status).toBe("True");
    expect(bound.find((c) => c.type === ownerType)?.status).toBe("True");
  });
});
