/**
 * The Helm chart (charts/sharded-scheduler) on the real local control plane: lint, renders of
 * every ci/ value set the API server accepts (server-side dry run, ServiceMonitor and
 * PrometheusRule against their real CRDs, a malformed rule refused), the values operators expect
 * (image digests, extraEnv, topology spread, Node's heap limit, alert thresholds), install,
 * least-privilege RBAC proven twice — SubjectAccessReviews for every verb on every resource,
 * and the real shard and coordinator running with the chart's ServiceAccounts and ConfigMaps —,
 * `helm test` (the test plays the kubelet of helm's test pod: support/helm-test.ts), upgrade and
 * scaling, uninstall. The chart's pods are KWOK fake pods (no container runs), placed by
 * kube-scheduler onto the KWOK nodes.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { loadKubeConfig } from "../../scheduler/src/config/kubeconfig.js";
import {
  ringEpochAnnotation,
  ringLeaseName,
  ringMembersAnnotation,
} from "../../scheduler/src/contracts/keys.js";
import { groupKey } from "../../scheduler/src/core/gang/index.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import { fakeNodeLabel, fakeNodeManifest } from "../cluster/local/fake-nodes.js";
import { repoRoot, toolPaths } from "../cluster/local/layout.js";
import { freeLoopbackPort, startProcess, stopProcess } from "../cluster/local/processes.js";
import { coordinatorEntry, runtimeNodeOptions, shardEntry } from "../stack/stack.js";
import { type RunningCoordinator, startCoordinator } from "../support/coordinator.js";
import { dashboardMetrics, exportedMetrics, readDashboard } from "../support/dashboard.js";
import {
  type ChartValues,
  chartDir,
  ciValueSets,
  ciValues,
  helm,
  type KubeObject,
  kubectl,
  objectOf,
  objectsOf,
  renderChart,
  serviceAccountKubeconfig,
  serviceAccountToken,
  setFlags,
} from "../support/helm.js";
import { helmTestOnKwok, localCommand, runCommand } from "../support/helm-test.js";
import { createTestNamespace, deleteNamespace, testClients } from "../support/kube.js";
import { type RunningShard, startShard } from "../support/shard.js";
import { holdsFor, waitFor } from "../support/wait.js";

/** The image's NODE_OPTIONS (Dockerfile), which the chart's heap variable must keep. */
const imageNodeOptions = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(
  readFileSync(join(repoRoot, "Dockerfile"), "utf8"),
)?.[1];

const { kc, core, apps, rbac } = testClients();
const scheduling = kc.makeApiClient(k8s.SchedulingV1Api);
const authorization = kc.makeApiClient(k8s.AuthorizationV1Api);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);

const release = `it-helm-${randomBytes(2).toString("hex")}`;
/** The release's base name (the release name does not contain the chart's). */
const fullname = `${release}-sharded-scheduler`;
/** Unique per run, so that no other test's shard serves the pods created here. */
const schedulerName = release;
/** KWOK nodes carry no taint, only this label; the chart's pods are confined to them. */
const baseValues: ChartValues = {
  schedulerName,
  [`nodeSelector.${fakeNodeLabel.key}`]: fakeNodeLabel.value,
};
/** prometheus-operator's CRDs, so that the API server validates the chart's objects of theirs. */
const monitoringCrds = ["servicemonitors", "prometheusrules"].map((plural) => ({
  name: `${plural}.monitoring.coreos.com`,
  file: join(repoRoot, `tests/support/crds/monitoring.coreos.com_${plural}.yaml`),
}));
const instanceSelector = `app.kubernetes.io/instance=${release}`;

let namespace = "";
let workDir = "";
const createdCrds: string[] = [];
const processes: (RunningShard | RunningCoordinator)[] = [];
/** Cluster-scoped objects a test made, removed after the file. */
const createdNodes: string[] = [];
const createdPriorityClasses: string[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "helm-chart-"));
  namespace = await createTestNamespace(core, release);
  // The ServiceMonitor and PrometheusRule renders are dry-run against the real prometheus-operator schemas.
  for (const crd of monitoringCrds) {
    const present = await kubectl(["get", "crd", crd.name, "--ignore-not-found", "-o", "name"]);
    if (present.trim()) continue;
    await kubectl(["create", "-f", crd.file]);
    createdCrds.push(crd.name);
    await kubectl(["wait", "--for=condition=Established", `crd/${crd.name}`, "--timeout=30s"]);
  }
  await waitFor(
    "the default ServiceAccount",
    async () => core.readNamespacedServiceAccount({ name: "default", namespace }).then(() => true),
    60_000,
  );
});

