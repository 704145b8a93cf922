import type { KubeClient } from "@sharded-scheduler/scheduler/kube";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LeaderElection } from "../../src/kube/leader-election.js";

interface StoredLease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

/** An API server holding one Lease, compare-and-swap on resourceVersion; each request takes `latencyMs` of the test clock. */
class FakeLeaseServer {
  lease: StoredLease | undefined;
  latencyMs = 10;
  readonly writes: { method: string; holder: string | undefined }[] = [];
  private version = 0;

  constructor(readonly clock: { now: number }) {}

  readonly client = {
    call: async (method: string, _path: string, body?: unknown) => {
      this.clock.now += this.latencyMs;
      if (method === "GET")
        return this.lease ? { status: 200, body: structuredClone(this.lease) } : { status: 404, body: {} };
      const lease = structuredClone(body) as StoredLease;
      this.writes.push({ method, holder: lease.spec.holderIdentity });
      if (method === "POST" && this.lease) return { status: 409, body: {} };
      if (method === "PUT" && lease.metadata.resourceVersion !== this.lease?.metadata.resourceVersion)
        return { status: 409, body: {} };
      this.lease = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.version) } };
      return { status: method === "POST" ? 201 : 200, body: structuredClone(this.lease) };
    },
  } as unknown as KubeClient;

  /** Another replica took the Lease over. */
  takenBy(holder: string): void {
    if (!this.lease) throw new Error("no lease");
    this.lease = {
      ...this.lease,
      metadata: { ...this.lease.metadata, resourceVersion: String(++this.version) },
      spec: { ...this.lease.spec, holderIdentity: holder },
    };
  }
}

const options = {
  namespace: "default",
  name: "s-coordinator",
  identity: "coordinator-a",
  leaseDurationMs: 10_000,
  renewIntervalMs: 2_000,
};
const log = pino({ level: "silent" });

function election(server: FakeLeaseServer, mayLead: () => boolean = () => true) {
  const changes: boolean[] = [];
  const le = new LeaderElection(server.client, options, log, {
    now: () => server.clock.now,
    wallClock: () => 1_700_000_000_000 + server.clock.now,
    mayLead,
    onChange: (leading) => changes.push(leading),
  });
  return { le, changes };
}

describe("LeaderElection", () => {
  it("leads from the renewal's send time, and a write decided before the deadline is withheld after it", async () => {
    const server = new FakeLeaseServer({ now: 0 });
    const { le } = election(server);
    await le.tick();
    expect(server.lease?.spec.holderIdentity).toBe("coordinator-a");
    expect(le.isLeader).toBe(true);
    const ticket = le.ticket();
    expect(ticket?.valid()).toBe(true);
    // The renewal was sent at 0: leadership is provable until 10 s - 2 s margin = 8 s.
    server.clock.now = 7_999;
    expect(ticket?.valid()).toBe(true);
    server.clock.now = 8_000;
    expect(le.isLeader).toBe(false);
    expect(ticket?.valid()).toBe(false);
    expect(le.ticket()).toBeUndefined();
  });

  it("does not count a renewal answered later than the margin", async () => {
    const server = new FakeLeaseServer({ now: 0 });
    const { le } = election(server);
    server.latencyMs = 1_500;
    await le.tick();
    expect(server.lease?.spec.holderIdentity).toBe("coordinator-a");
    expect(le.isLeader).toBe(false);
  });

  it("after a stall past the deadline, an old ticket stays void even once it renews again", async () => {
    const server = new FakeLeaseServer({ now: 0 });
    const { le, changes } = election(server);
    await le.tick();
    const ticket = le.ticket();
    server.clock.now = 20_000;
    await le.tick();
    expect(le.isLeader).toBe(true);
    expect(ticket?.valid()).toBe(false);
    expect(le.ticket()?.valid()).toBe(true);
    expect(changes[0]).toBe(true);
  });

  it("stops at the deadline when another replica has taken the Lease", async () => {
    const server = new FakeLeaseServer({ now: 0 });
    const { le } = election(server);
    await le.tick();
    server.takenBy("coordinator-b");
    server.clock.now = 2_000;
    await le.tick();
    expect(server.lease?.spec.holderIdentity).toBe("coordinator-b");
    server.clock.now = 8_000;
    expect(le.isLeader).toBe(false);
  });

  it("never acquires the Lease while it cannot reach Redis", async () => {
    const server = new FakeLeaseServer({ now: 0 });
    const { le } = election(server, () => false);
    for (let i = 0; i < 5; i++) {
      await le.tick();
      server.clock.now += 2_000;
    }
    expect(server.writes).toEqual([]);
    expect(le.isLeader).toBe(false);
  });

  it("gives the Lease up at once when Redis has been unreachable past the bound", async () => {
    const server = new FakeLeaseServer({ now: 0 });
    let redisReachable = true;
    const { le, changes } = election(server, () => redisReachable);
    await le.tick();
    const ticket = le.ticket();
    redisReachable = false;
    server.clock.now = 2_000;
    await le.tick();
    expect(le.isLeader).toBe(false);
    expect(ticket?.valid()).toBe(false);
    expect(server.lease?.spec.holderIdentity).toBe("");
    expect(changes).toEqual([true, false]);
    // No more renewals while Redis stays away.
    const writes = server.writes.length;
    server.clock.now = 4_000;
    await le.tick();
    expect(server.writes.length).toBe(writes);
  });
});
