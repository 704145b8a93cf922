/** Coordinator configuration from flags and environment variables (see config/flags.ts). */
import {
  apiClientSettingTable,
  ConfigError,
  FlagReader,
  profileSettingTable,
  readProfileConfig,
  replicaSettingTable,
  type Setting,
  usage,
} from "@sharded-scheduler/scheduler/config";
import {
  type RedisSettings,
  readRedisSettings,
  redisSettingTable,
} from "@sharded-scheduler/scheduler/coordination";
import type { ProfileConfig } from "@sharded-scheduler/scheduler/core";
import {
  readServingConfig,
  type ServingConfig,
  servingSettingTable,
} from "@sharded-scheduler/scheduler/serving";

export { ConfigError };

export interface CoordinatorConfig {
  /** The shards' schedulerName: names their ring Lease and the Redis keys. */
  schedulerName: string;
  identity: string;
  /** Namespace of the shards' Leases and of the coordinator's leader Lease. */
  namespace: string;
  leaseDurationMs: number;
  leaseRenewMs: number;
  /** A group reported unschedulable for this long gets help. */
  stuckAfterMs: number;
  /** The least time between two reliefs of one group. */
  cooldownMs: number;
  /** Reliefs per group a cooldown apart; past them each wait doubles. */
  maxAttempts: number;
  /** The longest wait between two reliefs of one group, past maxAttempts. */
  maxCooldownMs: number;
  /** A lent node not used by its group for this long goes back. */
  lendGraceMs: number;
  intervalMs: number;
  /**
   * Client-side API request rate and burst of the coordinator's writes and reads (not its
   * Lease's); qps 0: no client-side limit (the API server's Priority and Fairness limits);
   * burst 0: twice qps.
   */
  qps: number;
  burst: number;
  /** HTTP/2 to the API server when it offers it; false: HTTP/1.1 keep-alive connections. */
  http2: boolean;
  /** A replica that has not reached Redis for this long does not lead (and a leader gives up). */
  redisGraceMs: number;
  /** The shards' profile (--profile-config, --scoring-strategy): trial placements run its plugins. */
  profile: ProfileConfig;
  redis: RedisSettings;
  /** Where /metrics and the probes are served, and how /metrics is protected. */
  serving: ServingConfig;
  logLevel: string;
  /** Credentials (scheduler config/kubeconfig.ts): an explicit file, and a context other than the current one. */
  kubeconfig: string | undefined;
  context: string | undefined;
}

const settings = {
  schedulerName: {
    flag: "scheduler-name",
    env: "SCHEDULER_NAME",
    help: "schedulerName of the shards to coordinate",
    fallback: () => "sharded-scheduler",
  },
  namespace: {
    flag: "namespace",
    env: "POD_NAMESPACE",
    help: "namespace of the shard Leases and the leader Lease",
    fallback: () => "default",
  },
  leaseDurationMs: {
    flag: "lease-duration-ms",
    env: "LEASE_DURATION_MS",
    help: "the standby takes over after the leader was silent this long",
    fallback: () => "10000",
  },
  leaseRenewMs: {
    flag: "lease-renew-ms",
    env: "LEASE_RENEW_MS",
    help: "how often the leader renews its Lease",
    fallback: () => "2000",
  },
  stuckAfterMs: {
    flag: "stuck-after-ms",
    env: "STUCK_AFTER_MS",
    help: "help a group its owner reported unschedulable for this long",
    fallback: () => "3000",
  },
  cooldownMs: {
    flag: "cooldown-ms",
    env: "COOLDOWN_MS",
    help: "least time between two handoffs or lends of one group",
    fallback: () => "15000",
  },
  maxAttempts: {
    flag: "max-attempts",
    env: "MAX_ATTEMPTS",
    help: "handoffs and lends per group a cooldown apart; past them each wait doubles",
    fallback: () => "3",
  },
  maxCooldownMs: {
    flag: "max-cooldown-ms",
    env: "MAX_COOLDOWN_MS",
    help: "longest wait between two reliefs of one group, past --max-attempts",
    fallback: () => "120000",
  },
  lendGraceMs: {
    flag: "lend-grace-ms",
    env: "LEND_GRACE_MS",
    help: "a lent node its group does not use after this long goes back",
    fallback: () => "30000",
  },
  intervalMs: {
    flag: "interval-ms",
    env: "INTERVAL_MS",
    help: "how often the leader looks at the summaries",
    fallback: () => "500",
  },
  ...apiClientSettingTable,
  redisGraceMs: {
    flag: "redis-grace-ms",
    env: "REDIS_GRACE_MS",
    help: "leads only if Redis answered within this long; a leader that cannot reach it longer gives up the Lease",
    fallback: () => "10000",
  },
  ...profileSettingTable,
  ...redisSettingTable,
  ...servingSettingTable(10261, 10263),
  ...replicaSettingTable,
} satisfies Record<Exclude<keyof CoordinatorConfig, "redis" | "serving" | "profile">, Setting> &
  typeof profileSettingTable &
  typeof redisSettingTable &
  ReturnType<typeof servingSettingTable>;

export function coordinatorUsage(): string {
  return usage(settings);
}

export function loadCoordinatorConfig(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): CoordinatorConfig {
  const flags = new FlagReader(settings, argv, env);
  const leaseDurationMs = flags.int("leaseDurationMs", 2000);
  const leaseRenewMs = flags.int("leaseRenewMs", 100);
  if (leaseRenewMs * 2 > leaseDurationMs)
    throw new ConfigError("--lease-renew-ms must be at most half of --lease-duration-ms");
  const cooldownMs = flags.int("cooldownMs", 0);
  const maxCooldownMs = flags.int("maxCooldownMs", 0);
  if (maxCooldownMs < cooldownMs) throw new ConfigError("--max-cooldown-ms must be at least --cooldown-ms");
  const redisGraceMs = flags.int("redisGraceMs", 1);
  if (redisGraceMs < leaseRenewMs * 2)
    throw new ConfigError(
      "--redis-grace-ms must be at least twice --lease-renew-ms (Redis is probed that often)",
    );
  const redis = readRedisSettings(flags);
  if (!redis)
    throw new ConfigError("the coordinator needs Redis: set --redis-url (REDIS_URL) or --redis-sentinels");
  return {
    schedulerName: flags.string("schedulerName"),
    identity: flags.string("identity"),
    namespace: flags.string("namespace"),
    leaseDurationMs,
    leaseRenewMs,
    stuckAfterMs: flags.int("stuckAfterMs", 0),
    cooldownMs,
    maxAttempts: flags.int("maxAttempts", 1),
    maxCooldownMs,
    lendGraceMs: flags.int("lendGraceMs", 0),
    intervalMs: flags.int("intervalMs", 50),
    qps: flags.int("qps", 0),
    burst: flags.int("burst", 0),
    http2: flags.bool("http2"),
    redisGraceMs,
    profile: readProfileConfig(flags),
    redis,
    serving: readServingConfig(flags),
    logLevel: flags.string("logLevel"),
    kubeconfig: flags.string("kubeconfig") || undefined,
    context: flags.string("context") || undefined,
  };
}
