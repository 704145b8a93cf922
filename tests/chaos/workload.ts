/**
 * The chaos suite's load: batch/v1 Jobs arriving as a seeded Poisson process whose rate keeps
 * the offered cpu (members × cpu × run time, per second) near a share of the cluster's cpu.
 *
 * The mix, by number of Jobs (cpu as a share of the smallest fake node, 8 cpu → milli-cpu):
 *   - solo (28 %): one pod of 1/32 … 1/4 of a node (250 m … 2 cpu);
 *   - gang (45 %): 2–6 members of 1/16 … 1/4 of a node each (500 m … 2 cpu);
 *   - wide gang (14 %): 2–5 members of 3/4 or 7/8 of a node each (6 or 7 cpu), so every member
 *     needs a nearly empty node of its own: a shard's share of the nodes is rarely enough and the
 *     coordinator has to hand the gang off or lend nodes;
 *   - gated gang (7 %): a gang whose pods are created with a scheduling gate, as Kueue does; the
 *     workload lifts each pod's gate (PATCH spec.schedulingGates: []) 2–30 s after the pod was
 *     created, at a time drawn from its name, so for a while some members are pending and others
 *     gated: nothing of the gang may be bound until min-member are ungated;
 *   - growing group (3 %): a pod group without min-member (pod-group annotation only), 1–2
 *     members of 1/8 … 1/4 of a node (1 … 2 cpu), always chaos-low, whose pods run 70–90 s (or
 *     from the longest run time, 20 s more); once one member is bound (or after 60 s) its Job's
 *     parallelism grows by 3–6 members, which at the lowest priority in a full cluster mostly
 *     wait: it must never be rolled back;
 *   - mixed-priority gang (3 %): two Jobs, `<name>-low` at chaos-low and `<name>-high` at
 *     chaos-high, whose 2–4 pods in all form one gang (same pod-group, min-member all of them):
 *     its members disagree on priority, so it is invalid: never placed, and never preempts.
 * A share of the plain gangs (podGroupShares, drawn per Job) are PodGroup gangs when the cluster
 * serves that PodGroup API, instead of carrying the annotations; each PodGroup has the Job's name,
 * is created just after its Job (so its first pods may wait for it to appear) and goes with the
 * run's namespace. On a cluster without the API they stay annotation gangs.
 *   - native (scheduling.k8s.io/v1beta1, the chaos cluster runs the GenericWorkload beta gate):
 *     pods join with spec.schedulingGroup; gang minCount its size, the Job's PriorityClass,
 *     disruptionMode all;
 *   - scheduler-plugins (scheduling.x-k8s.io/v1alpha1 CRD): pods labelled
 *     scheduling.x-k8s.io/pod-group; minMember its size (the pods' own priority counts);
 *   - Volcano (scheduling.volcano.sh/v1beta1 CRD): pods annotated scheduling.k8s.io/group-name;
 *     minMember its size, priorityClassName the Job's (the group's priority).
 * Priorities: chaos-low (50 %), chaos-mid (30 %), chaos-high (20 %), all PreemptLowerPriority:
 * with the cluster full of low-priority gangs, higher ones preempt them (the evicted gang's Job
 * recreates its pods, gated again for a gated gang).
 * A Job is never larger than the empty cluster can hold: member cpu ≤ the smallest node's cpu
 * and a gang has no more members than fit on the empty nodes.
 *
 * Beside the Jobs, unless options.constrained is false, constrained-workload.ts's Deployments
 * and Jobs with pod anti-affinity, topology spread, host ports and zonal volumes arrive on their
 * own seeded schedule (the Jobs' plan for a seed is the same either way).
 *
 * Pods finish on their own (KWOK's complete-after annotation), the Job counts the completion and
 * is removed ttlSecondsAfterFinished later. Evictions (condition DisruptionTarget) are ignored by
 * the Job's podFailurePolicy, so a preempted Job recreates its pods; other failures (a gang
 * rolled back by deleting its bound members) count against a generous backoffLimit.
 */
import * as k8s from "@kubernetes/client-node";
import { minMemberAnnotation, podGroupAnnotation } from "../../scheduler/src/contracts/keys.js";
import {
  coschedulingPodGroupLabel,
  volcanoGroupNameAnnotation,
} from "../../scheduler/src/core/gang/crd-pod-group.js";
import { milliValue } from "../../scheduler/src/core/resources/quantity.js";
import { statusOf } from "../support/api-errors.js";
import { schedulerPluginsPodGroupCrd, volcanoPodGroupCrd } from "../support/podgroup-crds.js";
import { mulberry32 } from "../support/random.js";
import {
  type ChaosTopology,
  type ConstrainedManifests,
  constrainedManifests,
  type PlannedConstrained,
  planConstrained,
  topologyOf,
} from "./constrained-workload.js";
import type { ChaosEnv, WorkloadStats } from "./types.js";