afterAll(async () => {
  await Promise.all(processes.map((proc) => proc.stop()));
  await helm(["uninstall", release, "--namespace", namespace, "--wait"]).catch(() => undefined);
  await deleteNamespace(core, namespace);
  // Whatever cluster-scoped objects an interrupted run left behind.
  await rbac.deleteCollectionClusterRole({ labelSelector: instanceSelector }).catch(() => undefined);
  await rbac.deleteCollectionClusterRoleBinding({ labelSelector: instanceSelector }).catch(() => undefined);
  await scheduling.deleteCollectionPriorityClass({ labelSelector: instanceSelector }).catch(() => undefined);
  for (const crd of createdCrds) await kubectl(["delete", "crd", crd, "--ignore-not-found"]);
  for (const name of createdNodes) await core.deleteNode({ name }).catch(() => undefined);
  for (const name of createdPriorityClasses)
    await scheduling.deletePriorityClass({ name }).catch(() => undefined);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// --- rendering ----------------------------------------------------------------------------------

// The value sets of the chart's ci/ folder (chart-testing's), each a file over baseValues.
const externalRedis = [ciValues("external-redis")];
const sentinelRedis = [ciValues("sentinel-redis")];
const metricsBehindPolicy = [ciValues("metrics-networkpolicy")];
const metricsWithSecrets = [ciValues("metrics-secrets")];
const monitoring = [ciValues("monitoring")];

/** The ClusterRole rules /metrics behind RBAC needs (serving/metrics-access.ts). */
const reviewRules = [
  { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
  { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
];
const workloadsOf = (objects: readonly KubeObject[]) => [
  ...objectsOf<k8s.V1StatefulSet>(objects, "StatefulSet"),
  ...objectsOf<k8s.V1Deployment>(objects, "Deployment"),
];
const podSpecOf = (workload: k8s.V1StatefulSet | k8s.V1Deployment) =>
  workload.spec?.template.spec as k8s.V1PodSpec;
const containerOf = (workload: k8s.V1StatefulSet | k8s.V1Deployment) =>
  podSpecOf(workload).containers[0] as k8s.V1Container;
const envOf = (workload: k8s.V1StatefulSet | k8s.V1Deployment, name: string) =>
  containerOf(workload).env?.find((env) => env.name === name);
const clusterScoped = new Set(["ClusterRole", "ClusterRoleBinding", "PriorityClass"]);

/** What every render must satisfy, whatever its values. */
function expectWellFormed(objects: readonly KubeObject[]): void {
  for (const object of objects) {
    const what = `${object.kind} ${object.metadata.name}`;
    expect(object.metadata.labels, what).toMatchObject({
      "app.kubernetes.io/name": "sharded-scheduler",
      "app.kubernetes.io/instance": release,
      "app.kubernetes.io/managed-by": "Helm",
      "app.kubernetes.io/part-of": "sharded-scheduler",
      "helm.sh/chart": expect.stringMatching(/^sharded-scheduler-/),
      "app.kubernetes.io/version": expect.any(String),
      "app.kubernetes.io/component": expect.any(String),
    });
    expect(object.metadata.namespace, what).toBe(clusterScoped.has(object.kind) ? undefined : namespace);
  }
  for (const workload of workloadsOf(objects)) {
    const what = `${workload.kind} ${workload.metadata?.name}`;
    // A StatefulSet's pods carry the label controller-revision-hash=<name>-<10 characters>.
    if (workload.kind === "StatefulSet")
      expect(workload.metadata?.name?.length, what).toBeLessThanOrEqual(52);
    const pod = podSpecOf(workload);
    // The chart's own pods are placed by the cluster's default scheduler, never by the product.
    expect(pod.schedulerName, what).toBeUndefined();
    expect(pod.priorityClassName, what).toBeTruthy();
    expect(pod.nodeSelector, what).toEqual({ [fakeNodeLabel.key]: fakeNodeLabel.value });
    expect(pod.securityContext, what).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    for (const container of pod.containers) {
      expect(container.securityContext, `${what} ${container.name}`).toEqual({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      for (const kind of ["requests", "limits"] as const)
        expect(Object.keys(container.resources?.[kind] ?? {}).sort(), `${what} ${kind}`).toEqual([
          "cpu",
          "memory",
        ]);
      expect(container.readinessProbe, what).toBeDefined();
      expect(container.livenessProbe, what).toBeDefined();
    }
  }
  const roles = [
    ...objectsOf<k8s.V1ClusterRole>(objects, "ClusterRole"),
    ...objectsOf<k8s.V1Role>(objects, "Role"),
  ];
  for (const rule of roles.flatMap((role) => role.rules ?? [])) {
    const words = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])];
    expect(words, "no wildcards").not.toContain("*");
    expect(rule.resources ?? [], "no secrets").not.toContain("secrets");
  }
}

describe("chart rendering", () => {
  it.each(ciValueSets())(
    "lints, renders and passes a server-side dry run: ci/%s-values.yaml",
    async (set) => {
      const files = [ciValues(set)];
      await helm(["lint", "--strict", chartDir, ...setFlags(baseValues, files)]);
      const { objects } = await renderChart(release, namespace, baseValues, files);
      expectWellFormed(objects);
      // Every object, ServiceMonitor, PrometheusRule and the helm test pod included, is admitted and
      // validated by the API server. Admission wants a pod's ServiceAccount to exist, which a dry
      // run does not create: the test pod is checked as the namespace's default one.
      const items = objects.map((object) =>
        object.kind === "Pod"
          ? { ...object, spec: { ...(object as k8s.V1Pod).spec, serviceAccountName: "default" } }
          : object,
      );
      const list = JSON.stringify({ apiVersion: "v1", kind: "List", items });
      const applied = await kubectl(["apply", "--dry-run=server", "--namespace", namespace, "-f", "-"], list);
      expect(applied.trim().split("\n")).toHaveLength(objects.length);
    },
  );

  it("renders the bundled Redis, its NetworkPolicy, the ServiceMonitor and the dashboard only when asked", async () => {
    const kinds = async (values: ChartValues, files: string[] = []) =>
      (await renderChart(release, namespace, { ...baseValues, ...values }, files)).objects.map(
        (o) => `${o.kind} ${o.metadata.name}`,
      );
    const defaults = await kinds({});
    expect(defaults).toEqual(
      expect.arrayContaining([
        `StatefulSet ${fullname}`,
        `Service ${fullname}`,
        `PodDisruptionBudget ${fullname}`,
        `Deployment ${fullname}-coordinator`,
        `StatefulSet ${fullname}-redis`,
        `Secret ${fullname}-redis`,
        `NetworkPolicy ${fullname}-redis`,
        `ServiceAccount ${fullname}-scheduler`,
        `ServiceAccount ${fullname}-coordinator`,
        `PriorityClass ${namespace}-${fullname}`,
      ]),
    );
    expect(
      defaults.filter(
        (k) => k.startsWith("ServiceMonitor") || k.startsWith("PrometheusRule") || k.endsWith("-dashboard"),
      ),
    ).toEqual([]);
    const external = await kinds({}, externalRedis);
    expect(external.filter((k) => k.includes("-redis"))).toEqual([]);
    const noCoordinator = await kinds({ "coordinator.enabled": false });
    expect(noCoordinator.filter((k) => k.includes("coordinator") || k.includes("-redis"))).toEqual([]);
  });

  it("passes the Redis settings to both components, the password only from its Secret", async () => {
    const config = async (files: string[]) => {
      const { objects } = await renderChart(release, namespace, baseValues, files);
      const data = objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", "-coordinator").data ?? {};
      const coordinator = objectOf<k8s.V1Deployment>(objects, "Deployment", "-coordinator");
      const shards = objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", fullname);
      expect(objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", "-scheduler").data).toMatchObject({
        REDIS_URL: data.REDIS_URL,
        REDIS_SENTINELS: data.REDIS_SENTINELS,
      });
      expect(envOf(shards, "REDIS_PASSWORD")).toEqual(envOf(coordinator, "REDIS_PASSWORD"));
      for (const value of Object.values(data)) expect(value).not.toMatch(/:[^/@]+@/);
      return { data, password: envOf(coordinator, "REDIS_PASSWORD")?.valueFrom?.secretKeyRef };
    };
    const cases: [string[], Record<string, string>, { name: string; key: string }][] = [
      [
        [],
        {
          REDIS_URL: `redis://${fullname}-redis.${namespace}.svc:6379/0`,
          REDIS_TLS: "false",
          REDIS_SENTINELS: "",
        },
        { name: `${fullname}-redis`, key: "redis-password" },
      ],
      [
        externalRedis,
        { REDIS_URL: "rediss://redis.example.com:6380/2", REDIS_TLS: "true", REDIS_SENTINELS: "" },
        { name: "ledger-redis", key: "password" },
      ],
      [
        sentinelRedis,
        {
          REDIS_URL: "",
          REDIS_SENTINELS: "sentinel-0.example.com:26379,sentinel-1.example.com:26379",
          REDIS_SENTINEL_MASTER: "ledger",
        },
        { name: "ledger-redis", key: "redis-password" },
      ],
    ];
    for (const [files, data, password] of cases)
      expect(await config(files)).toEqual({ data: expect.objectContaining(data), password });
    // The bundled Redis serves plain TCP: TLS is for an external one.
    await expect(helm(["template", release, chartDir, ...setFlags({ "redis.tls": true })])).rejects.toThrow(
      /redis.tls needs an external Redis/,
    );
  });

  it.each<ChartValues>([
    { "scheduler.replicas": -1 },
    { "scheduler.config.scoringStrategy": "Random" },
    { "scheduler.confg.logLevel": "debug" },
    { "redis.external.url": "http://redis:6379" },
    { "redis.external.sentinels": "{sentinel-0}" },
    { schedulerName: "Not_A_Name" },
    { "metrics.auth": "off" },
    { "scheduler.healthPort": 0 },
    { "image.digest": "sha256:1234" },
    { "redis.image.digest": "latest" },
    { "scheduler.maxHeapPercent": 120 },
    { "coordinator.extraEnv[0].value": "no name" },
    { "scheduler.topologySpreadConstraints[0].maxSkew": 1 },
    { "metrics.prometheusRule.alerts.bindErrors.for": "10 minutes" },
    { "metrics.prometheusRule.alerts.podsPending.pendingMinutes": 0 },
    { "metrics.prometheusRule.alerts.restarting.windw": "1h" },
    { "helmTest.enabled": "yes" },
  ])("rejects values its schema forbids: %o", async (values) => {
    await expect(helm(["template", release, chartDir, ...setFlags(values)])).rejects.toThrow(/schema/i);
  });

  it("sets every flag of both entry points through the ConfigMap, the downward API or a Secret", async () => {
    const { objects } = await renderChart(release, namespace, baseValues);
    for (const [entry, workload] of [
      [shardEntry, objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", fullname)],
      [coordinatorEntry, objectOf<k8s.V1Deployment>(objects, "Deployment", "-coordinator")],
    ] as const) {
      const container = containerOf(workload);
      const configMap = container.envFrom?.[0]?.configMapRef?.name ?? "";
      const data = objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", configMap).data ?? {};
      const flags = flagsOf(entry);
      const envs = new Set(flags.values());
      // Every ConfigMap key is a variable the program reads (a typo would be ignored silently).
      for (const key of Object.keys(data)) expect(envs, `${configMap}: ${key}`).toContain(key);
      const unset = [...envs].filter((env) => data[env] === undefined && !envOf(workload, env));
      // In-cluster credentials: no kubeconfig.
      expect(unset, entry).toEqual(["KUBECONFIG"]);
      expect(envOf(workload, "POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
      expect(envOf(workload, "POD_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.namespace");
      expect(envOf(workload, "REDIS_PASSWORD")?.valueFrom?.secretKeyRef).toBeDefined();
    }
    // A cold start of the StatefulSet forms its first ring once all its replicas are up.
    const shards = objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", fullname);
    const shardConfig = objectOf<k8s.V1ConfigMap>(
      objects,
      "ConfigMap",
      containerOf(shards).envFrom?.[0]?.configMapRef?.name ?? "",
    );
    expect(shardConfig.data?.EXPECTED_SHARDS).toBe(String(shards.spec?.replicas));
  });

  it("configures the bundled Redis so that it requires the generated password", async () => {
    const { objects } = await renderChart(release, namespace, baseValues);
    const secret = objectOf<k8s.V1Secret>(objects, "Secret", "-redis").data ?? {};
    const password = Buffer.from(secret["redis-password"] ?? "", "base64").toString();
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const conf = objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", "-redis").data?.["redis.conf"] ?? "";
    // The real redis-server reads the rendered files; only the host paths, bind and port differ.
    const port = await freeLoopbackPort();
    writeFileSync(join(workDir, "auth.conf"), Buffer.from(secret["auth.conf"] ?? "", "base64"));
    writeFileSync(
      join(workDir, "redis.conf"),
      conf
        .replace("include /etc/redis/auth/auth.conf", `include ${join(workDir, "auth.conf")}`)
        .replace("dir /data", `dir ${workDir}`)
        .replace("bind * -::*", "bind 127.0.0.1")
        .replace("port 6379", `port ${port}`),
    );
    const server = startProcess(
      "redis (chart config)",
      toolPaths().redisServer,
      [join(workDir, "redis.conf")],
      join(workDir, "redis.log"),
    );
    const client = (pass?: string) => {
      const redis = new Redis({
        host: "127.0.0.1",
        port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        password: pass,
      });
      redis.on("error", () => undefined);
      return redis;
    };
    const anonymous = client();
    const authenticated = client(password);
    try {
      await waitFor(
        "redis answers",
        async () => (await authenticated.ping()) === "PONG" || undefined,
        10_000,
      );
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
      expect(await authenticated.config("GET", "maxmemory-policy")).toEqual([
        "maxmemory-policy",
        "noeviction",
      ]);
      expect(await authenticated.config("GET", "appendonly")).toEqual(["appendonly", "no"]);
    } finally {
      anonymous.disconnect();
      authenticated.disconnect();
      await stopProcess(server);
    }
  });

  it("serves /metrics behind RBAC over HTTPS by default, and the probes on the pod IP", async () => {
    const { objects } = await renderChart(release, namespace, {
      ...baseValues,
      "metrics.serviceMonitor.enabled": true,
    });
    for (const [workload, configMap, metricsPort, healthPort] of [
      [objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", fullname), "-scheduler", 10260, 10262],
      [objectOf<k8s.V1Deployment>(objects, "Deployment", "-coordinator"), "-coordinator", 10261, 10263],
    ] as const) {
      const what = workload.metadata?.name;
      expect(objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", configMap).data, what).toMatchObject({
        METRICS_BIND_ADDRESS: `:${metricsPort}`,
        METRICS_AUTH: "rbac",
        METRICS_TLS_CERT_FILE: "",
        METRICS_TLS_KEY_FILE: "",
      });
      const container = containerOf(workload);
      expect(container.ports, what).toEqual([
        { name: "metrics", containerPort: metricsPort, protocol: "TCP" },
        { name: "health", containerPort: healthPort, protocol: "TCP" },
      ]);
      expect(container.readinessProbe?.httpGet, what).toEqual({ path: "/readyz", port: "health" });
      expect(container.livenessProbe?.httpGet, what).toEqual({ path: "/healthz", port: "health" });
      // $(POD_IP) expands only to a variable defined before it.
      const names = (container.env ?? []).map((env) => env.name);
      expect(names.indexOf("POD_IP"), what).toBeLessThan(names.indexOf("HEALTH_BIND_ADDRESS"));
      expect(envOf(workload, "POD_IP")?.valueFrom?.fieldRef?.fieldPath, what).toBe("status.podIP");
      expect(envOf(workload, "HEALTH_BIND_ADDRESS")?.value, what).toBe(`$(POD_IP):${healthPort}`);
    }
    for (const component of ["scheduler", "coordinator"])
      expect(objectOf<k8s.V1ClusterRole>(objects, "ClusterRole", `-${component}`).rules, component).toEqual(
        expect.arrayContaining(reviewRules),
      );
    expect(objectOf<k8s.V1ClusterRole>(objects, "ClusterRole", "-metrics-reader").rules).toEqual([
      { nonResourceURLs: ["/metrics"], verbs: ["get"] },
    ]);
    expect(
      objectsOf(objects, "ClusterRoleBinding").map((o) => (o as KubeObject).metadata.name),
    ).not.toContain(`${namespace}-${fullname}-metrics-reader`);
    expect(objectsOf(objects, "NetworkPolicy").map((o) => (o as KubeObject).metadata.name)).toEqual([
      `${fullname}-redis`,
    ]);
    const monitor = objectOf<{ spec: { endpoints: Record<string, unknown>[] } }>(objects, "ServiceMonitor");
    expect(monitor.spec.endpoints).toEqual([
      expect.objectContaining({
        port: "metrics",
        path: "/metrics",
        scheme: "https",
        bearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        tlsConfig: { insecureSkipVerify: true },
      }),
    ]);
  });

  it("mounts a provided certificate, binds the reader role, sends a token from a Secret when asked", async () => {
    const { objects } = await renderChart(release, namespace, baseValues, metricsWithSecrets);
    const shardsAndCoordinator = workloadsOf(objects).filter((w) => !w.metadata?.name?.endsWith("-redis"));
    expect(shardsAndCoordinator).toHaveLength(2);
    for (const workload of shardsAndCoordinator) {
      // Beside the profile every release mounts (tests/chart/profile.test.ts).
      expect(podSpecOf(workload).volumes, workload.metadata?.name).toEqual([
        { name: "metrics-tls", secret: { secretName: "metrics-tls" } },
        { name: "profile", configMap: { name: `${fullname}-profile` } },
      ]);
      expect(containerOf(workload).volumeMounts).toEqual([
        { name: "metrics-tls", mountPath: "/etc/sharded-scheduler/metrics-tls", readOnly: true },
        { name: "profile", mountPath: "/etc/sharded-scheduler/profile", readOnly: true },
      ]);
    }
    expect(objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", "-scheduler").data).toMatchObject({
      METRICS_TLS_CERT_FILE: "/etc/sharded-scheduler/metrics-tls/tls.crt",
      METRICS_TLS_KEY_FILE: "/etc/sharded-scheduler/metrics-tls/tls.key",
    });
    const binding = objectOf<k8s.V1ClusterRoleBinding>(objects, "ClusterRoleBinding", "-metrics-reader");
    expect(binding.roleRef.name).toBe(`${namespace}-${fullname}-metrics-reader`);
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "prometheus-k8s", namespace: "monitoring" },
    ]);
    const monitor = objectOf<{ spec: { endpoints: Record<string, unknown>[] } }>(objects, "ServiceMonitor");
    expect(monitor.spec.endpoints[0]).toMatchObject({
      scheme: "https",
      authorization: { type: "Bearer", credentials: { name: "scrape-token", key: "token" } },
      tlsConfig: { serverName: "sharded-scheduler" },
    });
    expect(monitor.spec.endpoints[0]).not.toHaveProperty("bearerTokenFile");
  });

  it("serves /metrics without auth only behind a NetworkPolicy, and then grants no reviews", async () => {
    const { objects } = await renderChart(release, namespace, baseValues, metricsBehindPolicy);
    const policy = objectOf<k8s.V1NetworkPolicy>(objects, "NetworkPolicy", "-metrics");
    expect(policy.spec?.podSelector?.matchExpressions).toEqual([
      { key: "app.kubernetes.io/component", operator: "In", values: ["scheduler", "coordinator"] },
    ]);
    expect(policy.spec?.ingress).toEqual([
      { ports: [{ port: "health", protocol: "TCP" }] },
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
        ports: [{ port: "metrics", protocol: "TCP" }],
      },
    ]);
    expect(objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", "-scheduler").data?.METRICS_AUTH).toBe("none");
    for (const role of objectsOf<k8s.V1ClusterRole>(objects, "ClusterRole"))
      for (const rule of reviewRules) expect(role.rules, role.metadata?.name).not.toContainEqual(rule);
    expect(
      objectsOf<k8s.V1ClusterRole>(objects, "ClusterRole").map((role) => role.metadata?.name),
    ).not.toContain(`${namespace}-${fullname}-metrics-reader`);
    const monitor = objectOf<{ spec: { endpoints: Record<string, unknown>[] } }>(objects, "ServiceMonitor");
    expect(monitor.spec.endpoints[0]).toMatchObject({ scheme: "http" });
    expect(Object.keys(monitor.spec.endpoints[0] ?? {})).not.toContain("bearerTokenFile");
    // Without a policy saying who may scrape, no release: unless the operator enforces their own.
    await expect(
      helm(["template", release, chartDir, ...setFlags({ "metrics.auth": "none" })]),
    ).rejects.toThrow(/metrics.auth=none serves \/metrics to anyone/);
    const own = await renderChart(release, namespace, {
      ...baseValues,
      "metrics.auth": "none",
      "metrics.networkPolicy.enabled": false,
    });
    expect(objectsOf(own.objects, "NetworkPolicy")).toHaveLength(1);
    await expect(
      helm([
        "template",
        release,
        chartDir,
        ...setFlags({ "metrics.tls.existingSecret": "x" }, metricsBehindPolicy),
      ]),
    ).rejects.toThrow(/existingSecret needs metrics.auth=rbac/);
  });

  it("ships a Grafana dashboard with the panels operators look at", async () => {
    const { titles, metrics } = await renderDashboard();
    for (const topic of [
      /shards/i,
      /owned nodes/i,
      /pending pods/i,
      /latency/i,
      /handoffs and lends/i,
      /preemption/i,
    ])
      expect(
        titles.some((title) => topic.test(title)),
        String(topic),
      ).toBe(true);
    // Every one is a metric the code registers (and, below, that the running release serves).
    expect(metrics.length).toBeGreaterThan(15);
    const exported = await exportedMetrics();
    expect(metrics.filter((name) => !exported.has(name))).toEqual([]);
  });
});

// --- what operators expect: images by digest, extra environment, spread, heap, alerts, helm test ---

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface PrometheusRuleObject extends KubeObject {
  spec: { groups: { name: string; rules: AlertRule[] }[] };
}
const alertsOf = (objects: readonly KubeObject[]) =>
  objectOf<PrometheusRuleObject>(objects, "PrometheusRule").spec.groups.flatMap((group) => group.rules);
const alertNamed = (alerts: readonly AlertRule[], name: string) => {
  const found = alerts.find((a) => a.alert === name);
  if (!found) throw new Error(`no alert ${name}`);
  return found;
};
/** The metric names an expression reads. */
const metricsIn = (expr: string) => [...expr.matchAll(/([a-z_:][a-z0-9_:]*)\{/g)].map((m) => m[1] as string);

describe("chart values operators expect", () => {
  it("pulls both images by digest when one is given, by tag otherwise", async () => {
    const repository = { "image.repository": "registry.example.com/sharded-scheduler", "image.tag": "1.2.3" };
    const images = async (values: ChartValues) => {
      const { objects } = await renderChart(release, namespace, { ...baseValues, ...repository, ...values });
      return Object.fromEntries(
        [...workloadsOf(objects), ...objectsOf<k8s.V1Pod>(objects, "Pod")].map((o) => [
          o.metadata?.name,
          (o.kind === "Pod" ? (o as k8s.V1Pod).spec : podSpecOf(o as k8s.V1StatefulSet))?.containers[0]
            ?.image,
        ]),
      );
    };
    const byTag = "registry.example.com/sharded-scheduler:1.2.3";
    expect(await images({})).toEqual({
      [fullname]: byTag,
      [`${fullname}-coordinator`]: byTag,
      [`${fullname}-redis`]: "redis:8.10.2-alpine",
      [`${fullname}-status-check`]: byTag,
    });
    const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
    const redisDigest = `sha256:${"fedcba9876543210".repeat(4)}`;
    const byDigest = `registry.example.com/sharded-scheduler@${digest}`;
    expect(await images({ "image.digest": digest, "redis.image.digest": redisDigest })).toEqual({
      [fullname]: byDigest,
      [`${fullname}-coordinator`]: byDigest,
      [`${fullname}-redis`]: `redis@${redisDigest}`,
      [`${fullname}-status-check`]: byDigest,
    });
  });

  it("adds extraEnv after the chart's own variables, so that one of the same name wins", async () => {
    const { objects } = await renderChart(release, namespace, baseValues, [ciValues("pinned-and-spread")]);
    const shards = objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", fullname);
    const coordinator = objectOf<k8s.V1Deployment>(objects, "Deployment", "-coordinator");
    expect(containerOf(shards).env?.at(-1)).toEqual({ name: "UV_THREADPOOL_SIZE", value: "8" });
    expect(containerOf(coordinator).env?.at(-1)).toEqual({ name: "UV_THREADPOOL_SIZE", value: "4" });
    // The chart's variables stay (the downward API, the profile file, the probes' address, the
    // Redis password, the heap).
    for (const workload of [shards, coordinator])
      expect((containerOf(workload).env ?? []).map((env) => env.name).slice(0, -1)).toEqual([
        "POD_NAME",
        "POD_NAMESPACE",
        "PROFILE_CONFIG",
        "POD_IP",
        "HEALTH_BIND_ADDRESS",
        "REDIS_PASSWORD",
        "NODE_OPTIONS",
      ]);
    // A NODE_OPTIONS of the operator's comes last: the container gets it, not the chart's.
    const own = await renderChart(release, namespace, {
      ...baseValues,
      "scheduler.extraEnv[0].name": "NODE_OPTIONS",
      "scheduler.extraEnv[0].value": "--max-old-space-size=1000",
    });
    const env = containerOf(objectOf<k8s.V1StatefulSet>(own.objects, "StatefulSet", fullname)).env ?? [];
    expect(env.filter((e) => e.name === "NODE_OPTIONS").map((e) => e.value)).toEqual([
      "--max-semi-space-size=8 --max-old-space-size=1536",
      "--max-old-space-size=1000",
    ]);
  });

  it("spreads the shards and the coordinator as told, with the component's selector unless given one", async () => {
    const { objects } = await renderChart(release, namespace, baseValues, [ciValues("pinned-and-spread")]);
    const selector = (component: string) => ({
      matchLabels: {
        "app.kubernetes.io/name": "sharded-scheduler",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": component,
      },
    });
    expect(
      podSpecOf(objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", fullname)).topologySpreadConstraints,
    ).toEqual([
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: selector("scheduler"),
      },
    ]);
    expect(
      podSpecOf(objectOf<k8s.V1Deployment>(objects, "Deployment", "-coordinator")).topologySpreadConstraints,
    ).toEqual([
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { "app.kubernetes.io/component": "coordinator" } },
      },
    ]);
    // By default none: the cluster's default spreading applies.
    const defaults = await renderChart(release, namespace, baseValues);
    for (const workload of workloadsOf(defaults.objects))
      expect(podSpecOf(workload).topologySpreadConstraints, workload.metadata?.name).toBeUndefined();
  });

  it.each<[string | number, number, number]>([
    ["2Gi", 75, 1536],
    ["1Gi", 75, 768],
    ["512Mi", 75, 384],
    ["1.5Gi", 75, 1152],
    ["1536Mi", 50, 768],
    ["2G", 75, 1430],
    ["1000M", 75, 715],
    ["4194304Ki", 75, 3072],
    [2147483648, 75, 1536],
  ])("sets Node's heap limit from a memory limit of %s at %i%%: %i MiB", async (memory, percent, heap) => {
    const { objects } = await renderChart(release, namespace, {
      ...baseValues,
      "scheduler.resources.limits.memory": memory,
      "scheduler.maxHeapPercent": percent,
      "coordinator.resources.limits.memory": memory,
      "coordinator.maxHeapPercent": percent,
    });
    for (const workload of workloadsOf(objects).filter((w) => !w.metadata?.name?.endsWith("-redis")))
      expect(envOf(workload, "NODE_OPTIONS")?.value, workload.metadata?.name).toBe(
        `${imageNodeOptions} --max-old-space-size=${heap}`,
      );
  });

  it("keeps the image's Node options in its heap variable, as local shards run", () => {
    expect(imageNodeOptions).toMatch(/--max-semi-space-size=/);
    expect(runtimeNodeOptions).toBe(imageNodeOptions);
  });

  it("sets no heap limit without a memory limit or at 0%, and refuses a limit it cannot read", async () => {
    const heapOf = async (values: ChartValues) => {
      const { objects } = await renderChart(release, namespace, { ...baseValues, ...values });
      return envOf(objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", fullname), "NODE_OPTIONS");
    };
    expect(await heapOf({ "scheduler.resources.limits.memory": "null" })).toBeUndefined();
    expect(await heapOf({ "scheduler.maxHeapPercent": 0 })).toBeUndefined();
    // Redis is not a Node process.
    const { objects } = await renderChart(release, namespace, baseValues);
    expect(
      envOf(objectOf<k8s.V1StatefulSet>(objects, "StatefulSet", "-redis"), "NODE_OPTIONS"),
    ).toBeUndefined();
    await expect(heapOf({ "scheduler.resources.limits.memory": "2GB" })).rejects.toThrow(
      /cannot read the memory limit "2GB"/,
    );
    await expect(heapOf({ "coordinator.resources.limits.memory": "16Mi" })).rejects.toThrow(
      /leaves Node a heap of 12 MiB/,
    );
  });

  it("alerts on the release's own series with the decided metrics, each with severity, for, summary and description", async () => {
    const { objects } = await renderChart(release, namespace, baseValues, monitoring);
    const alerts = alertsOf(objects);
    expect(alerts.map((a) => a.alert)).toEqual([
      "ShardedSchedulerNoCoordinatorLeader",
      "ShardedSchedulerRingEpochNotAcknowledged",
      "ShardedSchedulerPodsPending",
      "ShardedSchedulerBindErrors",
      "ShardedSchedulerEvictionErrors",
      "ShardedSchedulerLeaseLapses",
      "ShardedSchedulerRestarting",
    ]);
    for (const alert of alerts) {
      expect(alert.for, alert.alert).toMatch(/^\d+[smh]$/);
      expect(alert.labels, alert.alert).toEqual({
        severity: expect.stringMatching(/^(critical|warning)$/),
        team: "scheduling",
      });
      expect(alert.annotations?.summary, alert.alert).toMatch(new RegExp(`${namespace}/${release}`));
      expect(alert.annotations?.description?.length, alert.alert).toBeGreaterThan(50);
      // Only this release's shards and coordinator: the job labels of the ServiceMonitor's Services.
      for (const selector of alert.expr.match(/\{[^}]*\}/g) ?? [])
        expect(selector, alert.alert).toMatch(
          new RegExp(`^\\{namespace="${namespace}", job="${fullname}(-coordinator)?"`),
        );
    }
    // The metric names the code exports (kube-scheduler's, under our prefix).
    expect([...new Set(alerts.flatMap((a) => metricsIn(a.expr)))].sort()).toEqual([
      "process_start_time_seconds",
      "sharded_scheduler_bind_errors_total",
      "sharded_scheduler_coordinator_leader",
      "sharded_scheduler_evictions_total",
      "sharded_scheduler_lease_lapses_total",
      "sharded_scheduler_pending_pods",
      "sharded_scheduler_ring_epoch",
    ]);
    expect(alertNamed(alerts, "ShardedSchedulerPodsPending")).toMatchObject({
      for: "15m",
      expr: expect.stringContaining('queue=~"active|backoff|unschedulable"'),
    });
    expect(alertNamed(alerts, "ShardedSchedulerNoCoordinatorLeader").expr).toContain("absent(");
  });

  it("takes each alert's threshold, for and severity from values, and leaves out what is off", async () => {
    // A file: --set reads neither decimals nor commas.
    const tuned = join(workDir, "tuned-alerts-values.yaml");
    writeFileSync(
      tuned,
      stringify({
        metrics: {
          prometheusRule: {
            enabled: true,
            schedulerSelector: 'cluster="eu-1", job="shards"',
            alerts: {
              podsPending: { pendingMinutes: 30 },
              bindErrors: { errorsPerSecond: 0.5, for: "20m" },
              restarting: { restarts: 5, window: "1h" },
              leaseLapses: { lapses: 2, window: "2h" },
              ringEpochNotAcknowledged: { severity: "page" },
              evictionErrors: { enabled: false },
            },
          },
        },
      }),
    );
    const { objects } = await renderChart(release, namespace, baseValues, [tuned]);
    const alerts = alertsOf(objects);
    expect(alerts.map((a) => a.alert)).not.toContain("ShardedSchedulerEvictionErrors");
    expect(alertNamed(alerts, "ShardedSchedulerPodsPending").for).toBe("30m");
    expect(alertNamed(alerts, "ShardedSchedulerBindErrors")).toMatchObject({
      for: "20m",
      expr: expect.stringMatching(/\{cluster="eu-1", job="shards", reason="error"\}\[5m\]\)\) > 0\.5$/),
    });
    expect(alertNamed(alerts, "ShardedSchedulerRestarting").expr).toMatch(/\[1h\]\) > 5/);
    expect(alertNamed(alerts, "ShardedSchedulerLeaseLapses").expr).toMatch(/\[2h\]\) > 2$/);
    expect(alertNamed(alerts, "ShardedSchedulerRingEpochNotAcknowledged").labels?.severity).toBe("page");
    // Without a coordinator: no leader to miss, only the shards restart.
    const alone = alertsOf(
      (await renderChart(release, namespace, baseValues, [ciValues("no-coordinator")])).objects,
    );
    expect(alone.map((a) => a.alert)).not.toContain("ShardedSchedulerNoCoordinatorLeader");
    expect(alertNamed(alone, "ShardedSchedulerRestarting").expr).not.toContain("-coordinator");
  });

  it("the API server validates a PrometheusRule against the real CRD: a malformed one is refused", async () => {
    const { objects } = await renderChart(release, namespace, baseValues, monitoring);
    const rule = objectOf<PrometheusRuleObject>(objects, "PrometheusRule");
    const dryRun = (object: PrometheusRuleObject) =>
      kubectl(
        ["create", "--dry-run=server", "--namespace", namespace, "-o", "name", "-f", "-"],
        JSON.stringify(object),
      );
    expect((await dryRun(rule)).trim()).toBe(`prometheusrule.monitoring.coreos.com/${fullname}`);
    const firstRules = (object: PrometheusRuleObject) =>
      (object.spec.groups[0] as { rules: AlertRule[] }).rules;
    const badFor = structuredClone(rule);
    (firstRules(badFor)[0] as AlertRule).for = "2 minutes";
    await expect(dryRun(badFor)).rejects.toThrow(
      /spec\.groups\[0\]\.rules\[0\]\.for: Invalid value: "2 minutes"/,
    );
    const noExpr = structuredClone(rule);
    delete (firstRules(noExpr)[1] as Partial<AlertRule>).expr;
    await expect(dryRun(noExpr)).rejects.toThrow(/spec\.groups\[0\]\.rules\[1\]\.expr: Required value/);
    const twoGroups = structuredClone(rule);
    twoGroups.spec.groups.push(
      structuredClone(rule.spec.groups[0] as PrometheusRuleObject["spec"]["groups"][0]),
    );
    await expect(dryRun(twoGroups)).rejects.toThrow(/Duplicate value/);
  });

  it("renders the helm test hook: status --check of this release, as its own ServiceAccount", async () => {
    const testPodOf = async (values: ChartValues, files: string[] = []) =>
      objectsOf<k8s.V1Pod>(
        (await renderChart(release, namespace, { ...baseValues, ...values }, files)).objects,
        "Pod",
      );
    const [pod] = await testPodOf({});
    expect(pod?.metadata?.name).toBe(`${fullname}-status-check`);
    expect(pod?.metadata?.annotations).toEqual({
      "helm.sh/hook": "test",
      "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    });
    const spec = pod?.spec as k8s.V1PodSpec;
    expect(spec.restartPolicy).toBe("Never");
    expect(spec.serviceAccountName).toBe(`${fullname}-status`);
    expect(spec.nodeSelector).toEqual({ [fakeNodeLabel.key]: fakeNodeLabel.value });
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const container = spec.containers[0] as k8s.V1Container;
    expect(container.command).toEqual([
      "node",
      "/app/scheduler/dist/cli.js",
      "status",
      "--check",
      `--namespace=${namespace}`,
      `--scheduler-name=${schedulerName}`,
      "--expect-coordinator=true",
    ]);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(Object.keys(container.resources?.limits ?? {}).sort()).toEqual(["cpu", "memory"]);
    // The command exists in this build and knows its flags.
    const help = await runCommand([...localCommand(container.command ?? []).slice(0, 3), "--help"]);
    expect(help.stdout).toMatch(/--check/);
    expect(help.stdout).toMatch(/--expect-coordinator/);
    // Without a coordinator, no leader is expected; turned off, neither the pod nor its RBAC.
    const [alone] = await testPodOf({}, [ciValues("no-coordinator")]);
    expect(alone?.spec?.containers[0]?.command).toContain("--expect-coordinator=false");
    const off = await renderChart(release, namespace, { ...baseValues, "helmTest.enabled": false });
    expect(off.objects.filter((o) => o.kind === "Pod" || o.metadata.name.endsWith("-status"))).toEqual([]);
  });
});

