/**
 * Native PodGroups (scheduling.k8s.io/v1beta1) for integration tests: whether the API server
 * serves them (the GenericWorkload gate), creating one in a test namespace, and a pod joining one.
 */
import * as k8s from "@kubernetes/client-node";

export const podGroupApi = { group: "scheduling.k8s.io", version: "v1beta1", plural: "podgroups" };

/** Whether discovery lists scheduling.k8s.io/v1beta1 podgroups. */
export function servesPodGroups(kc: k8s.KubeConfig): Promise<boolean> {
  return kc
    .makeApiClient(k8s.CustomObjectsApi)
    .getAPIResources({ group: podGroupApi.group, version: podGroupApi.version })
    .then((list) => list.resources.some((r) => r.name === podGroupApi.plural))
    .catch(() => false);
}

/** Creates PodGroup `name` with this spec in the namespace. */
export function createPodGroup(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<unknown> {
  return kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
    ...podGroupApi,
    namespace,
    body: {
      apiVersion: `${podGroupApi.group}/${podGroupApi.version}`,
      kind: "PodGroup",
      metadata: { name },
      spec,
    },
  });
}

/** The pod, joining PodGroup podGroup (spec.schedulingGroup). */
export function joining(pod: k8s.V1Pod, podGroup: string): k8s.V1Pod {
  return { ...pod, spec: { ...(pod.spec as k8s.V1PodSpec), schedulingGroup: { podGroupName: podGroup } } };
}

/** PodGroup `name` of the namespace, as the API server serves it now. */
export async function getPodGroup<T = { spec?: unknown; status?: { conditions?: unknown[] } }>(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
): Promise<T> {
  return (await kc
    .makeApiClient(k8s.CustomObjectsApi)
    .getNamespacedCustomObject({ ...podGroupApi, namespace, name })) as T;
}
