/**
 * Several replicas of one scheduler on the real API server: they split nodes and groups by the
 * ring, bind every pod once, never overcommit a node or bind onto a node another replica owns
 * (checked by an independent watcher throughout), and converge after scale-up, scale-down,
 * SIGKILL and a SIGSTOP past the lease.
 */
import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupKey } from "../../scheduler/src/core/gang/index.js";
import { InvariantChecker } from "../checker/invariant-checker.js";
import type { RingOwners } from "../checker/ring-owners.js";
import { ringSettled } from "../support/ring.js";
import { metricValue, type RunningShard } from "../support/shard.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const leaseMs = 4_000;
const shardArgs = [`--lease-duration-ms=${leaseMs}`, "--lease-renew-ms=1000", "--handover-settle-ms=500"];
const suite = schedulerSuite("sharding", { shardArgs });
const pool = "pool";
const replicas = new Map<number, RunningShard>();
let checker: InvariantChecker;

const identity = (ordinal: number) => `${suite.id}-${ordinal}`;

beforeAll(async () => {
  replicas.set(0, suite.shard);
  await suite.addNodes(pool, 30);
  checker = await InvariantChecker.start(suite.clients.kc, {
    namespace: suite.namespace,
    nodeLabelSelector: `suite=${suite.id}`,
    ringLease: { namespace: "default", name: `${suite.id}-ring` },
  });
});

afterAll(() => checker?.stop());

async function start(...ordinals: number[]): Promise<void> {
  await Promise.all(
    ordinals.map(async (ordinal) => replicas.set(ordinal, await suite.startReplica(ordinal, shardArgs))),
  );
}

async function stop(ordinal: number): Promise<void> {
  await replicas.get(ordinal)?.stop();
  replicas.delete(ordinal);
}

/** Waits until the ring names exactly these replicas and they own every node once (ringSettled). */
async function converged(
  ordinals: number[],
  timeoutMs = 20_000,
): Promise<{ epoch: number; ring: RingOwners }> {
  const shards = ordinals.map((ordinal) => replicas.get(ordinal) as RunningShard);
  return ringSettled(checker, suite.core, shards, ordinals.map(identity), timeoutMs);
}

