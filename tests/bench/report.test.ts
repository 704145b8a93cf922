import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { BasicReport } from "./basic.js";
import { formatValue, renderChart } from "./charts.js";
import { type ReportResults, renderReport, table } from "./report.js";
import { readReportResults, writeReport } from "./report-run.js";
import type { SystemResult } from "./stats.js";

const memory = (...peaks: number[]) =>
  peaks.map((peak, i) => ({ process: `sharded-scheduler-${i}`, rssMiB: peak - 10, peakRssMiB: peak }));

const run = (system: string, podsPerSecond: number, extra: Partial<SystemResult> = {}): SystemResult => ({
  system,
  pods: 1000,
  scheduled: 1000,
  podsPerSecond,
  p50Ms: 2000,
  p90Ms: 4000,
  p99Ms: 5000,
  durationSeconds: 1000 / podsPerSecond,
  ...extra,
});

const gangs = (gangsPerSecond: number, extra: Partial<NonNullable<SystemResult["gangs"]>> = {}) => ({
  gangSize: 8,
  gangs: 125,
  bound: 125,
  gangsPerSecond,
  p50Ms: 3000,
  p90Ms: 5000,
  p99Ms: 6000,
  ...extra,
});

/** What a run that measured CPU and requests cost per pod. */
const cost = (apiServerMs: number, schedulerMs: number, events: number) => ({
  apiServerCpuMsPerPod: apiServerMs,
  schedulerCpuMsPerPod: schedulerMs,
  apiWritesPerPod: {
    bindings: 1,
    podStatusPatches: 0,
    podPatches: 0,
    eventCreates: events,
    eventPatches: 0,
  },
  apiRequestsPerPod: {
    "POST pods/binding": 1,
    ...(events > 0 ? { "POST events": events } : {}),
    "GET leases": 0.02,
  },
});

const cpu = (apiServer: number, scheduler: string, schedulerSeconds: number) => ({
  cpuSeconds: {
    "kube-apiserver": apiServer,
    etcd: 1.5,
    [scheduler]: schedulerSeconds,
    "bench harness": 0.4,
  },
  machineBusyPercent: 97.5,
  cores: 2,
});

const fixture = (): ReportResults => ({
  command: "npm run bench -- --report --nodes 100 --pods 1000",
  startedAt: "2026-11-23T10:00:00.000Z",
  finishedAt: "2026-11-23T10:15:00.000Z",
  stepMinutes: { basic: 6, gangs: 3.5, memory: 2, fragmentation: 2.1 },
  machine: { cores: 2, cpuModel: "Test CPU", memoryGiB: 24, node: "v20.20.2", os: "Linux 6.1" },
  basic: {
    scenario: "basic",
    mode: "backlog",
    nodes: 100,
    pods: 1000,
    results: [
      run("kube-scheduler", 100, { memory: [{ process: "kube-scheduler", rssMiB: 80, peakRssMiB: 90 }] }),
      run("sharded-scheduler", 150, { shards: 1, memory: memory(100) }),
      run("sharded-scheduler", 120, { shards: 3, memory: memory(110, 120, 130) }),
      run("noop-binder", 300),
    ],
  },
  gangs: {
    scenario: "gangs",
    mode: "backlog",
    nodes: 100,
    pods: 1000,
    gangSize: 8,
    results: [
      run("sharded-scheduler", 160, { shards: 1, gangs: gangs(20) }),
      run("sharded-scheduler", 200, { shards: 3, gangs: gangs(25) }),
    ],
  },
  fragmentation: {
    scenario: "fragmentation",
    seed: 1,
    nodes: 60,
    workload: {
      seed: 1,
      pods: 322,
      gangs: 10,
      solos: 276,
      requestedMilliCpu: 432000,
      capacityMilliCpu: 480000,
      dropped: 1,
      fillPercent: 90,
    },
    results: [
      {
        config: "1",
        shards: 1,
        coordinator: false,
        pods: 322,
        groups: 286,
        boundPods: 322,
        boundGroups: 286,
        pendingGroups: 0,
        stuckGroups: 0,
        drainSeconds: 0.18,
      },
      {
        config: "3",
        shards: 3,
        coordinator: false,
        pods: 322,
        groups: 286,
        boundPods: 308,
        boundGroups: 284,
        pendingGroups: 2,
        stuckGroups: 2,
        drainSeconds: 0.16,
      },
      {
        config: "3c",
        shards: 3,
        coordinator: true,
        pods: 322,
        groups: 286,
        boundPods: 314,
        boundGroups: 285,
        pendingGroups: 1,
        stuckGroups: 0,
        drainSeconds: 5.69,
        handoffs: 1,
        lends: 0,
      },
    ],
  },
  memory: {
    scenario: "memory",
    results: [
      { nodes: 100, memory: { process: "sharded-scheduler-0", rssMiB: 70, peakRssMiB: 75 } },
      { nodes: 500, memory: { process: "sharded-scheduler-0", rssMiB: 90, peakRssMiB: 95 } },
    ],
  },
});

