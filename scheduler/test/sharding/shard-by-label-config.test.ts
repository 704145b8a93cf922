/** --shard-by-label: off by default, from the flag or SHARD_BY_LABEL, a node label key or refused. */
import { describe, expect, it } from "vitest";
import { ConfigError, loadShardConfig } from "../../src/shard/config.js";

describe("--shard-by-label", () => {
  it("is off by default: every node hashed", () => {
    expect(loadShardConfig([], {}).shardByLabel).toBe("");
  });

  it("takes a label key from the flag or the environment, the flag first", () => {
    expect(loadShardConfig(["--shard-by-label=topology.kubernetes.io/rack"], {}).shardByLabel).toBe(
      "topology.kubernetes.io/rack",
    );
    expect(loadShardConfig([], { SHARD_BY_LABEL: "rack" }).shardByLabel).toBe("rack");
    expect(loadShardConfig(["--shard-by-label=block"], { SHARD_BY_LABEL: "rack" }).shardByLabel).toBe(
      "block",
    );
  });

  it("refuses what is not a node label key", () => {
    for (const bad of ["two words", "Example.COM/rack", "/rack", "rack/", "a/b/c", `${"x".repeat(64)}`])
      expect(() => loadShardConfig([`--shard-by-label=${bad}`], {}), bad).toThrow(ConfigError);
  });
});
