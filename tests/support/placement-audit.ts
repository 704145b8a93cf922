/**
 * An independent watcher of placements, for tests and the chaos suite: its own watches on
 * nodes, pods and Scheduled Events, and its own arithmetic of requests — nothing shared with
 * the scheduler. Throughout a run it counts
 *   - overcommit: a node whose bound, unfinished pods request more than it has (cpu, memory,
 *     pods or any extended resource);
 *   - doubleBinds: a pod (by UID) seen bound to one node and later to another;
 *   - who bound what: the reportingInstance and ring epoch of every Scheduled Event;
 *   - foreignBinds: a bind by a shard that did not own the node under the ring epoch it bound
 *     in (epochs read from the ring Lease as it changes).
 */
import * as k8s from "@kubernetes/client-node";
import { nodeOwnerOf, ShardRing } from "../../scheduler/src/sharding/shard-ring.js";

export interface Overcommit {
  node: string;
  resource: string;
  requested: number;
  allocatable: number;
}

export interface BindRecord {
  pod: string;
  node: string;
  /** The shard identity that reported binding it. */
  by: string;
  /** The ring epoch it bound under. */
  epoch: number | undefined;
}

interface RingRecord {
  ring: ShardRing;
  nodeOwners: Record<string, string>;
}

type Amounts = Map<string, number>;

/** Parses a resource quantity ("250m", "2", "8Gi", "1e3") to a number of base units. */
export function quantity(text: string): number {
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/.exec(text.trim());
  if (!match) throw new Error(`not a quantity: ${text}`);
  const scale: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  return Number(match[1]) * (match[2] ? (scale[match[2]] as number) : 1);
}

function addAll(into: Amounts, list: Record<string, string> | undefined): void {
  for (const [name, value] of Object.entries(list ?? {}))
    into.set(name, (into.get(name) ?? 0) + quantity(value));
}

/** What a pod holds on its node: max(sum of containers, each init container) + overhead, and 1 pod. */
export function podRequests(pod: k8s.V1Pod): Amounts {
  const total: Amounts = new Map();
  for (const container of pod.spec?.containers ?? []) addAll(total, container.resources?.requests);
  for (const init of pod.spec?.initContainers ?? []) {
    const one: Amounts = new Map();
    addAll(one, init.resources?.requests);
    for (const [name, value] of one) total.set(name, Math.max(total.get(name) ?? 0, value));
  }
  addAll(total, pod.spec?.overhead as Record<string, string> | undefined);
  total.set("pods", 1);
  return total;
}

const holdsRoom = (pod: k8s.V1Pod) =>
  Boolean(pod.spec?.nodeName) && pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed";

export class PlacementAudit {
  readonly overcommits: Overcommit[] = [];
  readonly doubleBinds: { pod: string; from: string; to: string }[] = [];
  readonly binds: BindRecord[] = [];
  private readonly allocatable = new Map<string, Amounts>();
  /** Bound, unfinished pods by node: uid → requests. */
  private readonly onNode = new Map<string, Map<string, Amounts>>();
  private readonly boundTo = new Map<string, string>();
  private readonly informers: k8s.Informer<k8s.KubernetesObject>[] = [];
  /** Every ring epoch seen on the ring Lease. */
  readonly rings = new Map<number, RingRecord>();

  private constructor(private readonly kc: k8s.KubeConfig) {}

  /** Starts watching nodes matching nodeLabelSelector and the pods and Events of namespace. */
  static async start(
    kc: k8s.KubeConfig,
    options: {
      namespace: string;
      nodeLabelSelector: string;
      ringLease?: { namespace: string; name: string };
    },
  ): Promise<PlacementAudit> {
    const audit = new PlacementAudit(kc);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const ringLease = options.ringLease;
    if (ringLease) {
      const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
      const fieldSelector = `metadata.name=${ringLease.name}`;
      await audit.watch(
        `/apis/coordination.k8s.io/v1/namespaces/${ringLease.namespace}/leases`,
        () => coordination.listNamespacedLease({ namespace: ringLease.namespace, fieldSelector }),
        (lease: k8s.V1Lease) => audit.ring(lease),
        undefined,
        fieldSelector,
      );
    }
    await audit.watch(
      "/api/v1/nodes",
      () => core.listNode({ labelSelector: options.nodeLabelSelector }),
      (node: k8s.V1Node) => audit.node(node),
      options.nodeLabelSelector,
    );
    await audit.watch(
      `/api/v1/namespaces/${options.namespace}/pods`,
      () => core.listNamespacedPod({ namespace: options.namespace }),
      (pod: k8s.V1Pod, deleted) => audit.pod(pod, deleted),
    );
    await audit.watch(
      `/api/v1/namespaces/${options.namespace}/events`,
      () => core.listNamespacedEvent({ namespace: options.namespace, fieldSelector: "reason=Scheduled" }),
      (event: k8s.CoreV1Event) => audit.event(event),
      undefined,
      "reason=Scheduled",
    );
    return audit;
  }