/** Throws unless every tag of the SVG is closed in order (enough to catch a broken document). */
function assertWellFormed(svg: string): void {
  const body = svg.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "").replace(/<!--[\s\S]*?-->/g, "");
  const open: string[] = [];
  for (const [tag, closing, name, selfClosing] of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (!closing) open.push(name as string);
    else if (open.pop() !== name) throw new Error(`unbalanced ${tag}`);
  }
  expect(open).toEqual([]);
  expect(body.trim().startsWith("<svg")).toBe(true);
}

describe("renderReport", () => {
  const { markdown, charts } = renderReport(fixture());

  it("states the machine, the date and the exact command", () => {
    expect(markdown).toContain("2 cores (Test CPU), 24 GiB memory, Node v20.20.2, Linux 6.1");
    expect(markdown).toContain(
      "Measured on 2026-11-23 with `npm run bench -- --report --nodes 100 --pods 1000`",
    );
    expect(markdown).toContain(
      "(15 min: basic 6, gangs 3.5, memory 2, fragmentation 2.1, clusters and build the rest; raw results:",
    );
  });

  it("gives the headline ratios and a table row per system", () => {
    for (const line of [
      "- sharded-scheduler, 1 shard: 1.50× kube-scheduler's throughput, 50 % of the no-op binder's ceiling.",
      "- sharded-scheduler, 3 shards: 1.20× kube-scheduler's throughput, 40 % of the no-op binder's ceiling.",
      "3 shards bind 1.25× as many gangs per second as 1 shard",
      "Stuck groups with 3 shards: **2 without the coordinator, 0 with it** (drain 0.16 s → 5.69 s).",
      "With 3 shards, each shard peaks at 120 MiB on average, against 100 MiB for a single shard; together they take 3.60× the memory of one.",
      // A table row per system.
      "| kube-scheduler | 100 | 2 s | 4 s | 5 s | 10 s | – |",
      "| no-op binder (API server ceiling) | 300 |",
      "| 3 shards + coordinator | 314 / 322 | 1 | 0 | 5.69 s | 1 | 0 |",
      "| sharded-scheduler, 3 shards | 3 | 110 / 120 / 130 | 120 | 360 | 100 / 110 / 120 |",
      "| 500 | 90 | 95 |",
    ])
      expect(markdown).toContain(line);
  });

  it("says why kube-scheduler is not in the gang runs", () => {
    expect(markdown).toMatch(
      /Only sharded-scheduler runs it: kube-scheduler does not read these annotations/,
    );
    expect(markdown).toContain(
      "(the `sharded-scheduler.io/pod-group` and `sharded-scheduler.io/min-member` annotations)",
    );
    expect(markdown).toContain("![Gangs bound per second, per shard count](benchmarks/gangs-throughput.svg)");
    expect(markdown).not.toContain("PodGroup");
    expect(markdown).not.toContain("kube-scheduler's gangs per second");
  });

  it("draws the sections of saved results without a second size as before", () => {
    expect([...markdown.matchAll(/^#+ .*$/gm)].map((m) => m[0])).toEqual([
      "# Benchmarks",
      "## Throughput and latency",
      "## Gangs",
      "## Fragmentation",
      "## Memory",
    ]);
    expect(markdown).toContain(
      "Each system in turn schedules the same backlog of small pods (100m cpu, 128Mi) onto fake nodes (backlog mode, 100 nodes, 1000 pods)",
    );
    expect(markdown).toContain(
      "![Throughput in pods per second, per system](benchmarks/basic-throughput.svg)",
    );
    expect(markdown).not.toMatch(/-large|Throughput and cost at/);
  });

  it("links every chart it draws, and draws every chart it links", () => {
    const linked = [...markdown.matchAll(/!\[[^\]]+\]\(benchmarks\/([\w-]+\.svg)\)/g)].map((m) => m[1]);
    expect(linked.sort()).toEqual(Object.keys(charts).sort());
    expect(Object.keys(charts).sort()).toEqual([
      "basic-latency.svg",
      "basic-throughput.svg",
      "fragmentation-drain.svg",
      "fragmentation-groups.svg",
      "gangs-latency.svg",
      "gangs-throughput.svg",
      "memory-nodes.svg",
      "memory-shards.svg",
    ]);
    for (const svg of Object.values(charts)) assertWellFormed(svg);
  });

  it("draws the measured values into the charts", () => {
    expect(charts["basic-throughput.svg"]).toContain(">kube-scheduler<");
    expect(charts["basic-throughput.svg"]).toContain(">150<");
    expect(charts["fragmentation-groups.svg"]).toContain(">stuck groups<");
  });

  it("gives the core's preemption storm its cycle times and what the plans evicted", () => {
    const results = fixture();
    results.preemption = {
      system: "core",
      scenario: "preemption",
      nodes: 1000,
      runningPods: 4000,
      preemptors: 100,
      batch: 1,
      nominated: 100,
      evictions: 300,
      bound: 100,
      cycleP50Us: 850,
      cycleP99Us: 12_400,
      durationSeconds: 0.21,
    };
    const rendered = renderReport(results).markdown;
    expect(rendered).toContain("## Preemption storm (the core alone)");
    expect(rendered).toContain("| 850 µs | 12.4 ms | 100/100 | 300 | 100/100 | 0.21 s |");
    expect(markdown).not.toContain("## Preemption storm");
  });

  it("prints no undefined or NaN", () => {
    expect(markdown).not.toMatch(/undefined|NaN|null/);
  });

  it("is the same for the same results", () => {
    expect(renderReport(fixture())).toEqual({ markdown, charts });
  });

  it("leaves out what was not measured, and says what failed or fell short", () => {
    const results = fixture();
    delete results.gangs;
    delete results.memory;
    delete results.fragmentation;
    const basic = results.basic?.results ?? [];
    // A percentile of nothing is NaN, which JSON saves as null.
    basic[3] = {
      ...run("noop-binder", 0),
      scheduled: 0,
      p50Ms: null,
      p90Ms: null,
      p99Ms: null,
    } as unknown as SystemResult;
    basic[0] = { ...run("kube-scheduler", 90), scheduled: 900 };
    results.errors = [{ scenario: "fragmentation", message: "the cluster did not start" }];
    const rendered = renderReport(results);
    expect(rendered.markdown).not.toContain("## Gangs");
    expect(rendered.markdown).not.toContain("## Fragmentation");
    expect(rendered.markdown).toContain("| kube-scheduler | 90 (only 900 of 1000) |");
    expect(rendered.markdown).toContain(
      "| no-op binder (API server ceiling) | 0 (only 0 of 1000) | – | – | – |",
    );
    expect(rendered.markdown).toContain("- fragmentation: the cluster did not start");
    expect(Object.keys(rendered.charts)).not.toContain("gangs-throughput.svg");
    expect(Object.keys(rendered.charts)).not.toContain("memory-nodes.svg");
    expect(rendered.markdown).not.toMatch(/undefined|NaN|null/);
  });
});

