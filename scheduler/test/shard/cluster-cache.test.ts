/**
 * The cache's account of a gang's members that succeeded: they come from their own watch, are
 * counted once while the other watch still shows them running, and go when deleted.
 */
import { describe, expect, it } from "vitest";
import type { Pod } from "../../src/core/index.js";
import { type CacheChange, ClusterCache, succeededMembers } from "../../src/shard/cluster-cache.js";
import { pod } from "../core/fixtures.js";

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

describe("cluster cache: whether a group started", () => {
  const started = (cache: ClusterCache, name: string) => cache.group(`group:default/${name}`)?.started;

  it("without min-member: once the watch shows a member running, not while its bind is in flight", () => {
    const cache = new ClusterCache(schedulerName, () => undefined);
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
