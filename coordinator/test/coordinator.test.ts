/**
 * A coordinator round over input it cannot use: a shard's capacity summary in Redis that is
 * malformed is skipped (logged once, counted) and the round goes on with the other shards'; a
 * malformed ring Lease skips the round without failing it. Stubs stand in for the API server,
 * Redis, the ledger and the leader election.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CapacitySummary,
  minMemberAnnotation,
  podGroupAnnotation,
} from "@sharded-scheduler/scheduler/contracts";
import type { Pod } from "@sharded-scheduler/scheduler/core";
import type { EventRecorder, KubeClient } from "@sharded-scheduler/scheduler/kube";
import { ShardRing } from "@sharded-scheduler/scheduler/sharding";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
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

/** The summary of a shard whose one node is full and that reports group `name` (namespace ns) stuck. */
const fullOwnerReporting = (
  owner: string,
  name: string,
  members: readonly string[],
  report: Record<string, unknown> = {},
): string =>
  JSON.stringify({
    ...goodSummary,
    shard: owner,
    nodes: [{ name: `${owner}-n0`, class: 0, free: { cpu: 0, pods: 10 }, freeable: [] }],
    stuck: [
      {
        ...goodSummary.stuck[0],
        id: `group:ns/${name}`,
        name,
        hashKey: `ns/${name}`,
        members,
        required: members.length,
        ...report,
      },
    ],
  });

/** A Redis that holds these summaries, by shard. */
const redisWith = (summaries: Readonly<Record<string, string>>): Redis =>
  ({
    status: "ready",
    mget: async (keys: string[]) => keys.map((key) => summaries[key.slice(key.lastIndexOf(":") + 1)] ?? null),
  }) as unknown as Redis;

function coordinatorWith(lease: unknown, summaries: Record<string, string>) {
  const client = {
    call: async () => ({ status: 200, body: lease }),
    must: async () => ({ items: [] }),
  } as unknown as KubeClient;
  const redis = redisWith(summaries);
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

/**
 * The claims one round of a leading coordinator makes (the ledger refuses each, so nothing is
 * written), over these summaries, the ring of these members and pending pods by name.
 */
async function claimsOfRound(
  summaries: Readonly<Record<string, string>> | ((read: number) => Readonly<Record<string, string>>),
  members: readonly string[],
  podNamed: (name: string) => Pod,
  args: string[] = [],
): Promise<{ kind: string; to: string }[]> {
  const claims: { kind: string; to: string }[] = [];
  const client = {
    call: async (_method: string, path: string) => {
      const name = /\/pods\/([^/]+)$/.exec(path)?.[1];
      return { status: 200, body: name ? podNamed(name) : ringLease(members.join(",")) };
    },
    must: async () => ({ items: [] }),
  } as unknown as KubeClient;
  // Each read of the summaries may see newer ones (the n-th read, from 0).
  let reads = 0;
  const redis = {
    status: "ready",
    mget: async (keys: string[]) =>
      redisWith(typeof summaries === "function" ? summaries(reads++) : summaries).mget(keys),
  } as unknown as Redis;
  const ledger = {
    claim: async (claim: { kind: string; to: string }) => {
      claims.push(claim);
      return { claimed: false, reason: "cooldown", attempts: 1 };
    },
  } as unknown as ReliefLedger;
  const coordinator = new Coordinator(
    client,
    redis,
    ledger,
    { isLeader: true } as LeaderElection,
    { record: () => undefined } as unknown as EventRecorder,
    loadCoordinatorConfig(["--scheduler-name=sched", "--stuck-after-ms=0", ...args], {
      REDIS_URL: "redis://cache:6379",
      POD_NAME: "coordinator-0",
    }),
    new CoordinatorMetrics(),
    pino({ level: "silent" }),
  );
  await coordinator.round(2_000, leading);
  return claims;
}

describe("coordinator round with a profile configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "coordinator-profile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const zoneKey = "topology.kubernetes.io/zone";
  const shards = ["s-0", "s-1", "s-2"];
  // The group's owner by the ring reports it stuck (its one node is full); the two others have
  // the same room, but the first by name has both nodes in one zone.
  const owner = new ShardRing(shards).ownerOf("ns/db") as string;
  const [oneZone, twoZones] = shards.filter((shard) => shard !== owner) as [string, string];
  const members = ["db-0", "db-1", "db-2"];
  const zoned = (shard: string, zones: string[]): CapacitySummary => ({
    shard,
    epoch: 3,
    publishedAt: 1_000,
    classes: zones.map((zone) => ({ labels: { [zoneKey]: zone }, taints: [] })),
    nodes: zones.map((_, i) => ({
      name: `${shard}-n${i}`,
      class: i,
      free: { cpu: 4000, memory: 64 * 2 ** 30, pods: 110 },
      freeable: [],
    })),
    stuck: [],
  });
  const summaries: Record<string, string> = {
    [owner]: fullOwnerReporting(owner, "db", members),
    [oneZone]: JSON.stringify(zoned(oneZone, ["z1", "z1"])),
    [twoZones]: JSON.stringify(zoned(twoZones, ["z1", "z2"])),
  };
  const member = (name: string): Pod => ({
    metadata: {
      namespace: "ns",
      name,
      uid: name,
      labels: { app: "db" },
      annotations: { [podGroupAnnotation]: "db", [minMemberAnnotation]: "3" },
    },
    spec: { schedulerName: "sched", containers: [{ name: "c", resources: { requests: { cpu: "1" } } }] },
    status: { phase: "Pending" },
  });

  /** Where a round of a coordinator started with these flags hands the group off. */
  async function handedTo(args: string[]): Promise<string | undefined> {
    const claims = await claimsOfRound(summaries, shards, member, args);
    expect(claims.map((claim) => claim.kind)).toEqual(["handoff"]);
    return claims[0]?.to;
  }

  it("plans with the shards' profile: a gang MaxPerZone keeps out of one zone goes where there are two", async () => {
    // The default profile: the first of the two shards with room takes the whole gang.
    expect(await handedTo([])).toBe(oneZone);
    const file = join(dir, "profile.yaml");
    writeFileSync(file, "pluginConfig:\n  - name: MaxPerZone\n    args: {labelKey: app, maxPerZone: 2}\n");
    expect(await handedTo([`--profile-config=${file}`])).toBe(twoZones);
  });
});

