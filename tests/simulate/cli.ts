/**
 * npm run simulate -- [options]: the calibrated scale model (docs/simulation.md).
 * Prints a table per shard count; with --json the last stdout line is one JSON object.
 * --validate <results.json> compares with saved benchmark runs and exits 1 beyond the tolerance.
 */
import { parseArgs } from "node:util";
import { type Calibration, calibration } from "./calibration.js";
import { defaultOptions, type ScheduledEvents, type SimulationResult, simulate } from "./simulation.js";
import { validate } from "./validate.js";

const usage = `usage: npm run simulate -- [options]
  --shards LIST            shard counts, e.g. 1,2,4,8,16 (default)
  --nodes N --pods P       cluster size (default ${defaultOptions.nodes} nodes, ${defaultOptions.pods} pods)
  --scale K                each simulated node and pod stands for K (default: nodes/2500, at least 1)
  --api-cores N            API-server cores (default ${defaultOptions.apiCores})
  --etcd-cores N           etcd cores (default ${defaultOptions.etcdCores})
  --machine-cores N        everything shares one machine of N cores instead (the benchmark's 2)
  --node-cpu M --pod-cpu M node and pod cpu in millicores (default ${defaultOptions.nodeMilliCpu}, ${defaultOptions.podMilliCpu})
  --gang-fraction F        share of pods in gangs, 0–1 (default ${defaultOptions.gangFraction})
  --gang-size N            pods per gang (default ${defaultOptions.gangSize})
  --gang-api podgroup|annotation   native PodGroups, whose condition each gang's shard writes
                           once (default), or annotations (no PodGroup)
  --coordinator on|off     (default on)
  --scheduled-events pod|group|off   (default pod)
  --status-patches N       status patches per bound pod (default ${defaultOptions.statusPatchesPerPod})
  --batch N                groups per cycle (default ${defaultOptions.batch})
  --bind-concurrency N     binds in flight per shard (default ${defaultOptions.bindConcurrency})
  --watch-delay-ms N       (default ${defaultOptions.watchDelayMs})
  --seed N                 (default ${defaultOptions.seed})
  --set NAME=VALUE,...     override calibration constants (see --calibration), e.g.
                           --set shardWatchMsPerPod=0.05 (a cheaper watch decode)
  --json                   print the results as JSON (last line)
  --calibration            print the calibration constants and exit
  --validate FILE          compare with saved runs (docs/benchmarks/results.json)
  --tolerance PCT          for --validate (default 20)`;

const { values } = parseArgs({
  options: {
    shards: { type: "string" },
    nodes: { type: "string" },
    pods: { type: "string" },
    scale: { type: "string" },
    "api-cores": { type: "string" },
    "etcd-cores": { type: "string" },
    "machine-cores": { type: "string" },
    "node-cpu": { type: "string" },
    "pod-cpu": { type: "string" },
    "gang-fraction": { type: "string" },
    "gang-size": { type: "string" },
    "gang-api": { type: "string" },
    coordinator: { type: "string" },
    "scheduled-events": { type: "string" },
    "status-patches": { type: "string" },
    batch: { type: "string" },
    "bind-concurrency": { type: "string" },
    "watch-delay-ms": { type: "string" },
    seed: { type: "string" },
    set: { type: "string" },
    json: { type: "boolean" },
    calibration: { type: "boolean" },
    validate: { type: "string" },
    tolerance: { type: "string" },
    help: { type: "boolean" },
  },
});

