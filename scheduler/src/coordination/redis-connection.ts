/**
 * The Redis connection shards and the coordinator share: URL, password (from a Secret through
 * the environment), optional TLS, optional Sentinel. Redis is never on a shard's critical path:
 * commands fail at once while it is unreachable (no offline queue), and the client reconnects
 * in the background with a capped backoff.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { ConfigError, type FlagReader, type Setting } from "../config/flags.js";

export interface RedisSettings {
  /** redis:// or rediss:// URL; with Sentinel, only its database number and credentials are used. */
  url: string;
  password: string | undefined;
  tls: boolean;
  /** Sentinel addresses; empty for a direct connection. */
  sentinels: { host: string; port: number }[];
  /** The Sentinel master set's name. */
  sentinelMaster: string;
}

/** The Redis rows of a settings table (see config/flags.ts). */
export const redisSettingTable = {
  redisUrl: {
    flag: "redis-url",
    env: "REDIS_URL",
    help: "Redis for the coordinator's ledger and capacity summaries ('' = none)",
    fallback: () => "",
  },
  redisPassword: {
    flag: "redis-password",
    env: "REDIS_PASSWORD",
    help: "Redis password (prefer the env var, from a Secret)",
    fallback: () => "",
  },
  redisTls: {
    flag: "redis-tls",
    env: "REDIS_TLS",
    help: "connect with TLS (true/false)",
    fallback: () => "false",
  },
  redisSentinels: {
    flag: "redis-sentinels",
    env: "REDIS_SENTINELS",
    help: "Sentinel host:port list, comma-separated ('' = no Sentinel)",
    fallback: () => "",
  },
  redisSentinelMaster: {
    flag: "redis-sentinel-master",
    env: "REDIS_SENTINEL_MASTER",
    help: "Sentinel master set name",
    fallback: () => "mymaster",
  },
} satisfies Record<string, Setting>;

type RedisSettingKey = keyof typeof redisSettingTable;

/** The Redis settings, or undefined when no Redis is configured. */
export function readRedisSettings<K extends string>(
  reader: FlagReader<K | RedisSettingKey>,
): RedisSettings | undefined {
  const url = reader.string("redisUrl");
  const sentinelList = reader.string("redisSentinels");
  if (url === "" && sentinelList === "") return undefined;
  if (url !== "" && !/^rediss?:\/\//.test(url))
    throw new ConfigError(`${reader.name("redisUrl")} must start with redis:// or rediss://, got "${url}"`);
  const sentinels = sentinelList
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const match = /^([^:]+):(\d{1,5})$/.exec(entry);
      if (!match) throw new ConfigError(`${reader.name("redisSentinels")}: "${entry}" is not host:port`);
      return { host: match[1] as string, port: Number(match[2]) };
    });
  return {
    url,
    password: reader.string("redisPassword") || undefined,
    tls: reader.bool("redisTls") || url.startsWith("rediss://"),
    sentinels,
    sentinelMaster: reader.string("redisSentinelMaster"),
  };
}

/** Where a log line may say it connects: never the password. */
export function describeRedis(settings: RedisSettings): string {
  if (settings.sentinels.length > 0)
    return `sentinel ${settings.sentinelMaster}@${settings.sentinels.map((s) => `${s.host}:${s.port}`).join(",")}`;
  const url = new URL(settings.url);
  url.password = "";
  url.username = "";
  return url.toString();
}

/** Connects in the background; logs each loss and recovery once. */
export function connectRedis(settings: RedisSettings, log: Logger, onStatus?: (up: boolean) => void): Redis {
  const options: RedisOptions = {
    // A command fails at once while Redis is unreachable: callers retry on their own schedule.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(200 * attempt, 2_000),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.tls ? { tls: {} } : {}),
  };
  const redis =
    settings.sentinels.length > 0
      ? new Redis({
          ...options,
          ...(settings.url !== "" ? { db: Number(new URL(settings.url).pathname.slice(1) || "0") } : {}),
          sentinels: settings.sentinels,
          name: settings.sentinelMaster,
          ...(settings.password !== undefined ? { sentinelPassword: settings.password } : {}),
          enableTLSForSentinelMode: settings.tls,
        })
      : new Redis(settings.url, options);
  let up: boolean | undefined;
  const report = (now: boolean, detail?: string) => {
    if (up === now) return;
    up = now;
    if (now) log.info({ redis: describeRedis(settings) }, "redis connected");
    else
      log.warn(
        { redis: describeRedis(settings), err: detail },
        "redis unreachable; retrying in the background",
      );
    onStatus?.(now);
  };
  redis.on("ready", () => report(true));
  redis.on("error", (error: Error) => report(false, error.message));
  redis.on("end", () => report(false, "connection closed"));
  redis.on("close", () => report(false, "connection closed"));
  return redis;
}
