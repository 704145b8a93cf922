/**
 * Topology-aligned shards on the real API server: with --shard-by-label, replicas own whole racks
 * of fake nodes (the ring Lease lists each rack under one member, balanced by node count), every
 * pod on a rack is bound by that rack's owner, a replica leaving hands its racks over whole, and
 * one joining takes whole racks, and a gang that requires one rack goes straight to the shard
 * owning the one rack that can hold it.
 * Ownership is read here from the ring Lease's annotations by this file's own reader (lend, else
 * the member listing the node, else the ketama ring), not by the scheduler's code.
 */
import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupKey } from "../../scheduler/src/core/gang/index.js";
import { InvariantChecker } from "../checker/invariant-checker.js";
import { ringSettled } from "../support/ring.js";
import type { RunningShard } from "../support/shard.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const rackKey = "topology.kubernetes.io/rack";
const ringDomainsAnnotation = "sharded-scheduler.io/ring-domains";
const ringEpochAnnotation = "sharded-scheduler.io/ring-epoch";
const ringMembersAnnotation = "sharded-scheduler.io/ring-members";
const shardArgs = [
  "--lease-duration-ms=4000",
  "--lease-renew-ms=1000",
  "--handover-settle-ms=500",
  `--shard-by-label=${rackKey}`,
];
const suite = schedulerSuite("shard-by-label", { shardArgs });
const pool = "racked";
const rackCount = 4;
const rackSize = 4;
const replicas = new Map<number, RunningShard>();
/** Node name → its rack (label value). */
const rackOf = new Map<string, string>();
const racks: string[] = [];
let checker: InvariantChecker;

const identity = (ordinal: number) => `${suite.id}-${ordinal}`;

beforeAll(async () => {
  replicas.set(0, suite.shard);
  for (let r = 0; r < rackCount; r++) {
    const rack = `${suite.id}-r${r}`;
    racks.push(rack);
    const names = await suite.addNodes(pool, rackSize, { labels: { [rackKey]: rack } }, r * rackSize);
    for (const name of names) rackOf.set(name, rack);
  }
  // Nodes without the label: hashed one by one.
  await suite.addNodes(pool, 2, {}, rackCount * rackSize);
  checker = await InvariantChecker.start(suite.clients.kc, {
    namespace: suite.namespace,
    nodeLabelSelector: `suite=${suite.id}`,
    ringLease: { namespace: "default", name: `${suite.id}-ring` },
  });
});

afterAll(() => checker?.stop());

/** The ring Lease as this file reads it: epoch, members, and rack → the member listing it with its nodes. */
interface RackListing {
  epoch: number;
  members: string[];
  racks: Map<string, { owner: string; nodes: string[] }>;
}

async function readListing(): Promise<RackListing | undefined> {
  const lease = await suite.coordination.readNamespacedLease({
    name: `${suite.id}-ring`,
    namespace: "default",
  });
  const annotations = lease.metadata?.annotations ?? {};
  const text = annotations[ringDomainsAnnotation];
  if (text === undefined) return undefined;
  const domains = JSON.parse(text) as { key: string; owners: Record<string, Record<string, string[]>> };
  if (domains.key !== rackKey) return undefined;
  const listed = new Map<string, { owner: string; nodes: string[] }>();
  for (const [owner, owned] of Object.entries(domains.owners))
    for (const [rack, nodes] of Object.entries(owned)) {
      expect(listed.has(rack), `${rack} listed under two members`).toBe(false);
      listed.set(rack, { owner, nodes });
    }
  return {
    epoch: Number(annotations[ringEpochAnnotation]),
    members: (annotations[ringMembersAnnotation] ?? "").split(",").filter(Boolean),
    racks: listed,
  };
}

/** Waits until the ring Lease names exactly these members and lists every rack whole, and the shards work under it. */
async function racksListed(ordinals: number[]): Promise<RackListing> {
  const members = ordinals.map(identity).sort();
  const listing = await waitFor(
    `every rack listed whole under ${members.join(", ")}`,
    async () => {
      const listing = await readListing();
      if (!listing || listing.members.join(",") !== members.join(",")) return undefined;
      for (const rack of racks) {
        const entry = listing.racks.get(rack);
        const nodes = [...rackOf].filter(([, r]) => r === rack).map(([node]) => node);
        if (
          !entry ||
          entry.nodes.length !== nodes.length ||
          !nodes.every((node) => entry.nodes.includes(node))
        )
          return undefined;
      }
      return listing;
    },
    30_000,
  );
  const shards = ordinals.map((ordinal) => replicas.get(ordinal) as RunningShard);
  await ringSettled(checker, suite.core, shards, members, 20_000);
  return listing;
}

/** Pods of every kind over the racks: per rack a gang of 3 selecting it, and solo pods anywhere. */
async function createPods(prefix: string): Promise<string[]> {
  const pods: k8s.V1Pod[] = [];
  racks.forEach((rack, r) => {
    pods.push(
      ...suite.gang(`${prefix}-gang-${r}`, 3, { pool, cpu: "500m", nodeSelector: { [rackKey]: rack } }),
    );
  });
  for (let i = 0; i < 16; i++) pods.push(suite.pod(`${prefix}-solo-${i}`, { pool, cpu: "250m" }));
  await suite.create(...pods);
  const names = pods.map((pod) => pod.metadata?.name as string);
  await suite.waitBound(names, 60_000);
  return names;
}