export { minMemberAnnotation, podGroupAnnotation };
/** KWOK (tests/cluster/kwok/stages.yaml) marks a running pod Succeeded this long after it started. */
export const completeAfterAnnotation = "sharded-scheduler.io/complete-after";
/** Every Job and pod of a run carries chaos=<run id>. */
export const runLabel = "chaos";
/** The Job's shape (solo, gang, wide, gated, growing or mixed). */
export const shapeLabel = "chaos-shape";
/** The scheduling gate a gated gang's pods are created with. */
export const chaosGate = "chaos.sharded-scheduler.io/admission";
/** A gated pod's gate is lifted between these many seconds after the pod's creation. */
export const gateLiftSeconds = [2, 30] as const;
/** A growing group grows once a member is bound, or after this long without. */
const growWaitSeconds = 60;

/** The fake nodes the load runs on (KWOK nodes carry this label). */
const fakeNodeSelector = { type: "kwok" } as const;
/** KWOK's customary taint on fake nodes; ours have none, tolerating it costs nothing. */
const fakeNodeToleration: k8s.V1Toleration = {
  key: "kwok.x-k8s.io/node",
  operator: "Exists",
  effect: "NoSchedule",
};

export const chaosPriorityClasses = [
  { name: "chaos-low", value: 1000 },
  { name: "chaos-mid", value: 2000 },
  { name: "chaos-high", value: 3000 },
] as const;
export type ChaosPriorityClass = (typeof chaosPriorityClasses)[number]["name"];

export interface ChaosWorkloadOptions {
  seed: number;
  /** Offered load as a share of the cluster's cpu, e.g. 1.1. */
  load: number;
  /** A Job's pods run between these many seconds (whole seconds, inclusive). */
  runSeconds: [number, number];
  /** Value of the chaos label on every Job and pod (default: the namespace). */
  runId?: string;
  /**
   * The constrained workloads (anti-affinity and spread Deployments, host-port and volume Jobs)
   * beside the Jobs; default constrainedByDefault.
   */
  constrained?: boolean;
}

/** Whether a run has the constrained workloads unless told otherwise (chaos --constrained on|off). */
export const constrainedByDefault = true;
/** The priority of the constrained workloads: they preempt chaos-low and are preempted by chaos-high. */
const constrainedPriorityClass: ChaosPriorityClass = "chaos-mid";

export type JobShape = "solo" | "gang" | "wide" | "gated" | "growing" | "mixed";

/**
 * One Job of the plan (a mixed-priority gang is two Jobs); a solo Job has one pod and no pod
 * group, a growing one is a pod group without min-member, the others are gangs.
 */
export interface PlannedJob {
  /** Position in the plan (0, 1, …): the Job's name is `<shape>-<index>`. */
  readonly index: number;
  readonly name: string;
  readonly kind: "solo" | "gang" | "group";
  readonly shape: JobShape;
  /** Pods (completions and parallelism); the gang's min-member; a growing group's first members. */
  readonly size: number;
  /** A growing group's members once grown (its Job's completions). */
  readonly growTo?: number;
  /** A mixed-priority gang's members at chaos-high; the others are at priorityClass (chaos-low). */
  readonly highMembers?: number;
  /** Each member's cpu request. */
  readonly milliCpu: number;
  /** Each member's memory request, in MiB. */
  readonly memoryMi: number;
  readonly priorityClass: ChaosPriorityClass;
  /** How long each pod runs once started. */
  readonly runSeconds: number;
  /** Seconds from the previous Job's arrival to this one's (exponential: a Poisson process). */
  readonly arrivalGapSeconds: number;
  /** A plain gang whose pods join a PodGroup of this API (where the cluster serves it). */
  readonly podGroup?: PodGroupApi;
}

/**
 * The PodGroup APIs a gang may join: native scheduling.k8s.io/v1beta1, scheduler-plugins'
 * scheduling.x-k8s.io/v1alpha1 CRD, Volcano's scheduling.volcano.sh/v1beta1 CRD.
 */
export const podGroupApis = ["native", "scheduler-plugins", "volcano"] as const;
export type PodGroupApi = (typeof podGroupApis)[number];

interface ShapeMix {
  shape: JobShape;
  /** Share of the Jobs. */
  weight: number;
  minSize: number;
  maxSize: number;
  /** A growing group's extra members, drawn uniformly from [low, high]. */
  grow?: readonly [number, number];
  /** A member's cpu as a share of the smallest node's cpu, one picked uniformly. */
  nodeShares: readonly number[];
}

const gangShares = [1 / 16, 1 / 8, 3 / 16, 1 / 4] as const;
const growingShares = [1 / 8, 3 / 16, 1 / 4] as const;
const shapeMix: readonly ShapeMix[] = [
  { shape: "solo", weight: 0.28, minSize: 1, maxSize: 1, nodeShares: [1 / 32, 1 / 16, 1 / 8, 1 / 4] },
  { shape: "gang", weight: 0.45, minSize: 2, maxSize: 6, nodeShares: gangShares },
  { shape: "wide", weight: 0.14, minSize: 2, maxSize: 5, nodeShares: [3 / 4, 7 / 8] },
  { shape: "gated", weight: 0.07, minSize: 2, maxSize: 6, nodeShares: gangShares },
  { shape: "growing", weight: 0.03, minSize: 1, maxSize: 2, grow: [3, 6], nodeShares: growingShares },
  { shape: "mixed", weight: 0.03, minSize: 2, maxSize: 4, nodeShares: gangShares },
];

