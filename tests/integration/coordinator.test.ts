/**
 * The coordinator on the real API server, with 3 shards, 2 coordinator replicas and the run's
 * Redis. Each test gets its own node pool, with nodes chosen by name so the ring gives each
 * shard the room the test needs. An independent watcher checks throughout that no node is
 * overcommitted and no shard binds onto a node it did not own (lends included).
 *
 *   (a) a group its owner cannot fit but another shard can is handed off and bound;
 *   (b) a gang no single shard can fit but the cluster can is bound on nodes lent to its owner,
 *       which go back once it is gone; (b2) a node lent for a group that no longer waits goes
 *       back at once, not after the grace period;
 *   (c) the same when the room must come from preempting lower-priority pods;
 *   (d) a gang nothing can place causes no handoff and no lend;
 *   (e) Redis killed mid-run: shards keep scheduling, handoffs resume after the restart, each
 *       group is handed off exactly once;
 *   (f) the leader killed: the standby takes over within the lease and hands off the next group;
 *   (g) a leader stalled (SIGSTOP) past its lease in the middle of a handoff, then resumed, sends
 *       nothing more once the standby took over: no pod pinned, no Event;
 *   (h) a replica with a wrong Redis password never leads while one with the right one does, and
 *       a leader that loses Redis gives the Lease up.
 */
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { lendNodePatch } from "../../coordinator/src/kube/overrides.js";
import type { CapacitySummary } from "../../scheduler/src/contracts/capacity-summary.js";
import { summaryKey } from "../../scheduler/src/contracts/keys.js";
import { groupKey } from "../../scheduler/src/core/gang/index.js";
import { ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import { InvariantChecker } from "../checker/invariant-checker.js";
import { quantity } from "../checker/quantities.js";
import { freeLoopbackPort, isRunning, signalAndConfirm, startProcess } from "../cluster/local/processes.js";
import { type RunningCoordinator, startCoordinator } from "../support/coordinator.js";
import { metricValue } from "../support/metrics.js";
import { redisUrl } from "../support/redis.js";
import { redisPing } from "../support/redis-ping.js";
import { schedulerSuite } from "../support/suite.js";
import { holdsFor, waitFor } from "../support/wait.js";

const leaseMs = 4_000;
const stuckAfterMs = 1_500;
const lendGraceMs = 8_000;
const shardArgs = [
  `--lease-duration-ms=${leaseMs}`,
  "--lease-renew-ms=1000",
  "--handover-settle-ms=500",
  "--summary-interval-ms=250",
];
const coordinatorArgs = [
  `--lease-duration-ms=${leaseMs}`,
  "--lease-renew-ms=1000",
  `--stuck-after-ms=${stuckAfterMs}`,
  "--cooldown-ms=10000",
  `--lend-grace-ms=${lendGraceMs}`,
  "--interval-ms=250",
];
const suite = schedulerSuite("coordinator", { shardArgs, redis: true });
const coordinators: RunningCoordinator[] = [];
let checker: InvariantChecker;
let ring: ShardRing;
let shards: string[];
let redis: Redis;

const nodeOwnerAnnotation = "sharded-scheduler.io/owner";
const lentToLabel = "sharded-scheduler.io/lent-to";

beforeAll(async () => {
  await Promise.all([1, 2].map((ordinal) => suite.startReplica(ordinal, shardArgs)));
  shards = [0, 1, 2].map((ordinal) => `${suite.id}-${ordinal}`);
  ring = new ShardRing(shards);
  redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  checker = await InvariantChecker.start(suite.clients.kc, {
    namespace: suite.namespace,
    nodeLabelSelector: `suite=${suite.id}`,
    ringLease: { namespace: "default", name: `${suite.id}-ring` },
  });
  for (const suffix of ["a", "b"]) coordinators.push(await suite.startCoordinator(suffix, coordinatorArgs));
  await waitFor("a coordinator leader", async () => ((await leader()) ? true : undefined), 3 * leaseMs);
}, 60_000);

afterAll(() => {
  checker?.stop();
  redis?.disconnect();
});

async function leader(): Promise<RunningCoordinator | undefined> {
  for (const coordinator of coordinators)
    if (coordinator.running() && (await coordinator.isLeader())) return coordinator;
  return undefined;
}

/** Sum of a counter over every coordinator replica that runs (each counts what it did). */
async function coordinatorCount(name: string, labels: Record<string, string> = {}): Promise<number> {
  let total = 0;
  for (const coordinator of coordinators)
    if (coordinator.running()) total += metricValue(await coordinator.metrics(), name, labels);
  return total;
}

/**
 * Creates nodes in a fresh pool, chosen by name so that shard i gets counts[i] of them
 * (the ring hashes node names). Returns each shard's nodes.
 */
async function poolWith(pool: string, counts: number[], options: { cpu?: string } = {}): Promise<string[][]> {
  const chosen: string[][] = shards.map(() => []);
  for (let index = 0; chosen.some((nodes, s) => nodes.length < (counts[s] ?? 0)); index++) {
    const name = suite.nodeName(pool, index);
    const s = shards.indexOf(ring.ownerOf(name) as string);
    if (chosen[s] && chosen[s].length < (counts[s] ?? 0)) {
      await suite.addNodes(pool, 1, { cpu: options.cpu ?? "4" }, index);
      chosen[s].push(name);
    }
  }
  // Every shard sees the nodes (its summary lists them) before the test relies on it.
  await waitFor(
    `pool ${pool} in the shards' ownership`,
    async () => {
      for (const shard of suite.shards) {
        if (metricValue(await shard.metrics(), "sharded_scheduler_ring_epoch") === 0) return undefined;
      }
      return true;
    },
    10_000,
  );
  return chosen;
}

/** A group name the ring gives to shard `owner`. */
function groupOwnedBy(owner: number, prefix: string): string {
  for (let i = 0; ; i++) {
    const name = `${prefix}-${i}`;
    if (ring.ownerOf(groupKey(suite.namespace, name, false).hashKey) === shards[owner]) return name;
  }
}

/**
 * A pod bound by hand to a node (as if placed earlier), taking room there; returns once the
 * node's owner publishes the smaller room, so it cannot have placed a test's pods before it saw it.
 */
async function occupy(name: string, node: string, cpu: string, priorityClass?: string): Promise<void> {
  const pod = suite.pod(name, { pool: "none", cpu, priorityClass, schedulerName: "bound-by-test" });
  (pod.spec as k8s.V1PodSpec).nodeName = node;
  delete (pod.spec as k8s.V1PodSpec).nodeSelector;
  await suite.create(pod);
  const owner = ring.ownerOf(node) as string;
  await waitFor(
    `${owner} to publish ${node} with ${name} on it`,
    async () => {
      const body = await redis.get(summaryKey(suite.id, owner));
      const summary = body ? (JSON.parse(body) as CapacitySummary) : undefined;
      const free = summary?.nodes.find((n) => n.name === node)?.free.cpu;
      if (free !== undefined && free <= 4000 - quantity(cpu) * 1000) return true;
      throw new Error(
        `its summary: ${summary ? JSON.stringify(summary.nodes.map((n) => [n.name, n.free.cpu])) : "none"}`,
      );
    },
    10_000,
  );
}

/** A pod's True condition of this type (the coordinator's Owner and Relief conditions). */
function conditionOf(pod: k8s.V1Pod | undefined, type: "Owner" | "Relief"): k8s.V1PodCondition | undefined {
  return pod?.status?.conditions?.find(
    (c) => c.type === `sharded-scheduler.io/${type}` && c.status === "True",
  );
}

/** The shard a pod's Owner condition names. */
function pinnedTo(pod: k8s.V1Pod | undefined): string | undefined {
  return /^shard=(\S+) epoch=\d+$/.exec(conditionOf(pod, "Owner")?.message ?? "")?.[1];
}

function names(pods: k8s.V1Pod[]): string[] {
  return pods.map((pod) => pod.metadata?.name as string);
}

function expectNoViolations(): void {
  expect(checker.ledger.violations).toEqual([]);
  expect(checker.ledger.foreignBinds()).toEqual({ foreign: [], unverifiable: [] });
}

async function bindersOf(pods: string[]): Promise<Set<string>> {
  return waitFor(
    `Scheduled Events of ${pods.join(", ")}`,
    async () => {
      const by = new Map(checker.ledger.binds.map((bind) => [bind.pod, bind.by]));
      return pods.every((name) => by.has(name))
        ? new Set(pods.map((name) => by.get(name) as string))
        : undefined;
    },
    20_000,
  );
}

async function lentNodes(): Promise<Map<string, string>> {
  const nodes = await suite.core.listNode({ labelSelector: lentToLabel });
  return new Map(
    nodes.items.map((node) => [
      node.metadata?.name as string,
      node.metadata?.labels?.[lentToLabel] as string,
    ]),
  );
}

describe("coordinator", () => {
  it("(a) hands a group its owner cannot fit to a shard that can, and it is bound within seconds", async () => {
    // Shard 0 has two nodes with 2 cpu free each; shards 1 and 2 have two empty nodes each.
    const [own] = await poolWith("a", [2, 2, 2]);
    for (const [i, node] of (own as string[]).entries()) await occupy(`a-fill-${i}`, node, "2");
    const name = groupOwnedBy(0, "a-job");
    const gang = suite.gang(name, 2, { pool: "a", cpu: "3" });
    const handoffsBefore = await coordinatorCount("sharded_scheduler_coordinator_handoffs_total", {
      mode: "free",
    });
    const created = Date.now();
    await suite.create(gang);
    await suite.waitBound(names(gang), 20_000);
    const boundMs = Date.now() - created;
    expect(boundMs).toBeLessThan(stuckAfterMs + 10_000);
    const pods = await suite.pods();
    const owners = new Set(names(gang).map((pod) => pinnedTo(pods.get(pod))));
    expect(owners.size).toBe(1);
    const target = [...owners][0] as string;
    expect([shards[1], shards[2]]).toContain(target);
    expect(await bindersOf(names(gang))).toEqual(new Set([target]));
    for (const pod of names(gang)) {
      const events = await suite.events(pod, "HandedOff");
      expect(events).toHaveLength(1);
      expect(events[0]?.message).toContain(`to shard ${target}`);
    }
    expect(await coordinatorCount("sharded_scheduler_coordinator_handoffs_total", { mode: "free" })).toBe(
      handoffsBefore + 1,
    );
    expectNoViolations();
  });

  it("(b) binds a gang no single shard can fit on nodes lent to its owner, and gives them back after", async () => {
    // One free 4-cpu node per shard; the gang needs three of them.
    await poolWith("b", [1, 1, 1]);
    const name = groupOwnedBy(0, "b-job");
    const gang = suite.gang(name, 3, { pool: "b", cpu: "3500m" });
    const lendsBefore = await coordinatorCount("sharded_scheduler_coordinator_lends_total");
    const returnsBefore = await coordinatorCount("sharded_scheduler_coordinator_returns_total");
    await suite.create(gang);
    await suite.waitBound(names(gang), 30_000);
    expect(await bindersOf(names(gang))).toEqual(new Set([shards[0]]));
    const lent = await lentNodes();
    const ours = [...lent].filter(([node]) => node.startsWith(suite.nodeName("b", 0).replace(/-0$/, "-")));
    expect(ours).toHaveLength(2);
    for (const [, to] of ours) expect(to).toBe(shards[0]);
    for (const pod of names(gang)) expect(await suite.events(pod, "NodesLent")).toHaveLength(1);
    expect(await coordinatorCount("sharded_scheduler_coordinator_lends_total")).toBe(lendsBefore + 2);
    expectNoViolations();
    // Once the gang is gone, the nodes go back to the shards the ring gives them to.
    await suite.deletePods(names(gang));
    await waitFor(
      "the lent nodes to be returned",
      async () => {
        const still = await lentNodes();
        return ours.every(([node]) => !still.has(node)) ? true : undefined;
      },
      lendGraceMs + 15_000,
    );
    // The coordinator counts a return once its patch was answered: a moment after the node shows it.
    await waitFor(
      "the coordinator to count both returns",
      async () => {
        const returns =
          (await coordinatorCount("sharded_scheduler_coordinator_returns_total")) - returnsBefore;
        if (returns !== 2) throw new Error(`${returns} counted`);
        return true;
      },
      5_000,
    );
    for (const [node] of ours) {
      const object = await suite.core.readNode({ name: node });
      expect(object.metadata?.annotations?.[nodeOwnerAnnotation]).toBeUndefined();
    }
  });

  // A lend whose group no member of which waits any more (placed on other nodes, or deleted)
  // holds a node for a group that will not come: it must not take the grace period to go back.
  it("(b2) gives back at once a node lent for a group that no longer waits, well within the grace", async () => {
    const [, theirs] = await poolWith("b2", [1, 1, 1]);
    const node = (theirs as string[])[0] as string;
    const lend = { node, to: shards[0] as string, group: `group:${suite.namespace}/b2-gone`, at: Date.now() };
    await suite.core.patchNode(
      { name: node, body: lendNodePatch(lend) as object },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await waitFor(
      `${node} to be returned`,
      async () => ((await lentNodes()).has(node) ? undefined : true),
      lendGraceMs + 15_000,
    );
    const returnedMs = Date.now() - lend.at;
    expect(returnedMs).toBeLessThan(lendGraceMs - 2_000);
    const object = await suite.core.readNode({ name: node });
    expect(object.metadata?.annotations?.[nodeOwnerAnnotation]).toBeUndefined();
    expectNoViolations();
  });

  // The room a shard holds on a node lent to it (its group running there) can be lent no further:
  // a gang that needs it and room elsewhere goes to that shard, which borrows the rest.
  it("(b3) hands a gang to the shard holding room on a node lent to it, and lends that shard the rest", async () => {
    const [mine, theirs1, theirs2] = (await poolWith("b3", [1, 1, 2])) as [string[], string[], string[]];
    const [held, spare] = theirs2 as [string, string];
    // `held` is lent to shard 1 for a pod that runs there (3 cpu of it left).
    await occupy("b3-run", held, "1");
    const lend = {
      node: held,
      to: shards[1] as string,
      group: `pod:${suite.namespace}/b3-run`,
      at: Date.now(),
    };
    await suite.core.patchNode(
      { name: held, body: lendNodePatch(lend) as object },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await waitFor(
      `shard 1 to publish ${held} as its own`,
      async () => {
        const body = await redis.get(summaryKey(suite.id, shards[1] as string));
        const summary = body ? (JSON.parse(body) as CapacitySummary) : undefined;
        return summary?.nodes.some((n) => n.name === held) ? true : undefined;
      },
      15_000,
    );
    // Four members of 3 cpu: no shard fits them, nor does the owner (shard 0) with what it may
    // borrow (its node, shard 1's free node, shard 2's spare: 3); shard 1 with `held` does (4).
    const name = groupOwnedBy(0, "b3-job");
    const gang = suite.gang(name, 4, { pool: "b3", cpu: "3" });
    await suite.create(gang);
    await suite.waitBound(names(gang), 30_000);
    expect(await bindersOf(names(gang))).toEqual(new Set([shards[1]]));
    const lent = await lentNodes();
    expect(lent.get(held)).toBe(shards[1]);
    expect(lent.get((mine as string[])[0] as string)).toBe(shards[1]);
    expect(lent.get(spare)).toBe(shards[1]);
    expect(lent.has((theirs1 as string[])[0] as string)).toBe(false);
    const [event] = await suite.events(names(gang)[0] as string, "NodesLent");
    expect(event?.message).toContain(
      `to shard ${shards[1]}, which schedules it, handed from shard ${shards[0]}`,
    );
    expectNoViolations();
    await suite.deletePods([...names(gang), "b3-run"]);
  });

  it("(c) lends nodes whose room comes from preempting lower-priority pods", async () => {
    const low = await suite.priorityClass("low", 10);
    const high = await suite.priorityClass("high", 1000);
    const [, theirs1, theirs2] = await poolWith("c", [1, 1, 1]);
    const victims = [`c-low-1`, `c-low-2`];
    await occupy(victims[0] as string, (theirs1 as string[])[0] as string, "3", low);
    await occupy(victims[1] as string, (theirs2 as string[])[0] as string, "3", low);
    const name = groupOwnedBy(0, "c-job");
    const gang = suite.gang(name, 3, { pool: "c", cpu: "3500m", priorityClass: high });
    const before = await coordinatorCount("sharded_scheduler_coordinator_lends_total", { mode: "preempt" });
    await suite.create(gang);
    await suite.waitBound(names(gang), 45_000);
    expect(await bindersOf(names(gang))).toEqual(new Set([shards[0]]));
    expect(await coordinatorCount("sharded_scheduler_coordinator_lends_total", { mode: "preempt" })).toBe(
      before + 2,
    );
    await suite.waitGone(victims, 10_000);
    expectNoViolations();
    await suite.deletePods(names(gang));
  });

  it("(d) leaves a gang nothing can place alone: no handoff, no lend", async () => {
    await poolWith("d", [1, 1, 1]);
    const name = groupOwnedBy(1, "d-job");
    const gang = suite.gang(name, 2, { pool: "d", cpu: "5" });
    const counters = async () => [
      await coordinatorCount("sharded_scheduler_coordinator_handoffs_total"),
      await coordinatorCount("sharded_scheduler_coordinator_lends_total"),
    ];
    const before = await counters();
    await suite.create(gang);
    await suite.waitUnschedulable(names(gang)[0] as string, /cannot be placed as a whole/);
    // Long enough for several coordination rounds after the stuck threshold.
    await holdsFor(
      "no relief for the impossible gang",
      async () => {
        const pods = await suite.pods();
        for (const pod of names(gang)) {
          if (conditionOf(pods.get(pod), "Owner")) throw new Error(`${pod} was handed off`);
          if (pods.get(pod)?.spec?.nodeName) throw new Error(`${pod} was bound`);
        }
        expect(await counters()).toEqual(before);
      },
      stuckAfterMs + 4_000,
    );
    const lead = (await leader()) as RunningCoordinator;
    expect(
      metricValue(await lead.metrics(), "sharded_scheduler_coordinator_stuck_groups"),
    ).toBeGreaterThanOrEqual(1);
    expect(metricValue(await lead.metrics(), "sharded_scheduler_coordinator_fittable_groups")).toBe(0);
    await suite.deletePods(names(gang));
  });

  it("(e) Redis killed mid-run: shards keep scheduling; handoffs resume after the restart, once per group", async () => {
    const [own] = await poolWith("e", [1, 2, 2]);
    await occupy("e-fill", (own as string[])[0] as string, "3");
    await suite.killRedis();
    // A pod its owner can place is bound with Redis down.
    const solo = suite.pod("e-solo", { pool: "e", cpu: "500m" });
    await suite.create(solo);
    await suite.waitBound(["e-solo"], 15_000);
    const gangs = [groupOwnedBy(0, "e-job"), groupOwnedBy(0, "e-job2")].map((name) =>
      suite.gang(name, 2, { pool: "e", cpu: "1500m" }),
    );
    await suite.create(...gangs);
    const all = gangs.flatMap(names);
    // No handoff without Redis: the groups wait, Unschedulable on their owner.
    await suite.staysPending(all, stuckAfterMs + 2_000);
    await suite.startRedis();
    await suite.waitBound(all, 30_000);
    const pods = await suite.pods();
    for (const pod of all) {
      expect(await suite.events(pod, "HandedOff")).toHaveLength(1);
      expect(conditionOf(pods.get(pod), "Relief")?.message).toMatch(/^attempts=1 at=\d+$/);
    }
    expectNoViolations();
  });

  it("(f) the leader killed: the standby takes over within the lease and hands off the next group", async () => {
    const old = (await leader()) as RunningCoordinator;
    const standby = coordinators.find((c) => c !== old) as RunningCoordinator;
    await old.signal("SIGKILL");
    const killedAt = Date.now();
    await waitFor(
      "the standby to lead",
      async () => ((await standby.isLeader()) ? true : undefined),
      3 * leaseMs,
    );
    expect(Date.now() - killedAt).toBeLessThan(leaseMs + 3_000);
    const [own] = await poolWith("f", [1, 1, 1]);
    await occupy("f-fill", (own as string[])[0] as string, "3");
    const gang = suite.gang(groupOwnedBy(0, "f-job"), 2, { pool: "f", cpu: "1500m" });
    const before = metricValue(await standby.metrics(), "sharded_scheduler_coordinator_handoffs_total");
    await suite.create(gang);
    await suite.waitBound(names(gang), 20_000);
    expect(metricValue(await standby.metrics(), "sharded_scheduler_coordinator_handoffs_total")).toBe(
      before + 1,
    );
    expectNoViolations();
  });
});

describe("coordinator leadership", () => {
  /** The leader Lease as the API server has it. */
  async function leaseHolder(schedulerName: string): Promise<string | undefined> {
    const lease = await suite.coordination
      .readNamespacedLease({ name: `${schedulerName}-coordinator`, namespace: "default" })
      .catch(() => undefined);
    return lease?.spec?.holderIdentity ?? undefined;
  }

  /** Events about the pods written by one coordinator replica. */
  async function eventsBy(identity: string, pods: string[]): Promise<k8s.CoreV1Event[]> {
    const list = await suite.core.listNamespacedEvent({ namespace: suite.namespace });
    return list.items.filter(
      (event) => event.reportingInstance === identity && pods.includes(event.involvedObject.name as string),
    );
  }

  it("(g) a leader stalled past its lease mid-handoff sends nothing more once the standby leads", async () => {
    // This test chooses the leader: the replicas of the tests above go.
    for (const coordinator of coordinators) if (coordinator.running()) await coordinator.stop();
    // A slow write client (4 requests/s): the handoff below is still being written when stalled.
    const stalled = await suite.startCoordinator("g-stalled", [...coordinatorArgs, "--qps=4", "--burst=1"]);
    coordinators.push(stalled);
    await waitFor(
      "the g-stalled replica to lead",
      async () => ((await stalled.isLeader()) ? true : undefined),
      3 * leaseMs,
    );
    // The standby relieves nothing (its stuck threshold is an hour): whatever changes is the stalled one's doing.
    const standby = await suite.startCoordinator("g-standby", [
      ...coordinatorArgs,
      "--stuck-after-ms=3600000",
    ]);
    coordinators.push(standby);
    const [own] = await poolWith("g", [1, 1, 1]);
    await occupy("g-fill", (own as string[])[0] as string, "3900m");
    const gang = suite.gang(groupOwnedBy(0, "g-job"), 12, { pool: "g", cpu: "100m" });
    const members = names(gang);
    const pinned = async () => {
      const pods = await suite.pods();
      return members.filter((pod) => conditionOf(pods.get(pod), "Owner") !== undefined);
    };
    await suite.create(gang);
    await waitFor(
      "the handoff to start",
      async () => ((await pinned()).length > 0 ? true : undefined),
      30_000,
      50,
    );
    await stalled.signal("SIGSTOP");
    try {
      await waitFor(
        "the standby to lead",
        async () => ((await leaseHolder(suite.id)) === standby.identity ? true : undefined),
        3 * leaseMs,
      );
    } catch (error) {
      await stalled.signal("SIGCONT");
      throw error;
    }
    const pinnedAtTakeover = (await pinned()).length;
    const eventsAtTakeover = (await eventsBy(stalled.identity, members)).length;
    await stalled.signal("SIGCONT");
    // Long enough for everything it had queued to go out at 4/s: the rest of the patches and 12 Events.
    await holdsFor(
      "the stalled replica to write nothing more",
      async () => {
        expect((await pinned()).length).toBe(pinnedAtTakeover);
        expect((await eventsBy(stalled.identity, members)).length).toBe(eventsAtTakeover);
      },
      8_000,
    );
    const metrics = await stalled.metrics();
    expect(metricValue(metrics, "sharded_scheduler_coordinator_leader")).toBe(0);
    // It had writes left to send, and withheld them.
    expect(metricValue(metrics, "sharded_scheduler_coordinator_writes_withheld_total")).toBeGreaterThan(0);
    expect(await leaseHolder(suite.id)).toBe(standby.identity);
    await suite.deletePods(members);
  }, 120_000);

  it("(h) a replica with a wrong Redis password never leads; a leader that loses Redis gives the Lease up", async () => {
    // A Redis of its own, with a password.
    const port = await freeLoopbackPort();
    const password = "right-password";
    const dir = inject("clusterDir") || "/tmp";
    const redisServer = startProcess(
      `redis-${suite.id}-h`,
      "/usr/bin/redis-server",
      [
        "--bind",
        "127.0.0.1",
        "--port",
        String(port),
        "--requirepass",
        password,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      join(dir, `redis-${suite.id}-h.log`),
    );
    const url = `redis://127.0.0.1:${port}`;
    const replicas: RunningCoordinator[] = [];
    const schedulerName = `${suite.id}-h`;
    const args = (pw: string) => [...coordinatorArgs, `--redis-password=${pw}`, "--redis-grace-ms=3000"];
    try {
      await waitFor(
        "the password Redis to answer",
        async () => ((await redisPing(`redis://:${password}@127.0.0.1:${port}`)).ok ? true : undefined),
        10_000,
      );
      const wrong = await startCoordinator({
        schedulerName,
        identity: `${schedulerName}-wrong`,
        redisUrl: url,
        args: args("wrong-password"),
      });
      replicas.push(wrong);
      // Alone, it does not take the Lease: three lease durations.
      await holdsFor(
        "the replica with the wrong password not to lead",
        async () => {
          expect(await wrong.isLeader()).toBe(false);
          expect(await leaseHolder(schedulerName)).not.toBe(wrong.identity);
        },
        3 * leaseMs,
      );
      const right = await startCoordinator({
        schedulerName,
        identity: `${schedulerName}-right`,
        redisUrl: url,
        args: args(password),
      });
      replicas.push(right);
      await waitFor(
        "the replica with the right password to lead",
        async () => ((await right.isLeader()) ? true : undefined),
        3 * leaseMs,
      );
      expect(await leaseHolder(schedulerName)).toBe(right.identity);
      expect(await wrong.isLeader()).toBe(false);
      // Redis gone: the leader gives the Lease up within the grace, and nobody leads without Redis.
      await signalAndConfirm(redisServer, "SIGKILL");
      const lostAt = Date.now();
      await waitFor(
        "the leader to give the Lease up",
        async () => (!(await leaseHolder(schedulerName)) ? true : undefined),
        3_000 + 3 * leaseMs,
      );
      expect(Date.now() - lostAt).toBeLessThan(3_000 + 2 * leaseMs);
      expect(await right.isLeader()).toBe(false);
      expect(await wrong.isLeader()).toBe(false);
    } finally {
      for (const replica of replicas) await replica.stop();
      if (isRunning(redisServer)) await signalAndConfirm(redisServer, "SIGKILL");
      await suite.coordination
        .deleteNamespacedLease({ name: `${schedulerName}-coordinator`, namespace: "default" })
        .catch(() => undefined);
    }
  }, 120_000);
});