/** The dashboard's panel titles and the metric names its queries use. */
async function renderDashboard(): Promise<{ titles: string[]; metrics: string[] }> {
  const { objects } = await renderChart(release, namespace, {
    ...baseValues,
    "metrics.grafanaDashboard.enabled": true,
  });
  const configMap = objectOf<k8s.V1ConfigMap>(objects, "ConfigMap", "-dashboard");
  expect(configMap.metadata?.labels?.grafana_dashboard).toBe("1");
  const dashboard = readDashboard(configMap.data?.["sharded-scheduler.json"] ?? "");
  return { titles: dashboard.panels.map((panel) => panel.title), metrics: dashboardMetrics(dashboard) };
}

/** flag → environment variable, from `node <entry> --help`. */
function flagsOf(entry: string): Map<string, string> {
  const help = execFileSync(process.execPath, [entry, "--help"], { encoding: "utf8" });
  const flags = new Map<string, string>();
  for (const match of help.matchAll(/^\s+--([a-z0-9-]+)\s+([A-Z0-9_]+)\s/gm))
    flags.set(match[1] as string, match[2] as string);
  expect(flags.size).toBeGreaterThan(10);
  return flags;
}

// --- installed release --------------------------------------------------------------------------

/** Pods of one component of the release, and whether all are Ready. */
async function podsOf(component: string) {
  const list = await core.listNamespacedPod({
    namespace,
    labelSelector: `${instanceSelector},app.kubernetes.io/component=${component}`,
  });
  const live = list.items.filter((pod) => !pod.metadata?.deletionTimestamp);
  const ready = live.every((pod) =>
    pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
  return { pods: live, ready, count: list.items.length };
}

const redisPassword = async () =>
  (await core.readNamespacedSecret({ name: `${fullname}-redis`, namespace })).data?.["redis-password"];

/** Scrapes /metrics: bound to the chart's metrics-reader ClusterRole by metrics.reader.subjects. */
const scraper = `${release}-scraper`;
let scraperToken = "";

describe("installed release", () => {
  let passwordAtInstall: string | undefined;

  beforeAll(async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: scraper } } });
    scraperToken = await serviceAccountToken(core, namespace, scraper);
    await helm([
      "install",
      release,
      chartDir,
      "--namespace",
      namespace,
      ...setFlags({
        ...baseValues,
        "metrics.reader.subjects[0].kind": "ServiceAccount",
        "metrics.reader.subjects[0].name": scraper,
        "metrics.reader.subjects[0].namespace": namespace,
      }),
      "--wait",
      "--timeout",
      "90s",
    ]);
    passwordAtInstall = await redisPassword();
  });

  it("runs the shards, the coordinator and Redis, Ready, placed by the default scheduler", async () => {
    const shards = await apps.readNamespacedStatefulSet({ name: fullname, namespace });
    expect(shards.spec?.replicas).toBe(3);
    expect(shards.status?.readyReplicas).toBe(3);
    const coordinator = await apps.readNamespacedDeployment({ name: `${fullname}-coordinator`, namespace });
    expect(coordinator.status?.readyReplicas).toBe(2);
    const redis = await apps.readNamespacedStatefulSet({ name: `${fullname}-redis`, namespace });
    expect(redis.status?.readyReplicas).toBe(1);
    for (const [component, count] of [
      ["scheduler", 3],
      ["coordinator", 2],
      ["redis", 1],
    ] as const) {
      const { pods, ready } = await podsOf(component);
      expect(pods, component).toHaveLength(count);
      expect(ready, component).toBe(true);
      for (const pod of pods) {
        expect(pod.spec?.schedulerName).toBe("default-scheduler");
        expect(pod.spec?.nodeName).toBeTruthy();
        expect(pod.spec?.priority).toBe(1_000_000_000);
      }
    }
    // The shard identities are the StatefulSet's pod names.
    expect((await podsOf("scheduler")).pods.map((pod) => pod.metadata?.name).sort()).toEqual(
      [0, 1, 2].map((i) => `${fullname}-${i}`),
    );
    const clusterRoles = await rbac.listClusterRole({ labelSelector: instanceSelector });
    expect(clusterRoles.items.map((role) => role.metadata?.name).sort()).toEqual([
      `${namespace}-${fullname}-coordinator`,
      `${namespace}-${fullname}-metrics-reader`,
      `${namespace}-${fullname}-scheduler`,
      `${namespace}-${fullname}-status`,
    ]);
    const roles = await rbac.listNamespacedRole({ namespace, labelSelector: instanceSelector });
    expect(roles.items).toHaveLength(3);
  });

  it("grants the helm test pod only the reads of sharded-scheduler status", async () => {
    const ring = ringLeaseName(schedulerName);
    const leader = `${schedulerName}-coordinator`;
    const named = [leader, ring, `${fullname}-0`];
    expect(await allowedFor(`${fullname}-status`, named)).toEqual(
      expectedAccess([
        ...everywhere(["list"], "pods"),
        ...everywhere(["list"], "events"),
        { verb: "list", resource: "nodes" },
        // A list names no object, so it cannot be confined to the scheduler's Leases.
        leaseAccess("list"),
        ...named.map((name) => leaseAccess("list", name)),
        leaseAccess("get", leader),
      ]),
    );
  });

  it("helm test fails while no shard runs: status --check finds none", async () => {
    const run = await helmTestOnKwok(core, release, namespace, `${fullname}-status-check`, workDir);
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/no shards found for scheduler/);
    expect(run.passed, run.helm).toBe(false);
    expect(run.helm).toMatch(/status-check/);
    // The failed pod stays for `kubectl logs`.
    const pod = await core.readNamespacedPod({ name: `${fullname}-status-check`, namespace });
    expect(pod.status?.phase).toBe("Failed");
  });

  it("grants the shards and the coordinator exactly the requests their code makes", async () => {
    const ring = ringLeaseName(schedulerName);
    const leader = `${schedulerName}-coordinator`;
    const named = [leader, ring, `${fullname}-0`];
    const shardLeaseVerbs = ["list", "watch", "create", "update", "patch"];
    // /metrics behind RBAC (the default): who a scraper's token is, and whether it may get /metrics.
    const accessReviews: Access[] = [
      { verb: "create", resource: "tokenreviews", group: "authentication.k8s.io" },
      { verb: "create", resource: "subjectaccessreviews", group: "authorization.k8s.io" },
    ];
    const shard = expectedAccess([
      ...everywhere(["list", "watch", "delete"], "pods"),
      ...everywhere(["patch"], "pods/status"),
      ...everywhere(["create"], "pods/binding"),
      ...everywhere(["create"], "pods/eviction"),
      // events.k8s.io/v1 only: nothing writes core/v1 events.
      ...everywhere(["create", "patch"], "events", "events.k8s.io"),
      ...everywhere(["list", "watch"], "poddisruptionbudgets", "policy"),
      ...everywhere(["list", "watch"], "persistentvolumeclaims"),
      // PodTopologySpread's default selectors.
      ...everywhere(["list", "watch"], "services"),
      ...everywhere(["list", "watch"], "replicationcontrollers"),
      ...everywhere(["list", "watch"], "replicasets", "apps"),
      ...everywhere(["list", "watch"], "statefulsets", "apps"),
      // Native gangs: the PodGroup informer and its PodGroupInitiallyScheduled condition; no Workload is read.
      ...everywhere(["list", "watch"], "podgroups", "scheduling.k8s.io"),
      ...everywhere(["patch"], "podgroups/status", "scheduling.k8s.io"),
      // PodGroup CRDs: scheduler-plugins' (with its status) and Volcano's; no Volcano status is written.
      ...everywhere(["list", "watch"], "podgroups", "scheduling.x-k8s.io"),
      ...everywhere(["patch"], "podgroups/status", "scheduling.x-k8s.io"),
      ...everywhere(["list", "watch"], "podgroups", "scheduling.volcano.sh"),
      // A Volcano group's priority comes from its PriorityClass.
      ...["list", "watch"].map((verb) => ({ verb, resource: "priorityclasses", group: "scheduling.k8s.io" })),
      ...["list", "watch"].map((verb) => ({ verb, resource: "nodes" })),
      ...["list", "watch"].map((verb) => ({ verb, resource: "persistentvolumes" })),
      ...["list", "watch"].map((verb) => ({ verb, resource: "storageclasses", group: "storage.k8s.io" })),
      // Namespace labels for InterPodAffinity's namespaceSelector.
      ...["list", "watch"].map((verb) => ({ verb, resource: "namespaces" })),
      ...accessReviews,
      ...shardLeaseVerbs.map((verb) => leaseAccess(verb)),
      ...named.flatMap((name) => shardLeaseVerbs.map((verb) => leaseAccess(verb, name))),
    ]);
    const coordinator = expectedAccess([
      ...everywhere(["get", "list"], "pods"),
      ...everywhere(["patch"], "pods/status"),
      ...everywhere(["create", "patch"], "events", "events.k8s.io"),
      ...["list", "patch"].map((verb) => ({ verb, resource: "nodes" })),
      ...accessReviews,
      // A create names no object, so it cannot be confined to the leader Lease's name.
      leaseAccess("create"),
      ...named.map((name) => leaseAccess("create", name)),
      leaseAccess("get", leader),
      leaseAccess("get", ring),
      leaseAccess("update", leader),
    ]);
    expect(await allowedFor(`${fullname}-scheduler`, named)).toEqual(shard);
    expect(await allowedFor(`${fullname}-coordinator`, named)).toEqual(coordinator);
  });

  it("lets the real shard and coordinator work with the chart's ServiceAccounts and ConfigMaps", async () => {
    const shardConfig = await configFlags(`${fullname}-scheduler`, shardEntry);
    const shardKubeconfig = await serviceAccountKubeconfig(core, namespace, `${fullname}-scheduler`, workDir);
    for (const ordinal of [0, 1]) {
      const shard = await startShard({
        schedulerName,
        identity: `${fullname}-${ordinal}`,
        args: [
          ...shardConfig,
          `--kubeconfig=${shardKubeconfig}`,
          `--lease-namespace=${namespace}`,
          `--redis-url=${inject("redisUrl")}`,
          // Shard 0 alone creates the ring, shard 1 joining changes it by compare-and-swap: both
          // requests are tried. (With the chart's replicas, 3, a cold start of two would wait a
          // lease duration for the third and create one ring of both.)
          ...(ordinal === 0 ? ["--expected-shards=1"] : []),
        ],
        metricsAuth: { mode: "rbac", token: scraperToken },
      });
      processes.push(shard);
    }
    const coordinatorKubeconfig = await serviceAccountKubeconfig(
      core,
      namespace,
      `${fullname}-coordinator`,
      workDir,
    );
    const coordinator = await startCoordinator({
      schedulerName,
      identity: `${fullname}-coordinator-a`,
      namespace,
      args: [
        ...(await configFlags(`${fullname}-coordinator`, coordinatorEntry)),
        `--kubeconfig=${coordinatorKubeconfig}`,
      ],
      metricsAuth: { mode: "rbac", token: scraperToken },
    });
    processes.push(coordinator);

    // Leases: both members joined a ring proposed by create, then changed by compare-and-swap.
    await waitFor(
      "a ring of both shards",
      async () => {
        const lease = await coordination.readNamespacedLease({
          name: ringLeaseName(schedulerName),
          namespace,
        });
        const annotations = lease.metadata?.annotations ?? {};
        const members = (annotations[ringMembersAnnotation] ?? "").split(",").sort();
        return members.join(",") === `${fullname}-0,${fullname}-1` &&
          Number(annotations[ringEpochAnnotation]) >= 2
          ? true
          : undefined;
      },
      30_000,
    );
    // Binding, Events, status patches.
    await core.createNamespacedPod({ namespace, body: probePod("fits", "100m") });
    await core.createNamespacedPod({ namespace, body: probePod("too-big", "1000") });
    await waitFor(
      "the fitting pod bound, with a Scheduled Event",
      async () => {
        const pod = await core.readNamespacedPod({ name: "fits", namespace });
        const events = await core.listNamespacedEvent({
          namespace,
          fieldSelector: "involvedObject.name=fits,reason=Scheduled",
        });
        return pod.spec?.nodeName && events.items.length > 0 ? true : undefined;
      },
      30_000,
    );
    await waitFor(
      "the pod too big marked Unschedulable, with a FailedScheduling Event",
      async () => {
        const pod = await core.readNamespacedPod({ name: "too-big", namespace });
        const condition = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
        const events = await core.listNamespacedEvent({
          namespace,
          fieldSelector: "involvedObject.name=too-big,reason=FailedScheduling",
        });
        return condition?.reason === "Unschedulable" && events.items.length > 0 ? true : undefined;
      },
      30_000,
    );
    // Written through events.k8s.io/v1 with the ServiceAccount's token, as kube-scheduler writes them.
    const failed = await core.listNamespacedEvent({
      namespace,
      fieldSelector: "involvedObject.name=too-big,reason=FailedScheduling",
    });
    expect(failed.items[0]).toMatchObject({
      reportingComponent: `sharded-scheduler.io/${schedulerName}`,
      reportingInstance: expect.stringMatching(new RegExp(`^${fullname}-[01]$`)),
      action: "Scheduling",
      eventTime: expect.anything(),
    });
    // Leader election on its Lease; its rounds read the ring Lease, the lent nodes and Redis.
    await waitFor("the coordinator leads", async () => (await coordinator.isLeader()) || undefined, 30_000);
    await holdsFor(
      "no request refused",
      async () => {
        for (const proc of processes) {
          const refused = readFileSync(proc.log, "utf8")
            .split("\n")
            .filter((line) => /forbidden|\b403\b/i.test(line));
          expect(refused, proc.identity).toEqual([]);
        }
      },
      3_000,
    );
    // The dashboard's metrics exist under these names.
    const exported = `${await processes[0]?.metrics()}\n${await coordinator.metrics()}`;
    const { metrics } = await renderDashboard();
    const missing = metrics.filter((name) => !exported.includes(`# TYPE ${name} `));
    expect(missing).toEqual([]);
    // So do the alerts'.
    const alerts = alertsOf((await renderChart(release, namespace, baseValues, monitoring)).objects);
    const alertMetrics = [...new Set(alerts.flatMap((a) => metricsIn(a.expr)))];
    expect(alertMetrics.filter((name) => !exported.includes(`# TYPE ${name} `))).toEqual([]);
    // /metrics behind the chart's RBAC: the shards and the coordinator review tokens with their
    // ServiceAccounts; the scraper bound by metrics.reader.subjects reads, no one else.
    const stranger = await serviceAccountToken(core, namespace, "default");
    for (const proc of processes) {
      expect((await proc.get("/metrics", null)).status, proc.identity).toBe(401);
      expect((await proc.get("/metrics", stranger)).status, proc.identity).toBe(403);
      expect((await proc.get("/metrics")).status, proc.identity).toBe(200);
    }
  });

  it("schedules a gang, preempts and hands off with the chart's ServiceAccounts; refuses anything else", async () => {
    const shards = [`${fullname}-0`, `${fullname}-1`];
    const ring = new ShardRing(shards);
    const pool = `${release}-work`;
    // One 4-cpu node per shard, chosen by name so the ring gives each shard one.
    const nodes: string[] = [];
    for (const shard of shards) {
      for (let i = 0; nodes.length < shards.indexOf(shard) + 1; i++) {
        const name = `${pool}-${i}`;
        if (ring.ownerOf(name) === shard && !nodes.includes(name)) nodes.push(name);
      }
    }
    for (const name of nodes) {
      await core.createNode({
        body: fakeNodeManifest({ name, cpu: "4", memory: "8Gi", pods: 110, labels: { pool } }) as k8s.V1Node,
      });
    }
    createdNodes.push(...nodes);
    const low = `${release}-low`;
    const high = `${release}-high`;
    await scheduling.createPriorityClass({ body: { metadata: { name: low }, value: 10 } });
    await scheduling.createPriorityClass({ body: { metadata: { name: high }, value: 1000 } });
    createdPriorityClasses.push(low, high);
    const ownedBy = (shard: number, prefix: string, solo: boolean) => {
      for (let i = 0; ; i++) {
        const name = `${prefix}-${i}`;
        if (ring.ownerOf(groupKey(namespace, name, solo).hashKey) === shards[shard]) return name;
      }
    };
    const work = (name: string, cpu: string, extra: { group?: string; priorityClass?: string } = {}) => {
      const pod = probePod(name, cpu);
      const spec = pod.spec as k8s.V1PodSpec;
      spec.nodeSelector = { pool };
      if (extra.priorityClass) spec.priorityClassName = extra.priorityClass;
      if (extra.group)
        pod.metadata = {
          ...pod.metadata,
          annotations: {
            "sharded-scheduler.io/pod-group": extra.group,
            "sharded-scheduler.io/min-member": "2",
          },
        };
      return pod;
    };
    const create = (...pods: k8s.V1Pod[]) =>
      Promise.all(pods.map((body) => core.createNamespacedPod({ namespace, body })));
    const nodeOf = async (name: string) =>
      (await core.readNamespacedPod({ name, namespace })).spec?.nodeName || undefined;
    const bound = (names: string[], timeoutMs = 30_000) =>
      waitFor(
        `${names.join(", ")} bound`,
        async () => ((await Promise.all(names.map(nodeOf))).every(Boolean) ? true : undefined),
        timeoutMs,
      );

    // A gang of 2 × 1500m on shard 0's node: 1 cpu stays free there.
    const gang = ownedBy(0, "gang", false);
    await create(work(`${gang}-a`, "1500m", { group: gang }), work(`${gang}-b`, "1500m", { group: gang }));
    await bound([`${gang}-a`, `${gang}-b`]);
    // Shard 1's node: a low-priority pod, then a high-priority one that needs its room (eviction).
    const victim = ownedBy(1, "low", true);
    await create(work(victim, "2", { priorityClass: low }));
    await bound([victim]);
    const preemptor = ownedBy(1, "high", true);
    await create(work(preemptor, "2500m", { priorityClass: high }));
    await bound([preemptor], 45_000);
    await waitFor(
      "the victim evicted",
      async () =>
        (await core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${victim}` })).items.length
          ? undefined
          : true,
      30_000,
    );
    // A group of 2 × 700m owned by shard 0, which has 1 cpu left: the coordinator hands it to shard 1 (1.5 cpu free).
    const stuck = ownedBy(0, "handoff", false);
    await create(work(`${stuck}-a`, "700m", { group: stuck }), work(`${stuck}-b`, "700m", { group: stuck }));
    await bound([`${stuck}-a`, `${stuck}-b`], 45_000);
    const moved = await core.readNamespacedPod({ name: `${stuck}-a`, namespace });
    const pin = moved.status?.conditions?.find((c) => c.type === "sharded-scheduler.io/Owner");
    expect(pin).toMatchObject({ status: "True", reason: "HandedOff" });
    expect(pin?.message).toMatch(new RegExp(`^shard=${shards[1]} epoch=\\d+$`));
    expect(moved.spec?.nodeName).toBe(nodes[1]);

    // Nothing the code did was refused.
    for (const proc of processes) {
      const refused = readFileSync(proc.log, "utf8")
        .split("\n")
        .filter((line) => /forbidden|\b403\b/i.test(line));
      expect(refused, proc.identity).toEqual([]);
    }
    // A call outside the granted rules is refused: each ServiceAccount, on the API server itself.
    const shardClient = await KubeClient.create(
      loadKubeConfig({
        kubeconfig: await serviceAccountKubeconfig(core, namespace, `${fullname}-scheduler`, workDir),
      }),
    );
    const coordinatorClient = await KubeClient.create(
      loadKubeConfig({
        kubeconfig: await serviceAccountKubeconfig(core, namespace, `${fullname}-coordinator`, workDir),
      }),
    );
    try {
      expect((await shardClient.call("GET", `/api/v1/namespaces/${namespace}/secrets`)).status).toBe(403);
      expect(
        (
          await shardClient.call(
            "PATCH",
            `/api/v1/nodes/${nodes[0]}`,
            { metadata: { labels: { x: "y" } } },
            "application/merge-patch+json",
          )
        ).status,
      ).toBe(403);
      expect(
        (
          await coordinatorClient.call("POST", `/api/v1/namespaces/${namespace}/pods/${stuck}-a/binding`, {
            metadata: { name: `${stuck}-a` },
            target: { kind: "Node", name: nodes[0] },
          })
        ).status,
      ).toBe(403);
      expect(
        (await coordinatorClient.call("DELETE", `/api/v1/namespaces/${namespace}/pods/${stuck}-a`)).status,
      ).toBe(403);
      // Neither writes pods themselves (their annotations are the tenants'), only pods/status.
      for (const client of [shardClient, coordinatorClient])
        expect(
          (
            await client.call(
              "PATCH",
              `/api/v1/namespaces/${namespace}/pods/${stuck}-a`,
              { metadata: { annotations: { x: "y" } } },
              "application/merge-patch+json",
            )
          ).status,
        ).toBe(403);
      // And the same clients may do what the code does.
      expect((await shardClient.call("GET", "/api/v1/nodes?limit=1")).status).toBe(200);
      expect(
        (await coordinatorClient.call("GET", `/api/v1/namespaces/${namespace}/pods/${stuck}-a`)).status,
      ).toBe(200);
    } finally {
      shardClient.close();
      coordinatorClient.close();
    }
    await Promise.all(
      [`${gang}-a`, `${gang}-b`, preemptor, `${stuck}-a`, `${stuck}-b`].map((name) =>
        core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }),
      ),
    );
  });

  it("helm test passes on the healthy ring and fails once no coordinator leads", async () => {
    const podName = `${fullname}-status-check`;
    const healthy = await helmTestOnKwok(core, release, namespace, podName, workDir);
    expect(healthy.exitCode, healthy.stderr).toBe(0);
    expect(healthy.stdout).toMatch(/ring epoch \d+ \(2 members/);
    expect(healthy.passed, healthy.helm).toBe(true);
    expect(healthy.helm).toMatch(/Phase:\s+Succeeded/);
    // The command is the pod's, as the chart renders it, with only the credentials added.
    const { objects } = await renderChart(release, namespace, baseValues);
    const rendered = objectOf<k8s.V1Pod>(objects, "Pod", "-status-check").spec?.containers[0]?.command ?? [];
    expect(healthy.command.slice(0, -1)).toEqual(localCommand(rendered));
    expect(healthy.command.at(-1)).toMatch(/^--kubeconfig=.*-status\.kubeconfig$/);
    // A succeeded test pod is deleted (hook-succeeded).
    await waitFor(
      "the succeeded test pod deleted",
      async () =>
        (await core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${podName}` })).items.length
          ? undefined
          : true,
      30_000,
    );
    // The coordinator stops: its leader Lease is released or expires, and the ring is unhealthy.
    const coordinator = processes.find((proc) => proc.identity.includes("coordinator"));
    expect(coordinator).toBeDefined();
    await coordinator?.stop();
    processes.splice(processes.indexOf(coordinator as RunningCoordinator), 1);
    await waitFor(
      "no coordinator leader",
      async () => {
        const lease = await coordination.readNamespacedLease({
          name: `${schedulerName}-coordinator`,
          namespace,
        });
        const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
        const expired = Date.now() - renewed > (lease.spec?.leaseDurationSeconds ?? 0) * 1000 + 1000;
        return !lease.spec?.holderIdentity || expired ? true : undefined;
      },
      30_000,
    );
    const leaderless = await helmTestOnKwok(core, release, namespace, podName, workDir);
    expect(leaderless.exitCode, leaderless.stderr).toBe(1);
    expect(leaderless.stderr).toMatch(/unhealthy: no coordinator leader/);
    expect(leaderless.passed, leaderless.helm).toBe(false);
    // A failed test pod stays for `kubectl logs` until the next helm test, even past helm uninstall
    // (helm does not track hook objects): the operator deletes it, as here.
    await core.deleteNamespacedPod({ name: podName, namespace, gracePeriodSeconds: 0 });
  });

  it("scales the shards with helm upgrade and keeps the Redis password", async () => {
    for (const replicas of [5, 2]) {
      await helm([
        "upgrade",
        release,
        chartDir,
        "--namespace",
        namespace,
        "--reuse-values",
        "--set",
        `scheduler.replicas=${replicas}`,
        "--wait",
        "--timeout",
        "90s",
      ]);
      const shards = await apps.readNamespacedStatefulSet({ name: fullname, namespace });
      expect(shards.spec?.replicas).toBe(replicas);
      await waitFor(
        `${replicas} shard pods, all Ready`,
        async () => {
          const { ready, count } = await podsOf("scheduler");
          return ready && count === replicas ? true : undefined;
        },
        60_000,
      );
    }
    expect(await redisPassword()).toBe(passwordAtInstall);
  });

  it("uninstalls without leaving cluster-scoped objects", async () => {
    await Promise.all(processes.splice(0).map((proc) => proc.stop()));
    await helm(["uninstall", release, "--namespace", namespace, "--wait"]);
    const left = [
      ...(await rbac.listClusterRole({ labelSelector: instanceSelector })).items,
      ...(await rbac.listClusterRoleBinding({ labelSelector: instanceSelector })).items,
      ...(await scheduling.listPriorityClass({ labelSelector: instanceSelector })).items,
    ];
    expect(left.map((object) => object.metadata?.name)).toEqual([]);
    await waitFor(
      "the release's pods gone",
      async () =>
        (await core.listNamespacedPod({ namespace, labelSelector: instanceSelector })).items.length
          ? undefined
          : true,
      60_000,
    );
  });
});