/**
 * A growing group's pods run longer than the gang timeout (60 s) and a little: its first members
 * still run when a scheduler that rolls back a group with running and pending members would do it.
 */
function growingRunSeconds(options: ChaosWorkloadOptions): [number, number] {
  const base = Math.max(70, options.runSeconds[1]);
  return [base, base + 20];
}

/**
 * The share of plain gangs that join each PodGroup API (native about 7 % of the Jobs, each CRD
 * about 4.5 %), drawn from one number in this order: the native ones stay those of earlier plans.
 */
export const podGroupShares: Readonly<Record<PodGroupApi, number>> = {
  native: 0.15,
  "scheduler-plugins": 0.1,
  volcano: 0.1,
};

const priorityMix: readonly { name: ChaosPriorityClass; weight: number }[] = [
  { name: "chaos-low", weight: 0.5 },
  { name: "chaos-mid", weight: 0.3 },
  { name: "chaos-high", weight: 0.2 },
];

/** Memory per cpu requested (MiB per cpu): far below what the nodes have, so cpu decides. */
const memoryMiPerCpu = 1024;

/** A member's cpu request: the share of the node, in steps of 50 m, at least 50 m. */
function memberMilliCpu(share: number, nodeMilliCpu: number): number {
  return Math.max(50, Math.min(nodeMilliCpu, Math.floor((share * nodeMilliCpu) / 50) * 50));
}

/** How many pods of this cpu the empty cluster holds. */
function membersThatFit(milliCpu: number, nodeMilliCpu: readonly number[]): number {
  return nodeMilliCpu.reduce((sum, node) => sum + Math.floor(node / milliCpu), 0);
}

function checkCluster(nodeMilliCpu: readonly number[]): number {
  if (nodeMilliCpu.length === 0) throw new Error("the workload needs at least one Ready fake node");
  const smallest = Math.min(...nodeMilliCpu);
  if (!(smallest >= 100))
    throw new Error(`the smallest node has ${smallest}m cpu; the workload needs ≥ 100m`);
  return smallest;
}

function checkOptions(options: ChaosWorkloadOptions): void {
  const [low, high] = options.runSeconds;
  if (!(Number.isInteger(low) && Number.isInteger(high) && low >= 1 && high >= low))
    throw new Error(
      `runSeconds must be whole seconds [low, high] with 1 ≤ low ≤ high, got [${low}, ${high}]`,
    );
  if (!(options.load > 0)) throw new Error(`load must be positive, got ${options.load}`);
}

/**
 * Mean cpu-time of one Job (milli-cpu × seconds), exactly, over the mix and the clamping to the
 * cluster: the arrival rate that offers options.load of the cluster's cpu follows from it.
 */
export function meanJobMilliCpuSeconds(
  options: ChaosWorkloadOptions,
  nodeMilliCpu: readonly number[],
): number {
  checkOptions(options);
  const smallest = checkCluster(nodeMilliCpu);
  let mean = 0;
  for (const mix of shapeMix) {
    const [low, high] = mix.shape === "growing" ? growingRunSeconds(options) : options.runSeconds;
    let shapeMean = 0;
    for (const share of mix.nodeShares) {
      const milliCpu = memberMilliCpu(share, smallest);
      const fit = membersThatFit(milliCpu, nodeMilliCpu);
      const [growLow, growHigh] = mix.grow ?? [0, 0];
      let sizeSum = 0;
      for (let size = mix.minSize; size <= mix.maxSize; size++)
        for (let extra = growLow; extra <= growHigh; extra++) sizeSum += Math.min(size + extra, fit);
      shapeMean += (sizeSum / ((mix.maxSize - mix.minSize + 1) * (growHigh - growLow + 1))) * milliCpu;
    }
    mean += mix.weight * (shapeMean / mix.nodeShares.length) * ((low + high) / 2);
  }
  return mean;
}

/** Jobs per second that offer options.load of the cluster's cpu. */
export function arrivalRate(options: ChaosWorkloadOptions, nodeMilliCpu: readonly number[]): number {
  const capacity = nodeMilliCpu.reduce((sum, node) => sum + node, 0);
  return (options.load * capacity) / meanJobMilliCpuSeconds(options, nodeMilliCpu);
}

/**
 * The Job at position index of the plan for this seed and these nodes (each node's allocatable
 * milli-cpu). Pure: every Job is drawn from its own stream (seed, index), so the plan does not
 * depend on how far it was read before.
 */
