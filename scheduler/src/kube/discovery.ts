/**
 * API discovery: whether the API server serves a resource (an optional API such as
 * scheduling.k8s.io/v1beta1 PodGroups, behind the GenericWorkload gate and a runtime-config).
 * Asked once, before the informers start: an API enabled later needs a restart to be watched,
 * as with kube-scheduler's informers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeClient } from "./kube-client.js";

/** What discovery said: served, not served (404, or the group version lists no such resource). */
export type Discovered = "served" | "not-served";

/**
 * Asks GET /apis/<groupVersion> whether `resource` is listed. An answer other than 200 or 404,
 * or no answer, is asked again (1 s apart) until `stopped()` says to give up: then "not-served".
 */
export async function discoverResource(
  client: Pick<KubeClient, "call">,
  groupVersion: string,
  resource: string,
  stopped: () => boolean,
  retryMs = 1_000,
): Promise<Discovered> {
  while (!stopped()) {
    try {
      const res = await client.call<{ resources?: { name?: unknown }[] }>("GET", `/apis/${groupVersion}`);
      if (res.status === 404) return "not-served";
      if (res.status === 200)
        return (res.body?.resources ?? []).some((r) => r?.name === resource) ? "served" : "not-served";
    } catch {
      // No answer yet (the API server restarting): ask again, as the informers do.
    }
    await sleep(retryMs);
  }
  return "not-served";
}
