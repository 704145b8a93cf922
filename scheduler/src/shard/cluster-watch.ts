/**
 * The shard's informers and where what they deliver goes: nodes (and the owner annotation the
 * ring reads from them), the pods that are not finished, this scheduler's succeeded pods (they
 * count toward their gang's min-member), PodDisruptionBudgets, namespaces (their labels, for
 * InterPodAffinity's namespaceSelector), and the PersistentVolumeClaims, PersistentVolumes and
 * StorageClasses the volume plugins read, and the scheduling.k8s.io/v1beta1 PodGroups of native
 * gangs when discovery says the API server serves them; likewise the PodGroup CRDs
 * (scheduling.x-k8s.io/v1alpha1 with this scheduler's failed pods, scheduling.volcano.sh/v1beta1
 * with the PriorityClasses). A new watched kind is added here.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { nodeOwnerAnnotation } from "../contracts/keys.js";
import {
  type CrdApi,
  coschedulingApi,
  type LabelSelector,
  type Namespace,
  type Node,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type PodDisruptionBudget,
  type PodGroupObject,
  type StorageClass,
  volcanoApi,
} from "../core/index.js";
import type { SelectorOwnerKind } from "../core/plugins/pod-topology-spread/default-selector.js";
import { discoverResource } from "../kube/discovery.js";
import { Informer, type InformerOptions, type KubeObject } from "../kube/informer.js";
import type { KubeClient } from "../kube/kube-client.js";
import type { GainedNodes, Ownership } from "../sharding/ownership.js";
import type { ClusterCache, PriorityClassObject } from "./cluster-cache.js";
import type { ShardMetrics } from "./metrics.js";
import {
  keptNamespace,
  keptNode,
  keptPod,
  keptSelectorOwner,
  type SelectorOwner,
  withoutManagedFields,
} from "./watch-projection.js";

/** Where the pod watch's changes go (the shard also forgets what it wrote on a bound pod). */
export interface PodHandlers {
  upsert(pod: Pod): void;
  remove(pod: Pod): void;
}

/** What the shard does with an informer of any kind: run it, wait for its list, relist, stop it. */
type WatchedKind = Pick<Informer<KubeObject>, "run" | "stop" | "synced" | "relist">;

