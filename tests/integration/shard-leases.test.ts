/**
 * The shard Leases on the real API server: join, release, expiry confirmed by fresh reads,
 * own-lease fencing, acknowledgments, and compare-and-swap of the ring object.
 */
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../scheduler/src/kube/kube-client.js";
import { ShardLeases } from "../../scheduler/src/sharding/shard-leases.js";
import { createTestNamespace, deleteNamespace, schedulerKubeConfig, testClients } from "../support/kube.js";
import { holdsFor, waitFor } from "../support/wait.js";

const { kc, core } = testClients();
const schedulerName = `leases-${randomBytes(2).toString("hex")}`;
let client: KubeClient;
let namespace = "";
const started: ShardLeases[] = [];

beforeAll(async () => {
  client = await KubeClient.create(schedulerKubeConfig(kc));
  namespace = await createTestNamespace(core, "leases");
});
afterAll(async () => {
  for (const member of started) await member.stop();
  client.close();
  await deleteNamespace(core, namespace);
});

async function join(identity: string, leaseDurationMs = 3_000) {
  const member = new ShardLeases(
    client,
    { namespace, identity, schedulerName, leaseDurationMs, renewIntervalMs: 500 },
    pino({ level: "silent" }),
  );
  started.push(member);
  await member.start();
  return member;
}

const sees = (member: ShardLeases, expected: string[]) =>
  waitFor(
    `members ${expected.join(",")}`,
    async () => (member.liveMembers().join(",") === expected.join(",") ? true : undefined),
    15_000,
  );

describe("ShardLeases", () => {
  it("members see each other join, and a released member is confirmed dead at once", async () => {
    const a = await join("shard-0");
    const b = await join("shard-1");
    await sees(a, ["shard-0", "shard-1"]);
    await sees(b, ["shard-0", "shard-1"]);
    expect(a.holdsLease()).toBe(true);
    expect(a.revalidated).toBe(true);
    await b.stop(true);
    await sees(a, ["shard-0"]);
    expect(a.confirmedDead()).toContain("shard-1");
  });

  it("confirms a member that stops renewing dead only after fresh reads span its lease, and it stops holding it", async () => {
    const a = await join("shard-2");
    const stalled = await join("shard-3", 2_000);
    await sees(a, ["shard-0", "shard-2", "shard-3"]);
    // Stop renewing without releasing, as a SIGSTOPped or partitioned replica would.
    await stalled.stop(false);
    const stoppedAt = Date.now();
    await holdsFor(
      "shard-3 listed while its lease runs",
      async () => {
        expect(a.liveMembers()).toContain("shard-3");
        expect(a.confirmedDead()).not.toContain("shard-3");
      },
      1_000,
    );
    await waitFor(
      "shard-3 confirmed dead",
      async () => (a.confirmedDead().has("shard-3") ? true : undefined),
      10_000,
    );
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1_000);
    expect(a.liveMembers()).not.toContain("shard-3");
    expect(stalled.holdsLease()).toBe(false);
    expect(a.holdsLease()).toBe(true);
  });

  it("publishes acknowledgments that the others read, and never lowers them", async () => {
    const a = await join("shard-4");
    const b = await join("shard-5");
    await a.publishAck(3);
    await a.publishAck(2);
    expect(a.acknowledged).toBe(3);
    await waitFor(
      "shard-4's ack seen",
      async () => (b.peer("shard-4")?.ackedEpoch === 3 ? true : undefined),
      5_000,
    );
  });

  it("changes the ring object by compare-and-swap: of two proposals from the same version, one wins", async () => {
    const a = await join("shard-6");
    const b = await join("shard-7");
    await a.freshRead();
    const base = a.ring;
    expect(
      await a.proposeRing({ epoch: (base?.epoch ?? 0) + 1, members: ["shard-6"], nodeOwners: {} }, base),
    ).toBe(true);
    // b proposes from the version before a's change: refused.
    expect(
      await b.proposeRing({ epoch: (base?.epoch ?? 0) + 1, members: ["shard-7"], nodeOwners: {} }, base),
    ).toBe(false);
    const won = a.ring;
    expect(won?.members).toEqual(["shard-6"]);
    await waitFor(
      "b sees the winner",
      async () => (b.ring?.resourceVersion === won?.resourceVersion ? true : undefined),
      5_000,
    );
    expect(
      await b.proposeRing(
        { epoch: (won?.epoch ?? 0) + 1, members: ["shard-6", "shard-7"], nodeOwners: { n: "shard-7" } },
        b.ring,
      ),
    ).toBe(true);
    await waitFor(
      "a sees b's ring",
      async () => (a.ring?.nodeOwners.n === "shard-7" ? true : undefined),
      5_000,
    );
  });

  it("revalidates after regaining its lease even when the fresh read it asked for fails", async () => {
    // The second fresh read (the one after the first renewal; the informer lists with limit=) fails once.
    let lists = 0;
    const flaky = Object.create(client) as KubeClient;
    flaky.must = async <T>(method: string, path: string, body?: unknown, contentType?: string) => {
      if (method === "GET" && path.includes("labelSelector") && !path.includes("limit=") && ++lists === 2)
        throw new Error("injected failure");
      return client.must<T>(method, path, body, contentType);
    };
    const member = new ShardLeases(
      flaky,
      { namespace, identity: "shard-9", schedulerName, leaseDurationMs: 3_000, renewIntervalMs: 500 },
      pino({ level: "silent" }),
    );
    started.push(member);
    await member.start();
    await waitFor("shard-9 revalidated", async () => (member.revalidated ? true : undefined), 3_000);
    expect(lists).toBeGreaterThanOrEqual(3);
    expect(member.holdsLease()).toBe(true);
  });
});
