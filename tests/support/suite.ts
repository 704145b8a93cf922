/**
 * The world of one integration test file: a unique scheduler name served by its own shard
 * process, a namespace, KWOK fake nodes in named pools, PriorityClasses. Everything is created
 * by the file and removed after it, so files never see each other's pods, nodes or classes.
 *
 *   const suite = schedulerSuite("gangs");            // registers beforeAll/afterAll hooks
 *   await suite.addNodes("big", 2, { cpu: "4" });     // nodes labelled suite=<id>, pool=big
 *   await suite.create(suite.gang("job", 3, { pool: "big", cpu: "3" }));
 *   await suite.waitBound(["job-0", "job-1", "job-2"]);
 *
 * Coordinator tests: schedulerSuite("lending", { redis: true }) gives every shard the suite
 * starts --redis-url (the run's Redis), so that shards publish their capacity; then
 * suite.startCoordinator("a") runs a coordinator replica for the suite's scheduler, and
 * suite.killRedis() / suite.startRedis() crash and restart the run's Redis (own cluster only).
 */
import { randomBytes } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type FakeNodeSpec, fakeNodeManifest } from "../cluster/local/fake-nodes.js";
import { type RunningCoordinator, startCoordinator } from "./coordinator.js";
import { createTestNamespace, deleteNamespace, statusOf, testClients } from "./kube.js";
import { killRedis, redisUrl, startRedis } from "./redis.js";
import { type RunningShard, startShard } from "./shard.js";
import { GiveUp, holdsFor, waitFor } from "./wait.js";

export const podGroupAnnotation = "sharded-scheduler.io/pod-group";
export const minMemberAnnotation = "sharded-scheduler.io/min-member";
const notReadyTaint = "node.kubernetes.io/not-ready";

/** Waits until each node is Ready and rid of the not-ready taint (KWOK, then the node controller). */
export async function waitUntilSchedulable(
  core: k8s.CoreV1Api,
  names: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `nodes ${names.join(", ")} Ready`,
    async () => {
      for (const name of names) {
        const node = await core.readNode({ name });
        const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        if (!ready) throw new Error(`${name} is not Ready`);
        if (node.spec?.taints?.some((t) => t.key === notReadyTaint)) throw new Error(`${name} is tainted`);
      }
      return true;
    },
    timeoutMs,
  );
}

/**
 * After a test restarted the API server: waits until the controllers behind it work again (a
 * probe node is made schedulable by KWOK and the node controller), so the next test file starts
 * on a settled cluster instead of paying for the restart within its own timeouts.
 */
export async function controllersRecovered(core: k8s.CoreV1Api, probe: string): Promise<void> {
  await core.createNode({
    body: fakeNodeManifest({ name: probe, cpu: "1", memory: "1Gi", pods: 1 }) as k8s.V1Node,
  });
  try {
    await waitUntilSchedulable(core, [probe], 120_000);
  } finally {
    await core.deleteNode({ name: probe });
  }
}

export interface PodOptions {
  /** The node pool the pod is confined to (nodeSelector suite=<id>, pool=<pool>). */
  pool: string;
  cpu?: string;
  memory?: string;
  gpus?: number;
  /** An init container asking for this much cpu. */
  initCpu?: string;
  /** Pod group (annotation sharded-scheduler.io/pod-group) and min-member. */
  group?: string;
  minMember?: number | string;
  priorityClass?: string;
  /** Default: the suite's scheduler. */
  schedulerName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  tolerations?: k8s.V1Toleration[];
  affinity?: k8s.V1Affinity;
  /** Added to the pool's nodeSelector. */
  nodeSelector?: Record<string, string>;
}

export type NodeOptions = Partial<Omit<FakeNodeSpec, "name">>;

