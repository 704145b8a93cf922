/**
 * The shard as a client of the real API server:
 *   - its User-Agent, `sharded-scheduler/<version> (<identity>)`, is what the API server's audit
 *     log records for its binds and Lease renewals, as `coordinator/<pod>` for the coordinator's
 *     Lease writes and `status` for the status command's reads (the local control plane audits
 *     binds, evictions and the Leases in "default");
 *   - API Priority and Fairness: a FlowSchema sends the shard's binds to a priority level that
 *     admits nothing while another request of that level executes (a request held by a slow
 *     admission webhook, the test's); the API server answers 429 + Retry-After, the shard waits
 *     and sends again, the pod stays pending without a failure, and once the FlowSchema is gone
 *     the bind completes;
 *   - an eviction refused by a PodDisruptionBudget is reported as such, the victim keeps running,
 *     the preemptor is not lost, and it gets its room once the budget allows.
 * APF matches requests by user, group or service account, never by User-Agent: the shard under
 * APF runs with a ServiceAccount's token of its own (the suite's shards run as cluster-admin,
 * whom the mandatory `exempt` FlowSchema exempts).
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadKubeConfig } from "../../scheduler/src/config/kubeconfig.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { schedulerVersion, userAgent } from "../../scheduler/src/kube/user-agent.js";
import { selfSignedCertificate } from "../../scheduler/src/serving/self-signed-cert.js";
import { auditLogPath } from "../cluster/local/local-cluster.js";
import { shardEntry } from "../stack/stack.js";
import { schedulerKubeConfig, testKubeConfig } from "../support/kube.js";
import { metricValue, type RunningShard } from "../support/shard.js";
import { scheduledCondition, schedulerSuite } from "../support/suite.js";
import { holdsFor, waitFor } from "../support/wait.js";

const suite = schedulerSuite("api-client");
let admin: KubeClient;
/** Cluster-scoped objects this file created, deleted after it (paths). */
const clusterScoped: string[] = [];

beforeAll(async () => {
  admin = await KubeClient.create(schedulerKubeConfig(testKubeConfig()));
});
afterAll(async () => {
  for (const path of clusterScoped.reverse()) await admin.call("DELETE", path).catch(() => undefined);
  admin.close();
});

/** Creates a cluster-scoped object (deleted after the file) and returns its path. */
async function createClusterScoped(
  collection: string,
  body: { metadata: { name: string } },
): Promise<string> {
  await admin.must("POST", collection, body);
  const path = `${collection}/${body.metadata.name}`;
  clusterScoped.push(path);
  return path;
}

interface AuditEvent {
  verb: string;
  userAgent?: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

/** The local control plane's audit log (binds, evictions, Leases in "default"), parsed. */
function auditEvents(): AuditEvent[] {
  const text = readFileSync(auditLogPath(inject("clusterDir")), "utf8");
  return text
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as AuditEvent);
}

const ownCluster = inject("ownCluster");

describe("User-Agent", () => {
  it.skipIf(!ownCluster)(
    "is what the API server's audit log records for the shard's binds and Lease renewals",
    async () => {
      await suite.addNodes("ua", 1);
      await suite.create(suite.pod("ua-0", { pool: "ua" }));
      await suite.waitBound(["ua-0"]);
      const expected = `sharded-scheduler/${schedulerVersion} (${suite.shard.identity})`;
      expect(expected).toBe(userAgent(suite.shard.identity));
      const bind = await waitFor(
        "the bind in the audit log",
        async () =>
          auditEvents().find(
            (e) =>
              e.objectRef?.subresource === "binding" &&
              e.objectRef.namespace === suite.namespace &&
              e.objectRef.name === "ua-0",
          ),
        10_000,
      );
      expect(bind.verb).toBe("create");
      expect(bind.responseStatus?.code).toBe(201);
      expect(bind.userAgent).toBe(expected);
      // The shard's own Lease is renewed (merge patches) through its lease client, which says the same.
      const writes = await waitFor(
        "a renewal of the shard's Lease in the audit log",
        async () => {
          const found = auditEvents().filter(
            (e) =>
              (e.verb === "create" || e.verb === "patch") &&
              e.objectRef?.resource === "leases" &&
              e.objectRef.namespace === "default" &&
              e.objectRef.name === suite.shard.identity,
          );
          return found.some((e) => e.verb === "patch") ? found : undefined;
        },
        15_000,
      );
      expect(new Set(writes.map((e) => e.userAgent))).toEqual(new Set([expected]));
    },
  );

  it.skipIf(!ownCluster)("names the coordinator and the status command as such", async () => {
    const coordinator = await suite.startCoordinator("ua");
    const leaderLease = `${suite.id}-coordinator`;
    const writes = await waitFor(
      "the coordinator's leader Lease written",
      async () => {
        const found = auditEvents().filter(
          (e) =>
            (e.verb === "create" || e.verb === "update") &&
            e.objectRef?.resource === "leases" &&
            e.objectRef.namespace === "default" &&
            e.objectRef.name === leaderLease,
        );
        return found.length > 0 ? found : undefined;
      },
      20_000,
    );
    expect(new Set(writes.map((e) => e.userAgent))).toEqual(
      new Set([userAgent(`coordinator/${coordinator.identity}`)]),
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        shardEntry,
        "status",
        `--kubeconfig=${inject("kubeconfig")}`,
        `--scheduler-name=${suite.id}`,
        "--namespace=default",
        "--json",
      ],
      { timeout: 30_000 },
    );
    expect(JSON.parse(stdout)).toHaveProperty("shards");
    await waitFor(
      "the status command's reads in the audit log",
      async () =>
        auditEvents().some(
          (e) =>
            e.verb === "list" &&
            e.objectRef?.resource === "leases" &&
            e.objectRef.namespace === "default" &&
            e.userAgent === userAgent("status"),
        ) || undefined,
      10_000,
    );
  });
});

