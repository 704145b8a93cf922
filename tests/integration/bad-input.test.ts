/**
 * Malformed or impossible pods: each is told why it waits (PodScheduled=False and a Warning
 * Event), and none of them disturbs the shard, which keeps running and scheduling.
 */
import * as k8s from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { metricValue } from "../support/shard.js";
import { minMemberAnnotation, scheduledCondition, schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = schedulerSuite("bad-input");

beforeAll(async () => {
  await suite.addNodes("bad", 1);
});

/** Waits for the Warning Event the shard writes about an invalid pod group. */
async function invalidPodGroupEvent(name: string): Promise<k8s.CoreV1Event> {
  return waitFor(
    `a Warning InvalidPodGroup Event about ${name}`,
    async () => (await suite.events(name, "InvalidPodGroup")).find((event) => event.type === "Warning"),
    15_000,
  );
}

describe("invalid pod groups", () => {
  it.each(["abc", "0", "-1", "1.5", ""])(
    'min-member "%s" is reported, naming the annotation',
    async (value) => {
      const name = `min-member-${["abc", "0", "-1", "1.5", ""].indexOf(value)}`;
      await suite.create(suite.pod(name, { pool: "bad", cpu: "100m", group: name, minMember: value }));
      const message = await suite.waitUnschedulable(name, /min-member/);
      expect(message).toContain(`${minMemberAnnotation}="${value}" is not a positive integer`);
      expect((await invalidPodGroupEvent(name)).message).toBe(message);
    },
  );

  it("min-member without a pod group is reported", async () => {
    await suite.create(suite.pod("min-member-alone", { pool: "bad", cpu: "100m", minMember: 3 }));
    const message = await suite.waitUnschedulable("min-member-alone", /needs a pod group/);
    expect(message).toContain(minMemberAnnotation);
    await invalidPodGroupEvent("min-member-alone");
  });

  it("group keys that disagree are reported, naming both", async () => {
    await suite.create(
      suite.pod("two-groups", {
        pool: "bad",
        cpu: "100m",
        annotations: { "pod-group": "left" },
        labels: { "scheduling.x-k8s.io/pod-group": "right" },
      }),
    );
    const message = await suite.waitUnschedulable("two-groups", /disagree/);
    expect(message).toContain('annotation pod-group="left"');
    expect(message).toContain('label scheduling.x-k8s.io/pod-group="right"');
    await invalidPodGroupEvent("two-groups");
  });

  it("an empty group name is reported", async () => {
    await suite.create(
      suite.pod("empty-group", { pool: "bad", cpu: "100m", annotations: { "pod-group": "" } }),
    );
    expect(await suite.waitUnschedulable("empty-group", /empty/)).toContain("pod-group");
    await invalidPodGroupEvent("empty-group");
  });

  it("a pod whose annotation is fixed is scheduled", async () => {
    await suite.create(
      suite.pod("fixed-later", { pool: "bad", cpu: "100m", group: "fixed-later", minMember: "x" }),
    );
    await suite.waitUnschedulable("fixed-later", /min-member/);
    await suite.core.patchNamespacedPod(
      {
        name: "fixed-later",
        namespace: suite.namespace,
        body: { metadata: { annotations: { [minMemberAnnotation]: "1" } } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await suite.waitBound(["fixed-later"]);
  });

  it("members that disagree on min-member are reported", async () => {
    await suite.create(
      suite.pod("split-0", { pool: "bad", cpu: "100m", group: "split", minMember: 2 }),
      suite.pod("split-1", { pool: "bad", cpu: "100m", group: "split", minMember: 3 }),
    );
    for (const name of ["split-0", "split-1"]) {
      const message = await suite.waitUnschedulable(name, /disagree/);
      expect(message).toMatch(
        new RegExp(
          `members of pod group ${suite.namespace}/split disagree on ${minMemberAnnotation} \\((2, 3|3, 2)\\)`,
        ),
      );
      await invalidPodGroupEvent(name);
    }
  });

  it("members that name different schedulers are reported to ours", async () => {
    // The other scheduler's member can go nowhere, so it stays a pending member of the group.
    await suite.create(
      suite.pod("mixed-theirs", {
        pool: "nowhere",
        cpu: "100m",
        group: "mixed",
        schedulerName: "default-scheduler",
      }),
    );
    await suite.create(suite.pod("mixed-ours", { pool: "bad", cpu: "100m", group: "mixed" }));
    const message = await suite.waitUnschedulable("mixed-ours", /different schedulers/);
    expect(message).toContain(
      `members of pod group ${suite.namespace}/mixed name different schedulers (default-scheduler)`,
    );
    await invalidPodGroupEvent("mixed-ours");
    await suite.staysPending(["mixed-ours"], 2_000);
  });
});

describe("impossible requests", () => {
  it("requests larger than any node are Unschedulable with Insufficient", async () => {
    await suite.create(
      suite.pod("huge", { pool: "bad", cpu: "1000", memory: "100Ti" }),
      suite.pod("wants-gpu", { pool: "bad", cpu: "100m", gpus: 1 }),
    );
    const message = await suite.waitUnschedulable("huge", /Insufficient/);
    expect(message).toMatch(
      /^0\/\d+ nodes are available: (.+, )?1 Insufficient cpu, 1 Insufficient memory[,.]/,
    );
    await suite.waitUnschedulable("wants-gpu", /1 Insufficient nvidia\.com\/gpu/);
  });

  it("a node affinity no node can satisfy (Gt with a non-integer) is Unschedulable", async () => {
    await suite.create(
      suite.pod("bad-affinity", {
        pool: "bad",
        cpu: "100m",
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "Gt", values: ["abc"] }] }],
            },
          },
        },
      }),
    );
    await suite.waitUnschedulable("bad-affinity", /didn't match Pod's node affinity\/selector/);
  });
});

describe("afterwards", () => {
  it("the shard is still alive and scheduling", async () => {
    expect(suite.shard.running()).toBe(true);
    expect((await suite.shard.get("/healthz")).status).toBe(200);
    expect((await suite.shard.get("/readyz")).status).toBe(200);
    await suite.create(suite.pod("still-works", { pool: "bad", cpu: "100m" }));
    await suite.waitBound(["still-works"]);
  });

  it("counts the pods it will not schedule in sharded_scheduler_invalid_pods", async () => {
    const pods = [...(await suite.pods()).values()];
    const invalid = pods.filter((pod) => scheduledCondition(pod)?.message?.startsWith("invalid pod group:"));
    expect(invalid.length).toBeGreaterThanOrEqual(8);
    expect(metricValue(await suite.shard.metrics(), "sharded_scheduler_invalid_pods")).toBe(invalid.length);
  });
});
