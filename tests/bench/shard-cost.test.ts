import { describe, expect, it } from "vitest";
import { shardCostOf } from "./shard-cost.js";

// A shard's /metrics as prom-client serves it: counters by resource, the GC histogram by kind.
const metricsText = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 2.5
nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor"} 3
nodejs_gc_duration_seconds_sum{kind="minor"} 0.36
nodejs_gc_duration_seconds_count{kind="minor"} 45
nodejs_gc_duration_seconds_sum{kind="major"} 0.04
nodejs_gc_duration_seconds_sum{kind="incremental"} 0.02
sharded_scheduler_watch_events_total{resource="pods"} 6001
sharded_scheduler_watch_events_total{resource="nodes"} 1002
sharded_scheduler_watch_events_total{resource="podgroups"} 751
sharded_scheduler_watch_received_bytes_total{resource="pods"} 12948191
sharded_scheduler_watch_received_bytes_total{resource="nodes"} 4152644
sharded_scheduler_watch_decode_seconds_total{resource="pods"} 0.28
sharded_scheduler_watch_decode_seconds_total{resource="nodes"} 0.08
sharded_scheduler_lease_renewals_total{result="counted"} 20
sharded_scheduler_lease_renewals_total{result="late"} 4
sharded_scheduler_lease_lapses_total 1
`;

describe("shardCostOf", () => {
  it("reads a shard's CPU, its GC over every kind, and its pod and node watches apart", () => {
    const cost = shardCostOf("sharded-scheduler-1", metricsText);
    expect(cost.process).toBe("sharded-scheduler-1");
    expect(cost.cpuSeconds).toBe(2.5);
    expect(cost.gcSeconds).toBeCloseTo(0.42, 10);
    expect(cost.watch.pods).toEqual({ events: 6001, bytes: 12948191, decodeSeconds: 0.28 });
    expect(cost.watch.nodes).toEqual({ events: 1002, bytes: 4152644, decodeSeconds: 0.08 });
    expect(cost.lease).toEqual({ lateRenewals: 4, lapses: 1 });
  });

  it("reads zero for what a shard never counted", () => {
    const cost = shardCostOf("sharded-scheduler-0", "process_cpu_seconds_total 1\n");
    expect(cost.gcSeconds).toBe(0);
    expect(cost.watch.pods).toEqual({ events: 0, bytes: 0, decodeSeconds: 0 });
    expect(cost.lease).toEqual({ lateRenewals: 0, lapses: 0 });
  });
});
