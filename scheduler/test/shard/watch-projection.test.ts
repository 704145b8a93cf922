/**
 * What a shard keeps of a watched pod and node: a pod and a node as the API server sends them
 * (captured from a local cluster: a Deployment's pod that KWOK runs) lose managedFields and what
 * nothing reads, and keep what the cache, the plugins and the status writers read. The plugins
 * decide alike on kept and whole objects: pods that use every field a plugin reads are parsed
 * and scheduled both ways and the answers compared.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ownerCondition, ownerPinOf } from "../../src/contracts/owner-condition.js";
import type { Container, Node, Pod, Volume } from "../../src/core/api-types.js";
import { toNodeInfo, toPodInfo } from "../../src/core/build-info.js";
import type { PodInfo } from "../../src/core/model.js";
import {
  keptNamespace,
  keptNode,
  keptPod,
  keptSelectorOwner,
  SharedValues,
  withoutManagedFields,
} from "../../src/shard/watch-projection.js";
import { node, pod, runCycle } from "../core/fixtures.js";

const watched = (file: string) =>
  JSON.parse(readFileSync(new URL(`./watch-events/${file}`, import.meta.url), "utf8")).object;
const wirePod = (): Pod => watched("pod.json");
const wireNode = (): Node => watched("node.json");

/** None of these keys is left anywhere in the object. */
function expectDropped(object: unknown, keys: readonly string[]): void {
  const text = JSON.stringify(object);
  for (const key of keys) expect(text, key).not.toContain(`"${key}"`);
}

/** A PodInfo as plain data: functions applied to a few label sets, the pod object left out. */
function comparable(info: PodInfo): unknown {
  const probes = [{}, info.labels, { app: "web" }, { app: "db", tier: "backend" }];
  return JSON.parse(
    JSON.stringify(info, (key, value) => {
      if (key === "pod") return undefined;
      if (typeof value === "function") return probes.map((labels) => value(labels));
      return value;
    }),
  );
}

/** A pending pod that uses every pod field a plugin or the gang code reads. */
function everyField(name: string): Pod {
  const base = pod(name, { cpu: "500m", memory: "256Mi" });
  return {
    metadata: {
      ...base.metadata,
      uid: `uid-${name}`,
      resourceVersion: "42",
      creationTimestamp: "2026-12-05T10:00:00Z",
      labels: { app: "web", tier: "frontend" },
      annotations: { "example.com/note": "kept", "kubectl.kubernetes.io/last-applied-configuration": "{}" },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-1", uid: "rs", controller: true },
      ],
      managedFields: [{ manager: "kubectl", operation: "Apply" }],
    } as Pod["metadata"],
    spec: {
      ...base.spec,
      priority: 100,
      priorityClassName: "high",
      preemptionPolicy: "Never",
      nodeSelector: { disk: "ssd" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "web", effect: "NoSchedule" }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a", "b"] }] }],
          },
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" },
          ],
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 10,
              podAffinityTerm: { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "zone" },
            },
          ],
        },
      },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: "zone",
          whenUnsatisfiable: "DoNotSchedule",
          labelSelector: { matchLabels: { app: "web" } },
          matchLabelKeys: ["tier"],
        },
      ],
      volumes: [
        { name: "data", persistentVolumeClaim: { claimName: "data" } },
        { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: {} } } },
        { name: "disk", gcePersistentDisk: { pdName: "pd-1" } },
        { name: "config", configMap: { name: "web" } } as Volume,
      ],
      containers: [
        {
          name: "web",
          image: "web:1",
          env: [{ name: "A", value: "b" }],
          resources: { requests: { cpu: "500m", memory: "256Mi" }, limits: { cpu: "1" } },
          ports: [{ containerPort: 8080, hostPort: 8080, protocol: "TCP" }],
        } as Container,
      ],
      initContainers: [
        { name: "sidecar", restartPolicy: "Always", resources: { requests: { cpu: "100m" } } },
        { name: "init", resources: { requests: { memory: "1Gi" } } },
      ],
      overhead: { cpu: "50m" },
      resources: { requests: { cpu: "2" } },
      resourceClaims: [{ name: "gpu", resourceClaimName: "gpu-claim" }],
      schedulingGates: [],
      schedulingGroup: null,
    },
    status: {
      phase: "Pending",
      nominatedNodeName: "n1",
      conditions: [
        { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes" },
        { ...ownerCondition({ shard: "shard-1", reason: "Preempting", epoch: 3 }, 0) },
        { type: "Ready", status: "False", reason: "ContainersNotReady" },
      ],
    },
  };
}

