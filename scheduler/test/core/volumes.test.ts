/**
 * The volume plugins (plugins/volume-binding, volume-zone, volume-restrictions) through the
 * shard's cycle, modelled on kube-scheduler's table tests: bound claims follow their volume's
 * node affinity and zone labels, claims that cannot be used are refused with kube's messages,
 * unbound WaitForFirstConsumer claims are refused naming the claim, and a ReadWriteOncePod claim
 * serves one pod.
 */
import { describe, expect, it } from "vitest";
import type {
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  StorageClass,
  Volume,
} from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import type { ClusterState } from "../../src/core/cluster-state.js";
import { SchedulingCore } from "../../src/core/cycle.js";
import { type ClusterEvent, CycleState, eventNames, eventsOf } from "../../src/core/framework.js";
import type { NodeInfo } from "../../src/core/model.js";
import { bindCompletedAnnotation, volumeClaimsOf } from "../../src/core/plugins/volume-binding/pod-claims.js";
import {
  unboundImmediateReason,
  volumeBindingName,
  volumeNodeConflictReason,
  volumeNotExistReason,
  waitForFirstConsumerReason,
} from "../../src/core/plugins/volume-binding/volume-binding.js";
import {
  readWriteOncePodConflictReason,
  volumeRestrictionsName,
} from "../../src/core/plugins/volume-restrictions/volume-restrictions.js";
import { volumeZoneName, volumeZoneReason } from "../../src/core/plugins/volume-zone/volume-zone.js";
import { buildProfile, preFilter } from "../../src/core/profile.js";
import { trialPlacement } from "../../src/core/trial-placement.js";
import { decisionFor, gang, node, ownsAll, pendingGroupsOf, pod, snapshotOf } from "./fixtures.js";

const zoneKey = "topology.kubernetes.io/zone";
const hostKey = "kubernetes.io/hostname";

const claimVolume = (claimName: string, name = claimName): Volume => ({
  name,
  persistentVolumeClaim: { claimName },
});

const withVolumes = (p: Pod, volumes: Volume[]): Pod => ({ ...p, spec: { ...p.spec, volumes } });

/** A claim, bound (volumeName + the PV controller's bind-completed annotation) unless told otherwise. */
function claim(
  name: string,
  options: {
    volume?: string;
    bound?: boolean;
    storageClass?: string;
    accessModes?: string[];
    phase?: string;
    deleting?: boolean;
    owner?: string;
    namespace?: string;
  } = {},
): PersistentVolumeClaim {
  const bound = options.bound ?? options.volume !== undefined;
  return {
    metadata: {
      name,
      namespace: options.namespace ?? "default",
      annotations: bound ? { [bindCompletedAnnotation]: "yes" } : {},
      ...(options.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
      ...(options.owner
        ? {
            ownerReferences: [
              { apiVersion: "v1", kind: "Pod", name: "p", uid: options.owner, controller: true },
            ],
          }
        : {}),
    },
    spec: {
      ...(options.volume !== undefined ? { volumeName: options.volume } : {}),
      ...(options.storageClass !== undefined ? { storageClassName: options.storageClass } : {}),
      accessModes: options.accessModes ?? ["ReadWriteOnce"],
    },
    status: { phase: options.phase ?? (bound ? "Bound" : "Pending") },
  };
}

/** A volume with required node affinity on the key, and optionally labels. */
function volume(
  name: string,
  affinity?: { key: string; values: string[] },
  labels?: Record<string, string>,
): PersistentVolume {
  return {
    metadata: { name, ...(labels ? { labels } : {}) },
    spec: affinity
      ? {
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: affinity.key, operator: "In", values: affinity.values }] },
              ],
            },
          },
        }
      : {},
  };
}

const storageClass = (name: string, volumeBindingMode: string): StorageClass => ({
  metadata: { name },
  volumeBindingMode,
});

const zonal = (name: string, zone: string): Node =>
  node(name, { labels: { [zoneKey]: zone, [hostKey]: name } });

function clusterWith(
  nodes: Node[],
  objects: { claims?: PersistentVolumeClaim[]; volumes?: PersistentVolume[]; classes?: StorageClass[] },
  pods: Pod[] = [],
): ClusterState {
  const cluster = snapshotOf(nodes, pods);
  for (const c of objects.claims ?? []) cluster.upsertPersistentVolumeClaim(c);
  for (const v of objects.volumes ?? []) cluster.upsertPersistentVolume(v);
  for (const s of objects.classes ?? []) cluster.upsertStorageClass(s);
  return cluster;
}

