import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfileConfig } from "@sharded-scheduler/scheduler/config";
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
      qps: 0,
      burst: 0,
      http2: true,
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

  it("reads the profile file as the shards read it, and refuses what they refuse", () => {
    const dir = mkdtempSync(join(tmpdir(), "coordinator-config-"));
    try {
      const file = join(dir, "profile.yaml");
      writeFileSync(
        file,
        "scoringStrategy: LeastAllocated\npluginConfig: [{name: MaxPerZone, args: {labelKey: app, maxPerZone: 2}}]\n",
      );
      const env = { REDIS_URL: "redis://cache:6379", PROFILE_CONFIG: file };
      const profile = loadCoordinatorConfig([], env).profile;
      expect(profile).toEqual({
        scoringStrategy: "LeastAllocated",
        plugins: { MaxPerZone: { labelKey: "app", maxPerZone: 2 } },
      });
      // The shards read the file with the same function.
      expect(loadProfileConfig(file)).toEqual(profile);
      expect(loadCoordinatorConfig([], { REDIS_URL: "redis://c" }).profile).toEqual({
        scoringStrategy: "MostAllocated",
      });
      expect(() => loadCoordinatorConfig(["--scoring-strategy=MostAllocated"], env)).toThrow(
        /contradicts scoringStrategy LeastAllocated/,
      );
      writeFileSync(file, "pluginConfig: [{name: Bogus}]\n");
      expect(() => loadCoordinatorConfig([], env)).toThrow(ConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
