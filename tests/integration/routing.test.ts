/**
 * Feasibility-aware routing on the real API server, with 3 replicas and no coordinator: pods
 * that fit few nodes — daemon pods pinned by matchFields metadata.name, pods needing an extended
 * resource two nodes have, pods selecting a pool of one node — are each bound at once by the
 * owner of their node, though the ring gives most of them to a replica that owns none of their
 * nodes (before routing they waited there for the coordinator). Nothing is written to route
 * them, every bind is its node owner's (checked by the independent watcher), and a node whose
 * new labels make it the only match takes its waiting pod through its own owner.
 */
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupKey } from "../../scheduler/src/core/gang/index.js";
import { InvariantChecker } from "../checker/invariant-checker.js";
import type { RingOwners } from "../checker/ring-owners.js";
import { ringSettled } from "../support/ring.js";
import type { RunningShard } from "../support/shard.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const shardArgs = ["--lease-duration-ms=4000", "--lease-renew-ms=1000", "--handover-settle-ms=500"];
const suite = schedulerSuite("routing", { shardArgs });
const replicas = new Map<number, RunningShard>();
let checker: InvariantChecker;
let daemonNodes: string[] = [];
let gpuNodes: string[] = [];
let edgeNodes: string[] = [];

const identity = (ordinal: number) => `${suite.id}-${ordinal}`;

beforeAll(async () => {
  replicas.set(0, suite.shard);
  daemonNodes = await suite.addNodes("ds", 9);
  // Each GPU node holds every GPU pod: however the pods' hashes split them between the GPU
  // nodes' owners, each gets room (routing reads no room left; without a coordinator nothing
  // would move a pod whose routed owner's node is full).
  gpuNodes = await suite.addNodes("gpu", 2, { gpus: 12 });
  edgeNodes = await suite.addNodes("edge", 1);
  checker = await InvariantChecker.start(suite.clients.kc, {
    namespace: suite.namespace,
    nodeLabelSelector: `suite=${suite.id}`,
    ringLease: { namespace: "default", name: `${suite.id}-ring` },
  });
  await Promise.all(
    [1, 2].map(async (ordinal) => replicas.set(ordinal, await suite.startReplica(ordinal, shardArgs))),
  );
});

afterAll(() => checker?.stop());

/** Waits until the ring names the 3 replicas and they own every node once. */
async function converged(): Promise<RingOwners> {
  const members = [0, 1, 2].map(identity);
  return (await ringSettled(checker, suite.core, [...replicas.values()], members, 30_000)).ring;
}

/** A daemon pod as the DaemonSet controller pins it to its node. */
function daemonPod(name: string, nodeName: string): k8s.V1Pod {
  return suite.pod(name, {
    pool: "ds",
    cpu: "100m",
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] },
          ],
        },
      },
    },
    tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }],
  });
}

/** Who bound each pod and onto which node, once the checker has all their Scheduled Events. */
async function bindsOf(names: readonly string[]): Promise<Map<string, { by: string; node: string }>> {
  return waitFor(
    `Scheduled Events of ${names.length} pods`,
    async () => {
      const binds = new Map(checker.ledger.binds.map((bind) => [bind.pod, { by: bind.by, node: bind.node }]));
      return names.every((name) => binds.has(name)) ? binds : undefined;
    },
    20_000,
  );
}

function expectNoViolations(): void {
  expect(checker.ledger.violations).toEqual([]);
  expect(checker.ledger.foreignBinds()).toEqual({ foreign: [], unverifiable: [] });
}

const ringOwnerOfPod = (ring: RingOwners, name: string) =>
  ring.groupOwnerOf(groupKey(suite.namespace, name, true).hashKey);

describe("feasibility-aware routing", () => {
  it("binds daemon, extended-resource and one-node-pool pods at once, each by its node's owner, with no coordinator", async () => {
    const ring = await converged();
    const daemons = daemonNodes.flatMap((node, i) => [
      daemonPod(`ds-${i}-a`, node),
      daemonPod(`ds-${i}-b`, node),
    ]);
    const gpu = Array.from({ length: 12 }, (_, i) =>
      suite.pod(`gpu-${i}`, { pool: "gpu", cpu: "100m", gpus: 1 }),
    );
    const edge = Array.from({ length: 6 }, (_, i) => suite.pod(`edge-${i}`, { pool: "edge", cpu: "100m" }));
    const pods = [...daemons, ...gpu, ...edge];
    const names = pods.map((pod) => pod.metadata?.name as string);
    // The nodes each pod could go to, and the shards owning them.
    const nodesOf = (name: string): string[] => {
      if (name.startsWith("ds-")) return [daemonNodes[Number(name.split("-")[1])] as string];
      return name.startsWith("gpu-") ? gpuNodes : edgeNodes;
    };
    const misplacedByRing = names.filter(
      (name) => !nodesOf(name).some((node) => ring.ownerOf(node) === ringOwnerOfPod(ring, name)),
    );
    // The ring alone would leave these with a replica owning none of their nodes.
    expect(misplacedByRing.length).toBeGreaterThan(names.length / 3);

    const createdAt = Date.now();
    await suite.create(...pods);
    await suite.waitBound(names, 30_000);
    const boundInMs = Date.now() - createdAt;
    const binds = await bindsOf(names);
    for (const name of names) {
      const bind = binds.get(name);
      expect(nodesOf(name)).toContain(bind?.node);
      expect(bind?.by).toBe(ring.ownerOf(bind?.node as string));
    }
    // No coordinator runs: the stuck-report-and-relief path (seconds per group) cannot have
    // placed them; 36 pods in a few seconds is the shards' own doing.
    expect(boundInMs).toBeLessThan(15_000);
    // Routing writes nothing: no pod carries an Owner condition.
    const listed = await suite.core.listNamespacedPod({ namespace: suite.namespace });
    for (const pod of listed.items)
      expect(pod.status?.conditions?.some((c) => c.type === "sharded-scheduler.io/Owner") ?? false).toBe(
        false,
      );
    expectNoViolations();
  });

  it("moves a waiting pod to the owner of a node whose new labels make it the only match", async () => {
    const ring = await converged();
    // A pod whose ring owner is not the owner of the node that will match it.
    const target = daemonNodes[0] as string;
    const owner = ring.ownerOf(target) as string;
    let name = "";
    for (let i = 0; name === ""; i++) if (ringOwnerOfPod(ring, `late-${i}`) !== owner) name = `late-${i}`;
    await suite.create(suite.pod(name, { pool: "ds", cpu: "100m", nodeSelector: { late: "yes" } }));
    // Nothing matches yet: the pod waits (its ring owner tells it why).
    await waitFor(
      `${name} told it is unschedulable`,
      async () => {
        const pod = await suite.core.readNamespacedPod({ name, namespace: suite.namespace });
        return pod.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False")
          ? true
          : undefined;
      },
      15_000,
    );
    await suite.core.patchNode(
      { name: target, body: { metadata: { labels: { late: "yes" } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const labelledAt = Date.now();
    await suite.waitBound([name], 15_000);
    expect(Date.now() - labelledAt).toBeLessThan(10_000);
    const binds = await bindsOf([name]);
    expect(binds.get(name)).toEqual({ by: owner, node: target });
    expectNoViolations();
  });
});
