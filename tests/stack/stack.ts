/**
 * Runs scheduler shards and coordinator replicas as local processes against a cluster, with
 * StatefulSet-style identities (sharded-scheduler-0, -1, …; sharded-scheduler-coordinator-0,
 * -1): up, scale, kill (crash or freeze one), down. Every process gets the cluster's Redis.
 * State (PIDs, ports) and logs live under <cluster state dir>/stack/.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../cluster/local/layout.js";
import { readState } from "../cluster/local/local-cluster.js";
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
import { metricValue } from "../support/metrics.js";
import { waitFor } from "../support/wait.js";

/** A shard or a coordinator replica of the stack. */
export interface StackProcess extends ManagedProcess {
  identity: string;
  port: number;
}

export interface StackState {
  kubeconfig: string;
  shards: StackProcess[];
  coordinators: StackProcess[];
}

export const shardEntry = join(repoRoot, "scheduler/dist/cli.js");
export const coordinatorEntry = join(repoRoot, "coordinator/dist/cli.js");

export const shardIdentity = (ordinal: number) => `sharded-scheduler-${ordinal}`;
export const coordinatorIdentity = (ordinal: number) => `sharded-scheduler-coordinator-${ordinal}`;
/** One leader and one standby, as the chart runs them. */
export const coordinatorReplicas = 2;

/**
 * The V8 options the image runs shards and coordinators with (the Dockerfile's NODE_OPTIONS): a
 * young generation of at most 8 MiB per semi-space. Node's default on a large machine is several
 * times that, which a shard's cache of every pod turns into ~100 MiB of resident memory at 50 000
 * pods, and its scavenges are no cheaper (measured with the core benchmark). Local runs use the
 * same, so tests and benchmarks measure what ships.
 */
export const runtimeNodeOptions = "--max-semi-space-size=8";
const ordinalOf = (member: StackProcess) =>
  Number(member.identity.slice(member.identity.lastIndexOf("-") + 1));

/** Whether a coordinator's /metrics says it leads (its leader gauge is 1; 0 on a standby). */
export const saysLeader = (metrics: string) =>
  metricValue(metrics, "sharded_scheduler_coordinator_leader") === 1;

const stackDir = (clusterDir: string) => join(clusterDir, "stack");
const statePath = (clusterDir: string) => join(stackDir(clusterDir), "state.json");

export function readStack(clusterDir: string): StackState | undefined {
  try {
    // A stack recorded before coordinators existed has none.
    return { coordinators: [], ...JSON.parse(readFileSync(statePath(clusterDir), "utf8")) } as StackState;
  } catch {
    return undefined;
  }
}

