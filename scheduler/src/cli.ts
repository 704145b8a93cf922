#!/usr/bin/env node
/**
 * The shard's entry point: `sharded-scheduler [flags]` (see --help); and the operator's status
 * view: `sharded-scheduler status [flags]` (see status --help).
 */
import { type Logger, pino } from "pino";
import { collectDefaultMetrics } from "prom-client";
import { loadKubeConfig, runEntryPoint } from "./config/entry-point.js";
import { summaryKey } from "./contracts/keys.js";
import { connectRedis, describeRedis, type RedisSettings } from "./coordination/redis-connection.js";
import { SummaryPublisher } from "./coordination/summary-publisher.js";
import { KubeClient } from "./kube/kube-client.js";
import { restClientMetrics } from "./kube/rest-client-metrics.js";
import { userAgent } from "./kube/user-agent.js";
import { startServingWithReviews } from "./serving/index.js";
import { loadShardConfig, type ShardConfig, shardUsage } from "./shard/config.js";
import { ShardMetrics } from "./shard/metrics.js";
import { Shard } from "./shard/shard.js";
import { ShardLeases } from "./sharding/shard-leases.js";
import { ShardedOwnership } from "./sharding/sharded-ownership.js";
import { runStatusCommand } from "./status/status-command.js";

async function main(): Promise<void> {
  const config = loadShardConfig(process.argv.slice(2));
  const log = pino({ level: config.logLevel, base: { shard: config.identity } });
  const kubeConfig = loadKubeConfig(config);
  const metrics = new ShardMetrics();
  const api = {
    userAgent: userAgent(config.identity),
    observer: restClientMetrics(metrics.registry),
    http2: config.http2,
  };
  const client = await KubeClient.create(kubeConfig, { ...api, qps: config.qps, burst: config.burst });
  // Lease renewals get their own connection and rate limit: a flood of binds must not delay them.
  // A renewal throttled for longer than a renew interval is overtaken by the next one.
  const leaseClient = await KubeClient.create(kubeConfig, {
    ...api,
    qps: 50,
    burst: 100,
    maxSockets: 4,
    throttleWaitMs: config.leaseRenewMs,
  });
  collectDefaultMetrics({ register: metrics.registry });
  let shard: Shard | undefined;
  const leases = new ShardLeases(
    leaseClient,
    {
      namespace: config.leaseNamespace,
      identity: config.identity,
      schedulerName: config.schedulerName,
      leaseDurationMs: config.leaseDurationMs,
      renewIntervalMs: config.leaseRenewMs,
    },
    log,
    () => ownership.reconcile(),
  );
  const ownership: ShardedOwnership = new ShardedOwnership(
    leases,
    {
      handoverSettleMs: config.handoverSettleMs,
      shardByLabel: config.shardByLabel,
      expectedMembers: config.expectedShards,
      coldStartWaitMs: config.leaseDurationMs,
    },
    metrics,
    log,
    () => shard?.ownershipChanged(),
  );
  shard = new Shard(config, client, log, ownership, metrics);
  const running = shard;
  leases.catchUp = () => running.relistCaches();
  leases.onInvalidObject = (kind) => metrics.invalidObjects.inc({ kind });
  leases.onHandlerError = () => metrics.informerHandlerErrors.inc({ resource: "leases" });
  leases.onRenewal = (result) => metrics.leaseRenewals.inc({ result });
  leases.onLapse = () => metrics.leaseLapses.inc();
  ownership.promisedNodes = () => running.cache.cluster.nominatedNodes();
  ownership.gainedNodesDelivered = (gained) => running.podsOnGainedNodesDelivered(gained);
  const publisher = config.redis && startSummaryPublisher(config, config.redis, running, metrics, log);
  const serving = await startServingWithReviews(
    config.serving,
    kubeConfig,
    { registry: metrics.registry, isReady: () => running.isReady, log, identity: config.identity },
    api,
  );
  log.info(
    {
      config: { ...config, kubeconfig: undefined, redis: config.redis && describeRedis(config.redis) },
      metricsPort: serving.metricsPort,
      healthPort: serving.healthPort,
    },
    "shard starting",
  );
  const shutdown = async (signal: string) => {
    log.info({ signal }, "shard stopping: finishing binds in flight, then releasing the lease");
    running.stop();
    await publisher?.stop();
    await ownership.leave(5_000);
    await leases.stop(true);
    serving.close();
    client.close();
    leaseClient.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  await leases.start();
  await running.start();
  ownership.nodesSynced();
}

/** Capacity summaries for the coordinator, refreshed well within their lifetime in Redis. */
function startSummaryPublisher(
  config: ShardConfig,
  redisSettings: RedisSettings,
  shard: Shard,
  metrics: ShardMetrics,
  log: Logger,
): SummaryPublisher {
  const redis = connectRedis(redisSettings, log, (up) => metrics.redisUp.set(up ? 1 : 0));
  const publisher = new SummaryPublisher(
    redis,
    () => shard.capacitySummary(),
    {
      key: summaryKey(config.schedulerName, config.identity),
      intervalMs: config.summaryIntervalMs,
      ttlMs: Math.max(15_000, config.summaryIntervalMs * 10),
      inputsVersion: () => shard.capacityInputsVersion(),
    },
    log,
    (ok) => metrics.summaryPublishes.inc({ result: ok ? "published" : "failed" }),
  );
  shard.roomPromisesChanged = () => publisher.publishSoon();
  publisher.start();
  return publisher;
}

const shardAndStatusUsage = () =>
  `${shardUsage()}\n\nsharded-scheduler status [flags]: the shards, the coordinator leader and recent handoffs (status --help)`;

if (process.argv[2] === "status")
  void runStatusCommand(process.argv.slice(3)).then((code) => {
    process.exitCode = code;
  });
else runEntryPoint("sharded-scheduler", shardAndStatusUsage, main);
