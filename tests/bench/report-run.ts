/**
 * `npm run bench -- --report`: runs the scenarios of the report one after the other (the core's
 * preemption storm in process, basic, gangs and memory on one cluster, basic again on a larger
 * one, fragmentation on its own), saves their results as JSON after each, and writes
 * docs/benchmarks.md with its charts. Basic and gangs run every system several times,
 * interleaved, and report each one's median and range; gangs are native PodGroups, so that
 * kube-scheduler runs them beside sharded-scheduler. A scenario that fails is recorded in the
 * results and the others still run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, release, totalmem, type } from "node:os";
import { join, resolve } from "node:path";
import { type ClusterOptions, type ClusterState, down } from "../cluster/local/local-cluster.js";
import { allSystems, type BasicReport, runBasic, type ScheduledEvents } from "./basic.js";
import { benchCluster, fragmentationCluster, throughputCluster } from "./bench-cluster.js";
import { runCorePreemptionBench } from "./core.js";
import { type FragmentationConfig, runFragmentation } from "./fragmentation.js";
import { defaultWorkloadShape } from "./fragmentation-workload.js";
import { chartsFolder, type MachineFacts, type ReportResults, renderReport } from "./report.js";
import { runShardMemory } from "./shard-memory.js";
import type { SystemResult } from "./stats.js";

export interface ReportRunOptions {
  /** The command line, as the report quotes it. */
  command: string;
  /** The folder of benchmarks.md; charts and results.json go to its benchmarks/ folder. */
  out: string;
  log: (line: string) => void;
  keepCluster: boolean;
  throughput: {
    stateDir: string;
    nodes: number;
    pods: number;
    shards: readonly number[];
    gangSize: number;
    createConcurrency: number;
    /** Runs per system of basic and gangs, interleaved. */
    runs: number;
    /** sharded-scheduler once per mode (absent: the shard's default, the flag not passed). */
    scheduledEvents?: readonly ScheduledEvents[];
    /** Node counts for the idle shard's memory; empty skips it. */
    memoryNodeCounts: readonly number[];
    /** Basic once more on a cluster of its own size, with these pods and runs; absent or 0 runs skips it. */
    large?: { nodes: number; pods: number; runs: number };
  };
  fragmentation: {
    stateDir: string;
    nodes: number;
    nodeCpu: string;
    configs: readonly FragmentationConfig[];
    seed: number;
    fill: number;
    quietMs: number;
    createConcurrency: number;
  };
}

