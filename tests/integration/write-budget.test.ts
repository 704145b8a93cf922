/**
 * Writes per scheduled pod are a budget, measured by the API server itself. A backlog of solo
 * pods and gangs exists before the shard starts (its startup and cache sync are measured too),
 * and the API server counts the shard's requests apart from everyone else's (KWOK patches every
 * bound pod's status): the shard runs as its own ServiceAccount, and FlowSchemas matching only
 * that ServiceAccount sort its binds, pod status patches, Event creates and Event patches into
 * flows whose apiserver_flowcontrol_dispatched_requests_total the test reads before and after.
 * apiserver_request_total (cluster-wide) checks the binds too.
 *
 * Per --scheduled-events mode: every bound pod has exactly one bind, no status patch and no
 * FailedScheduling Event; Scheduled Events are one per pod (pod), one per group (group: on the
 * native PodGroup, on a gang's first member, on a solo pod itself) or none (off); a gang that
 * cannot fit gets its members' conditions once each and one FailedScheduling Event for the
 * group, across attempts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { schedulerReportingController } from "../../scheduler/src/contracts/keys.js";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { countApiWrites } from "../bench/api-writes.js";
import { serviceAccountKubeconfig } from "../support/helm.js";
import { createTestNamespace, schedulerKubeConfig } from "../support/kube.js";
import { metricValue } from "../support/metrics.js";
import { createPodGroup, joining, servesPodGroups } from "../support/pod-groups.js";
import { type RunningShard, startShard } from "../support/shard.js";
import { SchedulerSuite, scheduledCondition } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = new SchedulerSuite("wbudget");
const rbac = suite.clients.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const flowControl = suite.clients.kc.makeApiClient(k8s.FlowcontrolApiserverV1Api);
const serviceAccount = "shard";
let apiServer: KubeClient;
let kubeconfig = "";
let workDir = "";
let podGroupsServed = false;
const shards: RunningShard[] = [];
const modes = ["pod", "group", "off"] as const;

/** The shard's requests the FlowSchemas tell apart, by flow. */
const flows = {
  binds: { verbs: ["create"], apiGroups: [""], resources: ["pods/binding"] },
  podStatusPatches: { verbs: ["patch"], apiGroups: [""], resources: ["pods/status"] },
  eventCreates: { verbs: ["create"], apiGroups: ["events.k8s.io", ""], resources: ["events"] },
  eventPatches: { verbs: ["patch"], apiGroups: ["events.k8s.io", ""], resources: ["events"] },
} as const;
type Flow = keyof typeof flows;
const flowSchemaName = (flow: Flow) => `${suite.id}-${flow.toLowerCase()}`;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "write-budget-"));
  suite.namespace = await createTestNamespace(suite.core, suite.id);
  apiServer = await KubeClient.create(schedulerKubeConfig(suite.clients.kc));
  podGroupsServed = await servesPodGroups(suite.clients.kc);
  await suite.core.createNamespacedServiceAccount({
    namespace: suite.namespace,
    body: { metadata: { name: serviceAccount } },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: `${suite.id}-shard`, labels: { suite: suite.id } },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace: suite.namespace }],
    },
  });
  for (const [flow, rule] of Object.entries(flows) as [Flow, (typeof flows)[Flow]][])
    await flowControl.createFlowSchema({
      body: {
        metadata: { name: flowSchemaName(flow), labels: { suite: suite.id } },
        spec: {
          matchingPrecedence: 500,
          priorityLevelConfiguration: { name: "workload-high" },
          distinguisherMethod: { type: "ByUser" },
          rules: [
            {
              subjects: [
                {
                  kind: "ServiceAccount",
                  serviceAccount: { name: serviceAccount, namespace: suite.namespace },
                },
              ],
              resourceRules: [
                {
                  ...rule,
                  verbs: [...rule.verbs],
                  apiGroups: [...rule.apiGroups],
                  resources: [...rule.resources],
                  namespaces: ["*"],
                },
              ],
            },
          ],
        },
      },
    });
  // The API server's flow control has taken them in once it judged them (Dangling False).
  await waitFor(
    "the FlowSchemas in effect",
    async () => {
      for (const flow of Object.keys(flows) as Flow[]) {
        const schema = await flowControl.readFlowSchema({ name: flowSchemaName(flow) });
        if (schema.status?.conditions?.find((c) => c.type === "Dangling")?.status !== "False")
          return undefined;
      }
      return true;
    },
    30_000,
  );
  kubeconfig = await serviceAccountKubeconfig(suite.core, suite.namespace, serviceAccount, workDir);
  // Room for every mode's pods: 4 × 4 cpu, each mode binding about 3.
  await suite.addNodes("a", 4);
});

