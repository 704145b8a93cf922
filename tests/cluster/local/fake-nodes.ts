import type { KubeRest } from "./kube-rest.js";

/** KWOK manages exactly the nodes carrying this annotation. */
export const fakeNodeAnnotation = { key: "kwok.x-k8s.io/node", value: "fake" } as const;
export const fakeNodeLabel = { key: "type", value: "kwok" } as const;

export interface FakeNodeSpec {
  name: string;
  cpu: string;
  memory: string;
  pods: number;
  gpus?: number;
  ephemeralStorage?: string;
  zone?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute" }[];
  unschedulable?: boolean;
}

export function fakeNodeManifest(spec: FakeNodeSpec): Record<string, unknown> {
  const resources: Record<string, string> = {
    cpu: spec.cpu,
    memory: spec.memory,
    pods: String(spec.pods),
    "ephemeral-storage": spec.ephemeralStorage ?? "1Ti",
  };
  if (spec.gpus) resources["nvidia.com/gpu"] = String(spec.gpus);
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: spec.name,
      annotations: {
        [fakeNodeAnnotation.key]: fakeNodeAnnotation.value,
        "node.alpha.kubernetes.io/ttl": "0",
      },
      labels: {
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        [fakeNodeLabel.key]: fakeNodeLabel.value,
        ...(spec.zone ? { "topology.kubernetes.io/zone": spec.zone } : {}),
        ...spec.labels,
      },
    },
    spec: {
      ...(spec.taints ? { taints: spec.taints } : {}),
      ...(spec.unschedulable ? { unschedulable: true } : {}),
    },
    status: { capacity: resources, allocatable: resources },
  };
}

/** Creates nodes with bounded concurrency; an existing node of the same name is left as it is. */
export async function createFakeNodes(
  kube: KubeRest,
  specs: FakeNodeSpec[],
  concurrency = 32,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const spec = specs[next++] as FakeNodeSpec;
      const res = await kube.call("POST", "/api/v1/nodes", fakeNodeManifest(spec));
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`creating node ${spec.name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
}

interface NodeList {
  items: {
    metadata: { name: string };
    spec?: { taints?: { key: string }[] };
    status?: { conditions?: { type: string; status: string }[] };
  }[];
}

/**
 * The node lifecycle controller's taints: it puts not-ready on a node created before its Ready
 * condition and takes it off (a GET and a PATCH per node) some seconds after the node is Ready.
 */
const lifecycleTaints = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

/** The fake nodes whose Ready condition is True, and of those the ones still carrying a lifecycle taint. */
export async function fakeNodeReadiness(kube: KubeRest): Promise<{ ready: string[]; tainted: string[] }> {
  const list = await kube.get<NodeList>(
    `/api/v1/nodes?labelSelector=${encodeURIComponent(`${fakeNodeLabel.key}=${fakeNodeLabel.value}`)}`,
  );
  const ready = list.items.filter((node) =>
    node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
  return {
    ready: ready.map((node) => node.metadata.name),
    tainted: ready
      .filter((node) => node.spec?.taints?.some((taint) => lifecycleTaints.includes(taint.key)))
      .map((node) => node.metadata.name),
  };
}

/** Names of the fake nodes whose Ready condition is True. */
export async function readyFakeNodes(kube: KubeRest): Promise<string[]> {
  return (await fakeNodeReadiness(kube)).ready;
}