describe("what a shard keeps of a watched pod", () => {
  it("drops managedFields and what nothing reads of a pod as the API server sends it", () => {
    const whole = wirePod();
    const kept = keptPod(whole);
    expect(JSON.stringify(whole)).toContain("managedFields");
    expectDropped(kept, [
      "managedFields",
      "generateName",
      "image",
      "readinessProbe",
      "volumeMounts",
      "containerStatuses",
      "podIP",
      "hostIP",
      "startTime",
      "qosClass",
      "serviceAccountName",
      "securityContext",
      "lastTransitionTime",
      "configMap",
      "projected",
    ]);
    expect(JSON.stringify(kept).length).toBeLessThan(JSON.stringify(whole).length / 3);
    // What the cache, the group sources, the status writers and the checker-visible writes read.
    const { metadata } = whole;
    expect(kept.metadata).toMatchObject({
      name: metadata.name,
      namespace: metadata.namespace,
      uid: metadata.uid,
      resourceVersion: metadata.resourceVersion,
      creationTimestamp: metadata.creationTimestamp,
      labels: metadata.labels,
      annotations: metadata.annotations,
      ownerReferences: metadata.ownerReferences,
    });
    expect(kept.spec).toMatchObject({
      nodeName: whole.spec.nodeName,
      schedulerName: whole.spec.schedulerName,
      priority: whole.spec.priority,
      preemptionPolicy: whole.spec.preemptionPolicy,
      affinity: whole.spec.affinity,
      tolerations: whole.spec.tolerations,
    });
    expect(kept.spec.containers.map((c) => c.name)).toEqual(whole.spec.containers.map((c) => c.name));
    expect(kept.spec.containers[0]?.resources).toEqual(whole.spec.containers[0]?.resources);
    expect(kept.spec.containers[0]?.ports).toEqual(whole.spec.containers[0]?.ports);
    // A configMap and the service account token (projected): nothing a plugin reads.
    expect(whole.spec.volumes?.map((v) => Object.keys(v).sort())).toEqual([
      ["configMap", "name"],
      ["name", "projected"],
    ]);
    expect(kept.spec.volumes).toBeUndefined();
    expect(kept.status?.phase).toBe("Running");
    // Only PodScheduled of the conditions KWOK and the scheduler wrote (Ready, Initialized, …).
    expect(whole.status?.conditions?.length).toBeGreaterThan(1);
    expect(kept.status?.conditions).toEqual([{ type: "PodScheduled", status: "True" }]);
    expect(comparable(toPodInfo(kept))).toEqual(comparable(toPodInfo(whole)));
  });

  it("keeps every field a plugin, a group source or a status writer reads", () => {
    const whole = everyField("p");
    const kept = keptPod(whole);
    expect(comparable(toPodInfo(kept))).toEqual(comparable(toPodInfo(whole)));
    expect(kept.metadata.annotations).toEqual({ "example.com/note": "kept" });
    // The claims and the disk, with their names; the configMap volume is dropped.
    expect(kept.spec.volumes?.map((v) => v.name)).toEqual(["data", "scratch", "disk"]);
    expect(whole.spec.volumes?.map((v) => v.name)).toEqual(["data", "scratch", "disk", "config"]);
    expect(kept.spec.schedulingGroup).toBeNull();
    expect(kept.spec.initContainers).toEqual(whole.spec.initContainers);
    expect(kept.status).toEqual({
      phase: "Pending",
      nominatedNodeName: "n1",
      conditions: whole.status?.conditions?.slice(0, 2).map(({ type, status, reason, message }) => ({
        type,
        status,
        reason,
        message,
      })),
    });
    // The Owner condition pins the group as before; PodScheduled's message is what the writer compares.
    expect(ownerPinOf(kept)).toEqual(ownerPinOf(whole));
    expect(ownerPinOf(kept)?.shard).toBe("shard-1");
    expect(JSON.stringify(kept)).not.toContain("managedFields");
    // A field the projection does not know is dropped: this test names each one kept.
    expect(Object.keys(kept.spec).sort()).toEqual(
      [
        "affinity",
        "containers",
        "initContainers",
        "nodeName",
        "nodeSelector",
        "overhead",
        "preemptionPolicy",
        "priority",
        "priorityClassName",
        "resourceClaims",
        "resources",
        "schedulerName",
        "schedulingGates",
        "schedulingGroup",
        "tolerations",
        "topologySpreadConstraints",
        "volumes",
      ].sort(),
    );
  });

  it("schedules alike from kept and whole objects", () => {
    const nodes = ["n1", "n2", "n3", "n4"].map((name, i) =>
      node(name, {
        cpu: 4,
        labels: { disk: i === 3 ? "hdd" : "ssd", zone: i % 2 === 0 ? "a" : "b" },
        taints: i === 2 ? [{ key: "dedicated", value: "web", effect: "NoSchedule" }] : undefined,
      }),
    );
    // The nodes as the API server sends them: managedFields, images, addresses and all.
    const wholeNodes = nodes.map((n): Node => {
      const wire = wireNode();
      return { ...n, metadata: { ...wire.metadata, ...n.metadata }, status: { ...wire.status, ...n.status } };
    });
    const variant = (name: string, spec: Partial<Pod["spec"]>): Pod => {
      const p = everyField(name);
      // No PersistentVolumeClaims or resource claims here: they would refuse every pod alike.
      const volumes = p.spec.volumes?.filter((v) => !v.persistentVolumeClaim && !v.ephemeral);
      return { ...p, spec: { ...p.spec, volumes, resourceClaims: undefined, ...spec } };
    };
    const wholePods = [
      variant("running", { nodeName: "n1" }),
      variant("a", {}),
      variant("b", {}),
      variant("gated", { schedulingGates: [{ name: "wait" }] }),
      variant("claims", { resourceClaims: [{ name: "gpu" }] }),
    ];
    const strip = (decisions: unknown) =>
      JSON.parse(JSON.stringify(decisions, (key, value) => (key === "pod" ? undefined : value)));
    const whole = runCycle(wholeNodes, wholePods);
    const kept = runCycle(wholeNodes.map(keptNode), wholePods.map(keptPod));
    expect(strip(kept.decisions)).toEqual(strip(whole.decisions));
    expect(kept.decisions.map((d) => d.kind).sort()).toEqual([
      "bind",
      "bind",
      "unschedulable",
      "unschedulable",
    ]);
  });
});

