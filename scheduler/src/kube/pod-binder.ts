/**
 * Binds pods through the Binding subresource and evicts through the Eviction API.
 * Outcomes are classified, never thrown, so the shard decides what each means.
 */
import { type KubeClient, RequestWithheld } from "./kube-client.js";

export type BindOutcome =
  | "bound"
  /** 409 "already assigned to node": bound by another shard or scheduler: drop our assumption. */
  | "conflict"
  /** 409 "non-empty .spec.schedulingGates": not to be bound until its gates are removed. */
  | "gated"
  /** 409 on the UID precondition: the pod bound was deleted and created again under its name. */
  | "stale"
  /** 404, or 409 "being deleted": the pod is gone or going. */
  | "gone"
  /** Anything else (5xx, timeouts, 429, a 409 not recognised): worth retrying. */
  | "error"
  /** Not sent: this shard no longer owned the node or held its lease (fencing). */
  | "fenced";

export type EvictOutcome =
  | "evicted"
  | "gone"
  /** 429: a PodDisruptionBudget does not allow it now. */
  | "blocked"
  | "error"
  /** Not sent: this shard no longer held its lease (fencing). */
  | "fenced";

/** Why a bind or eviction was not sent, or failed in transport. */
const failure = (error: unknown) =>
  ({ outcome: error instanceof RequestWithheld ? "fenced" : "error", detail: String(error) }) as const;

/**
 * What a 409 to a Binding means, read from the Status the API server answers with (reason
 * Conflict, details naming the pod, the cause in the message). The registry checks the UID
 * precondition before the pod: a replaced pod answers "stale" whatever the new one holds.
 */
export function bindConflict(body: unknown, podName: string): BindOutcome {
  const status = body as {
    kind?: unknown;
    reason?: unknown;
    message?: unknown;
    details?: { name?: unknown };
  };
  if (typeof status !== "object" || status === null || status.kind !== "Status") return "error";
  if (status.reason !== "Conflict" || typeof status.message !== "string") return "error";
  if (status.details?.name !== undefined && status.details.name !== podName) return "error";
  const message = status.message;
  if (message.includes("Precondition failed: UID in precondition")) return "stale";
  if (message.includes("has non-empty .spec.schedulingGates")) return "gated";
  if (message.includes("is already assigned to node")) return "conflict";
  if (message.includes("is being deleted, cannot be assigned to a host")) return "gone";
  return "error";
}

export class PodBinder {
  constructor(private readonly client: KubeClient) {}

  async bind(
    namespace: string,
    name: string,
    uid: string,
    nodeName: string,
    sendIf?: () => boolean,
  ): Promise<{ outcome: BindOutcome; detail: string }> {
    try {
      const res = await this.client.call(
        "POST",
        `/api/v1/namespaces/${namespace}/pods/${name}/binding`,
        {
          apiVersion: "v1",
          kind: "Binding",
          metadata: { name, namespace, ...(uid ? { uid } : {}) },
          target: { apiVersion: "v1", kind: "Node", name: nodeName },
        },
        undefined,
        sendIf,
      );
      if (res.status === 201 || res.status === 200) return { outcome: "bound", detail: "" };
      const detail = (res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
      if (res.status === 409) return { outcome: bindConflict(res.body, name), detail };
      if (res.status === 404) return { outcome: "gone", detail };
      return { outcome: "error", detail };
    } catch (error) {
      return failure(error);
    }
  }

  /** Evicts through the Eviction API, so PodDisruptionBudgets are honoured (429 = blocked). */
  async evict(
    namespace: string,
    name: string,
    sendIf?: () => boolean,
  ): Promise<{ outcome: EvictOutcome; detail: string }> {
    try {
      const res = await this.client.call(
        "POST",
        `/api/v1/namespaces/${namespace}/pods/${name}/eviction`,
        { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace } },
        undefined,
        sendIf,
      );
      const detail = (res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
      if (res.status === 201 || res.status === 200) return { outcome: "evicted", detail: "" };
      if (res.status === 404) return { outcome: "gone", detail };
      if (res.status === 429) return { outcome: "blocked", detail };
      return { outcome: "error", detail };
    } catch (error) {
      return failure(error);
    }
  }

  /** Deletes a pod (rolling back a partial gang whose pods a controller recreates). */
  async delete(namespace: string, name: string, uid: string): Promise<boolean> {
    const res = await this.client.call("DELETE", `/api/v1/namespaces/${namespace}/pods/${name}`, {
      apiVersion: "v1",
      kind: "DeleteOptions",
      preconditions: { uid },
    });
    return res.status === 200 || res.status === 202 || res.status === 404;
  }
}