describe("coordinator round with a stuck report of a routed group", () => {
  // Feasibility-aware routing gave the group to a shard that is not the ring's owner of its
  // hash key (its feasible nodes are that shard's): its stuck report says so.
  const shards = ["s-0", "s-1", "s-2"];
  const ringOwner = new ShardRing(shards).ownerOf("ns/sel") as string;
  const [reporter, roomy] = shards.filter((shard) => shard !== ringOwner) as [string, string];
  const stuckReport = {
    ...goodSummary.stuck[0],
    id: "pod:ns/sel",
    name: "sel",
    solo: true,
    hashKey: "ns/sel",
    members: ["sel"],
  };
  const summaryOf = (shard: string, free: number, extra: Partial<CapacitySummary> = {}) =>
    JSON.stringify({
      ...goodSummary,
      shard,
      nodes: [
        { name: `${shard}-n0`, class: 0, free: { cpu: free, memory: 2 ** 34, pods: 10 }, freeable: [] },
      ],
      stuck: [],
      ...extra,
    });
  const pending: Pod = {
    metadata: { namespace: "ns", name: "sel", uid: "sel" },
    spec: { schedulerName: "sched", containers: [{ name: "c", resources: { requests: { cpu: "1" } } }] },
    status: { phase: "Pending" },
  };

  async function claimsFor(
    report: Record<string, unknown>,
    epoch: number,
    member = pending,
  ): Promise<string[]> {
    const summaries: Record<string, string> = {
      [reporter]: summaryOf(reporter, 0, { epoch, stuck: [report as never] }),
      [roomy]: summaryOf(roomy, 4000),
      [ringOwner]: summaryOf(ringOwner, 0),
    };
    const claims = await claimsOfRound(summaries, shards, () => member);
    return claims.map((claim) => `${claim.kind} ${claim.to}`);
  }

  it("plans relief for the routed owner's report under the ring it read", async () => {
    expect(await claimsFor({ ...stuckReport, routed: true }, 3)).toEqual([`handoff ${roomy}`]);
  });

  // The summary is a few seconds old: its owner may have preempted for the group since (the pod
  // read fresh says so); handing it off now would waste the evictions.
  it("leaves a group alone while a member holds a nomination: its owner preempts for it", async () => {
    const nominated = { ...pending, status: { ...pending.status, nominatedNodeName: `${reporter}-n0` } };
    expect(await claimsFor({ ...stuckReport, routed: true }, 3, nominated)).toEqual([]);
  });

  it("takes a report from a shard the ring does not name, without the mark or under another epoch, for stale", async () => {
    expect(await claimsFor(stuckReport, 3)).toEqual([]);
    expect(await claimsFor({ ...stuckReport, routed: true }, 2)).toEqual([]);
  });
});

