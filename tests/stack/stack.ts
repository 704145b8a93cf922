/**
 * Runs scheduler shards as local processes against a cluster, with StatefulSet-style
 * identities (sharded-scheduler-0, -1, …): up, scale, kill (crash or freeze one shard), down.
 * State (PIDs, ports) and logs live under <cluster state dir>/stack/.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../cluster/local/layout.js";
import {
  freeLoopbackPort,
  isRunning,
  type ManagedProcess,
  type ProcessStatus,
  processStatus,
  signalAndConfirm,
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

export const shardIdentity = (ordinal: number) => `sharded-scheduler-${ordinal}`;
const ordinalOf = (shard: ShardProcess) => Number(shard.identity.slice(shard.identity.lastIndexOf("-") + 1));

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
    const identity = shardIdentity(ordinal);
    if (state.shards.some((shard) => shard.identity === identity)) continue;
    const port = await freeLoopbackPort();
    const proc = startProcess(
      identity,
      process.execPath,
      [shardEntry, `--kubeconfig=${kubeconfig}`, `--port=${port}`, ...(options.shardArgs ?? [])],
      join(stackDir(options.clusterDir), `${identity}.log`),
      { POD_NAME: identity, POD_NAMESPACE: "default" },
    );
    state.shards.push({ ...proc, identity, port });
    log(`started ${identity} (pid ${proc.pid}, metrics on 127.0.0.1:${port})`);
  }
  state.shards.sort((a, b) => ordinalOf(a) - ordinalOf(b));
  writeStack(options.clusterDir, state);
  for (const shard of state.shards) {
    // A frozen shard (stack kill --signal STOP) cannot answer; it was ready when it started.
    if (processStatus(shard) === "stopped") {
      log(`${shard.identity} is stopped (SIGSTOP); not waiting for it`);
      continue;
    }
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

/**
 * Like scaling a StatefulSet to n replicas: stops shards n and above, highest ordinal first,
 * each gracefully (SIGTERM: it releases its lease) and gone before the next; then starts the
 * missing shards 0..n-1 as stackUp does. n may be 0.
 */
export async function stackScale(options: StackOptions): Promise<StackState> {
  const state = readStack(options.clusterDir);
  if (state) {
    const surplus = state.shards.filter((shard) => ordinalOf(shard) >= options.shards);
    await stopShards(surplus, options.log);
    state.shards = state.shards.filter((shard) => !surplus.includes(shard));
    writeStack(options.clusterDir, state);
  }
  return stackUp(options);
}

export type KillSignal = "KILL" | "STOP" | "CONT";
export const killSignals: readonly KillSignal[] = ["KILL", "STOP", "CONT"];

export interface KillResult {
  identity: string;
  pid: number;
  signal: KillSignal;
  /** The status observed after the signal: exited for KILL, stopped for STOP, running for CONT. */
  status: ProcessStatus;
}

/**
 * Sends a signal to one shard and waits until it took effect. A killed shard leaves the stack's
 * state, so that up or scale starts it again (as a StatefulSet recreates a crashed pod).
 */
export async function stackKill(clusterDir: string, ordinal: number, sig: KillSignal): Promise<KillResult> {
  const identity = shardIdentity(ordinal);
  const state = readStack(clusterDir);
  const shard = state?.shards.find((candidate) => candidate.identity === identity);
  if (!state || !shard) {
    const present = state?.shards.map((candidate) => candidate.identity).join(", ") || "none";
    throw new Error(`${identity} is not in the stack in ${clusterDir} (shards there: ${present})`);
  }
  if (!isRunning(shard))
    throw new Error(`${identity} (pid ${shard.pid}) has already exited; see ${shard.log}`);
  const status = await signalAndConfirm(shard, `SIG${sig}`);
  if (sig === "KILL") {
    state.shards = state.shards.filter((candidate) => candidate !== shard);
    writeStack(clusterDir, state);
  }
  return { identity, pid: shard.pid, signal: sig, status };
}

/** Stops shards highest ordinal first, one at a time, as a StatefulSet scales down. */
async function stopShards(shards: ShardProcess[], log: (line: string) => void = () => undefined) {
  for (const shard of [...shards].sort((a, b) => ordinalOf(b) - ordinalOf(a))) {
    if (isRunning(shard)) log(`stopping ${shard.identity} (pid ${shard.pid})`);
    await stopProcess(shard);
  }
}

export async function stackDown(
  clusterDir: string,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  await stopShards(readStack(clusterDir)?.shards ?? [], log);
  rmSync(stackDir(clusterDir), { recursive: true, force: true });
}
