/**
 * Conformance with kube-scheduler on its own workload shapes: pods as kube-scheduler's
 * scheduler_perf templates shape them (test/integration/scheduler_perf/templates:
 * pod-with-pod-anti-affinity, pod-with-pod-affinity, pod-with-topology-spreading,
 * pod-with-node-inclusion-policy, daemonset-pod, pod-hostport-80), scaled to a few nodes, placed
 * in the same run by kube-scheduler, by one shard and by three shards with their coordinator, each
 * on its own pool of 7 nodes over three zones (one tainted). The independent checker judges every
 * bind; a system must break nothing, and bind as many pods as kube-scheduler does (three shards
 * get a while for it: a group its owner cannot judge alone waits for the coordinator to lend the
 * nodes the owner names). No shape uses a field sharded-scheduler refuses as unsupported: a
 * refusal fails the test like a missing bind.
 */
import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvariantChecker } from "../checker/invariant-checker.js";
import { startCoordinator } from "../support/coordinator.js";
import { redisUrl } from "../support/redis.js";
import { startShard } from "../support/shard.js";
import { scheduledCondition, schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const suite = schedulerSuite("conformance");
const zoneKey = "topology.kubernetes.io/zone";
const zones = ["zone-a", "zone-b", "zone-c"];
/** Nodes per pool that take pods; one more, tainted, takes none of these. */
const poolNodes = 6;

interface System {
  id: string;
  schedulerName: () => string;
}
const systems: System[] = [
  { id: "kube", schedulerName: () => "default-scheduler" },
  { id: "one", schedulerName: () => suite.schedulerName },
  { id: "three", schedulerName: () => `${suite.id}-three` },
];

let checker: InvariantChecker;
/** What each shape found, for the summary printed at the end. */
const summary: string[] = [];

beforeAll(async () => {
  await Promise.all(
    systems.flatMap((system) => [
      ...Array.from({ length: poolNodes }, (_, i) =>
        suite.addNodes(system.id, 1, { zone: zones[i % zones.length] }, i),
      ),
      suite.addNodes(
        system.id,
        1,
        { zone: zones[0], taints: [{ key: "dedicated", value: "other", effect: "NoSchedule" }] },
        poolNodes,
      ),
    ]),
  );
  for (let ordinal = 0; ordinal < 3; ordinal++)
    suite.shards.push(
      await startShard({
        schedulerName: `${suite.id}-three`,
        identity: `${suite.id}-three-${ordinal}`,
        args: ["--settle-window-ms=500", `--redis-url=${redisUrl()}`],
      }),
    );
  suite.coordinators.push(
    await startCoordinator({
      schedulerName: `${suite.id}-three`,
      identity: `${suite.id}-three-coordinator`,
      namespace: "default",
      redisUrl: redisUrl(),
    }),
  );
  checker = await InvariantChecker.start(suite.clients.kc, {
    namespace: suite.namespace,
    nodeLabelSelector: `suite=${suite.id}`,
  });
});

afterAll(() => {
  checker?.stop();
  process.stdout.write(
    `conformance with kube-scheduler:\n${summary.map((line) => `  ${line}`).join("\n")}\n`,
  );
});

/** A pod of a system's pool, as a template shapes it (labels carry the system, so systems never meet). */
function templatePod(
  system: System,
  name: string,
  spec: Partial<k8s.V1PodSpec>,
  labels: Record<string, string>,
) {
  const pod = suite.pod(`${system.id}-${name}`, {
    pool: system.id,
    cpu: "100m",
    memory: "500Mi",
    labels,
    schedulerName: system.schedulerName(),
  });
  pod.spec = { ...(pod.spec as k8s.V1PodSpec), ...spec };
  return pod;
}

interface Outcome {
  bound: number;
  /** Pods refused because a constraint is not supported yet. */
  unsupported: number;
  violations: string[];
}

/**
 * Waits until every pod is bound or says why not, and (given `bind`) until that many are bound
 * or patienceMs passed; then what the checker found about them.
 */
async function settle(system: System, names: string[], bind?: number, patienceMs = 0): Promise<Outcome> {
  const prefixed = names.map((name) => `${system.id}-${name}`);
  const decided = async () => {
    const all = await suite.pods();
    const undecided = prefixed.filter((name) => {
      const pod = all.get(name);
      return !pod?.spec?.nodeName && scheduledCondition(pod ?? {})?.status !== "False";
    });
    return undecided.length === 0 ? all : undefined;
  };
  let pods = await waitFor(`${system.id}: ${prefixed.length} pods bound or refused`, decided, 60_000, 500);
  const boundOf = (all: Map<string, k8s.V1Pod>) =>
    prefixed.filter((name) => all.get(name)?.spec?.nodeName).length;
  const patience = Date.now() + patienceMs;
  const refusedOf = (all: Map<string, k8s.V1Pod>) =>
    prefixed.filter((name) =>
      scheduledCondition(all.get(name) ?? {})?.message?.includes("does not support yet"),
    ).length;
  // Pods refused as unsupported stay so: no use waiting for them.
  while (
    bind !== undefined &&
    boundOf(pods) < bind &&
    boundOf(pods) + refusedOf(pods) < prefixed.length &&
    Date.now() < patience
  ) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    pods = (await decided()) ?? pods;
  }
  // The checker's watch may trail by a moment; then the end state is judged as a whole.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  checker.ledger.judgeSettled(Date.now());
  const mine = (detail: string) => prefixed.some((name) => detail.startsWith(`${suite.namespace}/${name} `));
  const placementKinds = new Set([
    "podAntiAffinity",
    "podAffinity",
    "spreadSkew",
    "hostPortConflicts",
    "volumeZone",
  ]);
  return {
    bound: prefixed.filter((name) => pods.get(name)?.spec?.nodeName).length,
    unsupported: refusedOf(pods),
    violations: checker.ledger.violations
      .filter((v) => placementKinds.has(v.kind) && mine(v.detail))
      .map((v) => `${v.kind}: ${v.detail}`),
  };
}

