/**
 * Feasibility-aware routing (core/gang/routing.ts): a group whose statically feasible nodes all
 * belong to shards other than the ring's owner goes to one of those shards, computed alike by
 * every shard from the nodes and the ring; a pin still comes first.
 */
import { describe, expect, it } from "vitest";
import { topologyRequiredAnnotation } from "../../../src/contracts/keys.js";
import type { Pod } from "../../../src/core/api-types.js";
import { toPodInfo } from "../../../src/core/build-info.js";
import { ClusterState } from "../../../src/core/cluster-state.js";
import {
  GroupRouter,
  groupOwner,
  namedNodes,
  type RoutingRing,
  routeGroup,
  staticallyFeasible,
} from "../../../src/core/gang/index.js";
import type { PodInfo } from "../../../src/core/model.js";
import { daemonPod, gang, node, pod } from "../fixtures.js";

/** A ring whose node owners are given by a table (nodes not in it: shard "a"). */
function ringOf(
  owners: Record<string, string>,
  options: { members?: string[]; live?: string[]; ringOwner?: string; version?: number } = {},
): RoutingRing & { asked: string[] } {
  const members = options.members ?? ["a", "b", "c"];
  const asked: string[] = [];
  return {
    version: options.version ?? 1,
    members,
    live: new Set(options.live ?? members),
    ringOwnerOf: () => options.ringOwner ?? "a",
    nodeOwnerOf: (name) => {
      asked.push(name);
      return owners[name] ?? "a";
    },
    asked,
  };
}

function clusterOf(...nodes: ReturnType<typeof node>[]): ClusterState {
  const cluster = new ClusterState();
  for (const n of nodes) cluster.upsertNode(n);
  return cluster;
}

const infos = (pods: Pod[]): PodInfo[] => pods.map((p) => toPodInfo(p));

describe("staticallyFeasible", () => {
  const gpuNode = toNodeInfo(node("g1", { gpus: 2, labels: { pool: "gpu" } }));

  it("needs the nodeSelector, the required node affinity, and every requested resource to fit an empty node", () => {
    expect(staticallyFeasible(toPodInfo(pod("p", { nodeSelector: { pool: "gpu" } })), gpuNode)).toBe(true);
    expect(staticallyFeasible(toPodInfo(pod("p", { nodeSelector: { pool: "cpu" } })), gpuNode)).toBe(false);
    expect(staticallyFeasible(toPodInfo(daemonPod("d", "g1")), gpuNode)).toBe(true);
    expect(staticallyFeasible(toPodInfo(daemonPod("d", "g2")), gpuNode)).toBe(false);
    expect(staticallyFeasible(toPodInfo(pod("p", { gpus: 2 })), gpuNode)).toBe(true);
    expect(staticallyFeasible(toPodInfo(pod("p", { gpus: 3 })), gpuNode)).toBe(false);
    expect(staticallyFeasible(toPodInfo(pod("p", { gpus: 1 })), toNodeInfo(node("plain")))).toBe(false);
    expect(staticallyFeasible(toPodInfo(pod("p", { cpu: 5 })), toNodeInfo(node("plain")))).toBe(false);
  });

  it("reads no room left, readiness or cordon: only what pods coming and going never change", () => {
    const cluster = clusterOf(node("full", { cpu: 1, ready: false, unschedulable: true }));
    cluster.upsertPod(toPodInfo(pod("running", { cpu: 1, nodeName: "full" })));
    expect(staticallyFeasible(toPodInfo(pod("p", { cpu: 1 })), cluster.node("full") as never)).toBe(true);
  });

  it("keeps a pod off a node whose NoSchedule/NoExecute taints it does not tolerate, but not for the lifecycle taints", () => {
    const tainted = toNodeInfo(
      node("t", { taints: [{ key: "dedicated", value: "infra", effect: "NoSchedule" }] }),
    );
    expect(staticallyFeasible(toPodInfo(pod("p")), tainted)).toBe(false);
    const tolerating = pod("p", { tolerations: [{ key: "dedicated", operator: "Exists" }] });
    expect(staticallyFeasible(toPodInfo(tolerating), tainted)).toBe(true);
    const preferred = toNodeInfo(node("t", { taints: [{ key: "x", effect: "PreferNoSchedule" }] }));
    expect(staticallyFeasible(toPodInfo(pod("p")), preferred)).toBe(true);
    const notReady = toNodeInfo(
      node("t", { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] }),
    );
    expect(staticallyFeasible(toPodInfo(pod("p")), notReady)).toBe(true);
  });
});

