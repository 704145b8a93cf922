/**
 * A coordinator round over input it cannot use: a shard's capacity summary in Redis that is
 * malformed is skipped (logged once, counted) and the round goes on with the other shards'; a
 * malformed ring Lease skips the round without failing it. Stubs stand in for the API server,
 * Redis, the ledger and the leader election.
 */
import type { CapacitySummary } from "@sharded-scheduler/scheduler/contracts";
import type { EventRecorder, KubeClient } from "@sharded-scheduler/scheduler/kube";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { loadCoordinatorConfig } from "../src/config.js";
import { Coordinator } from "../src/coordinator.js";
import type { LeaderTicket } from "../src/core/leadership.js";
import type { LeaderElection } from "../src/kube/leader-election.js";
import type { ReliefLedger } from "../src/ledger/relief-ledger.js";
import { CoordinatorMetrics } from "../src/metrics.js";

const config = loadCoordinatorConfig(["--scheduler-name=sched", "--stuck-after-ms=60000"], {
  REDIS_URL: "redis://cache:6379",
  POD_NAME: "coordinator-0",
});

const ringLease = (members: string) => ({
  metadata: {
    name: "sched-ring",
    resourceVersion: "5",
    annotations: {
      "sharded-scheduler.io/ring-epoch": "3",
      "sharded-scheduler.io/ring-members": members,
      "sharded-scheduler.io/ring-node-owners": "{}",
    },
  },
});

const goodSummary: CapacitySummary = {
  shard: "s-1",
  epoch: 3,
  publishedAt: 1_000,
  classes: [{ labels: {}, taints: [] }],
  nodes: [{ name: "n1", class: 0, free: { cpu: 1000, pods: 10 }, freeable: [] }],
  stuck: [
    {
      id: "group:ns/job",
      namespace: "ns",
      name: "job",
      solo: false,
      hashKey: "ns/job",
      members: ["job-0"],
      required: 1,
      priority: 0,
      mayPreempt: false,
      since: 900,
      message: "no room",
    },
  ],
};

function coordinatorWith(lease: unknown, summaries: Record<string, string>) {
  const client = {
    call: async () => ({ status: 200, body: lease }),
    must: async () => ({ items: [] }),
  } as unknown as KubeClient;
  const redis = {
    status: "ready",
    mget: async (keys: string[]) => keys.map((key) => summaries[key.slice(key.lastIndexOf(":") + 1)] ?? null),
  } as unknown as Redis;
  const metrics = new CoordinatorMetrics();
  const logged: { msg: string; name?: string; reason?: string }[] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => logged.push(JSON.parse(line)) });
  const coordinator = new Coordinator(
    client,
    redis,
    {} as ReliefLedger,
    { isLeader: true } as LeaderElection,
    { record: () => undefined } as unknown as EventRecorder,
    config,
    metrics,
    log,
  );
  const counted = async (kind: string) =>
    (await metrics.invalidObjects.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
  const stuckGroups = async () => (await metrics.stuckGroups.get()).values[0]?.value;
  return { coordinator, logged, counted, stuckGroups };
}

/** A leadership that never lapses: these tests are about what the round reads. */
const leading: LeaderTicket = { term: 1, valid: () => true };

describe("coordinator round with malformed input", () => {
  it.each([
    ["not JSON", "{"],
    ["stuck reports that are not a list", JSON.stringify({ ...goodSummary, shard: "s-0", stuck: null })],
    [
      "a stuck report without members",
      JSON.stringify({
        ...goodSummary,
        shard: "s-0",
        stuck: [{ ...goodSummary.stuck[0], members: undefined }],
      }),
    ],
    ["nodes that are not a list", JSON.stringify({ ...goodSummary, shard: "s-0", nodes: { n: 1 } })],
    [
      "a node of no class",
      JSON.stringify({ ...goodSummary, shard: "s-0", stuck: [], nodes: [{ name: "n", class: 9 }] }),
    ],
    ["__proto__ as the summary", '{"__proto__":{"shard":"s-0"}}'],
  ])("skips a summary with %s and goes on with the other shards'", async (_, bad) => {
    const { coordinator, logged, counted, stuckGroups } = coordinatorWith(ringLease("s-0,s-1"), {
      "s-0": bad,
      "s-1": JSON.stringify(goodSummary),
    });
    await coordinator.round(2_000, leading);
    await coordinator.round(2_250, leading);
    // The good summary's stuck group is tracked: the round went on past the bad one.
    expect(await stuckGroups()).toBe(1);
    expect(await counted("capacity-summary")).toBe(1);
    const skipped = logged.filter((line) => line.msg === "skipping an invalid object");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.name).toBe("sharded-scheduler:{sched}:capacity:s-0");
  });

  it.each(["__proto__,s-1", "s-0,garbage!"])(
    "skips the round on ring members %s without failing",
    async (members) => {
      const { coordinator, logged, counted, stuckGroups } = coordinatorWith(ringLease(members), {
        "s-1": JSON.stringify(goodSummary),
      });
      await coordinator.round(2_000, leading);
      expect(await counted("ring-lease")).toBe(1);
      expect(await stuckGroups()).toBe(0);
      expect(logged.filter((line) => line.msg === "skipping an invalid object")).toHaveLength(1);
    },
  );
});