/** Every pod of these on a rack was bound by the rack's owner in `listing`; one binder per rack. */
async function expectRacksBoundByTheirOwners(names: string[], listing: RackListing): Promise<void> {
  const binds = await waitFor(
    `Scheduled Events of ${names.length} pods`,
    async () => {
      const byPod = new Map(checker.ledger.binds.map((bind) => [bind.pod, bind]));
      return names.every((name) => byPod.has(name)) ? byPod : undefined;
    },
    20_000,
  );
  const bindersOfRack = new Map<string, Set<string>>();
  for (const name of names) {
    const bind = binds.get(name);
    const rack = bind && rackOf.get(bind.node);
    if (!bind || rack === undefined) continue;
    const binders = bindersOfRack.get(rack) ?? new Set<string>();
    binders.add(bind.by);
    bindersOfRack.set(rack, binders);
  }
  for (const rack of racks) {
    const binders = bindersOfRack.get(rack);
    // Each rack got at least its gang.
    expect(binders, rack).toBeDefined();
    expect([...(binders ?? [])], rack).toEqual([listing.racks.get(rack)?.owner]);
  }
  expect(checker.ledger.violations).toEqual([]);
}

async function removeAllPods(): Promise<void> {
  await suite.core.deleteCollectionNamespacedPod({ namespace: suite.namespace, gracePeriodSeconds: 0 });
  await waitFor("the pods to go", async () => (checker.ledger.boundPods() === 0 ? true : undefined), 30_000);
}

describe("shard by label", () => {
  it("3 replicas own whole racks balanced by node count; each rack's pods are bound by its owner", async () => {
    await Promise.all(
      [1, 2].map(async (ordinal) => replicas.set(ordinal, await suite.startReplica(ordinal, shardArgs))),
    );
    const listing = await racksListed([0, 1, 2]);
    // 4 racks of 4 over 3 members: loads differ by at most one rack.
    const loads = new Map(listing.members.map((member) => [member, 0]));
    for (const rack of racks) {
      const owner = listing.racks.get(rack)?.owner as string;
      loads.set(owner, (loads.get(owner) ?? 0) + rackSize);
    }
    expect(Math.max(...loads.values()) - Math.min(...loads.values())).toBeLessThanOrEqual(rackSize);
    const names = await createPods("three");
    await expectRacksBoundByTheirOwners(names, listing);
    await removeAllPods();
  });

  it("a replica leaving hands its racks over whole, under one new epoch", async () => {
    const before = (await readListing()) as RackListing;
    const leaving = 2;
    const itsRacks = racks.filter((rack) => before.racks.get(rack)?.owner === identity(leaving));
    expect(itsRacks.length).toBeGreaterThan(0);
    await replicas.get(leaving)?.stop();
    replicas.delete(leaving);
    const after = await racksListed([0, 1]);
    expect(after.epoch).toBeGreaterThan(before.epoch);
    // The racks of the members that stayed stay with them.
    for (const rack of racks)
      if (!itsRacks.includes(rack)) expect(after.racks.get(rack)?.owner).toBe(before.racks.get(rack)?.owner);
    const names = await createPods("two");
    await expectRacksBoundByTheirOwners(names, after);
    await removeAllPods();
  });

  it("a replica joining takes whole racks from the others; no rack moves between the others", async () => {
    const before = (await readListing()) as RackListing;
    const joining = 3;
    replicas.set(joining, await suite.startReplica(joining, shardArgs));
    const after = await racksListed([0, 1, joining]);
    expect(after.epoch).toBeGreaterThan(before.epoch);
    const taken = racks.filter((rack) => after.racks.get(rack)?.owner === identity(joining));
    expect(taken.length).toBeGreaterThan(0);
    for (const rack of racks)
      if (!taken.includes(rack)) expect(after.racks.get(rack)?.owner).toBe(before.racks.get(rack)?.owner);
    const names = await createPods("joined");
    await expectRacksBoundByTheirOwners(names, after);
    await removeAllPods();
  });

  it("a gang that requires one rack goes to the shard owning the one rack that can hold it, with no coordinator", async () => {
    // A rack of 3 nodes of 8 cpu: 24 cpu, where the other racks have 16.
    const big = `${suite.id}-rbig`;
    const bigNodes = await suite.addNodes(
      pool,
      3,
      { cpu: "8", labels: { [rackKey]: big } },
      rackCount * rackSize + 2,
    );
    racks.push(big);
    for (const name of bigNodes) rackOf.set(name, big);
    const members = [0, 1, 3];
    const listing = await racksListed(members);
    const bigOwner = listing.racks.get(big)?.owner as string;
    const { ring } = await ringSettled(
      checker,
      suite.core,
      members.map((ordinal) => replicas.get(ordinal) as RunningShard),
      members.map(identity).sort(),
      20_000,
    );
    // 6 members of 3 cpu: each fits a node of any rack, only the big rack holds them all. A name
    // whose ring owner is another shard: without routing by racks it would wait there for good.
    const name = Array.from({ length: 40 }, (_, i) => `rackgang-${i}`).find(
      (candidate) => ring.groupOwnerOf(groupKey(suite.namespace, candidate, false).hashKey) !== bigOwner,
    ) as string;
    const gang = suite.gang(name, 6, {
      pool,
      cpu: "3",
      annotations: { "sharded-scheduler.io/topology-required": rackKey },
    });
    await suite.create(...gang);
    const names = gang.map((pod) => pod.metadata?.name as string);
    await suite.waitBound(names, 60_000);
    const binds = await waitFor(
      `Scheduled Events of ${name}`,
      async () => {
        const byPod = new Map(checker.ledger.binds.map((bind) => [bind.pod, bind]));
        return names.every((pod) => byPod.has(pod)) ? byPod : undefined;
      },
      20_000,
    );
    for (const pod of names) {
      expect(rackOf.get(binds.get(pod)?.node as string), pod).toBe(big);
      expect(binds.get(pod)?.by, pod).toBe(bigOwner);
    }
    expect(checker.ledger.violations).toEqual([]);
  });
});
