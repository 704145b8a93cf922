/**
 * Pods the shard must not count as members ready to run: a member with scheduling gates left
 * (as Kueue creates every queued pod) holds its whole gang back and is never bound, until its
 * last gate is removed; a member bound to a node that does not exist runs nowhere; a group name
 * with surrounding whitespace is refused rather than read as a second group.
 */
import * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { metricValue } from "../support/shard.js";
import { scheduledCondition, schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = schedulerSuite("gates");

beforeAll(async () => {
  await Promise.all([suite.addNodes("gated", 3), suite.addNodes("orphan", 1), suite.addNodes("keys", 1)]);
});

const gate = "kueue.x-k8s.io/admission";

async function condition(name: string): Promise<k8s.V1PodCondition | undefined> {
  return scheduledCondition(await suite.core.readNamespacedPod({ name, namespace: suite.namespace }));
}

describe("scheduling gates", () => {
  it("holds a gang of 3 back while one member is gated, sends no bind for it, and binds all 3 once the gate goes", async () => {
    const members = suite.gang("trio", 3, { pool: "gated", cpu: "1" });
    const gated = members[2] as k8s.V1Pod;
    gated.spec = { ...(gated.spec as k8s.V1PodSpec), schedulingGates: [{ name: gate }] };
    await suite.create(members);

    // The API server says so itself at create; the shard must leave it that way.
    const atCreate = await condition("trio-2");
    expect(atCreate).toMatchObject({ status: "False", reason: "SchedulingGated" });
    await suite.waitUnschedulable("trio-0", /waiting for pod group .*\/trio/);
    await suite.staysPending(["trio-0", "trio-1", "trio-2"], 3_000);
    expect(await condition("trio-2")).toMatchObject({
      status: "False",
      reason: "SchedulingGated",
      message: atCreate?.message,
    });

    const before = await suite.shard.metrics();
    expect(metricValue(before, "sharded_scheduler_pending_pods", { queue: "gated" })).toBe(1);
    expect(metricValue(before, "sharded_scheduler_bind_errors_total")).toBe(0);
    expect(metricValue(before, "sharded_scheduler_schedule_attempts_total", { result: "scheduled" })).toBe(0);
    // The two ungated members wait for the third: kube-scheduler's gated queue holds only the gated one.
    expect(metricValue(before, "sharded_scheduler_pending_pods", { queue: "incomplete" })).toBe(2);

    const ungatedAt = Date.now();
    await suite.core.patchNamespacedPod(
      { name: "trio-2", namespace: suite.namespace, body: { spec: { schedulingGates: [] } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await suite.waitBound(["trio-0", "trio-1", "trio-2"], 10_000);
    expect(Date.now() - ungatedAt).toBeLessThan(5_000);

    const after = await suite.shard.metrics();
    expect(metricValue(after, "sharded_scheduler_pending_pods", { queue: "gated" })).toBe(0);
    expect(metricValue(after, "sharded_scheduler_bind_errors_total")).toBe(0);
    expect(metricValue(after, "sharded_scheduler_schedule_attempts_total", { result: "scheduled" })).toBe(3);
    expect(
      metricValue(after, "sharded_scheduler_podgroup_schedule_attempts_total", { result: "scheduled" }),
    ).toBe(1);
  });
});

describe("a member bound to a node that does not exist", () => {
  it("does not count toward min-member: the gang's other member waits", async () => {
    const orphan = suite.pod("orphan-0", { pool: "orphan", cpu: "1", group: "orphan", minMember: 2 });
    orphan.spec = { ...(orphan.spec as k8s.V1PodSpec), nodeName: suite.nodeName("nowhere", 0) };
    await suite.create(orphan);
    await suite.create(suite.pod("orphan-1", { pool: "orphan", cpu: "1", group: "orphan", minMember: 2 }));
    await suite.waitUnschedulable("orphan-1", /waiting for pod group .*\/orphan/);
    await suite.staysPending(["orphan-1"], 3_000);
  });
});

describe("group keys", () => {
  it("refuses a group name with surrounding whitespace instead of forming a second group", async () => {
    await suite.create(
      suite.pod("web-0", { pool: "keys", cpu: "100m", annotations: { "pod-group": " web" } }),
    );
    const message = await suite.waitUnschedulable("web-0", /whitespace/);
    expect(message).toBe('invalid pod group: annotation pod-group=" web" has surrounding whitespace');
    const event = await waitFor(
      "a Warning InvalidPodGroup Event about web-0",
      async () => (await suite.events("web-0", "InvalidPodGroup")).find((e) => e.type === "Warning"),
      15_000,
    );
    expect(event.message).toBe(message);
  });
});
