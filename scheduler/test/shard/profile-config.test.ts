/**
 * A shard runs the profile its --profile-config file describes: an optional plugin the file
 * turns on (MaxPerZone) is honoured by the shard's own cycle.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadShardConfig } from "../../src/shard/config.js";
import type { Shard, ShardWriters } from "../../src/shard/shard.js";
import { gang, node } from "../core/fixtures.js";
import { readyShard } from "./fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "shard-profile-"));
const shards: Shard[] = [];
afterEach(() => {
  for (const shard of shards.splice(0)) shard.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const zoneKey = "topology.kubernetes.io/zone";

/** A ready shard with this profile file (none: the default profile), recording where it binds. */
function shardWith(profile: string | undefined) {
  const bound = new Map<string, string>();
  const writers: Partial<ShardWriters> = {
    binder: {
      bind: async (_namespace: string, name: string, _uid: string, nodeName: string) => {
        bound.set(name, nodeName);
        return { outcome: "bound", detail: "" };
      },
      evict: async () => ({ outcome: "evicted", detail: "" }),
      delete: async () => true,
    },
  };
  const args: string[] = [];
  if (profile !== undefined) {
    const file = join(dir, `profile-${shards.length}.yaml`);
    writeFileSync(file, profile);
    args.push(`--profile-config=${file}`);
  }
  const config = { ...loadShardConfig(args, { POD_NAME: "shard-0" }), settleWindowMs: 0 };
  const shard = readyShard(writers as ShardWriters, { config });
  shards.push(shard);
  return { shard, bound };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Zone a has the only nodes with room for the whole gang, and packing prefers them. */
async function placeDbGang(shard: Shard): Promise<void> {
  shard.cache.upsertNode(node("a1", { cpu: 4, labels: { [zoneKey]: "a" } }));
  shard.cache.upsertNode(node("b1", { cpu: 4, labels: { [zoneKey]: "b" } }));
  for (const member of gang("db", 2, { labels: { app: "db" } }))
    shard.cache.upsertPod({ ...member, spec: { ...member.spec, schedulerName: shard.config.schedulerName } });
  await settle();
}

describe("a shard's profile configuration", () => {
  it("turns MaxPerZone on in the shard's cycle: one db member per zone", async () => {
    const { shard, bound } = shardWith(
      "pluginConfig:\n  - name: MaxPerZone\n    args: {labelKey: app, labelValue: db, maxPerZone: 1}\n",
    );
    expect(shard.config.profile.plugins?.MaxPerZone).toMatchObject({ maxPerZone: 1 });
    await placeDbGang(shard);
    expect([...bound.values()].sort()).toEqual(["a1", "b1"]);
  });

  it("without it, the default profile packs both members onto one node", async () => {
    const { shard, bound } = shardWith(undefined);
    await placeDbGang(shard);
    expect(new Set(bound.values()).size).toBe(1);
  });
});
