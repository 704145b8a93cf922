/**
 * Preemption of native PodGroups (scheduling.k8s.io/v1beta1) by their disruption mode, against a
 * real API server: a low PodGroup of 2 members (one per node of a 2-node pool, 3 cpu of 4 each)
 * and a high solo pod that needs one node. With `disruptionMode: single` one member is evicted
 * and the other keeps running; with `all` both go — what kube-scheduler 1.37 does. Before any
 * member is evicted the owning shard marks the PodGroup DisruptionTarget (PreemptionByScheduler,
 * naming the preemptor); the pods get the Eviction API's own DisruptionTarget.
 * An annotation gang above its min-member loses only surplus members (Volcano's gang case). The
 * independent checker watches it all and must find neither a partial `all` victim nor an unmarked PodGroup.
 * Skipped on a cluster that does not serve the API (GenericWorkload off).
 */
import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvariantChecker } from "../checker/invariant-checker.js";
import { createPodGroup, getPodGroup, joining, servesPodGroups } from "../support/pod-groups.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = schedulerSuite("disruption");
const priority = { low: "", high: "" };
let served = false;
let checker: InvariantChecker | undefined;

beforeAll(async () => {
  served = await servesPodGroups(suite.clients.kc);
  if (!served) return;
  [priority.low, priority.high] = await Promise.all([
    suite.priorityClass("low", 100),
    suite.priorityClass("high", 1000),
  ]);
  await Promise.all([suite.addNodes("single", 2), suite.addNodes("all", 2), suite.addNodes("surplus", 4)]);
  checker = await InvariantChecker.start(suite.clients.kc, {
    namespace: suite.namespace,
    nodeLabelSelector: `suite=${suite.id}`,
  });
});

afterAll(() => checker?.stop());

function createLowPodGroup(name: string, minCount: number, mode: "single" | "all"): Promise<unknown> {
  return createPodGroup(suite.clients.kc, suite.namespace, name, {
    schedulingPolicy: { gang: { minCount } },
    disruptionMode: { [mode]: {} },
    priorityClassName: priority.low,
  });
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

async function podGroupConditions(name: string): Promise<Condition[]> {
  const object = await getPodGroup<{ status?: { conditions?: Condition[] } }>(
    suite.clients.kc,
    suite.namespace,
    name,
  );
  return object.status?.conditions ?? [];
}

/** size running members <podGroup>-i of PodGroup podGroup, one per node of the pool (3 of 4 cpu). */
function members(podGroup: string, size: number, pool: string): k8s.V1Pod[] {
  return Array.from({ length: size }, (_, i) => {
    return joining(suite.pod(`${podGroup}-${i}`, { pool, cpu: "3", priorityClass: priority.low }), podGroup);
  });
}

/** The low PodGroup running on the pool, a high solo pod arriving; returns the members' placements. */
async function preemptFrom(pool: string, mode: "single" | "all") {
  const name = `${pool}-low`;
  await createLowPodGroup(name, 1, mode);
  await suite.create(members(name, 2, pool));
  const running = await suite.waitBound([`${name}-0`, `${name}-1`]);
  const deletions = await suite.recordDeletions();
  await suite.create(suite.pod(`${pool}-high`, { pool, cpu: "3", priorityClass: priority.high }));
  const placements = await suite.waitBound([`${pool}-high`]);
  return { name, running, placements, deletions };
}

/** The PodGroup's DisruptionTarget, as the owning shard wrote it. */
async function expectMarked(name: string, preemptor: string): Promise<void> {
  const mark = (await podGroupConditions(name)).find((c) => c.type === "DisruptionTarget");
  expect(mark).toMatchObject({ status: "True", reason: "PreemptionByScheduler" });
  expect(mark?.message).toContain(preemptor);
}

describe("preemption by the victim group's disruption mode", () => {
  it("single: evicts one member for a pod that needs one node; the other keeps running", async (ctx) => {
    if (!served) ctx.skip();
    const { name, running, placements, deletions } = await preemptFrom("single", "single");
    try {
      const node = placements["single-high"] as string;
      const victim = Object.keys(running).find((pod) => running[pod] === node) as string;
      const survivor = Object.keys(running).find((pod) => pod !== victim) as string;
      await suite.waitGone([victim]);
      await suite.staysBound({ [survivor]: running[survivor] as string });
      await expectMarked(name, `single-high`);
      // The pod keeps the Eviction API's own DisruptionTarget.
      expect(
        deletions.deleted.get(victim)?.status?.conditions?.find((c) => c.type === "DisruptionTarget"),
      ).toMatchObject({ status: "True", reason: "EvictionByEvictionAPI" });
    } finally {
      deletions.stop();
    }
  });

  it("all: evicts the whole PodGroup, marked DisruptionTarget first", async (ctx) => {
    if (!served) ctx.skip();
    const { name, deletions } = await preemptFrom("all", "all");
    try {
      await suite.waitGone([`${name}-0`, `${name}-1`]);
      await expectMarked(name, "all-high");
    } finally {
      deletions.stop();
    }
  });

  it("an annotation gang of 4 with min-member 1 loses only the 2 members a gang of 2 needs", async (ctx) => {
    if (!served) ctx.skip();
    // Volcano's gang case, scaled: surplus members go first, the first by name stays.
    const low = Array.from({ length: 4 }, (_, i) =>
      suite.pod(`surplus-low-${i}`, {
        pool: "surplus",
        cpu: "3",
        priorityClass: priority.low,
        group: "surplus-low",
        minMember: 1,
      }),
    );
    await suite.create(low);
    const running = await suite.waitBound(low.map((pod) => pod.metadata?.name as string));
    await suite.create(
      suite.gang("surplus-high", 2, { pool: "surplus", cpu: "3", priorityClass: priority.high }),
    );
    const placements = await suite.waitBound(["surplus-high-0", "surplus-high-1"]);
    const taken = new Set(Object.values(placements));
    const survivors = Object.fromEntries(Object.entries(running).filter(([, node]) => !taken.has(node)));
    expect(Object.keys(survivors)).toHaveLength(2);
    expect(Object.keys(survivors)).toContain("surplus-low-0");
    await suite.staysBound(survivors);
  });

  it("leaves the independent checker nothing to count", async (ctx) => {
    if (!served || !checker) ctx.skip();
    const ledger = (checker as InvariantChecker).ledger;
    // The victims were judged: wholeness and the mark once the eviction window passed.
    await waitFor(
      "the checker to see the 5 evictions",
      async () => (ledger.stats().evictions >= 5 ? true : undefined),
      20_000,
    );
    // Past the whole-group window (15 s), short of the preemptor's (60 s): wholeness and marks judged.
    ledger.tick(Date.now() + 20_000);
    const counts = ledger.counts();
    expect(ledger.violations).toEqual([]);
    expect(counts.badPreemptions).toBe(0);
    expect(counts.unmarkedVictimPodGroups).toBe(0);
  });
});