interface Shape {
  name: string;
  pods: number;
  spec: (system: System, i: number) => Partial<k8s.V1PodSpec>;
  labels: (system: System) => Record<string, string>;
}

const shapes: Shape[] = [
  {
    // One per node; two more than the pool holds stay pending.
    name: "anti-affinity",
    pods: poolNodes + 2,
    labels: (system) => ({ color: `green-${system.id}` }),
    spec: (system) => ({
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            {
              labelSelector: { matchLabels: { color: `green-${system.id}` } },
              topologyKey: "kubernetes.io/hostname",
            },
          ],
        },
      },
    }),
  },
  {
    name: "affinity",
    pods: 6,
    labels: (system) => ({ foo: system.id }),
    spec: (system) => ({
      affinity: {
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { foo: system.id } }, topologyKey: zoneKey },
          ],
        },
      },
    }),
  },
  {
    // maxSkew 1 instead of upstream's 5, so a misplaced pod shows with few pods.
    name: "topology-spreading",
    pods: 9,
    labels: (system) => ({ color: `blue-${system.id}` }),
    spec: (system) => ({
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: zoneKey,
          whenUnsatisfiable: "DoNotSchedule",
          labelSelector: { matchLabels: { color: `blue-${system.id}` } },
        },
      ],
    }),
  },
  {
    // Honor both policies: the tainted node is no domain, so one pod per untainted node fits.
    name: "node-inclusion-policy",
    pods: poolNodes,
    labels: (system) => ({ foo: `bar-${system.id}` }),
    spec: (system) => ({
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "DoNotSchedule",
          nodeAffinityPolicy: "Honor",
          nodeTaintsPolicy: "Honor",
          labelSelector: { matchLabels: { foo: `bar-${system.id}` } },
        },
      ],
    }),
  },
  {
    // A DaemonSet's pods: each pinned to its node by matchFields metadata.name.
    name: "daemonset",
    pods: poolNodes,
    labels: () => ({}),
    spec: (system, i) => ({
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchFields: [
                  { key: "metadata.name", operator: "In", values: [suite.nodeName(system.id, i)] },
                ],
              },
            ],
          },
        },
      },
    }),
  },
  {
    // Host port 80 on every pod: one per node; two more than the pool holds stay pending.
    name: "hostport",
    pods: poolNodes + 2,
    labels: () => ({}),
    spec: () => ({
      containers: [
        {
          name: "main",
          image: "registry.k8s.io/pause:3.10",
          ports: [{ containerPort: 80, hostPort: 80 }],
          resources: { requests: { cpu: "100m", memory: "500Mi" } },
        },
      ],
    }),
  },
];

describe("kube-scheduler's workload shapes, with 1 and 3 shards beside kube-scheduler", () => {
  for (const shape of shapes)
    it(`${shape.name}: no violation, and as many pods bound as kube-scheduler`, async () => {
      const names = Array.from({ length: shape.pods }, (_, i) => `${shape.name}-${i}`);
      await suite.create(
        systems.flatMap((system) =>
          names.map((name, i) => templatePod(system, name, shape.spec(system, i), shape.labels(system))),
        ),
      );
      const outcomes = new Map<string, Outcome>();
      const kube = await settle(systems[0] as System, names);
      outcomes.set("kube", kube);
      // The coordinator moves a stuck group after 3 s, each at most once per 15 s cooldown.
      for (const system of systems.slice(1))
        outcomes.set(
          system.id,
          await settle(system, names, kube.bound, system.id === "three" ? 90_000 : 10_000),
        );
      summary.push(
        `${shape.name}: ${systems
          .map((system) => {
            const o = outcomes.get(system.id) as Outcome;
            return `${system.id} ${o.bound}/${shape.pods} bound, ${o.violations.length} violations${o.unsupported ? `, ${o.unsupported} refused as unsupported` : ""}`;
          })
          .join("; ")}`,
      );
      // The checker's own sanity: kube-scheduler breaks nothing on its own workloads.
      expect(kube.violations).toEqual([]);
      expect(kube.unsupported).toBe(0);
      for (const system of systems.slice(1)) {
        const outcome = outcomes.get(system.id) as Outcome;
        expect(outcome.violations, system.id).toEqual([]);
        expect(outcome.unsupported, system.id).toBe(0);
        expect(outcome.bound, system.id).toBe(kube.bound);
      }
    });
});
