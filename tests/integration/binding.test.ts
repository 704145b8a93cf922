/**
 * Binding and what the shard reports about it: Scheduled Events, health endpoints, metrics,
 * and pods that someone else binds while the shard's own bind is on its way.
 */
import { describe, expect, it } from "vitest";
import { kubectl } from "../support/helm.js";
import { metricValue, samplesOf } from "../support/shard.js";
import { schedulerSuite } from "../support/suite.js";
import { holdsFor, waitFor } from "../support/wait.js";

const suite = schedulerSuite("binding");

describe("a bound pod", () => {
  it("gets a Scheduled Event from the shard", async () => {
    const [node] = await suite.addNodes("plain", 1);
    await suite.create(suite.pod("plain", { pool: "plain", cpu: "100m" }));
    expect(await suite.waitBound(["plain"])).toEqual({ plain: node });
    const event = await waitFor(
      "a Scheduled Event",
      async () => (await suite.events("plain", "Scheduled"))[0],
      10_000,
    );
    expect(event).toMatchObject({
      type: "Normal",
      message: expect.stringMatching(
        new RegExp(
          `^Successfully assigned ${suite.namespace}/plain to ${node} \\(ring epoch [1-9][0-9]*\\)$`,
        ),
      ),
      // Written through events.k8s.io/v1 (core/v1 shows reportingController as reportingComponent).
      reportingComponent: `sharded-scheduler.io/${suite.schedulerName}`,
      reportingInstance: `${suite.schedulerName}-0`,
      action: "Binding",
    });
    const written = await suite.eventsK8sIo(event.metadata?.name as string);
    expect(written).toMatchObject({
      reportingController: `sharded-scheduler.io/${suite.schedulerName}`,
      action: "Binding",
      reason: "Scheduled",
      regarding: { kind: "Pod", name: "plain" },
      eventTime: expect.stringMatching(/\.\d{6}Z$/),
    });
  });

  it("is told its failed attempts as one FailedScheduling Event whose series counts them, as kubectl shows it", async () => {
    // No node of the pool fits: every node added is another failed attempt.
    await suite.create(suite.pod("retried", { pool: "series", cpu: "2" }));
    let message = await suite.waitUnschedulable("retried", /./);
    for (let i = 0; i < 3; i++) {
      await suite.addNodes("series", 1, { cpu: "1" }, i);
      const before = message;
      message = await suite.waitUnschedulable("retried", /./);
      if (message === before)
        message = await waitFor(
          "another attempt",
          async () => {
            const again = await suite.waitUnschedulable("retried", /./);
            return again !== before ? again : undefined;
          },
          20_000,
        );
    }
    // Then one fits: once bound, the shard writes the count it held back (as a finished series).
    await suite.addNodes("series", 1, { cpu: "4" }, 3);
    await suite.waitBound(["retried"]);
    const failed = await waitFor(
      "the series' final count",
      async () => {
        const events = await suite.events("retried", "FailedScheduling");
        const count = events[0]?.series?.count ?? 0;
        return events.length === 1 && count >= 4 ? events[0] : undefined;
      },
      15_000,
    );
    const count = failed.series?.count as number;
    // One Event, not one per attempt; core/v1 readers see the count under series.
    expect(await suite.events("retried", "FailedScheduling")).toHaveLength(1);
    expect(failed.count ?? 0).toBe(0);
    expect(await suite.eventsK8sIo(failed.metadata?.name as string)).toMatchObject({
      series: { count, lastObservedTime: expect.stringMatching(/\.\d{6}Z$/) },
    });
    // kubectl get events -o wide: COUNT is the series' count (the column before NAME).
    const row = (
      await kubectl([
        "get",
        "events",
        "-n",
        suite.namespace,
        "-o",
        "wide",
        "--no-headers",
        "--field-selector",
        "involvedObject.name=retried,reason=FailedScheduling",
      ])
    ).trim();
    const cells = row.split(/\s+/);
    expect(row.split("\n")).toHaveLength(1);
    expect(cells.at(-1)).toBe(failed.metadata?.name);
    expect(cells.at(-2)).toBe(String(count));
    // kubectl events says "(x<count> over …)" in LAST SEEN, on the one row of the series.
    const told = (
      await kubectl(["events", "-n", suite.namespace, "--for", "pod/retried", "--types", "Warning"])
    )
      .trim()
      .split("\n")
      .filter((line) => line.includes("FailedScheduling"));
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(`(x${count} over`);
  });
});

