/**
 * Priority and gang preemption on pools of 3 nodes (4 cpu) where each pod asks for 3 cpu, so
 * every node fits exactly one pod. Victims are evicted through the Eviction API; KWOK then
 * deletes them at once (stage pod-delete), which frees their node.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type PodOptions, schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = schedulerSuite("preemption");
const priority = { low: "", mid: "", high: "", highNever: "" };
const pools = ["order", "solo", "gang", "whole", "big", "equal", "budget", "never"] as const;

beforeAll(async () => {
  [priority.low, priority.mid, priority.high, priority.highNever] = await Promise.all([
    suite.priorityClass("low", 100),
    suite.priorityClass("mid", 500),
    suite.priorityClass("high", 1000),
    suite.priorityClass("high-never", 1000, "Never"),
  ]);
  await Promise.all([...pools.map((pool) => suite.addNodes(pool, 3)), suite.addNodes("mixed", 4)]);
});

const range = (prefix: string, size: number) => Array.from({ length: size }, (_, i) => `${prefix}-${i}`);

function lowPods(pool: string, options: Partial<PodOptions> = {}) {
  return range(`${pool}-low`, 3).map((name) =>
    suite.pod(name, { pool, cpu: "3", priorityClass: priority.low, ...options }),
  );
}

/** Fills the pool's 3 nodes with one low-priority pod each; returns pod → node. */
async function fillWithLowPods(pool: string, labels?: Record<string, string>) {
  await suite.create(lowPods(pool, { labels }));
  const placements = await suite.waitBound(range(`${pool}-low`, 3));
  expect(new Set(Object.values(placements)).size).toBe(3);
  return placements;
}

async function preemptedEvents(names: string[]) {
  const events = await suite.eventsOfReason("Preempted");
  return events.filter((event) => names.includes(event.involvedObject.name as string));
}

/** The pool's nodes, as a set. */
const nodesOf = (pool: string) => new Set([0, 1, 2].map((i) => suite.nodeName(pool, i)));

describe("priority", () => {
  it("gives the nodes to the high-priority pods when high and low arrive together", async () => {
    // Created before their shard starts, the six pods are all in its first cycle: arriving
    // "together" without depending on how the watch happens to split them.
    const schedulerName = `${suite.id}-order`;
    const high = range("order-high", 3);
    await suite.create(
      lowPods("order", { schedulerName }),
      high.map((name) =>
        suite.pod(name, { pool: "order", cpu: "3", priorityClass: priority.high, schedulerName }),
      ),
    );
    await suite.startShard("order");
    const placements = await suite.waitBound(high);
    expect(new Set(Object.values(placements))).toEqual(nodesOf("order"));
    const low = range("order-low", 3);
    await suite.staysPending(low);
    expect(await suite.waitUnschedulable("order-low-0", /3 Insufficient cpu/)).toMatch(
      /^0\/\d+ nodes are available/,
    );
    expect(await preemptedEvents(low)).toEqual([]);
  });

  it("equal priority never preempts", async () => {
    const running = await fillWithLowPods("equal");
    await suite.create(suite.pod("equal-late", { pool: "equal", cpu: "3", priorityClass: priority.low }));
    const message = await suite.waitUnschedulable("equal-late", /3 Insufficient cpu/);
    expect(message).toMatch(/preemption: no set of lower-priority groups whose eviction makes the group fit/);
    await suite.staysBound(running);
  });
});

