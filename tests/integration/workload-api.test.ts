/**
 * The local control plane speaks Kubernetes 1.37's Workload API (scheduling.k8s.io/v1beta1
 * Workload and PodGroup, pods joining with spec.schedulingGroup), so the same PodGroups can go to
 * kube-scheduler or to us: kube-scheduler gang-schedules them here, the Job controller makes them
 * on the alpha cluster, and the PodGroup CRDs users already have install beside them.
 */
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "../cluster/local/layout.js";
import { type ClusterState, defaultClusterOptions, down, up } from "../cluster/local/local-cluster.js";
import { createTestNamespace, deleteNamespace, testClients } from "../support/kube.js";
import {
  installCrds,
  schedulerPluginsPodGroupCrd,
  uninstallCrds,
  volcanoPodGroupCrd,
} from "../support/podgroup-crds.js";
import { holdsFor, waitFor } from "../support/wait.js";

const workloadApi = { group: "scheduling.k8s.io", version: "v1beta1" };

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface PodGroup {
  metadata: { name: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  spec: {
    schedulingPolicy: { gang?: { minCount: number }; basic?: Record<string, never> };
    disruptionMode?: Record<string, unknown>;
    workloadRef?: { workloadName: string; templateName: string };
  };
  status?: { conditions?: Condition[] };
}

/** The Workload API's objects, the Jobs that carry spec.scheduling and pods, on one cluster. */
function workloadClient(kc: k8s.KubeConfig, namespace: string) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  // Untyped, so that fields client-node does not model yet (Job spec.scheduling) reach the API server.
  const objects = kc.makeApiClient(k8s.CustomObjectsApi);
  const create = (plural: string, body: object, api = workloadApi) =>
    objects.createNamespacedCustomObject({ ...api, namespace, plural, body });
  return {
    core,
    objects,
    createWorkload: (name: string, templates: { name: string; minCount: number }[]) =>
      create("workloads", {
        apiVersion: "scheduling.k8s.io/v1beta1",
        kind: "Workload",
        metadata: { name },
        spec: {
          podGroupTemplates: templates.map((t) => ({
            name: t.name,
            schedulingPolicy: { gang: { minCount: t.minCount } },
          })),
        },
      }),
    createPodGroup: (name: string, minCount: number, workloadRef?: PodGroup["spec"]["workloadRef"]) =>
      create("podgroups", {
        apiVersion: "scheduling.k8s.io/v1beta1",
        kind: "PodGroup",
        metadata: { name },
        spec: { schedulingPolicy: { gang: { minCount } }, ...(workloadRef ? { workloadRef } : {}) },
      }),
    createJob: (body: object) => create("jobs", body, { group: "batch", version: "v1" }),
    readPodGroup: async (name: string) =>
      (await objects.getNamespacedCustomObject({
        ...workloadApi,
        namespace,
        plural: "podgroups",
        name,
      })) as PodGroup,
    listPodGroups: async () =>
      (
        (await objects.listNamespacedCustomObject({ ...workloadApi, namespace, plural: "podgroups" })) as {
          items: PodGroup[];
        }
      ).items,
    listWorkloads: async () =>
      (
        (await objects.listNamespacedCustomObject({ ...workloadApi, namespace, plural: "workloads" })) as {
          items: { metadata: { name: string } }[];
        }
      ).items,
    /** A member of podGroupName for kube-scheduler (default-scheduler). */
    createMember: (name: string, podGroupName: string) =>
      core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name },
          spec: {
            schedulerName: "default-scheduler",
            schedulingGroup: { podGroupName },
            containers: [
              { name: "c", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "100m" } } },
            ],
          },
        },
      }),
    nodeOf: async (name: string) => (await core.readNamespacedPod({ name, namespace })).spec?.nodeName,
  };
}

/** Fails at once when one of the pods is bound or the PodGroup reports a condition. */
async function nothingBound(
  api: ReturnType<typeof workloadClient>,
  pods: string[],
  group: string,
  ms: number,
) {
  await holdsFor(
    `no member of ${group} bound and no PodGroupInitiallyScheduled`,
    async () => {
      for (const pod of pods) expect(await api.nodeOf(pod), pod).toBeUndefined();
      expect(initiallyScheduled(await api.readPodGroup(group))).toBeUndefined();
    },
    ms,
    500,
  );
}

const initiallyScheduled = (group: PodGroup) =>
  group.status?.conditions?.find((c) => c.type === "PodGroupInitiallyScheduled");

async function defaultServiceAccount(core: k8s.CoreV1Api, namespace: string): Promise<void> {
  // The ServiceAccount admission plugin rejects pods until the default ServiceAccount exists.
  await waitFor(
    "the default ServiceAccount",
    async () => core.readNamespacedServiceAccount({ name: "default", namespace }).then(() => true),
    60_000,
  );
}

