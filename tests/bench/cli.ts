/**
 * npm run bench -- --scenario basic|gangs|core|core-preemption|core-summary|fragmentation|topology|memory|daemonset|affinity|spread [options]   (--help lists them)
 * npm run bench -- --report | --report-from <results>
 * The cluster scenarios start (or reuse) a local cluster and run the system under test on it;
 * core runs the scheduling core in process. With --json the last stdout line is one JSON
 * object with every result. --report runs the report's scenarios and writes docs/benchmarks.md.
 */
import { join, resolve } from "node:path";
import { ConfigError, failureReport, parseFlags } from "../../scheduler/src/config/flags.js";
import { repoRoot } from "../cluster/local/layout.js";
import { down } from "../cluster/local/local-cluster.js";
import { buildScheduler } from "../stack/stack.js";
import {
  allSystems,
  type BasicReport,
  type BenchMode,
  type GangApi,
  gangApis,
  parseScheduledEvents,
  runBasic,
  type SystemName,
} from "./basic.js";
import { benchCluster, fragmentationCluster, throughputCluster, zonedCluster } from "./bench-cluster.js";
import { type ConstrainedScenario, reportedKinds, runConstrained } from "./constrained.js";
import { runCoreBench, runCorePreemptionBench } from "./core.js";
import { runCoreSummaryBench } from "./core-summary.js";
import { runDaemonset } from "./daemonset.js";
import { type FragmentationReport, parseConfigs, runFragmentation } from "./fragmentation.js";
import { defaultWorkloadShape } from "./fragmentation-workload.js";
import { formatGangSizes, parseGangSizes } from "./gang-layout.js";
import { readReportResults, runReport, writeReport } from "./report-run.js";
import { runShardMemory } from "./shard-memory.js";
import {
  parseTopologyConfigs,
  racksPerBlock,
  runTopology,
  type TopologyReport,
  topologyCluster,
  topologyConfigLabels,
} from "./topology.js";
import { defaultTopologyShape, rackLabel } from "./topology-workload.js";

/**
 * Sizes of --report: 1000 nodes × 3000 pods, 1 and 3 shards, each system 3 times (median and
 * range); then basic once more at 5000 nodes × 10 000 pods, each system once: about 30 minutes
 * on 2 cores in all.
 */
const reportDefaults = {
  nodes: 1000,
  pods: 3000,
  shards: "1,3",
  gangSize: 8,
  runs: 3,
  large: { nodes: 5000, pods: 10000, runs: 3 },
};

/**
 * --scenario gangs --api podgroup: scheduler_perf's GangScheduling shape scaled to 2 cores — gangs
 * of 3 to 8 on 1000 nodes, kube-scheduler beside 1 and 3 shards, a few minutes in all.
 */
const podGroupDefaults = { nodes: 1000, pods: 2500, shards: "1,3", gangSizes: "3-8" };

