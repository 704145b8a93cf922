/** Shard membership through Leases on the real API server: join, graceful leave, expiry, own-lease fencing. */
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { ShardMembership } from "../../scheduler/src/sharding/shard-membership.js";
import { createTestNamespace, deleteNamespace, testClients } from "../support/kube.js";
import { holdsFor, waitFor } from "../support/wait.js";

const { kc, core } = testClients();
const schedulerName = `membership-${randomBytes(2).toString("hex")}`;
let client: KubeClient;
let namespace = "";
const started: ShardMembership[] = [];

beforeAll(async () => {
  client = await KubeClient.create(kc);
  namespace = await createTestNamespace(core, "membership");
});
afterAll(async () => {
  for (const member of started) await member.stop();
  client.close();
  await deleteNamespace(core, namespace);
});

async function join(identity: string, leaseDurationMs = 3_000) {
  const views: string[][] = [];
  const member = new ShardMembership(
    client,
    { namespace, identity, schedulerName, leaseDurationMs, renewIntervalMs: 500 },
    pino({ level: "silent" }),
    (members) => views.push([...members]),
  );
  started.push(member);
  await member.start();
  return { member, views };
}

const sees = (member: ShardMembership, expected: string[]) =>
  waitFor(
    `members ${expected.join(",")}`,
    async () => (member.liveMembers().join(",") === expected.join(",") ? true : undefined),
    15_000,
  );

describe("ShardMembership", () => {
  it("members see each other join and a graceful leave at once", async () => {
    const a = await join("shard-0");
    const b = await join("shard-1");
    await sees(a.member, ["shard-0", "shard-1"]);
    await sees(b.member, ["shard-0", "shard-1"]);
    expect(a.member.holdsLease()).toBe(true);
    await b.member.stop();
    await sees(a.member, ["shard-0"]);
    expect(a.views.at(-1)).toEqual(["shard-0"]);
  });

  it("drops a member that stops renewing once its lease expires, and that member stops holding it", async () => {
    const a = await join("shard-2");
    const stalled = await join("shard-3", 2_000);
    await sees(a.member, ["shard-0", "shard-2", "shard-3"]);
    // Stop renewing without releasing, as a SIGSTOPped or partitioned replica would.
    await stalled.member.stop(false);
    await holdsFor(
      "shard-3 listed while its lease runs",
      async () => {
        expect(a.member.liveMembers()).toContain("shard-3");
      },
      1_000,
    );
    await sees(a.member, ["shard-0", "shard-2"]);
    expect(stalled.member.holdsLease()).toBe(false);
    expect(a.member.holdsLease()).toBe(true);
  });
});
