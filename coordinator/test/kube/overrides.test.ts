/**
 * What the coordinator writes on a relieved group's pods, and reads back: the Owner and Relief
 * conditions (pods/status, which tenants cannot write), never the pods' annotations (which they
 * can). A tenant's annotations neither choose the shard nor reset the relief count.
 */
import type { Pod } from "@sharded-scheduler/scheduler/core";
import { describe, expect, it } from "vitest";
import { podReliefPatch, recordedRelief } from "../../src/kube/overrides.js";

const at = Date.parse("2026-12-04T12:00:00Z");

function member(name: string, annotations: Record<string, string> = {}, conditions: unknown[] = []): Pod {
  return {
    metadata: { name, namespace: "ml", annotations },
    spec: { containers: [] },
    status: {
      phase: "Pending",
      conditions: [
        { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "no room" },
        ...(conditions as { type: string; status: string }[]),
      ],
    },
  } as Pod;
}

/** The status a patch leaves, merged by condition type as the API server does for pods/status. */
function patched(pod: Pod, patch: unknown): Pod {
  const conditions = [...(pod.status?.conditions ?? [])];
  for (const condition of (patch as { status: { conditions: { type: string; status: string }[] } }).status
    .conditions) {
    const i = conditions.findIndex((c) => c.type === condition.type);
    if (i >= 0) conditions[i] = { ...conditions[i], ...condition };
    else conditions.push(condition);
  }
  return { ...pod, status: { ...pod.status, conditions } };
}

describe("pod relief patch", () => {
  it("is a pods/status patch of the Owner and Relief conditions only (no annotation, no other condition)", () => {
    expect(podReliefPatch({ kind: "handoff", owner: "shard-2", attempts: 2, at, epoch: 5 })).toEqual({
      status: {
        conditions: [
          {
            type: "sharded-scheduler.io/Owner",
            status: "True",
            reason: "HandedOff",
            message: "shard=shard-2 epoch=5",
            lastTransitionTime: "2026-12-04T12:00:00.000Z",
          },
          {
            type: "sharded-scheduler.io/Relief",
            status: "True",
            reason: "HandedOff",
            message: `attempts=2 at=${at}`,
            lastTransitionTime: "2026-12-04T12:00:00.000Z",
          },
        ],
      },
    });
    const lend = podReliefPatch({ kind: "lend", owner: "shard-0", attempts: 1, at, epoch: 5 }) as {
      status: { conditions: { reason: string }[] };
    };
    expect(lend.status.conditions.map((c) => c.reason)).toEqual(["NodesLent", "NodesLent"]);
  });

  it("reads back what it wrote, the highest over the members", () => {
    const pods = [
      patched(member("a"), podReliefPatch({ kind: "lend", owner: "shard-1", attempts: 3, at, epoch: 7 })),
      patched(
        member("b"),
        podReliefPatch({ kind: "handoff", owner: "shard-1", attempts: 1, at: at - 60_000, epoch: 4 }),
      ),
      member("c"),
    ];
    expect(recordedRelief(pods)).toEqual({ attempts: 3, at, owner: "shard-1" });
    expect(pods[0]?.status?.conditions?.[0]?.type).toBe("PodScheduled");
  });

  it("ignores a tenant's annotations: no owner, no relief count", () => {
    const forged = member("a", {
      "sharded-scheduler.io/owner": "shard-2",
      "sharded-scheduler.io/relief-attempts": "0",
      "sharded-scheduler.io/relief-at": "0",
    });
    expect(recordedRelief([forged])).toEqual({ attempts: 0, at: 0, owner: undefined });
    const relieved = patched(
      forged,
      podReliefPatch({ kind: "handoff", owner: "shard-1", attempts: 4, at, epoch: 2 }),
    );
    expect(recordedRelief([relieved])).toEqual({ attempts: 4, at, owner: "shard-1" });
  });

  it("reads a malformed Relief condition as no relief", () => {
    const odd = (message: string, status = "True") =>
      member("a", {}, [{ type: "sharded-scheduler.io/Relief", status, reason: "HandedOff", message }]);
    for (const pod of [odd("attempts=x at=1"), odd("attempts=1"), odd("attempts=2 at=5", "False")])
      expect(recordedRelief([pod])).toEqual({ attempts: 0, at: 0, owner: undefined });
  });
});