/** A pod for the release's scheduler, on the KWOK nodes. */
function probePod(name: string, cpu: string): k8s.V1Pod {
  return {
    metadata: { name },
    spec: {
      schedulerName,
      nodeSelector: { [fakeNodeLabel.key]: fakeNodeLabel.value },
      containers: [{ name: "main", image: "busybox", resources: { requests: { cpu } } }],
    },
  };
}

/**
 * The installed ConfigMap as the flags of the program that reads it (from its --help), less
 * what the test sets itself: where /metrics is served and how (free loopback ports; auth rbac, the
 * chart's default, through the harness) and Redis (the run's, without a password).
 */
async function configFlags(configMap: string, entry: string): Promise<string[]> {
  const data = (await core.readNamespacedConfigMap({ name: configMap, namespace })).data ?? {};
  const flagOf = new Map([...flagsOf(entry)].map(([flag, env]) => [env, flag]));
  return Object.entries(data)
    .filter(([env]) => !["METRICS_BIND_ADDRESS", "METRICS_AUTH"].includes(env) && !env.startsWith("REDIS_"))
    .map(([env, value]) => `--${flagOf.get(env)}=${value}`);
}

// --- access reviews -------------------------------------------------------------------------------

interface Access {
  verb: string;
  resource: string;
  group?: string;
  /** "" = all namespaces; undefined = cluster-scoped. */
  namespace?: string;
  name?: string;
}

const verbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
/** The release namespace, another one, and all namespaces. */
const namespaces = () => [namespace, "default", ""];

const describeAccess = (a: Access) =>
  `${a.verb} ${a.group ? `${a.group}/` : ""}${a.resource}${a.namespace === undefined ? "" : ` in "${a.namespace}"`}${a.name ? ` named ${a.name}` : ""}`;

const expectedAccess = (accesses: Access[]) => accesses.map(describeAccess).sort();

/** A cluster-wide grant on a namespaced resource: allowed in every namespace. */
const everywhere = (allowed: string[], resource: string, group?: string): Access[] =>
  allowed.flatMap((verb) =>
    namespaces().map((ns) => ({ verb, resource, namespace: ns, ...(group ? { group } : {}) })),
  );

const leaseAccess = (verb: string, name?: string): Access => ({
  verb,
  resource: "leases",
  group: "coordination.k8s.io",
  namespace,
  ...(name ? { name } : {}),
});

/**
 * Asks the API server, through SubjectAccessReviews, what a ServiceAccount of the release may do:
 * every verb on the resources the code touches and on some it must not (secrets, configmaps,
 * events.k8s.io), in the release namespace, another one and all, and on named Leases.
 */
async function allowedFor(serviceAccount: string, leaseNames: string[]): Promise<string[]> {
  const namespaced: Omit<Access, "verb">[] = [
    { resource: "pods" },
    { resource: "pods/status" },
    { resource: "pods/binding" },
    { resource: "pods/eviction" },
    { resource: "pods/log" },
    { resource: "events" },
    { resource: "events", group: "events.k8s.io" },
    { resource: "poddisruptionbudgets", group: "policy" },
    { resource: "persistentvolumeclaims" },
    { resource: "services" },
    { resource: "replicationcontrollers" },
    { resource: "replicasets", group: "apps" },
    { resource: "statefulsets", group: "apps" },
    { resource: "podgroups", group: "scheduling.k8s.io" },
    { resource: "podgroups/status", group: "scheduling.k8s.io" },
    { resource: "workloads", group: "scheduling.k8s.io" },
    { resource: "podgroups", group: "scheduling.x-k8s.io" },
    { resource: "podgroups/status", group: "scheduling.x-k8s.io" },
    { resource: "podgroups", group: "scheduling.volcano.sh" },
    { resource: "podgroups/status", group: "scheduling.volcano.sh" },
    { resource: "leases", group: "coordination.k8s.io" },
    { resource: "secrets" },
    { resource: "configmaps" },
  ];
  const candidates: Access[] = [
    ...namespaced.flatMap((r) =>
      namespaces().flatMap((ns) => verbs.map((verb) => ({ ...r, verb, namespace: ns }))),
    ),
    ...["nodes", "nodes/status", "persistentvolumes", "namespaces"].flatMap((resource) =>
      verbs.map((verb) => ({ resource, verb })),
    ),
    ...verbs.map((verb) => ({ resource: "storageclasses", group: "storage.k8s.io", verb })),
    ...verbs.map((verb) => ({ resource: "priorityclasses", group: "scheduling.k8s.io", verb })),
    ...[
      { resource: "tokenreviews", group: "authentication.k8s.io" },
      { resource: "subjectaccessreviews", group: "authorization.k8s.io" },
    ].flatMap((r) => verbs.map((verb) => ({ ...r, verb }))),
    ...leaseNames.flatMap((name) => verbs.map((verb) => leaseAccess(verb, name))),
  ];
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const groups = ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"];
  const allowed: Access[] = [];
  for (let i = 0; i < candidates.length; i += 32) {
    const batch = candidates.slice(i, i + 32);
    const answers = await Promise.all(
      batch.map((access) =>
        authorization.createSubjectAccessReview({
          body: {
            spec: {
              user,
              groups,
              resourceAttributes: {
                verb: access.verb,
                group: access.group ?? "",
                resource: access.resource.split("/")[0],
                subresource: access.resource.split("/")[1] ?? "",
                namespace: access.namespace ?? "",
                name: access.name ?? "",
              },
            },
          },
        }),
      ),
    );
    answers.forEach((answer, j) => {
      if (answer.status?.allowed) allowed.push(batch[j] as Access);
    });
  }
  return expectedAccess(allowed);
}