describe("coordinator round with a stuck report of a topology gang", () => {
  // The members carry no topology annotation (a native PodGroup's constraint lives in the
  // PodGroup object): only the owner's report tells the coordinator the gang needs one rack.
  const rackKey = "topology.kubernetes.io/rack";
  const shards = ["s-0", "s-1", "s-2"];
  const owner = new ShardRing(shards).ownerOf("ns/train") as string;
  const [split, whole] = shards.filter((shard) => shard !== owner) as [string, string];
  const members = ["train-0", "train-1"];
  /** A shard with one node of 4 cpu free in each of these racks. */
  const racked = (shard: string, racks: string[]): CapacitySummary => ({
    shard,
    epoch: 3,
    publishedAt: 1_000,
    classes: racks.map((rack) => ({ labels: { [rackKey]: rack }, taints: [] })),
    nodes: racks.map((_, i) => ({
      name: `${shard}-n${i}`,
      class: i,
      free: { cpu: 4000, memory: 64 * 2 ** 30, pods: 110 },
      freeable: [],
    })),
    stuck: [],
  });
  const summariesWith = (topology: unknown) => ({
    [owner]: fullOwnerReporting(owner, "train", members, topology === undefined ? {} : { topology }),
    // The roomiest shard has its room in three racks; the other has two nodes in one rack.
    [split]: JSON.stringify(racked(split, ["r1", "r2", "r3"])),
    [whole]: JSON.stringify(racked(whole, ["r4", "r4"])),
  });
  const member = (name: string): Pod => ({
    metadata: { namespace: "ns", name, uid: name, annotations: { [podGroupAnnotation]: "train" } },
    spec: { schedulerName: "sched", containers: [{ name: "c", resources: { requests: { cpu: "3" } } }] },
    status: { phase: "Pending" },
  });

  async function handedTo(topology: unknown): Promise<string[]> {
    const claims = await claimsOfRound(summariesWith(topology), shards, member);
    return claims.map((claim) => `${claim.kind} ${claim.to}`);
  }

  it("hands the gang to the shard that can place it in one rack, as the report says", async () => {
    expect(await handedTo(undefined)).toEqual([`handoff ${split}`]);
    expect(await handedTo({ required: rackKey, preferred: [] })).toEqual([`handoff ${whole}`]);
  });

  it("skips a report whose topology is not a node label key", async () => {
    expect(await handedTo({ required: "not a key", preferred: [] })).toEqual([]);
  });
});

describe("coordinator round planning a lend", () => {
  // No shard fits the gang alone (two members of 3 cpu; each other shard has one node of 4):
  // the plan lends the owner one node of each.
  const shards = ["s-0", "s-1", "s-2"];
  const owner = new ShardRing(shards).ownerOf("ns/pair") as string;
  const lenders = shards.filter((shard) => shard !== owner) as [string, string];
  const member = (name: string): Pod => ({
    metadata: { namespace: "ns", name, uid: name, annotations: { [podGroupAnnotation]: "pair" } },
    spec: { schedulerName: "sched", containers: [{ name: "c", resources: { requests: { cpu: "3" } } }] },
    status: { phase: "Pending" },
  });
  const summaries = (promisedOn?: string): Record<string, string> => ({
    [owner]: fullOwnerReporting(owner, "pair", ["pair-0", "pair-1"]),
    ...Object.fromEntries(
      lenders.map((shard) => [
        shard,
        JSON.stringify({
          ...goodSummary,
          shard,
          stuck: [],
          nodes: [
            {
              name: `${shard}-n0`,
              class: 0,
              free: { cpu: 4000, memory: 2 ** 34, pods: 10 },
              freeable: [],
              ...(promisedOn === shard ? { nominatedFor: ["group:ns/preemptor"] } : {}),
            },
          ],
        }),
      ]),
    ),
  });

  it("lends the owner a node of each shard", async () => {
    const claims = await claimsOfRound(summaries(), shards, member);
    expect(claims).toEqual([expect.objectContaining({ kind: "lend", to: owner })]);
  });

  // The round read the summaries before a lender's preemption won room on its node; the lender
  // published at once, and the coordinator reads again before it lends.
  it("lends nothing when a node it would lend was promised to a preemptor since the round read", async () => {
    const claims = await claimsOfRound(
      (read) => summaries(read === 0 ? undefined : lenders[0]),
      shards,
      member,
    );
    expect(claims).toEqual([]);
  });
});
