/** The API server's request counter read into writes per pod. */
import { describe, expect, it } from "vitest";
import {
  countApiRequests,
  countApiWrites,
  countEtcdRequests,
  requestsPerPod,
  writesPerPod,
} from "./api-writes.js";

const metrics = (bindings: number, statusPatches: number, events: number) =>
  [
    "# HELP apiserver_request_total Counter of apiserver requests",
    `apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} ${bindings}`,
    `apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} ${statusPatches}`,
    `apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="status",verb="PATCH",version="v1"} 1`,
    `apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="events",scope="namespace",subresource="",verb="POST",version="v1"} ${events}`,
    `apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="namespace",subresource="",verb="POST",version="v1"} 1000`,
    `apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 5000`,
  ].join("\n");

describe("API writes per pod", () => {
  it("sums each kind of write over codes and both Event APIs, and leaves reads out", () => {
    expect(countApiWrites(metrics(10, 4, 7))).toEqual({
      bindings: 10,
      podStatusPatches: 5,
      podPatches: 0,
      eventCreates: 1007,
      eventPatches: 0,
    });
  });

  it("divides the run's writes by the pods it bound", () => {
    const before = countApiWrites(metrics(10, 4, 7));
    const after = countApiWrites(metrics(110, 44, 207));
    expect(writesPerPod(before, after, 100)).toEqual({
      bindings: 1,
      podStatusPatches: 0.4,
      podPatches: 0,
      eventCreates: 2,
      eventPatches: 0,
    });
  });

  it("counts every request by verb and resource, reads too, and keeps those of at least 0.01 per pod", () => {
    const before = countApiRequests(metrics(10, 4, 7));
    expect(before.get("POST pods/binding")).toBe(10);
    expect(before.get("PATCH pods/status")).toBe(5);
    expect(before.get("POST events")).toBe(1007);
    expect(before.get("GET pods")).toBe(5000);
    const after = countApiRequests(metrics(110, 44, 207));
    expect(requestsPerPod(before, after, 100)).toEqual({
      "POST events": 2,
      "POST pods/binding": 1,
      "PATCH pods/status": 0.4,
    });
  });

  it("counts what the API server asked etcd by operation and resource, over API groups", () => {
    const etcd = (updates: number, currentRevisions: number) =>
      [
        "# HELP etcd_requests_total [ALPHA] Etcd request counts for each operation and object type.",
        `etcd_requests_total{group="",operation="update",resource="pods"} ${updates}`,
        `etcd_requests_total{group="",operation="getCurrentResourceVersion",resource="pods"} ${currentRevisions}`,
        `etcd_requests_total{group="events.k8s.io",operation="create",resource="events"} 3`,
        `etcd_requests_total{group="",operation="create",resource="events"} 4`,
        `apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 10`,
      ].join("\n");
    const before = countEtcdRequests(etcd(10, 2));
    expect(Object.fromEntries(before)).toEqual({
      "update pods": 10,
      "getCurrentResourceVersion pods": 2,
      "create events": 7,
    });
    expect(requestsPerPod(before, countEtcdRequests(etcd(110, 52)), 100)).toEqual({
      "update pods": 1,
      "getCurrentResourceVersion pods": 0.5,
    });
  });
});
