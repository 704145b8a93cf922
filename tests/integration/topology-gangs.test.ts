/**
 * Topology-aware gangs against a real API server: fake nodes labelled into racks
 * (topology.kubernetes.io/rack), and gangs that must land inside one rack.
 *
 *   - an annotation gang with sharded-scheduler.io/topology-required lands in one rack, where
 *     plain packing would have split it (the fullest node is alone in its rack);
 *   - a gang no rack can hold, though the pool could, is told "no rack has room for all N pods
 *     (largest free: M)" in its PodScheduled condition;
 *   - pods carrying the node selectors Kueue's TAS writes (block and rack) land in that domain;
 *   - on a cluster of its own with the alpha workload gates (TopologyAwareWorkloadScheduling lets
 *     the API server keep spec.schedulingConstraints): a native PodGroup with
 *     schedulingConstraints.topology lands in one rack, and one too big for any rack has
 *     PodGroupInitiallyScheduled=False with the same message.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fakeNodeManifest } from "../cluster/local/fake-nodes.js";
import { repoRoot } from "../cluster/local/layout.js";
import { type ClusterState, defaultClusterOptions, down, up } from "../cluster/local/local-cluster.js";
import { createTestNamespace } from "../support/kube.js";
import { createPodGroup, getPodGroup, joining } from "../support/pod-groups.js";
import { type RunningShard, startShard } from "../support/shard.js";
import { schedulerSuite, waitUntilSchedulable } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const rackKey = "topology.kubernetes.io/rack";
const blockKey = "example.com/block";
const topologyRequired = "sharded-scheduler.io/topology-required";

const suite = schedulerSuite("topology");

/** Nodes <id>-<pool>-<first…> of 4 cpu in rack `rack` (and block `block`). */
function rackNodes(pool: string, rack: string, count: number, first: number, block?: string) {
  const labels: Record<string, string> = { [rackKey]: rack };
  if (block !== undefined) labels[blockKey] = block;
  return suite.addNodes(pool, count, { labels }, first);
}

beforeAll(async () => {
  await Promise.all([
    // "split": r1 is one node, r2 two; "wide": r1 three nodes, r2 two; "kueue": block b1 with two racks.
    rackNodes("split", "r1", 1, 0),
    rackNodes("split", "r2", 2, 1),
    rackNodes("wide", "r1", 3, 0),
    rackNodes("wide", "r2", 2, 3),
    rackNodes("kueue", "r1", 2, 0, "b1"),
    rackNodes("kueue", "r2", 2, 2, "b1"),
  ]);
});

/** The rack of each node the pods were bound to. */
async function racksOf(placements: Record<string, string>): Promise<Set<string | undefined>> {
  const racks = new Set<string | undefined>();
  for (const nodeName of Object.values(placements)) {
    const node = await suite.core.readNode({ name: nodeName });
    racks.add(node.metadata?.labels?.[rackKey]);
  }
  return racks;
}

describe("topology-aware gangs", () => {
  it("places an annotation gang with topology-required inside one rack, where packing alone would split it", async () => {
    // A 2-cpu pod makes r1's only node the fullest: MostAllocated alone would put a member there.
    const busy = suite.pod("busy", { pool: "split", cpu: "2" });
    busy.spec = { ...(busy.spec as k8s.V1PodSpec), nodeName: suite.nodeName("split", 0) };
    await suite.create(busy);
    const pods = suite.gang("train", 3, {
      pool: "split",
      cpu: "2",
      annotations: { [topologyRequired]: rackKey },
    });
    await suite.create(pods);
    const placements = await suite.waitBound(pods.map((p) => p.metadata?.name as string));
    expect(await racksOf(placements)).toEqual(new Set(["r2"]));
  });

  it("tells a gang no rack can hold: no rack has room for all 4 pods (largest free: 3)", async () => {
    // Five 4-cpu nodes hold four 4-cpu members; no rack does.
    const pods = suite.gang("wide", 4, {
      pool: "wide",
      cpu: "4",
      annotations: { [topologyRequired]: rackKey },
    });
    await suite.create(pods);
    const message = await suite.waitUnschedulable("wide-0", /no rack has room/);
    expect(message).toMatch(/^no rack has room for all 4 pods \(largest free: 3\)\./);
    await suite.staysPending(
      pods.map((p) => p.metadata?.name as string),
      1_500,
    );
  });

  it("lands pods with the node selectors Kueue TAS writes in that rack", async () => {
    // Kueue's TAS assigns the domain and injects it as node selectors; the gang itself has no constraint.
    const pods = suite.gang("kueue", 3, {
      pool: "kueue",
      cpu: "2",
      nodeSelector: { [blockKey]: "b1", [rackKey]: "r2" },
      annotations: { "kueue.x-k8s.io/workload": "job-kueue" },
    });
    await suite.create(pods);
    const placements = await suite.waitBound(pods.map((p) => p.metadata?.name as string));
    expect(await racksOf(placements)).toEqual(new Set(["r2"]));
  });
});