function writeStack(clusterDir: string, state: StackState): void {
  mkdirSync(stackDir(clusterDir), { recursive: true });
  writeFileSync(statePath(clusterDir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Compiles the scheduler and the coordinator (turbo caches them) so the stack runs the current code. */
export function buildScheduler(): void {
  const result = spawnSync(
    "npx",
    [
      "turbo",
      "run",
      "build",
      "--filter=@sharded-scheduler/scheduler",
      "--filter=@sharded-scheduler/coordinator",
      "--output-logs=errors-only",
    ],
    {
      cwd: repoRoot,
      // Build output goes to stderr: stdout may carry a benchmark's JSON.
      stdio: ["ignore", 2, 2],
    },
  );
  if (result.status !== 0) throw new Error("building the scheduler and the coordinator failed");
}

export interface StackOptions {
  clusterDir: string;
  shards: number;
  /** Extra flags for every shard. */
  shardArgs?: string[];
  /** Start the coordinator replicas that are not running (default true). */
  coordinator?: boolean;
  /** Extra flags for every coordinator replica. */
  coordinatorArgs?: string[];
  log?: (line: string) => void;
}

/**
 * Starts shards 0..n-1 and (unless options.coordinator is false) coordinators 0 and 1 that are
 * not running yet, and waits until each is ready.
 */
export async function stackUp(options: StackOptions): Promise<StackState> {
  const log = options.log ?? (() => undefined);
  const cluster = readState(options.clusterDir);
  if (!cluster) throw new Error(`no cluster in ${options.clusterDir}: run npm run cluster -- up first`);
  const withCoordinator = options.coordinator ?? true;
  if (!existsSync(shardEntry) || (withCoordinator && !existsSync(coordinatorEntry))) buildScheduler();
  const state: StackState = readStack(options.clusterDir) ?? {
    kubeconfig: cluster.kubeconfig,
    shards: [],
    coordinators: [],
  };
  state.shards = state.shards.filter((member) => isRunning(member));
  state.coordinators = state.coordinators.filter((member) => isRunning(member));
  mkdirSync(stackDir(options.clusterDir), { recursive: true });
  const redisFlag = `--redis-url=${cluster.redisUrl}`;
  const start = async (
    group: StackProcess[],
    count: number,
    identityOf: (ordinal: number) => string,
    entry: string,
    args: string[],
  ) => {
    for (let ordinal = 0; ordinal < count; ordinal++) {
      const identity = identityOf(ordinal);
      if (group.some((member) => member.identity === identity)) continue;
      const port = await freeLoopbackPort();
      const proc = startProcess(
        identity,
        process.execPath,
        // Local runs: plain HTTP on loopback, no auth (the chart serves /metrics behind RBAC).
        [
          entry,
          `--kubeconfig=${cluster.kubeconfig}`,
          `--metrics-bind-address=127.0.0.1:${port}`,
          "--health-bind-address=127.0.0.1:0",
          "--metrics-auth=none",
          redisFlag,
          ...args,
        ],
        join(stackDir(options.clusterDir), `${identity}.log`),
        {
          POD_NAME: identity,
          POD_NAMESPACE: "default",
          // What the caller passes (a profiler, say) comes first; the image's options still apply.
          NODE_OPTIONS: [process.env.NODE_OPTIONS, runtimeNodeOptions].filter(Boolean).join(" "),
        },
      );
      group.push({ ...proc, identity, port });
      log(`started ${identity} (pid ${proc.pid}, node ${process.version}, metrics on 127.0.0.1:${port})`);
    }
    group.sort((a, b) => ordinalOf(a) - ordinalOf(b));
  };
  // As the chart tells its StatefulSet's replicas: a cold start forms one ring of all of them.
  const shardArgs = [`--expected-shards=${options.shards}`, ...(options.shardArgs ?? [])];
  await start(state.shards, options.shards, shardIdentity, shardEntry, shardArgs);
  if (withCoordinator) {
    const args = options.coordinatorArgs ?? [];
    await start(state.coordinators, coordinatorReplicas, coordinatorIdentity, coordinatorEntry, args);
  }
  writeStack(options.clusterDir, state);
  for (const member of [...state.shards, ...state.coordinators]) {
    // A frozen process (stack kill --signal STOP) cannot answer; it was ready when it started.
    if (processStatus(member) === "stopped") {
      log(`${member.identity} is stopped (SIGSTOP); not waiting for it`);
      continue;
    }
    await waitFor(
      `${member.identity} /readyz`,
      async () => {
        if (!isRunning(member)) throw new Error(`${member.identity} exited; see ${member.log}`);
        const res = await fetch(`http://127.0.0.1:${member.port}/readyz`);
        return res.ok ? true : undefined;
      },
      60_000,
    );
  }
  log(`${state.shards.length} shard(s) and ${state.coordinators.length} coordinator(s) ready`);
  return state;
}

/**
 * Like scaling a StatefulSet to n replicas: stops shards n and above, highest ordinal first,
 * each gracefully (SIGTERM: it releases its lease) and gone before the next; then starts the
 * missing shards 0..n-1 as stackUp does. n may be 0. Coordinators are left as they are.
 */
export async function stackScale(options: StackOptions): Promise<StackState> {
  const state = readStack(options.clusterDir);
  if (state) {
    const surplus = state.shards.filter((shard) => ordinalOf(shard) >= options.shards);
    await stopMembers(surplus, options.log);
    state.shards = state.shards.filter((shard) => !surplus.includes(shard));
    writeStack(options.clusterDir, state);
  }
  return stackUp({ ...options, coordinator: false });
}

/**
 * A member's /metrics text (local runs serve it on loopback without auth). Rejects when it does
 * not answer within timeoutMs or answers other than 2xx: such a body is not its metrics.
 */
export async function memberMetrics(member: { port: number }, timeoutMs = 5_000): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${member.port}/metrics`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`/metrics on port ${member.port}: HTTP ${res.status}`);
  return res.text();
}

export type CoordinatorRole = "leader" | "standby" | "unknown";

/**
 * What a coordinator's leader gauge says; unknown when it does not answer with its metrics
 * (frozen, exited, starting, an error status).
 */
export async function coordinatorRole(coordinator: StackProcess): Promise<CoordinatorRole> {
  if (processStatus(coordinator) !== "running") return "unknown";
  try {
    return saysLeader(await memberMetrics(coordinator, 2_000)) ? "leader" : "standby";
  } catch {
    return "unknown";
  }
}

export type KillSignal = "KILL" | "STOP" | "CONT";
export const killSignals: readonly KillSignal[] = ["KILL", "STOP", "CONT"];

/** One shard by ordinal, or one coordinator replica by ordinal or as whichever leads now. */
export type KillTarget = { shard: number } | { coordinator: number | "leader" };

export interface KillResult {
  identity: string;
  pid: number;
  signal: KillSignal;
  /** The status observed after the signal: exited for KILL, stopped for STOP, running for CONT. */
  status: ProcessStatus;
}

/**
 * Sends a signal to one shard or coordinator and waits until it took effect. A killed process
 * leaves the stack's state, so that up (or scale, for shards) starts it again, as a
 * StatefulSet recreates a crashed pod.
 */
export async function stackKill(
  clusterDir: string,
  target: KillTarget,
  sig: KillSignal,
): Promise<KillResult> {
  const state = readStack(clusterDir) ?? { kubeconfig: "", shards: [], coordinators: [] };
  const member =
    "shard" in target
      ? memberNamed(state.shards, shardIdentity(target.shard), clusterDir)
      : target.coordinator === "leader"
        ? await leadingCoordinator(state.coordinators)
        : memberNamed(state.coordinators, coordinatorIdentity(target.coordinator), clusterDir);
  if (!isRunning(member))
    throw new Error(`${member.identity} (pid ${member.pid}) has already exited; see ${member.log}`);
  const status = await signalAndConfirm(member, `SIG${sig}`);
  if (sig === "KILL") {
    state.shards = state.shards.filter((candidate) => candidate !== member);
    state.coordinators = state.coordinators.filter((candidate) => candidate !== member);
    writeStack(clusterDir, state);
  }
  return { identity: member.identity, pid: member.pid, signal: sig, status };
}

function memberNamed(group: StackProcess[], identity: string, clusterDir: string): StackProcess {
  const member = group.find((candidate) => candidate.identity === identity);
  if (member) return member;
  const present = group.map((candidate) => candidate.identity).join(", ") || "none";
  throw new Error(`${identity} is not in the stack in ${clusterDir} (there: ${present})`);
}

/** The coordinator that says it leads; waits for an election in progress to end. */
async function leadingCoordinator(coordinators: StackProcess[]): Promise<StackProcess> {
  if (coordinators.length === 0) throw new Error("the stack runs no coordinator");
  return waitFor(
    "a coordinator to lead",
    async () => {
      const roles = await Promise.all(coordinators.map(coordinatorRole));
      const leader = coordinators[roles.indexOf("leader")];
      if (leader) return leader;
      throw new Error(coordinators.map((c, i) => `${c.identity}: ${roles[i]}`).join(", "));
    },
    30_000,
  );
}

/** Stops processes highest ordinal first, one at a time, as a StatefulSet scales down. */
async function stopMembers(members: StackProcess[], log: (line: string) => void = () => undefined) {
  for (const member of [...members].sort((a, b) => ordinalOf(b) - ordinalOf(a))) {
    if (isRunning(member)) log(`stopping ${member.identity} (pid ${member.pid})`);
    await stopProcess(member);
  }
}

/** Stops the coordinators, then the shards, and removes the stack's folder. */
export async function stackDown(
  clusterDir: string,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  const state = readStack(clusterDir);
  await stopMembers(state?.coordinators ?? [], log);
  await stopMembers(state?.shards ?? [], log);
  rmSync(stackDir(clusterDir), { recursive: true, force: true });
}
