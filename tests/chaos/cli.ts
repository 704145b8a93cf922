/**
 * npm run test:chaos -- [--short] [--json] [options]   (--help lists them)
 * Faults under load with an independent invariant checker. Locally it starts (or reuses) a
 * local cluster, runs 3 shards and 2 coordinators as processes, and injects faults into them
 * and into the control plane. With --platform kind it runs against the release the kind path
 * installed (tests/kind/chaos.sh). Exits non-zero on any violation or unverified fault.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { ConfigError, failureReport, parseFlags } from "../../scheduler/src/config/flags.js";
import { summaryKey } from "../../scheduler/src/contracts/keys.js";
import { defaultLimits, type ViolationKind, violationKinds } from "../checker/invariant-ledger.js";
import { repoRoot } from "../cluster/local/layout.js";
import {
  defaultClusterOptions,
  down,
  readState,
  recordedWorkloadGates,
  status,
  up,
} from "../cluster/local/local-cluster.js";
import { buildScheduler, stackDown, stackUp } from "../stack/stack.js";
import { installCrds } from "../support/podgroup-crds.js";
import { mulberry32 } from "../support/random.js";
import { redisValues } from "../support/redis-ping.js";
import { type FaultInjector, kindFaults, localFaults } from "./faults.js";
import {
  coordinatorActivity,
  groupLogTrace,
  preemptionWaitSummary,
  preemptionWaits,
  stuckReports,
  violationLogTrace,
} from "./group-trace.js";
import { failed, resultTable, testReport } from "./report.js";
import { type ChaosPlan, faultOrder, runChaos } from "./run.js";
import { type ChaosEnv, type ChaosPlatform, type FaultKind, faultKinds } from "./types.js";
import { constrainedByDefault, removeChaosVolumes, removePriorityClasses } from "./workload.js";

const usage = `usage: npm run test:chaos -- [options]

  --short                 every fault once, about 4 minutes in all (what CI runs)
  (default)               a longer run: ${15} minutes of load, faults one after another
  --duration-seconds S    length of the load phase
  --faults a,b            only these faults (of ${faultKinds.join(", ")})
  --seed N                replay a run (default: from the clock; printed)
  --nodes N               fake nodes of the local cluster (default 24)
  --node-cpu Q            cpu per node (default 8)
  --dir D                 local cluster state folder (default .cluster-chaos)
  --keep-cluster          leave the local cluster running afterwards
  --platform local|kind   kind: against the release tests/kind/chaos.sh installed (KUBECONFIG)
  --release R             kind: the Helm release (default sharded-scheduler)
  --release-namespace N   kind: its namespace (default sharded-scheduler)
  --constrained on|off    the constrained workloads (anti-affinity and spread Deployments, host-port
                          and zonal-volume Jobs) beside the Jobs (default ${constrainedByDefault ? "on" : "off"})
  --known-failing a,b     invariants reported but not failing the run (open bugs; counted as skipped)
  --report F              also write the result (and a test-report summary) to F
  --json                  progress to stderr; the last stdout line is the JSON result
`;

/** The scheduler name, the shards' lease and gang timeout: the product's defaults, which the chart uses too. */
const schedulerName = "sharded-scheduler";
const leaseDurationMs = 10_000;
const gangTimeoutMs = 60_000;
/** A preemptor that waited longer than this for its bind gets its log lines in the output. */
const slowPreemptorMs = 30_000;

/** The coordinator's defaults: it moves a group at most once per cooldown, after stuck-after. */
const reliefCooldownMs = 15_000;
const stuckAfterMs = 3_000;
const shards = 3;
/** Racks of the local cluster's nodes (consecutive nodes share one): the rack gangs' domains. */
const racks = 6;