export function planJob(
  options: ChaosWorkloadOptions,
  nodeMilliCpu: readonly number[],
  index: number,
): PlannedJob {
  const rate = arrivalRate(options, nodeMilliCpu);
  const smallest = Math.min(...nodeMilliCpu);
  const random = jobStream(options.seed, index);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const mix = weighted(shapeMix, random());
  const share = mix.nodeShares[Math.floor(random() * mix.nodeShares.length)] as number;
  const milliCpu = memberMilliCpu(share, smallest);
  const fit = membersThatFit(milliCpu, nodeMilliCpu);
  const drawnSize = between(mix.minSize, mix.maxSize);
  const size = Math.min(drawnSize, fit);
  const drawnPriority = weighted(priorityMix, random()).name;
  const [runLow, runHigh] = mix.shape === "growing" ? growingRunSeconds(options) : options.runSeconds;
  const runSeconds = between(runLow, runHigh);
  // 1 - u is in (0, 1]: the logarithm stays finite.
  const arrivalGapSeconds = -Math.log(1 - random()) / rate;
  const shape = mix.shape;
  const extra = mix.grow ? between(mix.grow[0], mix.grow[1]) : 0;
  // Drawn last, so that the draws above (and the plans of earlier versions) stay as they were.
  const podGroup = shape === "gang" ? podGroupApiOf(random()) : undefined;
  return {
    index,
    name: `${shape}-${String(index).padStart(5, "0")}`,
    kind: shape === "solo" ? "solo" : shape === "growing" ? "group" : "gang",
    shape,
    size,
    ...(shape === "growing" ? { growTo: Math.min(drawnSize + extra, fit) } : {}),
    // A mixed gang has at least one member at each end (a gang of 1 could not disagree).
    ...(shape === "mixed" ? { highMembers: size < 2 ? 0 : between(1, size - 1) } : {}),
    milliCpu,
    memoryMi: Math.max(16, Math.round((milliCpu * memoryMiPerCpu) / 1000)),
    // A growing group waits at the lowest priority; a mixed gang spans chaos-low and chaos-high.
    priorityClass: shape === "growing" || shape === "mixed" ? "chaos-low" : drawnPriority,
    runSeconds,
    arrivalGapSeconds,
    ...(podGroup ? { podGroup } : {}),
  };
}

/** The PodGroup API a plain gang drawing u joins, if any (podGroupShares, one after another). */
function podGroupApiOf(u: number): PodGroupApi | undefined {
  let rest = u;
  for (const api of podGroupApis) {
    if (rest < podGroupShares[api]) return api;
    rest -= podGroupShares[api];
  }
  return undefined;
}

/** Seconds after its creation at which a gated pod's gate is lifted: drawn from its name. */
export function ungateDelaySeconds(podName: string): number {
  let hash = 0;
  for (let i = 0; i < podName.length; i++) hash = mixBits(hash ^ podName.charCodeAt(i));
  const [low, high] = gateLiftSeconds;
  return low + (hash % (high - low + 1));
}

/** Where the Jobs go and how they are marked. */
export interface JobTarget {
  namespace: string;
  schedulerName: string;
  /** Value of the chaos label. */
  runId: string;
  /** The PodGroup APIs the cluster serves: planned PodGroup gangs of another API stay annotation gangs. */
  podGroupApis?: readonly PodGroupApi[];
}

/** Where each PodGroup API's objects are created (CustomObjectsApi's group, version, plural). */
const podGroupResources: Readonly<Record<PodGroupApi, { group: string; version: string; plural: string }>> = {
  native: { group: "scheduling.k8s.io", version: "v1beta1", plural: "podgroups" },
  "scheduler-plugins": schedulerPluginsPodGroupCrd,
  volcano: volcanoPodGroupCrd,
};

/** The PodGroup API this planned Job's pods join on this target, if any. */
export const podGroupApiOn = (job: PlannedJob, target: JobTarget): PodGroupApi | undefined =>
  job.podGroup !== undefined && target.podGroupApis?.includes(job.podGroup) ? job.podGroup : undefined;

/**
 * The PodGroup a PodGroup gang's pods join, of the Job's name: native, gang minCount its size,
 * its PriorityClass and disruptionMode all; scheduler-plugins, minMember its size; Volcano,
 * minMember its size and its PriorityClass.
 */
export function podGroupManifest(
  job: PlannedJob,
  target: JobTarget,
): k8s.KubernetesObject & { spec: object } {
  const api = job.podGroup ?? "native";
  const { group, version } = podGroupResources[api];
  const spec =
    api === "native"
      ? {
          schedulingPolicy: { gang: { minCount: job.size } },
          priorityClassName: job.priorityClass,
          // As the annotation gangs: a victim gang is evicted whole.
          disruptionMode: { all: {} },
        }
      : api === "volcano"
        ? { minMember: job.size, priorityClassName: job.priorityClass }
        : { minMember: job.size };
  return {
    apiVersion: `${group}/${version}`,
    kind: "PodGroup",
    metadata: {
      name: job.name,
      namespace: target.namespace,
      labels: { [runLabel]: target.runId, [shapeLabel]: job.shape },
    },
    spec,
  };
}

/**
 * The batch/v1 Jobs of a planned Job: one, whose size pods form one pod group (none for a solo
 * Job; without min-member and growTo completions for a growing group; gated for a gated gang),
 * or, for a mixed-priority gang, `<name>-low` and `<name>-high`, whose pods form one gang.
 */
