/**
 * One chaos run: the checker watches from the start, the load runs for the load phase while
 * faults are injected one after another (each verified), then the load stops, everything is
 * restored, and the system gets a settle phase to place what is still pending. At the end the
 * checker looks every few seconds, for longer than the product takes to move a stuck group, for
 * pending groups the free room holds at every look (lostPods).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { InvariantChecker } from "../checker/invariant-checker.js";
import {
  type CheckerLimits,
  type Violation,
  type ViolationKind,
  violationKinds,
} from "../checker/invariant-ledger.js";
import { shuffle } from "../support/random.js";
import type { FaultInjector } from "./faults.js";
import type { ChaosEnv, FaultKind, FaultRecord, WorkloadStats } from "./types.js";
import { ChaosWorkload, type ChaosWorkloadOptions, emptyWorkloadStats } from "./workload.js";

/** How often the checker looks for pending groups the free room holds at the end. */
const lostCheckLookMs = 2_000;

export interface ChaosPlan {
  seed: number;
  /** Faults in the order they are injected; the load phase lasts at least until the last ends. */
  faults: FaultKind[];
  /** The load phase lasts at least this long. */
  loadSeconds: number;
  /** Pause between two faults while the load runs. */
  gapSeconds: number;
  /** After the load stops: wait at most this long for pending pods to be placed. */
  settleSeconds: number;
  /** The end's window for lost pods: the checker looks every few seconds through it. */
  lostCheckSeconds: number;
  workload: Omit<ChaosWorkloadOptions, "seed">;
  limits: CheckerLimits;
}

export interface ChaosResult {
  violations: Record<ViolationKind, number>;
  faultsInjected: number;
  podsCreated: number;
  durationSeconds: number;
  seed: number;
  podsBound: number;
  pendingAtEnd: number;
  evictions: number;
  /** Preemptors whose nominated room a higher-priority pod took first (not judged). */
  preemptorsDisplaced: number;
  handoffs: number;
  lends: number;
  /** Binds whose Event named a ring epoch the checker never saw (not judged). */
  unverifiableBinds: number;
  /** Pods the checker saw gated. */
  gatedPods: number;
  /** Groups whose members disagreed on priority, and binds of their pods meanwhile (not judged). */
  mixedPriorityGroups: number;
  mixedPriorityBinds: number;
  /** The shards' GangRollback Events (one per group and message). */
  gangRollbacks: number;
  /** PodGroup objects the checker read from its own watches: native, and of the PodGroup CRDs. */
  checkerPodGroups: { native: number; crd: number };
  /** Times the checker's own watches failed and relisted (API server restarts, 410 Gone). */
  checkerWatchRestarts: number;
  faults: FaultRecord[];
  workload: WorkloadStats;
  /** The first violations found, for the reader. */
  examples: Violation[];
}

/** Picks the fault order for a run: each kind once for short runs, then seeded repeats for longer ones. */
export function faultOrder(kinds: readonly FaultKind[], count: number, random: () => number): FaultKind[] {
  const order = [...kinds];
  shuffle(order, random);
  while (order.length < count) order.push(kinds[Math.floor(random() * kinds.length)] as FaultKind);
  return order;
}

export async function runChaos(
  env: ChaosEnv,
  faults: FaultInjector,
  plan: ChaosPlan,
  nodeLabelSelector: string,
): Promise<ChaosResult> {
  const { log } = env;
  const started = Date.now();
  const checker = await InvariantChecker.start(env.kc, {
    namespace: env.namespace,
    nodeLabelSelector,
    ringLease: { namespace: env.leaseNamespace, name: `${env.schedulerName}-ring` },
    limits: plan.limits,
  });
  const records: FaultRecord[] = [];
  let workloadStats: WorkloadStats | undefined;
  let workload: ChaosWorkload | undefined;
  try {
    workload = await ChaosWorkload.start(env, { seed: plan.seed, ...plan.workload });
    try {
      log(`load phase: at least ${plan.loadSeconds}s, ${plan.faults.length} fault(s)`);
      const loadEnds = started + plan.loadSeconds * 1000;
      await sleep(plan.gapSeconds * 1000);
      for (const kind of plan.faults) {
        log(`fault ${records.length + 1}/${plan.faults.length}: ${kind}`);
        records.push(await faults.inject(kind));
        progress(env, checker);
        await sleep(plan.gapSeconds * 1000);
      }
      while (Date.now() < loadEnds) {
        await sleep(Math.min(10_000, loadEnds - Date.now()));
        progress(env, checker);
      }
    } finally {
      workloadStats = await workload.stop();
      await faults.restore();
    }
    log(`load stopped; settling for at most ${plan.settleSeconds}s`);
    const settleEnds = Date.now() + plan.settleSeconds * 1000;
    while (Date.now() < settleEnds && checker.ledger.pendingPods() > 0) {
      await sleep(2_000);
      checker.ledger.tick(Date.now());
    }
    // A look every few seconds through the window: lost is what the room held at every look.
    const looks = [checker.ledger.pendingGroupsThatFit()];
    const lostCheckEnds = Date.now() + plan.lostCheckSeconds * 1000;
    while (Date.now() < lostCheckEnds) {
      await sleep(Math.min(lostCheckLookMs, lostCheckEnds - Date.now()));
      checker.ledger.tick(Date.now());
      looks.push(checker.ledger.pendingGroupsThatFit());
    }
    checker.ledger.lostPods(looks, Date.now());
    progress(env, checker);
  } finally {
    await workload?.close();
    checker.stop();
  }
  const stats = checker.ledger.stats();
  return {
    violations: checker.ledger.counts(),
    faultsInjected: records.filter((record) => record.verified).length,
    podsCreated: stats.podsSeen,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    seed: plan.seed,
    podsBound: stats.podsBound,
    pendingAtEnd: checker.ledger.pendingPods(),
    evictions: stats.evictions,
    preemptorsDisplaced: stats.displacedPreemptors,
    handoffs: stats.handoffs,
    lends: stats.lends,
    unverifiableBinds: checker.ledger.foreignBinds().unverifiable.length,
    gatedPods: stats.gatedPods,
    mixedPriorityGroups: stats.mixedPriorityGroups,
    mixedPriorityBinds: stats.mixedPriorityBinds,
    gangRollbacks: stats.gangRollbacks,
    checkerPodGroups: stats.podGroupsRead,
    checkerWatchRestarts: checker.watchErrors,
    faults: records,
    workload: workloadStats ?? emptyWorkloadStats(),
    // A few of every kind, so a rare violation is not crowded out by a frequent one.
    examples: violationKinds.flatMap((kind) =>
      checker.ledger.violations.filter((violation) => violation.kind === kind).slice(0, 4),
    ),
  };
}

function progress(env: ChaosEnv, checker: InvariantChecker): void {
  const stats = checker.ledger.stats();
  const violations = Object.entries(checker.ledger.counts())
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${kind} ${count}`);
  env.log(
    `  pods seen ${stats.podsSeen}, bound ${stats.podsBound}, pending ${checker.ledger.pendingPods()}, ` +
      `evictions ${stats.evictions}, handoffs ${stats.handoffs}, lends ${stats.lends}; ` +
      `violations: ${violations.length === 0 ? "none" : violations.join(", ")}`,
  );
}
