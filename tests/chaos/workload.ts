/**
 * The chaos suite's load: batch/v1 Jobs arriving as a seeded Poisson process whose rate keeps
 * the offered cpu (members × cpu × run time, per second) near a share of the cluster's cpu.
 *
 * The mix, by number of Jobs (cpu as a share of the smallest fake node, 8 cpu → milli-cpu):
 *   - solo (30 %): one pod of 1/32 … 1/4 of a node (250 m … 2 cpu);
 *   - gang (55 %): 2–6 members of 1/16 … 1/4 of a node each (500 m … 2 cpu);
 *   - wide gang (15 %): 2–5 members of 3/4 or 7/8 of a node each (6 or 7 cpu), so every member
 *     needs a nearly empty node of its own: a shard's share of the nodes is rarely enough and the
 *     coordinator has to hand the gang off or lend nodes.
 * Priorities: chaos-low (50 %), chaos-mid (30 %), chaos-high (20 %), all PreemptLowerPriority:
 * with the cluster full of low-priority gangs, higher ones preempt them (the evicted gang's Job
 * recreates its pods).
 * A Job is never larger than the empty cluster can hold: member cpu ≤ the smallest node's cpu
 * and a gang has no more members than fit on the empty nodes.
 *
 * Pods finish on their own (KWOK's complete-after annotation), the Job counts the completion and
 * is removed ttlSecondsAfterFinished later. Evictions (condition DisruptionTarget) are ignored by
 * the Job's podFailurePolicy, so a preempted Job recreates its pods; other failures (a gang
 * rolled back by deleting its bound members) count against a generous backoffLimit.
 */
import * as k8s from "@kubernetes/client-node";
import { minMemberAnnotation, podGroupAnnotation } from "../../scheduler/src/core/index.js";
import { milliValue } from "../../scheduler/src/core/resources/quantity.js";
import { mulberry32 } from "../support/random.js";
import type { ChaosEnv, WorkloadStats } from "./types.js";

export { minMemberAnnotation, podGroupAnnotation };
/** KWOK (tests/cluster/kwok/stages.yaml) marks a running pod Succeeded this long after it started. */
export const completeAfterAnnotation = "sharded-scheduler.io/complete-after";
/** Every Job and pod of a run carries chaos=<run id>. */
export const runLabel = "chaos";
/** solo, gang or wide (a gang whose members each need most of a node). */
export const shapeLabel = "chaos-shape";

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
}

export type JobShape = "solo" | "gang" | "wide";

/** One Job of the plan; a solo Job has one pod and no pod group. */
export interface PlannedJob {
  /** Position in the plan (0, 1, …): the Job's name is `<shape>-<index>`. */
  readonly index: number;
  readonly name: string;
  readonly kind: "solo" | "gang";
  readonly shape: JobShape;
  /** Pods (completions and parallelism); the gang's min-member. */
  readonly size: number;
  /** Each member's cpu request. */
  readonly milliCpu: number;
  /** Each member's memory request, in MiB. */
  readonly memoryMi: number;
  readonly priorityClass: ChaosPriorityClass;
  /** How long each pod runs once started. */
  readonly runSeconds: number;
  /** Seconds from the previous Job's arrival to this one's (exponential: a Poisson process). */
  readonly arrivalGapSeconds: number;
}

interface ShapeMix {
  shape: JobShape;
  /** Share of the Jobs. */
  weight: number;
  minSize: number;
  maxSize: number;
  /** A member's cpu as a share of the smallest node's cpu, one picked uniformly. */
  nodeShares: readonly number[];
}

const shapeMix: readonly ShapeMix[] = [
  { shape: "solo", weight: 0.3, minSize: 1, maxSize: 1, nodeShares: [1 / 32, 1 / 16, 1 / 8, 1 / 4] },
  { shape: "gang", weight: 0.55, minSize: 2, maxSize: 6, nodeShares: [1 / 16, 1 / 8, 3 / 16, 1 / 4] },
  { shape: "wide", weight: 0.15, minSize: 2, maxSize: 5, nodeShares: [3 / 4, 7 / 8] },
];

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
  const meanRunSeconds = (options.runSeconds[0] + options.runSeconds[1]) / 2;
  let mean = 0;
  for (const mix of shapeMix) {
    let shapeMean = 0;
    for (const share of mix.nodeShares) {
      const milliCpu = memberMilliCpu(share, smallest);
      const fit = membersThatFit(milliCpu, nodeMilliCpu);
      let sizeSum = 0;
      for (let size = mix.minSize; size <= mix.maxSize; size++) sizeSum += Math.min(size, fit);
      shapeMean += (sizeSum / (mix.maxSize - mix.minSize + 1)) * milliCpu;
    }
    mean += mix.weight * (shapeMean / mix.nodeShares.length);
  }
  return mean * meanRunSeconds;
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
  const size = Math.min(between(mix.minSize, mix.maxSize), membersThatFit(milliCpu, nodeMilliCpu));
  const priorityClass = weighted(priorityMix, random()).name;
  const runSeconds = between(options.runSeconds[0], options.runSeconds[1]);
  // 1 - u is in (0, 1]: the logarithm stays finite.
  const arrivalGapSeconds = -Math.log(1 - random()) / rate;
  return {
    index,
    name: `${mix.shape}-${String(index).padStart(5, "0")}`,
    kind: mix.shape === "solo" ? "solo" : "gang",
    shape: mix.shape,
    size,
    milliCpu,
    memoryMi: Math.max(16, Math.round((milliCpu * memoryMiPerCpu) / 1000)),
    priorityClass,
    runSeconds,
    arrivalGapSeconds,
  };
}