export function jobManifests(job: PlannedJob, target: JobTarget): k8s.V1Job[] {
  if (job.shape !== "mixed") return [jobManifest(job, target, job.name, job.size, job.priorityClass)];
  const high = job.highMembers ?? 0;
  return [
    jobManifest(job, target, `${job.name}-low`, job.size - high, job.priorityClass),
    jobManifest(job, target, `${job.name}-high`, high, "chaos-high"),
  ].filter((manifest) => (manifest.spec?.parallelism ?? 0) > 0);
}

function jobManifest(
  job: PlannedJob,
  target: JobTarget,
  name: string,
  pods: number,
  priorityClass: ChaosPriorityClass,
): k8s.V1Job {
  const labels = { [runLabel]: target.runId, [shapeLabel]: job.shape };
  const annotations: Record<string, string> = { [completeAfterAnnotation]: `${job.runSeconds}s` };
  const api = podGroupApiOn(job, target);
  if (job.kind !== "solo" && api === undefined) annotations[podGroupAnnotation] = job.name;
  if (job.kind === "gang" && api === undefined) annotations[minMemberAnnotation] = String(job.size);
  if (api === "volcano") annotations[volcanoGroupNameAnnotation] = job.name;
  const podLabels =
    api === "scheduler-plugins" ? { ...labels, [coschedulingPodGroupLabel]: job.name } : labels;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: target.namespace, labels },
    spec: {
      // A growing group's Job grows by raising parallelism up to its completions.
      completions: job.growTo ?? pods,
      parallelism: pods,
      // Evicted pods are replaced without counting; anything else has plenty of retries.
      backoffLimit: 100,
      podFailurePolicy: {
        rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }],
      },
      ttlSecondsAfterFinished: 30,
      template: {
        metadata: { labels: podLabels, annotations },
        spec: {
          schedulerName: target.schedulerName,
          restartPolicy: "Never",
          priorityClassName: priorityClass,
          nodeSelector: { ...fakeNodeSelector },
          tolerations: [fakeNodeToleration],
          terminationGracePeriodSeconds: 0,
          ...(job.shape === "gated" ? { schedulingGates: [{ name: chaosGate }] } : {}),
          ...(api === "native" ? { schedulingGroup: { podGroupName: job.name } } : {}),
          containers: [
            {
              name: "main",
              image: "registry.k8s.io/pause:3.10",
              resources: { requests: { cpu: `${job.milliCpu}m`, memory: `${job.memoryMi}Mi` } },
            },
          ],
        },
      },
    },
  };
}

/** Creation attempts per Job, and the pause after a failed one (the API server may be restarting). */
const createAttempts = 10;
const createRetryPauseMs = 3_000;

/**
 * Submits the plan's Jobs at their arrival times until stopped. Creations run alongside the
 * arrivals (a slow API server delays neither the plan nor the other Jobs); one that keeps failing
 * is given up after a few attempts and counted in createErrors. Alongside, it lifts gated pods'
 * gates when due (every second) and grows growing groups once they run.
 */
export class ChaosWorkload {
  private readonly batch: k8s.BatchV1Api;
  private readonly core: k8s.CoreV1Api;
  private readonly apps: k8s.AppsV1Api;
  private readonly objects: k8s.CustomObjectsApi;
  private readonly counters: WorkloadStats = emptyWorkloadStats();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly closing = new AbortController();
  private readonly loop: Promise<void>;
  private readonly constrainedLoop: Promise<void>;
  private readonly ungating: Promise<void>;
  private readonly target: JobTarget;
  /** After stop: every gate is lifted at once (the load is over, nothing is held back any more). */
  private liftAll = false;
  /** Rounds of gate lifting run one after another (the loop's and stop's). */
  private lifting: Promise<void> = Promise.resolve();

  private constructor(
    private readonly env: ChaosEnv,
    private readonly options: ChaosWorkloadOptions,
    /** Allocatable milli-cpu of each Ready fake node when the run started. */
    readonly nodeMilliCpu: readonly number[],
    /** The zones (or nodes) of the Ready fake nodes when the run started. */
    readonly topology: ChaosTopology,
    podGroupApis: readonly PodGroupApi[],
  ) {
    this.objects = env.kc.makeApiClient(k8s.CustomObjectsApi);
    this.batch = env.kc.makeApiClient(k8s.BatchV1Api);
    this.core = env.kc.makeApiClient(k8s.CoreV1Api);
    this.apps = env.kc.makeApiClient(k8s.AppsV1Api);
    this.target = {
      namespace: env.namespace,
      schedulerName: env.schedulerName,
      runId: options.runId ?? env.namespace,
      podGroupApis,
    };
    this.loop = this.submit();
    this.constrainedLoop =
      (options.constrained ?? constrainedByDefault) ? this.submitConstrained() : Promise.resolve();
    this.ungating = this.ungateLoop();
  }