describe("values shared across replicas", () => {
  it("gives replicas one copy of their identical labels, tolerations, containers and conditions", () => {
    const [a, b] = [keptPod(everyField("a")), keptPod(everyField("b"))];
    expect(a.metadata.labels).toBe(b.metadata.labels);
    expect(a.spec.tolerations).toBe(b.spec.tolerations);
    expect(a.spec.affinity).toBe(b.spec.affinity);
    expect(a.spec.containers[0]).toBe(b.spec.containers[0]);
    expect(a.status?.conditions?.[0]).toBe(b.status?.conditions?.[0]);
    // The lists and the status whole, not only their items.
    expect(a.spec.containers).toBe(b.spec.containers);
    expect(a.status).toBe(b.status);
    expect(a.metadata.uid).not.toBe(b.metadata.uid);
  });

  it("computes a pod's requests once for every version and replica sharing its containers", () => {
    // Each watch event is a fresh decode: a pod pending, then bound, and a replica of it.
    const pending = keptPod(wirePod());
    const bound = keptPod({ ...wirePod(), spec: { ...wirePod().spec, nodeName: "node-1" } });
    const replica = keptPod({ ...wirePod(), metadata: { ...wirePod().metadata, name: "replica", uid: "r" } });
    const [a, b, c] = [toPodInfo(pending), toPodInfo(bound), toPodInfo(replica)];
    expect(b.requests).toBe(a.requests);
    expect(c.requests).toBe(a.requests);
    expect(c.nonZeroRequests).toBe(a.nonZeroRequests);
    // The same values computed afresh from the pod as the API server sent it.
    expect(a.requests).toEqual(toPodInfo(wirePod()).requests);
  });

  it("holds no slot for a field most pods leave unset, where the pod leaves it unset", () => {
    const { affinity: _none, ...spec } = wirePod().spec;
    const pod = { ...wirePod(), spec };
    const kept = keptPod(pod);
    expect(Object.keys(kept.spec).sort()).toEqual(
      [
        "containers",
        "nodeName",
        "preemptionPolicy",
        "priority",
        "priorityClassName",
        "schedulerName",
        "tolerations",
      ].sort(),
    );
    expect(comparable(toPodInfo(kept))).toEqual(comparable(toPodInfo(pod)));
  });

  it("keeps a bounded table: full, it starts afresh", () => {
    const values = new SharedValues(2);
    const first = { x: 1 };
    expect(values.of({ x: 1 })).not.toBe(first);
    expect(values.of(first)).toEqual({ x: 1 });
    const one = values.of({ y: 1 });
    expect(values.of({ y: 1 })).toBe(one);
    values.of({ z: 1 });
    values.of({ w: 1 });
    expect(values.of({ y: 1 })).not.toBe(one);
    expect(values.of(undefined)).toBeUndefined();
  });

  it("shares strings by their text, apart from the values: a string is never taken for a value's JSON", () => {
    const values = new SharedValues(2);
    const list = values.of(["a"]);
    expect(values.text('["a"]')).toBe('["a"]');
    expect(values.of(["a"])).toBe(list);
    expect(values.text("PreemptLowerPriority")).toBe("PreemptLowerPriority");
    expect(values.text(undefined)).toBeUndefined();
    // Bounded as the values are: full, it starts afresh.
    for (const text of ["x", "y", "z"]) expect(values.text(text)).toBe(text);
  });
});