describe("cost per pod, several runs and Scheduled Events modes", () => {
  const spread = (median: number, min: number, max: number) => ({ median, min, max });
  const results = (): ReportResults => {
    const base = fixture();
    delete base.gangs;
    delete base.fragmentation;
    delete base.memory;
    base.basic = {
      scenario: "basic",
      mode: "backlog",
      nodes: 100,
      pods: 1000,
      runs: 3,
      results: [
        run("kube-scheduler", 100, {
          ...cost(3, 2.7, 1),
          cpu: cpu(3, "kube-scheduler", 2.7),
          spread: {
            runs: 3,
            podsPerSecond: spread(100, 90, 110),
            p50Ms: spread(2000, 1500, 2500),
            p99Ms: spread(5000, 4000, 6000),
            apiServerCpuMsPerPod: spread(3, 2.8, 3.3),
            writesPerPod: spread(2, 2, 2),
          },
        }),
        run("sharded-scheduler", 150, {
          shards: 1,
          scheduledEvents: "pod",
          ...cost(2.4, 2, 1),
          cpu: cpu(2.4, "sharded-scheduler", 2),
        }),
        run("sharded-scheduler", 200, {
          shards: 1,
          scheduledEvents: "off",
          ...cost(1.5, 1.8, 0),
          cpu: cpu(1.5, "sharded-scheduler", 1.8),
        }),
      ],
    };
    return base;
  };
  const { markdown, charts } = renderReport(results());

  it("gives every figure's median with its range, and says how the runs were taken", () => {
    expect(markdown).toContain(
      "| kube-scheduler | 100 (90–110) | 2 s (1.5–2.5) | 4 s | 5 s (4–6) | 10 s | 97.5 % |",
    );
    expect(markdown).toContain("Each system ran 3 times, interleaved");
    expect(markdown).toContain("KWOK runs without the pod lifecycle here");
  });

  it("names sharded-scheduler's Scheduled Events mode beside its shard count", () => {
    expect(markdown).toContain("| sharded-scheduler, 1 shard, off Events | 200 |");
    expect(charts["cost-cpu-per-pod.svg"]).toContain(">1 shard, off Events<");
  });

  it("shows CPU and writes per pod next to kube-scheduler's, by kind", () => {
    expect(markdown).toContain("## Cost per pod");
    expect(markdown).toContain(
      "| system | API-server CPU ms/pod | vs kube-scheduler | scheduler CPU ms/pod | writes/pod | binds | pod status patches | pod patches | Event creates | Event patches | requests/pod |",
    );
    expect(markdown).toContain(
      "| kube-scheduler | 3 (2.8–3.3) | 1.00× | 2.7 | 2 (2–2) | 1 | 0 | 0 | 1 | 0 | 2.02 |",
    );
    expect(markdown).toContain(
      "| sharded-scheduler, 1 shard, off Events | 1.5 | 0.50× | 1.8 | 1 | 1 | 0 | 0 | 0 | 0 | 1.02 |",
    );
    expect(markdown).toContain(
      "- sharded-scheduler, 1 shard, pod Events: API-server CPU per pod 0.80× kube-scheduler's, 2 writes per pod against its 2.",
    );
  });

  it("shows where the CPU went by component, and every request per pod", () => {
    expect(markdown).toContain(
      "| system | machine busy | kube-apiserver | etcd | kube-scheduler | sharded-scheduler | bench harness | all, ms/pod |",
    );
    // 3 + 1.5 + 2.7 + 0.4 CPU-s over 1000 pods.
    expect(markdown).toContain("| kube-scheduler | 97.5 % | 3 | 1.5 | 2.7 | – | 0.4 | 7.6 |");
    expect(markdown).toContain("| request | kube-scheduler | 1 shard, pod Events | 1 shard, off Events |");
    expect(markdown).toContain("| `POST pods/binding` | 1 | 1 | 1 |");
    expect(markdown).toContain("| `POST events` | 1 | 1 | – |");
    expect(markdown).toContain("| `GET leases` | 0.02 | 0.02 | 0.02 |");
    expect(markdown).not.toMatch(/undefined|NaN|null/);
  });
});