describe("namedNodes", () => {
  it("lists the nodes every term names with matchFields metadata.name In, else nothing", () => {
    const terms = (daemonPod("d", "n7").spec.affinity?.nodeAffinity
      ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) as never[];
    expect(namedNodes(terms)).toEqual(["n7"]);
    expect(namedNodes(undefined)).toBeUndefined();
    expect(namedNodes([])).toBeUndefined();
    expect(
      namedNodes([
        { matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] },
        { matchExpressions: [{ key: "zone", operator: "In", values: ["z"] }] },
      ]),
    ).toBeUndefined();
    expect(
      namedNodes([{ matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["n1"] }] }]),
    ).toBeUndefined();
  });
});

describe("routeGroup", () => {
  it("leaves the group with the ring's owner when it owns a feasible node, or when no shard does", () => {
    expect(routeGroup("ns/p", "a", new Set(["a", "b"]))).toBeUndefined();
    expect(routeGroup("ns/p", "a", new Set())).toBeUndefined();
    expect(routeGroup("ns/p", undefined, new Set(["b"]))).toBeUndefined();
  });

  it("sends it to the only other feasible owner", () => {
    expect(routeGroup("ns/p", "a", new Set(["c"]))).toBe("c");
  });

  it("among several picks by the hash key, the same in any order, spreading keys over them", () => {
    const picks = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const key = `ns/pod-${i}`;
      const pick = routeGroup(key, "a", new Set(["b", "c"])) as string;
      expect(routeGroup(key, "a", new Set(["c", "b"]))).toBe(pick);
      expect(["b", "c"]).toContain(pick);
      picks.set(pick, (picks.get(pick) ?? 0) + 1);
    }
    expect(picks.get("b")).toBeGreaterThan(100);
    expect(picks.get("c")).toBeGreaterThan(100);
  });
});