function num(name: keyof typeof values, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) fail(`--${name} must be a non-negative number`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

function table(header: string[], rows: (string | number)[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]) =>
    cells
      .map((c, i) => (i === 0 ? String(c).padEnd(widths[i] ?? 0) : String(c).padStart(widths[i] ?? 0)))
      .join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const tuned: Record<string, number> = { ...calibration };
for (const pair of values.set?.split(",") ?? []) {
  const [name, raw] = pair.split("=");
  const value = Number(raw);
  if (name === undefined || !(name in calibration) || !Number.isFinite(value) || value < 0)
    fail(`--set: ${pair} is not NAME=VALUE with NAME one of ${Object.keys(calibration).join(", ")}`);
  tuned[name] = value;
}
const cal = tuned as unknown as Calibration;

if (values.calibration) {
  process.stdout.write(`${JSON.stringify(cal, null, 2)}\n`);
  process.exit(0);
}

if (values.validate !== undefined) {
  const tolerance = num("tolerance", 20);
  const rows = validate(values.validate);
  const beyond = rows.filter((r) => !r.fit && Math.abs(r.errorPercent) > tolerance);
  if (values.json) process.stdout.write(`${JSON.stringify({ tolerancePercent: tolerance, rows })}\n`);
  else {
    process.stdout.write(
      `${table(
        ["run", "shards", "nodes × pods", "measured pods/s", "predicted", "error"],
        rows.map((r) => [
          r.run,
          r.shards,
          `${r.nodes} × ${r.pods}`,
          r.measured,
          r.predicted,
          `${r.errorPercent > 0 ? "+" : ""}${r.errorPercent} %`,
        ]),
      )}\n`,
    );
    process.stdout.write(
      beyond.length === 0
        ? `every run within ${tolerance} %\n`
        : `${beyond.length} run(s) beyond ${tolerance} %\n`,
    );
  }
  process.exit(beyond.length === 0 ? 0 : 1);
}

const nodes = num("nodes", defaultOptions.nodes);
const pods = num("pods", defaultOptions.pods);
const shardCounts = (values.shards ?? "1,2,4,8,16").split(",").map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 64) fail("--shards takes counts from 1 to 64, e.g. 1,2,4");
  return n;
});
const coordinator = values.coordinator ?? "on";
if (coordinator !== "on" && coordinator !== "off") fail("--coordinator is on or off");
const scheduledEvents = (values["scheduled-events"] ?? "pod") as ScheduledEvents;
if (!["pod", "group", "off"].includes(scheduledEvents)) fail("--scheduled-events is pod, group or off");
const gangApi = values["gang-api"] ?? "podgroup";
if (gangApi !== "podgroup" && gangApi !== "annotation") fail("--gang-api is podgroup or annotation");
const machineCores = values["machine-cores"] === undefined ? undefined : num("machine-cores", 2);
const options = {
  nodes,
  pods,
  scale: Math.max(1, Math.round(num("scale", Math.max(1, Math.round(nodes / 2500))))),
  apiCores: num("api-cores", defaultOptions.apiCores),
  etcdCores: num("etcd-cores", defaultOptions.etcdCores),
  ...(machineCores === undefined ? {} : { machineCores }),
  nodeMilliCpu: num("node-cpu", defaultOptions.nodeMilliCpu),
  podMilliCpu: num("pod-cpu", defaultOptions.podMilliCpu),
  gangFraction: Math.min(1, num("gang-fraction", defaultOptions.gangFraction)),
  gangSize: num("gang-size", defaultOptions.gangSize),
  podGroupWrites: gangApi === "podgroup",
  coordinator: coordinator === "on",
  scheduledEvents,
  statusPatchesPerPod: num("status-patches", defaultOptions.statusPatchesPerPod),
  batch: Math.max(1, num("batch", defaultOptions.batch)),
  bindConcurrency: Math.max(1, num("bind-concurrency", defaultOptions.bindConcurrency)),
  watchDelayMs: num("watch-delay-ms", defaultOptions.watchDelayMs),
  seed: num("seed", defaultOptions.seed),
  calibration: cal,
};

const results: SimulationResult[] = [];
for (const shards of shardCounts) {
  const result = simulate({ ...options, shards });
  results.push(result);
  if (!values.json)
    process.stderr.write(
      `${shards} shard(s): ${result.podsPerSecond} pods/s (${result.wallSeconds} s to simulate)\n`,
    );
}
if (values.json) process.stdout.write(`${JSON.stringify({ options, results })}\n`);
else {
  const where =
    machineCores === undefined
      ? `API server ${options.apiCores} cores, etcd ${options.etcdCores}, one core per shard`
      : `one machine of ${machineCores} cores`;
  process.stdout.write(
    `${nodes} nodes × ${pods} pods (each simulated node and pod stands for ${options.scale}); ${where}; ` +
      `gangs: ${options.gangFraction * 100} % of pods in gangs of ${options.gangSize}; coordinator ${coordinator}\n\n`,
  );
  process.stdout.write(
    `${table(
      [
        "shards",
        "pods/s",
        "steady pods/s",
        "first bind",
        "time",
        "gang p50",
        "gang p99",
        "pending",
        "fragmented",
        "handoffs",
        "lent nodes",
        "API busy",
        "shard CPU s",
      ],
      results.map((r) => [
        r.shards,
        r.podsPerSecond,
        r.steadyPodsPerSecond,
        `${r.firstBindSeconds} s`,
        `${r.durationSeconds} s`,
        r.gangs.count > 0 ? seconds(r.gangs.p50Ms) : "–",
        r.gangs.count > 0 ? seconds(r.gangs.p99Ms) : "–",
        r.pendingGroups,
        r.fragmentation,
        r.handoffs,
        r.lentNodes,
        `${r.busyPercent["api-server"] ?? r.busyPercent.machine ?? 0} %`,
        r.cpuSeconds.shards ?? 0,
      ]),
    )}\n`,
  );
}