describe("each shard's own cost", () => {
  const shardCost = (process: string, cpuSeconds: number, gcSeconds: number, podDecodeSeconds: number) => ({
    process,
    cpuSeconds,
    gcSeconds,
    watch: {
      pods: { events: 6000, bytes: 12 * 2 ** 20, decodeSeconds: podDecodeSeconds },
      nodes: { events: 1000, bytes: 4 * 2 ** 20, decodeSeconds: 0.05 },
    },
    lease: { lateRenewals: process.endsWith("2") ? 5 : 0, lapses: process.endsWith("2") ? 1 : 0 },
  });
  // The section sits with the cost per pod, which needs a run's CPU.
  const machine = { cpuSeconds: { "sharded-scheduler": 5 }, machineBusyPercent: 99, cores: 2 };
  const withCosts = (): ReportResults => {
    const base = fixture();
    const basic = base.basic as BasicReport;
    basic.results = basic.results.map((r) =>
      r.system !== "sharded-scheduler"
        ? r
        : r.shards === 1
          ? { ...r, cpu: machine, shardCosts: [shardCost("sharded-scheduler-0", 4.2, 0.8, 0.24)] }
          : {
              ...r,
              cpu: machine,
              shardCosts: [0, 1, 2].map((i) => shardCost(`sharded-scheduler-${i}`, 2.5, 0.4, 0.3)),
            },
    );
    return base;
  };

  it("gives a row per shard process, and what the extra shards added against one", () => {
    const { markdown } = renderReport(withCosts());
    expect(markdown).toContain(
      "| system | shard | CPU s | GC s | pod events | pod watch MiB | pod decode s | µs per pod event | node watch MiB | node decode s | late lease renewals | lease lapses |",
    );
    expect(markdown).toContain(
      "| sharded-scheduler, 1 shard | sharded-scheduler-0 | 4.2 | 0.8 | 6000 | 12 | 0.24 | 40 | 4 | 0.05 | 0 | 0 |",
    );
    expect(markdown).toContain(
      "| sharded-scheduler, 3 shards | sharded-scheduler-2 | 2.5 | 0.4 | 6000 | 12 | 0.3 | 50 | 4 | 0.05 | 5 | 1 |",
    );
    expect(markdown).toContain(
      "- sharded-scheduler, 3 shards together: CPU 7.5 s against 4.2 for one shard (1.79×); garbage collection 1.2 s against 0.8; decoding the pod watch 0.9 s against 0.24.",
    );
  });

  it("puts the whole machine's CPU per pod of several shards beside one shard's", () => {
    const results = withCosts();
    const basic = results.basic as BasicReport;
    const cpu = (apiServer: number, shards: number, busy: number) => ({
      cpuSeconds: { "kube-apiserver": apiServer, "sharded-scheduler": shards },
      machineBusyPercent: busy,
      cores: 2,
    });
    basic.results = basic.results.map((r) =>
      r.system !== "sharded-scheduler"
        ? r
        : {
            ...r,
            scheduled: 1000,
            podsPerSecond: r.shards === 1 ? 200 : 170,
            cpu: r.shards === 1 ? cpu(6, 4, 98) : cpu(6.5, 7.5, 99.5),
          },
    );
    const { markdown } = renderReport(results);
    expect(markdown).toMatch(/\| sharded-scheduler, 1 shard \| 98 % \| 6 \|( – \|)* 4 \|( – \|)* 10 \|/);
    expect(markdown).toContain(
      "- sharded-scheduler, 3 shards: the machine spent 14 ms of CPU per pod against 10 with one shard (1.40×); busy 99.5 % and 98 %, it bound 0.85× one shard's pods/s.",
    );
  });

  it("shows no lease figures for costs saved before they were read", () => {
    const results = withCosts();
    const basic = results.basic as BasicReport;
    basic.results = basic.results.map((r) =>
      r.shardCosts ? { ...r, shardCosts: r.shardCosts.map(({ lease: _, ...c }) => c) } : r,
    );
    expect(renderReport(results).markdown).toContain(
      "| sharded-scheduler, 1 shard | sharded-scheduler-0 | 4.2 | 0.8 | 6000 | 12 | 0.24 | 40 | 4 | 0.05 | – | – |",
    );
  });

  it("leaves the table out when no shard's cost was read", () => {
    expect(renderReport(fixture()).markdown).not.toContain("Each shard's own cost");
  });
});