/**
 * A slow admission webhook: every request it is asked about is held until release() (or 25 s),
 * which keeps that request executing, and its priority level's seat taken.
 */
async function holdingWebhook() {
  const certificate = selfSignedCertificate("api-client-test-webhook", ["127.0.0.1"]);
  const held: (() => void)[] = [];
  const server: Server = createServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const uid = (JSON.parse(body) as { request?: { uid?: string } }).request?.uid;
      let answered = false;
      const answer = () => {
        if (answered) return;
        answered = true;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            apiVersion: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            response: { uid, allowed: true },
          }),
        );
      };
      held.push(answer);
      setTimeout(answer, 25_000).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/hold`,
    caBundle: Buffer.from(certificate.cert).toString("base64"),
    holding: () => held.length,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    close: () => server.close(),
  };
}

/** A kubeconfig file for a ServiceAccount's token, against the cluster under test. */
function serviceAccountKubeconfig(token: string): string {
  const cluster = testKubeConfig().getCurrentCluster();
  if (!cluster) throw new Error("no current cluster");
  const ca = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString("base64") : undefined);
  const file = join(inject("clusterDir") || "/tmp", `api-client-${suite.id}.kubeconfig`);
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: cluster.server, "certificate-authority-data": ca } }],
    users: [{ name: "u", user: { token } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  };
  writeFileSync(file, JSON.stringify(kubeconfig), { mode: 0o600 });
  return file;
}

describe("API Priority and Fairness", () => {
  let webhook: Awaited<ReturnType<typeof holdingWebhook>> | undefined;
  afterAll(() => {
    webhook?.release();
    webhook?.close();
  });

  it("a bind answered 429 waits Retry-After, is sent again, fails nothing, and completes once the API server takes it", async () => {
    const account = "apf-shard";
    const { namespace, id } = suite;
    await admin.must("POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, {
      metadata: { name: account },
    });
    await createClusterScoped("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: `${id}-apf-shard` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: account, namespace }],
    } as { metadata: { name: string } });
    const { status } = await admin.must<{ status: { token: string } }>(
      "POST",
      `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    );
    const kubeconfig = serviceAccountKubeconfig(status.token);

    // A priority level with no seat of its own and none to borrow: a request runs only while no
    // other of the level does (APF admits one request wider than the limit into an idle level).
    await createClusterScoped("/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations", {
      metadata: { name: `${id}-nothing` },
      spec: {
        type: "Limited",
        limited: {
          nominalConcurrencyShares: 0,
          lendablePercent: 0,
          borrowingLimitPercent: 0,
          limitResponse: { type: "Reject" },
        },
      },
    } as { metadata: { name: string } });
    // Its traffic: the ServiceAccount's binds, and its ConfigMap creates in the test namespace
    // (one of which the webhook holds, so that the level is never idle).
    const flowSchema = await createClusterScoped("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas", {
      metadata: { name: `${id}-binds` },
      spec: {
        priorityLevelConfiguration: { name: `${id}-nothing` },
        matchingPrecedence: 200,
        distinguisherMethod: { type: "ByUser" },
        rules: [
          {
            subjects: [{ kind: "ServiceAccount", serviceAccount: { name: account, namespace } }],
            resourceRules: [
              { verbs: ["create"], apiGroups: [""], resources: ["pods/binding"], namespaces: ["*"] },
              { verbs: ["create"], apiGroups: [""], resources: ["configmaps"], namespaces: [namespace] },
            ],
          },
        ],
      },
    } as { metadata: { name: string } });
    webhook = await holdingWebhook();
    await createClusterScoped("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
      metadata: { name: `${id}-hold` },
      webhooks: [
        {
          name: "hold.api-client.test.sharded-scheduler.io",
          clientConfig: { url: webhook.url, caBundle: webhook.caBundle },
          rules: [
            {
              operations: ["CREATE"],
              apiGroups: [""],
              apiVersions: ["v1"],
              resources: ["configmaps"],
              scope: "Namespaced",
            },
          ],
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
          objectSelector: { matchLabels: { "api-client-test": "hold" } },
          sideEffects: "None",
          admissionReviewVersions: ["v1"],
          timeoutSeconds: 30,
          failurePolicy: "Ignore",
        },
      ],
    } as { metadata: { name: string } });

    await suite.addNodes("apf", 1);
    const shard: RunningShard = await suite.startShard("apf", [`--kubeconfig=${kubeconfig}`]);
    // As the shard's account, but taking a 429 for an answer.
    const asAccount = await KubeClient.create(loadKubeConfig({ kubeconfig }), {
      timeoutMs: 60_000,
      throttleWaitMs: 0,
    });
    try {
      // The held request: it takes the level's only (overflow) seat until the webhook answers.
      const holder = asAccount.call("POST", `/api/v1/namespaces/${namespace}/configmaps`, {
        metadata: { name: "holder", labels: { "api-client-test": "hold" } },
      });
      await waitFor(
        "the webhook to hold the request",
        async () => (webhook?.holding() ? true : undefined),
        15_000,
      );
      // The FlowSchema is in force once a bind by the account is throttled (a pod nobody has: 429, not 404).
      await waitFor(
        "the API server to throttle the account's binds",
        async () => {
          const res = await asAccount.call("POST", `/api/v1/namespaces/${namespace}/pods/nobody/binding`, {
            apiVersion: "v1",
            kind: "Binding",
            metadata: { name: "nobody" },
            target: { kind: "Node", name: "x" },
          });
          return res.status === 429 ? res : undefined;
        },
        15_000,
      ).then((res) => expect(res.retryAfter).toMatch(/^\d+$/));

      await suite.create(suite.pod("throttled", { pool: "apf", schedulerName: shard.schedulerName }));
      const retries = () =>
        shard.metrics().then((text) =>
          metricValue(text, "sharded_scheduler_rest_client_request_retries_total", {
            code: "429",
            method: "POST",
          }),
        );
      await waitFor(
        "binds retried after 429",
        async () => ((await retries()) >= 2 ? true : undefined),
        20_000,
      );
      await holdsFor(
        "the pod to stay pending without a failure",
        async () => {
          const pod = (await suite.pods()).get("throttled");
          if (pod?.spec?.nodeName) throw new Error(`bound to ${pod.spec.nodeName}`);
          const condition = pod && scheduledCondition(pod);
          if (condition?.status === "False") throw new Error(`PodScheduled False: ${condition.message}`);
        },
        2_000,
      );
      const text = await shard.metrics();
      expect(
        metricValue(text, "sharded_scheduler_rest_client_requests_total", { code: "429", method: "POST" }),
      ).toBeGreaterThanOrEqual(2);
      expect(metricValue(text, "sharded_scheduler_bind_errors_total")).toBe(0);
      expect((await suite.events("throttled")).filter((e) => e.type === "Warning")).toEqual([]);
      if (ownCluster) {
        const throttled = await waitFor(
          "the throttled binds in the audit log",
          async () => {
            const found = auditEvents().filter(
              (e) =>
                e.objectRef?.subresource === "binding" &&
                e.objectRef.namespace === namespace &&
                e.objectRef.name === "throttled",
            );
            return found.filter((e) => e.responseStatus?.code === 429).length >= 2 ? found : undefined;
          },
          10_000,
        );
        expect(new Set(throttled.map((e) => e.userAgent))).toEqual(new Set([userAgent(shard.identity)]));
        expect(throttled[0]?.user.username).toBe(`system:serviceaccount:${namespace}:${account}`);
      }

      // The API server takes the binds again: the pod is bound, nothing failed on the way.
      await admin.must("DELETE", flowSchema);
      webhook.release();
      expect((await holder).status).toBe(201);
      await suite.waitBound(["throttled"], 40_000);
      const after = await shard.metrics();
      expect(metricValue(after, "sharded_scheduler_bind_errors_total")).toBe(0);
      const events = await suite.events("throttled");
      expect(events.filter((e) => e.type === "Warning")).toEqual([]);
      expect(events.map((e) => e.reason)).toContain("Scheduled");
    } finally {
      asAccount.close();
    }
  });
});