  /**
   * Reads the Ready fake nodes' allocatable cpu, creates the PriorityClasses that are missing and
   * starts submitting Jobs into env.namespace.
   */
  static async start(env: ChaosEnv, options: ChaosWorkloadOptions): Promise<ChaosWorkload> {
    checkOptions(options);
    const nodeMilliCpu = await retrying("listing the fake nodes", () => readyFakeNodeMilliCpu(env.kc));
    checkCluster(nodeMilliCpu);
    const topology = topologyOf(await retrying("listing the fake nodes", () => readyFakeNodeLabels(env.kc)));
    await retrying("creating the PriorityClasses", () => ensurePriorityClasses(env.kc));
    const served = await servedPodGroupApis(env.kc);
    const total = nodeMilliCpu.reduce((sum, node) => sum + node, 0);
    env.log(
      `workload: ${nodeMilliCpu.length} nodes, ${total / 1000} cpu; load ${options.load} → ` +
        `${arrivalRate(options, nodeMilliCpu).toFixed(2)} Jobs/s, pods run ${options.runSeconds[0]}–${options.runSeconds[1]} s; ` +
        ((options.constrained ?? constrainedByDefault)
          ? `constrained workloads on, over ${topology.domains.length} ${topology.key} domains` +
            (topology.racks ? ` (rack gangs over ${topology.racks.length} racks)` : "")
          : "constrained workloads off") +
        `; PodGroup gangs: ${podGroupApis
          .map((api) => {
            const { group, version } = podGroupResources[api];
            return `${api} ${served.includes(api) ? "on" : `off (${group}/${version} podgroups not served)`}`;
          })
          .join(", ")}`,
    );
    return new ChaosWorkload(env, options, nodeMilliCpu, topology, served);
  }

  /**
   * Stops submitting (Jobs already created keep running), waits for creations and growths under
   * way, and lifts every gate left; from then on gates (of pods Jobs recreate) are lifted at once.
   */
  async stop(): Promise<WorkloadStats> {
    this.stopping.abort();
    await this.loop;
    await this.constrainedLoop;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    await this.deleteDeployments();
    this.liftAll = true;
    await this.liftDueGates();
    return this.stats();
  }

  /** Ends the gate lifting (after stop, when the run is over). */
  async close(): Promise<void> {
    this.closing.abort();
    await this.ungating;
  }

  stats(): WorkloadStats {
    return { ...this.counters };
  }

  private async submit(): Promise<void> {
    // Arrival times are kept on the clock, so time spent elsewhere does not thin the load.
    let arrivesAt = Date.now();
    for (let index = 0; ; index++) {
      const job = planJob(this.options, this.nodeMilliCpu, index);
      arrivesAt += job.arrivalGapSeconds * 1000;
      if (!(await pause(arrivesAt - Date.now(), this.stopping.signal))) return;
      const creation = this.create(job).finally(() => this.inFlight.delete(creation));
      this.inFlight.add(creation);
    }
  }

  /** The constrained workloads, on their own arrival times. */
  private async submitConstrained(): Promise<void> {
    let arrivesAt = Date.now();
    for (let index = 0; ; index++) {
      const planned = planConstrained(
        this.options.seed,
        this.options.runSeconds,
        this.topology,
        this.nodeMilliCpu.length,
        index,
      );
      arrivesAt += planned.arrivalGapSeconds * 1000;
      if (!(await pause(arrivesAt - Date.now(), this.stopping.signal))) return;
      const creation = this.createConstrained(planned).finally(() => this.inFlight.delete(creation));
      this.inFlight.add(creation);
    }
  }

  private async createConstrained(planned: PlannedConstrained): Promise<void> {
    const { namespace, runId, schedulerName } = this.target;
    const manifests: ConstrainedManifests = constrainedManifests(planned, {
      namespace,
      schedulerName,
      runId,
      labels: { [runLabel]: runId, [shapeLabel]: planned.shape },
      completeAfterAnnotation,
      priorityClass: constrainedPriorityClass,
      nodeSelector: { ...fakeNodeSelector },
      tolerations: [fakeNodeToleration],
      topology: this.topology,
    });
    const { volume, claim, job, deployment } = manifests;
    if (
      volume &&
      !(await this.createObject(volume, () => this.core.createPersistentVolume({ body: volume })))
    )
      return;
    if (
      claim &&
      !(await this.createObject(claim, () =>
        this.core.createNamespacedPersistentVolumeClaim({ namespace, body: claim }),
      ))
    )
      return;
    if (job && !(await this.createJob(job))) return;
    if (
      deployment &&
      !(await this.createObject(deployment, () =>
        this.apps.createNamespacedDeployment({ namespace, body: deployment }),
      ))
    )
      return;
    this.counters.constrainedWorkloads++;
    if (planned.shape === "anti") this.counters.antiAffinityDeployments++;
    if (planned.shape === "spread") this.counters.spreadDeployments++;
    if (planned.shape === "ports") this.counters.hostPortJobs++;
    if (planned.shape === "volume") this.counters.volumeJobs++;
    if (planned.shape === "rack") this.counters.rackGangs++;
    // A Deployment lives its run time, then goes (its pods with it); stop() removes those left.
    if (deployment && (await pause(planned.runSeconds * 1000, this.stopping.signal)))
      await this.apps.deleteNamespacedDeployment({ name: planned.name, namespace }).catch(() => undefined);
  }

