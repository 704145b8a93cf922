/**
 * Real clients of Kubernetes 1.37's native gangs, placed by our shards: on a cluster of its own
 * with the alpha workload gates (WorkloadWithJob: the Job controller makes a Workload and a
 * PodGroup for a Job with spec.scheduling), 3 shards and a coordinator with the cluster's Redis.
 * An independent checker watches throughout that no node is overcommitted and that every bind is
 * by the shard that owned the node, and the PodGroup is hashed as "<ns>/PodGroup/<name>".
 *
 *   (a) a Job with a gang policy → its PodGroup's pods are bound together by the shard the
 *       PodGroup hashes to, which marks the PodGroup PodGroupInitiallyScheduled=True;
 *   (b) a Job's gang no single shard can hold → the coordinator lends nodes to its owner;
 *   (c) a hand-made Workload and PodGroup (workloadRef), members created by hand → bound together;
 *   (d) minCount above the pods there are → nothing bound, the PodGroup never says scheduled.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import { InvariantChecker } from "../checker/invariant-checker.js";
import { fakeNodeManifest } from "../cluster/local/fake-nodes.js";
import { repoRoot } from "../cluster/local/layout.js";
import { type ClusterState, defaultClusterOptions, down, up } from "../cluster/local/local-cluster.js";
import { type RunningCoordinator, startCoordinator } from "../support/coordinator.js";
import { createTestNamespace } from "../support/kube.js";
import { metricValue } from "../support/metrics.js";
import { quickCoordinatorArgs, quickShardArgs } from "../support/quick-timings.js";
import { ringSettled } from "../support/ring.js";
import { type RunningShard, startShard } from "../support/shard.js";
import { waitUntilSchedulable } from "../support/suite.js";
import { holdsFor, waitFor } from "../support/wait.js";

const leaseMs = 4_000;
const lendGraceMs = 8_000;
const shardArgs = quickShardArgs(leaseMs);
const coordinatorArgs = [
  ...quickCoordinatorArgs(leaseMs),
  "--cooldown-ms=10000",
  `--lend-grace-ms=${lendGraceMs}`,
];
const podGroups = { group: "scheduling.k8s.io", version: "v1beta1", plural: "podgroups" };
const lentToLabel = "sharded-scheduler.io/lent-to";

interface PodGroup {
  metadata: { name: string; ownerReferences?: { kind: string; name: string }[] };
  spec: { schedulingPolicy: { gang?: { minCount: number } } };
  status?: { conditions?: { type: string; status: string; reason: string }[] };
}

const initiallyScheduled = (group: PodGroup) =>
  group.status?.conditions?.find((c) => c.type === "PodGroupInitiallyScheduled");

/**
 * The alpha gates change every Job (each gets a Workload and a PodGroup), so this runs on a
 * cluster of its own, as workload-api.test.ts does; only when the run owns its clusters.
 */