describe("gangs as native PodGroups, kube-scheduler beside the shards", () => {
  const results = (kubeCpuPerGang: number | undefined): ReportResults => {
    const base = fixture();
    base.gangs = {
      ...(base.gangs as NonNullable<ReportResults["gangs"]>),
      api: "podgroup",
      results: [
        // kube-scheduler comes first and has no shard count: it must not pass for 1 shard.
        run("kube-scheduler", 125, {
          gangs: gangs(16, {
            p99Ms: 9000,
            ...(kubeCpuPerGang === undefined ? {} : { apiServerCpuMsPerGang: kubeCpuPerGang }),
          }),
        }),
        run("sharded-scheduler", 160, { shards: 1, gangs: gangs(20, { apiServerCpuMsPerGang: 30 }) }),
        run("sharded-scheduler", 200, {
          shards: 3,
          gangs: gangs(24, { p99Ms: 5000, apiServerCpuMsPerGang: 36 }),
        }),
      ],
    };
    return base;
  };
  const { markdown, charts } = renderReport(results(40));

  it("says what ran: one PodGroup per gang, each system with its own gang scheduling", () => {
    expect(markdown).toContain(
      "The same backlog, in gangs of 8 pods: one native scheduling.k8s.io/v1beta1 PodGroup per gang, " +
        "minCount 8, its pods naming it in `spec.schedulingGroup`.",
    );
    expect(markdown).toContain(
      "kube-scheduler 1.37 places them with its own gang scheduling, sharded-scheduler with its; " +
        "the no-op binder is left out because it ignores PodGroups.",
    );
    expect(markdown).not.toContain("Only sharded-scheduler runs it");
    expect(markdown).not.toContain("annotations");
  });

  it("gives a row per system, and compares each shard count's gangs per second, gang p99 and API-server CPU per gang with kube-scheduler's", () => {
    for (const line of [
      "| kube-scheduler | 125 / 125 | 16 | 125 | 3 s | 5 s | 9 s | 8 s | 40 |",
      "| sharded-scheduler, 1 shard | 125 / 125 | 20 | 160 | 3 s | 5 s | 6 s | 6.25 s | 30 |",
      "| sharded-scheduler, 3 shards | 125 / 125 | 24 | 200 | 3 s | 5 s | 5 s | 5 s | 36 |",
      "- sharded-scheduler, 1 shard: 1.25× kube-scheduler's gangs per second, gang p99 6 s against its 9 s, " +
        "API-server CPU per gang 0.75× kube-scheduler's.",
      "- sharded-scheduler, 3 shards: 1.50× kube-scheduler's gangs per second, gang p99 5 s against its 9 s, " +
        "API-server CPU per gang 0.90× kube-scheduler's.",
    ])
      expect(markdown).toContain(line);
  });

  it("compares shard counts among sharded-scheduler's rows only", () => {
    expect(markdown).toContain(
      "3 shards bind 1.20× as many gangs per second as 1 shard (all gangs bound in 5 s against 6.25 s).",
    );
  });

  it("leaves out the CPU comparison when kube-scheduler's was not measured", () => {
    const rendered = renderReport(results(undefined)).markdown;
    expect(rendered).toContain(
      "- sharded-scheduler, 1 shard: 1.25× kube-scheduler's gangs per second, gang p99 6 s against its 9 s.",
    );
    expect(rendered).toContain("| kube-scheduler | 125 / 125 | 16 | 125 | 3 s | 5 s | 9 s | 8 s | – |");
  });

  it("draws every system into the charts", () => {
    for (const file of ["gangs-throughput.svg", "gangs-latency.svg"])
      for (const label of [">kube-scheduler<", ">1 shard<", ">3 shards<"])
        expect(charts[file]).toContain(label);
    expect(markdown).toContain("![Gangs bound per second, per system](benchmarks/gangs-throughput.svg)");
    expect(markdown).toContain(
      "![Gang latency percentiles p50, p90 and p99 in seconds, per system](benchmarks/gangs-latency.svg)",
    );
    expect(markdown).not.toMatch(/undefined|NaN|null/);
  });
});

