/**
 * What a run cost the API server in writes, per scheduled pod: read from the API server's own
 * request counter (apiserver_request_total) before and after the run. Writes are what the API
 * server pays for (each is an etcd transaction): binds, pod status patches and Events.
 * Cluster-wide counts: whatever else writes meanwhile (node Leases; KWOK's status patches of pods
 * turning Running, on a cluster with the pod lifecycle) is in every system's.
 * Events count in both APIs, core/v1 and events.k8s.io/v1.
 */
import type { KubeRest } from "../cluster/local/kube-rest.js";

/** Write requests by kind, as counted by the API server (a type, so it reads as a record of numbers). */
export type ApiWrites = {
  bindings: number;
  podStatusPatches: number;
  podPatches: number;
  eventCreates: number;
  eventPatches: number;
};

const kinds: readonly { kind: keyof ApiWrites; verb: string; resource: string; subresource: string }[] = [
  { kind: "bindings", verb: "POST", resource: "pods", subresource: "binding" },
  { kind: "podStatusPatches", verb: "PATCH", resource: "pods", subresource: "status" },
  { kind: "podPatches", verb: "PATCH", resource: "pods", subresource: "" },
  { kind: "eventCreates", verb: "POST", resource: "events", subresource: "" },
  { kind: "eventPatches", verb: "PATCH", resource: "events", subresource: "" },
];

/** Each sample of the counter `name` in /metrics text: its labels and value. */
function* counterSamples(
  metricsText: string,
  name = "apiserver_request_total",
): Generator<{ labels: Map<string, string>; value: number }> {
  const prefix = `${name}{`;
  for (const line of metricsText.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const close = line.lastIndexOf("}");
    const labels = new Map<string, string>();
    for (const match of line.slice(line.indexOf("{") + 1, close).matchAll(/(\w+)="([^"]*)"/g))
      labels.set(match[1] as string, match[2] as string);
    const value = Number(line.slice(close + 1).trim());
    if (Number.isFinite(value)) yield { labels, value };
  }
}

/** Sums apiserver_request_total over codes and scopes for each kind of write, from /metrics text. */
export function countApiWrites(metricsText: string): ApiWrites {
  const counts: ApiWrites = {
    bindings: 0,
    podStatusPatches: 0,
    podPatches: 0,
    eventCreates: 0,
    eventPatches: 0,
  };
  for (const { labels, value } of counterSamples(metricsText)) {
    for (const { kind, verb, resource, subresource } of kinds) {
      if (
        labels.get("verb") === verb &&
        labels.get("resource") === resource &&
        (labels.get("subresource") ?? "") === subresource &&
        // Events in either API (both schedulers write events.k8s.io/v1; controllers may write core/v1).
        (labels.get("group") ?? "") === (resource === "events" ? labels.get("group") : "")
      )
        counts[kind] += value;
    }
  }
  return counts;
}

/**
 * Every request the API server counted (reads and watches too), by "VERB resource[/subresource]"
 * summed over groups, codes and scopes: where a system's requests go, beside the writes.
 */
export function countApiRequests(metricsText: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { labels, value } of counterSamples(metricsText)) {
    const subresource = labels.get("subresource") ?? "";
    const key = `${labels.get("verb") ?? "?"} ${labels.get("resource") ?? "?"}${subresource ? `/${subresource}` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** What the API server has counted so far: the writes by kind and every request by verb and resource. */
/**
 * What the API server asked etcd (etcd_requests_total), by "operation resource" summed over API
 * groups: writes, reads the watch cache could not serve, and the current-revision reads behind
 * consistent lists. Where etcd's CPU goes, beside the API requests that caused it.
 */
export function countEtcdRequests(metricsText: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { labels, value } of counterSamples(metricsText, "etcd_requests_total")) {
    const key = `${labels.get("operation") ?? "?"} ${labels.get("resource") ?? "?"}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

export interface ApiCounts {
  writes: ApiWrites;
  requests: Map<string, number>;
  etcd: Map<string, number>;
}

export async function readApiWrites(kube: KubeRest): Promise<ApiCounts | undefined> {
  const res = await kube.call<string>("GET", "/metrics");
  return res.status === 200 && typeof res.body === "string"
    ? {
        writes: countApiWrites(res.body),
        requests: countApiRequests(res.body),
        etcd: countEtcdRequests(res.body),
      }
    : undefined;
}

/** Requests per pod between two readings, by kind ("VERB resource"), those of at least 0.01 per pod, most first. */
export function requestsPerPod(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  pods: number,
): Record<string, number> {
  const per: [string, number][] = [];
  for (const [key, value] of after) {
    const delta = Math.round(((value - (before.get(key) ?? 0)) / Math.max(1, pods)) * 100) / 100;
    if (delta >= 0.01) per.push([key, delta]);
  }
  return Object.fromEntries(per.sort((a, b) => b[1] - a[1]));
}

/** (after − before) / pods, two decimals. */
export function writesPerPod(before: ApiWrites, after: ApiWrites, pods: number): ApiWrites {
  const per = (kind: keyof ApiWrites) =>
    Math.round(((after[kind] - before[kind]) / Math.max(1, pods)) * 100) / 100;
  return {
    bindings: per("bindings"),
    podStatusPatches: per("podStatusPatches"),
    podPatches: per("podPatches"),
    eventCreates: per("eventCreates"),
    eventPatches: per("eventPatches"),
  };
}