describe("GroupRouter", () => {
  it("routes a daemon pod to the owner of its node, looking at that node only", () => {
    const cluster = clusterOf(node("n1"), node("n2"), node("n3"));
    const router = new GroupRouter(cluster, () => 0);
    const ring = ringOf({ n1: "a", n2: "b", n3: "c" });
    expect(router.route("default/d2", infos([daemonPod("d2", "n2")]), ring)).toBe("b");
    expect(ring.asked).toEqual(["n2"]);
    // Its node is the ring owner's: no routing.
    expect(router.route("default/d1", infos([daemonPod("d1", "n1")]), ring)).toBeUndefined();
    // A node that does not exist (yet): the ring's owner keeps it, and tells its pod why it waits.
    expect(router.route("default/d9", infos([daemonPod("d9", "n9")]), ring)).toBeUndefined();
  });

  it("routes pods needing an extended resource or selecting a few nodes to the shard that owns them", () => {
    const cluster = clusterOf(
      node("n1"),
      node("n2"),
      node("n3"),
      node("g1", { gpus: 4 }),
      node("s1", { labels: { pool: "special" } }),
    );
    const router = new GroupRouter(cluster, () => 0);
    const ring = ringOf({ n1: "a", n2: "b", n3: "c", g1: "c", s1: "b" });
    expect(router.route("default/gpu", infos([pod("gpu", { gpus: 1 })]), ring)).toBe("c");
    expect(
      router.route("default/sel", infos([pod("sel", { nodeSelector: { pool: "special" } })]), ring),
    ).toBe("b");
    // An unconstrained pod fits everywhere: the ring's owner keeps it.
    expect(router.route("default/any", infos([pod("any")]), ring)).toBeUndefined();
  });

  it("routes a pod whose claim is bound to a local volume to the owner of the volume's node, once the claim is bound", () => {
    const cluster = clusterOf(node("n1"), node("n2"), node("n3"));
    const router = new GroupRouter(cluster, () => 0);
    const ring = ringOf({ n1: "a", n2: "b", n3: "c" });
    const withClaim = pod("db");
    withClaim.spec.volumes = [{ name: "data", persistentVolumeClaim: { claimName: "data" } }];
    const members = infos([withClaim]);
    const claim = {
      metadata: { name: "data", namespace: "default" },
      spec: { storageClassName: "local", accessModes: ["ReadWriteOnce"] },
    };
    cluster.upsertPersistentVolumeClaim(claim);
    // Not bound yet: no volume to follow, the ring's owner keeps it (VolumeBinding tells it why it waits).
    expect(router.route("default/db", members, ring)).toBeUndefined();
    cluster.upsertPersistentVolume({
      metadata: { name: "local-n3" },
      spec: {
        storageClassName: "local",
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["n3"] }] },
            ],
          },
        },
      },
    });
    cluster.upsertPersistentVolumeClaim({ ...claim, spec: { ...claim.spec, volumeName: "local-n3" } });
    expect(staticallyFeasible(members[0] as PodInfo, cluster.node("n1") as never, cluster)).toBe(false);
    expect(staticallyFeasible(members[0] as PodInfo, cluster.node("n3") as never, cluster)).toBe(true);
    // The claim's binding changed the volume topology version: the cached answer is not reused.
    expect(router.route("default/db", members, ring)).toBe("c");
  });

  it("takes a gang's members together: routed only when no member fits a node of the ring's owner", () => {
    const cluster = clusterOf(node("n1"), node("g1", { gpus: 4 }), node("g2", { gpus: 4 }));
    const router = new GroupRouter(cluster, () => 0);
    const ring = ringOf({ n1: "a", g1: "b", g2: "b" });
    expect(router.route("default/g", infos(gang("g", 3, { gpus: 1 })), ring)).toBe("b");
    const mixed = [...gang("m", 2, { gpus: 1 }), pod("m-2", { group: "m" })];
    expect(router.route("default/m", infos(mixed), ring)).toBeUndefined();
  });

  it("never routes to a shard that is not live, nor with a ring of one", () => {
    const cluster = clusterOf(node("n1"), node("g1", { gpus: 4 }));
    const router = new GroupRouter(cluster, () => 0);
    const gpuPod = infos([pod("gpu", { gpus: 1 })]);
    expect(router.route("default/gpu", gpuPod, ringOf({ g1: "b" }, { live: ["a", "c"] }))).toBeUndefined();
    expect(router.route("default/gpu", gpuPod, ringOf({ g1: "b" }, { members: ["a"] }))).toBeUndefined();
  });

  it("answers anew when the nodes or the ring change, and from its cache otherwise", () => {
    const cluster = clusterOf(node("n1"), node("s1"), node("s2"));
    let version = 0;
    const router = new GroupRouter(cluster, () => version);
    const selecting = () => infos([pod("sel", { nodeSelector: { pool: "special" } })]);
    const ring = ringOf({ n1: "a", s1: "b", s2: "c" });
    expect(router.route("default/sel", selecting(), ring)).toBeUndefined();
    cluster.upsertNode(node("s1", { labels: { pool: "special" } }));
    // Cached while the version stands.
    expect(router.route("default/sel", selecting(), ring)).toBeUndefined();
    version++;
    expect(router.route("default/sel", selecting(), ring)).toBe("b");
    // The node is lent to c: the next ring (a new version) routes the group with it.
    expect(
      router.route("default/sel", selecting(), ringOf({ n1: "a", s1: "c", s2: "c" }, { version: 2 })),
    ).toBe("c");
  });

  it("asks few nodes for an unconstrained pod: it stops once every live shard owns a feasible one", () => {
    const nodes = Array.from({ length: 300 }, (_, i) => node(`n${i}`));
    const cluster = clusterOf(...nodes);
    const owners = Object.fromEntries(
      nodes.map((n, i) => [n.metadata.name, ["a", "b", "c"][i % 3] as string]),
    );
    const ring = ringOf(owners);
    expect(new GroupRouter(cluster, () => 0).route("default/any", infos([pod("any")]), ring)).toBeUndefined();
    expect(ring.asked.length).toBeLessThanOrEqual(3);
  });
});

