/**
 * `sharded-scheduler status` (node scheduler/dist/cli.js status) against the real API server,
 * with 2 shards and a coordinator: it lists both shards, their nodes add up to the cluster's,
 * it names the coordinator leader, shows a gang nothing can place as pending on its owner and a
 * handoff among the recent Events; a bad server or an unknown scheduler is one line and exit 1.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { CapacitySummary } from "../../scheduler/src/contracts/capacity-summary.js";
import { summaryKey } from "../../scheduler/src/contracts/keys.js";
import { groupKey } from "../../scheduler/src/core/gang/index.js";
import { ShardRing } from "../../scheduler/src/sharding/shard-ring.js";
import type { StatusReport } from "../../scheduler/src/status/cluster-status.js";
import { shardEntry } from "../stack/stack.js";
import { redisUrl } from "../support/redis.js";
import { schedulerSuite } from "../support/suite.js";
import { waitFor } from "../support/wait.js";

const leaseArgs = ["--lease-duration-ms=4000", "--lease-renew-ms=1000"];
const shardArgs = [...leaseArgs, "--handover-settle-ms=500", "--summary-interval-ms=250"];
const coordinatorArgs = [...leaseArgs, "--stuck-after-ms=1000", "--interval-ms=250"];
const suite = schedulerSuite("status", { shardArgs, redis: true });
let shards: string[];
let ring: ShardRing;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function status(...args: string[]): Promise<CliResult> {
  return statusWith({}, ...args);
}

/** Runs status with these environment variables added (KUBECONFIG unset unless given). */
async function statusWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [shardEntry, "status", ...args], {
      timeout: 30_000,
      env: { ...process.env, KUBECONFIG: undefined, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

const ours = () => [
  `--kubeconfig=${inject("kubeconfig")}`,
  `--scheduler-name=${suite.id}`,
  "--namespace=default",
];

async function report(): Promise<StatusReport> {
  const result = await status(...ours(), "--json");
  if (result.code !== 0) throw new Error(`status exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as StatusReport;
}

/** A group name the ring gives to `owner`. */
function groupOwnedBy(owner: string, prefix: string): string {
  for (let i = 0; ; i++)
    if (ring.ownerOf(groupKey(suite.namespace, `${prefix}-${i}`, false).hashKey) === owner)
      return `${prefix}-${i}`;
}

beforeAll(async () => {
  shards = [0, 1].map((ordinal) => `${suite.id}-${ordinal}`);
  ring = new ShardRing(shards);
  await suite.startReplica(1, shardArgs);
  await suite.startCoordinator("a", coordinatorArgs);
  // One node per shard. Shard 0's is half full, so a pod of shard 0's that needs 3 cpu is
  // handed off to shard 1 (were shard 1's node the only one it could take, routing would give
  // it to shard 1 at once: core/gang/routing.ts).
  const room = new Map<string, string>();
  for (let index = 0; room.size < 2; index++) {
    const name = suite.nodeName("room", index);
    const owner = ring.ownerOf(name) as string;
    if (room.has(owner)) continue;
    await suite.addNodes("room", 1, { cpu: "4" }, index);
    room.set(owner, name);
  }
  const full = room.get(shards[0] as string) as string;
  const filler = suite.pod("room-fill", { pool: "none", cpu: "2", schedulerName: "bound-by-test" });
  (filler.spec as k8s.V1PodSpec).nodeName = full;
  delete (filler.spec as k8s.V1PodSpec).nodeSelector;
  await suite.create(filler);
  // Shard 0 has seen it once its summary publishes the smaller room.
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  try {
    await waitFor(
      `${shards[0]} to publish ${full} half full`,
      async () => {
        const body = await redis.get(summaryKey(suite.id, shards[0] as string));
        const summary = body ? (JSON.parse(body) as CapacitySummary) : undefined;
        const free = summary?.nodes.find((n) => n.name === full)?.free.cpu;
        return free !== undefined && free <= 2000 ? true : undefined;
      },
      20_000,
    );
  } finally {
    redis.disconnect();
  }
}, 60_000);

describe("sharded-scheduler status", () => {
  it("lists both shards with every node of the cluster, the leader, a pending gang on its owner and a handoff", async () => {
    const stuck = groupOwnedBy(shards[0] as string, "stuck");
    await suite.create(suite.gang(stuck, 2, { pool: "room", cpu: "64" }));
    const moved = groupOwnedBy(shards[0] as string, "moved");
    await suite.create(suite.pod(moved, { pool: "room", cpu: "3" }));
    await suite.waitBound([moved], 20_000);

    const seen = await waitFor(
      "status to show both shards settled, the leader, the stuck gang and the handoff",
      async () => {
        const r = await report();
        const settled =
          r.ring?.members.join(",") === shards.join(",") &&
          r.shards.every((s) => s.state === "live" && !s.lagging) &&
          r.coordinator?.holder &&
          r.pendingGroups.some((g) => g.group === `${suite.namespace}/${stuck}`) &&
          r.recentEvents.some(
            (e) => e.reason === "HandedOff" && e.message.includes(`${suite.namespace}/${moved}`),
          );
        return settled ? r : undefined;
      },
      20_000,
      500,
    );
    const nodes = (await suite.core.listNode()).items.length;

    expect(seen.shards.map((s) => s.name)).toEqual(shards);
    expect(seen.shards.reduce((sum, s) => sum + (s.nodes ?? 0), 0)).toBe(nodes);
    expect(seen.nodes).toBe(nodes);
    expect(seen.coordinator).toMatchObject({ holder: `${suite.id}-coordinator-a`, expired: false });
    const gang = seen.pendingGroups.find((g) => g.group === `${suite.namespace}/${stuck}`);
    expect(gang).toMatchObject({
      owner: shards[0],
      solo: false,
      pendingPods: 2,
      minMember: 2,
      handedTo: null,
    });
    expect(seen.shards.find((s) => s.name === shards[0])?.pendingGroups).toBeGreaterThanOrEqual(1);
    const handoff = seen.recentEvents.find((e) => e.reason === "HandedOff");
    expect(handoff?.message).toContain(`to shard ${shards[1]}`);

    const text = await status(...ours());
    expect(text.code).toBe(0);
    for (const name of [
      ...shards,
      `${suite.id}-coordinator-a`,
      `${suite.namespace}/${stuck} (gang)`,
      "HandedOff",
    ])
      expect(text.stdout).toContain(name);
    process.stdout.write(`--- sharded-scheduler status\n${text.stdout}`);
  });

  it("an unknown scheduler: says no shards were found, exit 1", async () => {
    const result = await status(`--kubeconfig=${inject("kubeconfig")}`, "--scheduler-name=nobody-here");
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: "sharded-scheduler status: no shards found for scheduler nobody-here in namespace default\n",
    });
  });

  it("an API server that does not answer: one line, exit 1, no stack", async () => {
    const kubeconfig = join(tmpdir(), `status-test-${suite.id}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "gone", cluster: { server: "https://127.0.0.1:1", "insecure-skip-tls-verify": true } },
        ],
        users: [{ name: "someone", user: { token: "x" } }],
        contexts: [{ name: "gone", context: { cluster: "gone", user: "someone" } }],
        "current-context": "gone",
      }),
    );
    const result = await status(`--kubeconfig=${kubeconfig}`, "--json");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /^sharded-scheduler status: cannot reach the API server at https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*\n$/,
    );
  });

  it("finds the cluster as kubectl does: KUBECONFIG's files merged, the first current context wins, --context picks another", async () => {
    const gone = join(tmpdir(), `status-test-${suite.id}-gone.kubeconfig`);
    writeFileSync(
      gone,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "gone", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "someone", user: { token: "x" } }],
        contexts: [{ name: "gone", context: { cluster: "gone", user: "someone" } }],
        "current-context": "gone",
      }),
    );
    const real = new k8s.KubeConfig();
    real.loadFromFile(inject("kubeconfig"));
    const kubeconfig = [join(tmpdir(), "absent.kubeconfig"), gone, inject("kubeconfig")].join(":");
    const args = [`--scheduler-name=${suite.id}`, "--namespace=default", "--json"];
    const first = await statusWith({ KUBECONFIG: kubeconfig }, ...args);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/cannot reach the API server at https:\/\/127\.0\.0\.1:1/);
    const picked = await statusWith(
      { KUBECONFIG: kubeconfig },
      ...args,
      `--context=${real.getCurrentContext()}`,
    );
    expect(picked.code, picked.stderr).toBe(0);
    expect((JSON.parse(picked.stdout) as StatusReport).shards.length).toBeGreaterThan(0);
    const unknown = await statusWith({ KUBECONFIG: kubeconfig }, ...args, "--context=nope");
    expect(unknown).toMatchObject({ code: 2, stdout: "" });
    expect(unknown.stderr).toMatch(
      /^sharded-scheduler status: context "nope" not found in KUBECONFIG \(.*\n$/,
    );
  });
});
