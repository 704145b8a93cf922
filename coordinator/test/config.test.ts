import { describe, expect, it } from "vitest";
import { ConfigError, loadCoordinatorConfig } from "../src/config.js";

describe("coordinator configuration", () => {
  it("needs Redis", () => {
    expect(() => loadCoordinatorConfig([], {})).toThrow(ConfigError);
    expect(() => loadCoordinatorConfig([], {})).toThrow(/needs Redis/);
  });

  it("has documented defaults", () => {
    const config = loadCoordinatorConfig([], { REDIS_URL: "redis://cache:6379", POD_NAME: "coordinator-0" });
    expect(config).toMatchObject({
      identity: "coordinator-0",
      namespace: "default",
      stuckAfterMs: 3000,
      cooldownMs: 15000,
      maxAttempts: 3,
      maxCooldownMs: 120000,
      lendGraceMs: 30000,
      leaseDurationMs: 10000,
      leaseRenewMs: 2000,
      serving: {
        metrics: { host: undefined, port: 10261 },
        health: { host: undefined, port: 10263 },
        metricsAuth: "rbac",
        tls: undefined,
      },
      qps: 50,
      burst: 100,
      redisGraceMs: 10000,
    });
  });

  it("refuses a Redis grace shorter than two probes", () => {
    expect(() =>
      loadCoordinatorConfig(["--lease-renew-ms=2000", "--redis-grace-ms=3000"], { REDIS_URL: "redis://c" }),
    ).toThrow(/--redis-grace-ms must be at least twice --lease-renew-ms/);
  });

  it("refuses a longest relief wait shorter than the cooldown", () => {
    expect(() =>
      loadCoordinatorConfig(["--cooldown-ms=20000", "--max-cooldown-ms=10000"], { REDIS_URL: "redis://c" }),
    ).toThrow(/--max-cooldown-ms must be at least --cooldown-ms/);
  });

  it("refuses a renewal period longer than half the lease", () => {
    expect(() =>
      loadCoordinatorConfig(["--lease-duration-ms=4000", "--lease-renew-ms=3000"], {
        REDIS_URL: "redis://c",
      }),
    ).toThrow(/at most half/);
  });
});
