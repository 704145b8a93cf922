/**
 * The chart's Grafana dashboard against the code: every metric a query names is one the shard or
 * the coordinator exports now, so a renamed or removed metric fails here, not on an operator's
 * empty panel. (helm-chart.test.ts checks the same against a running release.)
 */
import { describe, expect, it } from "vitest";
import { dashboardMetrics, exportedMetrics, readDashboard } from "../support/dashboard.js";

describe("the Grafana dashboard", () => {
  it("queries only metrics the shard or the coordinator exports", async () => {
    const used = dashboardMetrics(readDashboard());
    expect(used.length).toBeGreaterThan(15);
    const exported = await exportedMetrics();
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });

  it("finds a metric the code no longer exports", async () => {
    const stale = readDashboard(
      JSON.stringify({
        panels: [
          {
            title: "old",
            targets: [
              { expr: 'sum(rate(sharded_scheduler_pods_scheduled_total{namespace="$namespace"}[5m]))' },
              {
                expr: "histogram_quantile(0.99, sum by (le) (rate(sharded_scheduler_scheduling_cycle_duration_seconds_bucket{}[5m])))",
              },
            ],
          },
        ],
      }),
    );
    const exported = await exportedMetrics();
    expect(dashboardMetrics(stale).filter((name) => !exported.has(name))).toEqual([
      "sharded_scheduler_pods_scheduled_total",
      "sharded_scheduler_scheduling_cycle_duration_seconds",
    ]);
  });
});
