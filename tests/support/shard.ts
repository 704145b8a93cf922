/**
 * Runs the real processes under test against the cluster under test: a scheduler shard
 * (node scheduler/dist/cli.js) here, a coordinator in coordinator.ts, both through
 * startServedProcess; and reads their /metrics. Build them first (the global setup does).
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { tail } from "../cluster/local/local-cluster.js";
import {
  freeLoopbackPort,
  isRunning,
  signalAndConfirm,
  startProcess,
  stopProcess,
} from "../cluster/local/processes.js";
import { shardEntry } from "../stack/stack.js";
import { waitFor } from "./wait.js";

export { metricValue, parseMetrics, type Sample, samplesOf } from "./metrics.js";

export interface ShardOptions {
  schedulerName: string;
  /** Replica identity (default <schedulerName>-0). */
  identity?: string;
  /** Extra flags; a flag given here overrides the defaults below (the last one wins). */
  args?: string[];
}

/** A shard or coordinator process serving HTTP on its --port. */
export interface RunningProcess {
  readonly schedulerName: string;
  readonly identity: string;
  readonly pid: number;
  readonly port: number;
  /** Path of the process's log file (pino JSON lines). */
  readonly log: string;
  stop(): Promise<void>;
  running(): boolean;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT) and waits until it took effect. */
  signal(signal: "SIGKILL" | "SIGSTOP" | "SIGCONT"): Promise<void>;
  /** GET a path of the process's HTTP server (/healthz, /readyz, /metrics). */
  get(path: string): Promise<{ status: number; body: string }>;
  metrics(): Promise<string>;
  /** The last lines of the log, for failure reports. */
  tail(lines?: number): string;
}

export type RunningShard = RunningProcess;

export interface ServedProcessSpec {
  /** Names the process in messages and its log file: shard, coordinator. */
  kind: string;
  /** The script node runs (a dist/cli.js). */
  entry: string;
  schedulerName: string;
  identity: string;
  /** Flags after --kubeconfig, --scheduler-name, --identity and --port; the last one wins. */
  args: string[];
  /** The path that answers 200 once the process is up. */
  readyPath: "/healthz" | "/readyz";
}

function logDir(): string {
  const clusterDir = inject("clusterDir");
  const dir = clusterDir ? join(clusterDir, "logs") : join(tmpdir(), "sharded-scheduler-tests");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Starts `node <entry>` on a free port against the cluster under test, logging to the cluster's
 * logs folder, and waits until readyPath answers 200; stops it again when it does not.
 */
export async function startServedProcess(spec: ServedProcessSpec): Promise<RunningProcess> {
  const { kind, schedulerName, identity } = spec;
  const port = await freeLoopbackPort();
  const log = join(logDir(), `${kind}-${identity}-${port}.log`);
  const proc = startProcess(
    `${kind} ${identity}`,
    process.execPath,
    [
      spec.entry,
      `--kubeconfig=${inject("kubeconfig")}`,
      `--scheduler-name=${schedulerName}`,
      `--identity=${identity}`,
      `--port=${port}`,
      ...spec.args,
    ],
    log,
  );
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, body: await res.text() };
  };
  const running: RunningProcess = {
    schedulerName,
    identity,
    pid: proc.pid,
    port,
    log,
    stop: () => stopProcess(proc),
    running: () => isRunning(proc),
    signal: async (sig) => {
      await signalAndConfirm(proc, sig);
    },
    get,
    metrics: async () => (await get("/metrics")).body,
    tail: (lines = 40) => tail(log, lines),
  };
  try {
    await waitFor(
      `${kind} ${identity} ${spec.readyPath}`,
      async () => {
        if (!isRunning(proc)) throw new Error(`the ${kind} exited:\n${tail(log, 20)}`);
        return (await get(spec.readyPath).catch(() => undefined))?.status === 200 ? true : undefined;
      },
      30_000,
      100,
    );
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** Starts a shard process and waits until /readyz answers 200 (its caches synced). */
export function startShard({
  schedulerName,
  identity = `${schedulerName}-0`,
  args = [],
}: ShardOptions): Promise<RunningShard> {
  return startServedProcess({
    kind: "shard",
    entry: shardEntry,
    schedulerName,
    identity,
    args: ["--settle-window-ms=500", ...args],
    readyPath: "/readyz",
  });
}
