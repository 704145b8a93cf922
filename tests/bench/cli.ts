/**
 * npm run bench -- --scenario basic --nodes 5000 --pods 10000 [--mode backlog|streaming] [--shards 1,2,3] [--systems a,b] [--json]
 * Starts (or reuses) a local cluster in .cluster-bench/ and measures schedulers side by side:
 * sharded-scheduler once per shard count in --shards, the others once.
 * With --json the last stdout line is one JSON object with every result.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../cluster/local/layout.js";
import { defaultClusterOptions, down, readState, status, up } from "../cluster/local/local-cluster.js";
import { buildScheduler } from "../stack/stack.js";
import { allSystems, type BenchMode, runBasic, type SystemName } from "./basic.js";
import { runCoreBench } from "./core.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "basic" },
      mode: { type: "string", default: "backlog" },
      nodes: { type: "string", default: "5000" },
      pods: { type: "string", default: "10000" },
      shards: { type: "string", default: "1" },
      systems: { type: "string", default: allSystems.join(",") },
      concurrency: { type: "string", default: "64" },
      json: { type: "boolean", default: false },
      "keep-cluster": { type: "boolean", default: false },
      "gang-size": { type: "string", default: "1" },
      batch: { type: "string", default: "1" },
      "no-node-list-cache": { type: "boolean", default: false },
    },
  });
  const nodes = Number(values.nodes);
  const pods = Number(values.pods);
  const shards = values.shards.split(",").map(Number);
  const gangSize = Number(values["gang-size"]);
  const batch = Number(values.batch);
  const isPositiveInteger = (value: number) => Number.isInteger(value) && value >= 1;
  for (const [name, value] of Object.entries({ nodes, pods, "gang-size": gangSize, batch })) {
    if (!isPositiveInteger(value)) throw new Error(`--${name} must be a positive integer`);
  }
  if (!shards.every(isPositiveInteger))
    throw new Error(`--shards must be positive integers separated by commas, got "${values.shards}"`);
  const systems = values.systems.split(",").map((s) => s.trim()) as SystemName[];
  for (const system of systems) {
    if (!allSystems.includes(system))
      throw new Error(`unknown system "${system}" (known: ${allSystems.join(", ")})`);
  }
  const mode = values.mode as BenchMode;
  if (mode !== "backlog" && mode !== "streaming")
    throw new Error(`--mode must be backlog or streaming, got "${values.mode}"`);
  if (values.scenario === "core") {
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
  if (values.scenario !== "basic")
    throw new Error(`unknown scenario "${values.scenario}" (known: basic, core)`);
  // Progress goes to stderr with --json, so stdout ends with exactly the JSON line.
  const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`[bench] ${line}\n`);

  buildScheduler();
  const stateDir = join(repoRoot, ".cluster-bench");
  const existing = readState(stateDir);
  if (existing && (existing.options.nodes !== nodes || !(await status(stateDir)).healthy))
    await down(stateDir, log);
  const cluster = await up({ ...defaultClusterOptions, stateDir, nodes, nodePods: 110 }, log);
  try {
    const results = await runBasic({
      cluster,
      mode,
      pods,
      shards,
      systems,
      createConcurrency: Number(values.concurrency),
      log,
    });
    const report = { scenario: values.scenario, mode, nodes, pods, results };
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

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
