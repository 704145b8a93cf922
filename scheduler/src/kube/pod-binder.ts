/**
 * Binds pods through the Binding subresource (in protobuf, as kube-scheduler sends it: the API
 * server decodes it for less) and evicts through the Eviction API.
 * Outcomes are classified, never thrown, so the shard decides what each means.
 */
import {
  disruptionBudgetCauses,
  isDisruptionBudgetRefusal,
  type KubeClient,
  RequestWithheld,
} from "./kube-client.js";
import { encodeBinding, protobufContentType } from "./protobuf.js";

export type BindOutcome =
  /**
   * 201; or, when this bind is sent again after an error, a 409 saying the pod is already
   * assigned to the very node asked for: the earlier attempt went through, its answer was lost.
   */
  | "bound"
  /**
   * 409 "already assigned to node": bound by someone else (another shard or scheduler, or an
   * earlier placement of ours whose answer was lost), on that node or another.
   */
  | "conflict"
  /** 409 "non-empty .spec.schedulingGates": not to be bound until its gates are removed. */
  | "gated"
  /** 409 on the UID precondition: the pod bound was deleted and created again under its name. */
  | "stale"
  /** 404, or 409 "being deleted": the pod is gone or going. */
  | "gone"
  /**
   * 429 still, when the caller's bound on waiting ran out: the API server sheds load (API Priority
   * and Fairness). Not a failure of the bind: the pod is placed again later.
   */
  | "throttled"
  /** Anything else (5xx, timeouts, a 409 not recognised): worth retrying. */
  | "error"
  /** Not sent: this shard no longer owned the node or held its lease (fencing). */
  | "fenced";

export type EvictOutcome =
  | "evicted"
  | "gone"
  /**
   * 429 citing a DisruptionBudget cause: the pod's PodDisruptionBudget allows no disruption now
   * (or the disruption controller has not computed it yet). The pod keeps running.
   */
  | "disruption_budget"
  /** 429 without that cause, still when the caller's bound on waiting ran out: load shedding. */
  | "throttled"
  | "error"
  /** Not sent: this shard no longer held its lease (fencing). */
  | "fenced";

/**
 * Where a pod is, as a quorum read answers: asked when a bind's answer was lost (transport error,
 * 5xx) or named another node, so the shard never frees room a pod may hold.
 */
export type PodWhereabouts =
  | { readonly kind: "bound"; readonly nodeName: string; readonly uid: string }
  | { readonly kind: "unbound"; readonly uid: string }
  /** No pod of that name. */
  | { readonly kind: "gone" }
  /** The read failed: nothing is known yet. */
  | { readonly kind: "unknown"; readonly detail: string };

/** Why a bind or eviction was not sent, or failed in transport. */
const failure = (error: unknown) =>
  ({ outcome: error instanceof RequestWithheld ? "fenced" : "error", detail: String(error) }) as const;

/**
 * What a 409 to a Binding means, read from the Status the API server answers with (reason
 * Conflict, details naming the pod, the cause in the message). The registry checks the UID
 * precondition before the pod: a replaced pod answers "stale" whatever the new one holds.
 * `resentTo`: the node of a bind sent again after an error — "already assigned" to that very
 * node then means the earlier attempt went through ("bound").
 */
export function bindConflict(body: unknown, podName: string, resentTo?: string): BindOutcome {
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
  if (message.includes("is already assigned to node")) {
    const assignedTo = /is already assigned to node "([^"]*)"/.exec(message)?.[1];
    return resentTo !== undefined && assignedTo === resentTo ? "bound" : "conflict";
  }
  if (message.includes("is being deleted, cannot be assigned to a host")) return "gone";
  return "error";
}

/**
 * A budget's refusal in words: the Status message ("Cannot evict pod as it would violate the
 * pod's disruption budget.") and its cause's ("The disruption budget web needs 2 healthy pods
 * and has 2 currently").
 */
function budgetRefusal(body: unknown): string {
  const message = (body as { message?: unknown }).message;
  return [typeof message === "string" ? message : "", ...disruptionBudgetCauses(body)]
    .filter(Boolean)
    .join(" ");
}

export class PodBinder {
  constructor(private readonly client: KubeClient) {}

  async bind(
    namespace: string,
    name: string,
    uid: string,
    nodeName: string,
    sendIf?: () => boolean,
    signal?: AbortSignal,
    /** Sent again after an error: "already assigned" to nodeName then means that attempt went through. */
    repeated = false,
  ): Promise<{ outcome: BindOutcome; detail: string }> {
    try {
      const res = await this.client.call(
        "POST",
        `/api/v1/namespaces/${namespace}/pods/${name}/binding`,
        encodeBinding({ name, namespace, ...(uid ? { uid } : {}) }, nodeName),
        protobufContentType,
        sendIf,
        signal,
      );
      if (res.status === 201 || res.status === 200) return { outcome: "bound", detail: "" };
      const detail = (res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
      if (res.status === 409) {
        const outcome = bindConflict(res.body, name, repeated ? nodeName : undefined);
        return {
          outcome,
          detail: outcome === "bound" ? `an earlier attempt went through: ${detail}` : detail,
        };
      }
      if (res.status === 404) return { outcome: "gone", detail };
      if (res.status === 429) return { outcome: "throttled", detail };
      return { outcome: "error", detail };
    } catch (error) {
      return failure(error);
    }
  }

  /**
   * Evicts through the Eviction API, so PodDisruptionBudgets are honoured. Both a budget's
   * refusal and load shedding answer 429: the Status's causes tell them apart.
   */
  async evict(
    namespace: string,
    name: string,
    sendIf?: () => boolean,
    signal?: AbortSignal,
  ): Promise<{ outcome: EvictOutcome; detail: string }> {
    try {
      const res = await this.client.call(
        "POST",
        `/api/v1/namespaces/${namespace}/pods/${name}/eviction`,
        { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace } },
        undefined,
        sendIf,
        signal,
      );
      if (res.status === 201 || res.status === 200) return { outcome: "evicted", detail: "" };
      if (isDisruptionBudgetRefusal(res.status, res.body))
        return { outcome: "disruption_budget", detail: budgetRefusal(res.body) };
      const detail = (res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
      if (res.status === 404) return { outcome: "gone", detail };
      if (res.status === 429) return { outcome: "throttled", detail };
      return { outcome: "error", detail };
    } catch (error) {
      return failure(error);
    }
  }

  /**
   * Reads where the pod is now (see PodWhereabouts); never throws. A list of the one name (a
   * quorum read): the shard lists and watches pods, it is not granted get.
   */
  async whereIs(namespace: string, name: string): Promise<PodWhereabouts> {
    type Found = { items?: { metadata?: { uid?: string }; spec?: { nodeName?: string } }[] };
    try {
      const selector = encodeURIComponent(`metadata.name=${name}`);
      const res = await this.client.call<Found>(
        "GET",
        `/api/v1/namespaces/${namespace}/pods?fieldSelector=${selector}`,
      );
      if (res.status !== 200) return { kind: "unknown", detail: `HTTP ${res.status}` };
      const pod = res.body.items?.[0];
      if (pod === undefined) return { kind: "gone" };
      const uid = pod.metadata?.uid ?? "";
      const nodeName = pod.spec?.nodeName;
      return nodeName ? { kind: "bound", nodeName, uid } : { kind: "unbound", uid };
    } catch (error) {
      return { kind: "unknown", detail: String(error) };
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