describe("an eviction a PodDisruptionBudget refuses", () => {
  it("is reported as such; the victim keeps running; the preemptor gets its room once the budget allows", async () => {
    const [low, high] = await Promise.all([
      suite.priorityClass("low", 100),
      suite.priorityClass("high", 1000),
    ]);
    await suite.addNodes("budget", 1, { cpu: "4" });
    const app = `${suite.id}-guarded`;
    const guarded = ["guarded-0", "guarded-1"];
    await suite.create(
      guarded.map((name) =>
        suite.pod(name, { pool: "budget", cpu: "2", priorityClass: low, labels: { app } }),
      ),
    );
    const placements = await suite.waitBound(guarded);
    // One disruption allowed: each victim alone is evictable, so the plan takes both; the
    // Eviction API lets one go and refuses the other.
    await suite.policy.createNamespacedPodDisruptionBudget({
      namespace: suite.namespace,
      body: { metadata: { name: "guard" }, spec: { minAvailable: 1, selector: { matchLabels: { app } } } },
    });
    await waitFor(
      "the disruption controller to allow one disruption",
      async () => {
        const pdb = await suite.policy.readNamespacedPodDisruptionBudget({
          name: "guard",
          namespace: suite.namespace,
        });
        return pdb.status?.currentHealthy === 2 && pdb.status.disruptionsAllowed === 1 ? true : undefined;
      },
      30_000,
    );
    // The shard's watch brings the budget's status too.
    await sleep(1_000);
    await suite.create(suite.pod("preemptor", { pool: "budget", cpu: "4", priorityClass: high }));

    const evictions = (result: string) =>
      suite.shard
        .metrics()
        .then((text) => metricValue(text, "sharded_scheduler_evictions_total", { result }));
    await waitFor(
      "a refusal",
      async () => ((await evictions("disruption_budget")) >= 1 ? true : undefined),
      20_000,
    );
    expect(await evictions("evicted")).toBe(1);
    expect(await evictions("error")).toBe(0);
    const pods = await suite.pods();
    const kept = guarded.filter((name) => pods.get(name) && !pods.get(name)?.metadata?.deletionTimestamp);
    expect(kept).toHaveLength(1);
    const survivor = kept[0] as string;
    expect(readFileSync(suite.shard.log, "utf8")).toContain(
      "eviction refused by the victim's PodDisruptionBudget; the victim keeps running",
    );
    if (ownCluster) {
      await waitFor(
        "the refused eviction in the audit log, with our User-Agent",
        async () =>
          auditEvents().some(
            (e) =>
              e.objectRef?.subresource === "eviction" &&
              e.objectRef.namespace === suite.namespace &&
              e.objectRef.name === survivor &&
              e.responseStatus?.code === 429 &&
              e.userAgent === userAgent(suite.shard.identity),
          ) || undefined,
        10_000,
      );
    }
    // Not asked again in a loop: the budget counts as exhausted, and the preemptor, still
    // pending, says the remaining victim is protected.
    await suite.waitUnschedulable(
      "preemptor",
      /1 lower-priority group\(s\) protected by a PodDisruptionBudget/,
    );
    await suite.staysBound({ [survivor]: placements[survivor] as string }, 3_000);
    expect(await evictions("disruption_budget")).toBe(1);
    await suite.staysPending(["preemptor"], 500);

    // The budget goes: the preemptor is tried again, evicts the survivor and is bound.
    await suite.policy.deleteNamespacedPodDisruptionBudget({ name: "guard", namespace: suite.namespace });
    await suite.waitBound(["preemptor"], 30_000);
    await suite.waitGone([survivor]);
    expect(await evictions("evicted")).toBe(2);
  });
});
