/**
 * npm run demo [-- --keep] : brings up the local cluster, Redis, 3 shards and the coordinator,
 * plays the sample workload (tests/demo/scenes.ts) with live progress, prints what happened and
 * tears everything down (--keep leaves it running).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { ConfigError, failureReport, parseFlags } from "../../scheduler/src/config/flags.js";
import { milliValue } from "../../scheduler/src/core/resources/quantity.js";
import { fakeNodeLabel } from "../cluster/local/fake-nodes.js";
import { defaultStateDir } from "../cluster/local/layout.js";
import { defaultClusterOptions, down, readState, status, up } from "../cluster/local/local-cluster.js";
import { readStack, stackDown, stackUp } from "../stack/stack.js";
import { waitFor } from "../support/wait.js";
import { renderSummary, ringSettledForScenes } from "./progress.js";
import { removeDemo, runDemo } from "./run.js";
import { demoScenes, rackLabel } from "./scenes.js";
import { shardsReader } from "./shards-view.js";

const usage = `usage: npm run demo [-- options]

  --keep            leave the cluster, the shards, the coordinator and the demo's pods running
  --plain           print plain progress lines even on a terminal (the default without one)
  --nodes N         fake nodes (default 12)
  --node-cpu Q      cpu per node (default 8)
  --shards S        scheduler shards (default 3)
  --racks R         racks of a new cluster's nodes (topology.kubernetes.io/rack; default 3): the
                    shards then own whole racks (--shard-by-label) and a rack gang scene plays;
                    0: no racks, no rack scene
  --dir D           cluster state folder (default .cluster)
  --report F        write each scene as a check ({numPassedTests, numFailedTests, demo}) to F (for npm test)
`;

const schedulerName = "sharded-scheduler";
const namespace = "sharded-scheduler-demo";
/** Where the stack's shards keep their Leases (tests/stack/stack.ts). */
const leaseNamespace = "default";

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(`--${name} takes a positive integer, got "${raw}"`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseFlags(process.argv.slice(2), {
    keep: { type: "boolean", default: false },
    plain: { type: "boolean", default: false },
    nodes: { type: "string", default: "12" },
    "node-cpu": { type: "string", default: "8" },
    shards: { type: "string", default: "3" },
    racks: { type: "string", default: "3" },
    dir: { type: "string" },
    report: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const nodes = positiveInt("nodes", values.nodes);
  const shards = positiveInt("shards", values.shards);
  const racks = values.racks === "0" ? 0 : positiveInt("racks", values.racks);
  positiveInt("node-cpu", values["node-cpu"]);
  const stateDir = values.dir ?? defaultStateDir();
  const out = process.stdout;
  const live = out.isTTY === true && !values.plain;
  const log = (line: string) => out.write(`[demo] ${line}\n`);

  // A healthy cluster already running in the folder is used as it is, and left running.
  const reused = readState(stateDir) !== undefined && (await status(stateDir)).healthy;
  const stackWasRunning = reused && (readStack(stateDir)?.shards.length ?? 0) > 0;
  log(
    reused ? `using the cluster already running in ${stateDir}` : `starting a local cluster in ${stateDir}`,
  );
  const cluster = await up(
    {
      ...defaultClusterOptions,
      stateDir,
      nodes,
      nodeCpu: values["node-cpu"],
      nodeMemory: "64Gi",
      kubeScheduler: false,
      racks,
    },
    log,
  );
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  let keep = values.keep;
  const tearDown = async () => {
    if (keep) return;
    keep = true; // once
    log("tearing down");
    await removeDemo(kc, namespace);
    if (!stackWasRunning) await stackDown(stateDir, log);
    if (!reused) await down(stateDir, log);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void tearDown().finally(() => process.exit(130));
    });

  try {
    // Nodes in racks (a new cluster's, or a reused one's labels): the shards own whole racks.
    const rackNodes = await readyNodesPerRack(kc);
    const shardArgs = rackNodes.size > 0 ? [`--shard-by-label=${rackLabel}`] : [];
    log(
      `starting ${shards} shards${rackNodes.size > 0 ? ` owning whole racks (${rackNodes.size} racks)` : ""} and the coordinator (a leader and a standby)`,
    );
    await stackUp({ clusterDir: stateDir, shards, shardArgs, log });
    const shardsView = await shardsReader(kc, schedulerName, leaseNamespace);
    const readShards = () => shardsView.read();
    // The scenes are sized from the ring: wait until every shard has its share of the nodes —
    // with racks, whole racks (a first ring may hash node by node until the racks are listed).
    const view = await waitFor(
      rackNodes.size > 0 ? "every shard owning whole racks" : "every shard owning nodes",
      async () => {
        const current = await readShards();
        return ringSettledForScenes(current, shards, rackNodes.size > 0) ? current : undefined;
      },
      60_000,
    );
    const nodeMilliCpu = await readyNodeMilliCpu(kc);
    const scenes = demoScenes({
      nodeMilliCpu,
      largestShardNodes: Math.max(...view.shards.map((s) => s.ownedNodes)),
      rackNodes,
    });
    log(
      `${nodeMilliCpu.length} nodes; ${view.shards.map((s) => `${s.shard} owns ${s.ownedNodes}`).join(", ")}`,
    );
    const outcome = await runDemo({
      kc,
      namespace,
      schedulerName,
      scenes,
      readShards,
      live,
      sceneTimeoutMs: 90_000,
      out,
    });
    out.write(`\n${renderSummary(outcome).join("\n")}\n\n`);
    if (values.report) {
      const passed = outcome.scenes.filter((s) => s.completed).length;
      mkdirSync(dirname(resolve(values.report)), { recursive: true });
      writeFileSync(
        resolve(values.report),
        `${JSON.stringify({ numPassedTests: passed, numFailedTests: outcome.scenes.length - passed, demo: renderSummary(outcome) }, null, 2)}\n`,
      );
    }
    if (values.keep) {
      out.write(
        [
          "Everything keeps running. To look around:",
          `  source ${stateDir}/env                   # kubectl and KUBECONFIG for this cluster`,
          `  kubectl get pods -n ${namespace} -o wide`,
          `  kubectl events -n ${namespace}`,
          "  npm run status                          # the shards, the coordinator, handoffs and lends",
          "When done:",
          `  npm run stack -- down${values.dir ? ` --dir ${values.dir}` : ""} && npm run cluster -- down${values.dir ? ` --dir ${values.dir}` : ""}`,
          "",
        ].join("\n"),
      );
    }
    return outcome.scenes.every((s) => s.completed) ? 0 : 1;
  } finally {
    await tearDown();
  }
}

/** Ready fake nodes per rack (topology.kubernetes.io/rack); empty when none carries the label. */
async function readyNodesPerRack(kc: k8s.KubeConfig): Promise<Map<string, number>> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listNode({ labelSelector: `${fakeNodeLabel.key}=${fakeNodeLabel.value}` });
  const racks = new Map<string, number>();
  for (const node of list.items) {
    const rack = node.metadata?.labels?.[rackLabel];
    const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    if (rack !== undefined && ready) racks.set(rack, (racks.get(rack) ?? 0) + 1);
  }
  return racks;
}

/** Allocatable milli-cpu of each Ready fake node. */
async function readyNodeMilliCpu(kc: k8s.KubeConfig): Promise<number[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const list = await core.listNode({ labelSelector: `${fakeNodeLabel.key}=${fakeNodeLabel.value}` });
  return list.items
    .filter((node) => node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
    .map((node) => milliValue(node.status?.allocatable?.cpu ?? "0"));
}

// Exits explicitly: the API clients' keep-alive sockets would otherwise hold the process a while.
main().then(
  (code) => process.stdout.write("", () => process.exit(code)),
  (error: unknown) => {
    const { line, exitCode } = failureReport("demo", error, { help: "npm run demo -- --help" });
    process.stderr.write(`${line}\n`);
    process.exit(exitCode);
  },
);
