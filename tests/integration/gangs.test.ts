/**
 * Gangs: pods of one group are bound all together or not at all, wait for their members,
 * and are recognised by every group key the shard reads.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { completeAfterAnnotation } from "../chaos/workload.js";
import { podGroupAnnotation, schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

/** Groups without min-member are sized after this much quiet time. */
const settleWindowMs = 1_500;
const suite = schedulerSuite("gangs", { shardArgs: [`--settle-window-ms=${settleWindowMs}`] });

beforeAll(async () => {
  await Promise.all([
    suite.addNodes("trio", 3),
    suite.addNodes("grow", 2),
    suite.addNodes("pair", 1),
    suite.addNodes("keys", 1),
    suite.addNodes("settle", 1),
    suite.addNodes("late", 1),
    suite.addNodes("rest", 1),
  ]);
});

const names = (prefix: string, size: number) => Array.from({ length: size }, (_, i) => `${prefix}-${i}`);

describe("all or nothing", () => {
  it("binds a gang with min-member 3 together, one member per node", async () => {
    await suite.create(suite.gang("trio", 3, { pool: "trio", cpu: "3" }));
    const placements = await suite.waitBound(names("trio", 3));
    expect(new Set(Object.values(placements))).toEqual(
      new Set([0, 1, 2].map((i) => suite.nodeName("trio", i))),
    );
  });

  it("binds none of a gang that does not fit as a whole, and all of it once a node is added", async () => {
    const members = names("grow", 3);
    await suite.create(suite.gang("grow", 3, { pool: "grow", cpu: "3" }));
    for (const name of members) {
      const message = await suite.waitUnschedulable(name, /cannot be placed as a whole/);
      expect(message).toContain(`pod group ${suite.namespace}/grow cannot be placed as a whole`);
      expect(message).toMatch(/3 of 3 pending pods must start together; only 2 fit/);
    }
    await suite.staysPending(members);
    await suite.addNodes("grow", 1, {}, 2);
    const placements = await suite.waitBound(members);
    expect(new Set(Object.values(placements)).size).toBe(3);
  });

  it("waits with a gang of 2 until its second member exists", async () => {
    await suite.create(suite.pod("pair-0", { pool: "pair", cpu: "1", group: "pair", minMember: 2 }));
    await suite.waitUnschedulable("pair-0", /waiting for pod group .*\/pair to have 2 members/);
    await suite.staysPending(["pair-0"], settleWindowMs + 1_500);
    await suite.create(suite.pod("pair-1", { pool: "pair", cpu: "1", group: "pair", minMember: 2 }));
    await suite.waitBound(["pair-0", "pair-1"]);
  });

  it("places the replacement of a member without waiting again for a member that succeeded", async () => {
    // rest-0 runs to completion; rest-1 is deleted (as an eviction would) and replaced by rest-2,
    // as a Job does: with min-member 2, rest-0's success counts, so rest-2 starts on its own.
    await suite.create(
      suite.pod("rest-0", {
        pool: "rest",
        cpu: "1",
        group: "rest",
        minMember: 2,
        annotations: { [completeAfterAnnotation]: "1s" },
      }),
      suite.pod("rest-1", { pool: "rest", cpu: "1", group: "rest", minMember: 2 }),
    );
    await suite.waitBound(["rest-0", "rest-1"]);
    await waitFor(
      "rest-0 to succeed",
      async () => ((await suite.pods()).get("rest-0")?.status?.phase === "Succeeded" ? true : undefined),
      20_000,
    );
    await suite.deletePods(["rest-1"]);
    await suite.waitGone(["rest-1"]);
    await suite.create(suite.pod("rest-2", { pool: "rest", cpu: "1", group: "rest", minMember: 2 }));
    await suite.waitBound(["rest-2"]);
  });

  it("places a member that arrives after its gang is running on its own", async () => {
    await suite.create(suite.gang("late", 2, { pool: "late", cpu: "1" }));
    await suite.waitBound(names("late", 2));
    await suite.create(suite.pod("late-2", { pool: "late", cpu: "1", group: "late", minMember: 2 }));
    await suite.waitBound(["late-2"]);
  });
});

describe("group keys", () => {
  // Each group has 2 members of 3 cpu and the pool one node of 4 cpu: as a group neither fits,
  // as two solo pods one would be bound. The message names the group the shard formed.
  const sources = [
    { kind: "annotation", key: podGroupAnnotation },
    { kind: "annotation", key: "pod-group" },
    { kind: "annotation", key: "pod_group" },
    { kind: "label", key: "scheduling.x-k8s.io/pod-group" },
    { kind: "annotation", key: "scheduling.k8s.io/group-name" },
  ] as const;

  it.each(sources.map((source, i) => ({ ...source, group: `keyed-${i}` })))(
    "$kind $key forms a group",
    async ({ kind, key, group }) => {
      const members = names(group, 2);
      await suite.create(
        members.map((name) =>
          suite.pod(name, {
            pool: "keys",
            cpu: "3",
            ...(kind === "label" ? { labels: { [key]: group } } : { annotations: { [key]: group } }),
          }),
        ),
      );
      for (const name of members) {
        const message = await suite.waitUnschedulable(name, /cannot be placed as a whole/);
        expect(message).toContain(`pod group ${suite.namespace}/${group} cannot be placed as a whole`);
        expect(message).toMatch(/2 of 2 pending pods must start together; only 1 fit/);
      }
      await suite.staysPending(members, 1_000);
    },
  );
});

