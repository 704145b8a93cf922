/**
 * Runs scheduler shards as local processes against a cluster, with StatefulSet-style
 * identities (sharded-scheduler-0, -1, …). State (PIDs, ports) and logs live under
 * <cluster state dir>/stack/.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../cluster/local/layout.js";
import {
  freeLoopbackPort,
  isRunning,
  type ManagedProcess,
  startProcess,
  stopProcess,
} from "../cluster/local/processes.js";
import { waitFor } from "../support/wait.js";

export interface ShardProcess extends ManagedProcess {
  identity: string;
  port: number;
}

export interface StackState {
  kubeconfig: string;
  shards: ShardProcess[];
}

export const shardEntry = join(repoRoot, "scheduler/dist/cli.js");

const stackDir = (clusterDir: string) => join(clusterDir, "stack");
const statePath = (clusterDir: string) => join(stackDir(clusterDir), "state.json");

export function readStack(clusterDir: string): StackState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(clusterDir), "utf8")) as StackState;
  } catch {
    return undefined;
  }
}

function writeStack(clusterDir: string, state: StackState): void {
  mkdirSync(stackDir(clusterDir), { recursive: true });
  writeFileSync(statePath(clusterDir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Compiles the scheduler (turbo caches it) so shards run the current code. */
export function buildScheduler(): void {
  const result = spawnSync(
    "npx",
    ["turbo", "run", "build", "--filter=@sharded-scheduler/scheduler", "--output-logs=errors-only"],
    {
      cwd: repoRoot,
      // Build output goes to stderr: stdout may carry a benchmark's JSON.
      stdio: ["ignore", 2, 2],
    },
  );
  if (result.status !== 0) throw new Error("building the scheduler failed");
}

export interface StackOptions {
  clusterDir: string;
  shards: number;
  /** Extra flags for every shard. */
  shardArgs?: string[];
  log?: (line: string) => void;
}

/** Starts shards 0..n-1 that are not running yet and waits until each is ready. */
export async function stackUp(options: StackOptions): Promise<StackState> {
  const log = options.log ?? (() => undefined);
  const kubeconfig = join(options.clusterDir, "kubeconfig");
  if (!existsSync(kubeconfig))
    throw new Error(`no cluster in ${options.clusterDir}: run npm run cluster -- up first`);
  if (!existsSync(shardEntry)) buildScheduler();
  const state: StackState = readStack(options.clusterDir) ?? { kubeconfig, shards: [] };
  state.shards = state.shards.filter((shard) => isRunning(shard));
  mkdirSync(stackDir(options.clusterDir), { recursive: true });
  for (let ordinal = 0; ordinal < options.shards; ordinal++) {
    const identity = `sharded-scheduler-${ordinal}`;
    if (state.shards.some((shard) => shard.identity === identity)) continue;
    const port = await freeLoopbackPort();
    const proc = startProcess(
      identity,
      process.execPath,
      [shardEntry, `--kubeconfig=${kubeconfig}`, `--port=${port}`, ...(options.shardArgs ?? [])],
      join(stackDir(options.clusterDir), `${identity}.log`),
      { POD_NAME: identity },
    );
    state.shards.push({ ...proc, identity, port });
    log(`started ${identity} (pid ${proc.pid}, metrics on 127.0.0.1:${port})`);
  }
  writeStack(options.clusterDir, state);
  for (const shard of state.shards) {
    await waitFor(
      `${shard.identity} /readyz`,
      async () => {
        if (!isRunning(shard)) throw new Error(`${shard.identity} exited; see ${shard.log}`);
        const res = await fetch(`http://127.0.0.1:${shard.port}/readyz`);
        return res.ok ? true : undefined;
      },
      60_000,
    );
  }
  log(`${state.shards.length} shard(s) ready`);
  return state;
}

export async function stackDown(
  clusterDir: string,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  const state = readStack(clusterDir);
  for (const shard of state?.shards ?? []) {
    if (isRunning(shard)) log(`stopping ${shard.identity} (pid ${shard.pid})`);
    await stopProcess(shard);
  }
  rmSync(stackDir(clusterDir), { recursive: true, force: true });
}