describe("a second throughput size", () => {
  const large = (): NonNullable<ReportResults["basicLarge"]> => ({
    scenario: "basic",
    mode: "backlog",
    nodes: 5000,
    pods: 10000,
    results: [
      run("kube-scheduler", 200, { ...cost(3, 2.7, 1), cpu: cpu(3, "kube-scheduler", 2.7) }),
      run("sharded-scheduler", 300, { shards: 1, ...cost(2.4, 2, 1), cpu: cpu(2.4, "sharded-scheduler", 2) }),
      run("sharded-scheduler", 360, {
        shards: 3,
        ...cost(2.7, 3, 1),
        cpu: cpu(2.7, "sharded-scheduler", 3),
      }),
      run("noop-binder", 600),
    ],
  });
  /** The fixture with the main size's cost measured too, and the second size when asked for. */
  const results = (withLarge: boolean): ReportResults => {
    const base = fixture();
    const kube = base.basic?.results[0] as SystemResult;
    Object.assign(kube, cost(4, 3, 1), { cpu: cpu(4, "kube-scheduler", 3) });
    if (withLarge) base.basicLarge = large();
    return base;
  };
  const without = renderReport(results(false));
  const { markdown, charts } = renderReport(results(true));
  const heading = "## Throughput and cost at 5000 nodes × 10000 pods";
  const section = markdown.slice(markdown.indexOf(heading), markdown.indexOf("\n\n## Gangs"));

  it("comes after the main size's cost, with the same tables and headlines", () => {
    const at = (text: string) => markdown.indexOf(text);
    expect(at("## Cost per pod")).toBeGreaterThan(at("## Throughput and latency"));
    expect(at(heading)).toBeGreaterThan(at("## Cost per pod"));
    expect(at("### Cost per pod")).toBeGreaterThan(at(heading));
    expect(at("## Gangs")).toBeGreaterThan(at("### Cost per pod"));
    for (const line of [
      "The same throughput runs on a cluster of another size (backlog mode, 5000 nodes, 10000 pods)",
      "| kube-scheduler | 200 | 2 s | 4 s | 5 s | 5 s | 97.5 % |",
      "| no-op binder (API server ceiling) | 600 |",
      "- sharded-scheduler, 1 shard: 1.50× kube-scheduler's throughput, 50 % of the no-op binder's ceiling.",
      "- sharded-scheduler, 3 shards: 1.80× kube-scheduler's throughput, 60 % of the no-op binder's ceiling.",
      "| sharded-scheduler, 3 shards | 2.7 | 0.90× | 3 | 2 | 1 | 0 | 0 | 1 | 0 | 2.02 |",
      "- sharded-scheduler, 1 shard: API-server CPU per pod 0.80× kube-scheduler's, 2 writes per pod against its 2.",
      "- sharded-scheduler, 3 shards: API-server CPU per pod 0.90× kube-scheduler's, 2 writes per pod against its 2.",
    ])
      expect(section).toContain(line);
    expect(markdown).not.toMatch(/undefined|NaN|null/);
  });

  it("draws its own charts, linked under their own names", () => {
    const added = Object.keys(charts).filter((file) => !(file in without.charts));
    expect(added.sort()).toEqual([
      "basic-large-latency.svg",
      "basic-large-throughput.svg",
      "cost-large-cpu-per-pod.svg",
    ]);
    for (const file of added) {
      expect(section).toContain(`](benchmarks/${file})`);
      assertWellFormed(charts[file] as string);
    }
    expect(charts["basic-large-throughput.svg"]).toContain(
      "Throughput (backlog mode, 5000 nodes, 10000 pods)",
    );
    expect(charts["basic-large-throughput.svg"]).toContain(">360<");
    expect(section).toContain(
      "![Throughput in pods per second, per system, at 5000 nodes × 10000 pods](benchmarks/basic-large-throughput.svg)",
    );
  });

  it("leaves the rest of the report as it is without it", () => {
    expect(markdown.replace(`${section}\n\n`, "")).toBe(without.markdown);
    for (const [file, svg] of Object.entries(without.charts)) expect(charts[file]).toBe(svg);
    expect(without.markdown).not.toContain("## Throughput and cost at");
    expect(Object.keys(without.charts).filter((file) => file.includes("-large"))).toEqual([]);
  });
});

