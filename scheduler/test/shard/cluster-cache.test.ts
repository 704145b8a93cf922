/**
 * The cache's account of a gang's members: those that succeeded come from their own watch, are
 * counted once while the other watch still shows them running, and go when deleted; gated ones
 * wait apart until their last gate goes; those bound to a node that does not exist run nowhere.
 */
import { describe, expect, it } from "vitest";
import { type Pod, toPodInfo } from "../../src/core/index.js";
import { type CacheChange, ClusterCache, succeededMembers } from "../../src/shard/cluster-cache.js";
import { node, pod } from "../core/fixtures.js";

const schedulerName = "sharded-scheduler";

function ours(p: Pod, phase?: "Succeeded"): Pod {
  return {
    ...p,
    spec: { ...p.spec, schedulerName },
    status: { ...p.status, ...(phase ? { phase } : {}) },
  };
}

describe("cluster cache: succeeded members", () => {
  it("counts a member that succeeded once, keeps it after the running watch drops it, forgets it when deleted", () => {
    const changes: CacheChange[] = [];
    const cache = new ClusterCache(schedulerName, (change) => changes.push(change));
    const running = ours(pod("g-0", { group: "g", minMember: 2, nodeName: "n1" }));
    const waiting = ours(pod("g-1", { group: "g", minMember: 2 }));
    cache.upsertPod(running);
    cache.upsertPod(waiting);
    const group = () => cache.group("group:default/g");
    const succeeded = () => {
      const members = group();
      return members === undefined ? undefined : succeededMembers(members);
    };

    // The succeeded watch may tell first: still running in the other, so counted once.
    changes.length = 0;
    cache.upsertSucceededPod(ours(running, "Succeeded"));
    expect(succeeded()).toBe(0);
    expect(changes).toEqual([{ kind: "member", groupId: "group:default/g" }]);
    // The running watch drops it (it no longer matches that watch's selector).
    cache.removePod(ours(running, "Succeeded"));
    expect(group()?.running.size).toBe(0);
    expect(succeeded()).toBe(1);

    cache.removePod(waiting);
    expect(group()).toBeDefined();
    cache.removeSucceededPod(ours(running, "Succeeded"));
    expect(group()).toBeUndefined();
  });

  it("ignores pods of their own and other schedulers' pods", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    cache.upsertSucceededPod(ours(pod("solo", { nodeName: "n1" }), "Succeeded"));
    const foreign = pod("f-0", { group: "f", minMember: 2, nodeName: "n1" });
    cache.upsertSucceededPod({ ...foreign, spec: { ...foreign.spec, schedulerName: "other" } });
    expect([...cache.groupIds()]).toEqual([]);
  });
});

function gated(p: Pod, gates = [{ name: "kueue.x-k8s.io/admission" }]): Pod {
  return { ...p, spec: { ...p.spec, schedulingGates: gates } };
}

const membersOf = (cache: ClusterCache, group: string) => {
  const members = cache.group(`group:default/${group}`);
  return {
    pending: [...(members?.pending.keys() ?? [])],
    running: [...(members?.running.keys() ?? [])],
    gated: [...(members?.gated.keys() ?? [])],
    orphaned: [...(members?.orphaned.keys() ?? [])],
  };
};

/** A cache with node n1 and the pod placed there by a cycle, its bind in flight. */
function bindingInFlight(member: Pod, ...others: Pod[]) {
  const cache = new ClusterCache(schedulerName, () => undefined);
  cache.upsertNode(node("n1"));
  for (const p of [member, ...others]) cache.upsertPod(p);
  const info = toPodInfo(member);
  cache.cluster.assume(info, "n1");
  cache.markAssumed(info, "n1");
  return { cache, info };
}