function decide(cluster: ClusterState, pods: Pod[], group = pods[0]?.metadata.name ?? "") {
  return decisionFor(new SchedulingCore(cluster).cycle(pendingGroupsOf(pods), ownsAll), group);
}

function unschedulable(cluster: ClusterState, p: Pod) {
  const decision = decide(cluster, [p]);
  if (decision.kind !== "unschedulable") throw new Error(`expected unschedulable, got ${decision.kind}`);
  return decision;
}

const threeZones = () => [zonal("a1", "a"), zonal("b1", "b"), zonal("c1", "c")];

describe("the pod's claims, parsed once", () => {
  it("lists persistentVolumeClaim and ephemeral volumes; pods without them share one empty list", () => {
    const p = withVolumes(pod("web"), [
      { name: "cache", emptyDir: {} } as Volume,
      claimVolume("data"),
      { name: "scratch", ephemeral: { volumeClaimTemplate: {} } },
    ]);
    expect(toPodInfo(p).volumeClaims).toEqual([
      { claim: "data", ephemeral: false },
      { claim: "web-scratch", ephemeral: true },
    ]);
    expect(toPodInfo(pod("a")).volumeClaims).toBe(toPodInfo(pod("b")).volumeClaims);
    expect(volumeClaimsOf("x", { containers: [], volumes: [] })).toHaveLength(0);
  });
});