const usage = `usage: npm run bench -- --scenario <basic|gangs|core|core-preemption|core-summary|fragmentation|topology|memory|daemonset|affinity|spread> [options]
       npm run bench -- --report [--nodes N] [--pods P] [--out D]
       npm run bench -- --report-from <results.json or its folder> [--out D]

basic: P small pods on N nodes, scheduled by kube-scheduler, sharded-scheduler and a no-op binder
  --nodes N             fake nodes (default 5000)
  --pods P              pods (default 10000)
  --mode M              backlog (default) or streaming
  --shards 1,2,3        sharded-scheduler once per shard count (default 1)
  --systems a,b         of ${allSystems.join(", ")} (default all)
  --concurrency C       pods created at once (default 64)
  --runs R              every system R times, interleaved (run 1 of each, then run 2 of each, …);
                        each system's median and min–max (default 1)
  --scheduled-events M  sharded-scheduler once per mode of pod,group,off, its shards given
                        --scheduled-events M (default: the flag not passed, the shard's default pod)
  The cluster runs KWOK without the pod lifecycle (bound pods stay Pending: no system's run pays
  for a status patch per pod), and its node Leases last a day (no renewal during a bench).

gangs: like basic, the pods in gangs
  --api A               how pods join their gang: annotation (default; pod-group and min-member
                        annotations, sharded-scheduler only) or podgroup (a native
                        scheduling.k8s.io/v1beta1 PodGroup per gang; kube-scheduler 1.37 and
                        sharded-scheduler side by side; defaults ${podGroupDefaults.nodes} nodes, ${podGroupDefaults.pods} pods,
                        gangs of ${podGroupDefaults.gangSizes}, shards ${podGroupDefaults.shards})
  --gang-size G         pods per gang (default 8), or A-B: sizes A to B in turn
  --nodes, --pods, --mode, --shards, --concurrency, --runs, --scheduled-events as for basic

memory: one idle shard's resident memory once it owns every node, as the cluster grows
  --nodes N             the cluster's own nodes (default 1000)
  --node-counts A,B,C   cluster sizes to measure at (default: N, 2N, 5N)

core: the scheduling core alone, in process
  --nodes N --pods P    as above
  --gang-size G         pods per gang (default 1)
  --batch B             groups per cycle (default 1)
  --no-node-list-cache  rebuild the owned-node list every cycle

core-summary: the capacity summary a shard publishes, in process, built and serialized after
  every batch of binds: as a shard does (unchanged nodes' entries kept) and from nothing, side by side
  --nodes N --pods P    as above (default 5000 and 10000)
  --binds-per-summary B pods bound between two summaries (default 300)

core-preemption: the core alone on kube-scheduler's preemption workload: N nodes full of
  low-priority pods, then P high-priority pods that each need all but one of a node's pods evicted
  --nodes N             nodes (default 1000)
  --running-per-node R  low-priority pods of 1 cpu on each node of R cpu (default 4)
  --preemptors P        high-priority pods (default 100)
  --batch B             preemptors per cycle (default 1)

daemonset: a backlog of pods that fit few nodes, kube-scheduler and sharded-scheduler (with its coordinator)
  side by side: --per-node daemon pods pinned to each node (matchFields metadata.name), and
  --narrow-pods pods needing an extended resource or a nodeSelector that only the added special nodes match
  --nodes N             fake nodes (default 100)
  --per-node D          daemon pods per node (default 2)
  --narrow-pods P       pods that fit only the special nodes (default 300)
  --mode M              backlog (default: system start to last bind, forming the ring included)
                        or streaming (the system runs; first create to last bind)
  --special-nodes S     special nodes added for the run (default 2)
  --shards 1,3          sharded-scheduler once per shard count (default 1,3)
  --systems, --concurrency, --runs as for basic
affinity: scheduler_perf's pod-with-pod-anti-affinity (half the pods, one per node) and
  pod-with-pod-affinity (the other half, one zone) on N nodes over 3 zones; kube-scheduler,
  sharded-scheduler and the no-op binder (the checker's control); the independent checker counts
  violations (JSON: results[].violations)
spread: scheduler_perf's pod-with-topology-spreading (zone, DoNotSchedule, maxSkew 1), as affinity
  --nodes N --pods P    (default 300 and 300)
  --shards, --systems, --concurrency as for basic
  --quiet-seconds Q     a run ends when every pod is bound or none was for Q seconds (default 15)

fragmentation: gangs and solo pods fill ~${defaultWorkloadShape.fill * 100}% of the cluster; reports the groups left
  stuck (pending, though one scheduler could place them now) and the drain time
  --nodes N             fake nodes (default 60)
  --node-cpu Q          cpu per node (default 8)
  --configs 1,3,3c      shard counts; a trailing c runs the coordinator too (default 1,3,3c)
  --seed S              workload seed (default 1)
  --fill F              share of the cluster's cpu requested (default ${defaultWorkloadShape.fill})
  --quiet-seconds Q     a run ends when every pod is bound or none was for Q seconds (default 15)
  --concurrency C       pods created at once (default 16)

topology: nodes in racks (${rackLabel}, racks in blocks of ${racksPerBlock}), gangs of 4–20 that
  require one rack (native PodGroups with schedulingConstraints.topology) and solo pods fill ~${defaultTopologyShape.fill * 100}%
  while the system runs; reports gangs placed, pending groups an offline oracle could place, the
  drain time and gangs split across racks (must be 0)
  --nodes N             fake nodes (default 1000)
  --racks R             racks, consecutive nodes in each (default 50)
  --node-cpu Q          cpu per node (default 8)
  --configs a,b         of ${topologyConfigLabels.join(", ")} (default all): kube-scheduler 1.37 with
                        TopologyAwareWorkloadScheduling; 1 shard; 3 shards hashed by node; 3 shards
                        with --shard-by-label ${rackLabel}; the shards with the coordinator
  --seed S              workload seed (default 1)
  --fill F              share of the cluster's cpu requested (default ${defaultTopologyShape.fill})
  --quiet-seconds Q     a run ends when every pod is bound or none was for Q seconds (default 15)
  --concurrency C       groups created at once (default 16)

report: every scenario above but core, at report sizes, then docs/benchmarks.md with SVG charts
  --report              basic (kube-scheduler, shards ${reportDefaults.shards}, no-op binder), gangs of ${reportDefaults.gangSize}
                        (native PodGroups, kube-scheduler and the shards), memory, basic again on a
                        larger cluster, fragmentation (60 nodes, 1,3,3c) and core-preemption (100
                        preemptors), in about 30 minutes on 2 cores
  --nodes N --pods P    for basic, gangs, memory and core-preemption (default ${reportDefaults.nodes} and ${reportDefaults.pods})
  --runs R              runs of basic and gangs per system (default ${reportDefaults.runs})
  --large-nodes N       the larger basic run's nodes (default ${reportDefaults.large.nodes})
  --large-pods P        its pods (default ${reportDefaults.large.pods})
  --large-runs R        its runs per system (default ${reportDefaults.large.runs}; 0 skips it)
  --shards, --gang-size, --node-counts, --concurrency, --scheduled-events   as above
  --configs, --seed, --fill, --node-cpu, --quiet-seconds   for fragmentation, as above
  --report-from R       draw the report again from saved results (a results.json or its folder)
  --out D               where benchmarks.md goes, charts and results in D/benchmarks/ (default docs)

common:
  --dir D               cluster state folder (default .cluster-bench, fragmentation: .cluster-bench-frag,
                        topology: .cluster-bench-topo)
  --keep-cluster        leave the cluster running afterwards
  --json                progress to stderr; the last stdout line is the JSON result
`;