describe("settle window", () => {
  it("sizes a group without min-member by the members that arrived within the window", async () => {
    // Members arrive 800 ms apart, each within the 1.5 s window of the previous one: the group
    // is the three of them, placed only once 1.5 s passed after the last arrival.
    const members = names("settle", 3);
    const member = (name: string) => suite.pod(name, { pool: "settle", cpu: "1", group: "settle" });
    await suite.create(member("settle-0"));
    await sleep(800);
    await suite.create(member("settle-1"));
    await sleep(800);
    const lastCreatedAt = Date.now();
    await suite.create(member("settle-2"));
    let firstBoundAt: number | undefined;
    await waitFor(
      "the settle group to be bound",
      async () => {
        const pods = await suite.pods();
        const bound = members.filter((name) => pods.get(name)?.spec?.nodeName);
        if (bound.length > 0) firstBoundAt ??= Date.now();
        return bound.length === members.length ? true : undefined;
      },
      30_000,
      100,
    );
    expect((firstBoundAt as number) - lastCreatedAt).toBeGreaterThanOrEqual(settleWindowMs);
  });
});

/**
 * The ownerReferences of a stand-in controller (a ConfigMap): a rollback deletes the pods it
 * owns, and the garbage collector keeps pods whose owner exists.
 */
async function standInController(name: string) {
  const owner = await suite.core.createNamespacedConfigMap({
    namespace: suite.namespace,
    body: { metadata: { name } },
  });
  return [
    { apiVersion: "v1", kind: "ConfigMap", name, uid: owner.metadata?.uid as string, controller: true },
  ];
}

describe("partial gang rollback", () => {
  it("deletes a controller-owned member left bound past the gang timeout; reports a bare one", async () => {
    const shard = await suite.startShard("rollback", ["--gang-timeout-ms=2000", "--log-level=debug"]);
    const schedulerName = `${suite.id}-rollback`;
    await suite.addNodes("rollback", 2, { cpu: "4" });
    const ownerReferences = await standInController("gang-owner");
    // Each gang needs 2 members of 3 cpu on its own 4-cpu node: the second member never fits.
    const member = (name: string, group: string, node: number, owned: boolean) => {
      const pod = suite.pod(name, { pool: "rollback", cpu: "3", group, minMember: 2, schedulerName });
      pod.spec = {
        ...pod.spec,
        nodeSelector: { "kubernetes.io/hostname": suite.nodeName("rollback", node) },
      } as typeof pod.spec;
      if (owned) pod.metadata = { ...pod.metadata, ownerReferences };
      return pod;
    };
    // The first member of each gang is bound by hand: the gang is partial from the start.
    await suite.create(member("owned-0", "owned", 0, true), member("bare-0", "bare", 1, false));
    expect(await suite.bind("owned-0", suite.nodeName("rollback", 0))).toBe(201);
    expect(await suite.bind("bare-0", suite.nodeName("rollback", 1))).toBe(201);
    await suite.create(member("owned-1", "owned", 0, true), member("bare-1", "bare", 1, false));

    await suite.waitGone(["owned-0"], 30_000);
    expect((await suite.events("owned-0", "GangRollback")).length).toBeGreaterThan(0);
    await waitFor(
      "a PartialGang Event",
      async () => ((await suite.events("bare-0", "PartialGang")).length > 0 ? true : undefined),
      30_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nshard log:\n${shard.tail(40)}`);
    });
    const pods = await suite.pods();
    expect(pods.get("bare-0")?.spec?.nodeName).toBe(suite.nodeName("rollback", 1));
  });
});

describe("a group that grows", () => {
  it("keeps a running group without min-member when it grows past the room, and binds the members that fit", async () => {
    // Like a Deployment with annotation pod-group: web, scaled from 3 replicas to 23 where only 8 fit.
    await suite.startShard("elastic", ["--gang-timeout-ms=2000"]);
    const schedulerName = `${suite.id}-elastic`;
    await suite.addNodes("web", 2, { cpu: "4" });
    // A stand-in ReplicaSet: a rollback would delete its pods.
    const ownerReferences = await standInController("web-owner");
    const replica = (name: string) => {
      const pod = suite.pod(name, {
        pool: "web",
        cpu: "1",
        annotations: { "pod-group": "web" },
        schedulerName,
      });
      pod.metadata = { ...pod.metadata, ownerReferences };
      return pod;
    };
    const first = names("web", 3);
    await suite.create(first.map(replica));
    const running = await suite.waitBound(first);

    const added = Array.from({ length: 20 }, (_, i) => `web-${i + 3}`);
    await suite.create(added.map(replica));
    const boundAdded = async () => {
      const pods = await suite.pods();
      return added.filter((name) => pods.get(name)?.spec?.nodeName);
    };
    await waitFor(
      "5 of the added replicas to be bound (the room left on the 2 nodes)",
      async () => ((await boundAdded()).length === 5 ? true : undefined),
      30_000,
    );
    // Well past the gang timeout: the first replicas keep running, nothing is rolled back.
    await suite.staysBound(running, 6_000);
    expect(await boundAdded()).toHaveLength(5);
    const rollbacks = await suite.eventsOfReason("GangRollback");
    expect(rollbacks.filter((event) => event.involvedObject.name?.startsWith("web-"))).toEqual([]);
  });
});