export interface SuiteOptions {
  /** Extra flags for the suite's own shard (after --settle-window-ms=500). */
  shardArgs?: string[];
  /** Every shard the suite starts publishes its capacity to the run's Redis (--redis-url). */
  redis?: boolean;
  /** The programs its shards and coordinators run (default: the repository's dist/cli.js of each). */
  entries?: { shard: string; coordinator: string };
}

export class SchedulerSuite {
  /** Unique per file and run: the scheduler name, node-name prefix and label value. */
  readonly id: string;
  readonly clients = testClients();
  readonly core = this.clients.core;
  readonly policy = this.clients.kc.makeApiClient(k8s.PolicyV1Api);
  readonly scheduling = this.clients.kc.makeApiClient(k8s.SchedulingV1Api);
  readonly coordination = this.clients.kc.makeApiClient(k8s.CoordinationV1Api);
  readonly eventsV1 = this.clients.kc.makeApiClient(k8s.EventsV1Api);
  namespace = "";
  private mainShard: RunningShard | undefined;
  /** Every shard the suite started, stopped with it. */
  readonly shards: RunningShard[] = [];
  /** Every coordinator the suite started, stopped with it. */
  readonly coordinators: RunningCoordinator[] = [];
  private readonly priorityClasses: string[] = [];
  /** Set while a test has Redis down, so that tearDown brings it back for the next file. */
  private redisKilled = false;

  constructor(
    prefix: string,
    private readonly options: SuiteOptions = {},
  ) {
    this.id = `it-${prefix}-${randomBytes(2).toString("hex")}`;
  }

  get schedulerName(): string {
    return this.id;
  }

  /** The file's shard (serving schedulerName). */
  get shard(): RunningShard {
    if (!this.mainShard) throw new Error("the suite's shard is not running (beforeAll failed?)");
    return this.mainShard;
  }

  async setUp(shardArgs: string[]): Promise<void> {
    this.namespace = await createTestNamespace(this.core, this.id);
    this.mainShard = await this.startShard("", shardArgs);
  }

  async tearDown(): Promise<void> {
    await Promise.all([...this.coordinators, ...this.shards].map((proc) => proc.stop()));
    if (this.namespace) {
      await this.core
        .deleteCollectionNamespacedPod({ namespace: this.namespace, gracePeriodSeconds: 0 })
        .catch(() => undefined);
      await deleteNamespace(this.core, this.namespace);
    }
    await this.core.deleteCollectionNode({ labelSelector: `suite=${this.id}` }).catch(() => undefined);
    // The shards' Leases (members and ring), kept in "default".
    await this.coordination
      .deleteCollectionNamespacedLease({
        namespace: "default",
        labelSelector: `sharded-scheduler.io/shard=${this.id}`,
      })
      .catch(() => undefined);
    await this.coordination
      .deleteNamespacedLease({ name: `${this.id}-coordinator`, namespace: "default" })
      .catch(() => undefined);
    for (const name of this.priorityClasses) {
      await this.scheduling.deletePriorityClass({ name }).catch(() => undefined);
    }
    if (this.redisKilled) await this.startRedis();
  }

  /** Another replica of the suite's scheduler (identity `<id>-<ordinal>`); stopped with the suite. */
  async startReplica(ordinal: number, args: string[] = []): Promise<RunningShard> {
    const shard = await startShard({
      schedulerName: this.id,
      identity: `${this.id}-${ordinal}`,
      args: this.shardFlags(args),
      ...(this.options.entries ? { entry: this.options.entries.shard } : {}),
    });
    this.shards.push(shard);
    return shard;
  }

  /** Another shard, serving `<id>-<suffix>`; stopped with the suite. */
  async startShard(suffix: string, args: string[] = []): Promise<RunningShard> {
    const shard = await startShard({
      schedulerName: suffix ? `${this.id}-${suffix}` : this.id,
      args: this.shardFlags(args),
      ...(this.options.entries ? { entry: this.options.entries.shard } : {}),
    });
    this.shards.push(shard);
    return shard;
  }