async function main(): Promise<number> {
  const { values } = parseFlags(process.argv.slice(2), {
    short: { type: "boolean", default: false },
    "duration-seconds": { type: "string" },
    faults: { type: "string" },
    seed: { type: "string" },
    nodes: { type: "string", default: "24" },
    "node-cpu": { type: "string", default: "8" },
    dir: { type: "string", default: join(repoRoot, ".cluster-chaos") },
    "keep-cluster": { type: "boolean", default: false },
    platform: { type: "string", default: "local" },
    release: { type: "string", default: "sharded-scheduler" },
    "release-namespace": { type: "string", default: "sharded-scheduler" },
    report: { type: "string" },
    "known-failing": { type: "string" },
    constrained: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const out = values.json ? process.stderr : process.stdout;
  const log = (line: string) => out.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  const platform = values.platform as ChaosPlatform;
  if (platform !== "local" && platform !== "kind")
    throw new ConfigError(`--platform is local or kind, not ${platform}`);
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : positiveInt("seed", values.seed);
  const kinds = (values.faults?.split(",") ?? [...faultKinds]).map((kind) => {
    if (!(faultKinds as readonly string[]).includes(kind)) throw new ConfigError(`unknown fault "${kind}"`);
    return kind as FaultKind;
  });
  const known = (values["known-failing"]?.split(",") ?? []).map((kind) => {
    if (!(violationKinds as readonly string[]).includes(kind))
      throw new ConfigError(`unknown invariant "${kind}"`);
    return kind as ViolationKind;
  });
  const constrainedFlag = values.constrained ?? (constrainedByDefault ? "on" : "off");
  if (constrainedFlag !== "on" && constrainedFlag !== "off")
    throw new ConfigError(`--constrained is on or off, not ${constrainedFlag}`);
  const random = mulberry32(seed);
  const loadSeconds =
    values["duration-seconds"] !== undefined
      ? positiveInt("duration-seconds", values["duration-seconds"])
      : values.short
        ? 120
        : 900;
  const plan: ChaosPlan = {
    seed,
    // Short: each fault once. Longer: about one fault a minute, each kind at least once.
    faults: faultOrder(
      kinds,
      values.short ? kinds.length : Math.max(kinds.length, Math.floor(loadSeconds / 60)),
      random,
    ),
    loadSeconds,
    gapSeconds: values.short ? 4 : 15,
    settleSeconds: values.short ? 45 : 120,
    // Longer than one relief cooldown plus the stuck-after delay: a group that fits at the first
    // look gets at least one more move before the last (the product never moves it faster).
    lostCheckSeconds: (reliefCooldownMs + stuckAfterMs) / 1000 + 7,
    workload: {
      load: 1.1,
      runSeconds: values.short ? [10, 30] : [20, 90],
      constrained: constrainedFlag === "on",
    },
    limits: {
      // gatedPartialGangMs stays the default 5 s: a correct scheduler binds nothing of a gang a
      // gate holds below min-member, and the workload lifts a gang's gates 2-30 s apart.
      ...defaultLimits,
      // The gang timeout, then a lease for another shard to take over, and 15 s for a shard
      // to notice and for the API server to carry out the rollback (it may be restarting).
      partialGangMs: gangTimeoutMs + leaseDurationMs + 15_000,
      // Nothing can be evicted while the API server restarts (up to about 25 s here): a group
      // whose eviction it interrupted must be whole that much later.
      wholeGroupEvictionMs: defaultLimits.wholeGroupEvictionMs + 30_000,
      // A shard's watch may trail the API server by more than the default while it recovers
      // from a fault: spread and affinity do not hold 10 s of departures and binds against a bind.
      staleViewMs: 10_000,
    },
  };
  log(`seed ${seed}; faults: ${plan.faults.join(", ")}`);

  const namespace = `chaos-${seed}`;
  const runDir = join(repoRoot, ".chaos-runs", `seed-${seed}`);
  let cleanUp: () => Promise<void> = async () => undefined;
  /** The ids of the groups the checker found lost (for the trace printed at clean-up). */
  let lostGroups: string[] = [];
  /** The first violation of another kind (its log lines are printed at clean-up). */
  let traced: { kind: string; at: number; detail: string } | undefined;
  let env: ChaosEnv;
  let faults: FaultInjector;
  /** The fake nodes, locally and on kind (tests/kind/chaos.sh). */
  const nodeLabelSelector = "type=kwok";
  const kc = new k8s.KubeConfig();
  if (platform === "local") {
    const clusterDir = resolve(values.dir);
    const recorded = readState(clusterDir);
    // A cluster started with other workload gates or racks is replaced, like one that is not healthy.
    const reused =
      (await status(clusterDir)).healthy &&
      recorded !== undefined &&
      recordedWorkloadGates(recorded) === defaultClusterOptions.workloadGates &&
      recorded.options.racks === racks;
    if (!reused) {
      if (recorded) await down(clusterDir, log);
      await up(
        {
          ...defaultClusterOptions,
          stateDir: clusterDir,
          nodes: positiveInt("nodes", values.nodes),
          nodeCpu: values["node-cpu"],
          // Zones for the constrained workloads' spread and zonal volumes, racks for the rack gangs.
          zones: 3,
          racks,
          kubeScheduler: false,
        },
        log,
      );
    } else log(`reusing the cluster in ${clusterDir}`);
    const cluster = readState(clusterDir);
    if (!cluster) throw new Error(`no cluster in ${clusterDir}`);
    kc.loadFromFile(cluster.kubeconfig);
    buildScheduler();
    await stackDown(clusterDir, log);
    // The PodGroup CRDs (scheduler-plugins, Volcano) before the shards start: a shard asks
    // discovery once, at start. A reused cluster keeps those it has; they go with the cluster.
    const installed = await installCrds(kc);
    log(
      `PodGroup CRDs: ${installed.length === 0 ? "already installed" : `installed ${installed.join(", ")}`}`,
    );
    // Debug logs name every decision on every group: what a lostPods violation is read from.
    const stackArgs = { shardArgs: ["--log-level=debug"], coordinatorArgs: ["--log-level=debug"] };
    await stackUp({ clusterDir, shards, coordinator: true, ...stackArgs, log });
    env = environment(platform, clusterDir, kc, namespace, "default", random, log);
    faults = localFaults(env, stackArgs);
    cleanUp = async () => {
      // The shards' and coordinators' logs outlive the cluster, for reading a failure.
      const stackLogs = join(clusterDir, "stack");
      mkdirSync(runDir, { recursive: true });
      for (const file of readdirSync(stackLogs).filter((name) => name.endsWith(".log")))
        copyFileSync(join(stackLogs, file), join(runDir, file));
      // What each shard last told the coordinator (its view of its nodes' room, its stuck groups).
      const summaries = await redisValues(cluster.redisUrl, summaryKey(schedulerName, "*"));
      writeFileSync(join(runDir, "capacity-summaries.json"), `${JSON.stringify(summaries, null, 2)}\n`);
      log(`logs of the shards and coordinators, and their last capacity summaries: ${runDir}`);
      // The first lost group's story, in the output itself (CI keeps nothing else).
      const lost = lostGroups[0];
      if (lost !== undefined) {
        const reports = stuckReports(Object.values(summaries), lost);
        log(
          `${lost}: ${reports.length === 0 ? "no shard reports it stuck" : reports.join("; ")}; its last log lines:`,
        );
        for (const line of groupLogTrace(runDir, lost, 15)) log(`  ${line}`);
        for (const line of coordinatorActivity(runDir)) log(line);
      }
      // Liveness around preemption: how long preemptors waited for their bind, and the slowest's story.
      const waits = preemptionWaits(runDir, Date.now());
      log(`preemptors: ${preemptionWaitSummary(waits)}`);
      const slowest = waits[0];
      if (slowest !== undefined && slowest.waitMs >= slowPreemptorMs) {
        log(`${slowest.group}: the slowest preemptor's last log lines:`);
        for (const line of groupLogTrace(runDir, slowest.group, 25)) log(`  ${line}`);
      }
      // Likewise the first other violation: what the logs say of the pods and nodes it names.
      if (traced !== undefined) {
        log(`${traced.kind}: the log lines naming its pods' groups and its nodes:`);
        for (const line of violationLogTrace(runDir, traced.detail, traced.at)) log(`  ${line}`);
      }
      await stackDown(clusterDir, log);
      if (!reused && !values["keep-cluster"]) await down(clusterDir, log);
    };
  } else {
    kc.loadFromDefault();
    const releaseNamespace = values["release-namespace"];
    env = environment(platform, "", kc, namespace, releaseNamespace, random, log);
    faults = kindFaults(env, {
      release: values.release,
      namespace: releaseNamespace,
      controlPlaneContainer: "sharded-scheduler-control-plane",
    });
  }

  const core = kc.makeApiClient(k8s.CoreV1Api);
  let exitCode = 1;
  try {
    await core.createNamespace({
      body: { metadata: { name: namespace, labels: { "sharded-scheduler.io/chaos": "true" } } },
    });
    const result = await runChaos(env, faults, plan, nodeLabelSelector);
    lostGroups = result.examples
      .filter((violation) => violation.kind === "lostPods")
      .map((violation) => violation.detail.split(": ")[0] as string);
    traced = result.examples.find((violation) => violation.kind !== "lostPods");
    out.write(`\n${resultTable(result, known)}\n`);
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, "result.json"), `${JSON.stringify(result, null, 2)}\n`);
    if (values.report) {
      mkdirSync(dirname(resolve(values.report)), { recursive: true });
      writeFileSync(resolve(values.report), `${JSON.stringify(testReport(result, known), null, 2)}\n`);
    }
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    exitCode = failed(result, known) ? 1 : 0;
  } finally {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    await removePriorityClasses(kc).catch(() => undefined);
    await removeChaosVolumes(kc, namespace).catch(() => undefined);
    await cleanUp();
  }
  return exitCode;
}

function environment(
  platform: ChaosPlatform,
  clusterDir: string,
  kc: k8s.KubeConfig,
  namespace: string,
  leaseNamespace: string,
  random: () => number,
  log: (line: string) => void,
): ChaosEnv {
  return {
    platform,
    clusterDir,
    kc,
    namespace,
    schedulerName,
    leaseNamespace,
    shards,
    leaseDurationMs,
    random,
    log,
  };
}

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new ConfigError(`--${name} takes a positive integer, got "${raw}"`);
  return value;
}

// Exits explicitly: the API clients' keep-alive sockets would otherwise hold the process a while.
main().then(
  (code) => process.stdout.write("", () => process.exit(code)),
  (error: unknown) => {
    // A run that crashed shows its stack: it is a bug in the run or the product to look into.
    const usageError = error instanceof ConfigError;
    const { line } = failureReport(usageError ? "chaos" : "chaos run failed", error, {
      help: "npm run test:chaos -- --help",
      stack: true,
    });
    process.stderr.write(`${line}\n`);
    process.exit(2);
  },
);
