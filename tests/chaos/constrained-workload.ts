/**
 * The chaos suite's constrained load, beside the Jobs of workload.ts: workloads whose pods carry
 * the constraints kube-scheduler honours between pods and on volumes, arriving as their own seeded
 * Poisson process (one every constrainedGapSeconds on average), so switching them off leaves the
 * Jobs' plan for a seed exactly as it was.
 *
 *   anti (30 %)    a Deployment of 2–4 replicas (250 m) with required hostname anti-affinity
 *                  against every anti Deployment's pods of the run (label chaos-anti): no two on
 *                  one node, whichever Deployment and so whichever shard placed them;
 *   spread (30 %)  a Deployment of 3–6 replicas (250 m) spread over zones with maxSkew 1,
 *                  DoNotSchedule (every other one with minDomains = the zones, and
 *                  nodeTaintsPolicy Honor), matchLabelKeys pod-template-hash;
 *   ports (25 %)   a Job of 1–3 pods (250 m) each taking host port 31000 or 31001 (TCP): every
 *                  ports Job of the run competes for the same ports;
 *   volume (15 %)  a Job of one pod (250 m) whose claim is bound to a static PersistentVolume
 *                  pinned to one zone by its node affinity (and zone label), created with it.
 * On nodes labelled in racks (topology.kubernetes.io/rack) a fifth shape joins, and the shares
 * become anti 25 %, spread 25 %, ports 20 %, volume 12 %, rack 18 %:
 *   rack           a Job of 2–4 pods (500 m or 1 cpu) forming one annotation gang (min-member all
 *                  of them) that requires one rack (sharded-scheduler.io/topology-required): all
 *                  its members in one rack, never split, never on a node without the label.
 * Deployments are deleted after their lifetime (drawn like a Job's run time) and when the load
 * stops; Jobs' pods finish like the other Jobs'. Nodes without zone labels: zones are single
 * nodes (kubernetes.io/hostname), so the shapes keep their meaning on any cluster.
 */
import type * as k8s from "@kubernetes/client-node";
import {
  minMemberAnnotation,
  podGroupAnnotation,
  topologyRequiredAnnotation,
} from "../../scheduler/src/contracts/keys.js";
import { mulberry32 } from "../support/random.js";

export type ConstrainedShape = "anti" | "spread" | "ports" | "volume" | "rack";

/** Every pod of an anti Deployment carries this label (value: the run id); each avoids the others. */
export const antiLabel = "chaos-anti";
/** The host ports ports Jobs take (one each, drawn). */
export const chaosHostPorts = [31000, 31001] as const;
/** Mean seconds between two constrained workloads. */
export const constrainedGapSeconds = 4;
const zoneKey = "topology.kubernetes.io/zone";
/** The label rack gangs require one value of. */
export const rackKey = "topology.kubernetes.io/rack";
const hostnameKey = "kubernetes.io/hostname";

export interface PlannedConstrained {
  readonly index: number;
  /** `c<shape>-<index>`: a Deployment, a Job, and for volume also its claim and volume. */
  readonly name: string;
  readonly shape: ConstrainedShape;
  readonly replicas: number;
  readonly milliCpu: number;
  /** Deployments: how long they live; Jobs: how long each pod runs. */
  readonly runSeconds: number;
  /** spread: minDomains and nodeTaintsPolicy Honor set. */
  readonly strictSpread?: boolean;
  /** ports: the host port. */
  readonly hostPort?: number;
  /** volume: the zone (or node, without zones) the volume lives in. */
  readonly volumeDomain?: string;
  readonly arrivalGapSeconds: number;
}

/** The topology the constrained shapes spread over: zones if the nodes have them, else nodes. */
export interface ChaosTopology {
  key: string;
  /** Its values, sorted. */
  domains: readonly string[];
  /** The nodes' racks (rackKey values), sorted; absent when no node has one (no rack gangs then). */
  racks?: readonly string[];
}