describe("VolumeBinding", () => {
  it("places a pod whose bound claim's volume has zone node affinity in that zone only", () => {
    const cluster = clusterWith(threeZones(), {
      claims: [claim("data", { volume: "pv-b" })],
      volumes: [volume("pv-b", { key: zoneKey, values: ["b"] })],
    });
    const decision = decide(cluster, [withVolumes(pod("p"), [claimVolume("data")])]);
    expect(decision.kind === "bind" && decision.placements.map((p) => p.nodeName)).toEqual(["b1"]);
  });

  it("refuses the other nodes with kube's node affinity conflict, unresolvable", () => {
    const cluster = clusterWith([zonal("a1", "a"), zonal("a2", "a"), node("c1", { cpu: 0.5 })], {
      claims: [claim("data", { volume: "local" })],
      volumes: [volume("local", { key: hostKey, values: ["c1"] })],
    });
    const decision = unschedulable(cluster, withVolumes(pod("p"), [claimVolume("data")]));
    // c1 matches the volume but is too small; a1 and a2 conflict with the volume.
    expect(decision.message).toContain(`2 ${volumeNodeConflictReason}`);
    expect(decision.message).toContain("1 Insufficient cpu");
    expect(decision.unschedulablePlugins).toContain(volumeBindingName);
    const wake = eventNames(decision.wakeOn);
    expect(wake).toEqual(expect.arrayContaining(["PersistentVolumeChange", "NodeUpdateLabel"]));
  });

  it("matches the volume's terms as node affinity does: any term, every expression of it", () => {
    const pv: PersistentVolume = {
      metadata: { name: "pv" },
      spec: {
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: zoneKey, operator: "In", values: ["a"] },
                  { key: "disk", operator: "Exists" },
                ],
              },
              { matchExpressions: [{ key: zoneKey, operator: "In", values: ["c"] }] },
            ],
          },
        },
      },
    };
    const nodes = [
      zonal("a1", "a"),
      node("a2", { labels: { [zoneKey]: "a", disk: "ssd" } }),
      zonal("b1", "b"),
      zonal("c1", "c"),
    ];
    const cluster = clusterWith(nodes, { claims: [claim("data", { volume: "pv" })], volumes: [pv] });
    const info = toPodInfo(withVolumes(pod("p"), [claimVolume("data")]));
    const profile = buildProfile(cluster);
    const { state, rejected } = preFilter(profile, info);
    expect(rejected).toBeUndefined();
    const plugin = profile.filters.find((f) => f.name === volumeBindingName);
    const fits = cluster.nodes.filter((n) => plugin?.filter(info, n, state) === undefined).map((n) => n.name);
    expect(fits).toEqual(["a2", "c1"]);
  });

  it("refuses every node when a bound claim's volume does not exist", () => {
    const cluster = clusterWith(threeZones(), { claims: [claim("data", { volume: "gone" })] });
    const info = toPodInfo(withVolumes(pod("p"), [claimVolume("data")]));
    // VolumeBinding's Filter says so on every node ...
    const binding = buildProfile(cluster).preFilters.find((p) => p.name === volumeBindingName);
    const state = new CycleState();
    expect(binding?.preFilter(state, info)).toBeUndefined();
    const filter = buildProfile(cluster).filters.find((f) => f.name === volumeBindingName);
    expect(filter?.filter(info, cluster.nodes[0] as NodeInfo, state)?.reasons).toEqual([
      volumeNotExistReason,
    ]);
    // ... but, as in kube-scheduler, VolumeZone's PreFilter (run before any Filter) refuses first.
    const decision = unschedulable(cluster, withVolumes(pod("p"), [claimVolume("data")]));
    expect(decision.message).toContain('0/3 nodes are available: persistentvolume "gone" not found.');
  });

  it("skips pods whose bound volumes have no node affinity", () => {
    const cluster = clusterWith(threeZones(), {
      claims: [claim("data", { volume: "nfs" })],
      volumes: [volume("nfs")],
    });
    expect(decide(cluster, [withVolumes(pod("p"), [claimVolume("data")])]).kind).toBe("bind");
    const { state } = preFilter(
      buildProfile(cluster),
      toPodInfo(withVolumes(pod("p"), [claimVolume("data")])),
    );
    // Nothing to check: Success without state (not Skip), so its Filter passes every node.
    expect(state.read(volumeBindingName)).toBeUndefined();
  });

  it.each<[string, PersistentVolumeClaim[], StorageClass[], Volume, string]>([
    ["a missing claim", [], [], claimVolume("data"), 'persistentvolumeclaim "data" not found'],
    [
      "an ephemeral volume's claim not created yet",
      [],
      [],
      { name: "scratch", ephemeral: { volumeClaimTemplate: {} } },
      'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"',
    ],
    [
      "an ephemeral volume's claim the pod does not control",
      [claim("p-scratch", { volume: "pv", owner: "someone-else" })],
      [],
      { name: "scratch", ephemeral: { volumeClaimTemplate: {} } },
      "PVC default/p-scratch was not created for pod default/p (pod is not owner)",
    ],
    [
      "a lost claim",
      [claim("data", { volume: "pv", phase: "Lost" })],
      [],
      claimVolume("data"),
      'persistentvolumeclaim "data" bound to non-existent persistentvolume "pv"',
    ],
    [
      "a claim being deleted",
      [claim("data", { volume: "pv", deleting: true })],
      [],
      claimVolume("data"),
      'persistentvolumeclaim "data" is being deleted',
    ],
    ["an unbound claim without a class", [claim("data")], [], claimVolume("data"), unboundImmediateReason],
    [
      "an unbound claim of an Immediate class",
      [claim("data", { storageClass: "fast" })],
      [storageClass("fast", "Immediate")],
      claimVolume("data"),
      unboundImmediateReason,
    ],
    [
      "an unbound claim of a class that does not exist",
      [claim("data", { storageClass: "nowhere" })],
      [],
      claimVolume("data"),
      unboundImmediateReason,
    ],
    [
      "a pre-bound claim the PV controller has not finished",
      [claim("data", { volume: "pv", bound: false, storageClass: "local" })],
      [storageClass("local", "WaitForFirstConsumer")],
      claimVolume("data"),
      unboundImmediateReason,
    ],
    [
      "an unbound claim of a WaitForFirstConsumer class",
      [claim("data", { storageClass: "local" })],
      [storageClass("local", "WaitForFirstConsumer")],
      claimVolume("data"),
      waitForFirstConsumerReason("data", "local"),
    ],
  ])("refuses %s on every node, unresolvable, with kube's message", (_what, claims, classes, vol, reason) => {
    const cluster = clusterWith(threeZones(), { claims, classes, volumes: [volume("pv")] });
    const p = withVolumes(pod("p"), [vol]);
    const decision = unschedulable(cluster, p);
    expect(decision.message).toContain(`0/3 nodes are available: ${reason}.`);
    // VolumeRestrictions runs first and finds a missing claim first (ephemeral ones it ignores).
    const first =
      reason === 'persistentvolumeclaim "data" not found' ? volumeRestrictionsName : volumeBindingName;
    expect(decision.unschedulablePlugins).toEqual([first]);
    // A claim created or bound is what can help.
    expect(eventNames(decision.wakeOn)).toContain("PersistentVolumeClaimChange");
    const status = preFilter(buildProfile(cluster), toPodInfo(p)).rejected?.status;
    expect(status).toEqual({ code: "UnschedulableAndUnresolvable", reasons: [reason] });
  });

  it("names the claim and says to use kube-scheduler for WaitForFirstConsumer", () => {
    expect(waitForFirstConsumerReason("data", "local")).toBe(
      'persistentvolumeclaim "data" is not bound and its StorageClass "local" binds it to the first pod ' +
        "that uses it (WaitForFirstConsumer), which sharded-scheduler does not support yet; schedule the pod " +
        "with kube-scheduler (spec.schedulerName) or bind the claim first",
    );
  });

  it("places a pod whose ephemeral volume's claim it controls and is bound", () => {
    const p = withVolumes(pod("p"), [{ name: "scratch", ephemeral: { volumeClaimTemplate: {} } }]);
    const cluster = clusterWith(threeZones(), {
      claims: [claim("p-scratch", { volume: "pv-c", owner: p.metadata.uid as string })],
      volumes: [volume("pv-c", { key: zoneKey, values: ["c"] })],
    });
    const decision = decide(cluster, [p]);
    expect(decision.kind === "bind" && decision.placements.map((x) => x.nodeName)).toEqual(["c1"]);
  });

  it("preempts for a gang whose members' volumes are in different zones, each in its own", () => {
    const cluster = clusterWith(
      [zonal("a1", "a"), zonal("b1", "b")],
      {
        claims: [claim("data-0", { volume: "pv-a" }), claim("data-1", { volume: "pv-b" })],
        volumes: [
          volume("pv-a", { key: zoneKey, values: ["a"] }),
          volume("pv-b", { key: zoneKey, values: ["b"] }),
        ],
      },
      [pod("low-a", { nodeName: "a1", cpu: 4 }), pod("low-b", { nodeName: "b1", cpu: 4 })],
    );
    const members = gang("g", 2, { minMember: 2, priority: 100 }).map((m, i) =>
      withVolumes(m, [claimVolume(`data-${i}`)]),
    );
    const decision = decide(cluster, members, "g");
    expect(decision.kind).toBe("preempt");
    if (decision.kind !== "preempt") return;
    expect(decision.plan.nominations.map((n) => [n.pod.name, n.nodeName])).toEqual([
      ["g-0", "a1"],
      ["g-1", "b1"],
    ]);
  });

  it("is refused by the coordinator's trial placement, which holds no claims", () => {
    const coordinator = snapshotOf(threeZones());
    const group = pendingGroupsOf([withVolumes(pod("p"), [claimVolume("data")])])[0];
    if (!group) throw new Error("no group");
    expect(trialPlacement(coordinator, coordinator.nodes, group)).toBeUndefined();
  });
});

