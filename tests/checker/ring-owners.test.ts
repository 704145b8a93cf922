/**
 * The checker's own account of what the shard ring hashes for a pod (groupHashKeyOf), from the
 * documented rule: a gang by its group, a pod with inter-pod constraints by its controller (or,
 * without one, by the constraints), any other pod by itself.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Pod } from "../../scheduler/src/core/api-types.js";
import { toPodInfo } from "../../scheduler/src/core/build-info.js";
import { crdGroupSource } from "../../scheduler/src/core/gang/crd-group-source.js";
import type { GroupObjects } from "../../scheduler/src/core/gang/group-source.js";
import {
  type CrdApiGroup,
  groupHashKeyOf,
  groupNameOf,
  type HashedPod,
  RingOwners,
  readRingLease,
} from "./ring-owners.js";

const term = { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" };
const controller = { kind: "ReplicaSet", name: "web-7d9f", controller: true };

function pod(
  spec: HashedPod["spec"],
  owners: { kind: string; name: string; controller?: boolean }[],
): HashedPod {
  return { metadata: { name: "web-7d9f-abcde", namespace: "shop", ownerReferences: owners }, spec };
}

describe("groupHashKeyOf", () => {
  const constrained: [string, HashedPod["spec"]][] = [
    [
      "required anti-affinity",
      { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } } },
    ],
    [
      "preferred affinity",
      {
        affinity: {
          podAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, podAffinityTerm: term }],
          },
        },
      },
    ],
    [
      "a ScheduleAnyway spread constraint",
      { topologySpreadConstraints: [{ whenUnsatisfiable: "ScheduleAnyway" }] },
    ],
  ];

  it.each(constrained)("a controller's pod with %s hashes by the controller", (_, spec) => {
    expect(groupHashKeyOf(pod(spec, [{ kind: "Other", name: "x" }, controller]), undefined)).toBe(
      "shop/ReplicaSet/web-7d9f",
    );
  });

  it("a pod without inter-pod constraints hashes by itself", () => {
    expect(groupHashKeyOf(pod({}, [controller]), undefined)).toBe("shop/web-7d9f-abcde");
    expect(groupHashKeyOf(pod({ affinity: { podAntiAffinity: {} } }, [controller]), undefined)).toBe(
      "shop/web-7d9f-abcde",
    );
  });

  it("a pod with inter-pod constraints but no controller hashes by the constraints, whatever their key order", () => {
    const spread = { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone" }] };
    const key = groupHashKeyOf(pod(spread, [{ ...controller, controller: false }]), undefined);
    expect(key).toMatch(/^shop\/InterPodConstraints\/[0-9a-f]{8}$/);
    const other: HashedPod = {
      metadata: { name: "another-pod", namespace: "shop" },
      spec: { topologySpreadConstraints: [{ topologyKey: "zone", maxSkew: 1 }] },
    };
    expect(groupHashKeyOf(other, undefined)).toBe(key);
    const wider = { topologySpreadConstraints: [{ maxSkew: 2, topologyKey: "zone" }] };
    expect(groupHashKeyOf(pod(wider, []), undefined)).not.toBe(key);
  });

  it("a pod group member hashes by its group, constraints and controller aside", () => {
    expect(groupHashKeyOf(pod(constrained[0]?.[1], [controller]), "train")).toBe("shop/train");
  });
});

describe("groupHashKeyOf against the shards' own key", () => {
  it("agrees with the scheduler for any mix of terms, spread constraints, owners and groups", () => {
    const terms = fc.constantFrom<unknown[] | undefined>(undefined, [], [term]);
    fc.assert(
      fc.property(
        fc.record({
          requiredAffinity: terms,
          preferredAffinity: terms,
          requiredAnti: terms,
          preferredAnti: terms,
          spread: fc.constantFrom<
            { maxSkew: number; topologyKey: string; whenUnsatisfiable: "DoNotSchedule" }[] | undefined
          >(undefined, [], [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }]),
          owners: fc.array(
            fc.record({
              kind: fc.constantFrom("ReplicaSet", "Job", ""),
              name: fc.constantFrom("web", "db", ""),
              controller: fc.boolean(),
            }),
            { maxLength: 2 },
          ),
          group: fc.constantFrom(undefined, "train"),
        }),
        ({ requiredAffinity, preferredAffinity, requiredAnti, preferredAnti, spread, owners, group }) => {
          const pod = {
            metadata: {
              name: "p-0",
              namespace: "shop",
              uid: "u",
              ownerReferences: owners.map((o) => ({ apiVersion: "v1", uid: "x", ...o })),
              ...(group ? { annotations: { "sharded-scheduler.io/pod-group": group } } : {}),
            },
            spec: {
              containers: [],
              affinity: {
                podAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: requiredAffinity,
                  preferredDuringSchedulingIgnoredDuringExecution: preferredAffinity,
                },
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: requiredAnti,
                  preferredDuringSchedulingIgnoredDuringExecution: preferredAnti,
                },
              },
              ...(spread ? { topologySpreadConstraints: spread } : {}),
            },
          };
          expect(groupHashKeyOf(pod, group)).toBe(toPodInfo(pod as Pod).group.hashKey);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("groupHashKeyOf for PodGroups", () => {
  const coscheduling = "scheduling.x-k8s.io/pod-group";
  const volcano = "scheduling.k8s.io/group-name";
  const served = new Set<CrdApiGroup>(["scheduling.x-k8s.io", "scheduling.volcano.sh"]);
  const member = (metadata: HashedPod["metadata"], spec: HashedPod["spec"] = {}): HashedPod => ({
    metadata: { name: "w-0", namespace: "shop", ...metadata },
    spec,
  });
  const keyOf = (pod: HashedPod, crds: ReadonlySet<CrdApiGroup>) =>
    groupHashKeyOf(pod, groupNameOf(pod), crds);

  it("hashes a native PodGroup's member by the PodGroup, whatever group keys it carries", () => {
    const pod = member(
      { annotations: { "sharded-scheduler.io/pod-group": "x" } },
      { schedulingGroup: { podGroupName: "train" } },
    );
    expect(keyOf(pod, served)).toBe("shop/PodGroup/train");
    expect(
      keyOf(
        member({ labels: { [coscheduling]: "x" } }, { schedulingGroup: { podGroupName: "train" } }),
        served,
      ),
    ).toBe("shop/PodGroup/train");
  });

  it("hashes a CRD PodGroup's member by the CRD and name where the CRD is served, else by the plain group name", () => {
    const labelled = member({ labels: { [coscheduling]: "train" } });
    const annotated = member({ annotations: { [volcano]: "train" } });
    expect(keyOf(labelled, served)).toBe("shop/PodGroup.scheduling.x-k8s.io/train");
    expect(keyOf(annotated, served)).toBe("shop/PodGroup.scheduling.volcano.sh/train");
    // Without the CRD the key is an annotation-style group name, as before the CRDs were read.
    expect(keyOf(labelled, new Set())).toBe("shop/train");
    expect(keyOf(annotated, new Set(["scheduling.x-k8s.io"]))).toBe("shop/train");
    // Our own group annotation naming the same group agrees: still the CRD's.
    const both = member({
      labels: { [coscheduling]: "train" },
      annotations: { "sharded-scheduler.io/pod-group": "train" },
    });
    expect(keyOf(both, served)).toBe("shop/PodGroup.scheduling.x-k8s.io/train");
  });

  it("leaves a pod naming both served CRDs, or with disagreeing keys, out of any CRD group", () => {
    const twoCrds = member({ labels: { [coscheduling]: "a" }, annotations: { [volcano]: "a" } });
    expect(keyOf(twoCrds, served)).toBe("shop/a");
    expect(keyOf(twoCrds, new Set(["scheduling.volcano.sh"]))).toBe("shop/PodGroup.scheduling.volcano.sh/a");
    const disagreeing = member({
      labels: { [coscheduling]: "a" },
      annotations: { "sharded-scheduler.io/pod-group": "b" },
    });
    expect(keyOf(disagreeing, served)).toBe("shop/w-0");
  });

  it("agrees with the scheduler for any mix of CRD keys, group annotations and served CRDs", () => {
    const name = fc.constantFrom<string | undefined>(undefined, "a", "b");
    fc.assert(
      fc.property(
        fc.record({
          label: name,
          volcanoName: name,
          ours: name,
          servesCoscheduling: fc.boolean(),
          servesVolcano: fc.boolean(),
          exists: fc.boolean(),
        }),
        ({ label, volcanoName, ours, servesCoscheduling, servesVolcano, exists }) => {
          const pod = {
            metadata: {
              name: "p-0",
              namespace: "shop",
              uid: "u",
              labels: (label === undefined ? {} : { [coscheduling]: label }) as Record<string, string>,
              annotations: {
                ...(volcanoName === undefined ? {} : { [volcano]: volcanoName }),
                ...(ours === undefined ? {} : { "sharded-scheduler.io/pod-group": ours }),
              } as Record<string, string>,
            },
            spec: { containers: [] } as HashedPod["spec"],
          };
          const lookup = () => (exists ? { spec: { minMember: 1 } } : undefined);
          const objects: GroupObjects = {
            ...(servesCoscheduling ? { coschedulingPodGroup: lookup } : {}),
            ...(servesVolcano
              ? {
                  volcanoPodGroup: lookup,
                  priorityClasses: { byName: () => undefined, globalDefault: () => undefined },
                }
              : {}),
          };
          const crds = new Set<CrdApiGroup>([
            ...(servesCoscheduling ? (["scheduling.x-k8s.io"] as const) : []),
            ...(servesVolcano ? (["scheduling.volcano.sh"] as const) : []),
          ]);
          expect(keyOf(pod, crds)).toBe(toPodInfo(pod as Pod, crdGroupSource, objects).group.hashKey);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("readRingLease with domains (--shard-by-label)", () => {
  const base = {
    "sharded-scheduler.io/ring-epoch": "4",
    "sharded-scheduler.io/ring-members": "shard-a,shard-b",
  };
  const domains = JSON.stringify({
    key: "topology.kubernetes.io/rack",
    owners: {
      "shard-a": { "rack-0": ["n0", "n1"] },
      "shard-b": { "rack-1": ["n2", "n3"] },
      gone: { "rack-2": ["n4"] },
    },
  });

  it("gives a listed node to the member listing it, a lent node to its borrower, others to the hash", () => {
    const ring = readRingLease({
      ...base,
      "sharded-scheduler.io/ring-domains": domains,
      "sharded-scheduler.io/ring-node-owners": JSON.stringify({ n1: "shard-b" }),
    });
    const hashed = new RingOwners(["shard-a", "shard-b"]);
    expect(["n0", "n1", "n2", "n3"].map((node) => ring?.owners.ownerOf(node))).toEqual([
      "shard-a",
      "shard-b",
      "shard-b",
      "shard-b",
    ]);
    // A member not in the ring lists nothing; an unlisted node is hashed.
    expect(ring?.owners.ownerOf("n4")).toBe(hashed.ownerOf("n4"));
    expect(ring?.owners.ownerOf("other")).toBe(hashed.ownerOf("other"));
  });

  it("hashes every node when the annotation is absent or malformed", () => {
    const hashed = new RingOwners(["shard-a", "shard-b"]);
    for (const annotations of [base, { ...base, "sharded-scheduler.io/ring-domains": "{not json" }])
      expect(["n0", "n2"].map((node) => readRingLease(annotations)?.owners.ownerOf(node))).toEqual(
        ["n0", "n2"].map((node) => hashed.ownerOf(node)),
      );
  });
});
