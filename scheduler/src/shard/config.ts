/**
 * Shard configuration from flags and environment variables, with documented defaults.
 * A flag wins over its environment variable; both win over the default.
 */
import { apiClientSettingTable, replicaSettingTable } from "../config/entry-point.js";
import { ConfigError, FlagReader, type Setting, usage } from "../config/flags.js";

export { ConfigError };

import { profileSettingTable, readProfileConfig } from "../config/profile-config.js";
import {
  type RedisSettings,
  readRedisSettings,
  redisSettingTable,
} from "../coordination/redis-connection.js";
import type { ProfileConfig } from "../core/index.js";
import { readServingConfig, type ServingConfig, servingSettingTable } from "../serving/serving-config.js";

/**
 * Which `Scheduled` Events a shard writes: one per bound pod (as kube-scheduler), one per bound
 * group (on its native PodGroup, else on its first member by name), or none.
 */
export const scheduledEventModes = ["pod", "group", "off"] as const;
export type ScheduledEvents = (typeof scheduledEventModes)[number];

export interface ShardConfig {
  /** Pods whose spec.schedulerName equals this are ours. */
  schedulerName: string;
  /** This replica's identity (StatefulSet pod name). */
  identity: string;
  /** Namespace of the shard Leases (the release namespace). */
  leaseNamespace: string;
  /** A replica whose Lease was not renewed for this long is gone; its share moves. */
  leaseDurationMs: number;
  leaseRenewMs: number;
  /** A node just gained in a handover is placed on only after this delay. */
  handoverSettleMs: number;
  /**
   * The replicas deployed (the StatefulSet's count): at a cold start (no member of the ring
   * object alive but this one) the first ring waits, at most a lease duration, for this many
   * live replicas, so a whole set starting at once forms one ring, not one per arrival. 0: no wait.
   */
  expectedShards: number;
  /**
   * A node label key (e.g. topology.kubernetes.io/rack): the ring gives whole domains of it to one
   * shard each (sharding/domain-assignment.ts); nodes without it are hashed one by one. "": every
   * node hashed one by one.
   */
  shardByLabel: string;
  /** The plugins, weights and arguments of the cycle (--profile-config, --scoring-strategy). */
  profile: ProfileConfig;
  /** Without min-member, a group's size is the members present once none arrived for this long. */
  settleWindowMs: number;
  /**
   * A partially bound gang (with min-member, never started) whose other members cannot be bound
   * for this long is rolled back.
   */
  gangTimeoutMs: number;
  bindConcurrency: number;
  /**
   * Client-side API request rate (requests per second) and burst; qps 0: no client-side limit
   * (the API server's Priority and Fairness limits, its 429s are waited out); burst 0: twice qps.
   */
  qps: number;
  burst: number;
  /** HTTP/2 to the API server when it offers it; false: HTTP/1.1 keep-alive connections. */
  http2: boolean;
  percentageOfNodesToScore: number;
  preemption: boolean;
  /** Scheduled Events per bound pod, per bound group, or none (scheduledEventModes). */
  scheduledEvents: ScheduledEvents;
  /** Where /metrics and the probes are served, and how /metrics is protected. */
  serving: ServingConfig;
  logLevel: string;
  /** Credentials (config/kubeconfig.ts): an explicit file, and a context other than the current one. */
  kubeconfig: string | undefined;
  context: string | undefined;
  /** Where to publish capacity summaries for the coordinator; undefined: no coordinator. */
  redis: RedisSettings | undefined;
  /** At most one capacity summary per this many ms (only when it changed, or to refresh it). */
  summaryIntervalMs: number;
}