  private shardFlags(args: string[]): string[] {
    return this.options.redis ? [`--redis-url=${redisUrl()}`, ...args] : args;
  }

  // --- coordinator and Redis -----------------------------------------------------------------

  /**
   * A coordinator replica for the suite's scheduler (identity `<id>-coordinator-<suffix>`, Leases
   * in "default" like the shards', the run's Redis); stopped with the suite.
   */
  async startCoordinator(suffix: string, args: string[] = []): Promise<RunningCoordinator> {
    const coordinator = await startCoordinator({
      schedulerName: this.id,
      identity: `${this.id}-coordinator-${suffix}`,
      namespace: "default",
      redisUrl: redisUrl(),
      args,
      ...(this.options.entries ? { entry: this.options.entries.coordinator } : {}),
    });
    this.coordinators.push(coordinator);
    return coordinator;
  }

  /** Crashes the run's Redis (SIGKILL); tearDown restarts it if the test does not. Own cluster only. */
  async killRedis(): Promise<void> {
    await killRedis();
    this.redisKilled = true;
  }

  /** Restarts the run's Redis on the same port, empty, and waits until it answers PING. */
  async startRedis(): Promise<void> {
    await startRedis();
    this.redisKilled = false;
  }

  // --- nodes ---------------------------------------------------------------------------------

  nodeName(pool: string, index: number): string {
    return `${this.id}-${pool}-${index}`;
  }

  /**
   * Creates fake nodes <id>-<pool>-<first…> (default 4 cpu, 8Gi, 110 pods) and waits until each
   * is Ready and rid of the not-ready taint, i.e. schedulable.
   */
  async addNodes(pool: string, count: number, options: NodeOptions = {}, first = 0): Promise<string[]> {
    const names = Array.from({ length: count }, (_, i) => this.nodeName(pool, first + i));
    await Promise.all(
      names.map((name) =>
        this.core.createNode({
          body: fakeNodeManifest({
            cpu: "4",
            memory: "8Gi",
            pods: 110,
            ...options,
            name,
            labels: { ...options.labels, suite: this.id, pool },
          }) as k8s.V1Node,
        }),
      ),
    );
    await waitUntilSchedulable(this.core, names);
    return names;
  }