describe("VolumeZone", () => {
  const zoned = (labels: Record<string, string>) =>
    clusterWith(
      [
        zonal("a1", "a"),
        zonal("b1", "b"),
        node("beta-b", { labels: { "failure-domain.beta.kubernetes.io/zone": "b" } }),
        node("bare"),
      ],
      { claims: [claim("data", { volume: "pv" })], volumes: [volume("pv", undefined, labels)] },
    );
  const fitting = (cluster: ClusterState) => {
    const info = toPodInfo(withVolumes(pod("p"), [claimVolume("data")]));
    const profile = buildProfile(cluster);
    const { state, rejected } = preFilter(profile, info);
    if (rejected) throw new Error(rejected.status.reasons.join());
    const plugin = profile.filters.find((f) => f.name === volumeZoneName);
    return cluster.nodes.filter((n) => plugin?.filter(info, n, state) === undefined).map((n) => n.name);
  };

  it("keeps a pod in its volume's zone; nodes without any zone label pass (as kube)", () => {
    expect(fitting(zoned({ [zoneKey]: "b" }))).toEqual(["b1", "bare"]);
  });

  it("matches a beta zone label on the volume with the node's GA label, and lists of zones", () => {
    expect(fitting(zoned({ "failure-domain.beta.kubernetes.io/zone": "b" }))).toEqual([
      "b1",
      "beta-b",
      "bare",
    ]);
    expect(fitting(zoned({ [zoneKey]: "a__b" }))).toEqual(["a1", "b1", "bare"]);
  });

  it("refuses other zones with kube's message, unresolvable", () => {
    const cluster = clusterWith(threeZones(), {
      claims: [claim("data", { volume: "pv" })],
      volumes: [volume("pv", undefined, { [zoneKey]: "d" })],
    });
    const decision = unschedulable(cluster, withVolumes(pod("p"), [claimVolume("data")]));
    expect(decision.message).toContain(`0/3 nodes are available: 3 ${volumeZoneReason}.`);
    expect(decision.unschedulablePlugins).toEqual([volumeZoneName]);
  });

  it("skips a pod whose volume has no zone labels", () => {
    const { state } = preFilter(
      buildProfile(zoned({})),
      toPodInfo(withVolumes(pod("p"), [claimVolume("data")])),
    );
    // Nothing to check: Success without state (not Skip), so its Filter passes every node.
    expect(state.read(volumeZoneName)).toBeUndefined();
  });
});

