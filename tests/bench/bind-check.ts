/**
 * What the check before bind costs in process (core/bind-check.ts), the start of the race window
 * it leaves: N nodes in Z zones holding P running pods, a fraction of them labelled, MaxPerZone
 * (a plugin that spans nodes) on; each sample places one labelled pod (assumed, as the cycle
 * leaves it) and checks it, then takes it off again. Prints JSON; no API server.
 *
 *   bash tests/scripts/node-env.sh tsx tests/bench/bind-check.ts [nodes] [podsPerNode] [samples]
 */
import {
  buildProfile,
  ClusterState,
  checkBeforeBind,
  type Pod,
  spanningProfile,
  toPodInfo,
} from "../../scheduler/src/core/index.js";
import { percentile } from "./stats.js";

const [nodes = 5000, podsPerNode = 10, samples = 2000] = process.argv.slice(2).map(Number);
const zones = 50;
const zoneKey = "topology.kubernetes.io/zone";

const pod = (name: string, labelled: boolean, nodeName?: string): Pod => ({
  metadata: { name, namespace: "bench", uid: name, labels: labelled ? { db: "yes" } : {} },
  spec: {
    ...(nodeName ? { nodeName } : {}),
    containers: [{ name: "c", resources: { requests: { cpu: "10m", memory: "10Mi" } } }],
  },
  status: { phase: nodeName ? "Running" : "Pending" },
});

const cluster = new ClusterState();
for (let n = 0; n < nodes; n++)
  cluster.upsertNode({
    metadata: { name: `n${n}`, labels: { [zoneKey]: `z${n % zones}` } },
    spec: {},
    status: {
      allocatable: { cpu: "64", memory: "256Gi", pods: "200" },
      conditions: [{ type: "Ready", status: "True" }],
    },
  });
for (let n = 0; n < nodes; n++)
  for (let i = 0; i < podsPerNode; i++)
    cluster.upsertPod(toPodInfo(pod(`p${n}-${i}`, i === 0 && n % 10 === 0, `n${n}`)));

const profile = buildProfile(cluster, {
  scoringStrategy: "MostAllocated",
  plugins: { MaxPerZone: { labelKey: "db", maxPerZone: 1_000_000, zoneKey } },
});
const spanning = spanningProfile(profile);
if (spanning === undefined) throw new Error("MaxPerZone should span nodes");

function measure(labelled: boolean): { p50Us: number; p99Us: number; meanUs: number } {
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const info = toPodInfo(pod(`new-${s}`, labelled));
    const nodeName = `n${(s * 7919) % nodes}`;
    cluster.assume(info, nodeName);
    const placements = [{ pod: info, nodeName }];
    const start = process.hrtime.bigint();
    const conflict = checkBeforeBind(spanning as NonNullable<typeof spanning>, cluster, placements);
    times.push(Number(process.hrtime.bigint() - start) / 1000);
    if (conflict) throw new Error(`unexpected conflict: ${conflict.reasons.join(", ")}`);
    cluster.removePod(info.key);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    p50Us: Math.round(percentile(sorted, 50)),
    p99Us: Math.round(percentile(sorted, 99)),
    meanUs: Math.round(times.reduce((a, b) => a + b, 0) / times.length),
  };
}

measure(true); // warm up
process.stdout.write(
  `${JSON.stringify({
    scenario: "bind-check",
    nodes,
    runningPods: nodes * podsPerNode,
    zones,
    samples,
    labelledPod: measure(true),
    unlabelledPod: measure(false),
  })}\n`,
);