/** Zones of the nodes (labels of Ready fake nodes), or their hostnames when none has a zone. */
export function topologyOf(nodeLabels: readonly Readonly<Record<string, string>>[]): ChaosTopology {
  const valuesOf = (key: string) =>
    [...new Set(nodeLabels.map((labels) => labels[key]).filter(Boolean) as string[])].sort();
  const racks = valuesOf(rackKey);
  const withRacks = racks.length > 0 ? { racks } : {};
  const zones = valuesOf(zoneKey);
  if (zones.length > 0) return { key: zoneKey, domains: zones, ...withRacks };
  return { key: hostnameKey, domains: valuesOf(hostnameKey), ...withRacks };
}

type ShapeMix = readonly { shape: ConstrainedShape; weight: number }[];

const shapeMix: ShapeMix = [
  { shape: "anti", weight: 0.3 },
  { shape: "spread", weight: 0.3 },
  { shape: "ports", weight: 0.25 },
  { shape: "volume", weight: 0.15 },
];
/** The mix on nodes labelled in racks. */
const shapeMixWithRacks: ShapeMix = [
  { shape: "anti", weight: 0.25 },
  { shape: "spread", weight: 0.25 },
  { shape: "ports", weight: 0.2 },
  { shape: "volume", weight: 0.12 },
  { shape: "rack", weight: 0.18 },
];

/**
 * The constrained workload at position index for this seed: pure, drawn from its own stream
 * (seed, index) apart from the Jobs' streams.
 */
export function planConstrained(
  seed: number,
  runSeconds: readonly [number, number],
  topology: ChaosTopology,
  nodes: number,
  index: number,
): PlannedConstrained {
  const random = mulberry32(mix((seed >>> 0) ^ mix(index + 0x5bd1e995) ^ 0x9e3779b9));
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const shape = pickShape(random(), topology.racks ? shapeMixWithRacks : shapeMix);
  const [low, high] = runSeconds;
  const run = between(low, high);
  const arrivalGapSeconds = -Math.log(1 - random()) * constrainedGapSeconds;
  const replicas =
    shape === "anti" || shape === "rack"
      ? between(2, 4)
      : shape === "spread"
        ? between(3, 6)
        : shape === "ports"
          ? between(1, 3)
          : 1;
  const extra = random();
  return {
    index,
    name: `c${shape}-${String(index).padStart(5, "0")}`,
    shape,
    // Never more pods of one anti Deployment or ports Job than nodes.
    replicas: shape === "anti" || shape === "ports" ? Math.min(replicas, nodes) : replicas,
    milliCpu: shape === "rack" ? (extra < 0.5 ? 500 : 1000) : 250,
    runSeconds: run,
    ...(shape === "spread" ? { strictSpread: extra < 0.5 } : {}),
    ...(shape === "ports" ? { hostPort: chaosHostPorts[Math.floor(extra * chaosHostPorts.length)] } : {}),
    ...(shape === "volume"
      ? { volumeDomain: topology.domains[Math.floor(extra * topology.domains.length)] as string }
      : {}),
    arrivalGapSeconds,
  };
}

export interface ConstrainedTarget {
  namespace: string;
  schedulerName: string;
  runId: string;
  /** Labels every object and pod carries (the run's and the shape's). */
  labels: Record<string, string>;
  /** Annotations every Job pod carries (its run time, for KWOK). */
  completeAfterAnnotation: string;
  priorityClass: string;
  nodeSelector: Record<string, string>;
  tolerations: k8s.V1Toleration[];
  topology: ChaosTopology;
}

/** What to create for a planned workload: a Deployment or a Job, and a volume's claim and volume. */
export interface ConstrainedManifests {
  deployment?: k8s.V1Deployment;
  job?: k8s.V1Job;
  volume?: k8s.V1PersistentVolume;
  claim?: k8s.V1PersistentVolumeClaim;
}

