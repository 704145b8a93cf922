import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  coordinatorActivity,
  groupLogTrace,
  preemptionWaitSummary,
  preemptionWaits,
  stuckReports,
  violationLogTrace,
} from "./group-trace.js";

const line = (time: number, msg: string, fields: Record<string, unknown>) =>
  JSON.stringify({ level: 20, time, shard: "x", msg, ...fields });

describe("group trace", () => {
  it("merges the group's lines of every log in time order, keeps the last ones and sums up drops", () => {
    const dir = mkdtempSync(join(tmpdir(), "group-trace-"));
    const group = "group:ns/g";
    writeFileSync(
      join(dir, "shard-0.log"),
      [
        line(1_000, "decision", { group, decision: "unschedulable", epoch: 3 }),
        line(3_000, "decision", { group, decision: "bind", epoch: 3 }),
        line(3_500, "decision", { group: "group:ns/g2", decision: "bind" }),
        "not json mentioning group:ns/g",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "shard-1.log"),
      [
        line(2_000, "not this shard's group; dropped", { group, epoch: 3 }),
        line(2_500, "not this shard's group; dropped", { group, epoch: 4 }),
        line(2_000, "handed off", { group, to: "shard-0" }),
      ].join("\n"),
    );
    writeFileSync(join(dir, "other.txt"), line(1, "decision", { group }));
    expect(groupLogTrace(dir, group, 2)).toEqual([
      "(1 earlier line(s) left out)",
      "00:00:02.000 shard-1: handed off to=shard-0",
      "00:00:03.000 shard-0: decision decision=bind epoch=3",
      "shard-1 dropped it as another shard's 2 time(s), last at 00:00:02.500 (epoch 4)",
    ]);
  });

  it("names the shards whose summaries report the group stuck", () => {
    const summaries = [
      { shard: "shard-0", publishedAt: 10_000, stuck: [{ id: "group:ns/g", since: 4_000 }] },
      { shard: "shard-1", publishedAt: 10_000, stuck: [{ id: "group:ns/other", since: 0 }] },
    ];
    expect(stuckReports(summaries, "group:ns/g")).toEqual(["shard-0 reports it stuck for 6 s"]);
  });

  it("tells what each coordinator last logged, and last said about leadership", () => {
    const dir = mkdtempSync(join(tmpdir(), "group-trace-"));
    writeFileSync(
      join(dir, "coordinator-0.log"),
      [line(1_000, "leading: coordinating the shards", {}), line(2_000, "no relief planned", {})].join("\n"),
    );
    writeFileSync(join(dir, "shard-0.log"), line(3_000, "decision", {}));
    expect(coordinatorActivity(dir)).toEqual([
      'coordinator-0: last "no relief planned" at 00:00:02.000; on leadership "leading: coordinating the shards" at 00:00:01.000',
    ]);
  });

  it("traces a violation by the groups of the pods and the nodes its detail names", () => {
    const dir = mkdtempSync(join(tmpdir(), "group-trace-"));
    writeFileSync(
      join(dir, "shard-0.log"),
      [
        line(1_000, "decision", { group: "group:chaos-1/gang-00136", decision: "bind" }),
        line(2_000, "bind failed", { pod: "chaos-1/gang-00136-r8xct", node: "kwok-node-17" }),
        line(2_500, "decision", { group: "group:chaos-1/gang-00137", node: "kwok-node-170" }),
        line(2_600, "not this shard's group; dropped", { group: "group:chaos-1/gang-00136" }),
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "shard-1.log"),
      [
        line(3_000, "pod not bound", { node: "kwok-node-17" }),
        line(9_000, "long after the violation", { node: "kwok-node-17" }),
      ].join("\n"),
    );
    const detail = "kwok-node-17: cpu 9.5 requested of 8 by chaos-1/gang-00136-r8xct 1.5 bound 19:39:31.346";
    expect(violationLogTrace(dir, detail, 2_500, 2)).toEqual([
      "(1 earlier line(s) left out)",
      "00:00:02.000 shard-0: bind failed pod=chaos-1/gang-00136-r8xct node=kwok-node-17",
      "00:00:03.000 shard-1: pod not bound node=kwok-node-17",
    ]);
    expect(violationLogTrace(dir, "nothing named", 2_500)).toEqual([]);
  });

  it("measures each preemptor from its first preemption to its first bind after it, slowest first", () => {
    const dir = mkdtempSync(join(tmpdir(), "group-trace-"));
    writeFileSync(
      join(dir, "shard-0.log"),
      [
        // g: bound once before (a growing group), preempts at 2 s and 3 s, bound at 9 s by another shard.
        line(1_000, "decision", { group: "group:ns/g", decision: "bind" }),
        line(2_000, "preempting", { group: "group:ns/g" }),
        line(3_000, "preempting", { group: "group:ns/g" }),
        // h: preempts at 4 s, bound at 5 s.
        line(4_000, "preempting", { group: "group:ns/h" }),
        line(5_000, "decision", { group: "group:ns/h", decision: "bind" }),
        // k: preempts at 6 s, never bound.
        line(6_000, "preempting", { group: "group:ns/k" }),
        line(6_500, "decision", { group: "group:ns/k", decision: "preempt" }),
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "shard-1.log"),
      line(9_000, "decision", { group: "group:ns/g", decision: "bind" }),
    );
    const waits = preemptionWaits(dir, 20_000);
    expect(waits.map(({ group, waitMs, boundAt }) => [group, waitMs, boundAt])).toEqual([
      ["group:ns/k", 14_000, undefined],
      ["group:ns/g", 7_000, 9_000],
      ["group:ns/h", 1_000, 5_000],
    ]);
    expect(preemptionWaitSummary(waits)).toBe(
      "3 group(s) preempted; first preemption to first bind: median 7.0 s, p90 14.0 s, slowest 14.0 s (group:ns/k, not bound); 1 not bound by the end",
    );
    expect(preemptionWaitSummary([])).toBe("no group preempted");
  });
});