describe.skipIf(!inject("ownCluster"))(
  "native gangs of real clients, by 3 shards and the coordinator",
  () => {
    const stateDir = join(repoRoot, ".cluster-test-native-jobs");
    const id = `it-native-${randomBytes(2).toString("hex")}`;
    const shardNames = [0, 1, 2].map((ordinal) => `${id}-${ordinal}`);
    const ring = new ShardRing(shardNames);
    const processes: (RunningShard | RunningCoordinator)[] = [];
    let cluster: ClusterState;
    let kc: k8s.KubeConfig;
    let core: k8s.CoreV1Api;
    let objects: k8s.CustomObjectsApi;
    let checker: InvariantChecker;
    let coordinator: RunningCoordinator;
    let namespace = "";

    beforeAll(async () => {
      const log = (line: string) => process.stdout.write(`[native-jobs cluster] ${line}\n`);
      await down(stateDir, () => undefined);
      cluster = await up({ ...defaultClusterOptions, stateDir, nodes: 1, workloadGates: "alpha" }, log);
      kc = new k8s.KubeConfig();
      kc.loadFromFile(cluster.kubeconfig);
      core = kc.makeApiClient(k8s.CoreV1Api);
      objects = kc.makeApiClient(k8s.CustomObjectsApi);
      namespace = await createTestNamespace(core, "native-jobs");
      // Pools chosen by node name so the ring gives each shard its share: "main" 2 nodes each
      // (any shard holds a small gang), "lend" 1 node each (a wide gang needs three).
      await pool("main", 2);
      await pool("lend", 1);
      checker = await InvariantChecker.start(kc, {
        namespace,
        nodeLabelSelector: `suite=${id}`,
        ringLease: { namespace: "default", name: `${id}-ring` },
      });
      const common = [`--kubeconfig=${cluster.kubeconfig}`, `--redis-url=${cluster.redisUrl}`];
      for (const identity of shardNames)
        processes.push(await startShard({ schedulerName: id, identity, args: [...common, ...shardArgs] }));
      coordinator = await startCoordinator({
        schedulerName: id,
        identity: `${id}-coordinator`,
        redisUrl: cluster.redisUrl,
        args: [`--kubeconfig=${cluster.kubeconfig}`, ...coordinatorArgs],
      });
      processes.push(coordinator);
      await ringSettled(checker, core, processes.slice(0, 3), shardNames, 30_000);
      await waitFor(
        "a coordinator leader",
        async () => ((await coordinator.isLeader()) ? true : undefined),
        15_000,
      );
    }, 180_000);

    afterAll(async () => {
      checker?.stop();
      await Promise.all(processes.map((proc) => proc.stop()));
      await down(stateDir, () => undefined);
    });

    /** Nodes <id>-<name>-<i> (4 cpu) picked so that each shard owns perShard of them. */
    async function pool(name: string, perShard: number): Promise<void> {
      const chosen = new Map(shardNames.map((shard) => [shard, 0]));
      const names: string[] = [];
      for (let index = 0; [...chosen.values()].some((count) => count < perShard); index++) {
        const node = `${id}-${name}-${index}`;
        const owner = ring.ownerOf(node) as string;
        if ((chosen.get(owner) ?? perShard) >= perShard) continue;
        chosen.set(owner, (chosen.get(owner) ?? 0) + 1);
        names.push(node);
      }
      await Promise.all(
        names.map((node) =>
          core.createNode({
            body: fakeNodeManifest({
              name: node,
              cpu: "4",
              memory: "8Gi",
              pods: 110,
              labels: { suite: id, pool: name },
            }) as k8s.V1Node,
          }),
        ),
      );
      await waitUntilSchedulable(core, names);
    }

    const podSpec = (pool: string, cpu: string) => ({
      schedulerName: id,
      nodeSelector: { suite: id, pool },
      containers: [{ name: "c", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu } } }],
    });

    /** A Job of `parallelism` pods with spec.scheduling's gang policy (untyped: client-node lacks the field). */
    const createGangJob = (name: string, parallelism: number, minCount: number, pool: string, cpu: string) =>
      objects.createNamespacedCustomObject({
        group: "batch",
        version: "v1",
        namespace,
        plural: "jobs",
        body: {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name },
          spec: {
            parallelism,
            completions: parallelism,
            scheduling: { schedulingPolicy: { gang: { minCount } } },
            template: { spec: { restartPolicy: "Never", ...podSpec(pool, cpu) } },
          },
        },
      });

    const jobPods = async (job: string) =>
      (await core.listNamespacedPod({ namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` }))
        .items;

    const readPodGroup = async (name: string) =>
      (await objects.getNamespacedCustomObject({ ...podGroups, namespace, name })) as PodGroup;

    /** The PodGroup the Job controller made for a Job (owned by it). */
    const podGroupOf = (job: string) =>
      waitFor(
        `the PodGroup of Job ${job}`,
        async () => {
          const list = (await objects.listNamespacedCustomObject({ ...podGroups, namespace })) as {
            items: PodGroup[];
          };
          return list.items.find((group) =>
            group.metadata.ownerReferences?.some((ref) => ref.kind === "Job" && ref.name === job),
          );
        },
        20_000,
      );

    /** Waits until every pod named is bound; returns pod → node. */
    async function bound(names: () => Promise<k8s.V1Pod[]>, count: number, timeoutMs = 30_000) {
      return waitFor(
        `${count} pods bound`,
        async () => {
          const pods = await names();
          if (pods.length !== count || !pods.every((pod) => pod.spec?.nodeName)) return undefined;
          return pods;
        },
        timeoutMs,
      );
    }

    /** The shards that bound these pods, from the checker's record of the Scheduled Events. */
    const bindersOf = (pods: k8s.V1Pod[]) =>
      waitFor(
        "the Scheduled Events",
        async () => {
          const by = new Map(checker.ledger.binds.map((bind) => [bind.pod, bind.by]));
          const names = pods.map((pod) => pod.metadata?.name as string);
          return names.every((name) => by.has(name)) ? new Set(names.map((name) => by.get(name))) : undefined;
        },
        20_000,
      );

    const scheduledCondition = (groupName: string) =>
      waitFor(
        `PodGroupInitiallyScheduled=True on ${groupName}`,
        async () => {
          const condition = initiallyScheduled(await readPodGroup(groupName));
          return condition?.status === "True" ? condition : undefined;
        },
        20_000,
      );

    /** Which shard the ring gives a PodGroup: its hash key is "<ns>/PodGroup/<name>". */
    const ownerOf = (groupName: string) => ring.ownerOf(`${namespace}/PodGroup/${groupName}`);

    function expectNoViolations(): void {
      expect(checker.ledger.violations).toEqual([]);
      expect(checker.ledger.foreignBinds()).toEqual({ foreign: [], unverifiable: [] });
    }

    it("(a) binds a Job's gang (the Job controller's PodGroup) together, by the shard the PodGroup hashes to", async () => {
      await createGangJob("train", 4, 4, "main", "1");
      const group = await podGroupOf("train");
      expect(group.spec.schedulingPolicy.gang?.minCount).toBe(4);
      const pods = await bound(() => jobPods("train"), 4);
      for (const pod of pods) expect(pod.spec?.schedulingGroup?.podGroupName).toBe(group.metadata.name);
      expect(await bindersOf(pods)).toEqual(new Set([ownerOf(group.metadata.name)]));
      // Bound in one go: their PodScheduled conditions turned True within the same moment.
      const scheduledAt = pods.map((pod) => {
        const condition = pod.status?.conditions?.find(
          (c) => c.type === "PodScheduled" && c.status === "True",
        );
        return new Date(condition?.lastTransitionTime ?? 0).getTime();
      });
      expect(Math.max(...scheduledAt) - Math.min(...scheduledAt)).toBeLessThanOrEqual(2_000);
      expect(await scheduledCondition(group.metadata.name)).toMatchObject({ reason: "Scheduled" });
      expectNoViolations();
    });

    it("(b) binds a Job's gang no single shard can hold on nodes the coordinator lends its owner", async () => {
      const lendsBefore = metricValue(
        await coordinator.metrics(),
        "sharded_scheduler_coordinator_lends_total",
      );
      // Each shard owns one free 4-cpu node of the pool; the gang needs three of them.
      await createGangJob("wide", 3, 3, "lend", "3500m");
      const group = await podGroupOf("wide");
      const owner = ownerOf(group.metadata.name);
      const pods = await bound(() => jobPods("wide"), 3, 45_000);
      expect(await bindersOf(pods)).toEqual(new Set([owner]));
      const lent = (await core.listNode({ labelSelector: `${lentToLabel},pool=lend` })).items;
      expect(lent.map((node) => node.metadata?.labels?.[lentToLabel])).toEqual([owner, owner]);
      expect(metricValue(await coordinator.metrics(), "sharded_scheduler_coordinator_lends_total")).toBe(
        lendsBefore + 2,
      );
      expect(await scheduledCondition(group.metadata.name)).toMatchObject({ reason: "Scheduled" });
      expectNoViolations();
    });

    /** A pod of ours joining podGroupName, made by hand. */
    const createMember = (name: string, podGroupName: string) =>
      core.createNamespacedPod({
        namespace,
        body: { metadata: { name }, spec: { ...podSpec("main", "100m"), schedulingGroup: { podGroupName } } },
      });
    const members = (prefix: string) => async () =>
      (await core.listNamespacedPod({ namespace })).items.filter((pod) =>
        pod.metadata?.name?.startsWith(`${prefix}-`),
      );
    const createPodGroup = (name: string, minCount: number, spec: object = {}) =>
      objects.createNamespacedCustomObject({
        ...podGroups,
        namespace,
        body: {
          apiVersion: "scheduling.k8s.io/v1beta1",
          kind: "PodGroup",
          metadata: { name },
          spec: { schedulingPolicy: { gang: { minCount } }, ...spec },
        },
      });

    it("(c) binds the members of a hand-made Workload's PodGroup together", async () => {
      await objects.createNamespacedCustomObject({
        ...podGroups,
        plural: "workloads",
        namespace,
        body: {
          apiVersion: "scheduling.k8s.io/v1beta1",
          kind: "Workload",
          metadata: { name: "trainer" },
          spec: { podGroupTemplates: [{ name: "workers", schedulingPolicy: { gang: { minCount: 3 } } }] },
        },
      });
      await createPodGroup("trainer-workers", 3, {
        workloadRef: { workloadName: "trainer", templateName: "workers" },
      });
      for (const i of [0, 1, 2]) await createMember(`worker-${i}`, "trainer-workers");
      const pods = await bound(members("worker"), 3);
      expect(await bindersOf(pods)).toEqual(new Set([ownerOf("trainer-workers")]));
      expect(await scheduledCondition("trainer-workers")).toMatchObject({ reason: "Scheduled" });
      expectNoViolations();
    });

    it("(d) binds nothing while minCount exceeds the pods there are, and never says scheduled", async () => {
      await createPodGroup("short", 4);
      for (const i of [0, 1, 2]) await createMember(`short-${i}`, "short");
      await holdsFor(
        "no member of short bound and no PodGroupInitiallyScheduled=True",
        async () => {
          for (const pod of await members("short")())
            expect(pod.spec?.nodeName, pod.metadata?.name).toBeUndefined();
          expect(initiallyScheduled(await readPodGroup("short"))?.status).not.toBe("True");
        },
        5_000,
        500,
      );
      // The owning shard says why on the pods.
      const waiting = await waitFor(
        "short-0 told why it waits",
        async () => {
          const pod = await core.readNamespacedPod({ name: "short-0", namespace });
          const condition = pod.status?.conditions?.find(
            (c) => c.type === "PodScheduled" && c.status === "False",
          );
          return condition?.message ? condition : undefined;
        },
        15_000,
      );
      expect(waiting.message).toMatch(/4/);
      expectNoViolations();
    });
  },
);