afterAll(async () => {
  await Promise.all(shards.map((shard) => shard.stop()));
  await suite.tearDown();
  for (const flow of Object.keys(flows) as Flow[])
    await flowControl.deleteFlowSchema({ name: flowSchemaName(flow) }).catch(() => undefined);
  await rbac.deleteClusterRoleBinding({ name: `${suite.id}-shard` }).catch(() => undefined);
  for (const mode of modes)
    await suite.coordination
      .deleteCollectionNamespacedLease({
        namespace: "default",
        labelSelector: `sharded-scheduler.io/shard=${suite.id}-${mode}`,
      })
      .catch(() => undefined);
  apiServer?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    for (const shard of shards) process.stdout.write(`--- last lines of ${shard.log}\n${shard.tail(40)}\n`);
  });
});

/** What the API server has counted: the shard's requests by flow, and every bind. */
async function apiCounts(): Promise<Record<Flow, number> & { allBinds: number }> {
  const text = (await apiServer.must<string>("GET", "/metrics")) as string;
  const counts = Object.fromEntries(
    (Object.keys(flows) as Flow[]).map((flow) => [
      flow,
      metricValue(text, "apiserver_flowcontrol_dispatched_requests_total", {
        flow_schema: flowSchemaName(flow),
      }),
    ]),
  ) as Record<Flow, number>;
  return { ...counts, allBinds: countApiWrites(text).bindings };
}

/** The backlog of one mode: solo pods, two annotation gangs, a native PodGroup's gang, and a gang that cannot fit. */
function backlog(mode: string, schedulerName: string) {
  const pod = (name: string, options: Parameters<SchedulerSuite["pod"]>[1]) =>
    suite.pod(`${mode}-${name}`, { schedulerName, ...options });
  const solo = Array.from({ length: 12 }, (_, i) => pod(`solo-${i}`, { pool: "a", cpu: "50m" }));
  const gangs = ["x", "y"].map((gang) =>
    Array.from({ length: 4 }, (_, i) =>
      pod(`gang-${gang}-${i}`, { pool: "a", cpu: "50m", group: `${mode}-${gang}`, minMember: 4 }),
    ),
  );
  const podGroup = podGroupsServed
    ? Array.from({ length: 3 }, (_, i) => joining(pod(`pg-${i}`, { pool: "a", cpu: "50m" }), `${mode}-pg`))
    : [];
  const waiting = Array.from({ length: 4 }, (_, i) =>
    pod(`wait-${i}`, { pool: "a", cpu: "100", group: `${mode}-wait`, minMember: 4 }),
  );
  return { solo, gangs, podGroup, waiting };
}

const nameOf = (pod: k8s.V1Pod) => pod.metadata?.name as string;

