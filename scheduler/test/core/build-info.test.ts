import { describe, expect, it } from "vitest";
import type { Container, Pod } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { Resources } from "../../src/core/resources/resources.js";
import { pod } from "./fixtures.js";

const Mi = 1024 ** 2;

/** `base` with the given spec fields, its containers array the very one `base` has. */
function withSpec(base: Pod, name: string, spec: Partial<Pod["spec"]>): Pod {
  return { ...base, metadata: { ...base.metadata, name, uid: name }, spec: { ...base.spec, ...spec } };
}

describe("a pod's requests, computed once per containers array", () => {
  const base = pod("base", { cpu: "500m", memory: "256Mi" });
  const sidecar: Container = { name: "init", resources: { requests: { cpu: "2" } } };

  it("shares them between pods with the same containers array, and freezes them", () => {
    const [a, b] = [toPodInfo(base), toPodInfo(withSpec(base, "b", {}))];
    expect(b.requests).toBe(a.requests);
    expect(a.requests.milliCpu).toBe(500);
    expect(a.nonZeroRequests).toEqual({ milliCpu: 500, memory: 256 * Mi });
    expect(Object.isFrozen(a.requests)).toBe(true);
    expect(() => a.requests.add(Resources.fromResourceList({ cpu: "1" }))).toThrow(TypeError);
    expect(a.requests.milliCpu).toBe(500);
  });

  it("computes them afresh where init containers, overhead or pod-level resources add to the containers", () => {
    toPodInfo(base);
    const init = toPodInfo(withSpec(base, "init", { initContainers: [sidecar] }));
    const overhead = toPodInfo(withSpec(base, "overhead", { overhead: { cpu: "250m" } }));
    const podLevel = toPodInfo(withSpec(base, "pod-level", { resources: { requests: { cpu: "3" } } }));
    expect(init.requests.milliCpu).toBe(2000);
    expect(overhead.requests.milliCpu).toBe(750);
    expect(overhead.nonZeroRequests.milliCpu).toBe(750);
    expect(podLevel.requests.milliCpu).toBe(3000);
    expect(Object.isFrozen(init.requests)).toBe(true);
    // And the shared ones are untouched by them.
    expect(toPodInfo(withSpec(base, "again", {})).requests.milliCpu).toBe(500);
  });
});
