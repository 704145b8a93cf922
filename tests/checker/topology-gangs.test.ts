import type * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { groupsThatFit, type RoomNode } from "./free-room.js";
import { InvariantLedger, minMemberAnnotation, podGroupAnnotation } from "./invariant-ledger.js";
import {
  annotationTopologyKey,
  podGroupTopologyKeys,
  topologyRequiredAnnotation,
  topologySplit,
} from "./topology-gangs.js";

const rack = "topology.kubernetes.io/rack";
const block = "example.com/block";

describe("topologySplit", () => {
  const member = (pod: string, labels: Record<string, string> | undefined) => ({
    pod,
    node: `node-of-${pod}`,
    nodeLabels: labels,
  });

  it("accepts members sharing one value of the key", () => {
    expect(
      topologySplit(rack, [member("a", { [rack]: "r1" }), member("b", { [rack]: "r1", [block]: "b2" })]),
    ).toBeUndefined();
  });

  it("names the domains of a split gang, the largest first", () => {
    expect(
      topologySplit(rack, [
        member("a", { [rack]: "r2" }),
        member("b", { [rack]: "r1" }),
        member("c", { [rack]: "r1" }),
      ]),
    ).toBe(`members in 2 domains: ${rack}=r1 (2: b, c); ${rack}=r2 (1: a)`);
  });

  it("blames a member on a node without the key, even alone", () => {
    expect(topologySplit(rack, [member("a", { [block]: "b1" })])).toBe(
      `a on node-of-a, which has no ${rack} label`,
    );
  });

  it("does not judge members on nodes it does not know", () => {
    expect(topologySplit(rack, [member("a", { [rack]: "r1" }), member("b", undefined)])).toBeUndefined();
  });

  it("reads both sources: the annotation and every PodGroup topology key", () => {
    expect(annotationTopologyKey({ [topologyRequiredAnnotation]: ` ${rack} ` })).toBe(rack);
    expect(annotationTopologyKey({ [topologyRequiredAnnotation]: "" })).toBeUndefined();
    expect(annotationTopologyKey(undefined)).toBeUndefined();
    expect(
      podGroupTopologyKeys({ schedulingConstraints: { topology: [{ key: block }, {}, { key: rack }] } }),
    ).toEqual([block, rack]);
    expect(podGroupTopologyKeys({ schedulingPolicy: { gang: { minCount: 2 } } })).toEqual([]);
  });
});

