/**
 * Binds pods through the Binding subresource and evicts through the Eviction API.
 * Outcomes are classified, never thrown, so the shard decides what each means.
 */
import type { KubeClient } from "./kube-client.js";

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

export type EvictOutcome = "evicted" | "gone" | "blocked" | "error";

export class PodBinder {
  constructor(private readonly client: KubeClient) {}

  async bind(
    namespace: string,
    name: string,
    uid: string,
    nodeName: string,
  ): Promise<{ outcome: BindOutcome; detail: string }> {
    try {
      const res = await this.client.call("POST", `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name, namespace, ...(uid ? { uid } : {}) },
        target: { apiVersion: "v1", kind: "Node", name: nodeName },
      });
      if (res.status === 201 || res.status === 200) return { outcome: "bound", detail: "" };
      const detail = (res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
      if (res.status === 409) return { outcome: "conflict", detail };
      if (res.status === 404) return { outcome: "gone", detail };
      return { outcome: "error", detail };
    } catch (error) {
      return { outcome: "error", detail: String(error) };
    }
  }

  /** Evicts through the Eviction API, so PodDisruptionBudgets are honoured (429 = blocked). */
  async evict(namespace: string, name: string): Promise<{ outcome: EvictOutcome; detail: string }> {
    try {
      const res = await this.client.call("POST", `/api/v1/namespaces/${namespace}/pods/${name}/eviction`, {
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name, namespace },
      });
      const detail = (res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
      if (res.status === 201 || res.status === 200) return { outcome: "evicted", detail: "" };
      if (res.status === 404) return { outcome: "gone", detail };
      if (res.status === 429) return { outcome: "blocked", detail };
      return { outcome: "error", detail };
    } catch (error) {
      return { outcome: "error", detail: String(error) };
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