  /** Creates one object with retries (an existing one of the name is ours); false if it keeps failing. */
  private async createObject(body: k8s.KubernetesObject, create: () => Promise<unknown>): Promise<boolean> {
    let lastError = "";
    for (let attempt = 1; attempt <= createAttempts; attempt++) {
      try {
        await create();
        return true;
      } catch (error) {
        // A create whose answer was lost may have happened: the name is ours alone.
        if (statusOf(error) === 409) return true;
        lastError = describe(error);
      }
      if (attempt < createAttempts) await pause(createRetryPauseMs, undefined);
    }
    this.counters.createErrors++;
    this.env.log(
      `workload: giving up on ${body.kind} ${body.metadata?.name} after ${createAttempts} attempts: ${lastError}`,
    );
    return false;
  }

  /** The constrained Deployments left when the load stops go, so the settle phase settles Jobs only. */
  private async deleteDeployments(): Promise<void> {
    const { namespace, runId } = this.target;
    try {
      await this.apps.deleteCollectionNamespacedDeployment({
        namespace,
        labelSelector: `${runLabel}=${runId}`,
      });
    } catch (error) {
      this.env.log(`workload: could not delete the Deployments: ${describe(error)}`);
    }
  }

  private async create(job: PlannedJob): Promise<void> {
    for (const body of jobManifests(job, this.target)) if (!(await this.createJob(body))) return;
    const api = podGroupApiOn(job, this.target);
    if (api !== undefined) {
      const body = podGroupManifest(job, this.target);
      const { namespace } = this.target;
      const { group, version, plural } = podGroupResources[api];
      if (
        !(await this.createObject(body, () =>
          this.objects.createNamespacedCustomObject({ group, version, plural, namespace, body }),
        ))
      )
        return;
      this.counters[podGroupCounters[api]]++;
    }
    this.countCreated(job);
    if (job.growTo !== undefined && job.growTo > job.size) await this.grow(job);
  }

  /** Creates one Job with retries; false (counted in createErrors) if it keeps failing. */
  private createJob(body: k8s.V1Job): Promise<boolean> {
    const namespace = this.target.namespace;
    return this.createObject({ kind: "Job", ...body }, () =>
      this.batch.createNamespacedJob({ namespace, body }),
    );
  }

  /**
   * Raises a growing group's parallelism to growTo once one of its pods is bound (or after
   * growWaitSeconds without): the group runs, then gets members some of which will not fit.
   */
  private async grow(job: PlannedJob): Promise<void> {
    const { namespace } = this.target;
    const waitUntil = Date.now() + growWaitSeconds * 1000;
    let running = false;
    while (!running && Date.now() < waitUntil) {
      if (!(await pause(2_000, this.stopping.signal))) return;
      try {
        const pods = await this.core.listNamespacedPod({
          namespace,
          labelSelector: `batch.kubernetes.io/job-name=${job.name}`,
        });
        running = pods.items.some((pod) => pod.spec?.nodeName);
      } catch {
        // The API server may be restarting: look again.
      }
    }
    for (let attempt = 1; attempt <= createAttempts; attempt++) {
      try {
        await this.batch.patchNamespacedJob(
          { name: job.name, namespace, body: { spec: { parallelism: job.growTo } } },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        );
        this.counters.groupsGrown++;
        if (running) this.counters.groupsGrownRunning++;
        return;
      } catch (error) {
        if (statusOf(error) === 404) return;
        if (attempt === createAttempts)
          this.env.log(`workload: could not grow Job ${job.name}: ${describe(error)}`);
      }
      if (!(await pause(createRetryPauseMs, this.stopping.signal))) return;
    }
  }

  /** Every second: lifts the gates that are due (all of them once stopped). */
  private async ungateLoop(): Promise<void> {
    while (await pause(1_000, this.closing.signal)) await this.liftDueGates();
  }

  private liftDueGates(): Promise<void> {
    this.lifting = this.lifting.then(() => this.liftGatesOnce());
    return this.lifting;
  }