describe("the shared test cluster (workload gates beta)", () => {
  const { kc, core } = testClients();
  let namespace = "";
  let api: ReturnType<typeof workloadClient>;
  const createdCrds: string[] = [];

  beforeAll(async () => {
    namespace = await createTestNamespace(core, "workload-api");
    api = workloadClient(kc, namespace);
    await defaultServiceAccount(core, namespace);
  });
  afterAll(async () => {
    await deleteNamespace(core, namespace);
    await uninstallCrds(kc, createdCrds);
  });

  it("serves Workload and PodGroup in scheduling.k8s.io/v1beta1, and no alpha kinds", async () => {
    const resources = await kc
      .makeApiClient(k8s.CustomObjectsApi)
      .getAPIResources({ group: workloadApi.group, version: workloadApi.version });
    expect(resources.resources.map((r) => r.name).sort()).toEqual(
      expect.arrayContaining(["podgroups", "podgroups/status", "workloads"]),
    );
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    const versions = groups.groups
      .find((g) => g.name === "scheduling.k8s.io")
      ?.versions.map((v) => v.version);
    expect(versions).toEqual(expect.arrayContaining(["v1", "v1beta1"]));
    expect(versions).not.toContain("v1alpha3");
  });

  it("kube-scheduler binds a Workload's gang only once minCount members exist, all together", async () => {
    await api.createWorkload("trainer", [{ name: "workers", minCount: 3 }]);
    await api.createPodGroup("trainer-workers", 3, { workloadName: "trainer", templateName: "workers" });
    const group = await api.readPodGroup("trainer-workers");
    // Defaults the API server fills in.
    expect(group.spec.disruptionMode).toEqual({ single: {} });
    await api.createMember("worker-0", "trainer-workers");
    await api.createMember("worker-1", "trainer-workers");
    // Two of three: kube-scheduler holds them before its queue (no condition, no Event).
    await nothingBound(api, ["worker-0", "worker-1"], "trainer-workers", 3_000);

    await api.createMember("worker-2", "trainer-workers");
    const nodes = await waitFor(
      "all three members bound",
      async () => {
        const bound = await Promise.all(["worker-0", "worker-1", "worker-2"].map(api.nodeOf));
        return bound.every(Boolean) ? bound : undefined;
      },
      30_000,
    );
    expect(nodes).toHaveLength(3);
    // Bound in one go: their PodScheduled conditions turned True within the same moment.
    const scheduledAt = await Promise.all(
      ["worker-0", "worker-1", "worker-2"].map(async (name) => {
        const pod = await api.core.readNamespacedPod({ name, namespace });
        const condition = pod.status?.conditions?.find(
          (c) => c.type === "PodScheduled" && c.status === "True",
        );
        return new Date(condition?.lastTransitionTime ?? 0).getTime();
      }),
    );
    expect(Math.max(...scheduledAt) - Math.min(...scheduledAt)).toBeLessThanOrEqual(1_000);
    const condition = await waitFor(
      "PodGroupInitiallyScheduled",
      async () => initiallyScheduled(await api.readPodGroup("trainer-workers")),
      15_000,
    );
    expect(condition).toMatchObject({ status: "True", reason: "Scheduled" });
  });

  it("kube-scheduler binds nothing of a PodGroup whose minCount exceeds its pods", async () => {
    await api.createPodGroup("short", 4);
    const members = ["short-0", "short-1", "short-2"];
    for (const name of members) await api.createMember(name, "short");
    // Longer than the gang above took from its last member to its binds (well under a second).
    await nothingBound(api, members, "short", 5_000);
  });

  it("keeps Job spec.scheduling off (WorkloadWithJob is alpha): Jobs get no PodGroup", async () => {
    await api.createJob({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "plain" },
      spec: {
        parallelism: 2,
        completions: 2,
        scheduling: { schedulingPolicy: { gang: { minCount: 2 } } },
        template: {
          spec: {
            restartPolicy: "Never",
            schedulerName: "nobody",
            containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }],
          },
        },
      },
    });
    const pods = await waitFor(
      "the Job's pods",
      async () => {
        const list = await core.listNamespacedPod({
          namespace,
          labelSelector: "batch.kubernetes.io/job-name=plain",
        });
        return list.items.length === 2 ? list.items : undefined;
      },
      30_000,
    );
    for (const pod of pods) expect(pod.spec?.schedulingGroup).toBeUndefined();
    expect((await api.listPodGroups()).filter((g) => g.metadata.name.startsWith("plain"))).toEqual([]);
  });

  it("installs the scheduler-plugins and Volcano PodGroup CRDs and accepts an object of each", async () => {
    createdCrds.push(...(await installCrds(kc)));
    const objects = kc.makeApiClient(k8s.CustomObjectsApi);
    const coscheduling = {
      group: schedulerPluginsPodGroupCrd.group,
      version: schedulerPluginsPodGroupCrd.version,
    };
    await objects.createNamespacedCustomObject({
      ...coscheduling,
      namespace,
      plural: "podgroups",
      body: {
        apiVersion: "scheduling.x-k8s.io/v1alpha1",
        kind: "PodGroup",
        metadata: { name: "coscheduling" },
        spec: { minMember: 3, minResources: { cpu: "3", memory: "3Gi" }, scheduleTimeoutSeconds: 60 },
      },
    });
    // Its status is a subresource, as the coscheduling plugin writes it.
    const written = (await objects.getNamespacedCustomObject({
      ...coscheduling,
      namespace,
      plural: "podgroups",
      name: "coscheduling",
    })) as Record<string, unknown>;
    await objects.replaceNamespacedCustomObjectStatus({
      ...coscheduling,
      namespace,
      plural: "podgroups",
      name: "coscheduling",
      body: { ...written, status: { phase: "Scheduling", running: 0, scheduled: 0 } },
    });
    const sp = (await objects.getNamespacedCustomObject({
      ...coscheduling,
      namespace,
      plural: "podgroups",
      name: "coscheduling",
    })) as { spec: { minMember: number }; status: { phase: string } };
    expect(sp.spec.minMember).toBe(3);
    expect(sp.status.phase).toBe("Scheduling");

    const volcano = { group: volcanoPodGroupCrd.group, version: volcanoPodGroupCrd.version };
    await objects.createNamespacedCustomObject({
      ...volcano,
      namespace,
      plural: "podgroups",
      body: {
        apiVersion: "scheduling.volcano.sh/v1beta1",
        kind: "PodGroup",
        metadata: { name: "volcano" },
        spec: {
          minMember: 2,
          minTaskMember: { worker: 2 },
          minResources: { cpu: "2" },
          priorityClassName: "high",
          queue: "default",
        },
        // Volcano's CRD has no status subresource: status is written with the object.
        status: { phase: "Pending" },
      },
    });
    const vc = (await objects.getNamespacedCustomObject({
      ...volcano,
      namespace,
      plural: "podgroups",
      name: "volcano",
    })) as { spec: { minMember: number; minTaskMember: Record<string, number> }; status: { phase: string } };
    expect(vc.spec).toMatchObject({ minMember: 2, minTaskMember: { worker: 2 }, priorityClassName: "high" });
    expect(vc.status.phase).toBe("Pending");

    // A schema the CRD enforces: minMember is an integer.
    await expect(
      objects.createNamespacedCustomObject({
        ...coscheduling,
        namespace,
        plural: "podgroups",
        body: {
          apiVersion: "scheduling.x-k8s.io/v1alpha1",
          kind: "PodGroup",
          metadata: { name: "bad" },
          spec: { minMember: "three" },
        },
      }),
    ).rejects.toMatchObject({ code: 422 });
    // The native PodGroups are still what scheduling.k8s.io serves beside them.
    expect(await api.listPodGroups()).not.toEqual([]);
  });
});