export function machineFacts(): MachineFacts {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? "unknown cpu",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${type()} ${release()}`,
  };
}

export async function runReport(options: ReportRunOptions): Promise<ReportResults> {
  const { log, throughput, fragmentation } = options;
  const results: ReportResults = {
    command: options.command,
    startedAt: new Date().toISOString(),
    finishedAt: "",
    machine: machineFacts(),
  };
  /** Runs one step; a failure is recorded and the next step runs. The JSON is saved after each. */
  const step = async (scenario: string, run: () => Promise<void>, timed = true) => {
    const started = Date.now();
    try {
      await run();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${scenario} failed: ${message}`);
      results.errors = [...(results.errors ?? []), { scenario, message }];
    }
    if (timed) {
      const minutes = Math.round((Date.now() - started) / 6_000) / 10;
      results.stepMinutes = { ...results.stepMinutes, [scenario]: minutes };
    }
    results.finishedAt = new Date().toISOString();
    writeResults(results, options.out);
  };
  const onCluster = (
    name: string,
    clusterOptions: ClusterOptions,
    run: (cluster: ClusterState) => Promise<void>,
  ) =>
    step(
      name,
      async () => {
        try {
          await run(await benchCluster(clusterOptions, log));
        } finally {
          if (!options.keepCluster) await down(clusterOptions.stateDir, log);
        }
      },
      false,
    );

  await step("core-preemption", async () => {
    log(`core-preemption: ${throughput.nodes} nodes full of low-priority pods, 100 preemptors`);
    results.preemption = runCorePreemptionBench({
      nodes: throughput.nodes,
      runningPerNode: 4,
      preemptors: 100,
      batch: 1,
    });
  });
  const basicRun = {
    mode: "backlog" as const,
    pods: throughput.pods,
    shards: throughput.shards,
    createConcurrency: throughput.createConcurrency,
    runs: throughput.runs,
    ...(throughput.scheduledEvents ? { scheduledEvents: throughput.scheduledEvents } : {}),
    log,
  };
  /** A backlog report at `size`; its number of runs recorded only when there were several. */
  const backlogReport = (
    scenario: BasicReport["scenario"],
    size: { nodes: number; pods: number; runs: number },
    runs: SystemResult[],
    gangs?: Pick<BasicReport, "gangSize" | "api">,
  ): BasicReport => ({
    scenario,
    mode: "backlog",
    nodes: size.nodes,
    pods: size.pods,
    ...gangs,
    ...(size.runs > 1 ? { runs: size.runs } : {}),
    results: runs,
  });
  await onCluster(
    "the throughput cluster",
    throughputCluster(throughput.stateDir, throughput.nodes),
    async (cluster) => {
      await step("basic", async () => {
        log(`basic: ${throughput.nodes} nodes, ${throughput.pods} pods`);
        const runs = await runBasic({ ...basicRun, cluster, systems: allSystems });
        results.basic = backlogReport("basic", throughput, runs);
      });
      await step("gangs", async () => {
        log(
          `gangs: ${throughput.nodes} nodes, ${throughput.pods} pods in PodGroups of ${throughput.gangSize}`,
        );
        // Native PodGroups, which kube-scheduler gang-schedules too; the no-op binder ignores them.
        const gangs = { gangSize: throughput.gangSize, api: "podgroup" as const };
        const runs = await runBasic({
          ...basicRun,
          ...gangs,
          cluster,
          systems: ["kube-scheduler", "sharded-scheduler"],
        });
        results.gangs = backlogReport("gangs", throughput, runs, gangs);
      });
      if (throughput.memoryNodeCounts.length > 0)
        await step("memory", async () => {
          log(`memory: an idle shard at ${throughput.memoryNodeCounts.join(", ")} nodes`);
          results.memory = await runShardMemory({
            cluster,
            nodeCounts: throughput.memoryNodeCounts,
            settleMs: 3_000,
            log,
          });
        });
    },
  );
  const large = throughput.large;
  if (large && large.runs > 0)
    await onCluster(
      "the large throughput cluster",
      throughputCluster(throughput.stateDir, large.nodes),
      async (cluster) => {
        await step("basic-large", async () => {
          log(`basic-large: ${large.nodes} nodes, ${large.pods} pods`);
          const runs = await runBasic({
            ...basicRun,
            pods: large.pods,
            runs: large.runs,
            cluster,
            systems: allSystems,
          });
          results.basicLarge = backlogReport("basic", large, runs);
        });
      },
    );
  await onCluster(
    "the fragmentation cluster",
    fragmentationCluster(fragmentation.stateDir, fragmentation.nodes, fragmentation.nodeCpu),
    async (cluster) => {
      await step("fragmentation", async () => {
        results.fragmentation = await runFragmentation({
          cluster,
          configs: fragmentation.configs,
          shape: { ...defaultWorkloadShape, fill: fragmentation.fill },
          seed: fragmentation.seed,
          createConcurrency: fragmentation.createConcurrency,
          quietMs: fragmentation.quietMs,
          log,
        });
      });
    },
  );
  return results;
}

const resultsPath = (out: string) => join(out, chartsFolder, "results.json");

function writeResults(results: ReportResults, out: string): void {
  mkdirSync(join(out, chartsFolder), { recursive: true });
  writeFileSync(resultsPath(out), `${JSON.stringify(results, null, 2)}\n`);
}

/** Reads saved results: a results.json, or a folder holding one (directly or in benchmarks/). */
export function readReportResults(from: string): ReportResults {
  let path = resolve(from);
  if (statSync(path).isDirectory()) {
    const candidates = [join(path, "results.json"), resultsPath(path)];
    const found = candidates.find((candidate) => existsSync(candidate));
    if (!found) throw new Error(`no results.json in ${from} (looked for ${candidates.join(", ")})`);
    path = found;
  }
  const results = JSON.parse(readFileSync(path, "utf8")) as ReportResults;
  if (typeof results.command !== "string" || typeof results.machine !== "object")
    throw new Error(`${path} is not the results of npm run bench -- --report`);
  return results;
}

/**
 * Writes benchmarks.md to out, and the charts and the results to out/benchmarks/. Charts of an earlier report that this one no longer draws are removed.
 * Returns the files written.
 */
export function writeReport(results: ReportResults, out: string): string[] {
  const { markdown, charts } = renderReport(results);
  const folder = join(out, chartsFolder);
  mkdirSync(folder, { recursive: true });
  for (const file of readdirSync(folder))
    if (file.endsWith(".svg") && !(file in charts)) rmSync(join(folder, file));
  const written: string[] = [];
  const write = (path: string, text: string) => {
    writeFileSync(path, text);
    written.push(path);
  };
  for (const [file, svg] of Object.entries(charts)) write(join(folder, file), svg);
  writeResults(results, out);
  write(join(out, "benchmarks.md"), markdown);
  return [...written, resultsPath(out)];
}