  private async watch<T extends k8s.KubernetesObject>(
    path: string,
    list: () => Promise<k8s.KubernetesListObject<T>>,
    handle: (object: T, deleted: boolean) => void,
    labelSelector?: string,
    fieldSelector?: string,
  ): Promise<void> {
    const informer = new k8s.ListWatch(
      path,
      new k8s.Watch(this.kc),
      list,
      false,
      labelSelector,
      fieldSelector,
    );
    informer.on("add", (object) => handle(object, false));
    informer.on("update", (object) => handle(object, false));
    informer.on("delete", (object) => handle(object, true));
    // The library's informer restarts on errors when asked to, after a pause.
    informer.on("error", () => setTimeout(() => void informer.start().catch(() => undefined), 500));
    await informer.start();
    this.informers.push(informer as unknown as k8s.Informer<k8s.KubernetesObject>);
  }

  private node(node: k8s.V1Node): void {
    const amounts: Amounts = new Map();
    addAll(amounts, node.status?.allocatable);
    this.allocatable.set(node.metadata?.name ?? "", amounts);
  }

  private pod(pod: k8s.V1Pod, deleted: boolean): void {
    const uid = pod.metadata?.uid ?? "";
    const nodeName = pod.spec?.nodeName;
    if (nodeName) {
      const before = this.boundTo.get(uid);
      if (before !== undefined && before !== nodeName)
        this.doubleBinds.push({ pod: pod.metadata?.name ?? uid, from: before, to: nodeName });
      this.boundTo.set(uid, nodeName);
    }
    for (const pods of this.onNode.values()) pods.delete(uid);
    if (deleted || !holdsRoom(pod) || !nodeName) return;
    const pods = this.onNode.get(nodeName) ?? new Map<string, Amounts>();
    this.onNode.set(nodeName, pods);
    pods.set(uid, podRequests(pod));
    this.check(nodeName);
  }

  private check(nodeName: string): void {
    const allocatable = this.allocatable.get(nodeName);
    if (!allocatable) return;
    const sum: Amounts = new Map();
    for (const requests of this.onNode.get(nodeName)?.values() ?? [])
      for (const [name, value] of requests) sum.set(name, (sum.get(name) ?? 0) + value);
    for (const [resource, requested] of sum) {
      const has = allocatable.get(resource) ?? 0;
      // A thousandth of a unit absorbs floating-point sums of milli-quantities.
      if (requested > has + 1e-3)
        this.overcommits.push({ node: nodeName, resource, requested, allocatable: has });
    }
  }

  private ring(lease: k8s.V1Lease): void {
    const annotations = lease.metadata?.annotations ?? {};
    const epoch = Number(annotations["sharded-scheduler.io/ring-epoch"]);
    const members = (annotations["sharded-scheduler.io/ring-members"] ?? "").split(",").filter(Boolean);
    const nodeOwners = JSON.parse(annotations["sharded-scheduler.io/ring-node-owners"] ?? "{}");
    if (Number.isInteger(epoch)) this.rings.set(epoch, { ring: new ShardRing(members), nodeOwners });
  }

  private event(event: k8s.CoreV1Event): void {
    const pod = event.involvedObject?.name ?? "";
    const match = / to (\S+?)(?: \(ring epoch (\d+)\))?$/.exec(event.message ?? "");
    const node = match?.[1] ?? "";
    const by = event.reportingInstance ?? "";
    if (this.binds.some((b) => b.pod === pod && b.node === node && b.by === by)) return;
    this.binds.push({ pod, node, by, epoch: match?.[2] === undefined ? undefined : Number(match[2]) });
  }

  /** The node's owner under a ring epoch seen; undefined when that epoch was not seen. */
  ownerOf(node: string, epoch: number): string | undefined {
    const record = this.rings.get(epoch);
    if (!record) return undefined;
    return nodeOwnerOf(record.ring, record.nodeOwners, node);
  }

  /** Binds whose shard did not own the node under the epoch it bound in (or named no known epoch). */
  foreignBinds(): (BindRecord & { owner: string | undefined })[] {
    return this.binds
      .map((bind) => ({
        ...bind,
        owner: bind.epoch === undefined ? undefined : this.ownerOf(bind.node, bind.epoch),
      }))
      .filter((bind) => bind.owner !== bind.by);
  }

  /** Pods bound to each node right now, by the audit's own count. */
  boundPods(): number {
    let count = 0;
    for (const pods of this.onNode.values()) count += pods.size;
    return count;
  }

  stop(): void {
    for (const informer of this.informers) void informer.stop();
  }
}