export class ClusterWatch {
  private readonly informers: WatchedKind[] = [];
  /**
   * The pod informer, once start() made it (after the optional APIs were discovered); rejected
   * by stop() before that.
   */
  private readonly podInformer = Promise.withResolvers<Informer<Pod>>();
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly schedulerName: string,
    private readonly ownership: Pick<Ownership, "observeNodeOwner" | "observeNodeLabels">,
    private readonly cache: ClusterCache,
    private readonly metrics: ShardMetrics,
    private readonly pods: PodHandlers,
  ) {
    // Stopped before it started with no read waiting: nothing to tell.
    this.podInformer.promise.catch(() => undefined);
  }

  /** Starts every informer; resolves once each has listed (or the watch was stopped). */
  async start(): Promise<{ nodes: number; pods: number; podGroups: boolean; crds: CrdApi[] }> {
    // The optional APIs are asked about at once: one round trip at start, not three.
    const [podGroups, crds] = await Promise.all([this.podGroupInformer(), this.crdInformers()]);
    const nodes = new Informer<Node>(
      this.client,
      { path: "/api/v1/nodes", keep: keptNode, ...this.metered("nodes") },
      {
        upsert: (node) => {
          this.ownership.observeNodeOwner(
            node.metadata.name,
            node.metadata.annotations?.[nodeOwnerAnnotation],
          );
          this.ownership.observeNodeLabels?.(node.metadata.name, node.metadata.labels);
          this.cache.upsertNode(node);
        },
        remove: (node) => {
          this.ownership.observeNodeOwner(node.metadata.name, undefined);
          this.ownership.observeNodeLabels?.(node.metadata.name, undefined);
          this.cache.removeNode(node);
        },
      },
      this.log,
    );
    // Finished pods hold no resources; leaving them out keeps the cache small (as kube-scheduler does).
    const pods = new Informer<Pod>(
      this.client,
      {
        path: "/api/v1/pods",
        fieldSelector: "status.phase!=Succeeded,status.phase!=Failed",
        keep: keptPod,
        ...this.metered("pods"),
      },
      { upsert: (pod) => this.pods.upsert(pod), remove: (pod) => this.pods.remove(pod) },
      this.log,
    );
    // Members that succeeded count toward their gang's min-member; only this scheduler's pods.
    const succeededPods = new Informer<Pod>(
      this.client,
      {
        path: "/api/v1/pods",
        fieldSelector: `status.phase=Succeeded,spec.schedulerName=${this.schedulerName}`,
        keep: keptPod,
        ...this.metered("succeeded-pods"),
      },
      {
        upsert: (pod) => this.cache.upsertSucceededPod(pod),
        remove: (pod) => this.cache.removeSucceededPod(pod),
      },
      this.log,
    );
    const budgets = new Informer<PodDisruptionBudget>(
      this.client,
      {
        path: "/apis/policy/v1/poddisruptionbudgets",
        keep: withoutManagedFields,
        ...this.metered("poddisruptionbudgets"),
      },
      {
        upsert: (pdb) => this.cache.upsertPodDisruptionBudget(pdb),
        remove: (pdb) => this.cache.removePodDisruptionBudget(pdb),
      },
      this.log,
    );
    // Namespace labels: InterPodAffinity's namespaceSelector.
    const namespaces = new Informer<Namespace>(
      this.client,
      { path: "/api/v1/namespaces", keep: keptNamespace, ...this.metered("namespaces") },
      {
        upsert: (namespace) => this.cache.upsertNamespace(namespace),
        remove: (namespace) => this.cache.removeNamespace(namespace),
      },
      this.log,
    );
    this.informers.push(
      nodes,
      pods,
      succeededPods,
      budgets,
      namespaces,
      ...this.volumeInformers(),
      ...this.spreadSelectorInformers(),
      ...(podGroups ? [podGroups] : []),
      ...crds.informers,
    );
    this.podInformer.resolve(pods);
    for (const informer of this.informers) void informer.run();
    while (!this.stopped && !this.informers.every((informer) => informer.synced)) {
      await sleep(50);
    }
    return { nodes: nodes.size, pods: pods.size, podGroups: podGroups !== undefined, crds: crds.served };
  }

  /**
   * The PodGroup CRDs users already run, each watched only where discovery serves it (its CRD is
   * installed): elsewhere their pod label and annotation stay plain group names. With
   * scheduler-plugins' CRD, this scheduler's failed pods too (the PodGroup's status.failed); with
   * Volcano's, the PriorityClasses (its groups' priority). Discovery is asked once, at start.
   */
  private async crdInformers(): Promise<{
    served: CrdApi[];
    informers: WatchedKind[];
  }> {
    const served: CrdApi[] = [];
    const informers: WatchedKind[] = [];
    const apis = [coschedulingApi, volcanoApi] as const;
    const discovered = await Promise.all(
      apis.map((api) => discoverResource(this.client, api, "podgroups", () => this.stopped)),
    );
    for (const [i, api] of apis.entries()) {
      const found = discovered[i];
      this.log.info({ api, served: found === "served" }, "PodGroup CRD discovery");
      if (found !== "served") continue;
      served.push(api);
      this.cache.watchCrd(api);
      informers.push(
        new Informer<PodGroupObject>(
          this.client,
          { path: `/apis/${api}/podgroups`, keep: withoutManagedFields, ...this.metered(`podgroups.${api}`) },
          {
            upsert: (podGroup) => this.cache.upsertCrdPodGroup(api, podGroup),
            remove: (podGroup) => this.cache.removeCrdPodGroup(api, podGroup),
          },
          this.log,
        ),
      );
      if (api === coschedulingApi)
        informers.push(
          new Informer<Pod>(
            this.client,
            {
              path: "/api/v1/pods",
              fieldSelector: `status.phase=Failed,spec.schedulerName=${this.schedulerName}`,
              keep: keptPod,
              ...this.metered("failed-pods"),
            },
            {
              upsert: (pod) => this.cache.upsertFailedPod(pod),
              remove: (pod) => this.cache.upsertFailedPod(pod, true),
            },
            this.log,
          ),
        );
      else
        informers.push(
          new Informer<PriorityClassObject>(
            this.client,
            {
              path: "/apis/scheduling.k8s.io/v1/priorityclasses",
              keep: withoutManagedFields,
              ...this.metered("priorityclasses"),
            },
            {
              upsert: (priorityClass) => this.cache.upsertPriorityClass(priorityClass),
              remove: (priorityClass) => this.cache.upsertPriorityClass(priorityClass, true),
            },
            this.log,
          ),
        );
    }
    return { served, informers };
  }

  /**
   * PodGroups (native gangs: pods name theirs in spec.schedulingGroup), watched only where the
   * API server serves scheduling.k8s.io/v1beta1 podgroups (GenericWorkload): elsewhere no pod can
   * name one, and a watch would only fail.
   */
  private async podGroupInformer(): Promise<Informer<PodGroupObject> | undefined> {
    const served = await discoverResource(this.client, podGroupApi, "podgroups", () => this.stopped);
    this.log.info({ api: podGroupApi, served: served === "served" }, "PodGroup API discovery");
    if (served !== "served") return undefined;
    return new Informer<PodGroupObject>(
      this.client,
      { path: `/apis/${podGroupApi}/podgroups`, keep: withoutManagedFields, ...this.metered("podgroups") },
      {
        upsert: (podGroup) => this.cache.upsertPodGroup(podGroup),
        remove: (podGroup) => this.cache.removePodGroup(podGroup),
      },
      this.log,
    );
  }

  /** Claims, volumes and classes: VolumeBinding, VolumeZone and VolumeRestrictions read them. */
  private volumeInformers(): WatchedKind[] {
    const claims = new Informer<PersistentVolumeClaim>(
      this.client,
      {
        path: "/api/v1/persistentvolumeclaims",
        keep: withoutManagedFields,
        ...this.metered("persistentvolumeclaims"),
      },
      {
        upsert: (claim) => this.cache.upsertPersistentVolumeClaim(claim),
        remove: (claim) => this.cache.removePersistentVolumeClaim(claim),
      },
      this.log,
    );
    const volumes = new Informer<PersistentVolume>(
      this.client,
      { path: "/api/v1/persistentvolumes", keep: withoutManagedFields, ...this.metered("persistentvolumes") },
      {
        upsert: (volume) => this.cache.upsertPersistentVolume(volume),
        remove: (volume) => this.cache.removePersistentVolume(volume),
      },
      this.log,
    );
    const classes = new Informer<StorageClass>(
      this.client,
      {
        path: "/apis/storage.k8s.io/v1/storageclasses",
        keep: withoutManagedFields,
        ...this.metered("storageclasses"),
      },
      {
        upsert: (storageClass) => this.cache.upsertStorageClass(storageClass),
        remove: (storageClass) => this.cache.removeStorageClass(storageClass),
      },
      this.log,
    );
    return [claims, volumes, classes];
  }

  /**
   * PodTopologySpread's cluster-default constraints count the pods that the Services and the
   * controller (ReplicationController, ReplicaSet, StatefulSet) selecting a pod select, as
   * kube-scheduler's listers do: only their selectors are kept (ClusterState.spreadSelectors).
   */
  private spreadSelectorInformers(): Informer<SelectorOwner>[] {
    const spreadSelectors = this.cache.cluster.spreadSelectors;
    const watch = (
      kind: SelectorOwnerKind,
      path: string,
      resource: string,
      selectorOf: (o: SelectorOwner) => LabelSelector | undefined,
    ) =>
      new Informer<SelectorOwner>(
        this.client,
        { path, keep: keptSelectorOwner, ...this.metered(resource) },
        {
          upsert: (o) =>
            spreadSelectors.set(kind, o.metadata.namespace ?? "", o.metadata.name, selectorOf(o)),
          remove: (o) => spreadSelectors.set(kind, o.metadata.namespace ?? "", o.metadata.name, undefined),
        },
        this.log,
      );
    // A Service's and a ReplicationController's selector is a map; a missing one selects nothing.
    const map = (o: SelectorOwner): LabelSelector | undefined => {
      const selector = o.spec?.selector as Record<string, string> | undefined | null;
      return selector ? { matchLabels: selector } : undefined;
    };
    const labelSelector = (o: SelectorOwner): LabelSelector | undefined =>
      (o.spec?.selector as LabelSelector | undefined | null) ?? undefined;
    return [
      watch("Service", "/api/v1/services", "services", map),
      watch("ReplicationController", "/api/v1/replicationcontrollers", "replicationcontrollers", map),
      watch("ReplicaSet", "/apis/apps/v1/replicasets", "replicasets", labelSelector),
      watch("StatefulSet", "/apis/apps/v1/statefulsets", "statefulsets", labelSelector),
    ];
  }

  /** An informer's metrics: its handler errors, and what its watch received and cost to decode. */
  private metered(resource: string): Pick<InformerOptions, "onHandlerError" | "meter"> {
    return {
      onHandlerError: () => this.metrics.informerHandlerErrors.inc({ resource }),
      meter: this.metrics.watchMeter(resource),
    };
  }

  /**
   * True once the pod watch delivered every pod a quorum read shows bound to a node gained in a
   * handover (Informer.deliveredAsOfNow): a read per node when the handover names at most
   * 16, else one read of every bound pod, kept for the nodes `gained` accepts. Asked while the
   * shard starts (its first ring forms in ~30 ms, before discovery and the lists are done), the
   * read waits for the pod watch to exist: a rejection would be asked again only a settle delay
   * (1 s) later, the shard placing nothing meanwhile. Rejects when the watch stops before it
   * started.
   */
  async podsOnGainedNodesDelivered({ nodes, gained }: GainedNodes): Promise<boolean> {
    const informer = await this.podInformer.promise;
    if (this.stopped) return false;
    if (nodes && nodes.length <= nodeReadsAtMost)
      return Promise.all(nodes.map((node) => informer.deliveredAsOfNow(`spec.nodeName=${node}`))).then(
        (answers) => answers.every(Boolean),
      );
    return informer.deliveredAsOfNow("spec.nodeName!=", (pod) => gained(pod.spec?.nodeName ?? ""));
  }

  /** Re-reads every watched kind with a quorum list. */
  async relist(): Promise<void> {
    await Promise.all(this.informers.map((informer) => informer.relist()));
  }

  stop(): void {
    this.stopped = true;
    this.podInformer.reject(new Error("the cluster watch stopped"));
    for (const informer of this.informers) informer.stop();
  }
}

/** Above this many gained nodes, one read of every bound pod instead of a read per node. */
const nodeReadsAtMost = 16;

/** The API group version of native PodGroups. */
export const podGroupApi = "scheduling.k8s.io/v1beta1";