  async setUnschedulable(nodeName: string, unschedulable: boolean): Promise<void> {
    await this.core.patchNode(
      { name: nodeName, body: { spec: { unschedulable } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  }

  // --- priority ------------------------------------------------------------------------------

  /** A PriorityClass named <id>-<suffix>, deleted with the suite. */
  async priorityClass(
    suffix: string,
    value: number,
    preemptionPolicy: "PreemptLowerPriority" | "Never" = "PreemptLowerPriority",
  ): Promise<string> {
    const name = `${this.id}-${suffix}`;
    await this.scheduling.createPriorityClass({ body: { metadata: { name }, value, preemptionPolicy } });
    this.priorityClasses.push(name);
    return name;
  }

  // --- pods ----------------------------------------------------------------------------------

  pod(name: string, options: PodOptions): k8s.V1Pod {
    const requests: Record<string, string> = {};
    const limits: Record<string, string> = {};
    if (options.cpu) requests.cpu = options.cpu;
    if (options.memory) requests.memory = options.memory;
    // Extended resources must be requested and limited alike.
    if (options.gpus) requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = String(options.gpus);
    const annotations: Record<string, string> = { ...options.annotations };
    if (options.group !== undefined) annotations[podGroupAnnotation] = options.group;
    if (options.minMember !== undefined) annotations[minMemberAnnotation] = String(options.minMember);
    return {
      metadata: { name, labels: options.labels, annotations },
      spec: {
        schedulerName: options.schedulerName ?? this.schedulerName,
        nodeSelector: { suite: this.id, pool: options.pool, ...options.nodeSelector },
        priorityClassName: options.priorityClass,
        tolerations: options.tolerations,
        affinity: options.affinity,
        terminationGracePeriodSeconds: 0,
        initContainers: options.initCpu
          ? [
              {
                name: "init",
                image: "registry.k8s.io/pause:3.10",
                resources: { requests: { cpu: options.initCpu } },
              },
            ]
          : undefined,
        containers: [{ name: "main", image: "registry.k8s.io/pause:3.10", resources: { requests, limits } }],
      },
    };
  }

  /** size pods <name>-0… in pod group <name> with min-member size (unless options say otherwise). */
  gang(name: string, size: number, options: PodOptions): k8s.V1Pod[] {
    return Array.from({ length: size }, (_, i) =>
      this.pod(`${name}-${i}`, { group: name, minMember: size, ...options }),
    );
  }

  async create(...pods: (k8s.V1Pod | k8s.V1Pod[])[]): Promise<void> {
    await Promise.all(
      pods.flat().map((body) => this.core.createNamespacedPod({ namespace: this.namespace, body })),
    );
  }

  async deletePods(names: string[]): Promise<void> {
    await Promise.all(
      names.map((name) =>
        this.core
          .deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 })
          .catch(() => undefined),
      ),
    );
  }

  /** The namespace's pods by name. */
  async pods(): Promise<Map<string, k8s.V1Pod>> {
    const list = await this.core.listNamespacedPod({ namespace: this.namespace });
    return new Map(list.items.map((pod) => [pod.metadata?.name as string, pod]));
  }

  /** Binds a pod by hand through the Binding subresource; the API server's status code. */
  async bind(name: string, nodeName: string): Promise<number | undefined> {
    return this.core
      .createNamespacedPodBinding({
        name,
        namespace: this.namespace,
        body: { metadata: { name }, target: { kind: "Node", name: nodeName } },
      })
      .then(() => 201, statusOf);
  }

  /** Waits until every named pod is bound; returns pod name → node name. */
  async waitBound(names: string[], timeoutMs = 30_000): Promise<Record<string, string>> {
    return waitFor(
      `${names.join(", ")} to be bound`,
      async () => {
        const pods = await this.pods();
        const bound: Record<string, string> = {};
        const waiting: string[] = [];
        for (const name of names) {
          const pod = pods.get(name);
          if (pod?.spec?.nodeName) bound[name] = pod.spec.nodeName;
          else
            waiting.push(
              `${name} (${pod ? (scheduledCondition(pod)?.message ?? "no condition") : "missing"})`,
            );
        }
        if (waiting.length > 0) throw new Error(`still pending: ${waiting.join("; ")}`);
        return bound;
      },
      timeoutMs,
    );
  }

  /**
   * Waits until the pod says PodScheduled=False, reason Unschedulable, with a message matching
   * the pattern; returns the message.
   */
  async waitUnschedulable(name: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      `${name} to be Unschedulable with a message matching ${pattern}`,
      async () => {
        const pod = await this.core.readNamespacedPod({ name, namespace: this.namespace });
        if (pod.spec?.nodeName) throw new GiveUp(`${name} was bound to ${pod.spec.nodeName}`);
        const condition = scheduledCondition(pod);
        if (condition?.status !== "False" || condition.reason !== "Unschedulable") {
          throw new Error(`PodScheduled is ${JSON.stringify(condition)}`);
        }
        if (!pattern.test(condition.message ?? "")) throw new Error(`the message is "${condition.message}"`);
        return condition.message as string;
      },
      timeoutMs,
    );
  }

  /** Asserts that none of the named pods is bound (and all exist) for the whole duration. */
  async staysPending(names: string[], durationMs = 3_000): Promise<void> {
    await holdsFor(
      `${names.join(", ")} to stay pending`,
      async () => {
        const pods = await this.pods();
        for (const name of names) {
          const pod = pods.get(name);
          if (!pod) throw new Error(`${name} is gone`);
          if (pod.spec?.nodeName) throw new Error(`${name} was bound to ${pod.spec.nodeName}`);
        }
      },
      durationMs,
    );
  }