describe("cluster cache: gated members", () => {
  it("keeps a gated member apart (not pending, no room) and makes it pending the moment its last gate goes", () => {
    const changes: CacheChange[] = [];
    const cache = new ClusterCache(schedulerName, (change) => changes.push(change));
    const member = ours(pod("g-0", { group: "g", minMember: 2, nominatedNodeName: "n1" }));
    cache.upsertPod(gated(member));
    expect(membersOf(cache, "g")).toEqual({ pending: [], running: [], gated: ["default/g-0"], orphaned: [] });
    expect(cache.cluster.nominatedPod("default/g-0")).toBeUndefined();
    expect(changes).toEqual([]);

    // One of two gates removed: still gated.
    cache.upsertPod(gated(member, [{ name: "b" }]));
    expect(membersOf(cache, "g").gated).toEqual(["default/g-0"]);
    expect(changes).toEqual([]);

    cache.upsertPod(gated(member, []));
    expect(membersOf(cache, "g")).toEqual({ pending: ["default/g-0"], running: [], gated: [], orphaned: [] });
    expect(changes).toEqual([{ kind: "member", groupId: "group:default/g" }]);
  });

  it("does not call a gated pod with a malformed group key invalid (the API server's SchedulingGated stands)", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    const base = ours(pod("w-0"));
    const malformed = { ...base, metadata: { ...base.metadata, annotations: { "pod-group": " web" } } };
    cache.upsertPod(gated(malformed));
    expect(cache.invalid.size).toBe(0);
    cache.upsertPod(malformed);
    expect(cache.invalid.get("default/w-0")?.error).toContain("surrounding whitespace");
  });

  it("forgets a bind refused for gates as gated, not pending, until the watch shows them gone", () => {
    const member = ours(pod("g-0", { group: "g", minMember: 1 }));
    const { cache, info } = bindingInFlight(member);
    cache.forgetGated(info.key);
    expect(membersOf(cache, "g")).toEqual({ pending: [], running: [], gated: ["default/g-0"], orphaned: [] });
    expect(cache.cluster.placementOf(info.key)).toBeUndefined();
    cache.upsertPod(gated(member, []));
    expect(membersOf(cache, "g").pending).toEqual(["default/g-0"]);
  });
});

describe("cluster cache: a pod replaced while its bind was in flight", () => {
  it("drops the pod placed when the API server says its UID is gone", () => {
    const member = ours(pod("g-0", { group: "g", minMember: 2 }));
    const { cache, info } = bindingInFlight(member, ours(pod("g-1", { group: "g", minMember: 2 })));
    cache.forgetReplaced(info.key, info.uid);
    expect(membersOf(cache, "g")).toEqual({ pending: ["default/g-1"], running: [], gated: [], orphaned: [] });
    expect(cache.cluster.placementOf(info.key)).toBeUndefined();
  });

  it("keeps the replacement pending when the watch brought it first", () => {
    const member = ours(pod("g-0", { group: "g", minMember: 1 }));
    const { cache, info } = bindingInFlight(member);
    const replacement = { ...member, metadata: { ...member.metadata, uid: "uid-new" } };
    cache.upsertPod(replacement);
    cache.forgetReplaced(info.key, info.uid);
    expect(membersOf(cache, "g").pending).toEqual(["default/g-0"]);
    expect(cache.group("group:default/g")?.pending.get("default/g-0")?.uid).toBe("uid-new");
  });
});

describe("cluster cache: members bound to a node that does not exist", () => {
  it("counts them as running only while their node exists, and they hold no room meanwhile", () => {
    const changes: CacheChange[] = [];
    const cache = new ClusterCache(schedulerName, (change) => changes.push(change));
    cache.upsertPod(ours(pod("g-0", { group: "g", minMember: 2, nodeName: "ghost" })));
    cache.upsertPod(ours(pod("g-1", { group: "g", minMember: 2 })));
    expect(membersOf(cache, "g")).toEqual({
      pending: ["default/g-1"],
      running: [],
      gated: [],
      orphaned: ["default/g-0"],
    });

    // The node appears (or the pods were listed before the nodes): the member runs there.
    changes.length = 0;
    cache.upsertNode(node("ghost"));
    expect(membersOf(cache, "g").running).toEqual(["default/g-0"]);
    expect(membersOf(cache, "g").orphaned).toEqual([]);
    expect(cache.cluster.node("ghost")?.requested.milliCpu).toBe(1000);
    expect(changes).toContainEqual({ kind: "member", groupId: "group:default/g" });

    // A node update changes nothing; the node deleted: its pods run nowhere again.
    cache.upsertNode(node("ghost"));
    expect(membersOf(cache, "g").running).toEqual(["default/g-0"]);
    cache.removeNode(node("ghost"));
    expect(membersOf(cache, "g")).toEqual({
      pending: ["default/g-1"],
      running: [],
      gated: [],
      orphaned: ["default/g-0"],
    });

    // PodGC deletes the orphan.
    cache.removePod(ours(pod("g-0", { group: "g", minMember: 2, nodeName: "ghost" })));
    expect(membersOf(cache, "g").orphaned).toEqual([]);
  });
});

