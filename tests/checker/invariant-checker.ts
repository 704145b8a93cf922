/**
 * The independent invariant checker: its own watches on nodes, on the pods, Events and
 * PersistentVolumeClaims of the checked namespace (or all), on namespaces and PersistentVolumes
 * (placement rules), on native PodGroups (scheduling.k8s.io/v1beta1) and the PodGroup CRDs'
 * objects (scheduler-plugins scheduling.x-k8s.io/v1alpha1, Volcano scheduling.volcano.sh/v1beta1,
 * with the PriorityClasses for Volcano's group priority), each only when discovery says the API
 * server serves it, and on the ring Lease, feeding an InvariantLedger, which it
 * re-checks every second for what depends on time passing. Used throughout integration tests
 * and the chaos suite. Its watches restart by themselves after an error (an API server
 * restart, a 410 Gone), relisting what they missed.
 */
import * as k8s from "@kubernetes/client-node";
import { type CheckerLimits, defaultLimits, InvariantLedger } from "./invariant-ledger.js";
import { crdPodGroupKeys } from "./ring-owners.js";

export interface CheckerOptions {
  /** The namespace whose pods and Events are checked; undefined: every namespace. */
  namespace?: string;
  /** Which nodes count (their allocatable and readiness); e.g. "type=kwok". */
  nodeLabelSelector: string;
  /** The ring Lease the shards agree on (`<scheduler name>-ring` in the lease namespace). */
  ringLease?: { namespace: string; name: string };
  limits?: CheckerLimits;
  /** Called after a watch fails, before it restarts. */
  onWatchError?: (path: string, error: unknown) => void;
}

/** The scheduler Events it reads: binds and evictions; the coordinator's reliefs and gang rollbacks (counted). */
const eventReasons = ["Scheduled", "Preempted", "HandedOff", "NodesLent", "GangRollback"];

export class InvariantChecker {
  readonly ledger: InvariantLedger;
  private readonly informers: k8s.Informer<k8s.KubernetesObject>[] = [];
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  /** Watch failures seen (each followed by a restart and a relist). */
  watchErrors = 0;