describe("VolumeRestrictions (ReadWriteOncePod)", () => {
  const rwop = () => claim("db", { volume: "pv", accessModes: ["ReadWriteOncePod"] });
  const user = (name: string, options: Parameters<typeof pod>[1] = {}) =>
    withVolumes(pod(name, options), [claimVolume("db")]);

  it("refuses a pod whose claim another pod on a node uses: Unschedulable", () => {
    const cluster = clusterWith(threeZones(), { claims: [rwop()], volumes: [volume("pv")] }, [
      user("holder", { nodeName: "a1", priority: 10 }),
    ]);
    const decision = unschedulable(cluster, user("p", { priority: 10 }));
    expect(decision.message).toContain(`0/3 nodes are available: 3 ${readWriteOncePodConflictReason}.`);
    expect(eventNames(decision.wakeOn)).toContain("AssignedPodDelete");
  });

  it("places it once the holder is gone", () => {
    const cluster = clusterWith(threeZones(), { claims: [rwop()], volumes: [volume("pv")] }, [
      user("holder", { nodeName: "a1" }),
    ]);
    expect(cluster.claimInUse("default", "db")).toBe(true);
    cluster.removePod("default/holder");
    expect(cluster.claimInUse("default", "db")).toBe(false);
    expect(decide(cluster, [user("p")]).kind).toBe("bind");
  });

  it("preempts the lower-priority pod holding the claim", () => {
    const cluster = clusterWith(threeZones(), { claims: [rwop()], volumes: [volume("pv")] }, [
      user("holder", { nodeName: "a1", priority: 0 }),
    ]);
    const decision = decide(cluster, [user("p", { priority: 100 })]);
    expect(decision.kind).toBe("preempt");
    expect(
      decision.kind === "preempt" && decision.plan.victims.flatMap((v) => v.pods.map((x) => x.key)),
    ).toEqual(["default/holder"]);
  });

  it("lets only one member of a gang use the claim: the gang does not fit", () => {
    const cluster = clusterWith(threeZones(), { claims: [rwop()], volumes: [volume("pv")] });
    const members = gang("g", 2, { minMember: 2 }).map((m) => withVolumes(m, [claimVolume("db")]));
    const decision = decide(cluster, members, "g");
    expect(decision.kind).toBe("unschedulable");
    expect(decision.kind === "unschedulable" && decision.message).toContain(readWriteOncePodConflictReason);
  });

  it("does not count a same-named claim of another namespace, nor ReadWriteOnce claims", () => {
    const cluster = clusterWith(
      threeZones(),
      {
        claims: [rwop(), claim("db", { volume: "pv2", namespace: "other" })],
        volumes: [volume("pv"), volume("pv2")],
      },
      [user("elsewhere", { nodeName: "a1", namespace: "other" })],
    );
    expect(decide(cluster, [user("p")]).kind).toBe("bind");
  });
});

