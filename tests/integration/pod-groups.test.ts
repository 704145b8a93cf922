/**
 * Native gangs against a real API server: pods joining a scheduling.k8s.io/v1beta1 PodGroup with
 * spec.schedulingGroup are placed all-or-nothing by minCount; a pod whose PodGroup does not
 * exist yet waits, told why, and is bound once the PodGroup is created; the PodGroup is told
 * PodGroupInitiallyScheduled=True once its gang is bound. Skipped (each test) on a
 * cluster that does not serve the API (GenericWorkload off).
 */
import * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { createPodGroup, getPodGroup, joining, podGroupApi, servesPodGroups } from "../support/pod-groups.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = schedulerSuite("podgroups");
let served = false;

beforeAll(async () => {
  served = await servesPodGroups(suite.clients.kc);
  if (served)
    await Promise.all([suite.addNodes("late", 2), suite.addNodes("min", 3), suite.addNodes("elastic", 2)]);
});

function createGang(name: string, minCount: number): Promise<unknown> {
  return createPodGroup(suite.clients.kc, suite.namespace, name, {
    schedulingPolicy: { gang: { minCount } },
  });
}

/** Sets a PodGroup's minCount (mutable: elastic gangs), as a controller scaling it would. */
async function setMinCount(name: string, minCount: number): Promise<void> {
  const objects = suite.clients.kc.makeApiClient(k8s.CustomObjectsApi);
  const current = await getPodGroup<{ spec: { schedulingPolicy: { gang: { minCount: number } } } }>(
    suite.clients.kc,
    suite.namespace,
    name,
  );
  current.spec.schedulingPolicy.gang.minCount = minCount;
  await objects.replaceNamespacedCustomObject({
    ...podGroupApi,
    namespace: suite.namespace,
    name,
    body: current,
  });
}

/** size pods <podGroup>-i of the suite's scheduler, joining PodGroup podGroup. */
function members(podGroup: string, size: number, pool: string): k8s.V1Pod[] {
  return Array.from({ length: size }, (_, i) => {
    return joining(suite.pod(`${podGroup}-${i}`, { pool, cpu: "1" }), podGroup);
  });
}

describe("native PodGroups (scheduling.k8s.io/v1beta1)", () => {
  it("holds pods whose PodGroup does not exist, told why, and binds them once it is created", async (ctx) => {
    if (!served) ctx.skip();
    const pods = members("late", 2, "late");
    await suite.create(pods);
    const message = await suite.waitUnschedulable("late-0", /pod group "late"/);
    expect(message).toBe(`waiting for pod's pod group "late" to appear in scheduling queue`);
    await suite.staysPending(["late-0", "late-1"], 1_500);
    await createGang("late", 2);
    await suite.waitBound(["late-0", "late-1"]);
  });

  it("binds nothing until minCount members exist, then all of them together", async (ctx) => {
    if (!served) ctx.skip();
    await createGang("min", 3);
    const pods = members("min", 3, "min");
    await suite.create(pods.slice(0, 2));
    await suite.waitUnschedulable("min-0", /spec\.schedulingPolicy\.gang\.minCount/);
    await suite.staysPending(["min-0", "min-1"], 1_500);
    await suite.create(pods.slice(2));
    const placements = await suite.waitBound(["min-0", "min-1", "min-2"]);
    expect(Object.keys(placements)).toHaveLength(3);
    // The owning shard tells the PodGroup, as kube-scheduler does (True is terminal).
    const condition = await waitFor(
      "PodGroupInitiallyScheduled=True on min",
      async () => {
        const group = (await suite.clients.kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
          ...podGroupApi,
          namespace: suite.namespace,
          name: "min",
        })) as { status?: { conditions?: { type: string; status: string; reason: string }[] } };
        const found = group.status?.conditions?.find((c) => c.type === "PodGroupInitiallyScheduled");
        return found?.status === "True" ? found : undefined;
      },
      20_000,
    );
    expect(condition.reason).toBe("Scheduled");
  });

  it("places the members present once minCount is lowered (elastic); never says scheduled before", async (ctx) => {
    if (!served) ctx.skip();
    await createGang("elastic", 3);
    await suite.create(members("elastic", 2, "elastic"));
    await suite.waitUnschedulable("elastic-0", /to have 3 members/);
    await suite.staysPending(["elastic-0", "elastic-1"], 1_500);
    const before = (await suite.clients.kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
      ...podGroupApi,
      namespace: suite.namespace,
      name: "elastic",
    })) as { status?: { conditions?: { type: string; status: string }[] } };
    expect(before.status?.conditions?.some((c) => c.status === "True")).toBeFalsy();
    await setMinCount("elastic", 2);
    await suite.waitBound(["elastic-0", "elastic-1"]);
  });
});
