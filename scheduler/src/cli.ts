#!/usr/bin/env node
/** The shard's entry point: `sharded-scheduler [flags]` (see --help). */
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { collectDefaultMetrics } from "prom-client";
import { KubeClient } from "./kube/kube-client.js";
import { ConfigError, loadShardConfig, shardUsage } from "./shard/config.js";
import { startHealthServer } from "./shard/health-server.js";
import { Shard } from "./shard/shard.js";

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(
      `usage: sharded-scheduler [flags]\n\nflag                             env                            meaning\n${shardUsage()}\n`,
    );
    return;
  }
  const config = loadShardConfig(process.argv.slice(2));
  const log = pino({ level: config.logLevel, base: { shard: config.identity } });
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromCluster();
  const client = await KubeClient.create(kubeConfig, { qps: config.qps, burst: config.burst });
  const shard = new Shard(config, client, log);
  collectDefaultMetrics({ register: shard.metrics.registry });
  const health = await startHealthServer(config.port, shard.metrics.registry, () => shard.isReady);
  log.info({ config: { ...config, kubeconfig: undefined }, port: health.port }, "shard starting");
  const shutdown = (signal: string) => {
    log.info({ signal }, "shard stopping");
    shard.stop();
    health.server.close();
    client.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  await shard.start();
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`sharded-scheduler: ${message}\n`);
  process.exit(1);
});