describe("health and metrics", () => {
  it("answers /healthz and /readyz with 200", async () => {
    expect((await suite.shard.get("/healthz")).status).toBe(200);
    expect((await suite.shard.get("/readyz")).status).toBe(200);
  });

  it("runs on the tests' Node.js, 24 or later (the nodejs_version_info it reports)", async () => {
    // The harness starts shards with the node that runs the tests (process.execPath), as the stack does.
    const [info] = samplesOf(await suite.shard.metrics(), "nodejs_version_info");
    expect(info?.labels.version).toBe(process.version);
    expect(Number(info?.labels.major)).toBeGreaterThanOrEqual(24);
  });

  it("exposes attempts, scheduling latency and pending pods on /metrics", async () => {
    await suite.addNodes("metrics", 1);
    await suite.create(suite.pod("measured", { pool: "metrics", cpu: "100m" }));
    await suite.waitBound(["measured"]);
    const text = await suite.shard.metrics();
    expect(
      metricValue(text, "sharded_scheduler_schedule_attempts_total", { result: "scheduled" }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metricValue(text, "sharded_scheduler_pod_scheduling_sli_duration_seconds_count"),
    ).toBeGreaterThanOrEqual(1);
    expect(
      samplesOf(text, "sharded_scheduler_pod_scheduling_sli_duration_seconds_bucket").length,
    ).toBeGreaterThan(0);
    expect(
      samplesOf(text, "sharded_scheduler_pending_pods")
        .map((s) => s.labels.queue)
        .sort(),
    ).toEqual(["active", "backoff", "gated", "incomplete", "unschedulable"]);
    expect(
      samplesOf(text, "sharded_scheduler_schedule_attempts_total", { result: "scheduled" })[0]?.labels,
    ).toMatchObject({ profile: suite.schedulerName });
    expect(
      metricValue(text, "sharded_scheduler_scheduling_algorithm_duration_seconds_count"),
    ).toBeGreaterThan(0);
    expect(metricValue(text, "sharded_scheduler_cache_size", { type: "nodes" })).toBeGreaterThanOrEqual(1);
    expect(samplesOf(text, "sharded_scheduler_pods_scheduled_total")).toEqual([]);
  });

  it("counts a pod in sharded_scheduler_pending_pods only while it is pending", async () => {
    await suite.create(suite.pod("too-big", { pool: "metrics", cpu: "100" }));
    await suite.waitUnschedulable("too-big", /Insufficient cpu/);
    const pending = async () => metricValue(await suite.shard.metrics(), "sharded_scheduler_pending_pods");
    const rejectedByFit = async () =>
      metricValue(await suite.shard.metrics(), "sharded_scheduler_unschedulable_pods", {
        plugin: "NodeResourcesFit",
      });
    await waitFor(
      "the pending pod to be counted, and as rejected by NodeResourcesFit",
      async () => ((await pending()) === 1 && (await rejectedByFit()) === 1 ? true : undefined),
      5_000,
    );
    await suite.deletePods(["too-big"]);
    await waitFor(
      "no pending or unschedulable pod counted",
      async () => ((await pending()) === 0 && (await rejectedByFit()) === 0 ? true : undefined),
      5_000,
    );
  });
});

describe("a pod someone else binds first", () => {
  it("costs one refused bind per pod, no retries, and stays where it was bound", async () => {
    // A shard allowed two API requests per second decides at once but binds slowly: the pods
    // are bound by hand in the meantime, so most of its own binds arrive second.
    const slow = await suite.startShard("slow", ["--qps=2", "--burst=1"]);
    const [, target] = await suite.addNodes("race", 2);
    const names = ["race-0", "race-1", "race-2", "race-3", "race-4"];
    await suite.create(
      names.map((name) => suite.pod(name, { pool: "race", cpu: "100m", schedulerName: slow.schedulerName })),
    );
    // A group (here a solo pod) counts when the cycle places it; its pod when its bind comes back.
    const decided = (text: string) =>
      metricValue(text, "sharded_scheduler_podgroup_schedule_attempts_total", { result: "scheduled" });
    const attemptsAtDecision = await waitFor(
      "the slow shard to decide all five",
      async () => {
        const text = await slow.metrics();
        return decided(text) === 5
          ? metricValue(text, "sharded_scheduler_podgroup_schedule_attempts_total")
          : undefined;
      },
      10_000,
      20,
    );

    const statuses = await Promise.all(names.map((name) => suite.bind(name, target as string)));
    const oursWon = names.filter((_, i) => statuses[i] === 201);
    expect(
      statuses.every((status) => status === 201 || status === 409),
      `${statuses}`,
    ).toBe(true);
    expect(oursWon.length).toBeGreaterThan(0);

    const placements = await suite.waitBound(names);
    for (const name of oursWon) expect(placements[name], name).toBe(target);
    // Every bind of the shard that lost is refused once (409) and not retried.
    await waitFor(
      `${oursWon.length} refused binds (reason conflict)`,
      async () => {
        const text = await slow.metrics();
        const refused = metricValue(text, "sharded_scheduler_bind_errors_total", { reason: "conflict" });
        if (refused === oursWon.length) return true;
        throw new Error(
          `bind errors: ${JSON.stringify(samplesOf(text, "sharded_scheduler_bind_errors_total"))}`,
        );
      },
      15_000,
    );
    await holdsFor(
      "no further attempts, bind errors or moves",
      async () => {
        const text = await slow.metrics();
        expect(decided(text)).toBe(5);
        expect(metricValue(text, "sharded_scheduler_podgroup_schedule_attempts_total")).toBe(
          attemptsAtDecision,
        );
        expect(metricValue(text, "sharded_scheduler_bind_errors_total")).toBe(oursWon.length);
        // Each pod once: bound by the shard, or its bind refused (an error, as kube-scheduler counts it).
        const attempts = (result: string) =>
          metricValue(text, "sharded_scheduler_schedule_attempts_total", { result });
        expect(attempts("error")).toBe(oursWon.length);
        expect(attempts("scheduled")).toBe(5 - oursWon.length);
        const pods = await suite.pods();
        for (const name of names) expect(pods.get(name)?.spec?.nodeName, name).toBe(placements[name]);
      },
      3_000,
    );
    // A bind refused because the pod is bound already is no failure to tell.
    for (const name of names) {
      const failed = await suite.events(name, "FailedScheduling");
      expect(
        failed.filter((event) => event.message?.startsWith("Binding rejected")),
        name,
      ).toEqual([]);
    }
  });
});