  /** Asserts that the named pods keep running where they are (nobody evicts them) for the duration. */
  async staysBound(placements: Record<string, string>, durationMs = 3_000): Promise<void> {
    await holdsFor(
      `${Object.keys(placements).join(", ")} to keep running where they are`,
      async () => {
        const pods = await this.pods();
        for (const [name, nodeName] of Object.entries(placements)) {
          const pod = pods.get(name);
          if (!pod) throw new Error(`${name} is gone`);
          if (pod.metadata?.deletionTimestamp) throw new Error(`${name} is being deleted`);
          if (pod.spec?.nodeName !== nodeName) throw new Error(`${name} is on ${pod.spec?.nodeName}`);
        }
      },
      durationMs,
    );
  }

  /** Waits until none of the named pods exists any more (evicted pods are deleted by KWOK). */
  async waitGone(names: string[], timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${names.join(", ")} to be gone`,
      async () => {
        const pods = await this.pods();
        const left = names.filter((name) => pods.has(name));
        if (left.length > 0) throw new Error(`still there: ${left.join(", ")}`);
        return true;
      },
      timeoutMs,
    );
  }

  /**
   * Records the last state of every pod of the namespace deleted from now on (a watch), e.g.
   * to see the DisruptionTarget condition the Eviction API puts on the pods it evicts.
   */
  async recordDeletions(): Promise<{ deleted: Map<string, k8s.V1Pod>; stop(): void }> {
    const deleted = new Map<string, k8s.V1Pod>();
    const { resourceVersion } =
      (await this.core.listNamespacedPod({ namespace: this.namespace })).metadata ?? {};
    const request = await new k8s.Watch(this.clients.kc).watch(
      `/api/v1/namespaces/${this.namespace}/pods`,
      { resourceVersion },
      (type: string, pod: k8s.V1Pod) => {
        if (type === "DELETED") deleted.set(pod.metadata?.name as string, pod);
      },
      () => undefined,
    );
    return { deleted, stop: () => request.abort() };
  }

  /** Events about a pod, optionally of one reason. */
  async events(podName: string, reason?: string): Promise<k8s.CoreV1Event[]> {
    const fieldSelector = [`involvedObject.name=${podName}`, ...(reason ? [`reason=${reason}`] : [])].join(
      ",",
    );
    const list = await this.core.listNamespacedEvent({ namespace: this.namespace, fieldSelector });
    return list.items;
  }

  /** One Event as events.k8s.io/v1 shows it (series, note, action, reportingController). */
  async eventsK8sIo(name: string): Promise<k8s.EventsV1Event> {
    return this.eventsV1.readNamespacedEvent({ name, namespace: this.namespace });
  }

  /** Events of a reason about any pod of the namespace. */
  async eventsOfReason(reason: string): Promise<k8s.CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `reason=${reason}`,
    });
    return list.items;
  }
}

export function scheduledCondition(pod: k8s.V1Pod): k8s.V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === "PodScheduled");
}

/**
 * Registers the hooks of a test file: namespace and shard before the tests (the shard gets
 * --settle-window-ms=500 and options.shardArgs; with options.redis every shard also gets
 * --redis-url), everything removed after them, and the last lines of every shard's and
 * coordinator's log printed when a test fails.
 */
export function schedulerSuite(prefix: string, options: SuiteOptions = {}): SchedulerSuite {
  const suite = new SchedulerSuite(prefix, options);
  beforeAll(() => suite.setUp(options.shardArgs ?? []));
  afterAll(() => suite.tearDown());
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      for (const proc of [...suite.shards, ...suite.coordinators]) {
        process.stdout.write(`--- last lines of ${proc.log}\n${proc.tail(30)}\n`);
      }
    });
  });
  return suite;
}
