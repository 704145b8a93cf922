#!/usr/bin/env node
/** The coordinator's entry point: `sharded-scheduler-coordinator [flags]` (see --help). */
import { loadKubeConfig, runEntryPoint } from "@sharded-scheduler/scheduler/config";
import { coordinatorLeaseName, coordinatorReportingController } from "@sharded-scheduler/scheduler/contracts";
import { connectRedis, describeRedis } from "@sharded-scheduler/scheduler/coordination";
import { EventRecorder, KubeClient, restClientMetrics, userAgent } from "@sharded-scheduler/scheduler/kube";
import { startServingWithReviews } from "@sharded-scheduler/scheduler/serving";
import { pino } from "pino";
import { collectDefaultMetrics } from "prom-client";
import { coordinatorUsage, loadCoordinatorConfig } from "./config.js";
import { Coordinator } from "./coordinator.js";
import { Reachability } from "./core/index.js";
import { LeaderElection } from "./kube/leader-election.js";
import { ReliefLedger } from "./ledger/relief-ledger.js";
import { CoordinatorMetrics } from "./metrics.js";

async function main(): Promise<void> {
  const config = loadCoordinatorConfig(process.argv.slice(2));
  const log = pino({ level: config.logLevel, base: { coordinator: config.identity } });
  const kubeConfig = loadKubeConfig(config);
  const metrics = new CoordinatorMetrics();
  const api = {
    userAgent: userAgent(`coordinator/${config.identity}`),
    observer: restClientMetrics(metrics.registry),
    http2: config.http2,
  };
  const client = await KubeClient.create(kubeConfig, {
    ...api,
    qps: config.qps,
    burst: config.burst,
    maxSockets: 8,
  });
  // The leader Lease has its own connections and rate limit: no write can delay a renewal. A
  // renewal answered later than the margin does not count, so waiting longer (for a request or
  // out a throttled answer) is pointless.
  const leaseClient = await KubeClient.create(kubeConfig, {
    ...api,
    qps: 10,
    burst: 20,
    maxSockets: 2,
    timeoutMs: Math.max(1_000, config.leaseRenewMs),
    throttleWaitMs: config.leaseRenewMs,
  });
  collectDefaultMetrics({ register: metrics.registry });
  const redis = connectRedis(config.redis, log, (up) => metrics.redisUp.set(up ? 1 : 0));
  metrics.redisUp.set(0);
  const ledger = new ReliefLedger(redis, {
    schedulerName: config.schedulerName,
    cooldownMs: config.cooldownMs,
    maxAttempts: config.maxAttempts,
    maxCooldownMs: config.maxCooldownMs,
    recordTtlMs: 3_600_000,
  });
  // Without Redis there is nothing to coordinate from: a replica leads only while it reaches it.
  const redisReached = new Reachability(config.redisGraceMs, () => performance.now());
  const probeRedis = async () => {
    const sentAt = performance.now();
    if (await ledger.ping(config.leaseRenewMs)) redisReached.succeeded(sentAt);
  };
  const election = new LeaderElection(
    leaseClient,
    {
      namespace: config.namespace,
      name: coordinatorLeaseName(config.schedulerName),
      identity: config.identity,
      leaseDurationMs: config.leaseDurationMs,
      renewIntervalMs: config.leaseRenewMs,
    },
    log,
    {
      onChange: (leading) => {
        metrics.leader.set(leading ? 1 : 0);
        log.info({ leading }, leading ? "leading: coordinating the shards" : "standing by");
      },
      mayLead: () => redisReached.reachable(),
    },
  );
  metrics.leader.set(0);
  const events = new EventRecorder(client, coordinatorReportingController, config.identity, log);
  const coordinator = new Coordinator(client, redis, ledger, election, events, config, metrics, log);
  const serving = await startServingWithReviews(
    config.serving,
    kubeConfig,
    { registry: metrics.registry, isReady: () => true, log, identity: config.identity },
    api,
  );
  log.info(
    {
      config: { ...config, kubeconfig: undefined, redis: describeRedis(config.redis) },
      metricsPort: serving.metricsPort,
      healthPort: serving.healthPort,
    },
    "coordinator starting",
  );
  let probeTimer: NodeJS.Timeout | undefined;
  const shutdown = async (signal: string) => {
    log.info({ signal }, "coordinator stopping: releasing the leader Lease");
    coordinator.stop();
    if (probeTimer) clearInterval(probeTimer);
    await election.stop();
    redis.disconnect();
    serving.close();
    client.close();
    leaseClient.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  // The first election round waits for the first answer from Redis (or the renew interval).
  await new Promise<void>((resolve) => {
    if (redis.status === "ready") resolve();
    redis.once("ready", () => resolve());
    setTimeout(resolve, config.leaseRenewMs).unref();
  });
  await probeRedis();
  probeTimer = setInterval(() => void probeRedis(), config.leaseRenewMs);
  election.start();
  coordinator.start();
}

runEntryPoint("sharded-scheduler-coordinator", coordinatorUsage, main);
