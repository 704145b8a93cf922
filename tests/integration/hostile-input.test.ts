/**
 * Hostile input on the real API server and Redis, with 2 shards and a coordinator: whatever
 * someone writes into the objects they read, every shard and coordinator stays up (the process
 * runs, /healthz answers) and the shards still schedule a normal pod afterwards. What cannot be
 * read is skipped and counted (sharded_scheduler_invalid_objects_total on shards,
 * sharded_scheduler_coordinator_invalid_objects_total on coordinators); a malformed ring Lease
 * is replaced by the shards' next ring proposal.
 *
 * One describe per class of input; add a class as a describe of its own. The last, a tenant
 * forging which shard schedules its pods, runs a scheduler suite of its own.
 */
import * as k8s from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ringEpochAnnotation,
  ringLeaseName,
  ringMembersAnnotation,
  ringNodeOwnersAnnotation,
  summaryKey,
} from "../../scheduler/src/contracts/keys.js";
import { ownerCondition } from "../../scheduler/src/contracts/owner-condition.js";
import { groupKey } from "../../scheduler/src/core/gang/index.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import type { RunningCoordinator } from "../support/coordinator.js";
import { schedulerKubeConfig, testKubeConfig } from "../support/kube.js";
import { metricValue } from "../support/metrics.js";
import { redisUrl } from "../support/redis.js";
import { schedulerSuite } from "../support/suite.js";
import { holdsFor, waitFor } from "../support/wait.js";

const leaseMs = 4_000;
const shardArgs = [
  `--lease-duration-ms=${leaseMs}`,
  "--lease-renew-ms=1000",
  "--handover-settle-ms=500",
  "--summary-interval-ms=250",
];
const coordinatorArgs = [
  `--lease-duration-ms=${leaseMs}`,
  "--lease-renew-ms=1000",
  "--stuck-after-ms=1500",
  "--interval-ms=250",
];
/** Each shard crashed within 6 s of a bad ring Lease before: watch them for longer. */
const aliveForMs = 7_000;

const suite = schedulerSuite("hostile", { shardArgs, redis: true });
let shards: string[];
let coordinator: RunningCoordinator;
let redis: Redis;
let normalPods = 0;

beforeAll(async () => {
  await suite.startReplica(1, shardArgs);
  shards = [0, 1].map((ordinal) => `${suite.id}-${ordinal}`);
  await suite.addNodes("pool", 6);
  redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  coordinator = await suite.startCoordinator("a", coordinatorArgs);
  await waitFor(
    "the coordinator to lead",
    async () => ((await coordinator.isLeader()) ? true : undefined),
    3 * leaseMs,
  );
  await ringOfBothShards();
}, 60_000);

afterAll(() => {
  redis?.disconnect();
});

const ringName = () => `${suite.id}-ring`;

/**
 * The ring Lease as the test reads it (its own reading, not the product's): the epoch, and
 * whether it is the well-formed ring of exactly both shards without lends.
 */
async function readRing(): Promise<{
  epoch: number;
  ofBothShards: boolean;
  annotations: Record<string, string>;
}> {
  const lease = await suite.coordination.readNamespacedLease({ name: ringName(), namespace: "default" });
  const annotations = lease.metadata?.annotations ?? {};
  const epoch = annotations[ringEpochAnnotation] ?? "";
  return {
    epoch: /^\d{1,15}$/.test(epoch) ? Number(epoch) : Number.NaN,
    ofBothShards:
      /^\d{1,15}$/.test(epoch) &&
      annotations[ringMembersAnnotation] === shards.join(",") &&
      annotations[ringNodeOwnersAnnotation] === "{}",
    annotations,
  };
}

/** Waits until the ring Lease is well-formed and lists both shards. */
async function ringOfBothShards(): Promise<void> {
  await waitFor(
    "a well-formed ring Lease of both shards",
    async () => {
      const ring = await readRing();
      if (ring.ofBothShards) return true;
      throw new Error(`annotations ${JSON.stringify(ring.annotations).slice(0, 300)}`);
    },
    20_000,
  );
}