  private async liftGatesOnce(): Promise<void> {
    const { namespace, runId } = this.target;
    let pods: k8s.V1Pod[];
    try {
      const labelSelector = `${runLabel}=${runId},${shapeLabel}=gated`;
      pods = (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
    } catch {
      return; // The API server may be restarting: the next round tries again.
    }
    const now = Date.now();
    for (const pod of pods) {
      const name = pod.metadata?.name ?? "";
      if (!pod.spec?.schedulingGates?.some((gate) => gate.name === chaosGate)) continue;
      const createdAt = new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
      if (!this.liftAll && now - createdAt < ungateDelaySeconds(name) * 1000) continue;
      try {
        // As Kueue does on admission: the gate goes, the pod becomes pending at once.
        await this.core.patchNamespacedPod(
          { name, namespace, body: { spec: { schedulingGates: [] } } },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        );
        this.counters.podsUngated++;
      } catch {
        // Gone, or the API server restarting: the next round sees.
      }
    }
  }

  private countCreated(job: PlannedJob): void {
    this.counters.jobsCreated++;
    if (job.kind === "gang") this.counters.gangJobs++;
    else if (job.kind === "solo") this.counters.soloJobs++;
    else this.counters.growingGroups++;
    if (job.shape === "gated") this.counters.gatedGangs++;
    if (job.shape === "mixed") this.counters.mixedPriorityGangs++;
  }
}

/** A workload's counters before it created anything. */
export function emptyWorkloadStats(): WorkloadStats {
  return {
    jobsCreated: 0,
    gangJobs: 0,
    soloJobs: 0,
    growingGroups: 0,
    gatedGangs: 0,
    mixedPriorityGangs: 0,
    nativePodGroups: 0,
    schedulerPluginsPodGroups: 0,
    volcanoPodGroups: 0,
    podsUngated: 0,
    groupsGrown: 0,
    groupsGrownRunning: 0,
    createErrors: 0,
    constrainedWorkloads: 0,
    antiAffinityDeployments: 0,
    spreadDeployments: 0,
    hostPortJobs: 0,
    volumeJobs: 0,
    rackGangs: 0,
  };
}

/** Creates chaos-low, chaos-mid and chaos-high (PreemptLowerPriority) where missing. */
export async function ensurePriorityClasses(kc: k8s.KubeConfig): Promise<void> {
  const scheduling = kc.makeApiClient(k8s.SchedulingV1Api);
  for (const { name, value } of chaosPriorityClasses) {
    try {
      await scheduling.createPriorityClass({
        body: {
          metadata: { name },
          value,
          preemptionPolicy: "PreemptLowerPriority",
          description: "Chaos suite load",
        },
      });
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
  }
}

/** Deletes the chaos PriorityClasses (those already gone are fine). */
export async function removePriorityClasses(kc: k8s.KubeConfig): Promise<void> {
  const scheduling = kc.makeApiClient(k8s.SchedulingV1Api);
  for (const { name } of chaosPriorityClasses) {
    try {
      await scheduling.deletePriorityClass({ name });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }
}

/** The counter of the gangs created for each PodGroup API. */
const podGroupCounters = {
  native: "nativePodGroups",
  "scheduler-plugins": "schedulerPluginsPodGroups",
  volcano: "volcanoPodGroups",
} as const satisfies Record<PodGroupApi, keyof WorkloadStats>;

/** The PodGroup APIs whose podgroups discovery lists (an API that fails to answer is not served). */
async function servedPodGroupApis(kc: k8s.KubeConfig): Promise<PodGroupApi[]> {
  const objects = kc.makeApiClient(k8s.CustomObjectsApi);
  const served: PodGroupApi[] = [];
  for (const api of podGroupApis) {
    const { group, version, plural } = podGroupResources[api];
    try {
      const list = await objects.getAPIResources({ group, version });
      if (list.resources.some((resource) => resource.name === plural)) served.push(api);
    } catch {
      // Not served (404) or not answering: its gangs stay annotation gangs.
    }
  }
  return served;
}

/** Every fake node that is Ready and schedulable. */
async function readyFakeNodes(kc: k8s.KubeConfig): Promise<k8s.V1Node[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const selector = Object.entries(fakeNodeSelector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  const list = await core.listNode({ labelSelector: selector });
  return list.items.filter(
    (node) =>
      !node.spec?.unschedulable &&
      node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
}

/** Allocatable milli-cpu of every fake node that is Ready and schedulable. */
export async function readyFakeNodeMilliCpu(kc: k8s.KubeConfig): Promise<number[]> {
  return (await readyFakeNodes(kc))
    .map((node) => milliValue(node.status?.allocatable?.cpu ?? "0"))
    .filter((milliCpu) => milliCpu > 0);
}

/** Labels of every fake node that is Ready and schedulable (their zones make the constrained shapes' domains). */
export async function readyFakeNodeLabels(kc: k8s.KubeConfig): Promise<Record<string, string>[]> {
  return (await readyFakeNodes(kc)).map((node) => ({ ...(node.metadata?.labels ?? {}) }));
}

/** Deletes the run's PersistentVolumes (cluster-scoped: the namespace's deletion leaves them). */
export async function removeChaosVolumes(kc: k8s.KubeConfig, runId: string): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.deleteCollectionPersistentVolume({ labelSelector: `${runLabel}=${runId}` });
}

/** A few attempts a few seconds apart, then the last error. */
async function retrying<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < 5; i++) {
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
      await pause(2_000, undefined);
    }
  }
  throw new Error(`${what}: ${describe(lastError)}`);
}

/** Waits ms (at once if ≤ 0); false if the signal aborted first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function describe(error: unknown): string {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return (status ? `HTTP ${status}: ` : "") + message.split("\n")[0];
}

function weighted<T extends { weight: number }>(choices: readonly T[], u: number): T {
  let rest = u * choices.reduce((sum, choice) => sum + choice.weight, 0);
  for (const choice of choices) {
    rest -= choice.weight;
    if (rest < 0) return choice;
  }
  return choices[choices.length - 1] as T;
}

/** A seeded stream per (seed, index): mulberry32 started from a hash of both. */
function jobStream(seed: number, index: number): () => number {
  return mulberry32(mixBits((seed >>> 0) ^ mixBits(index + 0x632be5ab)));
}

/** MurmurHash3's 32-bit finalizer: nearby inputs give unrelated outputs. */
function mixBits(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
