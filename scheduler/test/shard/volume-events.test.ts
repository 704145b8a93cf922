/**
 * The volume plugins' cluster events through the shard's cache and queue: a claim, volume or class
 * that appears or changes what the plugins read is news (a resync or a deletion is not), and a
 * group a volume plugin rejected wakes for it and not for unrelated events.
 */
import { describe, expect, it } from "vitest";
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from "../../src/core/api-types.js";
import { eventNames, eventsOf } from "../../src/core/framework.js";
import { buildProfile, wakingEvents } from "../../src/core/profile.js";
import { type CacheChange, ClusterCache } from "../../src/shard/cluster-cache.js";
import { SchedulingQueue } from "../../src/shard/scheduling-queue.js";
import { snapshotOf } from "../core/fixtures.js";

const changes = () => {
  const seen: CacheChange[] = [];
  return { seen, cache: new ClusterCache("sharded-scheduler", (change) => seen.push(change)) };
};
const capacityEvents = (seen: CacheChange[]) =>
  seen.splice(0).flatMap((c) => (c.kind === "capacity" ? [eventNames(c.events)] : []));

const claim = (volumeName?: string, resourceVersion = "1"): PersistentVolumeClaim => ({
  metadata: { name: "data", namespace: "default", resourceVersion },
  spec: { storageClassName: "", ...(volumeName ? { volumeName } : {}) },
  status: { phase: "Pending" },
});
const volume = (zone: string, resourceVersion = "1"): PersistentVolume => ({
  metadata: { name: "pv", resourceVersion, labels: { "topology.kubernetes.io/zone": zone } },
});
const storageClass: StorageClass = { metadata: { name: "fast" }, volumeBindingMode: "Immediate" };

describe("volume events", () => {
  it("name a claim, volume or class that appeared or changed; not a resync or a deletion", () => {
    const { seen, cache } = changes();
    cache.upsertPersistentVolumeClaim(claim());
    cache.upsertPersistentVolumeClaim(claim(undefined, "2"));
    cache.upsertPersistentVolumeClaim(claim("pv", "3"));
    expect(capacityEvents(seen)).toEqual([["PersistentVolumeClaimChange"], ["PersistentVolumeClaimChange"]]);
    cache.upsertPersistentVolume(volume("a"));
    cache.upsertPersistentVolume(volume("a", "2"));
    cache.upsertPersistentVolume(volume("b", "3"));
    expect(capacityEvents(seen)).toEqual([["PersistentVolumeChange"], ["PersistentVolumeChange"]]);
    cache.upsertStorageClass(storageClass);
    cache.upsertStorageClass(storageClass);
    expect(capacityEvents(seen)).toEqual([["StorageClassChange"]]);
    cache.removePersistentVolumeClaim(claim("pv"));
    cache.removePersistentVolume(volume("b"));
    cache.removeStorageClass(storageClass);
    expect(capacityEvents(seen)).toEqual([]);
    expect(cache.cluster.persistentVolumeClaim("default", "data")).toBeUndefined();
    expect(cache.cluster.persistentVolume("pv")).toBeUndefined();
    expect(cache.cluster.storageClass("fast")).toBeUndefined();
  });

  it("wake a group VolumeBinding rejected when a claim changes, not when a taint does", () => {
    const profile = buildProfile(snapshotOf([]));
    expect(eventNames(wakingEvents(profile, ["VolumeBinding"]))).toEqual([
      "NodeAdd",
      "NodeUpdateLabel",
      "PersistentVolumeClaimChange",
      "PersistentVolumeChange",
      "StorageClassChange",
    ]);
    expect(eventNames(wakingEvents(profile, ["VolumeRestrictions"]))).toEqual([
      "NodeAdd",
      "AssignedPodDelete",
      "PersistentVolumeClaimChange",
    ]);
    const queue = new SchedulingQueue({
      initialBackoffMs: 1_000,
      maxBackoffMs: 8_000,
      unschedulableFlushMs: 60_000,
    });
    queue.add("g", 0);
    queue.pop(0);
    queue.done("g", "unschedulable", 0, 0, wakingEvents(profile, ["VolumeBinding"]));
    queue.wakeUnschedulable(5_000, eventsOf(["NodeUpdateTaint"]));
    expect(queue.state("g")).toBe("unschedulable");
    queue.wakeUnschedulable(5_000, eventsOf(["PersistentVolumeClaimChange"]));
    expect(queue.state("g")).toBe("active");
  });
});
