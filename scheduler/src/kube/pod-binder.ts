/**
 * Binds pods through the Binding subresource and evicts through the Eviction API.
 * Outcomes are classified, never thrown, so the shard decides what each means.
 */
import { type KubeClient, RequestWithheld } from "./kube-client.js";

export type BindOutcome =
  | "bound"
  /** 409: the pod is already bound (by another shard or scheduler): drop our assumption. */
  | "conflict"
  /** 404: the pod is gone. */
  | "gone"
  /** Anything else (5xx, timeouts, 429): worth retrying. */
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
      if (res.status === 409) return { outcome: "conflict", detail };
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
