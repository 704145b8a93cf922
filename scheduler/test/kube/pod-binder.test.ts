/**
 * A 409 to a Binding is read, not guessed: the Status the API server answers with says whether
 * the pod is bound already, still gated, replaced (UID precondition) or being deleted. A stub
 * stands in for the REST client and answers with the bodies the API server sends.
 */
import { describe, expect, it } from "vitest";
import type { KubeClient } from "../../src/kube/kube-client.js";
import { PodBinder } from "../../src/kube/pod-binder.js";
import { budgetRefusal } from "./api-answers.js";

/** The Status a 409 from pods/binding carries (apiserver's NewConflict). */
function conflict(name: string, cause: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `Operation cannot be fulfilled on pods/binding "${name}": ${cause}`,
    reason: "Conflict",
    details: { name, kind: "pods/binding" },
    code: 409,
  };
}

function answering(status: number, body: unknown): KubeClient {
  return { call: async () => ({ status, body }) } as unknown as KubeClient;
}

const bind = (client: KubeClient) => new PodBinder(client).bind("default", "g-0", "uid-1", "node-a");
/** The same bind sent again after an error. */
const bindAgain = (client: KubeClient) =>
  new PodBinder(client).bind("default", "g-0", "uid-1", "node-a", undefined, undefined, true);

describe("PodBinder: what a 409 means", () => {
  it.each([
    ["pod g-0 has non-empty .spec.schedulingGates", "gated"],
    ["Precondition failed: UID in precondition: uid-1, UID in object meta: uid-2", "stale"],
    ['pod g-0 is already assigned to node "node-b"', "conflict"],
    ["pod g-0 is being deleted, cannot be assigned to a host", "gone"],
    ["something this binder has never seen", "error"],
  ])("%s: %s", async (cause, outcome) => {
    const result = await bind(answering(409, conflict("g-0", cause)));
    expect(result.outcome).toBe(outcome);
    expect(result.detail).toContain(cause);
  });

  it("takes 'already assigned' to the very node asked for as bound only when the bind is sent again", async () => {
    const sameNode = answering(409, conflict("g-0", 'pod g-0 is already assigned to node "node-a"'));
    // First attempt: someone else bound it there (counted as a conflict, not as our bind).
    expect((await bind(sameNode)).outcome).toBe("conflict");
    const again = await bindAgain(sameNode);
    expect(again.outcome).toBe("bound");
    expect(again.detail).toContain("an earlier attempt went through");
    const elsewhere = answering(409, conflict("g-0", 'pod g-0 is already assigned to node "node-b"'));
    const moved = await bindAgain(elsewhere);
    expect(moved.outcome).toBe("conflict");
  });

  it("takes a 409 that is not a Conflict Status about this pod for an error, not for 'already bound'", async () => {
    expect((await bind(answering(409, undefined))).outcome).toBe("error");
    expect((await bind(answering(409, "already assigned"))).outcome).toBe("error");
    const other = conflict("g-1", 'pod g-1 is already assigned to node "node-b"');
    expect((await bind(answering(409, other))).outcome).toBe("error");
    const notConflict = {
      ...conflict("g-0", 'pod g-0 is already assigned to node "node-b"'),
      reason: "Other",
    };
    expect((await bind(answering(409, notConflict))).outcome).toBe("error");
  });

  it("still reads 201, 404 and 5xx as before", async () => {
    expect((await bind(answering(201, {}))).outcome).toBe("bound");
    expect((await bind(answering(404, { message: 'pods "g-0" not found' }))).outcome).toBe("gone");
    expect((await bind(answering(500, {}))).outcome).toBe("error");
  });
});

describe("PodBinder: what a 429 means", () => {
  const evict = (client: KubeClient) => new PodBinder(client).evict("default", "web-0");

  it("an eviction refused by a PodDisruptionBudget is its own outcome, saying which budget", async () => {
    const result = await evict(answering(429, budgetRefusal));
    expect(result.outcome).toBe("disruption_budget");
    expect(result.detail).toBe(
      "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget web needs 2 healthy pods and has 2 currently",
    );
  });

  it("a 429 without that cause (the client's wait on throttling ran out) is throttling, for evictions and binds", async () => {
    const shed = "Too many requests, please try again later.\n";
    expect((await evict(answering(429, shed))).outcome).toBe("throttled");
    expect((await bind(answering(429, shed))).outcome).toBe("throttled");
    expect((await bind(answering(429, { ...budgetRefusal, details: {} }))).outcome).toBe("throttled");
  });

  it("passes the caller's signal to the client, which bounds its waits on throttling with it", async () => {
    const signals: unknown[] = [];
    const client = {
      call: async (...args: unknown[]) => {
        signals.push(args[5]);
        return { status: 201, body: {} };
      },
    } as unknown as KubeClient;
    const signal = new AbortController().signal;
    await new PodBinder(client).bind("default", "g-0", "uid-1", "node-a", undefined, signal);
    await new PodBinder(client).evict("default", "web-0", undefined, signal);
    expect(signals).toEqual([signal, signal]);
  });
});

describe("PodBinder.whereIs: where a pod is, after a bind answered with an error", () => {
  const whereIs = (client: KubeClient) => new PodBinder(client).whereIs("default", "g-0");
  const listing = (...items: unknown[]) => ({ kind: "PodList", metadata: {}, items });

  it("reads the pod by name with a field selector (the shard is granted list, not get)", async () => {
    const paths: string[] = [];
    const client = {
      call: async (_method: string, path: string) => {
        paths.push(path);
        return { status: 200, body: listing() };
      },
    } as unknown as KubeClient;
    expect(await whereIs(client)).toEqual({ kind: "gone" });
    expect(paths).toEqual(["/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dg-0"]);
  });

  it("tells bound (with its node), unbound and unknown apart", async () => {
    const bound = listing({ metadata: { uid: "u1" }, spec: { nodeName: "node-b" } });
    expect(await whereIs(answering(200, bound))).toEqual({ kind: "bound", nodeName: "node-b", uid: "u1" });
    expect(await whereIs(answering(200, listing({ metadata: { uid: "u1" }, spec: {} })))).toEqual({
      kind: "unbound",
      uid: "u1",
    });
    expect((await whereIs(answering(503, {}))).kind).toBe("unknown");
    const refused = {
      call: async () => {
        throw new Error("connect ECONNREFUSED");
      },
    } as unknown as KubeClient;
    expect(await whereIs(refused)).toEqual({ kind: "unknown", detail: "Error: connect ECONNREFUSED" });
  });
});