async function main(): Promise<void> {
  const { values } = parseFlags(process.argv.slice(2), {
    scenario: { type: "string", default: "basic" },
    mode: { type: "string", default: "backlog" },
    nodes: { type: "string" },
    pods: { type: "string" },
    shards: { type: "string" },
    systems: { type: "string" },
    concurrency: { type: "string" },
    json: { type: "boolean", default: false },
    "keep-cluster": { type: "boolean", default: false },
    dir: { type: "string" },
    "gang-size": { type: "string" },
    api: { type: "string", default: "annotation" },
    "node-counts": { type: "string" },
    report: { type: "boolean", default: false },
    "report-from": { type: "string" },
    out: { type: "string" },
    batch: { type: "string", default: "1" },
    "no-node-list-cache": { type: "boolean", default: false },
    preemptors: { type: "string", default: "100" },
    "binds-per-summary": { type: "string", default: "300" },
    "running-per-node": { type: "string", default: "4" },
    "node-cpu": { type: "string", default: "8" },
    configs: { type: "string" },
    racks: { type: "string", default: "50" },
    seed: { type: "string", default: "1" },
    fill: { type: "string" },
    "quiet-seconds": { type: "string", default: "15" },
    "per-node": { type: "string", default: "2" },
    "narrow-pods": { type: "string", default: "300" },
    "special-nodes": { type: "string", default: "2" },
    runs: { type: "string" },
    "large-nodes": { type: "string" },
    "large-pods": { type: "string" },
    "large-runs": { type: "string" },
    "scheduled-events": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  // Progress goes to stderr with --json, so stdout ends with exactly the JSON line.
  const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`[bench] ${line}\n`);
  const out = resolve(values.out ?? join(repoRoot, "docs"));
  const reportFrom = values["report-from"];
  if (reportFrom !== undefined) {
    for (const file of writeReport(readReportResults(reportFrom), out)) log(`wrote ${file}`);
    return;
  }
  const report = values.report;
  const scenario = values.scenario;
  const scenarios = [
    "basic",
    "gangs",
    "core",
    "core-preemption",
    "core-summary",
    "fragmentation",
    "topology",
    "memory",
    "daemonset",
    "affinity",
    "spread",
  ];
  const constrained = !report && (scenario === "affinity" || scenario === "spread");
  if (!scenarios.includes(scenario))
    throw new ConfigError(`unknown scenario "${scenario}" (known: ${scenarios.join(", ")})`);
  if (report && values.dir)
    throw new ConfigError("--report uses .cluster-bench and .cluster-bench-frag; drop --dir");
  const fragmentation = !report && scenario === "fragmentation";
  const topology = !report && scenario === "topology";
  const gangs = !report && scenario === "gangs";
  const daemonset = !report && scenario === "daemonset";
  const api = values.api as GangApi;
  if (!gangApis.includes(api))
    throw new ConfigError(`--api must be ${gangApis.join(" or ")}, got "${values.api}"`);
  if (api !== "annotation" && !gangs) throw new ConfigError("--api is for --scenario gangs");
  const podGroups = gangs && api === "podgroup";
  const nodes = Number(
    values.nodes ??
      (report || scenario === "memory" || scenario === "core-preemption" || podGroups || topology
        ? reportDefaults.nodes
        : fragmentation
          ? 60
          : daemonset
            ? 100
            : constrained
              ? 300
              : 5000),
  );
  const pods = Number(
    values.pods ??
      (report ? reportDefaults.pods : podGroups ? podGroupDefaults.pods : constrained ? 300 : 10000),
  );
  const shardList =
    values.shards ??
    (report ? reportDefaults.shards : daemonset ? "1,3" : podGroups ? podGroupDefaults.shards : "1");
  const shards = shardList.split(",").map(Number);
  const gangSizeText =
    values["gang-size"] ??
    (podGroups ? podGroupDefaults.gangSizes : String(report || gangs ? reportDefaults.gangSize : 1));
  const gangSizes = parseGangSizes(gangSizeText);
  if (!gangSizes || (report && gangSizes.min !== gangSizes.max))
    throw new ConfigError(
      `--gang-size must be a positive integer${report ? "" : " or a range A-B"}, got "${gangSizeText}"`,
    );
  const gangSize = gangSizes.max;
  const nodeCounts = (values["node-counts"] ?? [nodes, 2 * nodes, 5 * nodes].join(","))
    .split(",")
    .map(Number);
  const batch = Number(values.batch);
  const bindsPerSummary = Number(values["binds-per-summary"]);
  const concurrency = Number(values.concurrency ?? (fragmentation || topology ? "16" : "64"));
  const racks = Number(values.racks);
  const seed = Number(values.seed);
  const quietSeconds = Number(values["quiet-seconds"]);
  const preemptors = Number(values.preemptors);
  const runningPerNode = Number(values["running-per-node"]);
  const perNode = Number(values["per-node"]);
  const narrowPods = Number(values["narrow-pods"]);
  const specialNodes = Number(values["special-nodes"]);
  const runs = Number(values.runs ?? (report ? reportDefaults.runs : 1));
  const largeFlags = ["large-nodes", "large-pods", "large-runs"] as const;
  if (!report && largeFlags.some((flag) => values[flag] !== undefined))
    throw new ConfigError(`${largeFlags.map((flag) => `--${flag}`).join(", ")} are for --report`);
  const large = {
    nodes: Number(values["large-nodes"] ?? reportDefaults.large.nodes),
    pods: Number(values["large-pods"] ?? reportDefaults.large.pods),
    runs: Number(values["large-runs"] ?? reportDefaults.large.runs),
  };
  const isPositiveInteger = (value: number) => Number.isInteger(value) && value >= 1;
  const counts = {
    nodes,
    pods,
    "gang-size": gangSize,
    batch,
    "binds-per-summary": bindsPerSummary,
    concurrency,
    preemptors,
    "running-per-node": runningPerNode,
    "per-node": perNode,
    "narrow-pods": narrowPods,
    "special-nodes": specialNodes,
    runs,
    racks,
    "large-nodes": large.nodes,
    "large-pods": large.pods,
  };
  for (const [name, value] of Object.entries(counts)) {
    if (!isPositiveInteger(value)) throw new ConfigError(`--${name} must be a positive integer`);
  }
  if (!Number.isInteger(seed) || seed < 0) throw new ConfigError("--seed must be a non-negative integer");
  if (!Number.isInteger(large.runs) || large.runs < 0)
    throw new ConfigError("--large-runs must be a non-negative integer");
  if (!(quietSeconds > 0)) throw new ConfigError("--quiet-seconds must be positive");
  const fill = Number(values.fill ?? (topology ? defaultTopologyShape.fill : defaultWorkloadShape.fill));
  if (!(fill > 0 && fill <= 1)) throw new ConfigError(`--fill must be in (0, 1], got "${values.fill}"`);
  if (!shards.every(isPositiveInteger))
    throw new ConfigError(`--shards must be positive integers separated by commas, got "${shardList}"`);
  if (!nodeCounts.every(isPositiveInteger))
    throw new ConfigError(
      `--node-counts must be positive integers separated by commas, got "${values["node-counts"]}"`,
    );
  const configs = parseConfigs(topology ? "1" : (values.configs ?? "1,3,3c"));
  const topologyConfigs = topology
    ? parseTopologyConfigs(values.configs ?? topologyConfigLabels.join(","))
    : [];
  const scheduledEvents = parseScheduledEvents(values["scheduled-events"]);
  if (runs > 1 && !report && scenario !== "basic" && scenario !== "gangs" && scenario !== "daemonset")
    throw new ConfigError("--runs is for --scenario basic, gangs and daemonset (and --report)");
  if (scheduledEvents && !report && scenario !== "basic" && scenario !== "gangs")
    throw new ConfigError("--scheduled-events is for --scenario basic and gangs (and --report)");
  const systems = (
    values.systems ??
    (podGroups
      ? "kube-scheduler,sharded-scheduler"
      : gangs
        ? "sharded-scheduler"
        : daemonset
          ? "kube-scheduler,sharded-scheduler"
          : allSystems.join(","))
  )
    .split(",")
    .map((s) => s.trim()) as SystemName[];
  for (const system of systems) {
    if (!allSystems.includes(system))
      throw new ConfigError(`unknown system "${system}" (known: ${allSystems.join(", ")})`);
  }
  if (gangs && api === "annotation" && systems.includes("kube-scheduler"))
    throw new ConfigError(
      "gangs: kube-scheduler does not read the pod-group annotations; leave it out of --systems (or use --api podgroup)",
    );
  if (podGroups && systems.includes("noop-binder"))
    throw new ConfigError(
      "gangs --api podgroup: the no-op binder ignores PodGroups; leave it out of --systems",
    );
  const mode = values.mode as BenchMode;
  if (mode !== "backlog" && mode !== "streaming")
    throw new ConfigError(`--mode must be backlog or streaming, got "${values.mode}"`);
  if (!report && scenario === "core") {
    const result = runCoreBench({
      nodes,
      pods,
      gangSize,
      batch,
      cacheNodeList: !values["no-node-list-cache"],
    });
    if (!values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify({ scenario: "core", nodes, pods, results: [result] })}\n`);
    return;
  }

  if (!report && scenario === "core-summary") {
    const result = runCoreSummaryBench({ nodes, pods, bindsPerSummary });
    if (!values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify({ scenario, ...result })}\n`);
    return;
  }

  if (!report && scenario === "core-preemption") {
    const result = runCorePreemptionBench({ nodes, runningPerNode, preemptors, batch });
    if (!values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify({ scenario, nodes, preemptors, results: [result] })}\n`);
    return;
  }

  buildScheduler();
  const defaultDir = (name: string) => join(repoRoot, name);
  if (report) {
    const results = await runReport({
      command: ["npm run bench --", ...process.argv.slice(2).map(quoted)].join(" "),
      out,
      log,
      keepCluster: values["keep-cluster"],
      throughput: {
        stateDir: defaultDir(".cluster-bench"),
        nodes,
        pods,
        shards,
        gangSize,
        createConcurrency: concurrency,
        runs,
        ...(scheduledEvents ? { scheduledEvents } : {}),
        memoryNodeCounts: nodeCounts,
        large,
      },
      fragmentation: {
        stateDir: defaultDir(".cluster-bench-frag"),
        nodes: 60,
        nodeCpu: values["node-cpu"],
        configs,
        seed,
        fill,
        quietMs: quietSeconds * 1000,
        createConcurrency: 16,
      },
    });
    for (const file of writeReport(results, out)) log(`wrote ${file}`);
    const failed = [
      ...(results.errors ?? []).map((e) => e.scenario),
      ...[
        ...(results.basic?.results ?? []),
        ...(results.gangs?.results ?? []),
        ...(results.basicLarge?.results ?? []),
      ]
        .filter((r) => r.scheduled < r.pods)
        .map((r) => `${r.system}${r.shards ? ` (${r.shards} shards)` : ""} bound ${r.scheduled}/${r.pods}`),
      ...(results.fragmentation?.results ?? [])
        .filter((r) => r.error)
        .map((r) => `fragmentation ${r.config}`),
      ...(results.memory?.results ?? []).filter((r) => r.error).map((r) => `memory at ${r.nodes} nodes`),
    ];
    if (failed.length > 0) {
      log(`incomplete: ${failed.join("; ")}`);
      process.exitCode = 1;
    }
    if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
    return;
  }

  const stateDir = values.dir
    ? resolve(values.dir)
    : defaultDir(fragmentation ? ".cluster-bench-frag" : topology ? ".cluster-bench-topo" : ".cluster-bench");
  const cluster = await benchCluster(
    fragmentation
      ? fragmentationCluster(stateDir, nodes, values["node-cpu"])
      : topology
        ? topologyCluster(stateDir, nodes, values["node-cpu"])
        : constrained
          ? zonedCluster(stateDir, nodes)
          : throughputCluster(stateDir, nodes),
    log,
  );
  try {
    if (fragmentation) {
      const report = await runFragmentation({
        cluster,
        configs,
        shape: { ...defaultWorkloadShape, fill },
        seed,
        createConcurrency: concurrency,
        quietMs: quietSeconds * 1000,
        log,
      });
      if (!values.json) printFragmentation(report, log);
      process.stdout.write(`${JSON.stringify(report)}\n`);
      if (report.results.some((r) => r.error)) process.exitCode = 1;
      return;
    }
    if (topology) {
      const report = await runTopology({
        cluster,
        configs: topologyConfigs,
        racks,
        fill,
        seed,
        createConcurrency: concurrency,
        quietMs: quietSeconds * 1000,
        log,
      });
      if (!values.json) printTopology(report, log);
      process.stdout.write(`${JSON.stringify(report)}\n`);
      if (report.results.some((r) => r.error)) process.exitCode = 1;
      return;
    }
    if (daemonset) {
      const report = await runDaemonset({
        cluster,
        mode,
        perNode,
        narrowPods,
        specialNodes,
        shards,
        systems,
        createConcurrency: concurrency,
        runs,
        log,
      });
      if (!values.json) {
        log("system             shards  pods/s   p50 ms   p99 ms  seconds  scheduled");
        for (const r of report.results)
          log(
            `${r.system.padEnd(18)} ${String(r.shards ?? "").padStart(6)} ${String(r.podsPerSecond).padStart(7)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.durationSeconds).padStart(8)} ${String(r.scheduled).padStart(10)}`,
          );
        if (report.vsOneShard) log(`time over 1 shard: ${JSON.stringify(report.vsOneShard)}`);
      }
      process.stdout.write(`${JSON.stringify(report)}\n`);
      if (report.results.some((r) => r.scheduled < r.pods)) process.exitCode = 1;
      return;
    }
    if (constrained) {
      const report = await runConstrained({
        scenario: scenario as ConstrainedScenario,
        cluster,
        nodes,
        pods,
        shards,
        systems,
        createConcurrency: concurrency,
        quietMs: quietSeconds * 1000,
        log,
      });
      if (!values.json) {
        log(`system             shards  bound     pods/s  ${reportedKinds.join("  ")}`);
        for (const r of report.results)
          log(
            `${r.system.padEnd(18)} ${String(r.shards ?? "").padStart(6)} ${`${r.bound}/${r.pods}`.padStart(9)} ${String(r.podsPerSecond).padStart(8)}  ${reportedKinds.map((kind) => String(r.violations[kind]).padStart(kind.length)).join("  ")}`,
          );
      }
      process.stdout.write(`${JSON.stringify(report)}\n`);
      if (report.results.some((r) => r.error)) process.exitCode = 1;
      return;
    }
    if (scenario === "memory") {
      const report = await runShardMemory({ cluster, nodeCounts, settleMs: 3_000, log });
      if (!values.json) {
        log("nodes  rss MiB  peak MiB");
        for (const r of report.results)
          log(
            `${String(r.nodes).padStart(5)} ${String(r.memory?.rssMiB ?? "error").padStart(8)} ${String(r.memory?.peakRssMiB ?? "").padStart(9)}`,
          );
      }
      process.stdout.write(`${JSON.stringify(report)}\n`);
      if (report.results.some((r) => r.error)) process.exitCode = 1;
      return;
    }
    const results = await runBasic({
      cluster,
      mode,
      pods,
      shards,
      systems,
      createConcurrency: concurrency,
      gangSize,
      gangSizes,
      ...(gangs ? { api } : {}),
      runs,
      ...(scheduledEvents ? { scheduledEvents } : {}),
      log,
    });
    const report: BasicReport = {
      scenario: gangs ? "gangs" : "basic",
      mode,
      nodes,
      pods,
      ...(gangSize > 1 ? { gangSize } : {}),
      ...(gangSizes.min !== gangSizes.max ? { gangSizes: formatGangSizes(gangSizes) } : {}),
      ...(gangs ? { api } : {}),
      ...(runs > 1 ? { runs } : {}),
      results,
    };
    if (!values.json) {
      log("system             shards  pods/s   p50 ms   p90 ms   p99 ms  scheduled");
      for (const r of results) {
        log(
          `${r.system.padEnd(18)} ${String(r.shards ?? "").padStart(6)} ${String(r.podsPerSecond).padStart(7)} ${String(r.p50Ms).padStart(8)} ${String(r.p90Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.scheduled).padStart(10)}` +
            (r.scheduledEvents ? `  ${r.scheduledEvents} Events` : ""),
        );
        if (r.spread)
          log(
            `${"".padEnd(18)} ${r.spread.runs} runs: pods/s ${r.spread.podsPerSecond.min}–${r.spread.podsPerSecond.max}, ` +
              `p99 ${r.spread.p99Ms.min}–${r.spread.p99Ms.max} ms` +
              (r.spread.apiServerCpuMsPerPod
                ? `, API server ${r.spread.apiServerCpuMsPerPod.min}–${r.spread.apiServerCpuMsPerPod.max} cpu ms/pod`
                : ""),
          );
        if (r.gangs)
          log(
            `${"".padEnd(18)} gangs ${r.gangs.bound}/${r.gangs.gangs}, ${r.gangs.gangsPerSecond} gangs/s, gang p50 ${r.gangs.p50Ms} ms, p99 ${r.gangs.p99Ms} ms` +
              (r.gangs.apiServerCpuMsPerGang === undefined
                ? ""
                : `, API server ${r.gangs.apiServerCpuMsPerGang} cpu ms/gang`),
          );
      }
    }
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    if (!values["keep-cluster"]) await down(stateDir, log);
  }
}

/** An argument as a shell would need it. */
const quoted = (arg: string) => (/^[\w./,:=@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);

function printFragmentation(report: FragmentationReport, log: (line: string) => void): void {
  const columns = [
    "config",
    "coordinator",
    "nodes per shard",
    "bound pods",
    "pending groups",
    "stuck",
    "drain s",
    "handoffs",
    "lends",
  ];
  log(columns.join("  "));
  for (const r of report.results) {
    const cells = [
      r.config,
      r.coordinator ? "yes" : "no",
      r.ownedNodes?.join("/") ?? "",
      `${r.boundPods}/${r.pods}`,
      `${r.pendingGroups}/${r.groups}`,
      r.error ? "error" : r.stuckGroups,
      r.drainSeconds,
      r.handoffs ?? "",
      r.lends ?? "",
    ];
    log(cells.map((cell, i) => String(cell).padStart((columns[i] as string).length)).join("  "));
  }
}

function printTopology(report: TopologyReport, log: (line: string) => void): void {
  const columns = [
    "config",
    "nodes per shard",
    "gangs placed",
    "bound cpu %",
    "pending groups",
    "placeable",
    "split gangs",
    "drain s",
    "handoffs",
    "lends",
  ];
  log(columns.join("  "));
  for (const r of report.results) {
    const cells = [
      r.config,
      r.ownedNodes?.join("/") ?? "",
      `${r.gangsPlaced}/${r.gangs}`,
      r.error ? "error" : r.boundCpuPercent,
      r.pendingGroups,
      r.placeablePending,
      r.splitGangs,
      r.drainSeconds,
      r.handoffs ?? "",
      r.lends ?? "",
    ];
    log(cells.map((cell, i) => String(cell).padStart((columns[i] as string).length)).join("  "));
  }
  if (report.packingVsOneShard) log(`bound cpu over 1 shard's: ${JSON.stringify(report.packingVsOneShard)}`);
}

main().catch((error: unknown) => {
  const { line, exitCode } = failureReport("bench", error, { help: "npm run bench -- --help" });
  process.stderr.write(`${line}\n`);
  process.exitCode = exitCode;
});