/**
 * The alpha gates change every Job (each gets a Workload and a PodGroup, basic when the Job has
 * no spec.scheduling), so they run on a cluster of their own: a few seconds to start.
 */
describe.skipIf(!inject("ownCluster"))("a cluster with the alpha workload gates", () => {
  const stateDir = join(repoRoot, ".cluster-test-alpha");
  let cluster: ClusterState;
  let kc: k8s.KubeConfig;
  let namespace = "";
  let api: ReturnType<typeof workloadClient>;

  beforeAll(async () => {
    const log = (line: string) => process.stdout.write(`[alpha cluster] ${line}\n`);
    await down(stateDir, () => undefined);
    cluster = await up({ ...defaultClusterOptions, stateDir, nodes: 2, workloadGates: "alpha" }, log);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    namespace = await createTestNamespace(core, "workload-alpha");
    api = workloadClient(kc, namespace);
    await defaultServiceAccount(core, namespace);
  });
  afterAll(async () => {
    await down(stateDir, () => undefined);
  });

  it("refuses to reuse it with other workload gates", async () => {
    await expect(up({ ...cluster.options, workloadGates: "beta" }, () => undefined)).rejects.toThrow(
      /has workload gates "alpha", not "beta": stop it first/,
    );
  });

  it("serves CompositePodGroup in v1alpha3", async () => {
    const resources = await kc
      .makeApiClient(k8s.CustomObjectsApi)
      .getAPIResources({ group: "scheduling.k8s.io", version: "v1alpha3" });
    expect(resources.resources.map((r) => r.name)).toContain("compositepodgroups");
  });

  it("the Job controller makes a gang PodGroup for a Job with spec.scheduling, and kube-scheduler binds it", async () => {
    await api.createJob({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "gang" },
      spec: {
        parallelism: 3,
        completions: 3,
        scheduling: { schedulingPolicy: { gang: { minCount: 3 } } },
        template: {
          spec: {
            restartPolicy: "Never",
            containers: [
              { name: "c", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "100m" } } },
            ],
          },
        },
      },
    });
    const group = await waitFor(
      "the Job's PodGroup",
      async () => (await api.listPodGroups()).find((g) => g.metadata.name.startsWith("gang-")),
      30_000,
    );
    expect(group.spec.schedulingPolicy).toEqual({ gang: { minCount: 3 } });
    expect(group.metadata.ownerReferences).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: "Job", name: "gang", controller: true })]),
    );
    const workloads = await api.listWorkloads();
    expect(workloads.map((w) => w.metadata.name)).toContain(group.spec.workloadRef?.workloadName);

    const pods = await waitFor(
      "three bound members",
      async () => {
        const list = await api.core.listNamespacedPod({
          namespace,
          labelSelector: "batch.kubernetes.io/job-name=gang",
        });
        return list.items.length === 3 && list.items.every((p) => p.spec?.nodeName) ? list.items : undefined;
      },
      30_000,
    );
    for (const pod of pods) expect(pod.spec?.schedulingGroup?.podGroupName).toBe(group.metadata.name);
    const condition = await waitFor(
      "PodGroupInitiallyScheduled",
      async () => initiallyScheduled(await api.readPodGroup(group.metadata.name)),
      15_000,
    );
    expect(condition).toMatchObject({ status: "True", reason: "Scheduled" });
  });

  it("gives a gang without minCount the Job's parallelism, and a Job without spec.scheduling a basic PodGroup", async () => {
    const job = (name: string, scheduling?: object) =>
      api.createJob({
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name },
        spec: {
          parallelism: 4,
          completions: 4,
          ...(scheduling ? { scheduling } : {}),
          template: {
            spec: {
              restartPolicy: "Never",
              // Nobody binds them: only the objects the Job controller makes are looked at.
              schedulerName: "nobody",
              containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }],
            },
          },
        },
      });
    await job("defaulted", { schedulingPolicy: { gang: {} } });
    await job("basic");
    const groups = await waitFor(
      "both PodGroups",
      async () => {
        const all = await api.listPodGroups();
        const defaulted = all.find((g) => g.metadata.name.startsWith("defaulted-"));
        const basic = all.find((g) => g.metadata.name.startsWith("basic-"));
        return defaulted && basic ? { defaulted, basic } : undefined;
      },
      30_000,
    );
    expect(groups.defaulted.spec.schedulingPolicy).toEqual({ gang: { minCount: 4 } });
    expect(groups.basic.spec.schedulingPolicy).toEqual({ basic: {} });
    const basicPods = await waitFor(
      "the basic Job's pods",
      async () => {
        const list = await api.core.listNamespacedPod({
          namespace,
          labelSelector: "batch.kubernetes.io/job-name=basic",
        });
        return list.items.length === 4 ? list.items : undefined;
      },
      30_000,
    );
    for (const pod of basicPods)
      expect(pod.spec?.schedulingGroup?.podGroupName).toBe(groups.basic.metadata.name);
  });
});

/** Without the gates (a cluster older in spirit): no Workload API, and pods cannot join a PodGroup. */
describe.skipIf(!inject("ownCluster"))("a cluster with the workload gates off", () => {
  const stateDir = join(repoRoot, ".cluster-test-off");
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let namespace = "";

  beforeAll(async () => {
    const log = (line: string) => process.stdout.write(`[off cluster] ${line}\n`);
    await down(stateDir, () => undefined);
    const cluster = await up({ ...defaultClusterOptions, stateDir, nodes: 1, workloadGates: "off" }, log);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    namespace = await createTestNamespace(core, "workload-off");
    await defaultServiceAccount(core, namespace);
  });
  afterAll(async () => {
    await down(stateDir, () => undefined);
  });

  it("serves only scheduling.k8s.io/v1 and drops spec.schedulingGroup from new pods", async () => {
    const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    const versions = groups.groups
      .find((g) => g.name === "scheduling.k8s.io")
      ?.versions.map((v) => v.version);
    expect(versions).toEqual(["v1"]);
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: "member" },
        spec: {
          schedulerName: "nobody",
          schedulingGroup: { podGroupName: "pg" },
          containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }],
        },
      },
    });
    expect(pod.spec?.schedulingGroup).toBeUndefined();
  });
});