/** Where the Jobs go and how they are marked. */
export interface JobTarget {
  namespace: string;
  schedulerName: string;
  /** Value of the chaos label. */
  runId: string;
}

/** The batch/v1 Job of a planned Job: size pods in one pod group (none for a solo Job). */
export function jobManifest(job: PlannedJob, target: JobTarget): k8s.V1Job {
  const labels = { [runLabel]: target.runId, [shapeLabel]: job.shape };
  const annotations: Record<string, string> = { [completeAfterAnnotation]: `${job.runSeconds}s` };
  if (job.kind === "gang") {
    annotations[podGroupAnnotation] = job.name;
    annotations[minMemberAnnotation] = String(job.size);
  }
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: job.name, namespace: target.namespace, labels },
    spec: {
      completions: job.size,
      parallelism: job.size,
      // Evicted pods are replaced without counting; anything else has plenty of retries.
      backoffLimit: 100,
      podFailurePolicy: {
        rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }],
      },
      ttlSecondsAfterFinished: 30,
      template: {
        metadata: { labels, annotations },
        spec: {
          schedulerName: target.schedulerName,
          restartPolicy: "Never",
          priorityClassName: job.priorityClass,
          nodeSelector: { ...fakeNodeSelector },
          tolerations: [fakeNodeToleration],
          terminationGracePeriodSeconds: 0,
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
 * is given up after a few attempts and counted in createErrors.
 */
export class ChaosWorkload {
  private readonly batch: k8s.BatchV1Api;
  private readonly counters: WorkloadStats = { jobsCreated: 0, gangJobs: 0, soloJobs: 0, createErrors: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly loop: Promise<void>;

  private constructor(
    private readonly env: ChaosEnv,
    private readonly options: ChaosWorkloadOptions,
    /** Allocatable milli-cpu of each Ready fake node when the run started. */
    readonly nodeMilliCpu: readonly number[],
  ) {
    this.batch = env.kc.makeApiClient(k8s.BatchV1Api);
    this.loop = this.submit();
  }

  /**
   * Reads the Ready fake nodes' allocatable cpu, creates the PriorityClasses that are missing and
   * starts submitting Jobs into env.namespace.
   */
  static async start(env: ChaosEnv, options: ChaosWorkloadOptions): Promise<ChaosWorkload> {
    checkOptions(options);
    const nodeMilliCpu = await retrying("listing the fake nodes", () => readyFakeNodeMilliCpu(env.kc));
    checkCluster(nodeMilliCpu);
    await retrying("creating the PriorityClasses", () => ensurePriorityClasses(env.kc));
    const total = nodeMilliCpu.reduce((sum, node) => sum + node, 0);
    env.log(
      `workload: ${nodeMilliCpu.length} nodes, ${total / 1000} cpu; load ${options.load} → ` +
        `${arrivalRate(options, nodeMilliCpu).toFixed(2)} Jobs/s, pods run ${options.runSeconds[0]}–${options.runSeconds[1]} s`,
    );
    return new ChaosWorkload(env, options, nodeMilliCpu);
  }

  /** Stops submitting (Jobs already created keep running) and waits for creations under way. */
  async stop(): Promise<WorkloadStats> {
    this.stopping.abort();
    await this.loop;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    return this.stats();
  }

  stats(): WorkloadStats {
    return { ...this.counters };
  }

  private async submit(): Promise<void> {
    const target: JobTarget = {
      namespace: this.env.namespace,
      schedulerName: this.env.schedulerName,
      runId: this.options.runId ?? this.env.namespace,
    };
    // Arrival times are kept on the clock, so time spent elsewhere does not thin the load.
    let arrivesAt = Date.now();
    for (let index = 0; ; index++) {
      const job = planJob(this.options, this.nodeMilliCpu, index);
      arrivesAt += job.arrivalGapSeconds * 1000;
      if (!(await pause(arrivesAt - Date.now(), this.stopping.signal))) return;
      const creation = this.create(job, target).finally(() => this.inFlight.delete(creation));
      this.inFlight.add(creation);
    }
  }

  private async create(job: PlannedJob, target: JobTarget): Promise<void> {
    const body = jobManifest(job, target);
    let lastError = "";
    for (let attempt = 1; attempt <= createAttempts; attempt++) {
      try {
        await this.batch.createNamespacedJob({ namespace: target.namespace, body });
        this.countCreated(job);
        return;
      } catch (error) {
        // A create whose answer was lost may have happened: the name is ours alone.
        if (statusOf(error) === 409) {
          this.countCreated(job);
          return;
        }
        lastError = describe(error);
      }
      if (attempt < createAttempts) await pause(createRetryPauseMs, undefined);
    }
    this.counters.createErrors++;
    this.env.log(`workload: giving up on Job ${job.name} after ${createAttempts} attempts: ${lastError}`);
  }

  private countCreated(job: PlannedJob): void {
    this.counters.jobsCreated++;
    if (job.kind === "gang") this.counters.gangJobs++;
    else this.counters.soloJobs++;
  }
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

/** Allocatable milli-cpu of every fake node that is Ready and schedulable. */
export async function readyFakeNodeMilliCpu(kc: k8s.KubeConfig): Promise<number[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const selector = Object.entries(fakeNodeSelector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  const list = await core.listNode({ labelSelector: selector });
  return list.items
    .filter(
      (node) =>
        !node.spec?.unschedulable &&
        node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    )
    .map((node) => milliValue(node.status?.allocatable?.cpu ?? "0"))
    .filter((milliCpu) => milliCpu > 0);
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

function statusOf(error: unknown): number | undefined {
  return (error as { code?: number }).code;
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
