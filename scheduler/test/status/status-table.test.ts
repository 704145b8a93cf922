/** The status report as text, and the command's one-line failures. */
import { describe, expect, it } from "vitest";
import type { StatusReport } from "../../src/status/cluster-status.js";
import { runStatusCommand } from "../../src/status/status-command.js";
import { duration, renderStatus } from "../../src/status/status-table.js";

const report: StatusReport = {
  schedulerName: "sharded-scheduler",
  namespace: "default",
  generatedAt: "2026-11-23T12:00:00.000Z",
  ring: { epoch: 7, members: ["sharded-scheduler-0", "sharded-scheduler-1"], lentNodes: 1 },
  nodes: 20,
  shards: [
    {
      name: "sharded-scheduler-0",
      holder: "sharded-scheduler-0",
      state: "live",
      leaseAgeMs: 1_200,
      leaseDurationMs: 10_000,
      ackedEpoch: 7,
      ringMember: true,
      lagging: false,
      nodes: 11,
      borrowedNodes: 1,
      lentNodes: 0,
      pendingGroups: 1,
      pendingPods: 3,
    },
    {
      name: "sharded-scheduler-1",
      holder: "sharded-scheduler-1",
      state: "expired",
      leaseAgeMs: 42_000,
      leaseDurationMs: 10_000,
      ackedEpoch: 6,
      ringMember: true,
      lagging: true,
      nodes: 9,
      borrowedNodes: 0,
      lentNodes: 1,
      pendingGroups: 0,
      pendingPods: 0,
    },
  ],
  coordinator: {
    holder: "coordinator-0",
    renewAgeMs: 1_500,
    leadingForMs: 312_000,
    leaseDurationMs: 10_000,
    expired: false,
    transitions: 2,
  },
  pendingGroups: [
    {
      group: "ml/train",
      solo: false,
      hashedBy: null,
      owner: "sharded-scheduler-0",
      handedTo: "sharded-scheduler-0",
      pendingPods: 3,
      minMember: 3,
      waitingMs: 95_000,
      why: "0/20 nodes are available: 20 Insufficient cpu.",
    },
    {
      group: "ml/web-7d9f-abcde",
      solo: true,
      hashedBy: "ReplicaSet/web-7d9f",
      owner: "sharded-scheduler-1",
      handedTo: null,
      pendingPods: 1,
      minMember: null,
      waitingMs: 5_000,
      why: null,
    },
  ],
  recentEvents: [
    {
      at: "2026-11-23T11:59:55.000Z",
      ageMs: 5_000,
      reason: "HandedOff",
      message: "pod group ml/train handed from shard sharded-scheduler-1 to shard sharded-scheduler-0",
      pods: 3,
    },
  ],
  warnings: ["sharded-scheduler-1 (expired) adopted ring epoch 6 of 7"],
};