const settings = {
  schedulerName: {
    flag: "scheduler-name",
    env: "SCHEDULER_NAME",
    help: "schedulerName this shard serves",
    fallback: () => "sharded-scheduler",
  },
  leaseNamespace: {
    flag: "lease-namespace",
    env: "POD_NAMESPACE",
    help: "namespace of the shard Leases",
    fallback: () => "default",
  },
  leaseDurationMs: {
    flag: "lease-duration-ms",
    env: "LEASE_DURATION_MS",
    help: "a shard not renewing for this long is gone",
    fallback: () => "10000",
  },
  leaseRenewMs: {
    flag: "lease-renew-ms",
    env: "LEASE_RENEW_MS",
    help: "how often a shard renews its Lease",
    fallback: () => "2000",
  },
  handoverSettleMs: {
    flag: "handover-settle-ms",
    env: "HANDOVER_SETTLE_MS",
    help: "wait before placing on a node just gained, where the quorum read of its pods cannot tell (else until the pod watch delivered them)",
    fallback: () => "1000",
  },
  expectedShards: {
    flag: "expected-shards",
    env: "EXPECTED_SHARDS",
    help: "replicas deployed: a cold start waits (at most a lease duration) for them before the first ring; 0 = none",
    fallback: () => "0",
  },
  shardByLabel: {
    flag: "shard-by-label",
    env: "SHARD_BY_LABEL",
    help: "node label key whose domains (e.g. racks) the ring gives whole to one shard; empty = per-node hashing",
    fallback: () => "",
  },
  ...profileSettingTable,
  settleWindowMs: {
    flag: "settle-window-ms",
    env: "SETTLE_WINDOW_MS",
    help: "quiet time before a group without min-member is sized",
    fallback: () => "1000",
  },
  gangTimeoutMs: {
    flag: "gang-timeout-ms",
    env: "GANG_TIMEOUT_MS",
    help: "how long a partially bound gang may wait before it is rolled back",
    fallback: () => "60000",
  },
  bindConcurrency: {
    flag: "bind-concurrency",
    env: "BIND_CONCURRENCY",
    help: "binds in flight at once",
    fallback: () => "256",
  },
  ...apiClientSettingTable,
  percentageOfNodesToScore: {
    flag: "percentage-of-nodes-to-score",
    env: "PERCENTAGE_OF_NODES_TO_SCORE",
    help: "0 = adaptive, as kube-scheduler",
    fallback: () => "0",
  },
  preemption: { flag: "preemption", env: "PREEMPTION", help: "true or false", fallback: () => "true" },
  scheduledEvents: {
    flag: "scheduled-events",
    env: "SCHEDULED_EVENTS",
    help: "Scheduled Events: pod (one per bound pod), group (one per bound group), off",
    fallback: () => "pod",
  },
  ...servingSettingTable(10260, 10262),
  ...replicaSettingTable,
  ...redisSettingTable,
  summaryIntervalMs: {
    flag: "summary-interval-ms",
    env: "SUMMARY_INTERVAL_MS",
    help: "at most one capacity summary to Redis per this many ms",
    fallback: () => "1000",
  },
} satisfies Record<Exclude<keyof ShardConfig, "redis" | "serving" | "profile">, Setting> &
  typeof profileSettingTable &
  typeof redisSettingTable &
  ReturnType<typeof servingSettingTable>;

export function shardUsage(): string {
  return usage(settings);
}

export function loadShardConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ShardConfig {
  const flags = new FlagReader(settings, argv, env);
  const leaseDurationMs = flags.int("leaseDurationMs", 2000);
  const leaseRenewMs = flags.int("leaseRenewMs", 100);
  if (leaseRenewMs * 2 > leaseDurationMs)
    throw new ConfigError("--lease-renew-ms must be at most half of --lease-duration-ms");
  return {
    schedulerName: flags.string("schedulerName"),
    identity: flags.string("identity"),
    leaseNamespace: flags.string("leaseNamespace"),
    leaseDurationMs,
    leaseRenewMs,
    handoverSettleMs: flags.int("handoverSettleMs", 0),
    expectedShards: flags.int("expectedShards", 0),
    shardByLabel: readLabelKey(flags.string("shardByLabel")),
    profile: readProfileConfig(flags),
    settleWindowMs: flags.int("settleWindowMs", 0),
    gangTimeoutMs: flags.int("gangTimeoutMs", 1000),
    bindConcurrency: flags.int("bindConcurrency", 1),
    qps: flags.int("qps", 0),
    burst: flags.int("burst", 0),
    http2: flags.bool("http2"),
    percentageOfNodesToScore: flags.int("percentageOfNodesToScore", 0, 100),
    preemption: flags.bool("preemption"),
    scheduledEvents: flags.oneOf("scheduledEvents", scheduledEventModes),
    serving: readServingConfig(flags),
    logLevel: flags.string("logLevel"),
    kubeconfig: flags.string("kubeconfig") || undefined,
    context: flags.string("context") || undefined,
    redis: readRedisSettings(flags),
    summaryIntervalMs: flags.int("summaryIntervalMs", 100),
  };
}

/** A node label key as Kubernetes allows it: [prefix/]name, prefix a DNS subdomain, name ≤ 63. */
function readLabelKey(text: string): string {
  if (text === "") return text;
  const slash = text.lastIndexOf("/");
  const prefix = slash < 0 ? "" : text.slice(0, slash);
  const name = text.slice(slash + 1);
  const nameOk = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name);
  const prefixOk = slash < 0 || (prefix.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix));
  if (!nameOk || !prefixOk)
    throw new ConfigError(`--shard-by-label ${JSON.stringify(text)} is not a node label key ([prefix/]name)`);
  return text;
}
