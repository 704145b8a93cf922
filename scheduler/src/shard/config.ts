/**
 * Shard configuration from flags and environment variables, with documented defaults.
 * A flag wins over its environment variable; both win over the default.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { type ScoringStrategy, scoringStrategies } from "../core/index.js";

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
  scoringStrategy: ScoringStrategy;
  /** Without min-member, a group's size is the members present once none arrived for this long. */
  settleWindowMs: number;
  /** A partially bound gang whose other members cannot be bound for this long is rolled back. */
  gangTimeoutMs: number;
  bindConcurrency: number;
  /** Client-side API request rate (requests per second) and burst. */
  qps: number;
  burst: number;
  percentageOfNodesToScore: number;
  preemption: boolean;
  /** Port of /metrics, /healthz and /readyz (0: any free port). */
  port: number;
  logLevel: string;
  kubeconfig: string | undefined;
}

interface Setting {
  flag: string;
  env: string;
  help: string;
  fallback: () => string;
}

const settings = {
  schedulerName: {
    flag: "scheduler-name",
    env: "SCHEDULER_NAME",
    help: "schedulerName this shard serves",
    fallback: () => "sharded-scheduler",
  },
  identity: { flag: "identity", env: "POD_NAME", help: "replica identity", fallback: () => hostname() },
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
    help: "wait before placing on a node just gained",
    fallback: () => "1000",
  },
  scoringStrategy: {
    flag: "scoring-strategy",
    env: "SCORING_STRATEGY",
    help: "MostAllocated (bin-packing) or LeastAllocated (spread)",
    fallback: () => "MostAllocated",
  },
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
    fallback: () => "64",
  },
  qps: { flag: "qps", env: "KUBE_API_QPS", help: "API requests per second", fallback: () => "1000" },
  burst: { flag: "burst", env: "KUBE_API_BURST", help: "API request burst", fallback: () => "2000" },
  percentageOfNodesToScore: {
    flag: "percentage-of-nodes-to-score",
    env: "PERCENTAGE_OF_NODES_TO_SCORE",
    help: "0 = adaptive, as kube-scheduler",
    fallback: () => "0",
  },
  preemption: { flag: "preemption", env: "PREEMPTION", help: "true or false", fallback: () => "true" },
  port: { flag: "port", env: "PORT", help: "port of /metrics, /healthz, /readyz", fallback: () => "10260" },
  logLevel: { flag: "log-level", env: "LOG_LEVEL", help: "pino level", fallback: () => "info" },
  kubeconfig: {
    flag: "kubeconfig",
    env: "KUBECONFIG",
    help: "kubeconfig file (default: in-cluster)",
    fallback: () => "",
  },
} satisfies Record<keyof ShardConfig, Setting>;

export function shardUsage(): string {
  return Object.values(settings)
    .map(
      (s: Setting) =>
        `  --${s.flag.padEnd(30)} ${s.env.padEnd(30)} ${s.help} (default: ${s.fallback() || "none"})`,
    )
    .join("\n");
}

export class ConfigError extends Error {}

export function loadShardConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ShardConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.values(settings).map((s: Setting) => [s.flag, { type: "string" as const }]),
    ),
    strict: true,
  });
  const raw = (key: keyof typeof settings): string => {
    const s: Setting = settings[key];
    return (values[s.flag] as string | undefined) ?? env[s.env] ?? s.fallback();
  };
  const int = (key: keyof typeof settings, min: number): number => {
    const text = raw(key);
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      throw new ConfigError(
        `--${settings[key].flag} (${settings[key].env}) must be an integer >= ${min}, got "${text}"`,
      );
    }
    return value;
  };
  const strategy = raw("scoringStrategy");
  if (!scoringStrategies.includes(strategy as ScoringStrategy)) {
    throw new ConfigError(
      `--scoring-strategy must be one of ${scoringStrategies.join(", ")}, got "${strategy}"`,
    );
  }
  const preemption = raw("preemption");
  if (preemption !== "true" && preemption !== "false") {
    throw new ConfigError(`--preemption must be true or false, got "${preemption}"`);
  }
  const leaseDurationMs = int("leaseDurationMs", 2000);
  const leaseRenewMs = int("leaseRenewMs", 100);
  if (leaseRenewMs * 2 > leaseDurationMs)
    throw new ConfigError("--lease-renew-ms must be at most half of --lease-duration-ms");
  const percentage = int("percentageOfNodesToScore", 0);
  if (percentage > 100) throw new ConfigError("--percentage-of-nodes-to-score must be 0-100");
  return {
    schedulerName: raw("schedulerName"),
    identity: raw("identity"),
    leaseNamespace: raw("leaseNamespace"),
    leaseDurationMs,
    leaseRenewMs,
    handoverSettleMs: int("handoverSettleMs", 0),
    scoringStrategy: strategy as ScoringStrategy,
    settleWindowMs: int("settleWindowMs", 0),
    gangTimeoutMs: int("gangTimeoutMs", 1000),
    bindConcurrency: int("bindConcurrency", 1),
    qps: int("qps", 1),
    burst: int("burst", 1),
    percentageOfNodesToScore: percentage,
    preemption: preemption === "true",
    port: int("port", 0),
    logLevel: raw("logLevel"),
    kubeconfig: raw("kubeconfig") || undefined,
  };
}
