/**
 * The chart's alerts (templates/prometheusrule.yaml) in Prometheus's own rule engine: promtool
 * checks the rendered rules (PromQL and annotation templates parse), then evaluates each alert on
 * synthetic series — it fires on the series it is about, after its `for`, with the labels an
 * operator routes on, and stays quiet on the series it must ignore (gated pods, bind conflicts,
 * evictions a PodDisruptionBudget refused, one restart, late renewals without a lapse). No cluster: helm template and promtool.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { toolPaths } from "../cluster/local/layout.js";
import { helmTemplate } from "./template.js";

const run = promisify(execFile);
const shards = 'namespace="ns", job="r-sharded-scheduler"';
const coordinator = 'namespace="ns", job="r-sharded-scheduler-coordinator"';
const shardLabels = { namespace: "ns", job: "r-sharded-scheduler" };

interface Rule {
  alert: string;
  annotations?: Record<string, string>;
}
let dir = "";
let groups: { name: string; rules: Rule[] }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chart-alerts-"));
  const [rule] = await helmTemplate<{ spec: { groups: typeof groups } }>(
    "--set",
    "metrics.prometheusRule.enabled=true",
    "--show-only",
    "templates/prometheusrule.yaml",
  );
  if (!rule) throw new Error("no PrometheusRule rendered");
  groups = rule.spec.groups;
  writeFileSync(join(dir, "rules.yaml"), stringify({ groups }));
  // promtool test compares annotations too; they are checked by `promtool check rules` and the chart test.
  const bare = groups.map((group) => ({
    ...group,
    rules: group.rules.map(({ annotations: _, ...rule }) => rule),
  }));
  writeFileSync(join(dir, "bare-rules.yaml"), stringify({ groups: bare }));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `promtool test rules` of one case; rejects with promtool's report when an expectation fails. */