describe("cluster cache: whether a group started", () => {
  const started = (cache: ClusterCache, name: string) => cache.group(`group:default/${name}`)?.started;

  it("without min-member: once the watch shows a member running, not while its bind is in flight", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    cache.upsertNode(node("n1"));
    const web = ours(pod("web-0", { group: "web" }));
    cache.upsertPod(web);
    expect(started(cache, "web")).toBe(false);
    const info = cache.group("group:default/web")?.pending.get("default/web-0");
    if (!info) throw new Error("web-0 not pending");
    cache.markAssumed(info, "n1");
    expect(started(cache, "web")).toBe(false);
    cache.upsertPod(ours(pod("web-0", { group: "web", nodeName: "n1" })));
    expect(started(cache, "web")).toBe(true);
  });

  it("with min-member: once that many members ran, succeeded ones included; kept while one runs", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    cache.upsertNode(node("n1"));
    const members = [0, 1, 2].map((i) =>
      ours(pod(`job-${i}`, { group: "job", minMember: 3, nodeName: "n1" })),
    );
    cache.upsertPod(members[0] as Pod);
    cache.upsertPod(members[1] as Pod);
    expect(started(cache, "job")).toBe(false);
    cache.upsertSucceededPod(ours(members[2] as Pod, "Succeeded"));
    expect(started(cache, "job")).toBe(true);
    // Members leave; the group stays started while one runs, and starts afresh once none does.
    cache.upsertPod(ours(pod("job-3", { group: "job", minMember: 3 })));
    cache.removePod(members[0] as Pod);
    expect(started(cache, "job")).toBe(true);
    cache.removePod(members[1] as Pod);
    expect(started(cache, "job")).toBe(false);
  });

  it("starts afresh once every running member is being deleted (a whole gang evicted)", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    cache.upsertNode(node("n1"));
    const members = [0, 1].map((i) => ours(pod(`job-${i}`, { group: "job", minMember: 2, nodeName: "n1" })));
    for (const p of members) cache.upsertPod(p);
    expect(started(cache, "job")).toBe(true);
    // The Job's replacements arrive while the evicted members are still terminating.
    cache.upsertPod(ours(pod("job-2", { group: "job", minMember: 2 })));
    cache.upsertPod(ours(pod("job-0", { group: "job", minMember: 2, nodeName: "n1", terminating: true })));
    expect(started(cache, "job")).toBe(true);
    cache.upsertPod(ours(pod("job-1", { group: "job", minMember: 2, nodeName: "n1", terminating: true })));
    expect(started(cache, "job")).toBe(false);
  });
});