describe("renderStatus", () => {
  const text = renderStatus(report);
  const lines = text.split("\n");

  it("heads with the scheduler, the ring and the coordinator leader", () => {
    expect(lines[0]).toBe(
      "scheduler sharded-scheduler, namespace default: 2 shards, ring epoch 7 (2 members, 1 nodes lent), 20 nodes",
    );
    expect(lines[1]).toBe(
      "coordinator leader: coordinator-0 (renewed 1.5s ago, leading for 5m12s, 2 transitions)",
    );
  });

  it("has a row a shard, columns aligned, a lagging epoch marked", () => {
    const header = lines.find((l) => l.startsWith("SHARD")) as string;
    const rows = lines.filter((l) => l.startsWith("sharded-scheduler-"));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^sharded-scheduler-0 +live +1\.2s +7 +11 +\+1\/-0 +1 +3$/);
    expect(rows[1]).toMatch(/^sharded-scheduler-1 +expired +42s +6 \(lags\) +9 +\+0\/-1 +0 +0$/);
    for (const column of ["STATE", "NODES", "PENDING PODS"])
      expect(rows.every((row) => row[header.indexOf(column) - 1] === " ")).toBe(true);
  });

  it("lists pending groups and recent handoffs, then the warnings", () => {
    expect(text).toContain("PENDING GROUPS: 2, oldest first");
    expect(text).toMatch(
      /ml\/train \(gang\) +sharded-scheduler-0 \(pinned\) +3\/3 +1m35s +0\/20 nodes are available/,
    );
    // A pod that hashes by its controller names it.
    expect(text).toMatch(/ml\/web-7d9f-abcde \(by ReplicaSet\/web-7d9f\) +sharded-scheduler-1 +1 /);
    expect(text).toMatch(
      /RECENT HANDOFFS AND LENDS: last 1\nAGE +REASON +PODS +MESSAGE\n5\.0s +HandedOff +3 +pod group/,
    );
    expect(
      text.trimEnd().endsWith("WARNINGS\n  ! sharded-scheduler-1 (expired) adopted ring epoch 6 of 7"),
    ).toBe(true);
  });

  it("shows each shard's domains when the ring lists them", () => {
    const racked = renderStatus({
      ...report,
      ring: {
        ...(report.ring as NonNullable<StatusReport["ring"]>),
        domains: { key: "topology.kubernetes.io/rack", count: 3, nodes: 12 },
      },
      shards: report.shards.map((shard, i) => ({ ...shard, domains: i === 0 ? ["r1", "r3"] : ["r2"] })),
    });
    expect(racked).toContain("1 nodes lent, 3 racks whole per shard by topology.kubernetes.io/rack)");
    const header = racked.split("\n").find((line) => line.startsWith("SHARD")) ?? "";
    expect(header).toMatch(/LENT IN\/OUT +RACKS +PENDING GROUPS/);
    expect(racked).toContain("2: r1,r3");
    expect(renderStatus(report)).not.toContain("RACKS");
  });

  it("says when there is no leader, no pending group and nothing moved", () => {
    const quiet = renderStatus({
      ...report,
      coordinator: null,
      pendingGroups: [],
      recentEvents: [],
      warnings: [],
    });
    expect(quiet).toContain("coordinator leader: none (no Lease sharded-scheduler-coordinator)");
    expect(quiet).toContain("PENDING GROUPS: 0\n");
    expect(quiet).toContain("RECENT HANDOFFS AND LENDS: none\n");
    expect(quiet).not.toContain("WARNINGS");
  });

  it("cuts the pending groups at the limit", () => {
    const many = { ...report, pendingGroups: Array.from({ length: 4 }, () => report.pendingGroups[0]) };
    const text = renderStatus(many as StatusReport, { pendingGroups: 2, messageWidth: 20 });
    expect(text).toContain("… and 2 more");
    expect(text).toContain("0/20 nodes are avai…");
  });
});

describe("duration", () => {
  it("is short and readable", () => {
    expect([850, 9_949, 42_000, 312_000, 11_100_000, 200_000_000].map(duration)).toEqual([
      "0.8s",
      "9.9s",
      "42s",
      "5m12s",
      "3h05m",
      "2d7h",
    ]);
    expect(duration(null)).toBe("-");
  });
});

describe("runStatusCommand failures", () => {
  async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
    let out = "";
    let err = "";
    const code = await runStatusCommand(
      argv,
      { write: (t: string) => (out += t) },
      { write: (t: string) => (err += t) },
      env,
    );
    return { code, out, err };
  }

  const help = "(see sharded-scheduler status --help)";

  it("without a kubeconfig: one line, exit 2", async () => {
    expect(await run([], { HOME: "/nonexistent" })).toEqual({
      code: 2,
      out: "",
      err: `sharded-scheduler status: no kubeconfig: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config (or run in a cluster) ${help}\n`,
    });
  });

  it("a missing kubeconfig file or a bad flag: one line, exit 2", async () => {
    const missing = await run(["--kubeconfig=/nonexistent/kubeconfig"]);
    expect(missing).toMatchObject({
      code: 2,
      err: `sharded-scheduler status: --kubeconfig /nonexistent/kubeconfig: no such file ${help}\n`,
    });
    const bad = await run(["--limit=0"], { KUBECONFIG: "/x" });
    expect(bad).toMatchObject({
      code: 2,
      err: `sharded-scheduler status: --limit (STATUS_LIMIT) must be an integer 1-1000, got "0" ${help}\n`,
    });
  });

  it("--help prints the flags", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const flag of ["--kubeconfig", "--context", "--namespace", "--scheduler-name", "--limit", "--json"])
      expect(help.out).toContain(flag);
  });
});