/** Pods created at a steady pace (a solo pod or a gang of 3 every 250 ms) until stopped. */
/** Pods created at a steady pace until stopped; `created()` counts those created so far. */
function load(prefix: string): { created(): number; stop(): Promise<string[]> } {
  const names: string[] = [];
  let stopped = false;
  let tick = 0;
  const creating = (async () => {
    while (!stopped) {
      const n = tick++;
      const pods =
        n % 2 === 0
          ? [suite.pod(`${prefix}-solo-${n}`, { pool, cpu: "100m" })]
          : suite.gang(`${prefix}-gang-${n}`, 3, { pool, cpu: "100m" });
      await suite.create(...pods);
      names.push(...pods.map((pod) => pod.metadata?.name as string));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    created: () => names.length,
    stop: async () => {
      stopped = true;
      await creating;
      return names;
    },
  };
}

async function removeAllPods(): Promise<void> {
  await suite.core.deleteCollectionNamespacedPod({ namespace: suite.namespace, gracePeriodSeconds: 0 });
  await waitFor(
    "the pool to empty",
    async () => (checker.ledger.boundPods() === 0 ? true : undefined),
    30_000,
  );
}

/** The invariants that must hold at every moment of every test. */
function expectNoViolations(): void {
  expect(checker.ledger.violations).toEqual([]);
  expect(checker.ledger.foreignBinds()).toEqual({ foreign: [], unverifiable: [] });
}

/** Waits until the Scheduled Events of these pods arrived, and returns who bound each. */
async function bindersOf(names: string[]): Promise<Map<string, string>> {
  return waitFor(
    `Scheduled Events of ${names.length} pods`,
    async () => {
      const by = new Map(checker.ledger.binds.map((bind) => [bind.pod, bind.by]));
      return names.every((name) => by.has(name)) ? by : undefined;
    },
    20_000,
  );
}

/** Solo pod names whose group (namespace/pod) the ring gives to the replica. */
function podsOwnedBy(ring: RingOwners, owner: string, prefix: string, count: number): string[] {
  const names: string[] = [];
  for (let i = 0; names.length < count; i++) {
    const name = `${prefix}-${i}`;
    if (ring.ownerOf(groupKey(suite.namespace, name, true).hashKey) === owner) names.push(name);
  }
  return names;
}

describe("sharding", () => {
  it("3 replicas split 30 nodes and schedule 300 pods and gangs: each pod bound once, by its node's owner", async () => {
    await start(1, 2);
    await converged([0, 1, 2]);
    // 30 cpu in all: a shard's groups fit its own nodes even when the ring gives it few of the
    // 30 (moving room between shards is the coordinator's job).
    const solo = Array.from({ length: 150 }, (_, i) => suite.pod(`solo-${i}`, { pool, cpu: "100m" }));
    const gangs = Array.from({ length: 30 }, (_, g) => suite.gang(`gang-${g}`, 5, { pool, cpu: "100m" }));
    await suite.create(...solo, ...gangs);
    const names = [...solo, ...gangs.flat()].map((pod) => pod.metadata?.name as string);
    await suite.waitBound(names, 60_000);
    const binders = await bindersOf(names);
    expectNoViolations();
    expect(checker.ledger.binds.filter((bind) => names.includes(bind.pod))).toHaveLength(300);
    // Every replica took its share; a gang was bound by one replica.
    expect(new Set(binders.values())).toEqual(new Set([identity(0), identity(1), identity(2)]));
    for (let g = 0; g < 30; g++) {
      const members = new Set(Array.from({ length: 5 }, (_, m) => binders.get(`gang-${g}-${m}`)));
      expect(members.size).toBe(1);
    }
    await removeAllPods();
  });

  it("scales 3→5→2 under load: every pod bound once, the ring converges at each step", async () => {
    const running = load("scale");
    await start(3, 4);
    const five = await converged([0, 1, 2, 3, 4]);
    const createdScalingUp = running.created();
    for (const ordinal of [4, 3, 2]) await stop(ordinal);
    const two = await converged([0, 1]);
    expect(two.epoch).toBeGreaterThan(five.epoch);
    const names = await running.stop();
    // Under load at each step: pods arrived while scaling up and while scaling down (how many
    // depends on how fast shards start and stop, not on what is tested).
    expect(createdScalingUp).toBeGreaterThan(0);
    expect(names.length).toBeGreaterThan(createdScalingUp);
    await suite.waitBound(names, 30_000);
    await bindersOf(names);
    expectNoViolations();
    await removeAllPods();
  });

  it("a SIGKILLed replica's nodes and pending pods go to the survivors within the lease and a few seconds", async () => {
    await start(2);
    const before = await converged([0, 1, 2]);
    const running = load("kill");
    await (replicas.get(1) as RunningShard).signal("SIGKILL");
    const killedAt = Date.now();
    replicas.delete(1);
    // Pods the dead replica owned by the ring it died in.
    const orphans = podsOwnedBy(before.ring, identity(1), "orphan", 10);
    await suite.create(...orphans.map((name) => suite.pod(name, { pool, cpu: "100m" })));
    await converged([0, 2], leaseMs + 10_000);
    const convergedMs = Date.now() - killedAt;
    await suite.waitBound(orphans, leaseMs + 10_000);
    const boundMs = Date.now() - killedAt;
    expect(convergedMs).toBeLessThan(leaseMs + 6_000);
    expect(boundMs).toBeLessThan(leaseMs + 8_000);
    const names = await running.stop();
    await suite.waitBound(names, 30_000);
    const binders = await bindersOf([...orphans, ...names]);
    for (const name of orphans) expect([identity(0), identity(2)]).toContain(binders.get(name));
    // The survivors used the dead replica's nodes once their pod watches delivered the pods a
    // quorum read showed there, never on a delay alone.
    const settled = { nodes: 0, delay: 0 };
    for (const ordinal of [0, 2]) {
      const text = await (replicas.get(ordinal) as RunningShard).metrics();
      for (const ended of ["nodes", "delay"] as const)
        settled[ended] += metricValue(text, "sharded_scheduler_handover_settle_duration_seconds_count", {
          ended,
        });
    }
    expect(settled.nodes).toBeGreaterThan(0);
    expect(settled.delay).toBe(0);
    expectNoViolations();
    await removeAllPods();
  });

  it("a replica stopped past its lease binds nothing onto nodes it lost when it wakes", async () => {
    await start(1);
    const before = await converged([0, 1, 2]);
    const stalled = replicas.get(2) as RunningShard;
    // Work the stalled replica will find when it wakes: a gang of 6 with only 5 members yet,
    // and solo pods it owned, created while it sleeps.
    const gangName = podsOwnedBy(before.ring, identity(2), "stall-gang", 1)[0] as string;
    const gang = suite.gang(gangName, 6, { pool, cpu: "100m" });
    await suite.create(...gang.slice(0, 5));
    const leaseWaits = async () =>
      metricValue(await stalled.metrics(), "sharded_scheduler_handover_waits_total", { reason: "lease" });
    const leaseWaitsBefore = await leaseWaits();
    await stalled.signal("SIGSTOP");
    const solo = podsOwnedBy(before.ring, identity(2), "stall-solo", 10);
    await suite.create(...solo.map((name) => suite.pod(name, { pool, cpu: "100m" })));
    const without = await converged([0, 1], leaseMs + 10_000);
    await suite.create(gang[5] as k8s.V1Pod);
    const all = [...solo, ...gang.map((pod) => pod.metadata?.name as string)];
    await suite.waitBound(all, 20_000);
    await stalled.signal("SIGCONT");
    const after = await converged([0, 1, 2], leaseMs + 10_000);
    expect(after.epoch).toBeGreaterThan(without.epoch);
    // More work right after it rejoined, so it binds again under the new ring.
    const fresh = podsOwnedBy(after.ring, identity(2), "after", 5);
    await suite.create(...fresh.map((name) => suite.pod(name, { pool, cpu: "100m" })));
    await suite.waitBound(fresh, 20_000);
    const binders = await bindersOf([...all, ...fresh]);
    // The pods it owned before the stall were bound by the others meanwhile.
    for (const name of all) expect(binders.get(name)).not.toBe(identity(2));
    // It noticed that its lease had lapsed, and every bind it made after waking names an
    // epoch in which it owned the node (foreignBinds checks that for every bind).
    expect(await leaseWaits()).toBeGreaterThan(leaseWaitsBefore);
    expect(
      checker.ledger.binds.filter((bind) => bind.by === identity(2) && fresh.includes(bind.pod)).length,
    ).toBeGreaterThan(0);
    expectNoViolations();
  });
});
