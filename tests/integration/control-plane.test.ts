/** Proves the local control plane is a real Kubernetes, not a stand-in. */
import { execFileSync } from "node:child_process";
import { createConnection } from "node:net";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { toolPaths } from "../cluster/local/layout.js";
import { createTestNamespace, deleteNamespace, statusOf, testClients } from "../support/kube.js";
import { waitFor } from "../support/wait.js";

const { kc, core, apps, rbac } = testClients();
let namespace = "";

beforeAll(async () => {
  namespace = await createTestNamespace(core, "smoke");
  // The ServiceAccount admission plugin rejects pods until the default ServiceAccount exists.
  await waitFor(
    "default ServiceAccount",
    async () => core.readNamespacedServiceAccount({ name: "default", namespace }).then(() => true),
    60_000,
  );
});
afterAll(async () => deleteNamespace(core, namespace));

const isReady = (conditions?: { type: string; status: string }[]) =>
  conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

describe("local control plane", () => {
  it("serves a real Kubernetes v1.35+ and kubectl reports it", async () => {
    const info = await kc.makeApiClient(k8s.VersionApi).getCode();
    expect(info.gitVersion).toMatch(/^v1\.(3[5-9]|[4-9]\d)\.\d+$/);
    const kubectlOut = execFileSync(
      toolPaths().kubectl,
      ["--kubeconfig", inject("kubeconfig"), "version", "-o", "json"],
      {
        encoding: "utf8",
      },
    );
    const reported = JSON.parse(kubectlOut) as { serverVersion: { gitVersion: string } };
    expect(reported.serverVersion.gitVersion).toBe(info.gitVersion);
  });

  it("has Ready fake nodes managed by KWOK", async () => {
    const nodes = await core.listNode({ labelSelector: "type=kwok" });
    expect(nodes.items.length).toBeGreaterThanOrEqual(1);
    for (const node of nodes.items) {
      expect(isReady(node.status?.conditions), `${node.metadata?.name} Ready`).toBe(true);
      expect(node.status?.allocatable?.cpu).toBeDefined();
    }
  });

  it("runs a pod bound through the Binding subresource", async () => {
    const nodes = await core.listNode({ labelSelector: "type=kwok" });
    const nodeName = nodes.items[0]?.metadata?.name as string;
    // A scheduler name nobody serves: only our explicit Binding places this pod.
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "bound-by-hand" },
        spec: {
          schedulerName: "nobody",
          containers: [
            { name: "c", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "100m" } } },
          ],
        },
      },
    });
    await core.createNamespacedPodBinding({
      name: "bound-by-hand",
      namespace,
      body: { metadata: { name: "bound-by-hand" }, target: { kind: "Node", name: nodeName } },
    });
    const pod = await waitFor(
      "the bound pod to run",
      async () => {
        const p = await core.readNamespacedPod({ name: "bound-by-hand", namespace });
        return p.status?.phase === "Running" && isReady(p.status.conditions) ? p : undefined;
      },
      60_000,
    );
    expect(pod.spec?.nodeName).toBe(nodeName);
    // A second bind of the same pod is refused by the API server (409): binding is atomic.
    const second = await core
      .createNamespacedPodBinding({
        name: "bound-by-hand",
        namespace,
        body: { metadata: { name: "bound-by-hand" }, target: { kind: "Node", name: nodeName } },
      })
      .then(() => 201, statusOf);
    expect(second).toBe(409);
  });

  it("creates StatefulSet pods that kube-scheduler places and KWOK runs", async () => {
    await apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 2,
          serviceName: "web",
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] },
          },
        },
      },
    });
    await waitFor(
      "2 ready StatefulSet replicas",
      async () => {
        const sts = await apps.readNamespacedStatefulSet({ name: "web", namespace });
        return sts.status?.readyReplicas === 2 ? true : undefined;
      },
      90_000,
    );
    const pods = await core.listNamespacedPod({ namespace, labelSelector: "app=web" });
    expect(pods.items.map((p) => p.metadata?.name).sort()).toEqual(["web-0", "web-1"]);
    for (const pod of pods.items) {
      expect(pod.spec?.nodeName).toBeTruthy();
      expect(pod.spec?.schedulerName).toBe("default-scheduler");
    }
  });

  it("denies a ServiceAccount without rights (RBAC)", async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "nobody" } } });
    const token = await core.createNamespacedServiceAccountToken({
      name: "nobody",
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const restricted = new k8s.KubeConfig();
    restricted.loadFromOptions({
      clusters: [kc.getCurrentCluster() as k8s.Cluster],
      users: [{ name: "nobody", token: token.status?.token as string }],
      contexts: [{ name: "nobody", cluster: kc.getCurrentCluster()?.name as string, user: "nobody" }],
      currentContext: "nobody",
    });
    const asNobody = restricted.makeApiClient(k8s.CoreV1Api);
    expect(await asNobody.listNamespacedPod({ namespace }).then(() => 200, statusOf)).toBe(403);
    // Granting the right makes the same call pass, so the 403 above was RBAC and not a broken token.
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "pod-reader" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "nobody-reads-pods" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
        subjects: [{ kind: "ServiceAccount", name: "nobody", namespace }],
      },
    });
    await waitFor(
      "the RoleBinding to take effect",
      async () =>
        asNobody.listNamespacedPod({ namespace }).then(
          () => true,
          () => undefined,
        ),
      30_000,
    );
  });

  it.skipIf(!inject("redisUrl"))("runs Redis on loopback", async () => {
    const url = new URL(inject("redisUrl"));
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = createConnection({ host: url.hostname, port: Number(url.port) }, () =>
        socket.write("PING\r\n"),
      );
      socket.on("data", (data) => {
        resolve(data.toString());
        socket.destroy();
      });
      socket.on("error", reject);
    });
    expect(reply).toBe("+PONG\r\n");
  });
});