describe.each(modes)("--scheduled-events=%s", (mode) => {
  it("binds each pod once, writes nothing else on pods bound at their first attempt, and one Event per group that waits", async () => {
    const schedulerName = `${suite.id}-${mode}`;
    const { solo, gangs, podGroup, waiting } = backlog(mode, schedulerName);
    const bound = [...solo, ...gangs.flat(), ...podGroup];
    if (podGroup.length > 0)
      await createPodGroup(suite.clients.kc, suite.namespace, `${mode}-pg`, {
        schedulingPolicy: { gang: { minCount: podGroup.length } },
      });
    await suite.create(bound, waiting);
    const before = await apiCounts();
    const shard = await startShard({
      schedulerName,
      args: [`--kubeconfig=${kubeconfig}`, `--scheduled-events=${mode}`],
    });
    shards.push(shard);
    await suite.waitBound(bound.map(nameOf), 60_000);

    // The gang that cannot fit: told on each member, then tried again (a pod leaving wakes it).
    const waitingNames = waiting.map(nameOf);
    const unschedulableAttempts = async () =>
      metricValue(await shard.metrics(), "sharded_scheduler_podgroup_schedule_attempts_total", {
        result: "unschedulable",
      });
    await waitFor(
      "the waiting gang's first attempt",
      async () => ((await unschedulableAttempts()) >= 1 ? true : undefined),
      30_000,
    );
    await suite.deletePods([nameOf(solo[0] as k8s.V1Pod)]);
    await waitFor(
      "the waiting gang's second attempt",
      async () => ((await unschedulableAttempts()) >= 2 ? true : undefined),
      30_000,
    );
    const pods = await suite.pods();
    for (const name of waitingNames)
      expect(scheduledCondition(pods.get(name) as k8s.V1Pod), name).toMatchObject({
        status: "False",
        reason: "Unschedulable",
      });

    const reportingController = schedulerReportingController(schedulerName);
    const ours = async () =>
      (await suite.eventsV1.listNamespacedEvent({ namespace: suite.namespace })).items.filter(
        (event) => event.reportingController === reportingController,
      );
    const expectedScheduled =
      mode === "off"
        ? 0
        : mode === "pod"
          ? bound.length
          : solo.length + gangs.length + (podGroup.length > 0 ? 1 : 0);
    // The Events are written after the binds: wait for them (or, off, a moment).
    await waitFor(
      "the Scheduled Events",
      async () => {
        const events = (await ours()).filter((event) => event.reason === "Scheduled");
        return events.length >= expectedScheduled ? true : undefined;
      },
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const attempts = await unschedulableAttempts();
    await shard.stop();
    const after = await apiCounts();
    const events = await ours();
    const delta = (flow: Flow) => after[flow] - before[flow];

    // Each pod bound once: every one of them is bound, by binds that number the pods.
    expect(delta("binds")).toBe(bound.length);
    expect(after.allBinds - before.allBinds).toBe(bound.length);
    // No pod bound at its first attempt gets a condition; each waiting member gets its own, once.
    expect(delta("podStatusPatches")).toBe(waiting.length);
    // One FailedScheduling Event for the waiting gang, on its first member by name; none for bound pods.
    const failed = events.filter((event) => event.reason === "FailedScheduling");
    expect(failed.map((event) => event.regarding?.name)).toEqual([`${mode}-wait-0`]);
    expect(failed[0]?.series?.count ?? 1).toBeLessThanOrEqual(attempts);

    const scheduled = events.filter((event) => event.reason === "Scheduled");
    const regarding = scheduled.map((event) => `${event.regarding?.kind} ${event.regarding?.name}`).sort();
    if (mode === "off") expect(regarding).toEqual([]);
    if (mode === "pod") expect(regarding).toEqual(bound.map((pod) => `Pod ${nameOf(pod)}`).sort());
    if (mode === "group") {
      expect(regarding).toEqual(
        [
          ...solo.map((pod) => `Pod ${nameOf(pod)}`),
          ...gangs.map((gang) => `Pod ${nameOf(gang[0] as k8s.V1Pod)}`),
          ...(podGroup.length > 0 ? [`PodGroup ${mode}-pg`] : []),
        ].sort(),
      );
      // A gang's Event names every member and its node.
      const gangEvent = scheduled.find((event) => event.regarding?.name === `${mode}-gang-x-0`);
      for (const member of gangs[0] ?? [])
        expect(gangEvent?.note).toContain(`${suite.namespace}/${nameOf(member)} to ${suite.id}-a-`);
    }
    // Writes of Events: the Scheduled ones and the waiting gang's one (its series begun at most once).
    expect(delta("eventCreates")).toBe(expectedScheduled + 1);
    expect(delta("eventPatches")).toBeLessThanOrEqual(1);
  });
});