describe("VolumeRestrictions (inline disks)", () => {
  const withDisk = (name: string, v: Volume, options: Parameters<typeof pod>[1] = {}) =>
    withVolumes(pod(name, options), [v]);
  const gce = (pdName: string, readOnly = false): Volume => ({
    name: "d",
    gcePersistentDisk: { pdName, readOnly },
  });
  const aws = (volumeID: string): Volume => ({
    name: "d",
    awsElasticBlockStore: { volumeID, readOnly: true },
  });
  const iscsi = (iqn: string, readOnly = false): Volume => ({ name: "d", iscsi: { iqn, readOnly } });
  const rbd = (monitors: string[], image: string, readOnly = false): Volume => ({
    name: "d",
    rbd: { monitors, image, readOnly },
  });

  it.each<[string, Volume, Volume, boolean]>([
    ["the same GCE PD read-write", gce("pd"), gce("pd", true), true],
    ["the same GCE PD read-only twice", gce("pd", true), gce("pd", true), false],
    ["another GCE PD", gce("pd"), gce("other"), false],
    ["the same EBS volume, even read-only", aws("vol-1"), aws("vol-1"), true],
    ["the same iSCSI IQN read-write", iscsi("iqn.a"), iscsi("iqn.a", true), true],
    ["the same iSCSI IQN read-only twice", iscsi("iqn.a", true), iscsi("iqn.a", true), false],
    ["an RBD image sharing a monitor", rbd(["m1", "m2"], "img"), rbd(["m2"], "img"), true],
    ["an RBD image with no monitor in common", rbd(["m1"], "img"), rbd(["m3"], "img"), false],
  ])("%s on the node: conflict %s", (_what, held, wanted, conflicts) => {
    const cluster = snapshotOf(
      [node("n1"), node("n2", { cpu: 0.5 })],
      [withDisk("holder", held, { nodeName: "n1" })],
    );
    const decision = decide(cluster, [withDisk("p", wanted)]);
    if (conflicts) {
      expect(decision.kind).toBe("unschedulable");
      expect(decision.kind === "unschedulable" && decision.message).toContain(
        "1 node(s) had no available disk",
      );
    } else {
      expect(decision.kind === "bind" && decision.placements.map((x) => x.nodeName)).toEqual(["n1"]);
    }
  });

  it("parses disks once; pods without them share one empty list", () => {
    expect(toPodInfo(withDisk("p", rbd(["m"], "img"))).inlineDisks).toEqual([
      { kind: "rbd", monitors: ["m"], pool: "rbd", image: "img", readOnly: false },
    ]);
    expect(toPodInfo(pod("a")).inlineDisks).toBe(toPodInfo(pod("b")).inlineDisks);
    expect(toPodInfo(withDisk("p", gce("pd"))).unsupportedConstraint).toBeUndefined();
  });
});

describe("the stores' cluster events", () => {
  const only = (event: ClusterEvent) => eventsOf([event]);

  it("names a new or changed claim, volume or class; a resync with the same content names none", () => {
    const cluster = snapshotOf([]);
    expect(cluster.upsertPersistentVolumeClaim(claim("data"))).toBe(only("PersistentVolumeClaimChange"));
    expect(cluster.upsertPersistentVolumeClaim(claim("data"))).toBe(0);
    expect(cluster.upsertPersistentVolumeClaim(claim("data", { volume: "pv" }))).toBe(
      only("PersistentVolumeClaimChange"),
    );
    expect(cluster.upsertPersistentVolume(volume("pv"))).toBe(only("PersistentVolumeChange"));
    expect(cluster.upsertPersistentVolume(volume("pv"))).toBe(0);
    expect(cluster.upsertPersistentVolume(volume("pv", undefined, { [zoneKey]: "a" }))).toBe(
      only("PersistentVolumeChange"),
    );
    expect(cluster.upsertStorageClass(storageClass("fast", "Immediate"))).toBe(only("StorageClassChange"));
    expect(cluster.upsertStorageClass(storageClass("fast", "Immediate"))).toBe(0);
    cluster.removePersistentVolumeClaim("default", "data");
    expect(cluster.persistentVolumeClaim("default", "data")).toBeUndefined();
  });

  it("counts the pods using a claim as they are placed, assumed and removed", () => {
    const cluster = snapshotOf(threeZones());
    const a = toPodInfo(withVolumes(pod("a"), [claimVolume("db")]));
    cluster.assume(a, "a1");
    cluster.assume(toPodInfo(withVolumes(pod("b"), [claimVolume("db")])), "b1");
    cluster.removePod("default/a");
    expect(cluster.claimInUse("default", "db")).toBe(true);
    cluster.removePod("default/b");
    expect(cluster.claimInUse("default", "db")).toBe(false);
  });
});