function node(name: string, labels: Record<string, string>): k8s.V1Node {
  return {
    metadata: { name, labels: { type: "kwok", ...labels } },
    status: {
      allocatable: { cpu: "8", memory: "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

/** Racks r1 (n1, n2) and r2 (n3); n4 carries no rack label. */
function ledgerWithRacks(): InvariantLedger {
  const ledger = new InvariantLedger();
  ledger.node(node("n1", { [rack]: "r1" }), false);
  ledger.node(node("n2", { [rack]: "r1" }), false);
  ledger.node(node("n3", { [rack]: "r2" }), false);
  ledger.node(node("n4", {}), false);
  return ledger;
}

interface MemberShape {
  node?: string;
  /** Annotation gang of this name (min-member 2, topology by annotation unless annotated false). */
  group?: string;
  annotated?: boolean;
  /** A native PodGroup member. */
  podGroup?: string;
  deleting?: boolean;
}

function member(name: string, shape: MemberShape): k8s.V1Pod {
  const annotations: Record<string, string> = {};
  if (shape.group) {
    annotations[podGroupAnnotation] = shape.group;
    annotations[minMemberAnnotation] = "2";
    if (shape.annotated !== false) annotations[topologyRequiredAnnotation] = rack;
  }
  return {
    metadata: {
      name,
      namespace: "ns",
      uid: `uid-${name}`,
      annotations,
      ...(shape.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: {
      containers: [{ name: "main", resources: { requests: { cpu: "1" } } }],
      ...(shape.node ? { nodeName: shape.node } : {}),
      ...(shape.podGroup ? { schedulingGroup: { podGroupName: shape.podGroup } } : {}),
    } as k8s.V1PodSpec,
    status: { phase: shape.node ? "Running" : "Pending" },
  };
}

const nativePodGroup = (name: string, topology: { key: string }[]) => ({
  apiVersion: "scheduling.k8s.io/v1beta1",
  kind: "PodGroup",
  metadata: { name, namespace: "ns" },
  spec: { schedulingPolicy: { gang: { minCount: 2 } }, schedulingConstraints: { topology } },
});

describe("topologySplitGangs", () => {
  it("accepts an annotation gang whole in one rack", () => {
    const ledger = ledgerWithRacks();
    ledger.pod(member("g-0", { group: "g", node: "n1" }), false, 0);
    ledger.pod(member("g-1", { group: "g", node: "n2" }), false, 1);
    ledger.tick(2);
    expect(ledger.counts().topologySplitGangs).toBe(0);
  });

  it("counts an annotation gang split over two racks, once", () => {
    const ledger = ledgerWithRacks();
    ledger.pod(member("g-0", { group: "g", node: "n1" }), false, 0);
    ledger.pod(member("g-1", { group: "g", node: "n3" }), false, 1);
    ledger.tick(2);
    ledger.tick(3);
    expect(ledger.counts().topologySplitGangs).toBe(1);
    expect(ledger.violations.find((v) => v.kind === "topologySplitGangs")?.detail).toBe(
      `group:ns/g requires one ${rack} domain: members in 2 domains: ${rack}=r1 (1: ns/g-0); ${rack}=r2 (1: ns/g-1)`,
    );
  });

  it("counts a member on a node without the rack label", () => {
    const ledger = ledgerWithRacks();
    ledger.pod(member("g-0", { group: "g", node: "n4" }), false, 0);
    expect(ledger.counts().topologySplitGangs).toBe(1);
  });

  it("does not judge a gang without a required topology, nor members already leaving", () => {
    const ledger = ledgerWithRacks();
    ledger.pod(member("free-0", { group: "free", annotated: false, node: "n1" }), false, 0);
    ledger.pod(member("free-1", { group: "free", annotated: false, node: "n3" }), false, 0);
    // The gang's first placement is leaving (evicted); its replacements run in another rack.
    ledger.pod(member("g-0", { group: "g", node: "n1", deleting: true }), false, 0);
    ledger.pod(member("g-1", { group: "g", node: "n3" }), false, 1);
    ledger.pod(member("g-2", { group: "g", node: "n3" }), false, 1);
    expect(ledger.counts().topologySplitGangs).toBe(0);
  });

  it("reads a native PodGroup's schedulingConstraints.topology, seen before or after its members", () => {
    const before = ledgerWithRacks();
    before.podGroup(nativePodGroup("pg", [{ key: rack }]), false, 0);
    before.pod(member("pg-0", { podGroup: "pg", node: "n1" }), false, 1);
    before.pod(member("pg-1", { podGroup: "pg", node: "n2" }), false, 1);
    expect(before.counts().topologySplitGangs).toBe(0);
    before.pod(member("pg-2", { podGroup: "pg", node: "n3" }), false, 2);
    expect(before.counts().topologySplitGangs).toBe(1);

    const after = ledgerWithRacks();
    after.pod(member("pg-0", { podGroup: "pg", node: "n1" }), false, 0);
    after.pod(member("pg-1", { podGroup: "pg", node: "n3" }), false, 0);
    expect(after.counts().topologySplitGangs).toBe(0);
    after.podGroup(nativePodGroup("pg", [{ key: rack }]), false, 1);
    expect(after.counts().topologySplitGangs).toBe(1);
  });

  it("judges every key a PodGroup lists", () => {
    const ledger = new InvariantLedger();
    ledger.node(node("n1", { [rack]: "r1", [block]: "b1" }), false);
    ledger.node(node("n2", { [rack]: "r1", [block]: "b2" }), false);
    ledger.podGroup(nativePodGroup("pg", [{ key: rack }, { key: block }]), false, 0);
    ledger.pod(member("pg-0", { podGroup: "pg", node: "n1" }), false, 1);
    ledger.pod(member("pg-1", { podGroup: "pg", node: "n2" }), false, 1);
    expect(ledger.violations.find((v) => v.kind === "topologySplitGangs")?.detail).toMatch(
      /requires one example.com\/block domain/,
    );
  });
});

describe("lostPods with a required topology", () => {
  const room = (name: string, cpu: number, labels: Record<string, string>): RoomNode => ({
    name,
    labels,
    taints: [],
    usable: true,
    allocatable: new Map([["cpu", cpu]]),
    used: new Map(),
  });
  const pod = (cpu: number) => ({
    requests: new Map([["cpu", cpu]]),
    nodeSelector: {},
    tolerations: [],
    hasAffinity: false,
  });

  it("claims a topology gang only where one domain holds all of it", () => {
    const nodes = [room("a", 4, { [rack]: "r1" }), room("b", 4, { [rack]: "r2" }), room("c", 8, {})];
    const gang = { id: "g", priority: 0, pods: [pod(3), pod(3)] };
    expect(groupsThatFit(nodes, [gang])).toEqual(["g"]);
    expect(groupsThatFit(nodes, [{ ...gang, topologyKeys: [rack] }])).toEqual([]);
    const roomy = [...nodes, room("d", 4, { [rack]: "r2" })];
    expect(groupsThatFit(roomy, [{ ...gang, topologyKeys: [rack] }])).toEqual(["g"]);
    // The room it took in r2 is reserved: a second such gang no longer fits.
    expect(
      groupsThatFit(roomy, [
        { ...gang, topologyKeys: [rack] },
        { ...gang, id: "h", topologyKeys: [rack] },
      ]),
    ).toEqual(["g"]);
  });

  it("passes the group's required keys from the pods and the PodGroup to the packing", () => {
    const ledger = ledgerWithRacks();
    // Each rack has 8 cpu per node; a gang of two 7-cpu members fits r1 (two nodes), not r2.
    const sized = (pod: k8s.V1Pod, cpu: string) => {
      (pod.spec?.containers[0] as k8s.V1Container).resources = { requests: { cpu } };
      return pod;
    };
    const big = (name: string) => sized(member(name, { group: "g" }), "7");
    ledger.pod(member("x", { node: "n1" }), false, 0);
    ledger.pod(big("g-0"), false, 0);
    ledger.pod(big("g-1"), false, 0);
    // n1 holds 1 cpu of x: r1 has 7 + 8 free, holding both; r2 and the unlabelled n4 do not count.
    expect([...ledger.pendingGroupsThatFit().keys()]).toEqual(["group:ns/g"]);
    // y leaves 6 cpu on n2: r1 no longer holds two 7-cpu members, though the cluster would (n3, n4).
    ledger.pod(sized(member("y", { node: "n2" }), "2"), false, 1);
    expect([...ledger.pendingGroupsThatFit().keys()]).toEqual([]);
  });
});