async function promtoolTest(test: Record<string, unknown>): Promise<void> {
  const file = join(dir, `test-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    stringify({ rule_files: ["bare-rules.yaml"], evaluation_interval: "1m", tests: [test] }),
  );
  await run(promtool(), ["test", "rules", file], { cwd: dir }).catch(
    (error: { stdout?: string; stderr?: string }) => {
      throw new Error(`${error.stdout ?? ""}${error.stderr ?? ""}`);
    },
  );
}

const promtool = () => toolPaths().promtool;
const series = (metric: string, selector: string, extra: string, values: string) => ({
  series: `${metric}{${selector}${extra ? `, ${extra}` : ""}}`,
  values,
});
const alertAt = (alertname: string, eval_time: string, ...exp_labels: Record<string, string>[]) => ({
  eval_time,
  alertname,
  exp_alerts: exp_labels.map((labels) => ({ exp_labels: labels })),
});

describe("the chart's alerts in Prometheus's rule engine", () => {
  it("parse: promtool check rules", async () => {
    const { stdout } = await run(promtool(), ["check", "rules", join(dir, "rules.yaml")]);
    expect(stdout).toMatch(/SUCCESS: 7 rules found/);
  });

  it("no coordinator leader: a standby only, or no coordinator scraped at all, for 2m", async () => {
    await promtoolTest({
      interval: "1m",
      input_series: [series("sharded_scheduler_coordinator_leader", coordinator, 'pod="c-0"', "0x10")],
      alert_rule_test: [
        alertAt("ShardedSchedulerNoCoordinatorLeader", "1m"),
        alertAt("ShardedSchedulerNoCoordinatorLeader", "3m", { severity: "critical" }),
      ],
    });
    await promtoolTest({
      interval: "1m",
      input_series: [series("sharded_scheduler_ring_epoch", shards, 'pod="s-0"', "1x10")],
      alert_rule_test: [
        alertAt("ShardedSchedulerNoCoordinatorLeader", "3m", {
          namespace: "ns",
          job: "r-sharded-scheduler-coordinator",
          severity: "critical",
        }),
      ],
    });
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_coordinator_leader", coordinator, 'pod="c-0"', "0x10"),
        series("sharded_scheduler_coordinator_leader", coordinator, 'pod="c-1"', "1x10"),
      ],
      alert_rule_test: [alertAt("ShardedSchedulerNoCoordinatorLeader", "5m")],
    });
  });

  it("ring epoch not acknowledged: the shard behind the others, for 5m", async () => {
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_ring_epoch", shards, 'pod="s-0"', "5x10"),
        series("sharded_scheduler_ring_epoch", shards, 'pod="s-1"', "4x10"),
        series("sharded_scheduler_ring_epoch", shards, 'pod="s-2"', "5x10"),
      ],
      alert_rule_test: [
        alertAt("ShardedSchedulerRingEpochNotAcknowledged", "4m"),
        alertAt("ShardedSchedulerRingEpochNotAcknowledged", "6m", {
          ...shardLabels,
          pod: "s-1",
          severity: "critical",
        }),
      ],
    });
    // A shard that catches up within 5m is a handover, not an alert.
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_ring_epoch", shards, 'pod="s-0"', "5x10"),
        series("sharded_scheduler_ring_epoch", shards, 'pod="s-1"', "4 4 4 5x8"),
      ],
      alert_rule_test: [alertAt("ShardedSchedulerRingEpochNotAcknowledged", "8m")],
    });
  });

  it("pods pending: without a break for 15 minutes; gated pods do not count", async () => {
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_pending_pods", shards, 'pod="s-0", queue="unschedulable"', "2x20"),
        series("sharded_scheduler_pending_pods", shards, 'pod="s-1", queue="active"', "1x20"),
        series("sharded_scheduler_pending_pods", shards, 'pod="s-1", queue="gated"', "9x20"),
      ],
      alert_rule_test: [
        alertAt("ShardedSchedulerPodsPending", "14m"),
        alertAt("ShardedSchedulerPodsPending", "16m", { ...shardLabels, severity: "warning" }),
      ],
    });
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_pending_pods", shards, 'pod="s-0", queue="gated"', "9x20"),
        series("sharded_scheduler_pending_pods", shards, 'pod="s-0", queue="active"', "0x20"),
      ],
      alert_rule_test: [alertAt("ShardedSchedulerPodsPending", "16m")],
    });
  });

  it("bind and eviction errors: above 0.05/s for 10m; conflicts and PDB refusals do not count", async () => {
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_bind_errors_total", shards, 'pod="s-0", reason="error"', "0+60x30"),
        series("sharded_scheduler_bind_errors_total", shards, 'pod="s-0", reason="conflict"', "0+600x30"),
        series("sharded_scheduler_evictions_total", shards, 'pod="s-0", result="error"', "0+60x30"),
        series(
          "sharded_scheduler_evictions_total",
          shards,
          'pod="s-0", result="disruption_budget"',
          "0+600x30",
        ),
      ],
      alert_rule_test: [
        alertAt("ShardedSchedulerBindErrors", "8m"),
        alertAt("ShardedSchedulerBindErrors", "20m", { ...shardLabels, severity: "warning" }),
        alertAt("ShardedSchedulerEvictionErrors", "20m", { ...shardLabels, severity: "warning" }),
      ],
    });
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_bind_errors_total", shards, 'pod="s-0", reason="conflict"', "0+600x30"),
        series("sharded_scheduler_bind_errors_total", shards, 'pod="s-0", reason="error"', "0+1x30"),
        series("sharded_scheduler_evictions_total", shards, 'pod="s-0", result="throttled"', "0+600x30"),
      ],
      alert_rule_test: [
        alertAt("ShardedSchedulerBindErrors", "20m"),
        alertAt("ShardedSchedulerEvictionErrors", "20m"),
      ],
    });
  });

  it("lease lapses: a shard whose own Lease lapsed within 30m; renewals alone do not count", async () => {
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("sharded_scheduler_lease_lapses_total", shards, 'pod="s-0"', "0 0 0 1 1 1 1 1 1 1"),
        series("sharded_scheduler_lease_lapses_total", shards, 'pod="s-1"', "0 0 0 0 0 0 0 0 0 0"),
        series(
          "sharded_scheduler_lease_renewals_total",
          shards,
          'pod="s-1", result="late"',
          "0 5 10 15 20 25 30 35 40 45",
        ),
      ],
      alert_rule_test: [
        alertAt("ShardedSchedulerLeaseLapses", "2m"),
        alertAt("ShardedSchedulerLeaseLapses", "5m", { ...shardLabels, pod: "s-0", severity: "warning" }),
      ],
    });
  });

  it("restarting: more than 2 process starts within 15m, shard or coordinator", async () => {
    await promtoolTest({
      interval: "1m",
      input_series: [
        series("process_start_time_seconds", shards, 'pod="s-0"', "100 100 200 200 300 300 400 400 400 400"),
        series("process_start_time_seconds", shards, 'pod="s-1"', "100 100 200 200 200 200 200 200 200 200"),
        series("process_start_time_seconds", coordinator, 'pod="c-0"', "50 60 70 80 80 80 80 80 80 80"),
      ],
      alert_rule_test: [
        alertAt("ShardedSchedulerRestarting", "2m"),
        alertAt(
          "ShardedSchedulerRestarting",
          "8m",
          { ...shardLabels, pod: "s-0", severity: "warning" },
          { namespace: "ns", job: "r-sharded-scheduler-coordinator", pod: "c-0", severity: "warning" },
        ),
      ],
    });
  });
});