async function patchRing(annotations: Record<string, string>): Promise<void> {
  await suite.coordination.patchNamespacedLease(
    { name: ringName(), namespace: "default", body: { metadata: { annotations } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
}

/** Every shard and coordinator keeps running and answering /healthz for `ms`. */
async function allStayAlive(ms = aliveForMs): Promise<void> {
  await holdsFor(
    "every shard and coordinator alive",
    async () => {
      for (const proc of [...suite.shards, ...suite.coordinators]) {
        expect(proc.running(), `${proc.identity} runs:\n${proc.tail(20)}`).toBe(true);
        expect((await proc.get("/healthz")).status, `${proc.identity} /healthz`).toBe(200);
      }
    },
    ms,
  );
}

/** A plain pod is still bound (by whichever shard owns it). */
async function schedulesANormalPod(): Promise<void> {
  const name = `normal-${normalPods++}`;
  await suite.create(suite.pod(name, { pool: "pool", cpu: "100m" }));
  await suite.waitBound([name], 30_000);
}

async function shardsCount(kind: string): Promise<number[]> {
  return Promise.all(
    suite.shards.map(async (shard) =>
      metricValue(await shard.metrics(), "sharded_scheduler_invalid_objects_total", { kind }),
    ),
  );
}

/** Writes the ring Lease annotations, then checks that the shards skipped it and replaced it. */
async function survivesRing(annotations: Record<string, string>): Promise<void> {
  const before = await shardsCount("ring-lease");
  await patchRing(annotations);
  await allStayAlive();
  const after = await shardsCount("ring-lease");
  expect(
    after.every((count, i) => count > (before[i] ?? 0)),
    `counted ${before} -> ${after}`,
  ).toBe(true);
  await ringOfBothShards();
  await schedulesANormalPod();
}

describe("ring Lease members annotation", () => {
  it.each([
    ["__proto__", () => `__proto__,${shards.join(",")}`],
    ["garbage", () => `${shards.join(",")},Not A Shard!,`],
    ["a 100 KB member", () => `${shards.join(",")},${"x".repeat(100_000)}`],
  ])("%s: skipped, replaced, nobody crashes", async (_, members) => {
    await survivesRing({ [ringMembersAnnotation]: members() });
  });

  it("a well-formed member that has no Lease is confirmed dead and dropped: binding does not wait on it forever", async () => {
    await patchRing({ [ringMembersAnnotation]: `${shards.join(",")},ghost-shard` });
    await allStayAlive(2_000);
    await ringOfBothShards();
    await schedulesANormalPod();
  });

  it("a shard restarted while the ring Lease is malformed starts, and the ring is replaced", async () => {
    const replica = suite.shards.find((shard) => shard.identity === shards[1]);
    if (!replica) throw new Error(`no shard ${shards[1]}`);
    await replica.stop();
    suite.shards.splice(suite.shards.indexOf(replica), 1);
    await patchRing({ [ringMembersAnnotation]: `__proto__,${shards.join(",")}` });
    const restarted = await suite.startReplica(1, shardArgs);
    expect(restarted.running()).toBe(true);
    await allStayAlive();
    await ringOfBothShards();
    await schedulesANormalPod();
  });
});

describe("ring Lease node owners annotation", () => {
  it.each([
    ['{"__proto__":"x"}', '{"__proto__":{"polluted":"yes"}}'],
    ["not JSON", "{node: shard}"],
    ["an owner that is not a string", '{"node-a":5}'],
    ["a list", "[1,2]"],
  ])("%s: skipped, replaced, nobody crashes", async (_, owners) => {
    await survivesRing({ [ringNodeOwnersAnnotation]: owners });
  });
});

describe("ring Lease epoch annotation", () => {
  it.each([
    ["beyond 2^53 - 1", "9007199254740993"],
    ["in exponent notation", "1e3"],
    ["negative", "-1"],
    ["not a number", "three"],
  ])("%s: skipped, replaced, nobody crashes", async (_, epoch) => {
    const before = await readRing();
    await survivesRing({ [ringEpochAnnotation]: epoch });
    // The replacement's epoch is above every epoch the shards acknowledged: it cannot go back.
    expect((await readRing()).epoch).toBeGreaterThan(before.epoch);
  });
});

describe("capacity summary in Redis", () => {
  it.each([
    ["not JSON", () => "{"],
    ["stuck reports that are not a list", () => JSON.stringify({ shard: shards[0], epoch: 1, stuck: null })],
    [
      "a stuck report without members",
      () =>
        JSON.stringify({
          shard: shards[0],
          epoch: 1,
          publishedAt: 0,
          classes: [],
          nodes: [],
          stuck: [{ id: "group:x/y", namespace: "x", name: "y", since: 0 }],
        }),
    ],
    [
      "__proto__ keys",
      () =>
        `{"__proto__":{"shard":"x"},"shard":"${shards[0]}","epoch":1,"publishedAt":0,"stuck":[],` +
        `"classes":[{"labels":{"__proto__":"x"},"taints":[]}],"nodes":[{"name":"n","class":0,"free":{"__proto__":1},"freeable":[]}]}`,
    ],
  ])("%s: skipped by the coordinator, nobody crashes", async (_, body) => {
    const counted = async () =>
      metricValue(await coordinator.metrics(), "sharded_scheduler_coordinator_invalid_objects_total", {
        kind: "capacity-summary",
      });
    const before = await counted();
    // The shard writes its own summary over it when it changes: write it until the coordinator read it.
    const key = summaryKey(suite.id, shards[0] as string);
    await waitFor(
      "the coordinator to count the summary",
      async () => {
        await redis.set(key, body(), "PX", 30_000);
        return (await counted()) > before ? true : undefined;
      },
      10_000,
    );
    await allStayAlive();
    await schedulesANormalPod();
  });
});

describe("pod group names", () => {
  it("a pod whose group name is 200 KB long disturbs no one", async () => {
    const group = "g".repeat(200_000);
    // One that fits, one nothing fits (reported stuck to the coordinator, its name in the summary).
    await suite.create(suite.pod("long-group-fits", { pool: "pool", cpu: "100m", group }));
    await suite.create(suite.pod("long-group-stuck", { pool: "pool", cpu: "64", group: `${group}-stuck` }));
    await allStayAlive();
    await schedulesANormalPod();
  });
});

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
    tenant = await KubeClient.create(schedulerKubeConfig(await tenantKubeConfig()));
    admin = await KubeClient.create(schedulerKubeConfig(testKubeConfig()));
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