/**
 * spec.schedulingConstraints is an alpha field (TopologyAwareWorkloadScheduling): the API server
 * drops it without the gate, so this runs on a cluster of its own with the alpha workload gates,
 * as workload-api.test.ts does; only when the run owns its clusters.
 */
describe.skipIf(!inject("ownCluster"))("native PodGroups with schedulingConstraints.topology", () => {
  const stateDir = join(repoRoot, ".cluster-test-topology");
  const id = `it-topo-${randomBytes(2).toString("hex")}`;
  let cluster: ClusterState;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let shard: RunningShard | undefined;
  let namespace = "";

  beforeAll(async () => {
    const log = (line: string) => process.stdout.write(`[topology cluster] ${line}\n`);
    await down(stateDir, () => undefined);
    cluster = await up({ ...defaultClusterOptions, stateDir, nodes: 1, workloadGates: "alpha" }, log);
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    namespace = await createTestNamespace(core, "topology");
    // r1: one node; r2: two nodes. Every node 4 cpu.
    const nodes = [
      { name: `${id}-0`, rack: "r1" },
      { name: `${id}-1`, rack: "r2" },
      { name: `${id}-2`, rack: "r2" },
    ];
    await Promise.all(
      nodes.map(({ name, rack }) =>
        core.createNode({
          body: fakeNodeManifest({
            name,
            cpu: "4",
            memory: "8Gi",
            pods: 110,
            labels: { suite: id, [rackKey]: rack },
          }) as k8s.V1Node,
        }),
      ),
    );
    await waitUntilSchedulable(
      core,
      nodes.map((n) => n.name),
    );
    shard = await startShard({
      schedulerName: id,
      args: [`--kubeconfig=${cluster.kubeconfig}`, "--settle-window-ms=500"],
    });
  }, 180_000);

  afterAll(async () => {
    await shard?.stop();
    await down(stateDir, () => undefined);
  });

  function member(name: string, podGroup: string, cpu: string, nodeName?: string): k8s.V1Pod {
    const pod: k8s.V1Pod = {
      metadata: { name },
      spec: {
        schedulerName: id,
        nodeSelector: { suite: id },
        terminationGracePeriodSeconds: 0,
        ...(nodeName ? { nodeName } : {}),
        containers: [{ name: "main", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu } } }],
      },
    };
    return podGroup === "" ? pod : joining(pod, podGroup);
  }

  async function nodeOf(name: string): Promise<string | undefined> {
    return (await core.readNamespacedPod({ name, namespace })).spec?.nodeName;
  }

  it("places a PodGroup's members inside one rack", async () => {
    // The busy pod makes r1's node the fullest: packing alone would put a member there.
    await core.createNamespacedPod({ namespace, body: member("busy", "", "2", `${id}-0`) });
    await createPodGroup(kc, namespace, "rack-gang", {
      schedulingPolicy: { gang: { minCount: 3 } },
      schedulingConstraints: { topology: [{ key: rackKey }] },
    });
    const stored = await getPodGroup<{ spec: Record<string, unknown> }>(kc, namespace, "rack-gang");
    expect(stored.spec.schedulingConstraints).toEqual({ topology: [{ key: rackKey }] });
    const names = ["rack-gang-0", "rack-gang-1", "rack-gang-2"];
    await Promise.all(
      names.map((name) => core.createNamespacedPod({ namespace, body: member(name, "rack-gang", "2") })),
    );
    const nodes = await waitFor(
      "rack-gang bound",
      async () => {
        const bound = await Promise.all(names.map(nodeOf));
        return bound.every((n) => n !== undefined) ? (bound as string[]) : undefined;
      },
      30_000,
    );
    expect(new Set(nodes)).toEqual(new Set([`${id}-1`, `${id}-2`]));
  });

  it("marks a PodGroup no rack can hold Unschedulable: no rack has room for all 3 pods", async () => {
    await createPodGroup(kc, namespace, "too-big", {
      schedulingPolicy: { gang: { minCount: 3 } },
      schedulingConstraints: { topology: [{ key: rackKey }] },
    });
    const names = ["too-big-0", "too-big-1", "too-big-2"];
    await Promise.all(
      names.map((name) => core.createNamespacedPod({ namespace, body: member(name, "too-big", "3") })),
    );
    const condition = await waitFor(
      "PodGroupInitiallyScheduled=False on too-big",
      async () => {
        const group = await getPodGroup<{
          status?: { conditions?: { type: string; status: string; message: string }[] };
        }>(kc, namespace, "too-big");
        const found = group.status?.conditions?.find((c) => c.type === "PodGroupInitiallyScheduled");
        return found?.status === "False" && /no rack/.test(found.message) ? found : undefined;
      },
      30_000,
    );
    // r1's node is half taken by rack-gang's neighbour; r2's two nodes are full of rack-gang.
    expect(condition.message).toMatch(/^no rack has room for all 3 pods \(largest free: \d\)\./);
    for (const name of names) expect(await nodeOf(name)).toBeUndefined();
  });
});
