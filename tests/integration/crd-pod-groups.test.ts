/**
 * The PodGroup CRDs users already run, against a real API server with the vendored CRDs
 * installed before the shard starts (it watches a CRD only where discovery serves it):
 * a scheduler-plugins PodGroup places its gang by minMember, holds it while its minResources
 * are not free, and gets its status (phase, counts) from the owning shard; a missing one holds
 * its pods until it is created; a Volcano gang preempts at its PriorityClass's priority, never
 * its members'. The CRDs this file installed are removed after the suite.
 */
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKubeConfig } from "../support/kube.js";
import { installCrds, uninstallCrds } from "../support/podgroup-crds.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

// Before the suite's shard starts (hooks run in order): discovery is asked once, at start.
let installed: string[] = [];
beforeAll(async () => {
  installed = await installCrds(testKubeConfig());
});
afterAll(async () => {
  await uninstallCrds(testKubeConfig(), installed);
});

const suite = schedulerSuite("crdpg");
const xk8s = { group: "scheduling.x-k8s.io", version: "v1alpha1", plural: "podgroups" };
const volcano = { group: "scheduling.volcano.sh", version: "v1beta1", plural: "podgroups" };
type Api = typeof xk8s;

beforeAll(async () => {
  await Promise.all([
    suite.addNodes("gang", 2),
    suite.addNodes("late", 1),
    suite.addNodes("room", 1),
    suite.addNodes("vol", 1),
  ]);
});

const objects = () => suite.clients.kc.makeApiClient(k8s.CustomObjectsApi);

function createPodGroup(api: Api, name: string, spec: Record<string, unknown>): Promise<unknown> {
  return objects().createNamespacedCustomObject({
    ...api,
    namespace: suite.namespace,
    body: { apiVersion: `${api.group}/${api.version}`, kind: "PodGroup", metadata: { name }, spec },
  });
}

interface CoschedulingStatus {
  phase?: string;
  scheduled?: number;
  running?: number;
  succeeded?: number;
  failed?: number;
}

async function statusOf(name: string): Promise<CoschedulingStatus> {
  const group = (await objects().getNamespacedCustomObject({
    ...xk8s,
    namespace: suite.namespace,
    name,
  })) as {
    status?: CoschedulingStatus;
  };
  return group.status ?? {};
}

/** size pods <group>-i of the suite's scheduler joining scheduler-plugins PodGroup `group`. */
function xMembers(group: string, size: number, pool: string, cpu = "1"): k8s.V1Pod[] {
  return Array.from({ length: size }, (_, i) =>
    suite.pod(`${group}-${i}`, { pool, cpu, labels: { "scheduling.x-k8s.io/pod-group": group } }),
  );
}

describe("scheduler-plugins PodGroups (scheduling.x-k8s.io/v1alpha1)", () => {
  it("binds nothing until minMember members exist, then all together, and writes the PodGroup's status", async () => {
    await createPodGroup(xk8s, "gang", { minMember: 3 });
    const pods = xMembers("gang", 3, "gang");
    await suite.create(pods.slice(0, 2));
    await suite.waitUnschedulable("gang-0", /to have 3 members \(spec\.minMember\)/);
    await suite.staysPending(["gang-0", "gang-1"], 1_500);
    expect((await statusOf("gang")).phase).toBe("Pending");
    await suite.create(pods.slice(2));
    const placements = await suite.waitBound(["gang-0", "gang-1", "gang-2"]);
    expect(Object.keys(placements)).toHaveLength(3);
    // KWOK runs the pods: the owner writes Running with the counts.
    const status = await waitFor(
      "gang's status Running",
      async () => {
        const found = await statusOf("gang");
        return found.phase === "Running" ? found : undefined;
      },
      20_000,
    );
    // The vendored (current) CRD has no status.scheduled: the API server prunes what we write of it.
    expect(status).toEqual({ phase: "Running", running: 3, succeeded: 0, failed: 0 });
  });

  it("holds pods whose PodGroup does not exist (PodGroup not found), and binds them once it is created", async () => {
    await suite.create(xMembers("late", 2, "late"));
    const message = await suite.waitUnschedulable("late-0", /PodGroup not found/);
    expect(message).toBe(
      `PodGroup not found: waiting for scheduling.x-k8s.io/v1alpha1 PodGroup ${suite.namespace}/late to exist`,
    );
    await suite.staysPending(["late-0", "late-1"], 1_500);
    await createPodGroup(xk8s, "late", { minMember: 2 });
    await suite.waitBound(["late-0", "late-1"]);
  });

  it("holds a gang while its minResources are not free, and places it once they are", async () => {
    // More cpu than the whole cluster has: coscheduling's PreFilter refuses the group.
    await createPodGroup(xk8s, "room", { minMember: 2, minResources: { cpu: "100000" } });
    await suite.create(xMembers("room", 2, "room"));
    const message = await suite.waitUnschedulable("room-0", /resource gap/);
    expect(message).toMatch(
      /spec\.minResources is not free on this shard's \d+ usable node\(s\), resource gap: cpu \d+m$/,
    );
    await suite.staysPending(["room-0", "room-1"], 1_500);
    // Lowered: the members are read again and the group is tried at once.
    await objects().patchNamespacedCustomObject(
      { ...xk8s, namespace: suite.namespace, name: "room", body: { spec: { minResources: { cpu: "2" } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await suite.waitBound(["room-0", "room-1"]);
  });
});

describe("Volcano PodGroups (scheduling.volcano.sh/v1beta1)", () => {
  it("a gang preempts at its PriorityClass's priority, not its members' own", async () => {
    const low = await suite.priorityClass("low", 10);
    const high = await suite.priorityClass("high", 1000);
    // The one 4-cpu node is taken by a priority-10 pod; the gang's members say priority 0 themselves.
    await suite.create(suite.pod("squatter", { pool: "vol", cpu: "3", priorityClass: low }));
    await suite.waitBound(["squatter"]);
    await createPodGroup(volcano, "vol", { minMember: 2, priorityClassName: high });
    const members = Array.from({ length: 2 }, (_, i) =>
      suite.pod(`vol-${i}`, {
        pool: "vol",
        cpu: "1",
        annotations: { "scheduling.k8s.io/group-name": "vol" },
      }),
    );
    await suite.create(members);
    const pods = await suite.pods();
    expect(pods.get("vol-0")?.spec?.priority ?? 0).toBe(0);
    await suite.waitGone(["squatter"]);
    await suite.waitBound(["vol-0", "vol-1"]);
  });
});
