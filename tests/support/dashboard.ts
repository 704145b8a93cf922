/**
 * The Grafana dashboard the chart ships (charts/sharded-scheduler/files/dashboard.json) and the
 * metric names its queries use, beside the names the shard and the coordinator register.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { collectDefaultMetrics, type Registry } from "prom-client";
import { CoordinatorMetrics } from "../../coordinator/src/metrics.js";
import { ShardMetrics } from "../../scheduler/src/shard/metrics.js";
import { repoRoot } from "../cluster/local/layout.js";

export interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
}

export const dashboardFile = join(repoRoot, "charts", "sharded-scheduler", "files", "dashboard.json");

export function readDashboard(text = readFileSync(dashboardFile, "utf8")): Dashboard {
  return JSON.parse(text) as Dashboard;
}

/**
 * Every metric a query selects (a name followed by its label matchers), histogram series
 * (_bucket, _sum, _count) named by their histogram; sorted, once each.
 */
export function dashboardMetrics(dashboard: Dashboard): string[] {
  const names = dashboard.panels
    .flatMap((panel) => panel.targets ?? [])
    .flatMap((target) =>
      [...target.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1] as string),
    );
  return [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, "")))].sort();
}

/**
 * The metric names a shard and a coordinator export, as their entry points register them
 * (their own metrics and Node's process metrics); no process needs to run.
 */
export async function exportedMetrics(): Promise<Set<string>> {
  const registries: Registry[] = [new ShardMetrics().registry, new CoordinatorMetrics().registry];
  const names = new Set<string>();
  for (const registry of registries) {
    collectDefaultMetrics({ register: registry });
    for (const metric of await registry.getMetricsAsJSON()) names.add(metric.name);
  }
  return names;
}
