/**
 * The shards' settings the chart ships (values `scheduler.config`, rendered into the shards'
 * ConfigMap) are the shard binary's own defaults, so that what runs without flags — the local
 * stack, the benchmarks — runs as installed. No cluster: helm template.
 */
import { describe, expect, it } from "vitest";
import { loadShardConfig } from "../../scheduler/src/shard/config.js";
import { helmTemplate } from "./template.js";

/** The data of the shards' ConfigMap (their envFrom) with these --set flags. */
async function shardEnvironment(...flags: string[]): Promise<Record<string, string>> {
  const [configMap] = await helmTemplate<{ data: Record<string, string> }>(
    "--show-only",
    "templates/scheduler-configmap.yaml",
    ...flags,
  );
  if (!configMap) throw new Error("no shard ConfigMap rendered");
  return configMap.data;
}

/** A shard's settings but what each install sets for itself (replicas, Redis, serving). */
function settingsOf(env: Record<string, string>) {
  const { expectedShards, redis, serving, ...settings } = loadShardConfig(
    ["--identity=r-sharded-scheduler-0"],
    env,
  );
  return settings;
}

describe("the shards' settings the chart ships", () => {
  it("are the shard binary's defaults", async () => {
    const shipped = settingsOf(await shardEnvironment());
    expect(shipped).toEqual(settingsOf({}));
    // What the binary's defaults are, as docs/testing.md states them.
    expect(shipped).toMatchObject({
      leaseDurationMs: 10_000,
      leaseRenewMs: 2000,
      handoverSettleMs: 1000,
      settleWindowMs: 1000,
      bindConcurrency: 256,
    });
  });

  it("tell a changed value apart (the comparison above reads the ConfigMap)", async () => {
    const changed = settingsOf(await shardEnvironment("--set", "scheduler.config.leaseRenewMs=3000"));
    expect(changed.leaseRenewMs).toBe(3000);
    expect(changed).not.toEqual(settingsOf({}));
  });
});
