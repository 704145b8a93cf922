import { describe, expect, it } from "vitest";
import { describeRedis } from "../../src/coordination/redis-connection.js";
import { ConfigError, loadShardConfig } from "../../src/shard/config.js";

describe("Redis settings", () => {
  it("are absent without a URL or Sentinel: the shard publishes nothing", () => {
    expect(loadShardConfig([], {}).redis).toBeUndefined();
  });

  it("take the password from the environment and never show it", () => {
    const { redis } = loadShardConfig(["--redis-url=redis://user@cache:6380/2"], {
      REDIS_PASSWORD: "s3cret",
    });
    expect(redis).toMatchObject({ url: "redis://user@cache:6380/2", password: "s3cret", tls: false });
    expect(describeRedis(redis as NonNullable<typeof redis>)).not.toContain("s3cret");
  });

  it("use TLS for rediss:// or when asked", () => {
    expect(loadShardConfig(["--redis-url=rediss://cache:6380"], {}).redis?.tls).toBe(true);
    expect(loadShardConfig(["--redis-url=redis://cache", "--redis-tls=true"], {}).redis?.tls).toBe(true);
  });

  it("read a Sentinel list and its master name", () => {
    const { redis } = loadShardConfig([], {
      REDIS_SENTINELS: "s1:26379, s2:26380",
      REDIS_SENTINEL_MASTER: "cache",
    });
    expect(redis?.sentinels).toEqual([
      { host: "s1", port: 26379 },
      { host: "s2", port: 26380 },
    ]);
    expect(describeRedis(redis as NonNullable<typeof redis>)).toBe("sentinel cache@s1:26379,s2:26380");
  });

  it.each([
    [["--redis-url=http://cache"], /must start with redis:\/\//],
    [["--redis-sentinels=s1"], /"s1" is not host:port/],
    [["--redis-url=redis://c", "--redis-tls=yes"], /must be true or false/],
    [["--summary-interval-ms=10"], /--summary-interval-ms \(SUMMARY_INTERVAL_MS\) must be an integer >= 100/],
  ])("reject %j with a clear error", (argv, message) => {
    expect(() => loadShardConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadShardConfig(argv, {})).toThrow(message);
  });
});