describe("what a shard keeps of a watched node and the other kinds", () => {
  it("keeps a node's labels, annotations, taints, unschedulable, allocatable and condition statuses", () => {
    const whole = wireNode();
    const kept = keptNode({
      ...whole,
      spec: { unschedulable: true, taints: [{ key: "k", effect: "NoSchedule" }] },
    });
    expectDropped(kept, [
      "managedFields",
      "images",
      "nodeInfo",
      "daemonEndpoints",
      "addresses",
      "capacity",
      "lastHeartbeatTime",
    ]);
    expect(kept.metadata.labels).toEqual(whole.metadata.labels);
    expect(kept.metadata.annotations).toEqual(whole.metadata.annotations);
    expect(kept.status?.allocatable).toEqual(whole.status?.allocatable);
    const info = toNodeInfo(kept);
    expect(info.unschedulable).toBe(true);
    expect(info.taints).toEqual([{ key: "k", effect: "NoSchedule" }]);
    const { node: _kept, ...keptInfo } = info;
    const { node: _whole, ...wholeInfo } = toNodeInfo({ ...whole, spec: kept.spec });
    expect(keptInfo).toEqual(wholeInfo);
    expect(wholeInfo.ready).toBe(true);
  });

  it("keeps a namespace's labels, a controller's selector, and everything but managedFields of the rest", () => {
    const metadata = { name: "x", namespace: "ns", labels: { team: "a" }, managedFields: [{}] };
    expect(keptNamespace({ metadata } as never).metadata.labels).toEqual({ team: "a" });
    const replicaSet = keptSelectorOwner({
      metadata,
      spec: { selector: { matchLabels: { app: "web" } }, template: { spec: { containers: [] } } },
    } as never);
    expect(replicaSet).toEqual({
      metadata: expect.objectContaining({ name: "x", labels: { team: "a" } }),
      spec: { selector: { matchLabels: { app: "web" } } },
    });
    const budget = { metadata, spec: { minAvailable: 1 }, status: { disruptionsAllowed: 2 } };
    const keptBudget = withoutManagedFields(budget);
    expect(keptBudget).toEqual({
      metadata: { name: "x", namespace: "ns", labels: { team: "a" } },
      spec: { minAvailable: 1 },
      status: { disruptionsAllowed: 2 },
    });
    const plain = { metadata: { name: "y" }, spec: {} };
    expect(withoutManagedFields(plain)).toBe(plain);
  });
});
