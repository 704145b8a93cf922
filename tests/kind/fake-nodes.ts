/**
 * Prints a List of KWOK fake nodes for a kind cluster (`… | kubectl apply -f -`): the local
 * control plane's node shape, tainted so that the cluster's real pods stay off them.
 *   npx tsx tests/kind/fake-nodes.ts [count] [cpu]
 */
import { fakeNodeAnnotation, fakeNodeManifest } from "../cluster/local/fake-nodes.js";
import { defaultClusterOptions, fakeNodeSpecs } from "../cluster/local/local-cluster.js";

const count = Number(process.argv[2] ?? 24);
const cpu = process.argv[3] ?? "8";
// Three zones, for the chaos suite's spread and zonal-volume workloads.
const specs = fakeNodeSpecs({ ...defaultClusterOptions, nodes: count, nodeCpu: cpu, zones: 3 });
const items = specs.map((spec) =>
  fakeNodeManifest({
    ...spec,
    taints: [{ key: fakeNodeAnnotation.key, value: fakeNodeAnnotation.value, effect: "NoSchedule" }],
  }),
);
process.stdout.write(`${JSON.stringify({ apiVersion: "v1", kind: "List", items })}\n`);