describe("table", () => {
  it("aligns the first column left and the others right", () => {
    expect(table(["a", "b"], [["x", "1"]])).toBe("| a | b |\n| --- | ---: |\n| x | 1 |");
  });
});

describe("charts", () => {
  it("rounds values to what a reader needs", () => {
    expect([0, 0.123, 1.456, 12.34, 246.3, 10000].map(formatValue)).toEqual([
      "0",
      "0.12",
      "1.46",
      "12.3",
      "246",
      "10000",
    ]);
  });

  it("draws a well-formed SVG with its title, categories and legend, whatever was drawn before", () => {
    const chart = {
      kind: "line" as const,
      title: "A title",
      categories: ["100", "200"],
      series: [
        { name: "resident", values: [1, null] },
        { name: "peak", values: [2, 3] },
      ],
      yName: "MiB",
      xName: "nodes",
    };
    const svg = renderChart(chart);
    assertWellFormed(svg);
    for (const text of ["A title", ">100<", ">200<", ">resident<", ">peak<", ">MiB<", ">nodes<"])
      expect(svg).toContain(text);
    renderChart({ ...chart, kind: "bar" });
    expect(renderChart(chart)).toBe(svg);
  });
});

describe("writeReport and readReportResults", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("writes the markdown, the charts and the results, and draws the same again from them", () => {
    const out = mkdtempSync(join(tmpdir(), "bench-report-"));
    dirs.push(out);
    writeReport(fixture(), out);
    writeFileSync(join(out, "benchmarks", "stale.svg"), "<svg/>");
    const markdown = readFileSync(join(out, "benchmarks.md"), "utf8");
    const again = mkdtempSync(join(tmpdir(), "bench-report-"));
    dirs.push(again);
    writeReport(readReportResults(out), again);
    expect(readFileSync(join(again, "benchmarks.md"), "utf8")).toBe(markdown);
    expect(readReportResults(join(again, "benchmarks", "results.json"))).toEqual(fixture());
    writeReport(readReportResults(join(out, "benchmarks")), out);
    expect(readdirSync(join(out, "benchmarks"))).not.toContain("stale.svg");
    expect(readdirSync(join(out, "benchmarks")).sort()).toEqual(
      [...readdirSync(join(again, "benchmarks"))].sort(),
    );
  });

  it("refuses a file that is not a report's results", () => {
    const out = mkdtempSync(join(tmpdir(), "bench-report-"));
    dirs.push(out);
    writeFileSync(join(out, "results.json"), JSON.stringify({ scenario: "basic" }));
    expect(() => readReportResults(out)).toThrow(/is not the results of/);
  });
});