describe("GroupRouter with a required topology", () => {
  const rackKey = "topology.kubernetes.io/rack";
  /** Members requiring one rack (sharded-scheduler.io/topology-required). */
  const rackGang = (name: string, size: number, cpu: number): PodInfo[] =>
    infos(
      gang(name, size, { cpu }).map((p) => {
        p.metadata.annotations = { ...p.metadata.annotations, [topologyRequiredAnnotation]: rackKey };
        return p;
      }),
    );
  /** `count` nodes of rack `rack`, named rack-i. */
  const rackNodes = (rack: string, count: number, options: { cpu?: number; pods?: number } = {}) =>
    Array.from({ length: count }, (_, i) =>
      node(`${rack}-${i}`, { ...options, labels: { [rackKey]: rack } }),
    );
  /** Racks r1 (2 nodes of 4 cpu), r2 (4 nodes), r3 (2 nodes). */
  const racks = () => clusterOf(...rackNodes("r1", 2), ...rackNodes("r2", 4), ...rackNodes("r3", 2));

  it("sends a gang whose hash owner owns no rack big enough to the shard that owns one", () => {
    const router = new GroupRouter(racks(), () => 0);
    // Shards aligned by rack: a owns r1, b owns r2, c owns r3; a is the ring's owner.
    const ring = ringOf({ "r2-0": "b", "r2-1": "b", "r2-2": "b", "r2-3": "b", "r3-0": "c", "r3-1": "c" });
    // 4 pods of 3 cpu: 12 cpu, only r2's 16 holds them.
    expect(router.route("default/g", rackGang("g", 4, 3), ring)).toBe("b");
    // Six such pods (18 cpu) fit no rack: the answer for four is not reused for them.
    expect(router.route("default/h", rackGang("h", 6, 3), ring)).toBeUndefined();
    // The same pods without the constraint fit anywhere: the ring's owner keeps them.
    expect(router.route("default/p", infos(gang("p", 4, { cpu: 3 })), ring)).toBeUndefined();
  });

  it("changes nothing with per-node hashing: every shard owns part of every rack", () => {
    const cluster = racks();
    const router = new GroupRouter(cluster, () => 0);
    const owners = Object.fromEntries(
      cluster.nodes.map((n, i) => [n.name, ["a", "b", "c"][i % 3] as string]),
    );
    expect(router.route("default/g", rackGang("g", 4, 3), ringOf(owners))).toBeUndefined();
  });

  it("leaves a gang no rack can hold with its ring owner, which says why", () => {
    const router = new GroupRouter(racks(), () => 0);
    const ring = ringOf({ "r2-0": "b", "r2-1": "b", "r2-2": "b", "r2-3": "b", "r3-0": "c", "r3-1": "c" });
    // 6 pods of 3 cpu: 18 cpu, more than any rack's allocatable.
    expect(router.route("default/g", rackGang("g", 6, 3), ring)).toBeUndefined();
  });

  it("counts a rack's pod slots, not only its resources", () => {
    // r3 has 64 cpu but one pod slot per node: it cannot hold 4 pods.
    const cluster = clusterOf(...rackNodes("r1", 2), ...rackNodes("r3", 2, { cpu: 32, pods: 1 }));
    const router = new GroupRouter(cluster, () => 0);
    const ring = ringOf({ "r3-0": "c", "r3-1": "c" });
    expect(router.route("default/g", rackGang("g", 4, 3), ring)).toBeUndefined();
    // Two pods fit its two slots: r3 can hold them, and c owns it.
    expect(router.route("default/h", rackGang("h", 2, 10), ring)).toBe("c");
  });

  it("keeps the required key in the cache key: a pod needing a label no node has fits no shard", () => {
    const router = new GroupRouter(racks(), () => 0);
    const ring = ringOf({ "r2-0": "b" });
    const [plain] = infos([pod("p", { cpu: 1 })]);
    const zoned = pod("z", { cpu: 1 });
    zoned.metadata.annotations = { [topologyRequiredAnnotation]: "topology.kubernetes.io/zone" };
    expect(router.feasibleOwners(plain as PodInfo, ring).size).toBe(2);
    expect(router.feasibleOwners(toPodInfo(zoned), ring).size).toBe(0);
  });
});

describe("groupOwner with a route", () => {
  const live = new Set(["a", "b", "c"]);

  it("takes a live pin first, then a live route, then the ring's owner", () => {
    expect(groupOwner("a", "c", live, "b")).toBe("c");
    expect(groupOwner("a", undefined, live, "b")).toBe("b");
    expect(groupOwner("a", "gone", live, "b")).toBe("b");
    expect(groupOwner("a", undefined, live, "gone")).toBe("a");
    expect(groupOwner("a", undefined, live)).toBe("a");
  });
});

function toNodeInfo(n: ReturnType<typeof node>) {
  return clusterOf(n).node(n.metadata.name) as NonNullable<ReturnType<ClusterState["node"]>>;
}