  private constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly options: CheckerOptions,
  ) {
    this.ledger = new InvariantLedger(options.limits ?? defaultLimits);
    this.timer = setInterval(() => this.ledger.tick(Date.now()), 1000);
    this.timer.unref();
  }

  static async start(kc: k8s.KubeConfig, options: CheckerOptions): Promise<InvariantChecker> {
    const checker = new InvariantChecker(kc, options);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const { ledger } = checker;
    const ringLease = options.ringLease;
    if (ringLease) {
      const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
      const fieldSelector = `metadata.name=${ringLease.name}`;
      await checker.watch(
        `/apis/coordination.k8s.io/v1/namespaces/${ringLease.namespace}/leases`,
        () => coordination.listNamespacedLease({ namespace: ringLease.namespace, fieldSelector }),
        (lease: k8s.V1Lease) => ledger.ringLease(lease),
        { fieldSelector },
      );
    }
    const labelSelector = options.nodeLabelSelector;
    await checker.watch(
      "/api/v1/nodes",
      () => core.listNode({ labelSelector }),
      (node: k8s.V1Node, deleted) => ledger.node(node, deleted),
      { labelSelector },
    );
    const namespace = options.namespace;
    await checker.watch(
      "/api/v1/namespaces",
      () => core.listNamespace(),
      (object: k8s.V1Namespace, deleted) => ledger.namespace(object, deleted),
      {},
    );
    await checker.watch(
      "/api/v1/persistentvolumes",
      () => core.listPersistentVolume(),
      (volume: k8s.V1PersistentVolume, deleted) => ledger.persistentVolume(volume, deleted, Date.now()),
      {},
    );
    await checker.watch(
      namespace ? `/api/v1/namespaces/${namespace}/persistentvolumeclaims` : "/api/v1/persistentvolumeclaims",
      () =>
        namespace
          ? core.listNamespacedPersistentVolumeClaim({ namespace })
          : core.listPersistentVolumeClaimForAllNamespaces(),
      (claim: k8s.V1PersistentVolumeClaim, deleted) =>
        ledger.persistentVolumeClaim(claim, deleted, Date.now()),
      {},
    );
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    for (const { apiGroup, version } of crdPodGroupKeys) {
      if (!(await servesPodGroups(kc, apiGroup, version))) continue;
      // Before the pods: from now on the CRD's pod key names its objects.
      ledger.serveCrd(apiGroup);
      const api = { group: apiGroup, version, plural: "podgroups" };
      await checker.watch(
        namespace
          ? `/apis/${apiGroup}/${version}/namespaces/${namespace}/podgroups`
          : `/apis/${apiGroup}/${version}/podgroups`,
        async () =>
          (namespace
            ? await custom.listNamespacedCustomObject({ ...api, namespace })
            : await custom.listClusterCustomObject(api)) as k8s.KubernetesListObject<k8s.KubernetesObject>,
        (podGroup: k8s.KubernetesObject, deleted) =>
          ledger.crdPodGroup(apiGroup, podGroup, deleted, Date.now()),
        {},
      );
      if (apiGroup === "scheduling.volcano.sh") {
        const scheduling = kc.makeApiClient(k8s.SchedulingV1Api);
        await checker.watch(
          "/apis/scheduling.k8s.io/v1/priorityclasses",
          () => scheduling.listPriorityClass(),
          (priorityClass: k8s.V1PriorityClass, deleted) => ledger.priorityClass(priorityClass, deleted),
          {},
        );
      }
    }
    if (await servesPodGroups(kc, "scheduling.k8s.io", "v1beta1")) {
      const api = { group: "scheduling.k8s.io", version: "v1beta1", plural: "podgroups" };
      await checker.watch(
        namespace
          ? `/apis/scheduling.k8s.io/v1beta1/namespaces/${namespace}/podgroups`
          : "/apis/scheduling.k8s.io/v1beta1/podgroups",
        async () =>
          (namespace
            ? await custom.listNamespacedCustomObject({ ...api, namespace })
            : await custom.listClusterCustomObject(api)) as k8s.KubernetesListObject<k8s.KubernetesObject>,
        (podGroup: k8s.KubernetesObject, deleted) => ledger.podGroup(podGroup, deleted, Date.now()),
        {},
      );
    }
    const listPods = () =>
      namespace ? core.listNamespacedPod({ namespace }) : core.listPodForAllNamespaces();
    await checker.watch(
      namespace ? `/api/v1/namespaces/${namespace}/pods` : "/api/v1/pods",
      // A relist's items come in name order: the ledger judges the binds among them after the last.
      async () => {
        const list = await listPods();
        ledger.relisting();
        setImmediate(() => ledger.relisted(Date.now()));
        return list;
      },
      (pod: k8s.V1Pod, deleted) => ledger.pod(pod, deleted, Date.now()),
      {},
    );
    for (const reason of eventReasons) {
      const fieldSelector = `reason=${reason}`;
      await checker.watch(
        namespace ? `/api/v1/namespaces/${namespace}/events` : "/api/v1/events",
        () =>
          namespace
            ? core.listNamespacedEvent({ namespace, fieldSelector })
            : core.listEventForAllNamespaces({ fieldSelector }),
        (event: k8s.CoreV1Event, deleted) => {
          if (!deleted) ledger.event(event, Date.now());
        },
        { fieldSelector },
      );
    }
    return checker;
  }

  private async watch<T extends k8s.KubernetesObject>(
    path: string,
    list: () => Promise<k8s.KubernetesListObject<T>>,
    handle: (object: T, deleted: boolean) => void,
    selectors: { labelSelector?: string; fieldSelector?: string },
  ): Promise<void> {
    const informer = new k8s.ListWatch(
      path,
      new k8s.Watch(this.kc),
      list,
      false,
      selectors.labelSelector,
      selectors.fieldSelector,
    );
    informer.on("add", (object) => handle(object, false));
    informer.on("update", (object) => handle(object, false));
    informer.on("delete", (object) => handle(object, true));
    const restart = (error: unknown) => {
      if (this.stopped) return;
      this.watchErrors++;
      this.options.onWatchError?.(path, error);
      setTimeout(() => {
        if (!this.stopped) void informer.start().catch(restart);
      }, 500);
    };
    informer.on("error", restart);
    await informer.start();
    this.informers.push(informer as unknown as k8s.Informer<k8s.KubernetesObject>);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const informer of this.informers) void informer.stop();
  }
}

/**
 * Whether discovery lists podgroups in group/version: scheduling.k8s.io/v1beta1 (the
 * GenericWorkload gate is on), or a PodGroup CRD's (installed).
 */
async function servesPodGroups(kc: k8s.KubeConfig, group: string, version: string): Promise<boolean> {
  try {
    const resources = await kc.makeApiClient(k8s.CustomObjectsApi).getAPIResources({ group, version });
    return resources.resources.some((resource) => resource.name === "podgroups");
  } catch {
    return false;
  }
}
