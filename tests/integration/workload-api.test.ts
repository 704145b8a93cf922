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
  type PodGroupCrd,
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
    createWorkload: (name: string, spec: object) =>
      create("workloads", {
        apiVersion: "scheduling.k8s.io/v1beta1",
        kind: "Workload",
        metadata: { name },
        spec,
      }),
    /** A gang PodGroup; `spec` adds fields (workloadRef, schedulingConstraints, parentCompositePodGroupName). */
    createPodGroup: (name: string, minCount: number, spec: object = {}) =>
      create("podgroups", {
        apiVersion: "scheduling.k8s.io/v1beta1",
        kind: "PodGroup",
        metadata: { name },
        spec: { schedulingPolicy: { gang: { minCount } }, ...spec },
      }),
    createCompositePodGroup: (name: string, minGroupCount: number, workloadRef: object) =>
      create(
        "compositepodgroups",
        {
          apiVersion: "scheduling.k8s.io/v1alpha3",
          kind: "CompositePodGroup",
          metadata: { name },
          spec: { schedulingPolicy: { gang: { minGroupCount } }, workloadRef },
        },
        { group: "scheduling.k8s.io", version: "v1alpha3" },
      ),
    /** A Job of `parallelism` pause pods; schedulerName "nobody" when only the Job controller's objects matter. */
    createJob: (name: string, job: { parallelism: number; scheduling?: object; schedulerName?: string }) =>
      create(
        "jobs",
        {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name },
          spec: {
            parallelism: job.parallelism,
            completions: job.parallelism,
            ...(job.scheduling ? { scheduling: job.scheduling } : {}),
            template: {
              spec: {
                restartPolicy: "Never",
                schedulerName: job.schedulerName ?? "default-scheduler",
                containers: [
                  {
                    name: "c",
                    image: "registry.k8s.io/pause:3.10",
                    resources: { requests: { cpu: "100m" } },
                  },
                ],
              },
            },
          },
        },
        { group: "batch", version: "v1" },
      ),
    /** Waits until the Job has `count` pods (all bound, when asked). */
    jobPods: (job: string, count: number, bound = false) =>
      waitFor(
        `${count} ${bound ? "bound " : ""}pods of Job ${job}`,
        async () => {
          const list = await core.listNamespacedPod({
            namespace,
            labelSelector: `batch.kubernetes.io/job-name=${job}`,
          });
          const ready = list.items.length === count && (!bound || list.items.every((p) => p.spec?.nodeName));
          return ready ? list.items : undefined;
        },
        30_000,
      ),
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
    createMember: (name: string, podGroupName: string, cpu = "100m") =>
      core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name },
          spec: {
            schedulerName: "default-scheduler",
            schedulingGroup: { podGroupName },
            containers: [
              { name: "c", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu } } },
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
    await api.createWorkload("trainer", {
      podGroupTemplates: [{ name: "workers", schedulingPolicy: { gang: { minCount: 3 } } }],
    });
    await api.createPodGroup("trainer-workers", 3, {
      workloadRef: { workloadName: "trainer", templateName: "workers" },
    });
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
    await api.createJob("plain", {
      parallelism: 2,
      scheduling: { schedulingPolicy: { gang: { minCount: 2 } } },
      schedulerName: "nobody",
    });
    const pods = await api.jobPods("plain", 2);
    for (const pod of pods) expect(pod.spec?.schedulingGroup).toBeUndefined();
    expect((await api.listPodGroups()).filter((g) => g.metadata.name.startsWith("plain"))).toEqual([]);
  });

  it("installs the scheduler-plugins and Volcano PodGroup CRDs and accepts an object of each", async () => {
    createdCrds.push(...(await installCrds(kc)));
    const objects = kc.makeApiClient(k8s.CustomObjectsApi);
    /** The namespace's podgroups of one CRD. */
    const podGroupsOf = (crd: PodGroupCrd) => {
      const at = { group: crd.group, version: crd.version, namespace, plural: crd.plural };
      return {
        create: (name: string, spec: object, status?: object) =>
          objects.createNamespacedCustomObject({
            ...at,
            body: {
              apiVersion: `${crd.group}/${crd.version}`,
              kind: "PodGroup",
              metadata: { name },
              spec,
              status,
            },
          }),
        read: async (name: string) =>
          (await objects.getNamespacedCustomObject({ ...at, name })) as {
            spec: Record<string, unknown>;
            status?: Record<string, unknown>;
          },
        writeStatus: async (name: string, status: object) =>
          objects.replaceNamespacedCustomObjectStatus({
            ...at,
            name,
            body: { ...(await objects.getNamespacedCustomObject({ ...at, name })), status },
          }),
      };
    };

    const coscheduling = podGroupsOf(schedulerPluginsPodGroupCrd);
    await coscheduling.create("coscheduling", {
      minMember: 3,
      minResources: { cpu: "3", memory: "3Gi" },
      scheduleTimeoutSeconds: 60,
    });
    // Its status is a subresource, as the coscheduling plugin writes it.
    await coscheduling.writeStatus("coscheduling", { phase: "Scheduling", running: 0, scheduled: 0 });
    const sp = await coscheduling.read("coscheduling");
    expect(sp.spec.minMember).toBe(3);
    expect(sp.status?.phase).toBe("Scheduling");
    // The schema is enforced: minMember is an integer.
    await expect(coscheduling.create("bad", { minMember: "three" })).rejects.toMatchObject({ code: 422 });

    const volcano = podGroupsOf(volcanoPodGroupCrd);
    await volcano.create(
      "volcano",
      { minMember: 2, minTaskMember: { worker: 2 }, minResources: { cpu: "2" }, priorityClassName: "high" },
      // Volcano's CRD has no status subresource: status is written with the object.
      { phase: "Pending" },
    );
    const vc = await volcano.read("volcano");
    expect(vc.spec).toMatchObject({ minMember: 2, minTaskMember: { worker: 2 }, priorityClassName: "high" });
    expect(vc.status?.phase).toBe("Pending");

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
    cluster = await up(
      { ...defaultClusterOptions, stateDir, nodes: 2, zones: 2, workloadGates: "alpha" },
      log,
    );
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
    await api.createJob("gang", {
      parallelism: 3,
      scheduling: { schedulingPolicy: { gang: { minCount: 3 } } },
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

    const pods = await api.jobPods("gang", 3, true);
    for (const pod of pods) expect(pod.spec?.schedulingGroup?.podGroupName).toBe(group.metadata.name);
    const condition = await waitFor(
      "PodGroupInitiallyScheduled",
      async () => initiallyScheduled(await api.readPodGroup(group.metadata.name)),
      15_000,
    );
    expect(condition).toMatchObject({ status: "True", reason: "Scheduled" });
  });

  it("gives a gang without minCount the Job's parallelism, and a Job without spec.scheduling a basic PodGroup", async () => {
    // Nobody binds them: only the objects the Job controller makes are looked at.
    await api.createJob("defaulted", {
      parallelism: 4,
      scheduling: { schedulingPolicy: { gang: {} } },
      schedulerName: "nobody",
    });
    await api.createJob("basic", { parallelism: 4, schedulerName: "nobody" });
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
    const basicPods = await api.jobPods("basic", 4);
    for (const pod of basicPods)
      expect(pod.spec?.schedulingGroup?.podGroupName).toBe(groups.basic.metadata.name);
  });
  it("kube-scheduler keeps a gang with a zone constraint out of a placement that spans zones", async () => {
    // One 32-cpu node per zone: two members of 20 cpu fit the cluster, not one zone.
    await api.createPodGroup("zonal", 2, {
      schedulingConstraints: { topology: [{ key: "topology.kubernetes.io/zone" }] },
    });
    expect((await api.readPodGroup("zonal")).spec).toHaveProperty("schedulingConstraints");
    await api.createMember("zonal-0", "zonal", "20");
    await api.createMember("zonal-1", "zonal", "20");
    const condition = await waitFor(
      "PodGroupInitiallyScheduled",
      async () => initiallyScheduled(await api.readPodGroup("zonal")),
      15_000,
    );
    expect(condition).toMatchObject({ status: "False", reason: "Unschedulable" });
    expect(await api.nodeOf("zonal-0")).toBeUndefined();
    expect(await api.nodeOf("zonal-1")).toBeUndefined();
  });

  it("kube-scheduler binds the children of a CompositePodGroup only once minGroupCount of them can start", async () => {
    await api.createWorkload("composite", {
      compositePodGroupTemplates: [
        {
          name: "parent",
          schedulingPolicy: { gang: { minGroupCount: 2 } },
          podGroupTemplates: [{ name: "part", schedulingPolicy: { gang: { minCount: 1 } } }],
        },
      ],
    });
    await api.createCompositePodGroup("parent", 2, { workloadName: "composite", templateName: "parent" });
    for (const child of ["child-a", "child-b"]) {
      await api.createPodGroup(child, 1, {
        parentCompositePodGroupName: "parent",
        workloadRef: { workloadName: "composite", templateName: "part" },
      });
    }
    await api.createMember("child-a-0", "child-a");
    await nothingBound(api, ["child-a-0"], "child-a", 3_000);
    await api.createMember("child-b-0", "child-b");
    await waitFor(
      "both children's members bound",
      async () => ((await api.nodeOf("child-a-0")) && (await api.nodeOf("child-b-0")) ? true : undefined),
      30_000,
    );
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
