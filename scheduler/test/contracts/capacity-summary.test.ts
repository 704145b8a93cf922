import { describe, expect, it } from "vitest";
import {
  type CapacitySummary,
  maxFeasibleElsewhere,
  parseCapacitySummary,
} from "../../src/contracts/capacity-summary.js";
import { topologyRequiredAnnotation } from "../../src/contracts/keys.js";
import { stuckGroupReport } from "../../src/coordination/shard-report.js";
import type { Pod } from "../../src/core/api-types.js";
import { toPodInfo } from "../../src/core/build-info.js";
import { groupKey, pendingGroup } from "../../src/core/gang/index.js";
import { gang } from "../core/fixtures.js";

const header = { shard: "shard-0", epoch: 3, publishedAt: 1000 };

describe("parseCapacitySummary", () => {
  const stuck = {
    id: "group:ns/job",
    namespace: "ns",
    name: "job",
    solo: false,
    hashKey: "ns/job",
    members: ["job-0", "job-1"],
    required: 2,
    priority: 100,
    mayPreempt: true,
    since: 900,
    message: "no room",
  };
  const summary: CapacitySummary = {
    ...header,
    classes: [{ labels: { pool: "a" }, taints: [{ key: "gpu", value: "yes", effect: "NoSchedule" }] }],
    nodes: [
      {
        name: "n1",
        class: 0,
        free: { cpu: 2000, memory: 1024, pods: 100, "nvidia.com/gpu": 1 },
        freeable: [{ priority: -5, amounts: { cpu: 1000, pods: 1 } }],
        lentFor: "group:ns/job",
        nominatedFor: ["group:ns/other"],
      },
    ],
    stuck: [stuck],
  };
  const body = JSON.stringify(summary);
  /** The summary with `path` (dot-separated) set to `value`, as JSON. */
  const withField = (path: string, value: unknown): string => {
    const copy = JSON.parse(body);
    const keys = path.split(".");
    let at = copy;
    for (const key of keys.slice(0, -1)) at = at[key];
    at[keys[keys.length - 1] as string] = value;
    return JSON.stringify(copy);
  };
  const reasonOf = (text: string) => {
    const result = parseCapacitySummary(text, "shard-0");
    return result.ok ? "valid" : result.reason;
  };

  it("reads what a shard publishes", () => {
    expect(parseCapacitySummary(body, "shard-0")).toEqual({ ok: true, value: summary });
  });

  it("reads that a lent node's group was placed, only as true and beside lentFor", () => {
    const placed = parseCapacitySummary(withField("nodes.0.lentForPlaced", true), "shard-0");
    expect(placed.ok && placed.value.nodes[0]?.lentForPlaced).toBe(true);
    expect(reasonOf(withField("nodes.0.lentForPlaced", false))).toContain(
      "nodes[0].lentForPlaced is not true",
    );
    const copy = JSON.parse(withField("nodes.0.lentForPlaced", true));
    delete copy.nodes[0].lentFor;
    const alone = parseCapacitySummary(JSON.stringify(copy), "shard-0");
    expect(alone.ok && "lentForPlaced" in (alone.value.nodes[0] ?? {})).toBe(false);
  });

  it("reads a routed stuck report, and one without the field (older shards) as not routed", () => {
    const routed = parseCapacitySummary(withField("stuck.0.routed", true), "shard-0");
    expect(routed.ok && routed.value.stuck[0]?.routed).toBe(true);
    const notRouted = parseCapacitySummary(withField("stuck.0.routed", false), "shard-0");
    expect(notRouted.ok && "routed" in (notRouted.value.stuck[0] ?? {})).toBe(false);
    expect(reasonOf(withField("stuck.0.routed", "yes"))).toContain("stuck[0].routed is not a boolean");
  });

  it("reads the nodes an owner-only group fits elsewhere, bounded, and none when the field is absent", () => {
    const named = parseCapacitySummary(
      withField("stuck.0.feasibleElsewhere", ["node-b", "node-c"]),
      "shard-0",
    );
    expect(named.ok && named.value.stuck[0]?.feasibleElsewhere).toEqual(["node-b", "node-c"]);
    const many = Array.from({ length: 100 }, (_, i) => `node-${i}`);
    const bounded = parseCapacitySummary(withField("stuck.0.feasibleElsewhere", many), "shard-0");
    expect(bounded.ok && bounded.value.stuck[0]?.feasibleElsewhere?.length).toBe(maxFeasibleElsewhere);
    const plain = parseCapacitySummary(body, "shard-0");
    expect(plain.ok && "feasibleElsewhere" in (plain.value.stuck[0] ?? {})).toBe(false);
    expect(reasonOf(withField("stuck.0.feasibleElsewhere", ["Not A Name!"]))).toContain(
      "stuck[0].feasibleElsewhere[0]",
    );
  });

  it("reads a stuck group's topology as its owner reported it, and refuses a key that is not a label key", () => {
    const rack = "topology.kubernetes.io/rack";
    const [member] = gang("job", 1);
    (member as Pod).metadata.annotations = {
      ...(member as Pod).metadata.annotations,
      [topologyRequiredAnnotation]: rack,
    };
    const group = pendingGroup(groupKey("ns", "job", false), [toPodInfo(member as Pod)], [], undefined);
    const report = stuckGroupReport({ group, since: 900, message: "no rack has room for all 1 pods" });
    expect(report.topology).toEqual({ required: rack, preferred: [] });
    const read = parseCapacitySummary(JSON.stringify({ ...summary, stuck: [report] }), "shard-0");
    expect(read.ok && read.value.stuck[0]?.topology).toEqual({ required: rack, preferred: [] });
    const plain = parseCapacitySummary(body, "shard-0");
    expect(plain.ok && "topology" in (plain.value.stuck[0] ?? {})).toBe(false);
    expect(reasonOf(withField("stuck.0.topology", { required: "a b", preferred: [] }))).toContain(
      "stuck[0].topology.required is not a node label key",
    );
    expect(reasonOf(withField("stuck.0.topology", { preferred: [rack, 7] }))).toContain(
      "stuck[0].topology.preferred[1]",
    );
  });

  it("keeps maps keyed by external text without a prototype", () => {
    const result = parseCapacitySummary(body, "shard-0");
    if (!result.ok) throw new Error(result.reason);
    expect(Object.getPrototypeOf(result.value.classes[0]?.labels)).toBeNull();
    expect(Object.getPrototypeOf(result.value.nodes[0]?.free)).toBeNull();
  });

  it.each([
    ["", "not JSON"],
    ["{", "not JSON"],
    ["null", "the summary is not an object"],
    ["[]", "the summary is not an object"],
    ['"x"', "the summary is not an object"],
  ])("refuses %j", (text, reason) => {
    expect(reasonOf(text)).toBe(reason);
  });

  it.each([
    ["shard", "shard-1", 'published under "shard-0" by "shard-1"'],
    ["shard", 7, "shard is not a string"],
    ["epoch", 2 ** 53, "epoch is not an integer of at least 0 held exactly"],
    ["epoch", -1, "epoch is not an integer of at least 0 held exactly"],
    ["epoch", "3", "epoch is not an integer"],
    ["publishedAt", null, "publishedAt is not a finite number"],
    ["stuck", null, "stuck is not an array"],
    ["stuck", { 0: stuck }, "stuck is not an array"],
    ["stuck.0.members", "job-0", "stuck[0].members is not an array"],
    ["stuck.0.required", 0, "stuck[0].required is not an integer of at least 1"],
    ["stuck.0.since", "soon", "stuck[0].since is not a finite number"],
    ["nodes.0.class", 1, "nodes[0].class names no node class"],
    ["nodes.0.name", "../../apis/x", "nodes[0].name is not a Kubernetes object name"],
    ["stuck.0.namespace", "ns/pods/x?y", "stuck[0].namespace is not a Kubernetes object name"],
    ["stuck.0.namespace", "a.b", "stuck[0].namespace is not a namespace name"],
    ["stuck.0.members", ["job-0", "../secrets"], "stuck[0].members[1] is not a Kubernetes object name"],
    ["nodes.0.class", "0", "nodes[0].class is not an integer"],
    ["nodes.0.free", [], "nodes[0].free is not an object"],
    ["nodes.0.free.cpu", "2000m", "nodes[0].free.cpu is not a finite number"],
    ["nodes.0.free", JSON.parse('{"__proto__":1}'), 'nodes[0].free["__proto__"] is not a resource name'],
    ["nodes.0.free", { constructor: 1 }, 'nodes[0].free["constructor"] is not a resource name'],
    ["nodes.0.freeable.0.priority", 1.5, "nodes[0].freeable[0].priority is not an integer"],
    ["nodes.0.nominatedFor", "group:ns/other", "nodes[0].nominatedFor is not an array"],
    ["classes.0.labels", null, "classes[0].labels is not an object"],
    ["classes.0.labels.pool", 1, 'classes[0].labels["pool"] is not a string'],
    ["classes.0.taints.0.effect", "Evict", "classes[0].taints[0].effect is not a taint effect"],
  ])("refuses %s = %j, saying where", (path, value, reason) => {
    expect(reasonOf(withField(path, value))).toContain(reason);
  });

  it("reads labels named like Object.prototype members as labels", () => {
    const result = parseCapacitySummary(
      withField("classes.0.labels", JSON.parse('{"__proto__":"x","constructor":"y"}')),
      "shard-0",
    );
    if (!result.ok) throw new Error(result.reason);
    const labels = result.value.classes[0]?.labels ?? {};
    expect(Object.entries(labels)).toEqual([
      ["__proto__", "x"],
      ["constructor", "y"],
    ]);
  });

  it("refuses a huge group name no more than any other field, and never throws", () => {
    const huge = "g".repeat(200_000);
    expect(parseCapacitySummary(withField("stuck.0.name", huge), "shard-0").ok).toBe(true);
    for (const text of ["[".repeat(100_000), '{"__proto__":{"shard":"shard-0"}}', "\u0000", "1e400"])
      expect(() => parseCapacitySummary(text, "shard-0")).not.toThrow();
  });
});