describe("cluster cache: a group's collections", () => {
  it("gives a group a collection of its own at its first member of that kind; the others stay empty", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    cache.upsertNode(node("n1"));
    for (let i = 0; i < 3; i++) cache.upsertPod(ours(pod(`solo-${i}`, { nodeName: "n1" })));
    cache.upsertPod(ours(pod("g-0", { group: "g", minMember: 3, nodeName: "n1" })));
    cache.upsertPod(ours(pod("g-1", { group: "g", minMember: 3 })));
    cache.upsertPod(gated(ours(pod("g-2", { group: "g", minMember: 3 }))));
    cache.upsertSucceededPod(ours(pod("g-3", { group: "g", minMember: 3, nodeName: "n1" }), "Succeeded"));
    const g = cache.group("group:default/g");
    expect([g?.running.size, g?.pending.size, g?.gated.size, g?.succeeded.size]).toEqual([1, 1, 1, 1]);
    // The bound solo pods have no entry (see the next test).
    expect([...cache.groupIds()]).toEqual(["group:default/g"]);
    cache.upsertPod(ours(pod("solo-3")));
    const solo = cache.group("pod:default/solo-3");
    expect([solo?.running.size, solo?.pending.size, solo?.gated.size]).toEqual([0, 1, 0]);
    expect([solo?.orphaned.size, solo?.succeeded.size, solo?.foreignPending.size]).toEqual([0, 0, 0]);
    expect(g?.pending).not.toBe(g?.gated);
  });

  it("keeps a solo pod's entry while it waits or its bind is ours to confirm, none once the watch shows it bound", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
    cache.upsertNode(node("n1"));
    const id = "pod:default/solo-0";
    cache.upsertPod(ours(pod("solo-0")));
    const pending = cache.group(id)?.pending.get("default/solo-0");
    expect(pending?.key).toBe("default/solo-0");
    cache.markAssumed(pending as NonNullable<typeof pending>, "n1");
    expect(cache.group(id)?.running.has("default/solo-0")).toBe(true);
    // The watch confirms the bind: the cluster holds the pod, no group entry does.
    cache.upsertPod(ours(pod("solo-0", { nodeName: "n1" })));
    expect(cache.group(id)).toBeUndefined();
    expect(cache.cluster.placementOf("default/solo-0")).toBe("n1");
    // Bound by another, to a node that is gone, or an update of a bound one: none either.
    cache.upsertPod(pod("other-0", { nodeName: "n1" }));
    cache.upsertPod(ours(pod("solo-1", { nodeName: "gone" })));
    cache.upsertPod(ours(pod("solo-0", { nodeName: "n1", labels: { v: "2" } })));
    expect([...cache.groupIds()]).toEqual([]);
    expect(cache.cluster.placedPod("default/solo-0")?.labels).toEqual({ v: "2" });
    // A bound pod that joins a gang has that gang's entry; finished, it leaves the cluster.
    cache.upsertPod(ours(pod("solo-0", { nodeName: "n1", group: "g", minMember: 1 })));
    expect(cache.group("group:default/g")?.running.has("default/solo-0")).toBe(true);
    cache.upsertPod(ours(pod("solo-1", { nodeName: "n1" }), "Succeeded"));
    expect(cache.cluster.placedPod("default/solo-1")).toBeUndefined();
    expect(cache.groupIdOf("default/solo-1")).toBeUndefined();
  });
});

// kube-scheduler's nominator (UpdateNominatedPod): a node reserved in memory for a preemptor is
// kept when the watch brings an update of the pod that says nothing of a nomination, neither
// before nor now (a write made before the nomination's, e.g. a condition); the pod's own
// nominatedNodeName, once written or cleared, is what counts.
describe("cluster cache: nominations reserved in memory", () => {
  const preemptor = () => ours(pod("g-0", { group: "g", minMember: 1, priority: 100 }));
  const reserved = (cache: ClusterCache) => cache.cluster.nominatedPod("default/g-0")?.nominatedNodeName;

  function nominatedInMemory() {
    const cache = new ClusterCache(schedulerName, () => {});
    cache.upsertNode(node("n1"));
    cache.upsertPod(preemptor());
    // What a cycle's Statement.nominate leaves in the cluster before the write comes back.
    cache.cluster.upsertPod({ ...toPodInfo(preemptor()), nominatedNodeName: "n1" });
    return cache;
  }

  it("keeps the reservation through an update that never carried a nomination", () => {
    const cache = nominatedInMemory();
    const conditioned = preemptor();
    conditioned.status = {
      ...conditioned.status,
      conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "no room" }],
    };
    cache.upsertPod(conditioned);
    expect(reserved(cache)).toBe("n1");
    // The watch still holds the pod as it was delivered: a failed nomination write restores that.
    cache.restorePending(toPodInfo(conditioned));
    expect(reserved(cache)).toBeUndefined();
  });

  it("follows the pod's own nominatedNodeName once it is written, moved or cleared", () => {
    const cache = nominatedInMemory();
    cache.upsertPod(ours(pod("g-0", { group: "g", minMember: 1, priority: 100, nominatedNodeName: "n1" })));
    expect(reserved(cache)).toBe("n1");
    cache.upsertPod(ours(pod("g-0", { group: "g", minMember: 1, priority: 100, nominatedNodeName: "n2" })));
    expect(reserved(cache)).toBe("n2");
    cache.upsertPod(preemptor());
    expect(reserved(cache)).toBeUndefined();
  });
});