export function constrainedManifests(
  planned: PlannedConstrained,
  target: ConstrainedTarget,
): ConstrainedManifests {
  const labels = { ...target.labels, app: planned.name };
  const container: k8s.V1Container = {
    name: "main",
    image: "registry.k8s.io/pause:3.10",
    resources: { requests: { cpu: `${planned.milliCpu}m`, memory: "64Mi" } },
  };
  const base: k8s.V1PodSpec = {
    schedulerName: target.schedulerName,
    priorityClassName: target.priorityClass,
    nodeSelector: { ...target.nodeSelector },
    tolerations: target.tolerations,
    terminationGracePeriodSeconds: 0,
    containers: [container],
  };
  const { namespace } = target;
  if (planned.shape === "anti" || planned.shape === "spread") {
    const podLabels = planned.shape === "anti" ? { ...labels, [antiLabel]: target.runId } : labels;
    const spec: k8s.V1PodSpec =
      planned.shape === "anti"
        ? {
            ...base,
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { topologyKey: hostnameKey, labelSelector: { matchLabels: { [antiLabel]: target.runId } } },
                ],
              },
            },
          }
        : {
            ...base,
            topologySpreadConstraints: [
              {
                topologyKey: target.topology.key,
                maxSkew: 1,
                whenUnsatisfiable: "DoNotSchedule",
                labelSelector: { matchLabels: { app: planned.name } },
                matchLabelKeys: ["pod-template-hash"],
                ...(planned.strictSpread
                  ? { minDomains: Math.min(3, target.topology.domains.length), nodeTaintsPolicy: "Honor" }
                  : {}),
              },
            ],
          };
    return {
      deployment: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: planned.name, namespace, labels },
        spec: {
          replicas: planned.replicas,
          selector: { matchLabels: { app: planned.name } },
          template: { metadata: { labels: podLabels }, spec },
        },
      },
    };
  }
  const podSpec: k8s.V1PodSpec = { ...base, restartPolicy: "Never" };
  const podAnnotations: Record<string, string> = {
    [target.completeAfterAnnotation]: `${planned.runSeconds}s`,
  };
  if (planned.shape === "rack") {
    podAnnotations[podGroupAnnotation] = planned.name;
    podAnnotations[minMemberAnnotation] = String(planned.replicas);
    podAnnotations[topologyRequiredAnnotation] = rackKey;
  }
  let volume: k8s.V1PersistentVolume | undefined;
  let claim: k8s.V1PersistentVolumeClaim | undefined;
  if (planned.shape === "ports")
    podSpec.containers = [
      { ...container, ports: [{ containerPort: 8080, hostPort: planned.hostPort, protocol: "TCP" }] },
    ];
  else if (planned.shape === "volume") {
    const domain = planned.volumeDomain as string;
    const volumeName = `${namespace}-${planned.name}`;
    volume = {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: {
        name: volumeName,
        labels: { ...target.labels, ...(target.topology.key === zoneKey ? { [zoneKey]: domain } : {}) },
      },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Retain",
        storageClassName: "",
        hostPath: { path: `/tmp/chaos/${volumeName}` },
        claimRef: { namespace, name: planned.name },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: target.topology.key, operator: "In", values: [domain] }] },
            ],
          },
        },
      },
    };
    claim = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: planned.name, namespace, labels },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "",
        volumeName,
        resources: { requests: { storage: "1Gi" } },
      },
    };
    podSpec.volumes = [{ name: "data", persistentVolumeClaim: { claimName: planned.name } }];
  }
  return {
    ...(volume ? { volume, claim } : {}),
    job: {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: planned.name, namespace, labels },
      spec: {
        completions: planned.replicas,
        parallelism: planned.replicas,
        backoffLimit: 100,
        podFailurePolicy: {
          rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }],
        },
        ttlSecondsAfterFinished: 30,
        template: {
          metadata: { labels, annotations: podAnnotations },
          spec: podSpec,
        },
      },
    },
  };
}

/** The shape at u (uniform in [0, 1)) of the mix. */
function pickShape(u: number, mix: ShapeMix): ConstrainedShape {
  let rest = u;
  for (const entry of mix) {
    rest -= entry.weight;
    if (rest < 0) return entry.shape;
  }
  return mix[mix.length - 1]?.shape as ConstrainedShape;
}

/** MurmurHash3's 32-bit finalizer. */
function mix(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