describe("preemption", () => {
  it("high-priority solo pods evict low ones through the Eviction API and take their nodes", async () => {
    await fillWithLowPods("solo");
    const deletions = await suite.recordDeletions();
    try {
      const high = range("solo-high", 3);
      await suite.create(
        high.map((name) => suite.pod(name, { pool: "solo", cpu: "3", priorityClass: priority.high })),
      );
      const placements = await suite.waitBound(high);
      expect(new Set(Object.values(placements))).toEqual(nodesOf("solo"));
      const low = range("solo-low", 3);
      await suite.waitGone(low);
      // The Eviction API (not a plain delete) marks what it evicts with DisruptionTarget.
      for (const name of low) {
        const condition = deletions.deleted
          .get(name)
          ?.status?.conditions?.find((c) => c.type === "DisruptionTarget");
        expect(condition, `${name} DisruptionTarget`).toMatchObject({
          status: "True",
          reason: "EvictionByEvictionAPI",
        });
      }
      const events = await waitFor(
        "Preempted events on the victims",
        async () => {
          const found = await preemptedEvents(low);
          return found.length === 3 ? found : undefined;
        },
        10_000,
      );
      expect(new Set(events.map((e) => e.involvedObject.name))).toEqual(new Set(low));
    } finally {
      deletions.stop();
    }
  });

  it("a high-priority gang of 2 evicts exactly 2 low pods; the third keeps running", async () => {
    const running = await fillWithLowPods("gang");
    const gang = suite.gang("gang-high", 2, { pool: "gang", cpu: "3", priorityClass: priority.high });
    await suite.create(gang);
    const placements = await suite.waitBound(range("gang-high", 2));
    expect(new Set(Object.values(placements)).size).toBe(2);
    // Their nodes were freed, so two victims are gone already; the third must stay where it is.
    const pods = await suite.pods();
    const left = Object.keys(running).filter((name) => pods.has(name));
    expect(left).toHaveLength(1);
    const survivor = left[0] as string;
    expect(Object.values(placements)).not.toContain(running[survivor]);
    await suite.staysBound({ [survivor]: running[survivor] as string });
  });

  it("evicts the cheapest lower-priority group, and a gang only as a whole", async () => {
    // One node holds a low solo pod, the two others a low gang of 2.
    await suite.create(
      suite.gang("whole-low-gang", 2, { pool: "whole", cpu: "3", priorityClass: priority.low }),
      suite.pod("whole-low-solo", { pool: "whole", cpu: "3", priorityClass: priority.low }),
    );
    const running = await suite.waitBound(["whole-low-gang-0", "whole-low-gang-1", "whole-low-solo"]);
    // The first high pod needs one node: evicting the solo pod (one pod) is cheaper than the gang.
    await suite.create(suite.pod("whole-high-0", { pool: "whole", cpu: "3", priorityClass: priority.high }));
    expect(await suite.waitBound(["whole-high-0"])).toEqual({ "whole-high-0": running["whole-low-solo"] });
    await suite.waitGone(["whole-low-solo"]);
    await suite.staysBound({
      "whole-low-gang-0": running["whole-low-gang-0"] as string,
      "whole-low-gang-1": running["whole-low-gang-1"] as string,
    });
    // The second also needs just one node, but a gang is evicted whole or not at all.
    await suite.create(suite.pod("whole-high-1", { pool: "whole", cpu: "3", priorityClass: priority.high }));
    await suite.waitBound(["whole-high-1"]);
    await suite.waitGone(["whole-low-gang-0", "whole-low-gang-1"]);
    const events = await preemptedEvents(["whole-low-gang-0", "whole-low-gang-1"]);
    expect(events.map((e) => e.message)).toEqual([
      expect.stringContaining("whole group evicted"),
      expect.stringContaining("whole group evicted"),
    ]);
  });

  it("a gang of 4 that cannot fit on 3 nodes evicts nothing and says why", async () => {
    const running = await fillWithLowPods("big");
    await suite.create(suite.gang("big-high", 4, { pool: "big", cpu: "3", priorityClass: priority.high }));
    const message = await suite.waitUnschedulable("big-high-0", /cannot be placed as a whole/);
    expect(message).toContain(`pod group ${suite.namespace}/big-high cannot be placed as a whole`);
    expect(message).toMatch(/preemption: no set of lower-priority groups whose eviction makes the group fit/);
    await suite.staysBound(running);
    await suite.staysPending(range("big-high", 4), 500);
    expect(await preemptedEvents(Object.keys(running))).toEqual([]);
  });

  it("does not evict pods a PodDisruptionBudget protects", async () => {
    const app = `${suite.id}-protected`;
    const running = await fillWithLowPods("budget", { app });
    await suite.policy.createNamespacedPodDisruptionBudget({
      namespace: suite.namespace,
      body: {
        metadata: { name: "all-of-them" },
        spec: { minAvailable: 3, selector: { matchLabels: { app } } },
      },
    });
    await waitFor(
      "the disruption controller to allow no disruption",
      async () => {
        const pdb = await suite.policy.readNamespacedPodDisruptionBudget({
          name: "all-of-them",
          namespace: suite.namespace,
        });
        return pdb.status?.currentHealthy === 3 && pdb.status.disruptionsAllowed === 0 ? true : undefined;
      },
      30_000,
    );
    await suite.create(suite.pod("budget-high", { pool: "budget", cpu: "3", priorityClass: priority.high }));
    await suite.waitUnschedulable(
      "budget-high",
      /3 lower-priority group\(s\) protected by a PodDisruptionBudget/,
    );
    await suite.staysBound(running);
    expect(await preemptedEvents(Object.keys(running))).toEqual([]);
  });

  it("does not preempt for a pod with preemptionPolicy Never", async () => {
    const running = await fillWithLowPods("never");
    await suite.create(
      suite.pod("never-high", { pool: "never", cpu: "3", priorityClass: priority.highNever }),
    );
    const pod = await suite.core.readNamespacedPod({ name: "never-high", namespace: suite.namespace });
    expect(pod.spec?.preemptionPolicy).toBe("Never");
    await suite.waitUnschedulable(
      "never-high",
      /preemption: not attempted, a member has preemptionPolicy: Never/,
    );
    await suite.staysBound(running);
  });
});

describe("group priority", () => {
  it("a gang of three priority-100 pods and one priority-1000 pod is invalid and evicts nothing", async () => {
    // Four nodes, each holding a priority-500 pod: the gang's 100s could never evict them, and
    // one 1000 member must not lend its priority to the rest.
    const mids = range("mixed-mid", 4).map((name) =>
      suite.pod(name, { pool: "mixed", cpu: "3", priorityClass: priority.mid }),
    );
    await suite.create(mids);
    const running = await suite.waitBound(range("mixed-mid", 4));
    const members = range("mixed", 4);
    await suite.create(
      members.map((name, i) =>
        suite.pod(name, {
          pool: "mixed",
          cpu: "3",
          group: "mixed",
          minMember: 4,
          priorityClass: i === 3 ? priority.high : priority.low,
        }),
      ),
    );
    for (const name of members) {
      const message = await suite.waitUnschedulable(name, /disagree on priority/);
      expect(message).toContain(
        `members of pod group ${suite.namespace}/mixed disagree on priority (100, 1000)`,
      );
    }
    await waitFor(
      "InvalidPodGroup Warning Events on the members",
      async () => {
        const events = await suite.eventsOfReason("InvalidPodGroup");
        const about = new Set(events.filter((e) => e.type === "Warning").map((e) => e.involvedObject.name));
        return members.every((name) => about.has(name)) ? true : undefined;
      },
      10_000,
    );
    await suite.staysBound(running);
    await suite.staysPending(members, 500);
    expect(await preemptedEvents(Object.keys(running))).toEqual([]);
  });
});
