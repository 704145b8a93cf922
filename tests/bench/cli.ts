/**
 * npm run bench -- --scenario basic|core|fragmentation [options]   (--help lists them)
 * basic and fragmentation start (or reuse) a local cluster and run the system under test on it;
 * core runs the scheduling core in process. With --json the last stdout line is one JSON
 * object with every result.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../cluster/local/layout.js";
import {
  type ClusterOptions,
  defaultClusterOptions,
  down,
  readState,
  status,
  up,
} from "../cluster/local/local-cluster.js";
import { buildScheduler } from "../stack/stack.js";
import { allSystems, type BenchMode, runBasic, type SystemName } from "./basic.js";
import { runCoreBench } from "./core.js";
import { type FragmentationReport, parseConfigs, runFragmentation } from "./fragmentation.js";
import { defaultWorkloadShape } from "./fragmentation-workload.js";

const usage = `usage: npm run bench -- --scenario <basic|core|fragmentation> [options]

basic: P small pods on N nodes, scheduled by kube-scheduler, sharded-scheduler and a no-op binder
  --nodes N             fake nodes (default 5000)
  --pods P              pods (default 10000)
  --mode M              backlog (default) or streaming
  --shards 1,2,3        sharded-scheduler once per shard count (default 1)
  --systems a,b         of ${allSystems.join(", ")} (default all)
  --concurrency C       pods created at once (default 64)

core: the scheduling core alone, in process
  --nodes N --pods P    as above
  --gang-size G         pods per gang (default 1)
  --batch B             groups per cycle (default 1)
  --no-node-list-cache  rebuild the owned-node list every cycle

fragmentation: gangs and solo pods fill ~${defaultWorkloadShape.fill * 100}% of the cluster; reports the groups left
  stuck (pending, though one scheduler could place them now) and the drain time
  --nodes N             fake nodes (default 60)
  --node-cpu Q          cpu per node (default 8)
  --configs 1,3,3c      shard counts; a trailing c runs the coordinator too (default 1,3,3c)
  --seed S              workload seed (default 1)
  --fill F              share of the cluster's cpu requested (default ${defaultWorkloadShape.fill})
  --quiet-seconds Q     a run ends when every pod is bound or none was for Q seconds (default 15)
  --concurrency C       pods created at once (default 16)

common:
  --dir D               cluster state folder (default .cluster-bench, fragmentation: .cluster-bench-frag)
  --keep-cluster        leave the cluster running afterwards
  --json                progress to stderr; the last stdout line is the JSON result
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "basic" },
      mode: { type: "string", default: "backlog" },
      nodes: { type: "string" },
      pods: { type: "string", default: "10000" },
      shards: { type: "string", default: "1" },
      systems: { type: "string", default: allSystems.join(",") },
      concurrency: { type: "string" },
      json: { type: "boolean", default: false },
      "keep-cluster": { type: "boolean", default: false },
      dir: { type: "string" },
      "gang-size": { type: "string", default: "1" },
      batch: { type: "string", default: "1" },
      "no-node-list-cache": { type: "boolean", default: false },
      "node-cpu": { type: "string", default: "8" },
      configs: { type: "string", default: "1,3,3c" },
      seed: { type: "string", default: "1" },
      fill: { type: "string", default: String(defaultWorkloadShape.fill) },
      "quiet-seconds": { type: "string", default: "15" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const scenario = values.scenario;
  if (scenario !== "basic" && scenario !== "core" && scenario !== "fragmentation")
    throw new Error(`unknown scenario "${scenario}" (known: basic, core, fragmentation)`);
  const fragmentation = scenario === "fragmentation";
  const nodes = Number(values.nodes ?? (fragmentation ? "60" : "5000"));
  const pods = Number(values.pods);
  const shards = values.shards.split(",").map(Number);
  const gangSize = Number(values["gang-size"]);
  const batch = Number(values.batch);
  const concurrency = Number(values.concurrency ?? (fragmentation ? "16" : "64"));
  const seed = Number(values.seed);
  const quietSeconds = Number(values["quiet-seconds"]);
  const isPositiveInteger = (value: number) => Number.isInteger(value) && value >= 1;
  for (const [name, value] of Object.entries({ nodes, pods, "gang-size": gangSize, batch, concurrency })) {
    if (!isPositiveInteger(value)) throw new Error(`--${name} must be a positive integer`);
  }
  if (!Number.isInteger(seed) || seed < 0) throw new Error("--seed must be a non-negative integer");
  if (!(quietSeconds > 0)) throw new Error("--quiet-seconds must be positive");
  const fill = Number(values.fill);
  if (!(fill > 0 && fill <= 1)) throw new Error(`--fill must be in (0, 1], got "${values.fill}"`);
  if (!shards.every(isPositiveInteger))
    throw new Error(`--shards must be positive integers separated by commas, got "${values.shards}"`);
  const configs = parseConfigs(values.configs);
  const systems = values.systems.split(",").map((s) => s.trim()) as SystemName[];
  for (const system of systems) {
    if (!allSystems.includes(system))
      throw new Error(`unknown system "${system}" (known: ${allSystems.join(", ")})`);
  }
  const mode = values.mode as BenchMode;
  if (mode !== "backlog" && mode !== "streaming")
    throw new Error(`--mode must be backlog or streaming, got "${values.mode}"`);
  if (scenario === "core") {
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
  // Progress goes to stderr with --json, so stdout ends with exactly the JSON line.
  const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`[bench] ${line}\n`);

  buildScheduler();
  const stateDir = values.dir
    ? resolve(values.dir)
    : join(repoRoot, fragmentation ? ".cluster-bench-frag" : ".cluster-bench");
  const clusterOptions: ClusterOptions = fragmentation
    ? {
        ...defaultClusterOptions,
        stateDir,
        nodes,
        nodeCpu: values["node-cpu"],
        nodeMemory: "64Gi",
        kubeScheduler: false,
      }
    : { ...defaultClusterOptions, stateDir, nodes, nodePods: 110 };
  const existing = readState(stateDir);
  if (
    existing &&
    (existing.options.nodes !== nodes ||
      existing.options.nodeCpu !== clusterOptions.nodeCpu ||
      !(await status(stateDir)).healthy)
  )
    await down(stateDir, log);
  const cluster = await up(clusterOptions, log);
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
    const results = await runBasic({
      cluster,
      mode,
      pods,
      shards,
      systems,
      createConcurrency: concurrency,
      log,
    });
    const report = { scenario, mode, nodes, pods, results };
    if (!values.json) {
      log("system             shards  pods/s   p50 ms   p90 ms   p99 ms  scheduled");
      for (const r of results) {
        log(
          `${r.system.padEnd(18)} ${String(r.shards ?? "").padStart(6)} ${String(r.podsPerSecond).padStart(7)} ${String(r.p50Ms).padStart(8)} ${String(r.p90Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.scheduled).padStart(10)}`,
        );
      }
    }
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    if (!values["keep-cluster"]) await down(stateDir, log);
  }
}

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

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
